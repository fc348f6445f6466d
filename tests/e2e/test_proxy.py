"""--proxy end to end: the real OpenSSH client (-W and -D) through alknet through real proxies
from Debian packages (dante-server and microsocks for SOCKS5/SOCKS5h, tinyproxy for HTTP
CONNECT), bytes checked with SHA-256; and small fake proxies in this file for what real ones
won't do (truncated replies, wrong version, unknown ATYP, trickled replies, reply and tunnel
data in one segment, 401/403/407/502, oversized headers, silence). Every failure must refuse
only its channel, with the exact text, and the session must go on working.

Everything listens on 127.0.0.1 (or ::1); every subprocess runs with a timeout. The server log
must never name a destination. Packages: scripts/deps/proxy.txt.
"""
import base64
import hashlib
import os
import re
import select
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import (MS_PASS, MS_PASS_URL, MS_USER, TP_PASS, TP_USER, free_port,
                      pattern_bytes)

SSH_TIMEOUT = 30
HIDDEN = "only-the-proxy-knows.invalid"          # resolvable by nobody but the fake proxies


# ------------------------------------------------------------------------------- helpers

def sha(b):
    return hashlib.sha256(b).hexdigest()


def info_cmd(srv, key, *extra):
    """ssh command with LogLevel=INFO: OpenSSH reports 'open failed: ...' at INFO."""
    return [("LogLevel=INFO" if a == "LogLevel=ERROR" else a)
            for a in srv.ssh_cmd(key, *extra)]


