"""Per-source penalties (issue 14; OpenSSH PerSourcePenalties): connections that fail auth,
make no auth attempt, or run out of grace time earn their source block refusal at accept
(reason=penalty), while clients from other sources log in and tunnel. Exempt sources, `off`
and the lapse of a penalty. 127.0.0.2 and up are the offending sources, 127.0.0.1 the
legitimate user."""
import os
import socket
import time

import paramiko
import pytest

from conftest import keygen, paramiko_transport, rand_bytes, echo_roundtrip, wait_until


@pytest.fixture(scope="module")
def wrong_key(tmp_path_factory):
    d = tmp_path_factory.mktemp("penalty")
    return keygen(os.path.join(str(d), "wrong"), ["-t", "ed25519"])


def closed_count(srv, src):
    return srv.log().count("connection closed remote_addr=%s " % src)


def failed_login(srv, src, key):
    """One connection from src that tries a key the server doesn't know and gives up."""
    before = closed_count(srv, src)
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10,
                                    source_address=(src, 0))
    t = paramiko.Transport(sock)
    t.banner_timeout = t.auth_timeout = 10
    t.start_client(timeout=10)
    with pytest.raises(paramiko.AuthenticationException):
        t.auth_publickey("tester", paramiko.Ed25519Key.from_private_key_file(key))
    t.close()
    assert wait_until(lambda: closed_count(srv, src) > before, 10), srv.log()


def admitted(srv, src, timeout=5):
    """True when a connection from src gets the server's banner, False when it is closed at
    once (refused at accept). An admitted one is closed, and the server's close awaited, so
    that the next failed_login waits for its own."""
    before = closed_count(srv, src)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10,
                                  source_address=(src, 0)) as s:
        s.settimeout(timeout)
        try:
            data = s.recv(100)
        except OSError:
            return False
    if not data.startswith(b"SSH-2.0-"):
        return False
    assert wait_until(lambda: closed_count(srv, src) > before, 10), srv.log()
    return True


def user_tunnels(srv, keys, echo_server):
    t = paramiko_transport(srv)
    t.auth_publickey("tester", paramiko.Ed25519Key.from_private_key_file(keys.default))
    ch = t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 1))
    data = rand_bytes(20000, 5)
    ok = echo_roundtrip(ch, data) == data
    t.close()
    return ok


def test_failed_logins_refuse_the_source_not_others(server_factory, keys, wrong_key,
                                                   echo_server):
    # Penalties lapse as time passes: 30 s, then 1 s for the no-auth probe below, then 30 s
    # reach min 45 unless the three connections took over 16 s (an ASan build is slow).
    srv = server_factory("--log-level", "debug", "--per-source-penalty",
                         "authfail:30,min:45,max:120")
    failed_login(srv, "127.0.0.2", wrong_key)
    assert admitted(srv, "127.0.0.2")  # 30 s earned, below min: still admitted
    failed_login(srv, "127.0.0.2", wrong_key)
    assert srv.wait_log("penalty remote_addr=127.0.0.2 reason=authfail", 5)
    assert not admitted(srv, "127.0.0.2")
    assert srv.wait_log("connection refused remote_addr=127.0.0.2 reason=penalty", 5), srv.log()
    # The refused connection got no session.
    assert srv.log().count("connection opened remote_addr=127.0.0.2") == 3
    # Meanwhile the legitimate user logs in and tunnels.
    assert user_tunnels(srv, keys, echo_server)
    assert not admitted(srv, "127.0.0.2")


def test_exempt_source_is_never_refused(server_factory, wrong_key):
    srv = server_factory("--log-level", "debug", "--per-source-penalty", "authfail:10,min:10",
                         "--per-source-penalty-exempt", "10.0.0.0/8, 127.0.0.3,::1")
    for _ in range(3):
        failed_login(srv, "127.0.0.3", wrong_key)
    assert admitted(srv, "127.0.0.3")
    failed_login(srv, "127.0.0.2", wrong_key)  # not exempt
    assert not admitted(srv, "127.0.0.2")
    assert "reason=penalty" in srv.log()


