"""Abuse limits: --max-auth-attempts, --max-connections-per-ip, --login-grace-time."""
import os
import socket
import subprocess
import time

import paramiko
import pytest

from conftest import keygen, rand_bytes, ssh_local_forward, echo_roundtrip, wait_until

SSH_TIMEOUT = 30


@pytest.fixture(scope="module")
def wrong_keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("wrongkeys")
    return [keygen(os.path.join(str(d), "wrong%d" % i), ["-t", "ed25519"]) for i in range(5)]


def ssh_w_keys(srv, key_list, port, data=b"", user="tester"):
    extra = []
    for k in key_list[1:]:
        extra += ["-i", k]
    cmd = srv.ssh_cmd(key_list[0], *extra, "-W", "127.0.0.1:%d" % port, user=user)
    cmd = [("LogLevel=INFO" if a == "LogLevel=ERROR" else a) for a in cmd]
    return subprocess.run(cmd, input=data, capture_output=True, timeout=SSH_TIMEOUT)


# ------------------------------------------------------------------------ max-auth-attempts

def test_max_auth_attempts_disconnects(server_factory, wrong_keys, echo_server):
    srv = server_factory("--log-level", "debug", "--max-auth-attempts", "3")
    r = ssh_w_keys(srv, wrong_keys, echo_server.port, b"x", user="guesser")
    assert r.returncode == 255
    err = r.stderr.decode(errors="replace")
    assert "too many authentication failures" in err.lower(), err
    assert srv.wait_log("too many auth failures remote_addr=127.0.0.1", 5), srv.log()
    # Exactly three keys were tried; the 4th and 5th never got an answer.
    assert srv.log().count("user=guesser key_fingerprint=") == 3, srv.log()
    assert echo_server.accepted == 0
    assert srv.wait_log("connection closed remote_addr=127.0.0.1", 5)


def test_failures_below_the_limit_still_allow_login(server_factory, keys, wrong_keys,
                                                   echo_server):
    srv = server_factory("--log-level", "debug", "--max-auth-attempts", "3")
    r = ssh_w_keys(srv, wrong_keys[:2] + [keys.default], echo_server.port, b"late but fine")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"late but fine"
    assert srv.log().count("result=reject") == 2
    assert "too many auth failures" not in srv.log()


def test_max_auth_attempts_counts_per_connection(server_factory, keys, wrong_keys, echo_server):
    """Failures on one connection don't count against the next one."""
    srv = server_factory("--log-level", "debug", "--max-auth-attempts", "3")
    for _ in range(2):
        r = ssh_w_keys(srv, wrong_keys[:2] + [keys.default], echo_server.port, b"again")
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"again"


# ------------------------------------------------------------------- max-connections-per-ip

def test_max_connections_per_ip(server_factory, keys, echo_server, tmp_path):
    srv = server_factory("--log-level", "debug", "--max-connections-per-ip", "2")
    first = ssh_local_forward(srv, keys.default, tmp_path, "127.0.0.1", echo_server.port)
    second = ssh_local_forward(srv, keys.default, tmp_path, "127.0.0.1", echo_server.port)
    try:
        assert srv.log().count("connection opened") == 2
        r = subprocess.run(srv.ssh_cmd(keys.default, "-W", "127.0.0.1:%d" % echo_server.port),
                           input=b"third", capture_output=True, timeout=SSH_TIMEOUT)
        assert r.returncode == 255, r.stderr
        assert r.stdout == b""
        assert srv.wait_log("connection refused remote_addr=127.0.0.1 "
                            "reason=max-connections-per-ip", 5), srv.log()
        # The refused connection never got a session.
        assert srv.log().count("connection opened") == 2
        # A raw connection is refused too, without an SSH banner.
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.settimeout(10)
            try:
                assert s.recv(100) == b""
            except ConnectionResetError:
                pass
        # The first two keep working.
        for fwd in (first, second):
            data = rand_bytes(100000, seed=fwd.port)
            with socket.create_connection(("127.0.0.1", fwd.port), timeout=15) as s:
                assert echo_roundtrip(s, data) == data
            assert fwd.alive()
        # Once one of them leaves, a new connection is accepted again.
        first.close()
        assert srv.wait_log("connection closed", 10)
        r = subprocess.run(srv.ssh_cmd(keys.default, "-W", "127.0.0.1:%d" % echo_server.port),
                           input=b"fourth", capture_output=True, timeout=SSH_TIMEOUT)
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"fourth"
    finally:
        first.close()
        second.close()


# ------------------------------------------------------------------------- login-grace-time

def read_until_closed(sock, timeout):
    """Reads until EOF/reset; returns the time it happened, or None on timeout."""
    sock.settimeout(0.2)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if sock.recv(65536) == b"":
                return time.time()
        except socket.timeout:
            continue
        except OSError:
            return time.time()
    return None


def test_login_grace_time_drops_banner_only_client(server_factory, keys, echo_server,
                                                   tmp_path):
    srv = server_factory("--log-level", "debug", "--login-grace-time", "2")
    # An authenticated session opened before the idle one must outlive the grace time.
    fwd = ssh_local_forward(srv, keys.default, tmp_path, "127.0.0.1", echo_server.port)
    try:
        t0 = time.time()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(b"SSH-2.0-OpenSSH_9.2 idle\r\n")
            closed_at = read_until_closed(s, 8)
        assert closed_at is not None, "connection not dropped within 8 s"
        assert 1.5 <= closed_at - t0 <= 5.0, closed_at - t0
        assert srv.wait_log("login grace time exceeded remote_addr=127.0.0.1", 5), srv.log()
        assert srv.log().count("login grace time exceeded remote_addr=") == 1
        data = rand_bytes(50000, seed=3)
        with socket.create_connection(("127.0.0.1", fwd.port), timeout=15) as c:
            assert echo_roundtrip(c, data) == data
        assert fwd.alive()
    finally:
        fwd.close()


def test_login_grace_time_after_key_exchange(server_factory):
    """A client that finishes the key exchange but never authenticates is dropped too."""
    srv = server_factory("--log-level", "debug", "--login-grace-time", "2")
    t0 = time.time()
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    t = paramiko.Transport(sock)
    try:
        t.start_client(timeout=10)
        assert wait_until(lambda: not t.is_active(), 8, 0.05), "not dropped within 8 s"
        elapsed = time.time() - t0
        assert 1.5 <= elapsed <= 5.0, elapsed
    finally:
        t.close()
    assert srv.wait_log("login grace time exceeded remote_addr=127.0.0.1", 5), srv.log()
