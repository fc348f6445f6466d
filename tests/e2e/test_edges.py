"""Edges of the relay fixed in 305450f, each repeated hundreds of times: targets that speak
first, targets that reset or close while data is still queued toward a client whose window
is shut, a client that half-closes first, proxies that coalesce or trickle their reply.

Every case counts its failures (any byte missing or extra, an EOF that does not come, a
channel that does not open) and asserts the count is 0, with the count in the message.
Repetitions run as many channels at a time over a few paramiko sessions (PARALLEL channels
in flight), plus fewer real OpenSSH `ssh -W` runs where the client's own behaviour matters.
Where sshd's behaviour is the reference (a reset or a dead target under a small window, a
CLOSE right behind the confirmation), the same loop runs against Debian's sshd (started as
bench/run does) in the same test, and both must have 0 failures.

Targets listen on 127.0.0.2, servers and proxies on 127.0.0.1. Every wait is bounded.
Packages: scripts/deps/test.txt (openssh-server for sshd), scripts/deps/proxy.txt.
"""
import fcntl
import os
import pwd
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (MIB, MS_PASS_URL, MS_USER, ROOT, TP_PASS, TP_USER, TcpServer,
                      paramiko_transport, rand_bytes, recv_exact, recv_to_eof)
from test_proxy import FakeHttp, FakeSocks5

sys.path.insert(0, os.path.join(ROOT, "bench"))
import benchlib  # noqa: E402 - bench/run's sshd launcher

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Debian's paramiko imports deprecated ciphers
    import paramiko

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TARGET_HOST = "127.0.0.2"
REPS = 200            # repetitions of every case, per mode
PARALLEL = 25         # channels in flight at once (tinyproxy's MaxClients is 50)
SESSIONS = 4          # paramiko transports the channels are spread over
SSH_W_RUNS = 10       # real `ssh -W` runs per greeting case and mode
TIMEOUT = 30          # any single read, open or process wait
SMALL_WINDOW = 16384

GREETING = b"* OK greeting\r\n"
BULK = rand_bytes(MIB, seed=305)               # 1 MiB, sent at once
QUEUED = rand_bytes(48 * 1024, seed=306)       # 48 KiB: three small windows' worth
REPLY = rand_bytes(4 * MIB, seed=307)          # the answer to a rejected upload
UPLOAD = rand_bytes(4 * MIB, seed=308)
HUNDRED = rand_bytes(100, seed=309)


# --------------------------------------------------------------------------------- targets

def linger_close(conn):
    """Closes with SO_LINGER 0: the peer gets a RST instead of a FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def wait_acked(conn, timeout=TIMEOUT):
    """Waits until the kernel has nothing left unacknowledged in conn's send queue (SIOCOUTQ
    is 0): everything sent is in the peer's receive buffer, so a reset can't drop it here."""
    deadline = time.time() + timeout
    buf = bytearray(4)
    while time.time() < deadline:
        fcntl.ioctl(conn.fileno(), termios.TIOCOUTQ, buf)
        if struct.unpack("i", buf)[0] == 0:
            return True
        time.sleep(0.005)
    return False


def read_until_eof(conn):
    conn.settimeout(TIMEOUT)
    while conn.recv(65536):
        pass


def t_greet_hold(conn):
    """(a) greets at once and holds the connection until the client's EOF."""
    conn.sendall(GREETING)
    read_until_eof(conn)


def t_greet_close(conn):
    """(b) greets and closes at once (FIN)."""
    conn.sendall(GREETING)


def t_bulk_close(conn):
    """(c) sends 1 MiB at once and closes (FIN)."""
    conn.sendall(BULK)


def t_queued_reset(conn):
    """(d) sends 48 KiB, waits until they are acked and 0.2 s more, then resets."""
    conn.sendall(QUEUED)
    wait_acked(conn)
    time.sleep(0.2)
    linger_close(conn)


