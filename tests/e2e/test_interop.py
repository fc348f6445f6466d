"""Interoperability with real SSH clients (issue 3, Tests).

Each client opens direct-tcpip channels through alknet to an echo server on 127.0.0.1:
- a 32 MiB transfer in both directions at once (the writer and the reader run concurrently),
  SHA-256 checked, with key re-exchanges forced during it wherever the client has a knob;
- every user-key type the client supports authenticates (a short echo is enough);
- a channel to a port with nothing listening is refused with reason 2 (connect failed), and the
  same connection then opens another channel that works.
Clients: OpenSSH `ssh` (the cipher and key-type matrix), paramiko, asyncssh, PuTTY `plink`,
dropbear `dbclient`, node `ssh2` (tests/e2e/interop/). Plus ssh-audit on the algorithm posture.

Needs: scripts/install-deps build test interop (Debian packages, then `npm ci` in interop/).
"""
import asyncio
import functools
import hashlib
import json
import logging
import os
import re
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import free_port, keygen, pattern_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
INTEROP = os.path.join(HERE, "interop")
NODE_SCRIPT = os.path.join(INTEROP, "ssh2_client.js")

BIG = 32 * 1024 * 1024
SMALL = 256 * 1024
USER = "tester"
BIG_TIMEOUT = 60      # seconds for one 32 MiB transfer, handshake included
SMALL_TIMEOUT = 20    # seconds for a short exchange

# Client key types (names in conftest's Keys.client) besides RSA, which some clients run twice.
ECDSA_AND_ED = ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521"]

# Debian 12's paramiko and asyncssh warn about deprecated imports (imp, Blowfish, CAST5, SEED).
pytestmark = [pytest.mark.filterwarnings("ignore:the imp module is deprecated"),
              pytest.mark.filterwarnings("ignore:.* has been deprecated")]


@functools.lru_cache(maxsize=None)
def payload(n):
    return pattern_bytes(n, seed=n)


@functools.lru_cache(maxsize=None)
def digest(n):
    return hashlib.sha256(payload(n)).hexdigest()


def tail(text, lines=60):
    return "\n".join(text.splitlines()[-lines:])


def diag(server, client_output=""):
    return ("\n--- client output (tail) ---\n%s\n--- server log (tail) ---\n%s"
            % (tail(client_output), tail(server.log())))


def host_fingerprint(keys):
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", keys.host + ".pub"],
                         capture_output=True, text=True, check=True, timeout=10).stdout
    return out.split()[1]


@pytest.fixture
def dead_port():
    """A loopback port with nothing listening."""
    return free_port()


@pytest.fixture
def client_home(tmp_path):
    """A HOME for plink/dbclient so they neither read nor write the real ~/.putty, ~/.ssh."""
    home = tmp_path / "home"
    (home / ".putty" / "sessions").mkdir(parents=True)
    (home / ".ssh").mkdir()
    return str(home)


def client_env(home):
    env = dict(os.environ)
    env["HOME"] = home
    return env


class StdioResult:
    def __init__(self, rc, n, sha, stderr, timed_out, elapsed):
        self.rc, self.n, self.sha, self.stderr = rc, n, sha, stderr
        self.timed_out, self.elapsed = timed_out, elapsed


def run_stdio(cmd, data, timeout, env=None):
    """Runs a client whose stdin/stdout are a channel's two directions (ssh -W, plink -nc,
    dbclient -B): writes `data` to stdin from a thread while reading stdout here, so neither
    side waits for the other. Returns the SHA-256 and length of stdout, rc and stderr."""
    err = tempfile.TemporaryFile()
    start = time.time()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                            env=env)
    timed_out = []

    def kill():
        timed_out.append(True)
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()

    def writer():
        mv = memoryview(data)
        try:
            for off in range(0, len(data), 65536):
                proc.stdin.write(mv[off:off + 65536])
        except OSError:
            pass
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    h = hashlib.sha256()
    n = 0
    while True:
        chunk = proc.stdout.read1(1 << 20)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    try:
        rc = proc.wait(max(1, timeout - (time.time() - start)))
    except subprocess.TimeoutExpired:
        kill()
        rc = proc.wait()
    timer.cancel()
    w.join(5)
    proc.stdout.close()
    err.seek(0)
    stderr = err.read().decode(errors="replace")
    err.close()
    return StdioResult(rc, n, h.hexdigest(), stderr, bool(timed_out), time.time() - start)


