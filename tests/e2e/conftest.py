"""Shared fixtures for the end-to-end tests: keys, a running alknet server, TCP targets.

Everything listens on 127.0.0.1 / ::1 only. Each test gets its own server process and log
file, so a test can assert on exactly the log lines it caused.
"""
import hashlib
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALKNET = os.environ.get("ALKNET_BIN", os.path.join(ROOT, "alknet"))
CLIENT_KEY_TYPES = [("ed25519", []), ("ecdsa256", ["-t", "ecdsa", "-b", "256"]),
                    ("ecdsa384", ["-t", "ecdsa", "-b", "384"]),
                    ("ecdsa521", ["-t", "ecdsa", "-b", "521"]),
                    ("rsa", ["-t", "rsa", "-b", "3072"])]


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def keygen(path, args):
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-f", path] + (args or ["-t", "ed25519"]),
                   check=True)
    return path


class Keys:
    """Host key, client keys of every type, and an authorized_keys file listing them."""

    def __init__(self, d):
        self.dir = str(d)
        self.host = keygen(os.path.join(self.dir, "host_ed25519"), ["-t", "ed25519"])
        self.client = {}
        for name, args in CLIENT_KEY_TYPES:
            self.client[name] = keygen(os.path.join(self.dir, "client_" + name), args)
        self.stranger = keygen(os.path.join(self.dir, "stranger"), ["-t", "ed25519"])
        self.authorized = os.path.join(self.dir, "authorized_keys")
        with open(self.authorized, "w") as f:
            for name in self.client:
                f.write(open(self.client[name] + ".pub").read())

    @property
    def default(self):
        return self.client["ed25519"]


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    return Keys(tmp_path_factory.mktemp("keys"))


class Server:
    def __init__(self, proc, port, log_path, host="127.0.0.1"):
        self.proc = proc
        self.port = port
        self.host = host
        self.log_path = log_path

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log():
                return True
            time.sleep(0.05)
        return False

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def ssh_cmd(self, key, *extra, user="tester"):
        """OpenSSH client arguments up to (not including) the forwarding options."""
        return ["ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
                "-i", key, "-p", str(self.port)] + list(extra) + [user + "@" + self.host]


def sandbox_args(args=()):
    """As root, the server needs an explicit --user; memory checkers run it with
    --sandbox off (ALKNET_TEST_SANDBOX=off: LeakSanitizer stops the world with ptrace and
    valgrind makes the guest's system calls itself)."""
    extra = []
    if os.geteuid() == 0 and "--user" not in args:
        extra += ["--user", "root"]
    if os.environ.get("ALKNET_TEST_SANDBOX") == "off" and "--sandbox" not in args:
        extra += ["--sandbox", "off"]
    return extra


def start_server(keys, tmp_path, *args, authorized=None, host_key=None, listen_host="127.0.0.1",
                 wrapper=None):
    port = free_port(listen_host)
    log_path = os.path.join(str(tmp_path), "alknet-%d.log" % port)
    listen = ("[%s]:%d" if ":" in listen_host else "%s:%d") % (listen_host, port)
    cmd = [ALKNET, "serve", "--key", host_key or keys.host,
           "--authorized-keys", authorized or keys.authorized, "--listen", listen] + \
        sandbox_args(args) + list(args)
    # ALKNET_WRAPPER runs the server under a tool, e.g. "valgrind --error-exitcode=99 ..."
    wrapper = wrapper or os.environ.get("ALKNET_WRAPPER", "").split()
    if wrapper:
        cmd = list(wrapper) + cmd
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    srv = Server(proc, port, log_path, listen_host)
    if not srv.wait_log("listening", timeout=30):
        srv.stop(signal.SIGKILL)
        raise RuntimeError("alknet did not start:\n" + srv.log())
    return srv


@pytest.fixture
def server_factory(keys, tmp_path):
    started = []

    def make(*args, **kw):
        srv = start_server(keys, tmp_path, *args, **kw)
        started.append(srv)
        return srv

    yield make
    # Under a checking tool (ALKNET_WRAPPER=valgrind..., or an ASan build via ALKNET_BIN), a
    # server still running at the end must shut down cleanly on SIGTERM: exit 0 means no
    # leak or memory error was reported.
    strict = bool(os.environ.get("ALKNET_WRAPPER") or os.environ.get("ALKNET_STRICT_EXIT"))
    failures = []
    for srv in started:
        running = srv.proc.poll() is None
        rc = srv.stop(timeout=60)
        if strict and running and rc != 0:
            failures.append("server exited %s on SIGTERM; log tail:\n%s" % (rc, srv.log()[-4000:]))
    assert not failures, "\n".join(failures)