def t_queued_close(conn):
    """(e) sends 48 KiB and closes normally; the client's later 1 KiB gets a RST back."""
    conn.sendall(QUEUED)


def t_rejected_upload(conn):
    """(f) reads 1 KiB of an upload, answers 4 MiB, waits for the ack, closes with the rest of
    the upload unread (so its kernel resets). Gives up after 10 s on a relay that never
    takes the reply."""
    conn.settimeout(10)
    recv_exact(conn, 1024)
    conn.sendall(REPLY)
    wait_acked(conn, timeout=5)
    time.sleep(0.3)


def t_bulk_reset(conn):
    """(g) sends 1 MiB, waits until the last byte is acked (the slow client is still
    reading), then resets."""
    conn.sendall(BULK)
    wait_acked(conn)
    linger_close(conn)


def t_hundred_reset(conn):
    """The paramiko race: 2 ms after the accept, 100 bytes and a reset at once. (Without the
    2 ms the reset can beat the server's check of the connect: t_instant_reset.)"""
    time.sleep(0.002)
    conn.sendall(HUNDRED)
    linger_close(conn)


def t_instant_reset(conn):
    """100 bytes and a reset the moment the connection is accepted: the server's connect
    check may see ECONNRESET. sshd refuses the channel then ('Connect failed'); alknet hands
    the connection on, so the 100 bytes still arrive."""
    conn.sendall(HUNDRED)
    linger_close(conn)


TARGETS = {"greet_hold": t_greet_hold, "greet_close": t_greet_close,
           "bulk_close": t_bulk_close, "queued_reset": t_queued_reset,
           "queued_close": t_queued_close, "rejected_upload": t_rejected_upload,
           "bulk_reset": t_bulk_reset, "hundred_reset": t_hundred_reset,
           "instant_reset": t_instant_reset}


@pytest.fixture(scope="module")
def targets():
    srvs = {name: TcpServer(fn, host=TARGET_HOST) for name, fn in TARGETS.items()}
    yield {name: s.port for name, s in srvs.items()}
    for s in srvs.values():
        s.close()


# ------------------------------------------------------------------------------- the servers

MODES = ["direct", "socks5-microsocks", "socks5-microsocks-login", "socks5h-microsocks",
         "http-tinyproxy", "socks5-dante"]
# socks5h sends an IP literal as an address; "127.2" is no literal to alknet (inet_pton) but
# getaddrinfo's inet_aton reads it as 127.0.0.2, so through socks5h it goes as a name and
# the proxy resolves it.
SOCKS5H_NAME = "127.2"


def proxy_args(request, mode):
    """alknet's --proxy for a mode, starting (or skipping) the proxy it needs."""
    if mode == "direct":
        return []
    scheme, name = mode.split("-", 1)
    if name == "microsocks-login":
        p = request.getfixturevalue("microsocks")
        return ["--proxy", "%s://%s:%s@127.0.0.1:%d" % (scheme, MS_USER, MS_PASS_URL, p.port)]
    if name == "microsocks":
        p = request.getfixturevalue("microsocks_open")
    elif name == "tinyproxy":
        p = request.getfixturevalue("tinyproxy")
        return ["--proxy", "http://%s:%s@127.0.0.1:%d" % (TP_USER, TP_PASS, p.port)]
    else:
        p = request.getfixturevalue(name)
    return ["--proxy", "%s://127.0.0.1:%d" % (scheme, p.port)]


@pytest.fixture
def alknet(request, server_factory):
    """alknet in the mode given by indirect parametrization (default: direct)."""
    mode = getattr(request, "param", "direct")
    srv = server_factory("--log-level", "debug", *proxy_args(request, mode))
    srv.mode = mode
    srv.target_host = SOCKS5H_NAME if mode.startswith("socks5h") else TARGET_HOST
    yield srv
    assert srv.proc.poll() is None, "alknet died:\n" + srv.log()[-3000:]