def assert_echoed(res, n, server, what):
    ok = not res.timed_out and res.rc == 0 and res.n == n and res.sha == digest(n)
    assert ok, ("%s: rc=%s timed_out=%s got %d of %d bytes, sha256 %s (want %s) after %.1fs%s"
                % (what, res.rc, res.timed_out, res.n, n, res.sha, digest(n), res.elapsed,
                   diag(server, res.stderr)))


def wait_listening(port, proc, timeout=SMALL_TIMEOUT):
    """Waits until something listens on 127.0.0.1:port, without connecting to it (a probe
    connection would open a channel)."""
    deadline = time.time() + timeout
    want = ":%04X" % port
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1].endswith(want) and fields[3] == "0A":
                    return True
        time.sleep(0.05)
    return False


def echo_once(port, msg=b"ping after refusal"):
    with socket.create_connection(("127.0.0.1", port), timeout=SMALL_TIMEOUT) as s:
        s.sendall(msg)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            d = s.recv(65536)
            if not d:
                return got
            got += d


def refused_locally(port):
    """Connects to a local forward whose target is down: the client must close it (EOF or
    reset) without data."""
    with socket.create_connection(("127.0.0.1", port), timeout=SMALL_TIMEOUT) as s:
        try:
            return s.recv(65536)
        except ConnectionResetError:
            return b""


def run_local_forwards(cmd, server, dead_port, echo_server, env, refusal_text=None):
    """Runs a client with two local forwards (-L P1:dead, -L P2:echo) on one SSH connection:
    the channel to the dead port must be refused, and a channel opened after that must work."""
    p1, p2 = free_port(), free_port()
    cmd = [a.replace("@P1@", str(p1)).replace("@P2@", str(p2))
           .replace("@DEAD@", str(dead_port)).replace("@ECHO@", str(echo_server.port)) for a in cmd]
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                            env=env)
    try:
        def output():
            err.seek(0)
            return err.read().decode(errors="replace")

        assert wait_listening(p1, proc) and wait_listening(p2, proc), \
            "client did not set up its forwards" + diag(server, output())
        assert refused_locally(p1) == b"", "data on a refused forward" + diag(server, output())
        assert server.wait_log("connect failed", timeout=SMALL_TIMEOUT), \
            "server did not log the failed connect" + diag(server, output())
        if refusal_text:
            deadline = time.time() + SMALL_TIMEOUT
            while refusal_text not in output() and time.time() < deadline:
                time.sleep(0.05)
            assert refusal_text in output(), diag(server, output())
        assert echo_once(p2) == b"ping after refusal", \
            "channel after the refusal failed" + diag(server, output())
        assert proc.poll() is None, "client exited" + diag(server, output())
        return output()
    finally:
        proc.kill()
        proc.wait(10)
        err.close()


# ---------------------------------------------------------------------------------------------
# OpenSSH: cipher matrix with RekeyLimit=1M, user-key types
# ---------------------------------------------------------------------------------------------

def ssh_w(server, key, port, *opts, verbose="-v"):
    return ["ssh", "-F", "/dev/null", verbose, "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10", "-i", key,
            "-p", str(server.port)] + list(opts) + [
            "-W", "127.0.0.1:%d" % port, "%s@%s" % (USER, server.host)]


OPENSSH_CIPHERS = [
    ("chacha20-poly1305@openssh.com", None),
    ("aes128-gcm@openssh.com", None),
    ("aes256-gcm@openssh.com", None),
    ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
    ("aes256-ctr", "hmac-sha2-512-etm@openssh.com"),
]


