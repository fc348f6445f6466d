"""--proxy-protocol: alknet behind a real HAProxy (Debian's haproxy, mode tcp, send-proxy and
send-proxy-v2) on loopback. The OpenSSH client connects from 127.0.0.2 (ssh -b) to HAProxy on
127.0.0.1, HAProxy connects to alknet from 127.0.0.1 and sends the header: alknet must log
and limit the client's address, not HAProxy's. A fake sender in Python feeds malformed headers
while another connection is mid-transfer."""
import os
import socket
import threading

import pytest

from conftest import (Proc, Server, free_port, listening_ports, need, rand_bytes, recv_to_eof,
                      sha256_hex, ssh_bg, wait_until)

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


class Haproxy:
    """haproxy -db with one frontend per (name, bind host, send-proxy option) in front of the
    alknet server on srv_port; .port[name] is each frontend's port."""

    def __init__(self, tmp_path, srv_port, fronts, backend_extra=()):
        exe = need("haproxy")
        self.port = {}
        lines = ["global", "    maxconn 200", "defaults", "    mode tcp",
                 "    timeout connect 5s", "    timeout client 60s", "    timeout server 60s"]
        for name, host, option in fronts:
            port = free_port(host)
            self.port[name] = port
            bind = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
            lines += ["frontend fe_%s" % name, "    bind %s" % bind,
                      "    default_backend be_%s" % name,
                      "backend be_%s" % name] + ["    " + x for x in backend_extra] + [
                      "    server alknet 127.0.0.1:%d %s" % (srv_port, option)]
        cfg = os.path.join(str(tmp_path), "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        first = next(iter(self.port.values()))
        self.proc = Proc([exe, "-f", cfg, "-db"], first,
                         os.path.join(str(tmp_path), "haproxy.log"))
        assert wait_until(lambda: set(self.port.values()) <= listening_ports(), 10)

    def stop(self):
        self.proc.stop()


@pytest.fixture
def haproxy_factory(tmp_path):
    started = []

    def make(srv, fronts, **kw):
        h = Haproxy(tmp_path, srv.port, fronts, **kw)
        started.append(h)
        return h

    yield make
    for h in started:
        h.stop()


def via(srv, port, host="127.0.0.1"):
    """The server as a client sees it through a frontend: ssh_cmd etc. go to that port."""
    return Server(srv.proc, port, srv.log_path, host)


def pp_server(server_factory, *args, versions="any"):
    return server_factory("--log-level", "debug", "--proxy-protocol", versions,
                          "--proxy-protocol-from", "127.0.0.1,::1", *args)


def forward_from(srv, port, keys, tmp_path, source, target_port, host="127.0.0.1"):
    """ssh -b source -N -L lport:127.0.0.1:target_port through the frontend on port."""
    lport = free_port()
    return ssh_bg(via(srv, port, host), keys.default, tmp_path, "-b", source,
                  "-L", "127.0.0.1:%d:127.0.0.1:%d" % (lport, target_port), listen_port=lport)


def transfer(lport, data):
    """Sends data through the forward to the SHA-256 sink and returns its answer."""
    with socket.create_connection(("127.0.0.1", lport), timeout=30) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        return recv_to_eof(s).decode().split()


@pytest.mark.parametrize("option", ["send-proxy", "send-proxy-v2"])
def test_client_address_through_haproxy(server_factory, haproxy_factory, keys, tmp_path,
                                        sink_server, option):
    srv = pp_server(server_factory)
    hap = haproxy_factory(srv, [("a", "127.0.0.1", option)])
    data = rand_bytes(200000, seed=18)
    with forward_from(srv, hap.port["a"], keys, tmp_path, "127.0.0.2", sink_server.port) as f:
        assert transfer(f.port, data) == [sha256_hex(data), str(len(data))]
    assert srv.wait_log("connection closed remote_addr=127.0.0.2", 10), srv.log()
    log = srv.log()
    assert "connection opened remote_addr=127.0.0.2 transport=tcp+proxy" in log, log
    assert "auth attempt remote_addr=127.0.0.2 user=tester" in log, log
    assert "proxy header v%s" % ("2" if option.endswith("v2") else "1") in log, log
    # HAProxy's own address shows nowhere.
    assert "remote_addr=127.0.0.1" not in log, log


def test_ipv6_client_through_haproxy(server_factory, haproxy_factory, keys, tmp_path,
                                     sink_server):
    """A client on ::1 reaches HAProxy over IPv6; HAProxy reaches alknet over IPv4 (TCP6 in
    the header): the client's IPv6 address is the one logged."""
    srv = pp_server(server_factory)
    hap = haproxy_factory(srv, [("v1", "::1", "send-proxy"), ("v2", "::1", "send-proxy-v2")])
    data = rand_bytes(5000, seed=6)
    for name in ("v1", "v2"):
        with forward_from(srv, hap.port[name], keys, tmp_path, "::1", sink_server.port,
                          host="::1") as f:
            assert transfer(f.port, data) == [sha256_hex(data), str(len(data))]
    assert srv.wait_log("connection closed remote_addr=::1", 10), srv.log()
    assert srv.log().count("connection opened remote_addr=::1 transport=tcp+proxy") == 2
    assert "remote_addr=127.0.0.1" not in srv.log()


def banner_from(port, source):
    """Connects from source to port and returns what arrives first (b"" once closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(source, 0)) as s:
        return s.recv(64)


def test_per_ip_limit_is_the_clients(server_factory, haproxy_factory, keys, tmp_path,
                                     sink_server):
    """--max-connections-per-ip 1 counts 127.0.0.2 and 127.0.0.3 apart, although every
    connection reaches alknet from HAProxy's 127.0.0.1."""
    srv = pp_server(server_factory, "--max-connections-per-ip", "1")
    hap = haproxy_factory(srv, [("a", "127.0.0.1", "send-proxy-v2")])
    port = hap.port["a"]
    with forward_from(srv, port, keys, tmp_path, "127.0.0.2", sink_server.port) as f:
        assert banner_from(port, "127.0.0.2") == b""
        assert srv.wait_log("connection refused remote_addr=127.0.0.2 "
                            "reason=max-connections-per-ip", 10), srv.log()
        assert banner_from(port, "127.0.0.3").startswith(b"SSH-2.0-alknet")
        data = rand_bytes(100, seed=2)
        assert transfer(f.port, data) == [sha256_hex(data), "100"]
    assert "remote_addr=127.0.0.1" not in srv.log()


def fake_sender(port, payload, source="127.0.0.1", close=False):
    """Connects to alknet directly (as if it were the balancer), sends payload, optionally
    half-closes, and returns what alknet sent back before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=20,
                                  source_address=(source, 0)) as s:
        if payload:
            s.sendall(payload)
        if close:
            s.shutdown(socket.SHUT_WR)
        try:
            return recv_to_eof(s)
        except ConnectionResetError:
            return b""


MALFORMED = [
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", False, "not a PROXY header"),
    ("ssh-first", b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", False, "not a PROXY header"),
    ("truncated", b"PROXY TCP4 127.0.0.2 127.0.0.1 40", True,
     "closed before the PROXY header"),
    ("v1-too-long", b"PROXY TCP4 " + b"1" * 120 + b"\r\n", False,
     "v1: no CRLF within 107 bytes"),
    ("v1-bad-address", b"PROXY TCP4 127.0.0.002 127.0.0.1 40000 22\r\n", False,
     "v1: bad address or port"),
    ("v2-bad-length", V2_SIG + b"\x21\x11\x00\x08" + bytes(8), False,
     "v2: length shorter than the addresses"),
    ("v2-too-long", V2_SIG + b"\x21\x11\xff\xff" + bytes(64), False, "v2: header too long"),
    ("v2-bad-tlv", V2_SIG + b"\x21\x11\x00\x0f" + bytes(12) + b"\x01\x00\x09", False,
     "v2: TLV longer than the header"),
]


def test_malformed_headers_dropped_others_unharmed(server_factory, haproxy_factory, keys,
                                                   tmp_path, sink_server):
    srv = pp_server(server_factory)
    hap = haproxy_factory(srv, [("a", "127.0.0.1", "send-proxy-v2")])
    data = rand_bytes(8 * 1024 * 1024, seed=99)
    with forward_from(srv, hap.port["a"], keys, tmp_path, "127.0.0.2", sink_server.port) as f:
        s = socket.create_connection(("127.0.0.1", f.port), timeout=30)
        s.sendall(data[:len(data) // 2])  # the tunnel is mid-transfer from here on
        for name, payload, close, _ in MALFORMED:
            assert fake_sender(srv.port, payload, close=close) == b"", name
        # A source not in --proxy-protocol-from, even with a valid header.
        assert fake_sender(srv.port, b"PROXY TCP4 127.0.0.9 127.0.0.1 1 22\r\n",
                           source="127.0.0.5") == b""
        s.sendall(data[len(data) // 2:])
        s.shutdown(socket.SHUT_WR)
        assert recv_to_eof(s).decode().split() == [sha256_hex(data), str(len(data))]
        s.close()
    assert srv.wait_log('remote_addr=127.0.0.5 reason="not in proxy-protocol-from"', 10)
    log = srv.log()
    for name, _, _, reason in MALFORMED:
        assert 'connection dropped remote_addr=127.0.0.1 reason="%s"' % reason in log, \
            (name, log)
    # Dropped before SSH: none of them became a session or earned anyone a penalty.
    assert "connection opened remote_addr=127.0.0.1" not in log
    assert "penalty remote_addr=127.0.0.1" not in log
    assert log.count("connection opened") == 1, log


def test_header_must_come_in_time(server_factory):
    """A sender that opens and says nothing is dropped at the bound (the login grace time
    here, 1 s, being shorter than 5 s)."""
    srv = pp_server(server_factory, "--login-grace-time", "1")
    assert fake_sender(srv.port, b"PROXY TCP4 127.0.0.2") == b""
    assert srv.wait_log('remote_addr=127.0.0.1 reason="no PROXY header in time"', 10)


def test_only_the_configured_version(server_factory, haproxy_factory, keys, tmp_path,
                                     sink_server):
    """--proxy-protocol v1 behind send-proxy-v2 (a misconfiguration): refused and said why."""
    srv = pp_server(server_factory, versions="v1")
    hap = haproxy_factory(srv, [("a", "127.0.0.1", "send-proxy-v2")])
    assert banner_from(hap.port["a"], "127.0.0.2") == b""
    assert srv.wait_log('remote_addr=127.0.0.1 reason="v2 header, only v1 accepted"', 10)


def test_needs_from(server_factory, keys, tmp_path):
    import subprocess
    from conftest import ALKNET
    r = subprocess.run([ALKNET, "serve", "--key", keys.host, "--authorized-keys",
                        keys.authorized, "--proxy-protocol", "any", "--check"],
                       capture_output=True, timeout=20)
    assert r.returncode != 0
    assert b"proxy-protocol: needs proxy-protocol-from" in r.stderr + r.stdout


def test_sender_waiting_does_not_block_others(server_factory, haproxy_factory, keys,
                                              tmp_path, sink_server):
    """Senders stuck before their header (a slow or broken balancer) hold no one up."""
    srv = pp_server(server_factory)
    hap = haproxy_factory(srv, [("a", "127.0.0.1", "send-proxy")])
    stuck = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(5)]
    for s in stuck:
        s.sendall(b"PROXY TCP4 ")
    data = rand_bytes(200000, seed=5)
    try:
        with forward_from(srv, hap.port["a"], keys, tmp_path, "127.0.0.2",
                          sink_server.port) as f:
            assert transfer(f.port, data) == [sha256_hex(data), str(len(data))]
    finally:
        for s in stuck:
            s.close()
    assert srv.wait_log('reason="closed before the PROXY header"', 10)


def test_health_checks_do_not_penalise_the_balancer(server_factory, haproxy_factory, keys,
                                                    tmp_path, sink_server):
    """HAProxy's health checks (v2 LOCAL, then the SSH banner, then a close) end without a
    login; were they penalised like clients, the balancer would be refused after a few and
    every client behind it with it."""
    srv = pp_server(server_factory)
    hap = haproxy_factory(srv, [("a", "127.0.0.1", "send-proxy-v2 check inter 100ms")],
                          backend_extra=["option tcp-check", "tcp-check expect rstring ^SSH-2"])
    # More checks than the default penalty's min (15 noauth seconds) needs.
    assert wait_until(lambda: srv.log().count("proxy header v2 local") >= 25, 30), srv.log()
    data = rand_bytes(5000, seed=25)
    with forward_from(srv, hap.port["a"], keys, tmp_path, "127.0.0.2", sink_server.port) as f:
        assert transfer(f.port, data) == [sha256_hex(data), str(len(data))]
    assert "reason=penalty" not in srv.log()
    assert "penalty remote_addr=127.0.0.1" not in srv.log()


def test_reload_switches_proxy_protocol(server_factory, keys, tmp_path):
    """--proxy-protocol and its senders come from the configuration file like the rest: a
    reload turns it on for new connections, and a bad list keeps the old configuration."""
    import signal
    d = tmp_path / "etc"
    d.mkdir(mode=0o700)
    conf = d / "alknet.conf"
    conf.write_text("log-level debug\n")
    os.chmod(conf, 0o644)
    srv = server_factory("--config", str(conf))

    def hup(count):
        srv.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: srv.log().count("reload ok") +
                          srv.log().count("reload failed") >= count, 10), srv.log()

    assert banner_from(srv.port, "127.0.0.1").startswith(b"SSH-2.0-alknet")
    conf.write_text("log-level debug\nproxy-protocol v1\nproxy-protocol-from 127.0.0.1/8\n")
    hup(1)
    assert "reload failed: %s:3: proxy-protocol-from: " % conf in srv.log(), srv.log()
    conf.write_text("log-level debug\nproxy-protocol v1\nproxy-protocol-from 127.0.0.1\n")
    hup(2)
    assert "reload ok" in srv.log(), srv.log()
    # A plain SSH client is now refused (it speaks first, as OpenSSH does).
    assert fake_sender(srv.port, b"SSH-2.0-OpenSSH_9.2p1\r\n") == b""
    assert srv.wait_log('remote_addr=127.0.0.1 reason="not a PROXY header"', 10)
    assert fake_sender(srv.port, b"PROXY TCP4 127.0.0.7 127.0.0.1 1 2\r\n",
                       close=True).startswith(b"SSH-2.0-alknet")
    assert srv.wait_log("connection opened remote_addr=127.0.0.7 transport=tcp+proxy", 10)


@pytest.mark.parametrize("stealth", [False, True])
def test_tls_behind_haproxy(server_factory, haproxy_factory, keys, tmp_path, echo_server,
                            stealth):
    """TLS (and --stealth) over the PROXY header: HAProxy sends the header, then the client's
    TLS bytes; the server sees the client's address and tunnels intact."""
    from test_tls import make_cert
    d = tmp_path / "tls"
    d.mkdir(mode=0o700)
    cert, key = make_cert(str(d), "server")
    srv = pp_server(server_factory, "--transport", "tls", "--tls-cert", cert, "--tls-key", key,
                    *(["--stealth"] if stealth else []))
    hap = haproxy_factory(srv, [("t", "127.0.0.1", "send-proxy-v2")])
    from test_tls import login_over_tls
    t = login_over_tls(hap.port["t"], keys, source="127.0.0.2")
    ch = t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 1))
    data = rand_bytes(100000, seed=5)
    ch.sendall(data)
    got = b""
    while len(got) < len(data):
        got += ch.recv(len(data) - len(got))
    assert got == data
    t.close()
    log = srv.log()
    assert "connection opened remote_addr=127.0.0.2 transport=tls" in log, log
    assert "remote_addr=127.0.0.1" not in log, log