@pytest.fixture(scope="module")
def sshd(keys, tmp_path_factory):
    """Debian's sshd on 127.0.0.1 with AllowTcpForwarding yes and the same authorized keys,
    started by bench/benchlib.start_sshd; the login user is root as root (else you). Yields
    the server, or None and the reason it can't run."""
    if not os.access(benchlib.SSHD, os.X_OK):
        yield None, "%s is not installed (openssh-server, scripts/deps/test.txt)" % benchlib.SSHD
        return
    user = pwd.getpwuid(os.geteuid()).pw_name
    try:
        srv = benchlib.start_sshd(str(tmp_path_factory.mktemp("sshd")), keys, user)
    except (RuntimeError, OSError) as e:
        yield None, "sshd did not start: %s" % e
        return
    srv.user = user
    yield srv, None
    srv.stop()


# ------------------------------------------------------------------------------- the clients

class Sessions:
    """SESSIONS authenticated paramiko transports to srv; channel i goes over transport
    i % SESSIONS, to srv.target_host (TARGET_HOST by default)."""

    def __init__(self, srv, key, user="tester", n=SESSIONS):
        pkey = paramiko.Ed25519Key.from_private_key_file(key)
        self.host = getattr(srv, "target_host", TARGET_HOST)
        self.t = []
        try:
            for _ in range(n):
                t = paramiko_transport(srv)
                self.t.append(t)
                t.auth_publickey(user, pkey)
        except BaseException:
            self.close()
            raise

    def open(self, i, port, window=None):
        ch = self.t[i % len(self.t)].open_channel(
            "direct-tcpip", (self.host, port), ("127.0.0.1", 0), window_size=window,
            timeout=TIMEOUT)
        ch.settimeout(TIMEOUT)
        return ch

    def close(self):
        for t in self.t:
            t.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BatchingLink:
    """A TCP relay on 127.0.0.1 in front of a server that holds server -> client bytes for
    hold seconds after the first one and then sends all it has in one send(): a link on
    which the client reads messages sent a few ms apart in one go. Client -> server bytes
    pass at once. .port is where to connect (paramiko_transport(link) works)."""

    def __init__(self, port, hold=0.05):
        self.upstream = port
        self.hold = hold
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
                server = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
            except OSError:
                return
            self.conns += [client, server]
            for src, dst, hold in ((client, server, 0), (server, client, self.hold)):
                threading.Thread(target=self._pump, args=(src, dst, hold), daemon=True).start()

    @staticmethod
    def _pump(src, dst, hold):
        src.settimeout(None)
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                if hold:
                    time.sleep(hold)
                    src.setblocking(False)
                    try:
                        while True:
                            more = src.recv(65536)
                            if not more:
                                break
                            d += more
                    except BlockingIOError:
                        pass
                    src.setblocking(True)
                dst.sendall(d)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def failures(job, n=REPS, parallel=PARALLEL):
    """Runs job(i) for i < n, parallel at a time. job returns None when all was right, else
    what went wrong; an exception counts as a failure too. Returns the list of failures."""
    def run(i):
        try:
            return job(i)
        except Exception as e:  # noqa: BLE001 - a timeout or a refused open is a failure
            return "%s: %s" % (type(e).__name__, e)

    with ThreadPoolExecutor(parallel) as ex:
        results = list(ex.map(run, range(n), timeout=n * TIMEOUT))
    return [r for r in results if r is not None]


def differs(got, want):
    """None if got == want, else how it differs."""
    if got == want:
        return None
    same = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got),
                                                                             len(want)))
    return "got %d bytes, want %d (first difference at byte %d)" % (len(got), len(want), same)


def closes(srv):
    """The server's last words on sessions it ended itself, for a failure message: a case
    that loses channels should say whether the server dropped a session, and why."""
    why = re.compile(r"connection dropped|session \d+: (?!key exchange)|WARN|ERROR")
    lines = [l for l in srv.log().splitlines() if why.search(l)]
    return "; server: " + (" | ".join(lines[-8:]) if lines else "no session dropped")


