"""Containment (issue 17): the running server has no privileges to give away.

- by default (as every other e2e test runs it) /proc/PID/status shows NoNewPrivs 1, Seccomp 2
  (filter) and empty capability sets, and core dumps are off;
- started as root with --user nobody it runs as nobody, tunnels, and reloads a key added to a
  file nobody can read;
- as root without --user it refuses to start; --sandbox off says so at WARN;
- Landlock (where the kernel has it) keeps a reload from reading outside the directories of
  the files it reloads.
"""
import os
import pwd
import shutil
import signal
import subprocess
import tempfile

import paramiko
import pytest

from conftest import ALKNET, free_port, wait_until

pytestmark = pytest.mark.skipif(os.environ.get("ALKNET_TEST_SANDBOX") == "off",
                                reason="the memory-checker runs switch the sandbox off")


def status(pid):
    fields = {}
    for line in open("/proc/%d/status" % pid):
        k, _, v = line.partition(":")
        fields[k] = v.strip()
    return fields


def login_and_tunnel(srv, key_path, echo_server):
    t = paramiko.Transport(("127.0.0.1", srv.port))
    t.start_client(timeout=10)
    t.auth_publickey("tester", paramiko.Ed25519Key.from_private_key_file(key_path))
    ch = t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 1),
                        timeout=10)
    ch.sendall(b"sandboxed")
    got = b""
    while len(got) < 9:
        got += ch.recv(9 - len(got))
    t.close()
    return got == b"sandboxed"


def test_default_server_is_contained(server_factory, keys, echo_server):
    srv = server_factory()
    st = status(srv.proc.pid)
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert st[cap] == "0000000000000000", (cap, st[cap])
    limits = open("/proc/%d/limits" % srv.proc.pid).read()
    assert any(l.startswith("Max core file size") and l.split()[4:6] == ["0", "0"]
               for l in limits.splitlines()), limits
    assert "sandbox on uid=%d seccomp=on landlock=" % os.geteuid() in srv.log()
    assert login_and_tunnel(srv, keys.default, echo_server)
    assert srv.proc.poll() is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")
def test_user_nobody_runs_unprivileged_and_reloads(server_factory, keys, echo_server):
    nobody = pwd.getpwnam("nobody")
    d = tempfile.mkdtemp(prefix="alknet-nobody-")
    try:
        os.chmod(d, 0o755)
        host = os.path.join(d, "host_ed25519")
        shutil.copy(keys.host, host)
        os.chmod(host, 0o600)  # root's: read before the switch
        ak = os.path.join(d, "authorized_keys")
        with open(ak, "w") as f:
            f.write(open(keys.default + ".pub").read())
        os.chmod(ak, 0o644)
        srv = server_factory("--user", "nobody", host_key=host, authorized=ak)
        st = status(srv.proc.pid)
        assert st["Uid"].split() == [str(nobody.pw_uid)] * 4, st["Uid"]
        assert st["Gid"].split() == [str(nobody.pw_gid)] * 4, st["Gid"]
        assert st["Groups"] == "", st["Groups"]
        assert st["CapEff"] == "0000000000000000" and st["Seccomp"] == "2"
        assert login_and_tunnel(srv, keys.default, echo_server)
        # A key added while running: SIGHUP, and it logs in.
        other = os.path.join(d, "other")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True)
        with open(ak, "a") as f:
            f.write(open(other + ".pub").read())
        srv.proc.send_signal(signal.SIGHUP)
        assert srv.wait_log("reload ok authorized_keys=2", 10), srv.log()
        assert login_and_tunnel(srv, other, echo_server)
        assert srv.proc.poll() is None
        assert srv.stop() == 0
    finally:
        shutil.rmtree(d)


@pytest.mark.skipif(os.geteuid() != 0, reason="the refusal is for root")
def test_root_without_user_is_refused(keys):
    r = subprocess.run([ALKNET, "serve", "--key", keys.host, "--authorized-keys", keys.authorized,
                        "--listen", "127.0.0.1:%d" % free_port()], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 1
    assert "refusing to run as root: give --user NAME" in r.stderr, r.stderr


def test_sandbox_off_is_said_at_warn(server_factory):
    srv = server_factory("--sandbox", "off")
    assert "WARN sandbox off: no seccomp filter and no Landlock (--sandbox off)" in srv.log()
    st = status(srv.proc.pid)
    assert st["Seccomp"] == "0" and st["NoNewPrivs"] == "1"


def test_landlock_keeps_reloads_inside_their_directories(server_factory, keys, tmp_path):
    """authorized_keys replaced by a symbolic link to a file in another directory: the reload
    can't read it (the old keys stay), and can again once the file is back."""
    etc = tmp_path / "etc"
    etc.mkdir(mode=0o700)
    ak = etc / "authorized_keys"
    shutil.copy(keys.authorized, ak)
    os.chmod(ak, 0o644)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    ak2 = elsewhere / "authorized_keys"
    shutil.copy(keys.authorized, ak2)
    os.chmod(ak2, 0o644)
    srv = server_factory(authorized=str(ak))
    if "landlock=abi" not in srv.log():
        pytest.skip("the kernel has no Landlock")
    os.rename(ak, str(ak) + ".real")
    os.symlink(ak2, ak)
    srv.proc.send_signal(signal.SIGHUP)
    assert srv.wait_log("reload failed", 10), srv.log()
    assert "reload failed: %s: cannot read the authorized keys: Permission denied" % ak \
        in srv.log(), srv.log()
    os.unlink(ak)
    os.rename(str(ak) + ".real", ak)
    srv.proc.send_signal(signal.SIGHUP)
    assert srv.wait_log("reload ok", 10), srv.log()
