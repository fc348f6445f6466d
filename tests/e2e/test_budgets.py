"""Budgets (issue 13): channels per session, per key over all its sessions, connects in
progress, the process's file descriptors, and unauthenticated connections in all and per
source. Opens over a budget get RESOURCE_SHORTAGE (4) and touch nobody else; a new client
still logs in while one user holds its maximum or a flood of idle connections runs."""
import socket
import time

import paramiko
import pytest

from conftest import echo_roundtrip, keygen, paramiko_transport, rand_bytes, wait_until

SHORTAGE = 4


@pytest.fixture(scope="module")
def two_users(tmp_path_factory):
    d = tmp_path_factory.mktemp("two_users")
    a = keygen(str(d / "alice"), ["-t", "ed25519"])
    b = keygen(str(d / "bob"), ["-t", "ed25519"])
    auth = d / "authorized_keys"
    auth.write_text(open(a + ".pub").read() + open(b + ".pub").read())
    return a, b, str(auth)


def login(srv, key):
    t = paramiko_transport(srv)
    t.auth_publickey("tester", paramiko.Ed25519Key.from_private_key_file(key))
    return t


def open_or_code(t, port, host="127.0.0.1", timeout=10):
    """A channel, or the failure reason code (int) of its refusal."""
    try:
        return t.open_channel("direct-tcpip", (host, port), ("127.0.0.1", 1), timeout=timeout)
    except paramiko.ChannelException as e:
        return e.code


def works(t, port):
    ch = open_or_code(t, port)
    if isinstance(ch, int):
        return False
    data = rand_bytes(5000, 3)
    ok = echo_roundtrip(ch, data) == data
    ch.close()
    return ok


def test_max_channels_per_session(server_factory, keys, echo_server):
    srv = server_factory("--max-channels", "5")
    t = login(srv, keys.default)
    chans = [open_or_code(t, echo_server.port) for _ in range(5)]
    assert all(not isinstance(c, int) for c in chans), chans
    assert open_or_code(t, echo_server.port) == SHORTAGE
    chans[0].close()
    assert wait_until(lambda: works(t, echo_server.port), 5)  # room again once one is gone
    t2 = login(srv, keys.default)  # another session has its own five
    assert works(t2, echo_server.port)
    t.close()
    t2.close()


def test_max_channels_per_user_spares_other_users(server_factory, keys, echo_server,
                                                  two_users):
    alice, bob, auth = two_users
    srv = server_factory("--max-channels-per-user", "10", authorized=auth)
    a1, a2 = login(srv, alice), login(srv, alice)
    held = [open_or_code(a1, echo_server.port) for _ in range(6)]
    held += [open_or_code(a2, echo_server.port) for _ in range(4)]
    assert all(not isinstance(c, int) for c in held), held
    assert open_or_code(a1, echo_server.port) == SHORTAGE
    assert open_or_code(a2, echo_server.port) == SHORTAGE
    b = login(srv, bob)
    assert all(works(b, echo_server.port) for _ in range(3))
    for t in (a1, a2, b):
        t.close()


def test_max_pending_connects(server_factory, keys, echo_server):
    """A target that never answers the SYN (a listener whose accept queue is full): only 3
    connects may be in progress per session; a fourth is refused, while the session's other
    channels and other sessions go on."""
    import threading
    hole = socket.socket()
    hole.bind(("127.0.0.2", 0))
    hole.listen(0)
    port = hole.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the accept queue, so that later SYNs are dropped
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.2", port))
        fillers.append(f)
    time.sleep(0.2)
    srv = server_factory("--max-pending-connects", "3", "--connect-timeout", "20")
    t = login(srv, keys.default)
    codes = []

    def opener():  # paramiko's open_channel waits for the answer
        try:
            codes.append(open_or_code(t, port, host="127.0.0.2", timeout=30))
        except (paramiko.SSHException, EOFError, OSError):
            pass  # the transport closed at the end of the test

    threads = [threading.Thread(target=opener, daemon=True) for _ in range(3)]
    for th in threads:
        th.start()
    time.sleep(1)
    assert codes == [], codes  # all three still connecting
    assert open_or_code(t, port, host="127.0.0.2", timeout=10) == SHORTAGE
    assert open_or_code(t, echo_server.port) == SHORTAGE  # any open, while 3 are pending
    t2 = login(srv, keys.default)
    assert works(t2, echo_server.port)
    t.close()
    t2.close()
    for f in fillers:
        f.close()
    hole.close()