@pytest.mark.parametrize("cipher,mac", OPENSSH_CIPHERS, ids=[c for c, _ in OPENSSH_CIPHERS])
def test_openssh_cipher_transfer_with_rekey(server, keys, echo_server, cipher, mac):
    opts = ["-c", cipher, "-o", "RekeyLimit=1M"] + (["-m", mac] if mac else [])
    res = run_stdio(ssh_w(server, keys.default, echo_server.port, *opts), payload(BIG), BIG_TIMEOUT)
    assert_echoed(res, BIG, server, "ssh -c %s" % cipher)
    want = "kex: client->server cipher: %s MAC: %s" % (cipher, mac or "<implicit>")
    assert want in res.stderr, diag(server, res.stderr)
    kexes = res.stderr.count("SSH2_MSG_KEXINIT sent")
    assert kexes >= 4, "expected re-keys during the transfer, saw %d key exchanges%s" % (
        kexes, diag(server, res.stderr))


OPENSSH_KEYS = [(k, None) for k in ECDSA_AND_ED] + [("rsa", "rsa-sha2-256"),
                                                    ("rsa", "rsa-sha2-512")]


@pytest.mark.parametrize("key,alg", OPENSSH_KEYS, ids=[a or k for k, a in OPENSSH_KEYS])
def test_openssh_key_types(server, keys, echo_server, key, alg):
    opts = ["-o", "PubkeyAcceptedAlgorithms=" + alg] if alg else []
    res = run_stdio(ssh_w(server, keys.client[key], echo_server.port, *opts, verbose="-vvv"),
                    payload(SMALL), SMALL_TIMEOUT)
    assert_echoed(res, SMALL, server, "ssh with %s key" % key)
    if alg:
        assert "signing using %s " % alg in res.stderr, diag(server, res.stderr)
    assert "result=accept" in server.log()


# ---------------------------------------------------------------------------------------------
# paramiko
# ---------------------------------------------------------------------------------------------

class LogCollector(logging.Handler):
    def __init__(self, name):
        super().__init__(logging.DEBUG)
        self.messages = []
        self.logger = logging.getLogger(name)

    def emit(self, record):
        try:
            self.messages.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a bad log record must not fail the test
            pass

    def __enter__(self):
        self.old_level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.old_level)

    def text(self):
        return "\n".join(self.messages)

    def count(self, needle):
        return sum(needle in m for m in self.messages)


def paramiko_connect(server, key, **kw):
    import paramiko
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(server.host, server.port, username=USER, key_filename=key,
                   look_for_keys=False, allow_agent=False, timeout=10, banner_timeout=10,
                   auth_timeout=10, **kw)
    return client


def paramiko_echo(transport, port, data, timeout, during=None):
    """Sends data through a direct-tcpip channel from a thread while reading the echo here.
    during(sent_bytes) is called by the writer after each chunk (to start a re-key)."""
    ch = transport.open_channel("direct-tcpip", ("127.0.0.1", port), ("127.0.0.1", 0),
                                timeout=SMALL_TIMEOUT)
    ch.settimeout(timeout)
    errors = []

    def writer():
        try:
            mv = memoryview(data)
            for off in range(0, len(data), 65536):
                ch.sendall(mv[off:off + 65536])
                if during:
                    during(off + 65536)
            ch.shutdown_write()
        except Exception as e:  # noqa: BLE001 - reported by the test
            errors.append(repr(e))

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    h = hashlib.sha256()
    n = 0
    while True:
        d = ch.recv(1 << 20)
        if not d:
            break
        h.update(d)
        n += len(d)
    w.join(timeout)
    ch.close()
    return n, h.hexdigest(), errors


