"""Hostile and faulty peers (issue 7): while good transfers run, one kind of fault is inflicted
and the server must stay up, close only the affected connection or channel, and deliver every
good transfer intact (SHA-256 checked).

Each test starts its own server (--log-level debug, --login-grace-time 3) and, next to the
fault, 4 "good" OpenSSH `ssh -W` sessions moving 8 MiB each through an echo target. The good
transfers are paced so they are still moving while the fault happens (the fault runs between
h.good(), which starts them, and GoodTransfers.finish()). At the end of every test
(Harness.finish):
the server process is alive, a new session works, the server's open fd count is back to what
it was before the test, and the server log names none of the destinations used.

Targets listen on 127.0.0.2 (clients come from 127.0.0.1), so the log check can tell a
destination from a client address. Everything stays on loopback.
"""
import asyncio
import hashlib
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import threading
import time
import warnings

import pytest

from conftest import MIB, TcpServer, echo_handler

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Debian's asyncssh/paramiko import deprecated ciphers
    import asyncssh
    import paramiko
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives import serialization

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TARGET_HOST = "127.0.0.2"
GRACE_S = 3
# valgrind (ALKNET_WRAPPER) or a sanitizer build (ALKNET_STRICT_EXIT, `make check-san`): RSS
# means nothing there (ASan's quarantine keeps freed memory), and everything is slower
UNDER_TOOL = bool(os.environ.get("ALKNET_WRAPPER") or os.environ.get("ALKNET_STRICT_EXIT"))
SLOW = 10 if UNDER_TOOL else 1
GOOD_N = 4
GOOD_SIZE = (2 if UNDER_TOOL else 8) * MIB


# ------------------------------------------------------------------------------ small helpers

_data_cache = {}


def data_for(seed, size):
    key = (seed, size)
    if key not in _data_cache:
        _data_cache[key] = random.Random(seed).randbytes(size)
    return _data_cache[key]


