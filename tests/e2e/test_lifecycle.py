"""Graceful shutdown: SIGTERM/SIGINT with active transfers, idle sessions, no sessions; no
new connections once shutdown has started."""
import signal
import socket
import threading
import time

import pytest

from conftest import (TcpServer, echo_roundtrip, rand_bytes, ssh_bg, ssh_local_forward,
                      wait_until)

DRAIN = 2
SLACK = 1.5  # allowed beyond the drain timeout (process exit, loaded CI machine)


def streaming_handler(conn):
    """Sends data until the connection breaks."""
    block = rand_bytes(65536, seed=99)
    while True:
        conn.sendall(block)


class Reader:
    """Reads a socket continuously in a thread, counting bytes and noting when it ends."""

    def __init__(self, sock):
        self.sock = sock
        self.count = 0
        self.ended = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                d = self.sock.recv(262144)
                if not d:
                    break
                self.count += len(d)
        except OSError:
            pass
        self.ended = time.time()


def signal_and_time(srv, sig, timeout):
    t0 = time.time()
    srv.proc.send_signal(sig)
    rc = srv.proc.wait(timeout)
    return rc, time.time() - t0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_with_active_transfers(server_factory, keys, tmp_path, sig):
    srv = server_factory("--log-level", "debug", "--drain-timeout", str(DRAIN))
    target = TcpServer(streaming_handler)
    fwd = ssh_local_forward(srv, keys.default, tmp_path, "127.0.0.1", target.port)
    socks, readers = [], []
    try:
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", fwd.port), timeout=30)
            socks.append(s)
            readers.append(Reader(s))
        assert wait_until(lambda: all(r.count > 1000000 for r in readers), 15)
        at_signal = sum(r.count for r in readers)
        rc, elapsed = signal_and_time(srv, sig, DRAIN + 10)
        assert rc == 0, srv.log()
        assert elapsed <= DRAIN + SLACK, elapsed
        assert sum(r.count for r in readers) > at_signal, "nothing moved during the drain"
        assert "signal received signal=%s" % sig.name in srv.log()
        assert "stopped" in srv.log()
        # The client is disconnected: ssh exits and the forwarded sockets end.
        assert wait_until(lambda: not fwd.alive(), 10), fwd.stderr()
        assert wait_until(lambda: all(r.ended for r in readers), 10)
    finally:
        for s in socks:
            s.close()
        fwd.close()
        target.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_with_idle_session(server_factory, keys, tmp_path, sig):
    srv = server_factory("--log-level", "debug", "--drain-timeout", "10")
    c = ssh_bg(srv, keys.default, tmp_path)
    try:
        assert srv.wait_log("result=accept", 10)
        rc, elapsed = signal_and_time(srv, sig, 15)
        assert rc == 0, srv.log()
        assert elapsed < 1.5, "an idle session should not wait for the drain: %.2f s" % elapsed
        assert wait_until(lambda: not c.alive(), 10), "ssh -N still connected"
    finally:
        c.close()


def test_signal_without_sessions(server_factory):
    srv = server_factory("--drain-timeout", "10")
    rc, elapsed = signal_and_time(srv, signal.SIGTERM, 15)
    assert rc == 0
    assert elapsed < 1.0, elapsed
    assert "stopped" in srv.log()


def test_no_new_connections_after_sigterm(server_factory, keys, tmp_path):
    srv = server_factory("--log-level", "debug", "--drain-timeout", "3")
    target = TcpServer(streaming_handler)
    fwd = ssh_local_forward(srv, keys.default, tmp_path, "127.0.0.1", target.port)
    s = socket.create_connection(("127.0.0.1", fwd.port), timeout=30)
    reader = Reader(s)
    try:
        assert wait_until(lambda: reader.count > 100000, 15)
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.wait_log("shutting down", 5)
        assert srv.proc.poll() is None, "server should still be draining"
        refused = False
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as c:
                c.settimeout(5)
                try:
                    refused = c.recv(100) == b""  # accepted by the kernel, closed unanswered
                except OSError:
                    refused = True
        except ConnectionRefusedError:
            refused = True
        assert refused, "a new connection was served during the drain"
        assert srv.log().count("connection opened") == 1
        assert srv.proc.wait(15) == 0
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
    finally:
        s.close()
        fwd.close()
        target.close()


def test_open_channel_keeps_working_during_drain(server_factory, keys, echo_server, tmp_path):
    """In-flight tunnels get the drain time: a channel opened before SIGTERM still carries a
    full request/response after it."""
    srv = server_factory("--log-level", "debug", "--drain-timeout", "5")
    fwd = ssh_local_forward(srv, keys.default, tmp_path, "127.0.0.1", echo_server.port)
    try:
        with socket.create_connection(("127.0.0.1", fwd.port), timeout=15) as s:
            assert echo_roundtrip_partial(s, b"before")
            srv.proc.send_signal(signal.SIGTERM)
            assert srv.wait_log("shutting down", 5)
            data = rand_bytes(1000000, seed=77)
            assert echo_roundtrip(s, data) == data
        assert srv.proc.wait(5 + SLACK + 5) == 0
    finally:
        fwd.close()


def echo_roundtrip_partial(sock, data):
    """Sends data and reads the same amount back, leaving the channel open."""
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        d = sock.recv(len(data) - len(got))
        if not d:
            return False
        got += d
    return got == data


def test_second_signal_cuts_drain_short(server_factory, keys, tmp_path):
    srv = server_factory("--log-level", "debug", "--drain-timeout", "30")
    target = TcpServer(streaming_handler)
    fwd = ssh_local_forward(srv, keys.default, tmp_path, "127.0.0.1", target.port)
    s = socket.create_connection(("127.0.0.1", fwd.port), timeout=30)
    reader = Reader(s)
    try:
        assert wait_until(lambda: reader.count > 100000, 15)
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.wait_log("shutting down", 5)
        assert srv.proc.poll() is None
        rc, elapsed = signal_and_time(srv, signal.SIGTERM, 10)
        assert rc == 0
        assert elapsed < 2, elapsed
    finally:
        s.close()
        fwd.close()
        target.close()