def test_off_disables(server_factory, wrong_key):
    srv = server_factory("--log-level", "debug", "--per-source-penalty", "off")
    for _ in range(4):
        failed_login(srv, "127.0.0.2", wrong_key)
    for i in range(20):  # no-auth connections too
        with socket.create_connection(("127.0.0.1", srv.port), source_address=("127.0.0.2", 0)):
            pass
        assert wait_until(lambda: closed_count(srv, "127.0.0.2") == 5 + i, 10)
    assert admitted(srv, "127.0.0.2")
    assert "penalty" not in srv.log()


def test_penalty_lapses(server_factory, wrong_key):
    srv = server_factory("--log-level", "debug", "--per-source-penalty", "authfail:2,min:2,max:2")
    failed_login(srv, "127.0.0.2", wrong_key)
    assert not admitted(srv, "127.0.0.2")
    # Within a generous bound the source may connect again.
    assert wait_until(lambda: admitted(srv, "127.0.0.2"), 15, interval=0.3)


def test_noauth_connections_are_penalised(server_factory, keys, echo_server):
    """Connections that close without an auth attempt (a scanner's) earn noauth."""
    # 3 x 20 s reach min 40 unless the connections took over 20 s (penalties lapse meanwhile).
    srv = server_factory("--log-level", "debug", "--per-source-penalty", "noauth:20,min:40")
    for i in range(3):
        with socket.create_connection(("127.0.0.1", srv.port), source_address=("127.0.0.4", 0)):
            pass
        assert wait_until(lambda: closed_count(srv, "127.0.0.4") == i + 1, 10)
    assert not admitted(srv, "127.0.0.4")
    assert srv.wait_log("connection refused remote_addr=127.0.0.4 reason=penalty", 5)
    assert user_tunnels(srv, keys, echo_server)


def test_grace_exceeded_is_penalised(server_factory, keys, echo_server):
    """--unauth-timeout (alias of --login-grace-time) runs out: grace-exceeded."""
    srv = server_factory("--log-level", "debug", "--unauth-timeout", "1",
                         "--per-source-penalty", "grace-exceeded:5,min:5")
    s = socket.create_connection(("127.0.0.1", srv.port), source_address=("127.0.0.5", 0))
    assert srv.wait_log("login grace time exceeded remote_addr=127.0.0.5", 10)
    assert srv.wait_log("penalty remote_addr=127.0.0.5 reason=grace-exceeded", 5)
    s.close()
    assert not admitted(srv, "127.0.0.5")
    assert user_tunnels(srv, keys, echo_server)


def test_source_prefix_groups_addresses(server_factory, wrong_key):
    """--per-source-prefix 24: a penalty earned by 127.0.0.2 covers 127.0.0.7 too."""
    srv = server_factory("--log-level", "debug", "--per-source-penalty", "authfail:10,min:10",
                         "--per-source-prefix", "24:64")
    failed_login(srv, "127.0.0.2", wrong_key)
    assert not admitted(srv, "127.0.0.7")
    assert srv.wait_log("connection refused remote_addr=127.0.0.7 reason=penalty", 5)


def test_default_prefix_keeps_addresses_apart(server_factory, wrong_key):
    """Default 32:64 with the default spec (authfail:5, min:15): failures from 127.0.0.2
    refuse it once 15 s are earned (three at the very least, four unless they took no time:
    penalties lapse meanwhile), and 127.0.0.6 is still admitted."""
    srv = server_factory("--log-level", "debug")
    fails = 0
    while fails < 8 and admitted(srv, "127.0.0.2", timeout=5):
        failed_login(srv, "127.0.0.2", wrong_key)
        fails += 1
    assert 3 <= fails < 8, fails
    assert not admitted(srv, "127.0.0.2")
    assert admitted(srv, "127.0.0.6")


def test_per_source_startups_uses_the_prefix(server_factory):
    """--per-source-max-startups counts per block of --per-source-prefix."""
    srv = server_factory("--per-source-max-startups", "2", "--per-source-prefix", "24",
                         "--per-source-penalty", "off")
    held = [socket.create_connection(("127.0.0.1", srv.port), source_address=(a, 0))
            for a in ("127.0.0.2", "127.0.0.3")]
    assert wait_until(lambda: srv.log().count("connection opened") == 2, 5)
    assert not admitted(srv, "127.0.0.4")
    assert srv.wait_log("reason=per-source-max-startups", 5)
    for s in held:
        s.close()