def sha(b):
    return hashlib.sha256(b).hexdigest()


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wait_until(cond, timeout, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(interval)
    return bool(cond())


def linger_close(sock):
    """Closes with SO_LINGER 0: the peer gets a RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def wait_closed_by_peer(sock, timeout):
    """Reads (and drops) whatever the server sends until EOF or reset. True if the peer
    closed within timeout."""
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            return False
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return False
        try:
            if not sock.recv(65536):
                return True
        except OSError:
            return True


# ------------------------------------------------------------------------------ SSH by hand

def ssh_string(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def ssh_packet(payload, block=8):
    """An unencrypted binary packet (RFC 4253 §6), as sent before the first NEWKEYS."""
    pad = block - (5 + len(payload)) % block
    if pad < 4:
        pad += block
    return struct.pack(">IB", 1 + len(payload) + pad, pad) + payload + os.urandom(pad)


CLIENT_BANNER = b"SSH-2.0-hostile_test\r\n"


def kexinit_payload():
    lists = ["curve25519-sha256,curve25519-sha256@libssh.org,kex-strict-c-v00@openssh.com",
             "ssh-ed25519,rsa-sha2-256,ecdsa-sha2-nistp256",
             "chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
             "chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
             "hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
             "hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
             "none", "none", "", ""]
    return bytes([20]) + os.urandom(16) + b"".join(ssh_string(x) for x in lists) + b"\0" + \
        b"\0\0\0\0"


def ecdh_init_payload():
    pub = X25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return bytes([30]) + ssh_string(pub)


class RawClient:
    """A plaintext SSH client speaking only the first few messages."""

    def __init__(self, srv, timeout=10):
        self.sock = socket.create_connection((srv.host, srv.port), timeout=timeout)
        self.buf = b""

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("server closed")
        self.buf += d

    def read_banner(self):
        while b"\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\n", 1)
        assert line.startswith(b"SSH-2.0-"), line
        return line

    def read_packet(self):
        while len(self.buf) < 4:
            self._fill()
        n = struct.unpack(">I", self.buf[:4])[0]
        assert n < 65536, n
        while len(self.buf) < 4 + n:
            self._fill()
        pkt, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        pad = pkt[0]
        return pkt[1:len(pkt) - pad]


# ------------------------------------------------------------------------------ targets

class SelectTarget:
    """A single-threaded target for thousands of connections: on accept it sends `greeting`
    (as the socket takes it), then reads and drops everything and counts the connections that
    reached EOF (i.e. that the server closed)."""

    def __init__(self, greeting=b""):
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((TARGET_HOST, 0))
        self.ls.listen(4096)
        self.ls.setblocking(False)
        self.port = self.ls.getsockname()[1]
        self.greeting = greeting
        self.accepted = 0
        self.eof = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.ls, selectors.EVENT_READ)
        pending = {}  # conn -> greeting bytes not sent yet
        while not self.stop:
            for key, ev in sel.select(0.1):
                c = key.fileobj
                if c is self.ls:
                    while True:
                        try:
                            c, _ = self.ls.accept()
                        except OSError:
                            break
                        c.setblocking(False)
                        self.accepted += 1
                        pending[c] = self.greeting
                        sel.register(c, selectors.EVENT_READ | (
                            selectors.EVENT_WRITE if self.greeting else 0))
                    continue
                if ev & selectors.EVENT_WRITE and pending.get(c):
                    try:
                        n = c.send(pending[c][:262144])
                        pending[c] = pending[c][n:]
                    except BlockingIOError:
                        pass
                    except OSError:
                        pending[c] = b""
                    if not pending[c]:
                        sel.modify(c, selectors.EVENT_READ)
                if not ev & selectors.EVENT_READ:
                    continue
                try:
                    d = c.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    d = b""
                if not d:
                    sel.unregister(c)
                    pending.pop(c, None)
                    c.close()
                    self.eof += 1
        for c in pending:
            c.close()
        sel.close()

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.ls.close()


# ------------------------------------------------------------------------------ good transfers

class GoodTransfers:
    """GOOD_N `ssh -W` sessions, each sending GOOD_SIZE bytes through the echo target and
    reading them back. After the first MiB, sending is paced so that it would take >= 10 s,
    and the last MiB waits until finish() is called (which sends the rest at full speed), so
    the transfers are in flight for as long as the fault lasts (a quarter of the size
    instead of a MiB when the transfers are smaller)."""

    def __init__(self, h, n=GOOD_N, size=GOOD_SIZE):
        self.h = h
        self.size = size
        self.gate = threading.Event()
        self.items = []
        for i in range(n):
            data = data_for(1000 + i, size)
            p = subprocess.Popen(h.srv.ssh_cmd(h.key, "-W", h.dest(h.echo.port)),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            it = {"p": p, "data": data, "got": 0, "h": hashlib.sha256(), "werr": None,
                  "progress": []}
            it["wt"] = threading.Thread(target=self._write, args=(it,), daemon=True)
            it["rt"] = threading.Thread(target=self._read, args=(it,), daemon=True)
            it["wt"].start()
            it["rt"].start()
            self.items.append(it)

    def _write(self, it):
        data, p = it["data"], it["p"]
        part = min(MIB, len(data) // 4)  # sent at once first, and held back for the end
        try:
            p.stdin.write(data[:part])
            p.stdin.flush()
            off = part
            chunk = max(4096, (len(data) - 2 * part) // 500)  # the paced part lasts >= 10 s
            while off < len(data) - part and not self.gate.is_set():
                p.stdin.write(data[off:min(off + chunk, len(data) - part)])
                p.stdin.flush()
                off += chunk
                time.sleep(0.02)
            off = min(off, len(data) - part)
            self.gate.wait(120)
            p.stdin.write(data[off:])
            p.stdin.close()
        except OSError as e:
            it["werr"] = e

    def _read(self, it):
        fd = it["p"].stdout.fileno()
        while True:
            d = os.read(fd, 262144)
            if not d:
                break
            it["h"].update(d)
            it["got"] += len(d)
            it["progress"].append((time.time(), it["got"]))

    def wait_flowing(self, nbytes=256 * 1024, timeout=20 * SLOW):
        assert wait_until(lambda: all(it["got"] >= nbytes for it in self.items), timeout), \
            "good transfers did not start: %r" % [it["got"] for it in self.items]

    def received(self):
        return [it["got"] for it in self.items]

    def finish(self, timeout=90):
        self.gate.set()
        deadline = time.time() + timeout
        for it in self.items:
            it["wt"].join(max(0.1, deadline - time.time()))
            it["rt"].join(max(0.1, deadline - time.time()))
            try:
                it["p"].wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                it["p"].kill()
                it["p"].wait()
        bad = []
        for i, it in enumerate(self.items):
            err = it["p"].stderr.read().decode(errors="replace")
            it["p"].stdout.close()
            it["p"].stderr.close()
            ok = (it["p"].returncode == 0 and it["werr"] is None and it["got"] == self.size
                  and it["h"].hexdigest() == sha(it["data"]))
            if not ok:
                bad.append("transfer %d: rc=%s got=%d/%d werr=%r sha_ok=%s stderr=%r" % (
                    i, it["p"].returncode, it["got"], self.size, it["werr"],
                    it["h"].hexdigest() == sha(it["data"]), err[-300:]))
        assert not bad, "good transfers damaged:\n" + "\n".join(bad)


# ------------------------------------------------------------------------------ the harness

class Harness:
    def __init__(self, srv, key):
        self.srv = srv
        self.key = key
        self.pid = srv.proc.pid
        self.echo = TcpServer(echo_handler, host=TARGET_HOST)
        self.targets = [self.echo]
        self.ports = {self.echo.port}
        self.fd_base = fd_count(self.pid)
        self.rss_base = rss_kib(self.pid)

    def dest(self, port):
        self.ports.add(port)
        return "%s:%d" % (TARGET_HOST, port)

    def target(self, handler):
        t = TcpServer(handler, host=TARGET_HOST)
        self.targets.append(t)
        self.ports.add(t.port)
        return t

    def good(self, **kw):
        g = GoodTransfers(self, **kw)
        g.wait_flowing()
        return g

    def ssh_w(self, port):
        return subprocess.Popen(self.srv.ssh_cmd(self.key, "-W", self.dest(port)),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def async_connect(self, **kw):
        return asyncssh.connect(self.srv.host, self.srv.port, username="tester",
                                client_keys=[self.key], known_hosts=None, **kw)

    def assert_alive(self):
        assert self.srv.proc.poll() is None, "server died (rc=%s):\n%s" % (
            self.srv.proc.returncode, self.srv.log()[-3000:])

    def new_session_works(self, timeout=15):
        """A fresh ssh -W session through the server echoes 100 kB; returns its duration."""
        data = data_for(7, 100000)
        t0 = time.time()
        r = subprocess.run(self.srv.ssh_cmd(self.key, "-W", self.dest(self.echo.port)),
                           input=data, capture_output=True, timeout=timeout)
        assert r.returncode == 0 and r.stdout == data, "new session failed: rc=%d %r" % (
            r.returncode, r.stderr[-300:])
        return time.time() - t0

    def assert_no_destinations(self):
        log = re.sub(r"fingerprint=\S+", "", self.srv.log())
        assert TARGET_HOST not in log, "destination host in the server log"
        for p in self.ports:
            assert not re.search(r"(?<![0-9])%d(?![0-9])" % p, log), \
                "destination port %d in the server log" % p

    def fds_back(self, timeout=10):
        ok = wait_until(lambda: fd_count(self.pid) <= self.fd_base, timeout)
        assert ok, "server fds not back to baseline: %d now, %d before; %r" % (
            fd_count(self.pid), self.fd_base, sorted(os.listdir("/proc/%d/fd" % self.pid)))

    def finish(self):
        self.assert_alive()
        self.new_session_works()
        self.fds_back()
        self.assert_alive()
        self.assert_no_destinations()

    def close(self):
        for t in self.targets:
            t.close()


@pytest.fixture
def h(server_factory, keys):
    # These peers test the relay and the engine under load, not the channel budgets
    # (test_budgets.py does): one session here opens 2,000 channels at once. Nor the
    # per-source penalties (test_penalty.py): hundreds of hostile connections from 127.0.0.1
    # would earn one and lock the good transfers' new sessions out.
    srv = server_factory("--log-level", "debug", "--login-grace-time", str(GRACE_S),
                         "--max-channels", "4096", "--max-pending-connects", "4096",
                         "--per-source-penalty", "off")
    harness = Harness(srv, keys.default)
    yield harness
    harness.close()


async def _until(cond, timeout, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        await asyncio.sleep(interval)
    return bool(cond())


def run_async(coro, timeout=120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def async_echo(conn, port_dest, size, seed):
    """One echo round trip of size bytes over a new channel of conn; returns True if intact."""
    host, port = port_dest.rsplit(":", 1)
    reader, writer = await conn.open_connection(host, int(port))
    data = data_for(seed, size)

    async def send():
        for off in range(0, size, 65536):
            writer.write(data[off:off + 65536])
            await writer.drain()
        writer.write_eof()

    task = asyncio.ensure_future(send())
    got = hashlib.sha256()
    n = 0
    while True:
        d = await reader.read(262144)
        if not d:
            break
        got.update(d)
        n += len(d)
    await task
    writer.close()
    return n == size and got.hexdigest() == sha(data)


# =========================================================================== client faults

GARBAGE = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    bytes(random.Random(1).randbytes(300)),
    b"\0" * 1000,
    b"SSH-1.5-old\r\n",
    b"SSH-2.0-" + b"A" * 400 + b"\r\n",
    b"not a banner\r\n" * 100,
    b"SSH-2.0-ok\r\n" + bytes(random.Random(2).randbytes(2000)),
    b"\xff" * 70000,
]


def test_banner_garbage(h):
    """Garbage instead of (or right after) a version line: the connection is closed at once."""
    good = h.good()
    for i, junk in enumerate(GARBAGE):
        for rst in (False, True):
            s = socket.create_connection((h.srv.host, h.srv.port), timeout=10)
            try:
                s.sendall(junk)
            except OSError:
                pass  # the server may already have closed
            assert wait_closed_by_peer(s, 5), "garbage %d not closed" % i
            (linger_close if rst else socket.socket.close)(s)
    h.assert_alive()
    good.finish()
    h.finish()


OVERSIZED = [0xFFFFFFFF, 0xFFFFFFF0, 0x80000000, 0x7FFFFFFF, 0x10000000, 256 * 1024 + 8,
             70000, 65536 + 8, 0, 1, 4, 13]


def test_oversized_packet_length_after_banner(h):
    """A banner, then a packet length that is absurd (up to 4 GiB), too large for
    pre-authentication or too small: closed at once, and no huge allocation."""
    good = h.good()
    for n in OVERSIZED:
        for after_kexinit in (False, True):
            c = RawClient(h.srv)
            c.sock.sendall(CLIENT_BANNER + (ssh_packet(kexinit_payload())
                                            if after_kexinit else b""))
            c.sock.sendall(struct.pack(">I", n) + os.urandom(64))
            assert wait_closed_by_peer(c.sock, 5), "length %#x not closed" % n
            c.sock.close()
    h.assert_alive()
    if not UNDER_TOOL:
        assert rss_kib(h.pid) - h.rss_base < 64 * 1024, "RSS jumped: %d -> %d KiB" % (
            h.rss_base, rss_kib(h.pid))
    good.finish()
    h.finish()


def close_after_banner(h, rst):
    c = RawClient(h.srv)
    c.sock.sendall(CLIENT_BANNER)
    c.read_banner()
    return c.sock


def close_after_kexinit(h, rst):
    c = RawClient(h.srv)
    c.sock.sendall(CLIENT_BANNER + ssh_packet(kexinit_payload()))
    c.read_banner()
    assert c.read_packet()[0] == 20
    return c.sock


def close_mid_kex(h, rst):
    """After our ECDH_INIT and the server's ECDH_REPLY, before our NEWKEYS."""
    c = RawClient(h.srv)
    c.sock.sendall(CLIENT_BANNER + ssh_packet(kexinit_payload()))
    c.read_banner()
    assert c.read_packet()[0] == 20
    c.sock.sendall(ssh_packet(ecdh_init_payload()))
    assert c.read_packet()[0] == 31  # KEX_ECDH_REPLY
    return c.sock


def _paramiko_kexed(h):
    sock = socket.create_connection((h.srv.host, h.srv.port), timeout=10)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    return sock, t


def close_after_newkeys(h, rst):
    sock, t = _paramiko_kexed(h)
    return sock, t


def close_mid_auth(h, rst):
    """Userauth under way: 'none' refused, then a public-key query sent and the connection
    dropped before the answer."""
    sock, t = _paramiko_kexed(h)
    try:
        t.auth_none("tester")
    except paramiko.BadAuthenticationType:
        pass
    key = paramiko.Ed25519Key.from_private_key_file(h.key)
    m = paramiko.Message()
    m.add_byte(paramiko.common.cMSG_USERAUTH_REQUEST)
    m.add_string("tester")
    m.add_string("ssh-connection")
    m.add_string("publickey")
    m.add_boolean(False)
    m.add_string("ssh-ed25519")
    m.add_string(key.asbytes())
    t._send_message(m)
    return sock, t


def garbage_after_kex(h, rst):
    """Encrypted stream corrupted after the key exchange: the server must drop it (MAC)."""
    sock, t = _paramiko_kexed(h)
    sock.sendall(os.urandom(4096))
    return sock, t


MID_HANDSHAKE = [close_after_banner, close_after_kexinit, close_mid_kex, close_after_newkeys,
                 close_mid_auth, garbage_after_kex]


def test_closed_mid_handshake_and_mid_auth(h):
    """Clients that vanish (FIN or RST) at each step of the handshake and of userauth; the
    server releases each connection (fds back, a close logged per open)."""
    good = h.good()
    n = 0
    for step in MID_HANDSHAKE:
        for rst in (False, True):
            r = step(h, rst)
            sock, t = r if isinstance(r, tuple) else (r, None)
            if step is garbage_after_kex:
                # paramiko's reader thread owns the socket: it ends when the server hangs up
                assert wait_until(lambda: not t.is_active(), 5), "corrupted stream not closed"
            if rst:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except (OSError, ValueError):
                    pass  # paramiko already closed it (garbage_after_kex)
            if t is not None:
                t.close()
            sock.close()
            n += 1
    assert wait_until(lambda: h.srv.log().count("connection closed") >= n, 10), h.srv.log()
    good.finish()
    h.finish()


def test_fds_back_helper_is_strict_enough(h):
    """Guards the harness: an open session does show up in the server's fd count."""
    c = RawClient(h.srv)
    c.read_banner()
    assert wait_until(lambda: fd_count(h.pid) > h.fd_base, 5)
    c.sock.close()
    h.fds_back()


def slow_loris(h, seed, results, stop):
    """Dribbles a banner and a KEXINIT one byte every 100-500 ms; records when the server
    dropped the connection (seconds after connect) or None."""
    rnd = random.Random(seed)
    t0 = time.time()
    # Two per source address (127.0.1.x), as from elsewhere on the internet: one address may
    # hold only --per-source-max-startups (10) unauthenticated connections.
    s = socket.create_connection((h.srv.host, h.srv.port), timeout=10,
                                 source_address=("127.0.1.%d" % (seed // 2 + 1), 0))
    payload = CLIENT_BANNER + ssh_packet(kexinit_payload())
    dropped = None
    try:
        for b in payload:
            if stop.is_set() or time.time() - t0 > GRACE_S + 8:
                break
            try:
                s.send(bytes([b]))
            except OSError:
                dropped = time.time() - t0
                break
            end = time.time() + rnd.uniform(0.1, 0.5)
            while time.time() < end:
                r, _, _ = select.select([s], [], [], max(0, end - time.time()))
                if r:
                    try:
                        d = s.recv(65536)
                    except OSError:
                        d = b""
                    if not d:
                        dropped = time.time() - t0
                        break
            if dropped is not None:
                break
    finally:
        s.close()
    results[seed] = dropped


def test_slow_loris_handshake(h):
    """20 clients send their handshake one byte per 100-500 ms. Meanwhile new sessions log in
    promptly and the good transfers keep moving; --login-grace-time drops every loris."""
    good = h.good()
    results, stop = {}, threading.Event()
    threads = [threading.Thread(target=slow_loris, args=(h, i, results, stop), daemon=True)
               for i in range(20)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    before = good.received()
    latencies = [h.new_session_works() for _ in range(1 if UNDER_TOOL else 3)]
    assert max(latencies) < 2.5 * SLOW, "new sessions slow during slow-loris: %r" % latencies
    time.sleep(0.5)
    after = good.received()
    assert all(a > b for a, b in zip(after, before)), \
        "good transfers stalled during slow-loris: %r -> %r" % (before, after)
    for t in threads:
        t.join(GRACE_S + 12)
    stop.set()
    drops = [results.get(i) for i in range(20)]
    assert all(d is not None for d in drops), "a slow-loris was never dropped: %r" % drops
    assert all(GRACE_S - 0.5 <= d <= GRACE_S + 3 for d in drops), \
        "slow-loris dropped at the wrong time: %r" % drops
    assert h.srv.log().count("login grace time exceeded") >= 20
    good.finish()
    h.finish()


def test_thousands_of_channels_never_read(h):
    """One session opens 2000 direct-tcpip channels to a target that sends 64 KiB on each,
    and never reads any of them (asyncssh pauses every channel; its window is 16 KiB).
    Server RSS stays bounded, another channel on that session still works, 100 of the
    channels read again and get all their data. Then the client stops reading the TCP
    connection itself for 2 s while 16 more channels get 2 MiB each: RSS stays bounded and
    every byte arrives once it reads again (this caught the 'out_blocked' stall fixed in
    ab176dd). When the client goes away all target sockets are closed and fds/RSS return to
    baseline. The good transfers go on throughout."""
    N = 2000
    src = SelectTarget(greeting=data_for(5, 65536))
    big = SelectTarget(greeting=data_for(6, 2 * MIB))
    for t in (src, big):
        h.targets.append(t)
        h.ports.add(t.port)
    good = h.good()

    class Paused(asyncssh.SSHTCPSession):
        def connection_made(self, chan):
            self.chan = chan
            self.got = b""
            chan.pause_reading()

        def data_received(self, data, datatype):
            self.got += data

    peak = {}

    async def flood():
        async with h.async_connect() as conn:
            chans = await asyncio.gather(*[
                conn.create_connection(Paused, TARGET_HOST, src.port, window=16384)
                for _ in range(N)])
            assert len(chans) == N
            await asyncio.sleep(2)
            peak["rss"] = rss_kib(h.pid)
            peak["fds"] = fd_count(h.pid)
            peak["accepted"] = src.accepted
            # one more channel on the same, flooded session still works
            ok = await async_echo(conn, h.dest(h.echo.port), 256 * 1024, seed=11)
            peak["echo_ok"] = ok
            # 100 of the stalled channels start reading: their windows reopen and each gets
            # the target's whole 64 KiB, intact
            woken = [sess for _, sess in chans[:100]]
            for sess in woken:
                sess.chan.resume_reading()
            done = await asyncio.wait_for(_until(lambda: all(
                len(sess.got) >= len(src.greeting) for sess in woken), 20), 25)
            peak["resumed_ok"] = done and all(sess.got == src.greeting for sess in woken)

            # The client stops reading the TCP connection itself while 16 channels each get
            # 2 MiB: the server's output for this session piles up to its limit, then it must
            # stop reading those targets, and pick up again once the client reads.
            bigs = await asyncio.gather(*[
                conn.create_connection(Paused, TARGET_HOST, big.port) for _ in range(16)])
            for _, sess in bigs:
                sess.chan.resume_reading()
            conn._transport.pause_reading()
            await asyncio.sleep(2)
            peak["rss_tcp_paused"] = rss_kib(h.pid)
            conn._transport.resume_reading()
            done = await _until(lambda: all(len(sess.got) >= len(big.greeting)
                                            for _, sess in bigs), 30)
            peak["unpaused_ok"] = done and all(sess.got == big.greeting for _, sess in bigs)

    run_async(flood())
    assert peak["accepted"] == N
    assert peak["fds"] >= h.fd_base + N, peak
    assert peak["echo_ok"], "a channel on the flooded session failed"
    assert peak["resumed_ok"], "stalled channels did not resume once read again"
    assert peak["unpaused_ok"], "channels stalled for good after the client paused its " \
        "TCP reading (session output limit reached)"
    if not UNDER_TOOL:
        growth = max(peak["rss"], peak["rss_tcp_paused"]) - h.rss_base
        assert growth < 150 * 1024, "RSS grew by %d KiB with %d unread channels" % (growth, N)
    good.finish()
    assert wait_until(lambda: src.eof >= N and big.eof >= 16, 15), \
        "target sockets left open: %d/%d and %d/16 closed" % (src.eof, N, big.eof)
    h.fds_back(timeout=15)
    print("thousands_of_channels: rss KiB base=%d peak=%d tcp_paused=%d end=%d; fds base=%d "
          "peak=%d end=%d" % (h.rss_base, peak["rss"], peak["rss_tcp_paused"], rss_kib(h.pid),
                              h.fd_base, peak["fds"], fd_count(h.pid)))
    if not UNDER_TOOL:
        after = rss_kib(h.pid)
        assert after - h.rss_base < 32 * 1024, "RSS not back: %d KiB before, %d at peak, %d " \
            "after" % (h.rss_base, peak["rss"], after)
    h.finish()


def test_client_sigkilled_mid_transfer(h):
    """`ssh -W` clients killed with SIGKILL while data flows both ways: their sessions and
    target sockets are released (fd count back to baseline), other transfers unaffected."""
    good = h.good()
    victims = []
    for i in range(4):
        p = h.ssh_w(h.echo.port)
        data = data_for(2000 + i, 64 * MIB)

        def feed(p=p, data=data):
            try:
                for off in range(0, len(data), 65536):
                    p.stdin.write(data[off:off + 65536])
            except (OSError, ValueError):
                pass

        got = [0]

        def drain(p=p, got=got):
            while True:
                d = os.read(p.stdout.fileno(), 262144)
                if not d:
                    break
                got[0] += len(d)

        threads = [threading.Thread(target=feed, daemon=True),
                   threading.Thread(target=drain, daemon=True)]
        for t in threads:
            t.start()
        victims.append((p, got, threads))
    assert wait_until(lambda: all(v[1][0] >= 2 * MIB // SLOW for v in victims), 20 * SLOW), \
        [v[1][0] for v in victims]
    assert wait_until(lambda: fd_count(h.pid) >= h.fd_base + 2 * (GOOD_N + 4), 5)
    for p, got, threads in victims:
        p.send_signal(signal.SIGKILL)
    for p, got, threads in victims:
        p.wait(10)
        for t in threads:
            t.join(10)
        for f in (p.stdin, p.stdout, p.stderr):
            try:
                f.close()
            except OSError:
                pass
    good.finish()
    h.fds_back()
    assert h.srv.log().count("connection closed") >= 4 + GOOD_N
    h.finish()


# =========================================================================== target faults

def test_target_resets_mid_stream(h):
    """Targets that read 1 MiB, answer 256 KiB, then reset (SO_LINGER 0). Each affected channel
    delivers all 256 KiB and is closed once the client's side ends (ssh -W exits: its further
    writes fail); a channel on the same session as a resetting one keeps working."""
    sent = data_for(31, 256 * 1024)

    def resetter(conn):
        n = 0
        while n < MIB:
            d = conn.recv(65536)
            if not d:
                break
            n += len(d)
        conn.sendall(sent)
        time.sleep(0.05)
        linger_close(conn)

    tgt = h.target(resetter)
    good = h.good()
    procs = [h.ssh_w(tgt.port) for _ in range(4)]
    outs = [None] * len(procs)

    def run(i, p):
        try:
            out, _ = p.communicate(data_for(32, 8 * MIB), timeout=20)
            outs[i] = out
        except (subprocess.TimeoutExpired, OSError):
            outs[i] = None

    threads = [threading.Thread(target=run, args=(i, p), daemon=True)
               for i, p in enumerate(procs)]
    for t in threads:
        t.start()

    same_session = {}

    async def mixed():
        async with h.async_connect() as conn:
            good_task = asyncio.ensure_future(
                async_echo(conn, h.dest(h.echo.port), 4 * MIB, seed=33))
            reader, writer = await conn.open_connection(TARGET_HOST, tgt.port)
            writer.write(data_for(34, 2 * MIB))
            got = b""
            while True:
                d = await asyncio.wait_for(reader.read(65536), 15)
                if not d:
                    break
                got += d
            same_session["reset_prefix_ok"] = got == sent
            # As with sshd, the read side's reset is an EOF; the channel closes once the
            # client's side ends too (here its EOF; a write to the dead target does it too).
            writer.write_eof()
            await asyncio.wait_for(writer.channel.wait_closed(), 10)
            same_session["good"] = await good_task

    run_async(mixed())
    for t in threads:
        t.join(25)
    for i, p in enumerate(procs):
        assert p.poll() is not None, "ssh -W %d still running after its target reset" % i
        assert outs[i] == sent, "ssh -W %d: got %s of %d bytes" % (
            i, None if outs[i] is None else len(outs[i]), len(sent))
    assert same_session == {"reset_prefix_ok": True, "good": True}, same_session
    good.finish()
    h.finish()


def test_target_accepts_then_silence(h):
    """Targets that accept and then neither read nor write for several seconds: their
    channels stay open (no EOF, no close) and others are fine; once the target wakes up it
    gets every byte sent meanwhile, and the channel then closes normally."""
    wake = threading.Event()
    results = []

    def silent(conn):
        wake.wait(60)
        hh = hashlib.sha256()
        n = 0
        conn.settimeout(20)
        while True:
            d = conn.recv(262144)
            if not d:
                break
            hh.update(d)
            n += len(d)
        results.append((n, hh.hexdigest()))

    tgt = h.target(silent)
    good = h.good()
    payload = data_for(41, 2 * MIB)
    procs = [h.ssh_w(tgt.port) for _ in range(3)]
    for p in procs:
        p.stdin.write(payload[:256 * 1024])
        p.stdin.flush()

    state = {}

    async def mixed():
        async with h.async_connect() as conn:
            chans = [await conn.open_connection(TARGET_HOST, tgt.port) for _ in range(8)]
            for _, w in chans:
                w.write(payload)
            good_task = asyncio.ensure_future(
                async_echo(conn, h.dest(h.echo.port), 4 * MIB, seed=42))
            # the silence: nothing arrives, nothing closes
            for r, _ in chans:
                try:
                    d = await asyncio.wait_for(r.read(1), 0.3)
                    state.setdefault("unexpected", []).append(d)
                except asyncio.TimeoutError:
                    pass
            await asyncio.sleep(2)
            state["good"] = await good_task
            state["alive"] = all(p.poll() is None for p in procs)
            state["open"] = sum(1 for _, w in chans if not w.channel.is_closing())
            wake.set()
            for _, w in chans:
                w.write_eof()
            for r, w in chans:
                state.setdefault("eof", []).append(await asyncio.wait_for(r.read(), 15))
                await asyncio.wait_for(w.channel.wait_closed(), 10)

    run_async(mixed())
    for p in procs:
        p.stdin.write(payload[256 * 1024:])
        p.stdin.close()
    for p in procs:
        assert p.wait(20) == 0, p.stderr.read()
        p.stdout.close()
        p.stderr.close()
    assert "unexpected" not in state, state
    assert state["good"] and state["alive"] and state["open"] == 8, state
    assert state["eof"] == [b""] * 8
    assert wait_until(lambda: len(results) == 11, 10)
    assert all(r == (len(payload), sha(payload)) for r in results), results
    good.finish()
    h.finish()


def test_target_closes_immediately(h):
    """Targets that close right after accept, with FIN or with RST. The channel ends (EOF,
    then closed once the client is done; at once for RST), the session goes on."""
    fin = h.target(lambda c: None)           # TcpServer closes it: FIN
    rst = h.target(lambda c: linger_close(c))
    good = h.good()

    fin_procs = [h.ssh_w(fin.port) for _ in range(3)]
    rst_procs = [h.ssh_w(rst.port) for _ in range(3)]
    for p in fin_procs:
        assert p.stdout.read() == b""  # EOF from the target arrives while stdin is open
    for p in fin_procs:
        # OpenSSH ends a -W forward by itself once the channel reports EOF ("FORCE input
        # drain"), so this late data may well meet a closed pipe.
        try:
            p.stdin.write(b"late data after the target closed\n" * 100)
            p.stdin.close()
        except BrokenPipeError:
            pass
    for p in fin_procs + rst_procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail("ssh -W did not end after the target closed: %r" % p.args)
        for f in (p.stdin, p.stdout, p.stderr):
            try:
                f.close()
            except OSError:
                pass

    state = {}

    async def mixed():
        async with h.async_connect() as conn:
            good_task = asyncio.ensure_future(
                async_echo(conn, h.dest(h.echo.port), 4 * MIB, seed=51))
            for port in (fin.port, rst.port) * 5:
                try:
                    reader, writer = await conn.open_connection(TARGET_HOST, port)
                except asyncssh.ChannelOpenError:
                    continue  # a RST may beat the connect: then the open itself fails
                d = await asyncio.wait_for(reader.read(), 10)
                assert d == b""
                writer.write_eof()
                await asyncio.wait_for(writer.channel.wait_closed(), 10)
            state["good"] = await good_task

    run_async(mixed())
    assert state["good"]
    good.finish()
    h.finish()


def test_target_half_close_then_long_silence(h):
    """The target sends a greeting, shuts its write side and goes quiet, still reading. The
    client gets the greeting and EOF, the channel stays open through a long silence, and the
    client can still send 8 MiB, which arrive intact, then EOF; then the channel closes."""
    greeting = data_for(61, 64 * 1024)
    results = []

    def half_closer(conn):
        conn.sendall(greeting)
        conn.shutdown(socket.SHUT_WR)
        hh = hashlib.sha256()
        n = 0
        conn.settimeout(60)
        while True:
            d = conn.recv(262144)
            if not d:
                break
            hh.update(d)
            n += len(d)
        results.append((n, hh.hexdigest()))

    tgt = h.target(half_closer)
    good = h.good()
    payload = data_for(62, 8 * MIB)
    # OpenSSH's ssh -W stops reading stdin once the channel reports EOF ("FORCE input
    # drain"), so these two only check the greeting, the EOF and a clean end.
    procs = [h.ssh_w(tgt.port) for _ in range(2)]
    for p in procs:
        assert p.stdout.read() == greeting  # ends with EOF while our stdin is still open
    for p in procs:
        assert p.wait(10) == 0, p.stderr.read()
        p.stdin.close()
        p.stdout.close()
        p.stderr.close()
    assert wait_until(lambda: len(results) == 2, 10)
    assert results == [(0, sha(b""))] * 2, results
    del results[:]

    state = {}

    async def mixed():
        async with h.async_connect() as conn:
            chans = [await conn.open_connection(TARGET_HOST, tgt.port) for _ in range(4)]
            for r, _ in chans:
                state.setdefault("greet", []).append(await asyncio.wait_for(r.read(), 10)
                                                     == greeting)
            good_task = asyncio.ensure_future(
                async_echo(conn, h.dest(h.echo.port), 4 * MIB, seed=63))
            await asyncio.sleep(3)  # the long silence
            state["open"] = sum(1 for _, w in chans if not w.channel.is_closing())
            for _, w in chans:
                for off in range(0, len(payload), 65536):
                    w.write(payload[off:off + 65536])
                    await w.drain()
                w.write_eof()
            for _, w in chans:
                await asyncio.wait_for(w.channel.wait_closed(), 20)
            state["good"] = await good_task

    run_async(mixed())
    assert state == {"greet": [True] * 4, "open": 4, "good": True}, state
    assert wait_until(lambda: len(results) == 4, 10)
    assert all(r == (len(payload), sha(payload)) for r in results), results
    good.finish()
    h.finish()


# =================================================================== authenticated abuse

def _pkt_helpers():
    from asyncssh.packet import Boolean, String, UInt32
    return Boolean, String, UInt32


def _abuse_cases(dest_port):
    """(name, must_close, fn(conn, chan)): protocol violations by a logged-in client. must_close:
    the server has to end the session; otherwise it has to ignore or answer the message and
    keep the session and its channel working."""
    Boolean, String, UInt32 = _pkt_helpers()

    def open_msg(sender, host=TARGET_HOST, port=dest_port, win=65536, maxpkt=32768):
        return (String("direct-tcpip"), UInt32(sender), UInt32(win), UInt32(maxpkt),
                String(host), UInt32(port), String(""), UInt32(0))

    return [
        ("data larger than the maximum packet", True,
         lambda c, ch: ch.send_packet(94, String(b"x" * 300000))),
        ("data for an unknown channel", True,
         lambda c, ch: c.send_packet(94, UInt32(4000), String(b"hi"))),
        ("close for an unknown channel", True,
         lambda c, ch: c.send_packet(97, UInt32(777))),
        ("CHANNEL_CLOSE twice", True,
         lambda c, ch: (ch.send_packet(97), ch.send_packet(97))),
        ("truncated CHANNEL_OPEN", True,
         lambda c, ch: c.send_packet(90, String("direct-tcpip"), UInt32(501), UInt32(1000),
                                     UInt32(1000))),
        ("OPEN_CONFIRMATION for nothing", True,
         lambda c, ch: c.send_packet(91, UInt32(9), UInt32(9), UInt32(9), UInt32(9))),
        ("NEWKEYS out of the blue", True, lambda c, ch: c.send_packet(21)),
        ("KEX_ECDH_INIT out of the blue", True,
         lambda c, ch: c.send_packet(30, String(b"x" * 32))),
        ("WINDOW_ADJUST overflowing 2^32", False,
         lambda c, ch: [ch.send_packet(93, UInt32(0xFFFFFFFF)) for _ in range(3)]),
        ("unknown message numbers", False,
         lambda c, ch: [c.send_packet(n, String(b"boo")) for n in (3, 60, 79, 127, 200, 255)]),
        ("extended data from the client", False,
         lambda c, ch: ch.send_packet(95, UInt32(1), String(b"stderr?"))),
        ("empty CHANNEL_DATA", False, lambda c, ch: ch.send_packet(94, String(b""))),
        ("channel requests without reply", False,
         lambda c, ch: [ch.send_packet(98, String(n), Boolean(False), String(b"x" * 100))
                        for n in ("exec", "pty-req", "env", "x" * 1000)]),
        ("opens with tiny/absurd windows and bad destinations", False,
         lambda c, ch: [c.send_packet(90, *m) for m in (
             open_msg(600, win=0), open_msg(601, maxpkt=0), open_msg(602, maxpkt=1),
             open_msg(603, win=0xFFFFFFFF, maxpkt=0xFFFFFFFF),
             open_msg(604, host="\0" * 300), open_msg(605, host=""),
             open_msg(606, port=0x1FFFF), open_msg(607, host="alknet-control"))]),
    ]


def test_protocol_abuse_after_auth(h):
    """A logged-in client breaks the connection protocol in a dozen ways. Violations end that
    session only; oddities that RFC 4254 allows to be ignored leave the session and its
    channel working (an echo still comes back). Good transfers on other sessions go on."""
    good = h.good()
    outcomes = {}

    answers = {}

    def hook_open_replies(conn):
        """Messages for the hand-made opens (sender ids 600..607) go to `answers` instead of
        upsetting asyncssh; a confirmed one is closed again."""
        _, _, UInt32 = _pkt_helpers()

        class Stub:
            def __init__(self, sender):
                self.sender = sender

            def log_received_packet(self, *a):
                pass

            def process_connection_close(self, exc):
                pass

            def process_open_confirmation(self, send_chan, *a):
                answers[self.sender] = "confirm"
                conn.send_packet(97, UInt32(send_chan))

            def process_open_failure(self, code, *a):
                answers[self.sender] = "fail %d" % code

            def process_packet(self, pkttype, seq, packet):
                return True  # e.g. the CLOSE answering ours

        for sender in range(600, 608):
            conn._channels[sender] = Stub(sender)

    async def one(name, must_close, fn):
        async with h.async_connect() as conn:
            opens = name.startswith("opens")
            if opens:
                hook_open_replies(conn)
            reader, writer = await conn.open_connection(TARGET_HOST, h.echo.port)
            fn(conn, writer.channel)
            if opens:
                await asyncio.sleep(0.5)
                for sender in range(600, 608):
                    conn._channels.pop(sender, None)
            if must_close:
                try:
                    await asyncio.wait_for(conn.wait_closed(), 5)
                    return "closed"
                except asyncio.TimeoutError:
                    return "still open"
            writer.write(b"ping")
            try:
                d = await asyncio.wait_for(reader.readexactly(4), 5)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, OSError) as e:
                return "broken: %r" % e
            ok = await async_echo(conn, h.dest(h.echo.port), 100000, seed=71)
            return "works" if d == b"ping" and ok else "damaged"

    async def all_cases():
        for name, must_close, fn in _abuse_cases(h.echo.port):
            try:
                outcomes[name] = await asyncio.wait_for(one(name, must_close, fn), 20)
            except Exception as e:  # noqa: BLE001 - reported below
                outcomes[name] = "error: %r" % e
            h.assert_alive()

    run_async(all_cases())
    want = {name: ("closed" if must_close else "works")
            for name, must_close, _ in _abuse_cases(h.echo.port)}
    assert outcomes == want
    # every hand-made open got exactly one answer; the unusable ones were refused
    assert sorted(answers) == list(range(600, 608)), answers
    for sender in (601, 602, 604, 605, 606):
        assert answers[sender].startswith("fail"), answers
    assert answers[607] == "fail 1", answers  # alknet-: administratively prohibited
    good.finish()
    h.finish()
