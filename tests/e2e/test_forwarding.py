"""Forwarding through alknet with the real OpenSSH client: ssh -W, -L, -D (+ curl), IPv6,
failing channels inside a working session, 50 concurrent channels, half-close, slow reader.

Every target listens on 127.0.0.1 or ::1 only.
"""
import hashlib
import signal
import socket
import subprocess
import threading
import time

import paramiko
import pytest

from conftest import (MIB, HttpTarget, TcpServer, closed_port, echo_handler, echo_roundtrip,
                      free_port, listening_ports, paramiko_transport, rand_bytes, recv_all,
                      recv_exact, recv_to_eof, rss_kib, sha256_hex, socks5_channel_fails,
                      socks5_connect, ssh_bg, ssh_cmd_info, ssh_dynamic_forward,
                      ssh_local_forward, wait_until)

SSH_TIMEOUT = 60


def ssh_w(srv, key, target, data=b"", timeout=SSH_TIMEOUT, info=False):
    mk = ssh_cmd_info if info else (lambda s, k, *e: s.ssh_cmd(k, *e))
    return subprocess.run(mk(srv, key, "-W", target), input=data, capture_output=True,
                          timeout=timeout)


def curl_socks(socks_port, url, hostname=True, timeout=30):
    flag = "--socks5-hostname" if hostname else "--socks5"
    return subprocess.run(["curl", "-sS", "--max-time", "20", flag, "127.0.0.1:%d" % socks_port,
                           url], capture_output=True, timeout=timeout)


# ---------------------------------------------------------------------------------- ssh -W

@pytest.mark.parametrize("size", [0, 1, 2, 100, 5000, 200000])
def test_stdio_forward_roundtrip(server, keys, echo_server, size):
    data = rand_bytes(size, seed=size)
    r = ssh_w(server, keys.default, "127.0.0.1:%d" % echo_server.port, data)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == size
    assert sha256_hex(r.stdout) == sha256_hex(data)


def test_stdio_forward_stdin_closed_after_data(server, keys, sink_server):
    """ssh -W: stdin hits EOF after the data; the target sees EOF and its reply still arrives."""
    data = rand_bytes(300000, seed=3)
    r = ssh_w(server, keys.default, "127.0.0.1:%d" % sink_server.port, data)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split() == [sha256_hex(data), str(len(data))]


def test_stdio_forward_ipv6_target(server, keys):
    """OpenSSH takes an IPv6 -W target only in brackets ('::1:port' and '::1/port' are
    rejected by ssh itself)."""
    target = TcpServer(echo_handler, host="::1")
    try:
        data = rand_bytes(5000, seed=6)
        r = ssh_w(server, keys.default, "[::1]:%d" % target.port, data)
        assert r.returncode == 0, r.stderr
        assert r.stdout == data
        assert target.accepted == 1
    finally:
        target.close()


def test_server_listening_on_ipv6(server_factory, keys, echo_server):
    srv = server_factory("--log-level", "debug", listen_host="::1")
    assert "listening addr=[::1]:%d " % srv.port in srv.log(), srv.log()
    data = rand_bytes(5000, seed=7)
    r = ssh_w(srv, keys.default, "127.0.0.1:%d" % echo_server.port, data)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data
    target6 = TcpServer(echo_handler, host="::1")
    try:
        r = ssh_w(srv, keys.default, "[::1]:%d" % target6.port, data)
        assert r.returncode == 0, r.stderr
        assert r.stdout == data
    finally:
        target6.close()
    assert srv.wait_log("connection opened remote_addr=::1 transport=tcp")


# ---------------------------------------------------------------------------------- ssh -L

def test_local_forward(server, keys, echo_server, tmp_path):
    with ssh_local_forward(server, keys.default, tmp_path, "127.0.0.1", echo_server.port) as fwd:
        for size in (0, 1, 100, 5000, 200000, 3 * MIB):
            data = rand_bytes(size, seed=size + 1)
            with socket.create_connection(("127.0.0.1", fwd.port), timeout=30) as s:
                assert echo_roundtrip(s, data) == data
        assert fwd.alive()
    assert server.log().count("connection opened") == 1