@pytest.fixture
def server(server_factory):
    return server_factory("--log-level", "debug")


class TcpServer:
    """A threaded TCP server on loopback running handler(conn) per connection."""

    def __init__(self, handler, host="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(512)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.accepted = 0
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def echo_handler(conn):
    while True:
        data = conn.recv(262144)
        if not data:
            break
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


def sha256_sink_handler(conn):
    """Reads to EOF, then answers with the SHA-256 (hex) and byte count of what it got."""
    h = hashlib.sha256()
    n = 0
    while True:
        data = conn.recv(262144)
        if not data:
            break
        h.update(data)
        n += len(data)
    conn.sendall(("%s %d\n" % (h.hexdigest(), n)).encode())
    conn.shutdown(socket.SHUT_WR)


@pytest.fixture
def echo_server():
    srv = TcpServer(echo_handler)
    yield srv
    srv.close()


@pytest.fixture
def sink_server():
    srv = TcpServer(sha256_sink_handler)
    yield srv
    srv.close()


def pattern_bytes(n, seed=0):
    """Deterministic pseudo-random bytes (fast: repeated SHA-256 blocks)."""
    out = bytearray()
    block = hashlib.sha256(b"alknet-%d" % seed).digest()
    chunk = hashlib.sha256(block).digest() * 2048  # 64 KiB
    i = 0
    while len(out) < n:
        out += hashlib.sha256(chunk[:64] + i.to_bytes(8, "big")).digest()[:8] + chunk[8:]
        i += 1
    return bytes(out[:n])


# ---------------------------------------------------------------------------------------------
# Helpers for test_forwarding/auth/limits/lifecycle/cli/logs: background ssh processes, waiting
# for local listeners without touching them, a small SOCKS5 client, RSS sampling, HTTP target.
# ---------------------------------------------------------------------------------------------
import random  # noqa: E402
import http.server  # noqa: E402

MIB = 1024 * 1024


def rand_bytes(n, seed=0):
    """Deterministic, non-periodic bytes (so reordering or cross-talk changes the hash)."""
    return random.Random(seed).randbytes(n)


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def ssh_cmd_info(srv, key, *extra, user="tester"):
    """Like Server.ssh_cmd but with LogLevel=INFO, so ssh prints 'channel 0: open failed: ...'
    (OpenSSH logs channel open failures at INFO, and the first -o LogLevel given wins)."""
    cmd = srv.ssh_cmd(key, *extra, user=user)
    return [("LogLevel=INFO" if a == "LogLevel=ERROR" else a) for a in cmd]


def listening_ports():
    """Local TCP ports in LISTEN state, read from /proc (no connection is made)."""
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if len(fields) > 3 and fields[3] == "0A":
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def wait_listening(port, timeout=10, proc=None):
    """Polls until something listens on port; fails early if proc (the ssh client) exits."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if port in listening_ports():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def wait_until(cond, timeout=10, interval=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(interval)
    return bool(cond())


class SshProc:
    """A background OpenSSH client (ssh -N -L/-D ...), stderr kept in a file."""

    def __init__(self, cmd, stderr_path, listen_port=None, timeout=15):
        self.cmd = cmd
        self.stderr_path = stderr_path
        self.err = open(stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.err)
        self.port = listen_port
        if listen_port is not None and not wait_listening(listen_port, timeout, self.proc):
            self.close()
            raise RuntimeError("ssh did not start listening on %d: %r\n%s"
                               % (listen_port, cmd, self.stderr()))

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def close(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_ssh_counter = [0]


def ssh_bg(srv, key, tmp_path, *extra, listen_port=None, info=False, user="tester"):
    """Starts ssh -N with the given forwarding options; waits for listen_port if given."""
    _ssh_counter[0] += 1
    mk = ssh_cmd_info if info else (lambda s, k, *e, user: s.ssh_cmd(k, *e, user=user))
    cmd = mk(srv, key, "-N", "-o", "ExitOnForwardFailure=yes", *extra, user=user)
    path = os.path.join(str(tmp_path), "ssh-%d.stderr" % _ssh_counter[0])
    return SshProc(cmd, path, listen_port)


def ssh_local_forward(srv, key, tmp_path, target_host, target_port, **kw):
    """ssh -N -L lport:target_host:target_port; returns the SshProc (its .port is lport)."""
    lport = free_port()
    host = "[%s]" % target_host if ":" in target_host else target_host
    return ssh_bg(srv, key, tmp_path, "-L", "127.0.0.1:%d:%s:%d" % (lport, host, target_port),
                  listen_port=lport, **kw)


def ssh_dynamic_forward(srv, key, tmp_path, **kw):
    """ssh -N -D 127.0.0.1:lport; returns the SshProc (its .port is the SOCKS port)."""
    lport = free_port()
    return ssh_bg(srv, key, tmp_path, "-D", "127.0.0.1:%d" % lport, listen_port=lport, **kw)


def paramiko_transport(srv):
    """A paramiko client transport to srv, key exchange done, not yet authenticated."""
    import paramiko
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    t = paramiko.Transport(sock)
    t.banner_timeout = t.auth_timeout = 10
    t.start_client(timeout=10)
    return t


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            break
        buf += d
    return bytes(buf)


def recv_to_eof(sock):
    """Reads to EOF and returns the bytes (a socket or a paramiko channel)."""
    chunks = []
    while True:
        d = sock.recv(65536)
        if not d:
            break
        chunks.append(d)
    return b"".join(chunks)


def recv_all(sock):
    """Reads to EOF; returns (sha256 hex, byte count) without keeping the data."""
    h = hashlib.sha256()
    n = 0
    while True:
        d = sock.recv(262144)
        if not d:
            break
        h.update(d)
        n += len(d)
    return h.hexdigest(), n


class Socks5Error(Exception):
    pass


def socks5_connect(proxy_port, host, port, timeout=15):
    """Opens a CONNECT through a SOCKS5 proxy on 127.0.0.1:proxy_port (ssh -D). host is sent
    as a domain name unless it is an IP literal. Returns the connected socket.

    OpenSSH's -D answers 'succeeded' before the SSH channel is confirmed, so a failed channel
    shows up as EOF right after the reply (or instead of it)."""
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=timeout)
    try:
        s.sendall(b"\x05\x01\x00")
        if recv_exact(s, 2) != b"\x05\x00":
            raise Socks5Error("no SOCKS5 method accepted")
        try:
            addr = b"\x01" + socket.inet_pton(socket.AF_INET, host)
        except OSError:
            try:
                addr = b"\x04" + socket.inet_pton(socket.AF_INET6, host)
            except OSError:
                name = host.encode()
                addr = b"\x03" + bytes([len(name)]) + name
        s.sendall(b"\x05\x01\x00" + addr + port.to_bytes(2, "big"))
        rep = recv_exact(s, 4)
        if len(rep) < 4 or rep[1] != 0:
            raise Socks5Error("SOCKS5 connect failed: %r" % rep)
        alen = {1: 4, 4: 16}.get(rep[3])
        if alen is None:
            alen = recv_exact(s, 1)[0]
        recv_exact(s, alen + 2)
        return s
    except BaseException:
        s.close()
        raise


def socks5_channel_fails(proxy_port, host, port, timeout=15):
    """True when a SOCKS5 CONNECT through ssh -D ends without a working channel: either a
    non-success reply or EOF/reset before any data."""
    try:
        s = socks5_connect(proxy_port, host, port, timeout)
    except (Socks5Error, OSError):
        return True
    with s:
        try:
            return s.recv(1) == b""
        except OSError:
            return True


def echo_roundtrip(sock, data):
    """Sends data on sock (from a thread), half-closes, reads the echo to EOF; returns it."""
    err = []

    def send():
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    out = bytearray()
    while True:
        d = sock.recv(262144)
        if not d:
            break
        out += d
    t.join(30)
    if err:
        raise err[0]
    return bytes(out)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


class HttpTarget:
    """A tiny threaded HTTP server on loopback answering GET / with a fixed random body."""

    def __init__(self, host="127.0.0.1", body=None):
        self.body = body if body is not None else rand_bytes(100000, seed=80).hex().encode()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *a):
                pass

        cls = http.server.ThreadingHTTPServer
        if ":" in host:
            cls = type("HTTP6", (http.server.ThreadingHTTPServer,),
                       {"address_family": socket.AF_INET6})
        self.httpd = cls((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_target():
    srv = HttpTarget()
    yield srv
    srv.close()


def closed_port(host="127.0.0.1"):
    """A port nothing listens on (bound then released)."""
    return free_port(host)


# ---------------------------------------------------------------------------------------------
# Real proxies from Debian packages (scripts/deps/proxy.txt), for test_proxy and test_edges:
# each daemon runs on 127.0.0.1 in its own process group, one per test module.
# ---------------------------------------------------------------------------------------------
import shutil  # noqa: E402

MS_USER, MS_PASS = "bob", "s3cr@t:x y"          # microsocks RFC 1929 login
MS_PASS_URL = "s3cr%40t%3Ax%20y"
TP_USER, TP_PASS = "alice", "w0nderland"         # tinyproxy BasicAuth


class Proc:
    """A proxy daemon in its own process group, stopped (group and all) at the end."""

    def __init__(self, cmd, port, log_path, cwd=None):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
        self.port = port
        if not wait_until(lambda: port in listening_ports() or self.proc.poll() is not None,
                          15) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("%s did not start:\n%s" % (cmd[0], open(log_path).read()))

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        self.log.close()


def need(binary):
    path = shutil.which(binary) or next(
        (p for p in ("/usr/sbin/" + binary, "/usr/bin/" + binary) if os.path.exists(p)), None)
    if path is None:
        pytest.skip("%s is not installed (scripts/install-deps proxy)" % binary)
    return path


@pytest.fixture(scope="module")
def dante(tmp_path_factory):
    """danted, no authentication (its username method checks system accounts)."""
    exe = need("danted")
    if os.geteuid() != 0:
        pytest.skip("danted needs root here (user.privileged)")
    d = tmp_path_factory.mktemp("dante")
    port = free_port()
    conf = d / "danted.conf"
    conf.write_text("""logoutput: %s/danted.log
internal: 127.0.0.1 port = %d
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
""" % (d, port))
    p = Proc([exe, "-f", str(conf), "-N", "1", "-p", str(d / "danted.pid")], port,
             str(d / "stdout.log"))
    yield p
    p.stop()


@pytest.fixture(scope="module")
def microsocks(tmp_path_factory):
    """microsocks with an RFC 1929 login (the password needs %-escapes in a URL)."""
    exe = need("microsocks")
    d = tmp_path_factory.mktemp("microsocks")
    port = free_port()
    p = Proc([exe, "-i", "127.0.0.1", "-p", str(port), "-u", MS_USER, "-P", MS_PASS], port,
             str(d / "microsocks.log"))
    yield p
    p.stop()


@pytest.fixture(scope="module")
def microsocks_open(tmp_path_factory):
    """microsocks without authentication (method 0x00)."""
    exe = need("microsocks")
    d = tmp_path_factory.mktemp("microsocks-open")
    port = free_port()
    p = Proc([exe, "-i", "127.0.0.1", "-p", str(port)], port, str(d / "microsocks.log"))
    yield p
    p.stop()


@pytest.fixture(scope="module")
def tinyproxy(tmp_path_factory):
    """tinyproxy with BasicAuth; any CONNECT port allowed (no ConnectPort line)."""
    exe = need("tinyproxy")
    d = tmp_path_factory.mktemp("tinyproxy")
    port = free_port()
    conf = d / "tinyproxy.conf"
    conf.write_text("""Port %d
Listen 127.0.0.1
Timeout 30
MaxClients 50
Allow 127.0.0.1
BasicAuth %s %s
LogLevel Info
LogFile "%s/tinyproxy.log"
PidFile "%s/tinyproxy.pid"
""" % (port, TP_USER, TP_PASS, d, d))
    p = Proc([exe, "-d", "-c", str(conf)], port, str(d / "stdout.log"))
    yield p
    p.stop()