def listening(port):
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def wait_for(cond, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def ssh_w_echo(srv, key, dest, data, prefix_len=0, timeout=SSH_TIMEOUT):
    """ssh -W dest against an echo target: sends data and reads prefix_len + len(data) bytes
    back before closing stdin (microsocks and tinyproxy drop the whole tunnel on a half-close,
    so nothing may depend on it). Returns (bytes read, ssh stderr)."""
    p = subprocess.Popen(info_cmd(srv, key, "-W", dest), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def feed():
        try:
            p.stdin.write(data)
            p.stdin.flush()
        except OSError:
            pass

    threading.Thread(target=feed, daemon=True).start()
    got = bytearray()
    want = prefix_len + len(data)
    deadline = time.time() + timeout
    fd = p.stdout.fileno()
    while len(got) < want and time.time() < deadline:
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
        if not r:
            break
        chunk = os.read(fd, 262144)
        if not chunk:
            break
        got += chunk
    try:
        p.stdin.close()
    except OSError:
        pass
    p.stdin = None  # communicate() must not flush it again
    try:
        _, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    return bytes(got), err.decode(errors="replace")


def ssh_w_fail(srv, key, dest):
    """ssh -W to a destination whose channel must be refused: returns ssh's stderr."""
    r = subprocess.run(info_cmd(srv, key, "-W", dest), input=b"", capture_output=True,
                       timeout=SSH_TIMEOUT)
    assert r.returncode != 0
    return r.stderr.decode(errors="replace")


def open_failed(text):
    return "open failed: connect failed: " + text


def assert_log_private(srv, *secrets):
    """The server log names no destination (names, ports) and no password."""
    log = srv.log()
    for s in secrets:
        if isinstance(s, int):
            assert not re.search(r"\b%d\b" % s, log), "port %d in the log:\n%s" % (s, log)
        else:
            assert s not in log, "%r in the log:\n%s" % (s, log)


def refused_port():
    """A loopback port with nothing listening (held by a bound socket the caller closes)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


# ------------------------------------------------------------------ real proxies: the tests

@pytest.mark.parametrize("scheme,dest", [("socks5", "127.0.0.1"), ("socks5", "localhost"),
                                         ("socks5h", "localhost")])
def test_dante_roundtrip(dante, server_factory, keys, echo_server, scheme, dest):
    srv = server_factory("--proxy", "%s://127.0.0.1:%d" % (scheme, dante.port))
    data = pattern_bytes(200000, seed=1)
    got, err = ssh_w_echo(srv, keys.default, "%s:%d" % (dest, echo_server.port), data)
    assert sha(got) == sha(data), err
    assert_log_private(srv, echo_server.port, "localhost")


def test_dante_dynamic_forward_and_refused(dante, server_factory, keys, echo_server):
    """ssh -D: a refused target fails only its channel; the next channel on the same session
    carries 200 kB intact."""
    srv = server_factory("--proxy", "socks5h://127.0.0.1:%d" % dante.port)
    hold, dead = refused_port()
    with DynamicForward(srv, keys.default) as fwd:
        assert fwd.channel_fails("127.0.0.1", dead)
        assert fwd.wait_stderr(open_failed("proxy: SOCKS5 connection refused"))
        data = pattern_bytes(200000, seed=2)
        assert sha(fwd.echo("localhost", echo_server.port, data)) == sha(data)
    hold.close()
    assert srv.proc.poll() is None
    assert_log_private(srv, echo_server.port, dead, "localhost")


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_microsocks_login(microsocks, server_factory, keys, echo_server, scheme):
    srv = server_factory("--proxy", "%s://%s:%s@127.0.0.1:%d" % (
        scheme, MS_USER, MS_PASS_URL, microsocks.port))
    for size in (1, 5000, 200000):
        data = pattern_bytes(size, seed=size)
        got, err = ssh_w_echo(srv, keys.default, "localhost:%d" % echo_server.port, data)
        assert sha(got) == sha(data), err
    assert_log_private(srv, echo_server.port, "localhost", MS_PASS)


def test_microsocks_wrong_or_missing_login(microsocks, server_factory, keys, echo_server):
    """Wrong password: 'authentication failed'; none: the proxy accepts no method we offer.
    Each logs one WARN naming the proxy, without password or destination."""
    srv = server_factory("--proxy", "socks5h://%s:hunter2@127.0.0.1:%d" % (MS_USER,
                                                                         microsocks.port))
    dest = "localhost:%d" % echo_server.port
    for _ in range(3):
        assert open_failed("proxy: authentication failed") in ssh_w_fail(srv, keys.default,
                                                                         dest)
    assert srv.wait_log("WARN proxy authentication failed proxy=socks5h://bob@127.0.0.1:%d"
                        % microsocks.port)
    assert srv.log().count("WARN proxy authentication failed") == 1
    assert_log_private(srv, echo_server.port, "localhost", "hunter2")
    anon = server_factory("--proxy", "socks5://127.0.0.1:%d" % microsocks.port)
    assert open_failed("proxy: authentication required") in ssh_w_fail(anon, keys.default,
                                                                       dest)


def test_microsocks_refused_target(microsocks, server_factory, keys):
    srv = server_factory("--proxy", "socks5h://%s:%s@127.0.0.1:%d" % (
        MS_USER, MS_PASS_URL, microsocks.port))
    hold, dead = refused_port()
    err = ssh_w_fail(srv, keys.default, "127.0.0.1:%d" % dead)
    hold.close()
    assert open_failed("proxy: SOCKS5 connection refused") in err


def test_microsocks_proxy_file(microsocks, server_factory, keys, echo_server, tmp_path):
    """--proxy-file keeps the credentials out of ps."""
    pf = tmp_path / "proxy.url"
    pf.write_text("# egress\nsocks5h://%s:%s@127.0.0.1:%d\n" % (MS_USER, MS_PASS_URL,
                                                               microsocks.port))
    srv = server_factory("--proxy-file", str(pf))
    data = pattern_bytes(5000, seed=7)
    got, err = ssh_w_echo(srv, keys.default, "localhost:%d" % echo_server.port, data)
    assert sha(got) == sha(data), err


def test_tinyproxy_roundtrip(tinyproxy, server_factory, keys, echo_server):
    srv = server_factory("--proxy", "http://%s:%s@127.0.0.1:%d" % (TP_USER, TP_PASS,
                                                                   tinyproxy.port))
    for dest in ("127.0.0.1", "localhost"):
        data = pattern_bytes(200000, seed=len(dest))
        got, err = ssh_w_echo(srv, keys.default, "%s:%d" % (dest, echo_server.port), data)
        assert sha(got) == sha(data), err
    with DynamicForward(srv, keys.default) as fwd:
        data = pattern_bytes(100000, seed=9)
        assert sha(fwd.echo("localhost", echo_server.port, data)) == sha(data)
    assert_log_private(srv, echo_server.port, "localhost", TP_PASS)


def test_tinyproxy_env_credentials(tinyproxy, server_factory, keys, echo_server, monkeypatch):
    monkeypatch.setenv("ALKNET_PROXY", "http://%s:%s@127.0.0.1:%d" % (TP_USER, TP_PASS,
                                                                      tinyproxy.port))
    srv = server_factory()
    data = pattern_bytes(5000, seed=11)
    got, err = ssh_w_echo(srv, keys.default, "127.0.0.1:%d" % echo_server.port, data)
    assert sha(got) == sha(data), err


def test_tinyproxy_login_and_refused(tinyproxy, server_factory, keys, echo_server):
    dest = "127.0.0.1:%d" % echo_server.port
    bad = server_factory("--proxy", "http://%s:hunter2@127.0.0.1:%d" % (TP_USER,
                                                                        tinyproxy.port))
    assert open_failed("proxy: authentication failed") in ssh_w_fail(bad, keys.default, dest)
    assert bad.wait_log("WARN proxy authentication failed proxy=http://alice@127.0.0.1:%d"
                        % tinyproxy.port)
    assert_log_private(bad, echo_server.port, "hunter2")
    anon = server_factory("--proxy", "http://127.0.0.1:%d" % tinyproxy.port)
    assert open_failed("proxy: authentication required") in ssh_w_fail(anon, keys.default,
                                                                       dest)
    good = server_factory("--proxy", "http://%s:%s@127.0.0.1:%d" % (TP_USER, TP_PASS,
                                                                    tinyproxy.port))
    hold, dead = refused_port()
    err = ssh_w_fail(good, keys.default, "127.0.0.1:%d" % dead)
    hold.close()
    assert re.search(r"open failed: connect failed: proxy: HTTP 5\d\d", err), err


# -------------------------------------------------------------------- proxy itself unusable

def test_unreachable_proxy_warns_once(server_factory, keys, echo_server):
    hold, dead = refused_port()
    srv = server_factory("--proxy", "socks5://bob:hunter2@127.0.0.1:%d" % dead)
    for _ in range(3):
        err = ssh_w_fail(srv, keys.default, "127.0.0.1:%d" % echo_server.port)
        assert open_failed("proxy: connection refused") in err
    hold.close()
    assert srv.wait_log("WARN proxy unreachable proxy=socks5://bob@127.0.0.1:%d" % dead)
    assert srv.log().count("WARN proxy unreachable") == 1
    assert_log_private(srv, echo_server.port, "hunter2")


@pytest.mark.parametrize("url,why", [
    ("socks4://127.0.0.1:1080", "unknown proxy scheme"),
    ("socks5://u:hunter2@127.0.0.1", "needs a port"),
    ("http://u:hunter2%zz@127.0.0.1:8080", "%-escape"),
    ("socks5h://u:hunter2@127.0.0.1:99999", "port must be"),
    ("socks5://u:hunter2@::1:1080", "brackets"),
])
def test_invalid_url_fails_at_startup(keys, tmp_path, url, why):
    r = subprocess.run([os.environ.get("ALKNET_BIN", os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        "alknet")), "serve", "--key", keys.host, "--authorized-keys", keys.authorized,
        "--listen", "127.0.0.1:%d" % free_port(), "--proxy", url],
        capture_output=True, timeout=10)
    assert r.returncode != 0
    err = r.stderr.decode(errors="replace")
    assert why in err and "hunter2" not in err, err


# ------------------------------------------------------------------------- -D session helper

class DynamicForward:
    """ssh -N -D on a free port, with stderr in a file (LogLevel=INFO)."""

    def __init__(self, srv, key):
        self.port = free_port()
        self.err_path = os.path.join(os.path.dirname(srv.log_path),
                                     "ssh-D-%d.stderr" % self.port)
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            info_cmd(srv, key, "-N", "-o", "ExitOnForwardFailure=yes", "-D",
                     "127.0.0.1:%d" % self.port),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err)
        if not wait_for(lambda: listening(self.port) or self.proc.poll() is not None, 15) \
                or self.proc.poll() is not None:
            self.close()
            raise RuntimeError("ssh -D did not start:\n" + self.stderr())

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def wait_stderr(self, text, count=1, timeout=10):
        return wait_for(lambda: self.stderr().count(text) >= count, timeout)

    def connect(self, host, port):
        """SOCKS5 CONNECT through ssh -D (name as ATYP 3). OpenSSH answers 'succeeded' before
        the channel is confirmed: a refused channel shows as EOF afterwards."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=15)
        s.sendall(b"\x05\x01\x00")
        assert recv_exact(s, 2) == b"\x05\x00"
        name = host.encode()
        s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
        rep = recv_exact(s, 10)
        if len(rep) < 10 or rep[1] != 0:
            s.close()
            return None
        return s

    def channel_fails(self, host, port):
        s = self.connect(host, port)
        if s is None:
            return True
        with s:
            try:
                return s.recv(1) == b""
            except OSError:
                return True

    def echo(self, host, port, data, prefix=b""):
        """Sends data to an echo target; returns what came back after the expected prefix."""
        s = self.connect(host, port)
        assert s is not None, self.stderr()
        with s:
            got = recv_exact(s, len(prefix)) if prefix else b""
            assert got == prefix, (got, self.stderr())
            t = threading.Thread(target=s.sendall, args=(data,), daemon=True)
            t.start()
            out = recv_exact(s, len(data))
            t.join(10)
            return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        try:
            d = s.recv(n - len(buf))
        except OSError:
            break
        if not d:
            break
        buf += d
    return bytes(buf)


# ---------------------------------------------------------------------------- fake proxies

class FakeProxy:
    """A threaded fake proxy on 127.0.0.1. handle(conn) does the handshake and returns the
    Success to carry out, or None when it has already misbehaved as planned.

    style says how a success reply goes out when the destination names no behaviour of its
    own: None, in one send() before the relay; "trickle", one byte per send(), 2 ms apart,
    while the target may already be talking; "coalesce", together with the target's first
    bytes in one send() (the proxy waits up to 10 s for them; for targets that speak first)."""

    def __init__(self, style=None):
        self.style = style
        self.coalesced = 0  # replies sent together with target bytes
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(20)
        target = None
        try:
            ok = self.handle(conn)
            if ok is not None:
                target = socket.create_connection((relay_host(ok.host), ok.port), timeout=10)
                self.answer(conn, target, ok.reply, ok.style or self.style)
                relay(conn, target)
        except OSError:
            pass
        finally:
            conn.close()
            if target is not None:
                target.close()

    def answer(self, conn, target, reply, style):
        if style == "trickle":
            trickle(conn, reply)
        elif style == "coalesce":
            target.settimeout(10)
            try:
                first = target.recv(65536)
            except socket.timeout:
                first = b""
            target.settimeout(20)
            conn.sendall(reply + first)
            self.coalesced += bool(first)
        else:
            conn.sendall(reply)

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Success:
    """What a fake proxy does after a good handshake: connect to host:port, send reply
    (in the given style, else the proxy's), relay."""

    def __init__(self, host, port, reply, style=None):
        self.host, self.port, self.reply, self.style = host, port, reply, style


def relay_host(host):
    """Where a fake proxy connects: a 127.x.y.z address as asked (test_edges' targets are on
    127.0.0.2), any other address or name to 127.0.0.1, where the other tests' targets are."""
    parts = host.split(".")
    if len(parts) == 4 and parts[0] == "127" and all(p.isdigit() for p in parts):
        return host
    return "127.0.0.1"


def relay(a, b):
    """Copies both ways until both directions saw EOF (half-close passed on)."""
    def pump(src, dst):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                dst.sendall(d)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join(30)


def trickle(conn, data):
    for i in range(len(data)):
        conn.sendall(data[i:i + 1])
        time.sleep(0.002)


def hang(conn):
    """Accepts and never answers: waits for the other side to give up."""
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


OK_REPLY = b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"
BANNER = b"hello-from-proxy\n"


class FakeSocks5(FakeProxy):
    """SOCKS5 without authentication. The destination name picks the behaviour; names it
    doesn't know (and addresses) are relayed (see relay_host) like a real proxy."""

    def handle(self, conn):
        greet = recv_exact(conn, 2)
        recv_exact(conn, greet[1])
        conn.sendall(b"\x05\x00")
        head = recv_exact(conn, 4)
        if head[3] == 3:
            n = recv_exact(conn, 1)
            addr = n + recv_exact(conn, n[0])
            host = addr[1:].decode()
        else:
            addr = recv_exact(conn, 4 if head[3] == 1 else 16)
            host = socket.inet_ntop(socket.AF_INET if head[3] == 1 else socket.AF_INET6, addr)
        port = struct.unpack(">H", recv_exact(conn, 2))[0]
        self.requests.append((head[3], host, port))
        behaviour = host.split(".")[0]
        if behaviour == "trickle":
            return Success(host, port, b"\x05\x00\x00\x03\x05proxy\x04\x38", "trickle")
        if behaviour == "banner":
            return Success(host, port, OK_REPLY + BANNER, "once")
        plan = {
            "truncated": b"\x05\x00\x00\x01\x7f\x00",
            "badver": b"\x04\x5a\x00\x00\x00\x00\x00\x00\x00\x00",
            "atyp": b"\x05\x00\x00\x09\x01\x02\x03\x04\x00\x50",
            "refused": b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00",
            "ruleset": b"\x05\x02",
            "ttl": b"\x05\x06\x00\x04" + bytes(18),
        }
        if behaviour == "silent":
            hang(conn)
            return None
        if behaviour in plan:
            conn.sendall(plan[behaviour])
            if behaviour not in ("truncated", "ruleset"):  # those close right away
                hang(conn)
            return None
        return Success(host, port, OK_REPLY)


class FakeHttp(FakeProxy):
    """HTTP CONNECT proxy; the host in the request line picks the behaviour."""

    def handle(self, conn):
        req = bytearray()
        while not req.endswith(b"\r\n\r\n") and len(req) < 65536:
            d = conn.recv(1)
            if not d:
                return None
            req += d
        text = req.decode(errors="replace")
        self.requests.append(text)
        authority = text.split(" ")[1]
        host, port = authority.rsplit(":", 1)
        behaviour = host.strip("[]").split(".")[0]
        plan = {
            "auth407": b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                       b"Proxy-Authenticate: Basic realm=\"fake\"\r\nContent-Length: 0\r\n\r\n",
            "auth401": b"HTTP/1.0 401 Unauthorized\r\n\r\n",
            "forbidden": b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden",
            "badgw": b"HTTP/1.1 502 Bad Gateway\r\n\r\n",
            "huge": b"HTTP/1.1 200 OK\r\n" + b"X-Padding: 0123456789abcdef\r\n" * 700,
            "garbage": b"SSH-2.0-not-a-proxy\r\n",
            "truncated": b"HTTP/1.1 200 Conn",
        }
        if behaviour == "silent":
            hang(conn)
            return None
        if behaviour in plan:
            conn.sendall(plan[behaviour])
            if behaviour != "truncated":  # that one closes right away
                hang(conn)
            return None
        if behaviour == "trickle":
            return Success(host, int(port),
                           b"HTTP/1.1 200 Connection established\r\nVia: fake\r\n\r\n",
                           "trickle")
        if behaviour == "banner":
            return Success(host, int(port), b"HTTP/1.0 200 OK\r\nX: y\r\n\r\n" + BANNER, "once")
        return Success(host, int(port), b"HTTP/1.1 200 Connection established\r\n\r\n")


@pytest.fixture
def fake_socks5():
    p = FakeSocks5()
    yield p
    p.close()


@pytest.fixture
def fake_http():
    p = FakeHttp()
    yield p
    p.close()


SOCKS_FAILURES = [
    ("truncated.test", "proxy: connection closed"),
    ("badver.test", "proxy: bad reply"),
    ("atyp.test", "proxy: bad reply"),
    ("refused.test", "proxy: SOCKS5 connection refused"),
    ("ruleset.test", "proxy: SOCKS5 connection not allowed by ruleset"),
    ("ttl.test", "proxy: SOCKS5 TTL expired"),
    ("silent.test", "proxy: timed out"),
]

HTTP_FAILURES = [
    ("auth407.test", "proxy: authentication failed"),
    ("auth401.test", "proxy: authentication failed"),
    ("forbidden.test", "proxy: HTTP 403"),
    ("badgw.test", "proxy: HTTP 502"),
    ("huge.test", "proxy: reply header too large"),
    ("garbage.test", "proxy: bad reply"),
    ("truncated.test", "proxy: connection closed"),
    ("silent.test", "proxy: timed out"),
]


def run_failures(fwd, cases, port):
    """Each case on the same ssh -D session: its channel fails with its exact text."""
    wrong = []
    for i, (name, text) in enumerate(cases):
        before = fwd.stderr().count(open_failed(text))
        if not fwd.channel_fails(name, port) or \
                not fwd.wait_stderr(open_failed(text), before + 1):
            wrong.append((name, text))
    assert not wrong, "cases without the expected failure: %r\nssh stderr:\n%s" % (
        wrong, fwd.stderr())


def test_fake_socks5_failures_keep_session(fake_socks5, server_factory, keys, echo_server):
    srv = server_factory("--proxy", "socks5h://127.0.0.1:%d" % fake_socks5.port,
                         "--proxy-timeout", "1", "--log-level", "debug")
    with DynamicForward(srv, keys.default) as fwd:
        run_failures(fwd, SOCKS_FAILURES, echo_server.port)
        # the same session still carries data, also when the reply came one byte at a time
        # or together with tunnel bytes
        data = pattern_bytes(100000, seed=21)
        assert sha(fwd.echo("trickle.test", echo_server.port, data)) == sha(data)
        assert sha(fwd.echo("banner.test", echo_server.port, data, BANNER)) == sha(data)
        assert sha(fwd.echo(HIDDEN, echo_server.port, data)) == sha(data)
    assert srv.proc.poll() is None
    assert srv.log().count("WARN proxy protocol error") == 1  # rate-limited
    assert_log_private(srv, echo_server.port, HIDDEN, ".test")


def test_fake_http_failures_keep_session(fake_http, server_factory, keys, echo_server):
    srv = server_factory("--proxy", "http://user:p%%40ss@127.0.0.1:%d" % fake_http.port,
                         "--proxy-timeout", "1", "--log-level", "debug")
    with DynamicForward(srv, keys.default) as fwd:
        run_failures(fwd, HTTP_FAILURES, echo_server.port)
        data = pattern_bytes(100000, seed=22)
        assert sha(fwd.echo("trickle.test", echo_server.port, data)) == sha(data)
        assert sha(fwd.echo("banner.test", echo_server.port, data, BANNER)) == sha(data)
    assert srv.proc.poll() is None
    auth = "Proxy-Authorization: Basic %s\r\n" % base64.b64encode(b"user:p@ss").decode()
    assert fake_http.requests and all(auth in r for r in fake_http.requests)
    assert_log_private(srv, echo_server.port, ".test", "p@ss", "p%40ss")


def test_socks5h_sends_the_name_unresolved(fake_socks5, server_factory, keys, echo_server):
    """socks5h: the name only the proxy 'knows' goes as ATYP 3 and works, so the server made
    no lookup of it; an IP literal still goes as an address."""
    srv = server_factory("--proxy", "socks5h://127.0.0.1:%d" % fake_socks5.port)
    data = pattern_bytes(5000, seed=31)
    got, err = ssh_w_echo(srv, keys.default, "%s:%d" % (HIDDEN, echo_server.port), data)
    assert sha(got) == sha(data), err
    got, err = ssh_w_echo(srv, keys.default, "[::1]:%d" % echo_server.port, data)
    assert sha(got) == sha(data), err
    assert fake_socks5.requests == [(3, HIDDEN, echo_server.port),
                                    (4, "::1", echo_server.port)]
    assert_log_private(srv, echo_server.port, HIDDEN)


def test_socks5_sends_an_address(fake_socks5, server_factory, keys, echo_server):
    """socks5: the server resolves (localhost -> an address, ATYP 1 or 4); a name it can't
    resolve never reaches the proxy."""
    srv = server_factory("--proxy", "socks5://127.0.0.1:%d" % fake_socks5.port)
    data = pattern_bytes(5000, seed=32)
    got, err = ssh_w_echo(srv, keys.default, "localhost:%d" % echo_server.port, data)
    assert sha(got) == sha(data), err
    assert len(fake_socks5.requests) == 1
    atyp, host, port = fake_socks5.requests[0]
    assert (atyp, host, port) in ((1, "127.0.0.1", echo_server.port),
                                  (4, "::1", echo_server.port))
    err = ssh_w_fail(srv, keys.default, "%s:%d" % (HIDDEN, echo_server.port))
    assert open_failed("name not resolved") in err
    assert len(fake_socks5.requests) == 1
    assert_log_private(srv, echo_server.port, HIDDEN, "localhost")


def test_http_connect_request_shape(fake_http, server_factory, keys, echo_server):
    """CONNECT host:port with a Host header, IPv6 in brackets, no credentials configured ->
    no Proxy-Authorization."""
    srv = server_factory("--proxy", "http://127.0.0.1:%d" % fake_http.port)
    data = pattern_bytes(5000, seed=33)
    for dest in (HIDDEN, "[::1]"):
        got, err = ssh_w_echo(srv, keys.default, "%s:%d" % (dest, echo_server.port), data)
        assert sha(got) == sha(data), err
    p = echo_server.port
    assert fake_http.requests == [
        "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (HIDDEN, p, HIDDEN, p),
        "CONNECT [::1]:%d HTTP/1.1\r\nHost: [::1]:%d\r\n\r\n" % (p, p),
    ]
    assert_log_private(srv, p, HIDDEN)


def test_reserved_destination_never_reaches_proxy(fake_socks5, server_factory, keys):
    srv = server_factory("--proxy", "socks5h://127.0.0.1:%d" % fake_socks5.port)
    err = ssh_w_fail(srv, keys.default, "alknet-control:22")
    assert "open failed" in err
    assert fake_socks5.requests == []