def summary(fails, n):
    return "%d/%d failed%s" % (len(fails), n, (", e.g. " + "; ".join(sorted(set(fails))[:3]))
                               if fails else "")


def read_proc(p, want_len=None, timeout=TIMEOUT):
    """Reads p's stdout to EOF, or only want_len bytes; returns them (short on timeout)."""
    got = bytearray()
    fd = p.stdout.fileno()
    deadline = time.time() + timeout
    while want_len is None or len(got) < want_len:
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
        if not r:
            break
        d = os.read(fd, 262144 if want_len is None else want_len - len(got))
        if not d:
            break
        got += d
    return bytes(got)


def finish_proc(p, timeout=TIMEOUT):
    """Closes p's stdin, waits for it to exit; returns (rest of stdout, exit code, stderr)."""
    if p.stdin:
        try:
            p.stdin.close()
        except OSError:
            pass
        p.stdin = None
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += b"\n(killed: still running after %d s)" % timeout
    return out, p.returncode, err.decode(errors="replace").strip()[-200:]


def ssh_w_job(srv, key, port, want, stdin_open=True, read_len=None):
    """A job: `ssh -W` to srv.target_host:port with stdin kept open while it reads (or at EOF from
    the start); reads want (only read_len bytes, then closes stdin, for a holding target),
    then must see EOF and exit 0."""
    def job(i):
        p = subprocess.Popen(srv.ssh_cmd(key, "-W", "%s:%d" % (srv.target_host, port)),
                             stdin=subprocess.PIPE if stdin_open else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        got = read_proc(p, read_len)
        rest, rc, err = finish_proc(p)
        bad = differs(got + rest, want)
        if bad or rc != 0:
            return "ssh -W: %s, rc=%s %s" % (bad or "bytes right", rc, err)
        return None
    return job


def greeting_check(srv, key, port, want, client_eof=False, read_len=None):
    """REPS paramiko channels and SSH_W_RUNS `ssh -W` runs to port: each must get want exactly,
    then EOF (for read_len: read that much, then end its side, then EOF)."""
    def job_pm(i):
        ch = s.open(i, port)
        try:
            if client_eof:
                ch.shutdown_write()
            got = recv_exact(ch, read_len) if read_len else b""
            if read_len:
                ch.shutdown_write()
            return differs(got + recv_to_eof(ch), want)
        finally:
            ch.close()

    with Sessions(srv, key) as s:
        pm = failures(job_pm)
    sw = failures(ssh_w_job(srv, key, port, want, stdin_open=not client_eof, read_len=read_len),
                  SSH_W_RUNS, parallel=5)
    assert (len(pm), len(sw)) == (0, 0), "%s: paramiko %s; ssh -W %s%s" % (
        srv.mode, summary(pm, REPS), summary(sw, SSH_W_RUNS), closes(srv))


# --------------------------------------------------------------------- targets that speak first

@pytest.mark.parametrize("alknet", MODES, indirect=True)
def test_greeting_then_hold(alknet, keys, targets):
    """(a) The target greets and holds the connection; the client keeps its side open until
    it has the greeting, exactly."""
    greeting_check(alknet, keys.default, targets["greet_hold"], GREETING, read_len=len(GREETING))


@pytest.mark.parametrize("alknet", MODES, indirect=True)
def test_greeting_then_close(alknet, keys, targets):
    """(b) The target greets and closes at once: the greeting, then EOF, with the client's
    side still open."""
    greeting_check(alknet, keys.default, targets["greet_close"], GREETING)


@pytest.mark.parametrize("alknet", MODES, indirect=True)
def test_bulk_then_close(alknet, keys, targets):
    """(c) The target sends 1 MiB at once and closes: all of it, then EOF."""
    greeting_check(alknet, keys.default, targets["bulk_close"], BULK)


@pytest.mark.parametrize("alknet", ["direct", "socks5-dante"], indirect=True)
@pytest.mark.parametrize("target,want", [("greet_hold", GREETING), ("bulk_close", BULK)],
                         ids=["greet_hold", "bulk_close"])
def test_client_eof_first(alknet, keys, targets, target, want):
    """The client half-closes as soon as the channel is open (ssh -W with stdin at EOF): the
    greeting or the 1 MiB still arrives. Only where half-close is passed on: microsocks and
    tinyproxy close both directions on a half-close, dropping what they had not relayed (they
    do that without alknet too), so they are not tested here."""
    greeting_check(alknet, keys.default, targets[target], want, client_eof=True)


# --------------------------------------------------- resets and closes under a small window

def side_by_side(alknet, sshd, keys, job, n=REPS, parallel=REPS, batching=False):
    """Runs job(sessions, i) n times against alknet, then against sshd (10 paramiko sessions
    each, through a BatchingLink if asked). Asserts alknet has 0 failures and sshd at most 1 %
    (a warning names them); skips only the sshd half (after alknet's passed) when sshd can't
    run."""
    counts, detail = {}, {}
    servers = [("alknet", alknet, "tester")]
    sshd_srv, why = sshd
    if sshd_srv is not None:
        servers.append(("sshd", sshd_srv, sshd_srv.user))
    for name, srv, user in servers:
        link = BatchingLink(srv.port) if batching else None
        try:
            with Sessions(link or srv, keys.default, user, n=10) as s:
                fails = failures(lambda i: job(s, i), n, parallel)
        finally:
            if link:
                link.close()
        counts[name] = len(fails)
        detail[name] = summary(fails, n) + (closes(srv) if name == "alknet" and fails else "")
    # alknet must lose nothing. sshd is the reference that shows the case is fair: a broad
    # failure there means the test is wrong, but sshd alone dropping a channel or two in
    # hundreds (one CI run under ASan load: 1/300 "Connect failed") is sshd's, not ours.
    text = "failures per server: %r (%s)" % (counts, "; ".join("%s: %s" % kv
                                                              for kv in detail.items()))
    assert counts["alknet"] == 0, text
    assert counts.get("sshd", 0) <= max(1, n // 100), text
    if counts.get("sshd", 0):
        warnings.warn("sshd (the reference) failed: " + detail["sshd"])
    if sshd_srv is None:
        pytest.skip("alknet: 0/%d failed; the sshd half did not run: %s" % (n, why))


def test_reset_under_small_window(alknet, sshd, keys, targets):
    """(d) 16 KiB window: the target sends 48 KiB, waits, resets; the client reads only 0.5 s
    after the open, when the reset is long in. All 48 KiB arrive, then EOF."""
    def job(s, i):
        ch = s.open(i, targets["queued_reset"], window=SMALL_WINDOW)
        try:
            time.sleep(0.5)
            return differs(recv_to_eof(ch), QUEUED)
        finally:
            ch.close()

    side_by_side(alknet, sshd, keys, job)


def test_close_then_client_write_under_small_window(alknet, sshd, keys, targets):
    """(e) 16 KiB window: the target sends 48 KiB and closes; 0.3 s later the client sends
    1 KiB, which the target's kernel answers with a RST; 0.2 s later the client reads. All
    48 KiB arrive, then EOF."""
    def job(s, i):
        ch = s.open(i, targets["queued_close"], window=SMALL_WINDOW)
        try:
            time.sleep(0.3)
            ch.sendall(b"x" * 1024)
            time.sleep(0.2)
            return differs(recv_to_eof(ch), QUEUED)
        finally:
            ch.close()

    side_by_side(alknet, sshd, keys, job)


def test_open_channel_close_race(alknet, sshd, keys, targets):
    """The target sends 100 bytes and resets right after the accept: paramiko's open_channel
    (default window) must succeed every time, then read the 100 bytes and EOF. A CLOSE right
    behind the confirmation made it raise 'Unable to open channel' (the channel is gone by
    the time the opener looks); the client's link hands it the confirmation and what follows
    within 50 ms in one read (BatchingLink), as a slow link would, so that shows every time
    instead of by chance."""
    def job(s, i):
        ch = s.open(i, targets["hundred_reset"])
        try:
            return differs(recv_to_eof(ch), HUNDRED)
        finally:
            ch.close()

    side_by_side(alknet, sshd, keys, job, n=300, parallel=PARALLEL, batching=True)


def test_instant_reset_is_not_a_failed_connect(alknet, keys, targets):
    """A target that sends 100 bytes and resets at the accept: every open succeeds and reads
    the 100 bytes, then EOF (alknet only: sshd refuses some of these channels)."""
    def job(i):
        ch = s.open(i, targets["instant_reset"])
        try:
            return differs(recv_to_eof(ch), HUNDRED)
        finally:
            ch.close()

    with Sessions(alknet, keys.default, n=10) as s:
        fails = failures(job, 300, parallel=PARALLEL)
    assert not fails, "instant reset: " + summary(fails, 300)


def test_slow_reader_target_resets(alknet, keys, targets):
    """(g) A slow client link: 16 KiB window, reads of 4 KiB with 2 ms pauses, while the
    target sends 1 MiB and resets once its last byte is acked (so up to a socket buffer of it
    still sits at the server). All of it arrives, then EOF."""
    def job(i):
        ch = s.open(i, targets["bulk_reset"], window=SMALL_WINDOW)
        try:
            got = bytearray()
            while True:
                d = ch.recv(4096)
                if not d:
                    break
                got += d
                time.sleep(0.002)
            return differs(bytes(got), BULK)
        finally:
            ch.close()

    with Sessions(alknet, keys.default, n=10) as s:
        fails = failures(job, REPS, parallel=50)
    assert not fails, "slow reader: " + summary(fails, REPS)


# Measured without alknet: a Python client uploading the same 4 MiB through the proxy alone.
PROXY_TRUNCATES = {
    "socks5-microsocks":
        "microsocks 1.0.3 relays both directions in one thread with blocking 1 KiB writes, the "
        "client side first: while the target does not read the upload, its write() to the "
        "target blocks and the reply is never read; the target's reset then fails that write "
        "and microsocks closes both sides. Alone it lost the whole reply 30/30 (0 bytes "
        "each); through alknet about 5/30",
    "http-tinyproxy":
        "tinyproxy 1.11.1 resets the client side when the target resets, dropping the part of "
        "the reply it has not handed over yet. Alone, with a client that takes longer than "
        "the target's 0.3 s to drain 4 MiB (64 KiB receive buffer, 5 ms per 32 KiB read), it "
        "truncated 15/15 (ECONNRESET after about 3 MiB); with a fast client 0/30. Through "
        "alknet 0/30 with 3 runs at a time, 2/30 with 5",
    "socks5-dante":
        "dante 1.4.2 resets the client side when the target resets, dropping the part of the "
        "reply it has not handed over yet. Alone, with a client that takes longer than the "
        "target's 0.3 s to drain 4 MiB (64 KiB receive buffer, 5 ms per 32 KiB read), it "
        "truncated 15/15 (ECONNRESET after 2.2-3.0 MiB); with a fast client 0/30. Through "
        "alknet 0/30 with 3 runs at a time, 2-4/30 with 5, while dante's own log (log: "
        "disconnect) says it wrote all 4194304 bytes toward alknet in every session: the "
        "rest was still in its socket when it reset",
}


@pytest.mark.parametrize("alknet", ["direct"] + [
    pytest.param(mode, marks=pytest.mark.xfail(reason=why))
    for mode, why in PROXY_TRUNCATES.items()], indirect=True)
def test_rejected_upload(alknet, keys, targets):
    """(f) `ssh -W` uploads 4 MiB (stdin fed from a thread); the target reads 1 KiB, answers
    4 MiB, waits for the ack and closes with the upload unread (its kernel resets). The
    client reads at full speed: the whole reply arrives and ssh exits."""
    def job(i):
        p = subprocess.Popen(alknet.ssh_cmd(keys.default, "-W", "%s:%d" % (
            TARGET_HOST, targets["rejected_upload"])), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        stdin, p.stdin = p.stdin, None  # the feeder writes and closes it

        def feed():
            try:
                stdin.write(UPLOAD)
                stdin.close()
            except (OSError, ValueError):
                pass

        threading.Thread(target=feed, daemon=True).start()
        got = read_proc(p)
        rest, rc, err = finish_proc(p)
        bad = differs(got + rest, REPLY)
        if bad or rc != 0:
            return "%s, rc=%s %s" % (bad or "bytes right", rc, err)
        return None

    fails = failures(job, 30, parallel=5)
    assert not fails, "%s: %s" % (alknet.mode, summary(fails, 30))


# --------------------------------------------------------------------------- hostile proxies

@pytest.mark.parametrize("kind", ["socks5", "http"])
@pytest.mark.parametrize("style", ["coalesce", "trickle"])
def test_fake_proxy_reply_styles(server_factory, keys, targets, kind, style):
    """A proxy that sends its success reply and the target's greeting in one segment, or
    its reply one byte per segment 2 ms apart while the greeting is already waiting: the
    greeting arrives exactly, nothing of the reply with it."""
    proxy = (FakeSocks5 if kind == "socks5" else FakeHttp)(style=style)
    try:
        srv = server_factory("--proxy", "%s://127.0.0.1:%d" % (kind, proxy.port))
        srv.mode = "fake %s proxy, %s" % (kind, style)
        with Sessions(srv, keys.default) as s:
            def job(i):
                ch = s.open(i, targets["greet_hold"])
                try:
                    got = recv_exact(ch, len(GREETING))
                    ch.shutdown_write()
                    return differs(got + recv_to_eof(ch), GREETING)
                finally:
                    ch.close()

            fails = failures(job)
        assert not fails, "%s: %s" % (srv.mode, summary(fails, REPS))
        assert len(proxy.requests) == REPS
        assert style != "coalesce" or proxy.coalesced == REPS, proxy.coalesced
    finally:
        proxy.close()


def test_upload_to_a_late_reader_completes(server_factory, keys):
    """A target that reads nothing for 1 s, then everything: the client fills its window,
    the server buffers what the target doesn't take, and once the target drains that buffer
    the WINDOW_ADJUST must reach the client although nothing else happens on the session (it
    once waited for the next client packet, which never came: uploads crawled). 8 MiB, 5
    uploads, each must finish and arrive intact."""
    import hashlib
    import paramiko
    from conftest import paramiko_transport

    def late_sink(conn):
        time.sleep(1)
        h, n = hashlib.sha256(), 0
        while True:
            d = conn.recv(262144)
            if not d:
                break
            h.update(d)
            n += len(d)
        conn.sendall(("%s %d\n" % (h.hexdigest(), n)).encode())

    tgt = TcpServer(late_sink, host="127.0.0.2")
    srv = server_factory()
    t = paramiko_transport(srv)
    t.auth_publickey("tester", paramiko.Ed25519Key.from_private_key_file(keys.default))
    data = os.urandom(8 * MIB)
    want = "%s %d\n" % (hashlib.sha256(data).hexdigest(), len(data))
    bad = []
    for i in range(5):
        ch = t.open_channel("direct-tcpip", ("127.0.0.2", tgt.port), ("127.0.0.1", 1))
        ch.settimeout(20)
        t0 = time.time()
        try:
            ch.sendall(data)
            ch.shutdown_write()
            got = b""
            while True:
                d = ch.recv(4096)
                if not d:
                    break
                got += d
        except socket.timeout:
            got = b"timeout"
        if got.decode(errors="replace") != want:
            bad.append((i, got[:80], round(time.time() - t0, 1)))
        ch.close()
    t.close()
    tgt.close()
    assert not bad, bad
