"""The server log never names a tunnel destination (host, port, resolved address), never
carries a channel-failure description, and never logs byte counts, at --log-level debug."""
import re
import socket
import subprocess

import pytest

from conftest import (HttpTarget, TcpServer, closed_port, echo_handler, echo_roundtrip,
                      rand_bytes, recv_to_eof, sha256_hex, sha256_sink_handler, socks5_channel_fails,
                      socks5_connect, ssh_cmd_info, ssh_dynamic_forward, ssh_local_forward,
                      start_server)

SSH_TIMEOUT = 30
# Transfer sizes chosen to be unmistakable in a log line.
SIZE_W = 123457
SIZE_V6 = 98767
SIZE_L = 1234567
SIZE_SOCKS = 77777
SIZE_HTTP = 54321
RESERVED = "alknet-secretname"
UNRESOLVED = "nonexistent-xyzzy.invalid"


def number_in(log, n):
    return re.search(r"(?<![0-9])%d(?![0-9])" % n, log) is not None


@pytest.fixture(scope="module")
def mixed_run(keys, tmp_path_factory):
    """One server at --log-level debug through a mix of tunnels; returns (log, target ports)."""
    tmp_path = tmp_path_factory.mktemp("logs")
    server = start_server(keys, tmp_path, "--log-level", "debug")
    try:
        ports = run_mix(server, keys, tmp_path)
    finally:
        server.stop()
    log = server.log()
    assert "result=accept" in log and "stopped" in log  # the log did record the run
    return log, ports


def run_mix(server, keys, tmp_path):
    echo4 = TcpServer(echo_handler)
    echo6 = TcpServer(echo_handler, host="::1")
    sink = TcpServer(sha256_sink_handler)
    http = HttpTarget(body=rand_bytes(SIZE_HTTP // 2 + 1, seed=5).hex().encode()[:SIZE_HTTP])
    refused = closed_port()
    reserved_port = closed_port()
    unresolved_port = closed_port()
    dest_ports = [echo4.port, echo6.port, sink.port, http.port, refused, reserved_port,
                  unresolved_port]
    assert server.port not in dest_ports
    try:
        # ssh -W, IPv4, then IPv6.
        data = rand_bytes(SIZE_W, seed=1)
        r = subprocess.run(server.ssh_cmd(keys.default, "-W", "127.0.0.1:%d" % echo4.port),
                           input=data, capture_output=True, timeout=SSH_TIMEOUT)
        assert r.returncode == 0 and r.stdout == data, r.stderr
        data = rand_bytes(SIZE_V6, seed=2)
        r = subprocess.run(server.ssh_cmd(keys.default, "-W", "[::1]:%d" % echo6.port),
                           input=data, capture_output=True, timeout=SSH_TIMEOUT)
        assert r.returncode == 0 and r.stdout == data, r.stderr
        # Failing -W channels: refused, reserved, unresolvable.
        for target, expect in (("127.0.0.1:%d" % refused, b"connection refused"),
                               ("%s:%d" % (RESERVED, reserved_port), b"prohibited"),
                               ("%s:%d" % (UNRESOLVED, unresolved_port), b"not resolved")):
            r = subprocess.run(ssh_cmd_info(server, keys.default, "-W", target), input=b"",
                               capture_output=True, timeout=SSH_TIMEOUT)
            assert r.returncode != 0 and expect in r.stderr, r.stderr
        # ssh -L with a half-close to the sink.
        with ssh_local_forward(server, keys.default, tmp_path, "127.0.0.1", sink.port) as fwd:
            data = rand_bytes(SIZE_L, seed=3)
            with socket.create_connection(("127.0.0.1", fwd.port), timeout=30) as s:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                reply = recv_to_eof(s)
            assert reply.decode().split() == [sha256_hex(data), str(SIZE_L)]
        # ssh -D: curl by name (localhost), SOCKS5 by IPv6 address, and failures by name.
        with ssh_dynamic_forward(server, keys.default, tmp_path) as fwd:
            r = subprocess.run(["curl", "-sS", "--max-time", "20", "--socks5-hostname",
                                "127.0.0.1:%d" % fwd.port, "http://localhost:%d/" % http.port],
                               capture_output=True, timeout=SSH_TIMEOUT)
            assert r.returncode == 0 and r.stdout == http.body, r.stderr
            data = rand_bytes(SIZE_SOCKS, seed=4)
            with socks5_connect(fwd.port, "::1", echo6.port) as s:
                assert echo_roundtrip(s, data) == data
            assert socks5_channel_fails(fwd.port, UNRESOLVED, unresolved_port)
            assert socks5_channel_fails(fwd.port, RESERVED.upper(), reserved_port)
            assert socks5_channel_fails(fwd.port, "localhost", refused)
    finally:
        echo4.close()
        echo6.close()
        sink.close()
        http.close()
    return dest_ports


def test_no_destination_names_or_addresses(mixed_run):
    log, _ = mixed_run
    low = log.lower()
    for name in ("localhost", UNRESOLVED, "xyzzy", RESERVED, "secretname", "::1", "[::1]",
                 "0:0:0:0:0:0:0:1"):
        assert name.lower() not in low, "destination %r in the log:\n%s" % (name, log)


def test_no_destination_ports(mixed_run):
    log, dest_ports = mixed_run
    for port in dest_ports:
        assert not number_in(log, port), "target port %d in the log:\n%s" % (port, log)


def test_no_byte_counts(mixed_run):
    log, _ = mixed_run
    for size in (SIZE_W, SIZE_V6, SIZE_L, SIZE_SOCKS, SIZE_HTTP, 2 * SIZE_W, 2 * SIZE_L):
        assert not number_in(log, size), "byte count %d in the log:\n%s" % (size, log)
    assert not re.search(r"\bbytes?[=_:]|\b(rx|tx|sent|received)=\d", log), log


def test_no_channel_failure_descriptions(mixed_run):
    """The issue: never log 'a channel-failure description', at any log level."""
    log, _ = mixed_run
    low = log.lower()
    for description in ("connection refused", "name not resolved", "reserved destination",
                        "ECONNREFUSED", "EAI_", "Name or service not known"):
        assert description.lower() not in low, "failure description %r in the log:\n%s" % (
            description, log)