def test_descriptor_reserve_keeps_logins_working(server_factory, keys, echo_server,
                                                 two_users):
    """With 400 descriptors in all, one user holds its 150 channels, another still opens
    channels, and once channels have used everything but the reserve, opens are refused
    with RESOURCE_SHORTAGE while a new client still logs in and the held tunnels work;
    closing channels makes room again."""
    alice, bob, auth = two_users
    srv = server_factory("--max-channels-per-user", "150", "--max-startups", "20",
                         authorized=auth, wrapper=["prlimit", "--nofile=400:400"])
    a = login(srv, alice)
    held = [open_or_code(a, echo_server.port) for _ in range(150)]
    assert all(not isinstance(c, int) for c in held)
    assert open_or_code(a, echo_server.port) == SHORTAGE
    b = login(srv, bob)
    more, code = [], None
    for _ in range(300):
        c = open_or_code(b, echo_server.port)
        if isinstance(c, int):
            code = c
            break
        more.append(c)
    assert code == SHORTAGE and len(more) >= 20, (code, len(more))
    newcomer = login(srv, bob)  # the reserve: accepting and logging in still work
    assert newcomer.is_authenticated()
    data = rand_bytes(1000, 5)
    assert echo_roundtrip(held[0], data) == data
    for c in more[:10]:
        c.close()
    assert wait_until(lambda: works(newcomer, echo_server.port), 5)
    for t in (a, b, newcomer):
        t.close()


def idle(n, src="127.0.0.2", port=None):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def dropped(s, timeout=3):
    """True when the server closed s without a banner."""
    s.settimeout(timeout)
    try:
        return s.recv(100) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def test_max_startups_refuses_beyond_the_cap(server_factory, keys, echo_server):
    srv = server_factory("--max-startups", "5", "--per-source-max-startups", "0")
    t0 = login(srv, keys.default)  # logged in before the cap is reached: not a startup
    socks = idle(5, port=srv.port)
    assert wait_until(lambda: srv.log().count("connection opened") >= 6, 5)
    extra = idle(1, port=srv.port)[0]
    assert dropped(extra)
    assert srv.wait_log("connection refused remote_addr=127.0.0.2 reason=max-startups", 5)
    assert all(works(t0, echo_server.port) for _ in range(3))  # the user keeps tunnelling
    t0.close()
    socks[0].close()
    assert wait_until(lambda: srv.log().count("connection closed") >= 1, 5)
    t = login(srv, keys.default)  # room again
    assert works(t, echo_server.port)
    t.close()
    for s in socks[1:] + [extra]:
        s.close()


def test_idle_flood_from_one_source_leaves_room_for_others(server_factory, keys,
                                                           echo_server):
    """2,000 idle TCP connections from 127.0.0.2: only --per-source-max-startups (10) are
    kept, the rest are closed at once without a log line each; a client from 127.0.0.1 logs
    in and tunnels meanwhile."""
    srv = server_factory()
    socks = idle(2000, port=srv.port)
    assert wait_until(lambda: srv.log().count("connection opened") >= 10, 5)
    held = sum(1 for s in socks[:50] if not dropped(s, timeout=0.05))
    assert held <= 10, held
    t = login(srv, keys.default)
    assert works(t, echo_server.port)
    log = srv.log()
    assert log.count("connection opened") <= 11, log.count("connection opened")
    assert log.count("reason=per-source-max-startups") < 10  # rate-limited, with a count
    t.close()
    for s in socks:
        s.close()
