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


def start_server(keys, tmp_path, *args, authorized=None, host_key=None, listen_host="127.0.0.1",
                 wrapper=None):
    port = free_port(listen_host)
    log_path = os.path.join(str(tmp_path), "alknet-%d.log" % port)
    listen = ("[%s]:%d" if ":" in listen_host else "%s:%d") % (listen_host, port)
    cmd = [ALKNET, "serve", "--key", host_key or keys.host,
           "--authorized-keys", authorized or keys.authorized, "--listen", listen] + list(args)
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
    for srv in started:
        srv.stop()


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