def test_local_forward_ipv6_target(server, keys, tmp_path):
    target = TcpServer(echo_handler, host="::1")
    try:
        with ssh_local_forward(server, keys.default, tmp_path, "::1", target.port) as fwd:
            data = rand_bytes(100000, seed=9)
            with socket.create_connection(("127.0.0.1", fwd.port), timeout=30) as s:
                assert echo_roundtrip(s, data) == data
    finally:
        target.close()


# ---------------------------------------------------------------------------------- ssh -D

@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_dynamic_forward_curl(server, keys, http_target, tmp_path, name):
    with ssh_dynamic_forward(server, keys.default, tmp_path) as fwd:
        for hostname in (True, False):
            r = curl_socks(fwd.port, "http://%s:%d/" % (name, http_target.port), hostname)
            assert r.returncode == 0, r.stderr
            assert r.stdout == http_target.body
        assert fwd.alive()


def test_dynamic_forward_ipv6(server, keys, tmp_path):
    http6 = HttpTarget(host="::1")
    target = TcpServer(echo_handler, host="::1")
    try:
        with ssh_dynamic_forward(server, keys.default, tmp_path) as fwd:
            r = curl_socks(fwd.port, "http://[::1]:%d/" % http6.port)
            assert r.returncode == 0, r.stderr
            assert r.stdout == http6.body
            data = rand_bytes(70000, seed=11)
            with socks5_connect(fwd.port, "::1", target.port) as s:
                assert echo_roundtrip(s, data) == data
    finally:
        http6.close()
        target.close()


# ------------------------------------------------------------------------------- failures

@pytest.mark.parametrize("target,expect", [
    ("127.0.0.1:REFUSED", "connect failed: connection refused"),
    ("alknet-control:22", "administratively prohibited"),
    ("ALKNET-x:80", "administratively prohibited"),
    ("Alknet-Control:22", "administratively prohibited"),
    ("nonexistent.invalid:80", "connect failed: name not resolved"),
])
def test_stdio_forward_open_failure(server, keys, target, expect):
    target = target.replace("REFUSED", str(closed_port()))
    r = ssh_w(server, keys.default, target, b"x", info=True)
    err = r.stderr.decode(errors="replace")
    assert r.returncode != 0
    assert "open failed" in err, err
    assert expect in err, err
    assert r.stdout == b""
    # The server is fine afterwards.
    assert server.proc.poll() is None


def test_failing_channels_do_not_disturb_session(server, keys, echo_server, tmp_path):
    """One ssh -D session: refused port, reserved names and an unresolvable name fail, and
    channels through the same session before, between and after them still work."""
    refused = closed_port()
    failing = [("127.0.0.1", refused), ("alknet-control", 22), ("ALKNET-x", 80),
               ("nonexistent.invalid", 80)]
    with ssh_dynamic_forward(server, keys.default, tmp_path, info=True) as fwd:
        # A long-lived channel stays open across all the failures.
        held = socks5_connect(fwd.port, "127.0.0.1", echo_server.port)
        with held:
            for i, (host, port) in enumerate(failing):
                assert socks5_channel_fails(fwd.port, host, port), (host, port)
                data = rand_bytes(20000 + i, seed=20 + i)
                with socks5_connect(fwd.port, "127.0.0.1", echo_server.port) as s:
                    assert echo_roundtrip(s, data) == data
                held.sendall(b"ping%d" % i)
                got = b""
                while len(got) < len(b"ping%d" % i):
                    d = held.recv(100)
                    assert d, "held channel closed after failure %r" % (host,)
                    got += d
                assert got == b"ping%d" % i
            assert fwd.alive()
        assert wait_until(lambda: "name not resolved" in fwd.stderr(), 5), fwd.stderr()
        err = fwd.stderr()
        assert "connect failed: connection refused" in err
        assert err.count("administratively prohibited") == 2
    assert server.log().count("connection opened") == 1


