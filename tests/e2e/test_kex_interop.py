"""Key exchange methods with real clients (issue 16, part A).

- Debian's OpenSSH `ssh` 9.2 with no options negotiates a sntrup761x25519 hybrid and moves
  data intact (SHA-256 through a -W tunnel); so does PuTTY `plink` 0.78.
- `ssh -o KexAlgorithms=X` works for each curve25519 and NIST ECDH method, and for the
  finite-field groups once enabled (they are off by default; --kex-algorithms +NAME
  enables them until part B's --kex-algorithms option exists).
- A client written for these tests in Node (tests/e2e/interop/mlkem_kex_client.mjs:
  @noble/post-quantum ML-KEM-768, node:crypto X25519/SHA-256/Ed25519) does
  mlkem768x25519-sha256, computes K and H itself and verifies the host key's signature over H;
  a key failing the FIPS 203 modulus check and a C_INIT one byte short are refused.

Needs: scripts/install-deps build test interop (ssh, plink, node modules in interop/).
"""
import json
import os
import re
import subprocess

import pytest

from test_interop import (assert_echoed, client_env, host_fingerprint, payload, run_stdio,
                          ssh_w)

HERE = os.path.dirname(os.path.abspath(__file__))
INTEROP = os.path.join(HERE, "interop")
MLKEM_CLIENT = os.path.join(INTEROP, "mlkem_kex_client.mjs")
N = 1024 * 1024
TIMEOUT = 30
SNTRUP = r"sntrup761x25519-sha512(@openssh\.com)?"
DH_GROUPS = ["diffie-hellman-group14-sha256", "diffie-hellman-group16-sha512",
             "diffie-hellman-group18-sha512"]


def kex_of(stderr):
    m = re.search(r"kex: algorithm: (\S+)", stderr)
    return m.group(1) if m else None


def ssh_transfer(server, keys, echo_server, *opts):
    res = run_stdio(ssh_w(server, keys.default, echo_server.port, *opts, verbose="-vv"),
                    payload(N), TIMEOUT)
    assert_echoed(res, N, server, "ssh %s" % " ".join(opts))
    return res


def test_openssh_default_is_sntrup_hybrid(server, keys, echo_server):
    """Debian 12's ssh offers sntrup761x25519-sha512 (the RFC 9941 name, backported by Debian)
    before the @openssh.com one; either is the post-quantum hybrid."""
    res = ssh_transfer(server, keys, echo_server)
    assert re.fullmatch(SNTRUP, kex_of(res.stderr) or ""), res.stderr[-3000:]


def test_openssh_sntrup_openssh_name(server, keys, echo_server):
    name = "sntrup761x25519-sha512@openssh.com"
    res = ssh_transfer(server, keys, echo_server, "-o", "KexAlgorithms=" + name)
    assert kex_of(res.stderr) == name


@pytest.mark.parametrize("kex", ["curve25519-sha256", "curve25519-sha256@libssh.org",
                                 "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
                                 "ecdh-sha2-nistp521"])
def test_openssh_each_classic_kex(server, keys, echo_server, kex):
    res = ssh_transfer(server, keys, echo_server, "-o", "KexAlgorithms=" + kex)
    assert kex_of(res.stderr) == kex


def test_openssh_dh_off_by_default(server, keys, echo_server):
    res = run_stdio(ssh_w(server, keys.default, echo_server.port,
                          "-o", "KexAlgorithms=" + ",".join(DH_GROUPS)), b"", TIMEOUT)
    assert res.rc != 0
    assert "no matching key exchange method found" in res.stderr, res.stderr
    assert server.wait_log("no matching key exchange method")


@pytest.mark.parametrize("kex", DH_GROUPS)
def test_openssh_dh_when_enabled(server_factory, keys, echo_server, kex):
    srv = server_factory("--log-level", "debug", "--kex-algorithms", "+" + kex)
    res = ssh_transfer(srv, keys, echo_server, "-o", "KexAlgorithms=" + kex)
    assert kex_of(res.stderr) == kex


def test_plink_default_is_sntrup_hybrid(server, keys, echo_server, tmp_path):
    home = tmp_path / "home"
    (home / ".putty" / "sessions").mkdir(parents=True)
    ppk = str(tmp_path / "client.ppk")
    subprocess.run(["puttygen", keys.default, "-O", "private", "-o", ppk], check=True,
                   capture_output=True, timeout=TIMEOUT)
    cmd = ["plink", "-batch", "-v", "-hostkey", host_fingerprint(keys), "-i", ppk,
           "-P", str(server.port), "-nc", "127.0.0.1:%d" % echo_server.port,
           "tester@%s" % server.host]
    res = run_stdio(cmd, payload(N), TIMEOUT, env=client_env(str(home)))
    assert_echoed(res, N, server, "plink")
    assert "Doing NTRU Prime / Curve25519 hybrid key exchange" in res.stderr, res.stderr


def mlkem_client(server, mode):
    if not os.path.isdir(os.path.join(INTEROP, "node_modules", "@noble", "post-quantum")):
        pytest.fail("@noble/post-quantum is not installed: run scripts/install-deps interop")
    p = subprocess.run(["node", MLKEM_CLIENT, server.host, str(server.port), mode],
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=INTEROP)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_node_mlkem768x25519_client_verifies_h(server, keys):
    out = mlkem_client(server, "good")
    host_blob = open(keys.host + ".pub").read().split()[1]
    assert out["kex"] == "mlkem768x25519-sha256"
    assert out["hostkey"] == host_blob
    assert out["verified"] is True, out
    assert out["newkeys"] is True, out


@pytest.mark.parametrize("mode", ["bad-modulus", "short"])
def test_node_mlkem768x25519_bad_key_refused(server, mode):
    out = mlkem_client(server, mode)
    assert out.get("disconnect") == 3, out  # SSH_DISCONNECT_KEY_EXCHANGE_FAILED
    assert server.wait_log('reason="bad key exchange value"')