PARAMIKO_CIPHERS = [("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
                    ("aes256-ctr", "hmac-sha2-512-etm@openssh.com")]


@pytest.mark.parametrize("cipher,mac", PARAMIKO_CIPHERS, ids=[c for c, _ in PARAMIKO_CIPHERS])
def test_paramiko_transfer_with_rekey(server, keys, echo_server, cipher, mac):
    import paramiko
    t = paramiko.Transport
    disabled = {"ciphers": [c for c in t._preferred_ciphers if c != cipher],
                "macs": [m for m in t._preferred_macs if m != mac]}
    with LogCollector("paramiko") as log:
        client = paramiko_connect(server, keys.default, disabled_algorithms=disabled)
        try:
            tr = client.get_transport()
            assert (tr.local_cipher, tr.local_mac) == (cipher, mac)
            # Automatic re-keys every 8 MiB either way, plus one requested mid-transfer.
            tr.packetizer.REKEY_BYTES = 8 << 20
            state = {"done": False}

            def during(sent):
                if not state["done"] and sent >= BIG // 3:
                    state["done"] = True
                    tr.renegotiate_keys()

            n, sha, errors = paramiko_echo(tr, echo_server.port, payload(BIG), BIG_TIMEOUT, during)
        finally:
            client.close()
    out = log.text()
    assert not errors and n == BIG and sha == digest(BIG), (
        "paramiko: got %d of %d bytes, sha ok=%s, writer errors %s%s"
        % (n, BIG, sha == digest(BIG), errors, diag(server, out)))
    kexes = log.count("Switch to new keys")
    assert kexes >= 4, "expected re-keys, saw %d key exchanges%s" % (kexes, diag(server, out))


PY_KEYS = [(k, None) for k in ECDSA_AND_ED] + [("rsa", "rsa-sha2-256"), ("rsa", "rsa-sha2-512")]


@pytest.mark.parametrize("key,alg", PY_KEYS, ids=[a or k for k, a in PY_KEYS])
def test_paramiko_key_types(server, keys, echo_server, key, alg):
    kw = {}
    if alg:
        kw["disabled_algorithms"] = {
            "pubkeys": [a for a in ("rsa-sha2-256", "rsa-sha2-512") if a != alg]}
    with LogCollector("paramiko") as log:
        client = paramiko_connect(server, keys.client[key], **kw)
        try:
            n, sha, errors = paramiko_echo(client.get_transport(), echo_server.port, payload(SMALL),
                                           SMALL_TIMEOUT)
        finally:
            client.close()
    assert not errors and n == SMALL and sha == digest(SMALL), diag(server, log.text())
    if alg:
        assert "Agreed upon '%s' pubkey algorithm" % alg in log.text(), diag(server, log.text())


def test_paramiko_refused_channel(server, keys, echo_server, dead_port):
    import paramiko
    client = paramiko_connect(server, keys.default)
    try:
        tr = client.get_transport()
        with pytest.raises(paramiko.ChannelException) as exc:
            tr.open_channel("direct-tcpip", ("127.0.0.1", dead_port), ("127.0.0.1", 0),
                            timeout=SMALL_TIMEOUT)
        assert exc.value.code == 2, (exc.value.code, exc.value.text)
        assert tr.is_active()
        n, sha, errors = paramiko_echo(tr, echo_server.port, payload(SMALL), SMALL_TIMEOUT)
        assert not errors and n == SMALL and sha == digest(SMALL), diag(server)
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# asyncssh
# ---------------------------------------------------------------------------------------------

def asyncssh_run(coro_fn, timeout):
    async def main():
        return await asyncio.wait_for(coro_fn(), timeout)
    return asyncio.run(main())


async def asyncssh_echo(conn, port, data):
    reader, writer = await conn.open_connection("127.0.0.1", port)

    async def write():
        for off in range(0, len(data), 65536):
            writer.write(data[off:off + 65536])
            await writer.drain()
        writer.write_eof()

    async def read():
        h = hashlib.sha256()
        n = 0
        while True:
            d = await reader.read(1 << 20)
            if not d:
                return n, h.hexdigest()
            h.update(d)
            n += len(d)

    _, (n, sha) = await asyncio.gather(write(), read())
    writer.close()
    return n, sha


def asyncssh_connect(server, key, **kw):
    import asyncssh
    return asyncssh.connect(server.host, server.port, username=USER, client_keys=[key],
                            known_hosts=None, agent_path=None, connect_timeout=10,
                            login_timeout=10, **kw)


def asyncssh_transfer(server, keys, echo_server, **kw):
    async def go():
        async with asyncssh_connect(server, keys.default, **kw) as conn:
            return await asyncssh_echo(conn, echo_server.port, payload(BIG))

    with LogCollector("asyncssh") as log:
        try:
            n, sha = asyncssh_run(go, BIG_TIMEOUT)
        except Exception as e:  # noqa: BLE001 - reported with the logs below
            pytest.fail("asyncssh transfer failed: %r%s" % (e, diag(server, log.text())))
    assert n == BIG and sha == digest(BIG), (
        "asyncssh: got %d of %d bytes, sha ok=%s%s"
        % (n, BIG, sha == digest(BIG), diag(server, log.text())))
    return log


def test_asyncssh_transfer(server, keys, echo_server):
    """32 MiB both ways without a re-key (the re-key variant is below)."""
    asyncssh_transfer(server, keys, echo_server)


def test_asyncssh_transfer_with_rekey(server, keys, echo_server):
    # asyncssh 2.10.1 has no conn.rekey(); rekey_bytes makes it re-key every MiB it sends.
    log = asyncssh_transfer(server, keys, echo_server, rekey_bytes=1 << 20)
    kexes = log.count("Completed key exchange")
    assert kexes >= 4, "expected re-keys, saw %d key exchanges%s" % (kexes, diag(server))


@pytest.mark.parametrize("key,alg", PY_KEYS, ids=[a or k for k, a in PY_KEYS])
def test_asyncssh_key_types(server, keys, echo_server, key, alg):
    kw = {}
    if alg:
        kw["signature_algs"] = [alg, "ssh-ed25519"]

    async def go():
        async with asyncssh_connect(server, keys.client[key], **kw) as conn:
            return await asyncssh_echo(conn, echo_server.port, payload(SMALL))

    with LogCollector("asyncssh") as log:
        n, sha = asyncssh_run(go, SMALL_TIMEOUT)
    assert n == SMALL and sha == digest(SMALL), diag(server, log.text())
    if alg:
        assert "Trying public key auth with %s key" % alg in log.text(), diag(server, log.text())


def test_asyncssh_refused_channel(server, keys, echo_server, dead_port):
    import asyncssh

    async def go():
        async with asyncssh_connect(server, keys.default) as conn:
            with pytest.raises(asyncssh.ChannelOpenError) as exc:
                await conn.open_connection("127.0.0.1", dead_port)
            assert exc.value.code == asyncssh.OPEN_CONNECT_FAILED, (exc.value.code,
                                                                    exc.value.reason)
            return await asyncssh_echo(conn, echo_server.port, payload(SMALL))

    n, sha = asyncssh_run(go, SMALL_TIMEOUT)
    assert n == SMALL and sha == digest(SMALL), diag(server)


# ---------------------------------------------------------------------------------------------
# PuTTY plink
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ppk(keys):
    """The client keys converted to PuTTY's format."""
    out = {}
    for name, path in keys.client.items():
        dst = path + ".ppk"
        if not os.path.exists(dst):
            subprocess.run(["puttygen", path, "-O", "private", "-o", dst], check=True,
                           timeout=SMALL_TIMEOUT, capture_output=True)
        out[name] = dst
    return out


def plink_session(home, name, **settings):
    """A saved PuTTY session (plink -load NAME) carrying settings plink has no option for."""
    with open(os.path.join(home, ".putty", "sessions", name), "w") as f:
        for k, v in settings.items():
            f.write("%s=%s\n" % (k, v))
    return name


def plink(server, keys, key, *args):
    return ["plink", "-batch", "-v", "-hostkey", host_fingerprint(keys), "-i", key,
            "-P", str(server.port)] + list(args) + ["%s@%s" % (USER, server.host)]


# PuTTY cipher preference lists (settings key "Cipher"): the first one the server has wins.
PLINK_CIPHERS = [
    ("aes", r"AES-256 SDCTR"),         # aes256-ctr with hmac-sha2-256-etm@openssh.com
    ("chacha20", r"ChaCha20"),
    ("aesgcm", r"AES-(128|256) GCM"),
]


@pytest.mark.parametrize("pref,shown", PLINK_CIPHERS, ids=[p for p, _ in PLINK_CIPHERS])
def test_plink_transfer_with_rekey(server, keys, echo_server, ppk, client_home, pref, shown):
    order = [pref] + [c for c, _ in PLINK_CIPHERS if c != pref] + ["WARN", "3des", "des",
                                                                    "blowfish", "arcfour"]
    sess = plink_session(client_home, "alknet-interop", RekeyBytes="1M",
                         Cipher=",".join(order))
    cmd = plink(server, keys, ppk["ed25519"], "-load", sess,
                "-nc", "127.0.0.1:%d" % echo_server.port)
    res = run_stdio(cmd, payload(BIG), BIG_TIMEOUT, env=client_env(client_home))
    assert_echoed(res, BIG, server, "plink (%s)" % pref)
    assert re.search(r"Initialised %s.* outbound encryption" % shown, res.stderr), \
        diag(server, res.stderr)
    rekeys = res.stderr.count("Initiating key re-exchange")
    assert rekeys >= 3, "expected re-keys, saw %d%s" % (rekeys, diag(server, res.stderr))


@pytest.mark.parametrize("key", ECDSA_AND_ED + ["rsa"])
def test_plink_key_types(server, keys, echo_server, ppk, client_home, key):
    cmd = plink(server, keys, ppk[key], "-nc", "127.0.0.1:%d" % echo_server.port)
    res = run_stdio(cmd, payload(SMALL), SMALL_TIMEOUT, env=client_env(client_home))
    assert_echoed(res, SMALL, server, "plink with %s key" % key)
    assert "result=accept" in server.log()


def test_plink_refused_channel(server, keys, echo_server, ppk, client_home, dead_port):
    cmd = plink(server, keys, ppk["ed25519"], "-N", "-L", "@P1@:127.0.0.1:@DEAD@",
                "-L", "@P2@:127.0.0.1:@ECHO@")
    # PuTTY names reason 2 "Connect failed" and appends the server's text in brackets.
    run_local_forwards(cmd, server, dead_port, echo_server, client_env(client_home),
                       refusal_text="Forwarded connection refused by remote: Connect failed")


# ---------------------------------------------------------------------------------------------
# dropbear dbclient
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dbkey(keys):
    """The client keys converted to dropbear's format."""
    out = {}
    for name, path in keys.client.items():
        dst = path + ".dropbear"
        if not os.path.exists(dst):
            subprocess.run(["dropbearconvert", "openssh", "dropbear", path, dst], check=True,
                           timeout=SMALL_TIMEOUT, capture_output=True)
        out[name] = dst
    return out


def dbclient(server, key, *args):
    return ["dbclient", "-y", "-y", "-i", key, "-p", str(server.port)] + list(args) + [
        "%s@%s" % (USER, server.host)]


def test_dbclient_transfer(server, keys, echo_server, dbkey, client_home):
    """dbclient re-keys only after 1 GB (KEX_REKEY_DATA, compile-time) and has no option to
    force one: this transfer has no re-key (the next test makes the server re-key).
    The only cipher Debian's dbclient shares with alknet is chacha20-poly1305 (its MACs are
    hmac-sha1 and hmac-sha2-256, not the -etm variants alknet requires with AES-CTR)."""
    cmd = dbclient(server, dbkey["ed25519"], "-B", "127.0.0.1:%d" % echo_server.port)
    res = run_stdio(cmd, payload(BIG), BIG_TIMEOUT, env=client_env(client_home))
    assert_echoed(res, BIG, server, "dbclient")


def test_dbclient_transfer_server_rekeys(server_factory, keys, echo_server, dbkey, client_home,
                                         monkeypatch):
    """dbclient can't be told to re-key, so the server re-keys every MiB (its volume limit,
    shrunk for tests) in the middle of a 32 MiB transfer."""
    monkeypatch.setenv("ALKNET_TEST_REKEY_BYTES", str(1 << 20))
    srv = server_factory("--log-level", "debug")
    cmd = dbclient(srv, dbkey["ed25519"], "-B", "127.0.0.1:%d" % echo_server.port)
    res = run_stdio(cmd, payload(BIG), BIG_TIMEOUT, env=client_env(client_home))
    assert_echoed(res, BIG, srv, "dbclient")
    kexes = srv.log().count("key exchange done")
    assert kexes >= 8, "expected server-initiated re-keys, saw %d key exchanges" % kexes


@pytest.mark.parametrize("key", ECDSA_AND_ED + ["rsa"])
def test_dbclient_key_types(server, keys, echo_server, dbkey, client_home, key):
    cmd = dbclient(server, dbkey[key], "-B", "127.0.0.1:%d" % echo_server.port)
    res = run_stdio(cmd, payload(SMALL), SMALL_TIMEOUT, env=client_env(client_home))
    assert_echoed(res, SMALL, server, "dbclient with %s key" % key)
    assert "result=accept" in server.log()


def test_dbclient_refused_channel(server, keys, echo_server, dbkey, client_home, dead_port):
    # dbclient prints nothing about a refused channel (not even the reason); the refusal is
    # checked on the client side as an immediate close, and the reason in the server log.
    cmd = dbclient(server, dbkey["ed25519"], "-N", "-L", "@P1@:127.0.0.1:@DEAD@",
                   "-L", "@P2@:127.0.0.1:@ECHO@")
    run_local_forwards(cmd, server, dead_port, echo_server, client_env(client_home))


# ---------------------------------------------------------------------------------------------
# node ssh2
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def node():
    if not os.path.isdir(os.path.join(INTEROP, "node_modules", "ssh2")):
        pytest.fail("node ssh2 is not installed: run scripts/install-deps interop")
    return "node"


def run_node(node, server, key, timeout, **opt):
    opt.update(host=server.host, port=server.port, username=USER, key=key, debug=True)
    try:
        p = subprocess.run([node, NODE_SCRIPT, json.dumps(opt)], capture_output=True,
                           timeout=timeout, cwd=INTEROP)
    except subprocess.TimeoutExpired as e:
        pytest.fail("node ssh2 timed out%s" % diag(server, (e.stderr or b"").decode(
            errors="replace")))
    stderr = p.stderr.decode(errors="replace")
    lines = p.stdout.decode(errors="replace").strip().splitlines()
    result = json.loads(lines[-1]) if lines else {}
    assert p.returncode == 0 and "error" not in result, \
        "node ssh2 failed: rc=%s %s%s" % (p.returncode, result.get("error"), diag(server, stderr))
    return result, stderr


NODE_CIPHERS = [("aes128-gcm@openssh.com", None),
                ("chacha20-poly1305@openssh.com", None),
                ("aes256-ctr", "hmac-sha2-512-etm@openssh.com")]


@pytest.mark.parametrize("cipher,mac", NODE_CIPHERS, ids=[c for c, _ in NODE_CIPHERS])
def test_node_ssh2_transfer_with_rekey(node, server, keys, echo_server, cipher, mac):
    algorithms = {"cipher": [cipher]}
    if mac:
        algorithms["hmac"] = [mac]
    r, stderr = run_node(node, server, keys.default, BIG_TIMEOUT, mode="transfer",
                         target_port=echo_server.port, bytes=BIG, rekey=True, algorithms=algorithms)
    assert r["sent"] == BIG and r["recv"] == BIG and r["sha_recv"] == r["sha_sent"], \
        "%s%s" % ({k: r.get(k) for k in ("sent", "recv")}, diag(server, stderr))
    assert r["negotiated"]["cs"]["cipher"] == cipher, r["negotiated"]
    assert r["handshakes"] >= 2, "the re-key did not complete%s" % diag(server, stderr)


@pytest.mark.parametrize("key", ECDSA_AND_ED + ["rsa"])
def test_node_ssh2_key_types(node, server, keys, echo_server, key):
    r, stderr = run_node(node, server, keys.client[key], SMALL_TIMEOUT, mode="transfer",
                         target_port=echo_server.port, bytes=SMALL, rekey=False)
    assert r["sent"] == SMALL and r["recv"] == SMALL and r["sha_recv"] == r["sha_sent"], \
        diag(server, stderr)


def test_node_ssh2_refused_channel(node, server, keys, echo_server, dead_port):
    r, stderr = run_node(node, server, keys.default, SMALL_TIMEOUT, mode="refused",
                         target_port=echo_server.port, dead_port=dead_port)
    assert r["refused"]["reason"] == 2, r
    assert r["echo"] == "ping after refusal", diag(server, stderr)


# ---------------------------------------------------------------------------------------------
# ssh-audit
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def host_keys(keys, tmp_path_factory):
    d = tmp_path_factory.mktemp("audit_keys")
    return {"ed25519": keys.host,
            "rsa": keygen(str(d / "host_rsa"), ["-t", "rsa", "-b", "3072"]),
            "ecdsa": keygen(str(d / "host_ecdsa"), ["-t", "ecdsa", "-b", "256"])}


def ssh_audit(server):
    p = subprocess.run(["ssh-audit", "-n", "-t", "10", "-p", str(server.port), server.host],
                       capture_output=True, text=True, timeout=60)
    return p.stdout + p.stderr


def audit_findings(out):
    """Lines carrying a failure or a warning, in either of ssh-audit's notations."""
    return [line.strip() for line in out.splitlines()
            if re.search(r"[\[(](fail|warn)[\])]", line)]


# ssh-audit 2.5.0 (Debian 12) predates strict KEX (CVE-2023-48795, Dec 2023); it flags the
# server's marker pseudo-algorithm as unknown (TOOL_UNKNOWN below).
@pytest.mark.xfail(strict=True, reason=(
    "ssh-audit 2.5.0 (Debian 12) does not know the strict-KEX marker and prints "
    "'(kex) kex-strict-s-v00@openssh.com -- [warn] unknown algorithm' and '!!! WARNING: "
    "unknown algorithm(s) found!: kex-strict-s-v00@openssh.com.' (the marker is required by "
    "issue 3; newer ssh-audit releases know it), and issue 16's kex lines in KEX_TOOL_GAPS"))
def test_ssh_audit_clean(server_factory, host_keys):
    srv = server_factory("--log-level", "debug", host_key=host_keys["ed25519"])
    out = ssh_audit(srv)
    assert "(gen) banner: SSH-2.0-alknet_" in out, out
    assert audit_findings(out) == [], out


# ssh-audit 2.5.0 on issue 16's kex list: too old for 2 names, 1 "experimental", NIST policy.
TOOL_UNKNOWN = {"mlkem768x25519-sha256", "sntrup761x25519-sha512", "kex-strict-s-v00@openssh.com"}
KEX_TOOL_GAPS = {"(kex) %s -- [warn] unknown algorithm" % n for n in TOOL_UNKNOWN} | {
    "(kex) sntrup761x25519-sha512@openssh.com -- [warn] using experimental algorithm"} | {
    "(kex) ecdh-sha2-nistp%d -- [fail] using weak elliptic curves" % n for n in (256, 384, 521)} | {
    # The non-ETM MACs are on by default for older clients (issue 16), as in OpenSSH's.
    "(mac) hmac-sha2-%d -- [warn] using encrypt-and-MAC mode" % n for n in (256, 512)}


def _known_tool_gap(line):
    m = re.match(r"!!! WARNING: unknown algorithm\(s\) found!: (\S+)\.(\s|$)", line)
    return (re.sub(r"\s+", " ", line) in KEX_TOOL_GAPS
            or (m is not None and set(m.group(1).split(",")) <= TOOL_UNKNOWN))


HOST_KEY_CASES = [
    pytest.param("ed25519", id="ed25519"),
    pytest.param("rsa", id="rsa"),
    pytest.param("ecdsa", id="ecdsa", marks=pytest.mark.xfail(strict=True, reason=(
        "ssh-audit 2.5.0 on an ecdsa-sha2-nistp256 host key: '(key) ecdsa-sha2-nistp256 -- "
        "[fail] using weak elliptic curves' and '`- [warn] using weak random number generator "
        "could reveal the key' (its policy on NIST curves; the key type is one issue 3 "
        "asks for)"))),
]


@pytest.mark.parametrize("host_key", HOST_KEY_CASES)
def test_ssh_audit_no_other_findings(server_factory, host_keys, host_key):
    """Everything ssh-audit reports apart from its not knowing the strict-KEX marker (the
    xfail above) must be clean, so a real regression is not hidden behind that xfail."""
    srv = server_factory("--log-level", "debug", host_key=host_keys[host_key])
    out = ssh_audit(srv)
    assert "(gen) banner: SSH-2.0-alknet_" in out, out
    findings = [f for f in audit_findings(out) if not _known_tool_gap(f)]
    other = [line for line in out.splitlines() if line.startswith("!!!")
             and not _known_tool_gap(line)]
    assert findings == [] and other == [], out