def test_failing_local_forwards_in_one_session(server, keys, echo_server, tmp_path):
    """ssh -L with several forwards in one process, some to failing destinations."""
    specs = {"refused": ("127.0.0.1", closed_port()), "reserved": ("alknet-control", 22),
             "unresolved": ("nonexistent.invalid", 80), "good": ("127.0.0.1", echo_server.port)}
    ports = {name: free_port() for name in specs}
    args = []
    for name, (h, p) in specs.items():
        args += ["-L", "127.0.0.1:%d:%s:%d" % (ports[name], h, p)]
    with ssh_bg(server, keys.default, tmp_path, *args, listen_port=ports["good"], info=True) \
            as fwd:
        assert wait_until(lambda: all(p in listening_ports()
                                      for p in ports.values()), 10)
        for name in ("refused", "reserved", "unresolved"):
            with socket.create_connection(("127.0.0.1", ports[name]), timeout=15) as s:
                s.settimeout(15)
                try:
                    assert s.recv(1) == b""
                except ConnectionResetError:
                    pass
            data = rand_bytes(50000, seed=len(name))
            with socket.create_connection(("127.0.0.1", ports["good"]), timeout=15) as s:
                assert echo_roundtrip(s, data) == data
        assert fwd.alive()
        err = fwd.stderr()
        assert "connection refused" in err and "administratively prohibited" in err
        assert "name not resolved" in err


def test_ssh_N_stays_connected_and_keepalive_answered(server, keys, tmp_path):
    """ssh -N opens no channel; keepalive@openssh.com every second must get an answer or
    ssh gives up after ServerAliveCountMax unanswered probes."""
    with ssh_bg(server, keys.default, tmp_path, "-o", "ServerAliveInterval=1",
                "-o", "ServerAliveCountMax=1") as c:
        assert server.wait_log("result=accept", 10)
        # The condition here is "stays alive", which can only be observed over time.
        deadline = time.time() + 3.5
        while time.time() < deadline:
            assert c.alive(), c.stderr()
            time.sleep(0.1)


def test_remote_forward_refused_cleanly(server, keys, echo_server, tmp_path):
    """-R (tcpip-forward) is refused; with ExitOnForwardFailure ssh says so and exits; the
    server carries on."""
    r = subprocess.run(ssh_cmd_info(server, keys.default, "-N", "-o", "ExitOnForwardFailure=yes",
                                    "-R", "127.0.0.1:0:127.0.0.1:%d" % echo_server.port),
                       capture_output=True, timeout=SSH_TIMEOUT, stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    assert b"forwarding failed" in r.stderr, r.stderr
    data = rand_bytes(1000, seed=1)
    r = ssh_w(server, keys.default, "127.0.0.1:%d" % echo_server.port, data)
    assert r.returncode == 0 and r.stdout == data


# ------------------------------------------------------------------------ 50 channels at once

def test_fifty_channels_16mib_each_way(server, keys, tmp_path):
    """50 concurrent channels through one ssh -L session, each moving 16 MiB to an echo
    target and back; SHA-256 checked upstream (at the target) and downstream (at the client).
    A watchdog fails the test as soon as no byte moves for STALL_S seconds."""
    n_chan, size, stride = 50, 16 * MIB, 4099
    stall_s, deadline_s = 10, 120
    upstream = []
    lock = threading.Lock()
    moved = [0]  # bytes received by the clients, all channels

    def hashing_echo(conn):
        h = hashlib.sha256()
        n = 0
        while True:
            d = conn.recv(262144)
            if not d:
                break
            h.update(d)
            n += len(d)
            conn.sendall(d)
        conn.shutdown(socket.SHUT_WR)
        with lock:
            upstream.append((h.hexdigest(), n))

    target = TcpServer(hashing_echo)
    base = rand_bytes(size + n_chan * stride, seed=50)
    sent = [sha256_hex(memoryview(base)[i * stride:i * stride + size]) for i in range(n_chan)]
    socks = []
    results = [None] * n_chan
    errors = []
    try:
        with ssh_local_forward(server, keys.default, tmp_path, "127.0.0.1", target.port) as fwd:
            for _ in range(n_chan):
                socks.append(socket.create_connection(("127.0.0.1", fwd.port), timeout=deadline_s))

            def send(i):
                try:
                    socks[i].sendall(memoryview(base)[i * stride:i * stride + size])
                    socks[i].shutdown(socket.SHUT_WR)
                except OSError as e:
                    errors.append(("send", i, e))

            def receive(i):
                h = hashlib.sha256()
                n = 0
                try:
                    while True:
                        d = socks[i].recv(262144)
                        if not d:
                            break
                        h.update(d)
                        n += len(d)
                        with lock:
                            moved[0] += len(d)
                except OSError as e:
                    errors.append(("recv", i, e))
                results[i] = (h.hexdigest(), n)

            threads = [threading.Thread(target=f, args=(i,), daemon=True)
                       for i in range(n_chan) for f in (send, receive)]
            t0 = time.time()
            for t in threads:
                t.start()
            last, last_change, stalled = -1, time.time(), False
            while any(t.is_alive() for t in threads):
                now = time.time()
                if moved[0] != last:
                    last, last_change = moved[0], now
                elif now - last_change > stall_s or now - t0 > deadline_s:
                    stalled = True
                    break
                time.sleep(0.2)
            elapsed = time.time() - t0
            alive = fwd.alive()
            if stalled:
                for s in socks:  # unblock the threads
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            for t in threads:
                t.join(10)
        assert not stalled, ("transfer stalled: %.1f of %.1f MiB came back after %.0f s, "
                             "nothing moved for %d s" % (moved[0] / MIB, n_chan * size / MIB,
                                                        elapsed, stall_s))
        assert alive, fwd.stderr()
        assert not errors, errors[:5]
        for i, (h, n) in enumerate(results):
            assert n == size, "channel %d: got %d bytes back" % (i, n)
            assert h == sent[i], "channel %d: downstream hash mismatch" % i
        assert wait_until(lambda: len(upstream) == n_chan, 10)
        assert sorted(upstream) == sorted((h, size) for h in sent), "upstream hash mismatch"
    finally:
        for s in socks:
            s.close()
        target.close()
    assert server.log().count("connection opened") == 1


# ------------------------------------------------------------------------------ half-close

def test_half_close_local_forward(server, keys, sink_server, tmp_path):
    """The client sends a request, shuts its write side, and still gets the whole reply."""
    with ssh_local_forward(server, keys.default, tmp_path, "127.0.0.1", sink_server.port) as fwd:
        for size in (0, 1, 5000, 2 * MIB):
            data = rand_bytes(size, seed=size + 5)
            with socket.create_connection(("127.0.0.1", fwd.port), timeout=30) as s:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                reply = recv_to_eof(s)
            assert reply.decode().split() == [sha256_hex(data), str(size)]


def test_half_close_from_target(server, keys, tmp_path):
    """The target sends its data and FIN first; the client reads to EOF, then still sends
    its own data through the half-open channel, and the target receives all of it."""
    down = rand_bytes(1 * MIB + 17, seed=31)
    got_up = []

    def handler(conn):
        conn.sendall(down)
        conn.shutdown(socket.SHUT_WR)
        got_up.append(recv_all(conn))

    target = TcpServer(handler)
    try:
        with ssh_local_forward(server, keys.default, tmp_path, "127.0.0.1", target.port) as fwd:
            up = rand_bytes(3 * MIB + 5, seed=32)
            with socket.create_connection(("127.0.0.1", fwd.port), timeout=30) as s:
                assert recv_all(s) == (sha256_hex(down), len(down))
                s.sendall(up)
                s.shutdown(socket.SHUT_WR)
                assert wait_until(lambda: got_up, 20)
            assert got_up[0] == (sha256_hex(up), len(up))
    finally:
        target.close()


def test_target_reset_mid_transfer(server, keys, echo_server, tmp_path):
    """The target resets the connection mid-transfer: that channel ends, the session and
    its other channels carry on."""
    import struct

    def resetting(conn):
        conn.sendall(rand_bytes(256 * 1024, seed=41))
        conn.recv(10)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    target = TcpServer(resetting)
    try:
        with ssh_dynamic_forward(server, keys.default, tmp_path) as fwd:
            for _ in range(3):
                with socks5_connect(fwd.port, "127.0.0.1", target.port) as s:
                    s.sendall(b"go")
                    try:
                        recv_all(s)
                    except ConnectionResetError:
                        pass
                data = rand_bytes(100000, seed=42)
                with socks5_connect(fwd.port, "127.0.0.1", echo_server.port) as s:
                    assert echo_roundtrip(s, data) == data
            assert fwd.alive()
    finally:
        target.close()
    assert server.proc.poll() is None


# ----------------------------------------------------------------------------- slow reader

def test_slow_reader_memory_bounded(server, keys, echo_server, tmp_path):
    """A fast target (64 MiB), a client that stops reading for 4 s: the server's RSS stays
    bounded, backpressure stops the target, another channel of the same session keeps
    working meanwhile, and then every byte arrives intact."""
    size = 64 * MIB
    data = rand_bytes(size, seed=64)
    progress = [0]

    def fast(conn):
        view = memoryview(data)
        for off in range(0, size, 65536):
            conn.sendall(view[off:off + 65536])
            progress[0] = off + 65536
        conn.shutdown(socket.SHUT_WR)
        recv_all(conn)

    target = TcpServer(fast)
    try:
        with ssh_dynamic_forward(server, keys.default, tmp_path) as fwd:
            pid = server.proc.pid
            baseline = rss_kib(pid)
            with socks5_connect(fwd.port, "127.0.0.1", target.port, timeout=60) as s:
                assert wait_until(lambda: progress[0] > 0, 10)
                peak = baseline
                stall_end = time.time() + 4
                other_done = False
                while time.time() < stall_end:
                    peak = max(peak, rss_kib(pid))
                    if not other_done:
                        small = rand_bytes(100000, seed=65)
                        with socks5_connect(fwd.port, "127.0.0.1", echo_server.port) as o:
                            o.settimeout(3)
                            assert echo_roundtrip(o, small) == small
                        other_done = True
                    time.sleep(0.1)
                stalled_at = progress[0]
                growth_mib = (peak - baseline) / 1024
                assert growth_mib < 40, "server RSS grew %.1f MiB during the stall" % growth_mib
                assert stalled_at < size, "no backpressure: the target sent everything"
                assert recv_all(s) == (sha256_hex(data), size)
            assert fwd.alive()
    finally:
        target.close()


# ------------------------------------------------------------- many packets in one read

def test_many_packets_in_one_read_keep_order(server, keys, echo_server):
    """The relay sends a pass's client data by reference to the input buffer, up to 64 pieces,
    and copies the rest. With the server stopped while 20 channels queue 40 small packets each
    (800 packets), its next read holds all of them: order, EOF just behind the data, and data
    just before a CLOSE must all survive the switch from by-reference to copied."""
    got = {}
    lock = threading.Lock()

    def keep(conn):
        chunks = []
        while True:
            data = conn.recv(65536)
            if not data:
                break
            chunks.append(data)
        with lock:
            got[conn.getsockname()[1], conn.getpeername()[1]] = b"".join(chunks)

    sink = TcpServer(keep)
    t = paramiko_transport(server)
    try:
        t.auth_publickey("tester", paramiko.Ed25519Key.from_private_key_file(keys.default))
        echo = [t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port),
                               ("127.0.0.1", 1), timeout=10) for _ in range(16)]
        closing = [t.open_channel("direct-tcpip", ("127.0.0.1", sink.port),
                                  ("127.0.0.1", 1), timeout=10) for _ in range(4)]
        server.proc.send_signal(signal.SIGSTOP)
        resume = threading.Timer(10, server.proc.send_signal, (signal.SIGCONT,))
        resume.start()
        try:
            for r in range(40):
                for i, ch in enumerate(echo + closing):
                    ch.sendall(b"%02d:%02d;" % (i, r))
            for ch in echo:
                ch.shutdown_write()
            for ch in closing:
                ch.close()
            time.sleep(0.3)  # let paramiko's writes reach the socket
        finally:
            resume.cancel()
            server.proc.send_signal(signal.SIGCONT)
        for i, ch in enumerate(echo):
            ch.settimeout(20)
            want = b"".join(b"%02d:%02d;" % (i, r) for r in range(40))
            data = recv_exact(ch, len(want))
            assert data == want, "channel %d: %r" % (i, data[:64])
            assert ch.recv(1) == b"", "channel %d: no EOF after the data" % i
        assert wait_until(lambda: len(got) == 4, 20), got
        for i, data in enumerate(sorted(got.values())):
            idx = 16 + i
            assert data == b"".join(b"%02d:%02d;" % (idx, r) for r in range(40))
    finally:
        t.close()
        sink.close()
