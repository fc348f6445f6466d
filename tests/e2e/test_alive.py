"""Dead peers, idle tunnels and the window (issue 14): --client-alive-interval and
--client-alive-count-max drop a client that stopped answering while live ones (idle or busy)
stay; --channel-idle-timeout closes a tunnel without traffic and keeps the session and its
busy tunnels; --window-size is the window a client is granted, and a bulk transfer through
a small one arrives intact."""
import hashlib
import os
import signal
import socket
import subprocess
import time

import paramiko

from conftest import (echo_roundtrip, free_port, paramiko_transport, rand_bytes, ssh_bg,
                      ssh_local_forward, wait_listening, wait_until)

DROPPED = 'connection dropped remote_addr=127.0.0.1 reason="client not responding"'


def tunnel_works(port, n=5000, seed=1):
    data = rand_bytes(n, seed)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(10)
        return echo_roundtrip(s, data) == data


def cont(p):
    if p.proc.poll() is None:
        os.kill(p.proc.pid, signal.SIGCONT)


def login(srv, key):
    t = paramiko_transport(srv)
    t.auth_publickey("tester", paramiko.Ed25519Key.from_private_key_file(key))
    return t


# ------------------------------------------------------------------- client alive probes

def test_stopped_client_dropped_live_clients_kept(server_factory, keys, echo_server, tmp_path):
    """SIGSTOP an ssh client: the kernel still ACKs, but nothing answers the probes, so it is
    dropped after the probes of --client-alive-count-max went unanswered. Meanwhile one client
    keeps tunnelling and one sits idle; both answer the probes and stay."""
    srv = server_factory("--log-level", "debug", "--client-alive-interval", "1",
                         "--client-alive-count-max", "2")
    stopped = ssh_local_forward(srv, keys.default, tmp_path, "127.0.0.1", echo_server.port)
    idle = ssh_local_forward(srv, keys.default, tmp_path, "127.0.0.1", echo_server.port)
    busy = ssh_local_forward(srv, keys.default, tmp_path, "127.0.0.1", echo_server.port)
    try:
        assert wait_until(lambda: srv.log().count("result=accept") == 3, 10), srv.log()
        assert tunnel_works(stopped.port)
        os.kill(stopped.proc.pid, signal.SIGSTOP)
        deadline = time.time() + 30
        rounds = 0
        while DROPPED not in srv.log() and time.time() < deadline:
            assert tunnel_works(busy.port, seed=rounds), "the busy tunnel broke"
            rounds += 1
            time.sleep(0.2)
        assert DROPPED in srv.log(), srv.log()
        # As long again as the drop took: the idle client answers its probes, nobody else
        # is dropped.
        time.sleep(4)
        assert srv.log().count(DROPPED) == 1, srv.log()
        assert idle.alive() and busy.alive()
        assert tunnel_works(idle.port) and tunnel_works(busy.port)
        # The stopped client, woken up, finds its connection gone.
        os.kill(stopped.proc.pid, signal.SIGCONT)
        assert wait_until(lambda: not stopped.alive(), 15), stopped.stderr()
    finally:
        cont(stopped)
        for p in (stopped, idle, busy):
            p.close()


def test_client_alive_off(server_factory, keys, echo_server, tmp_path):
    """--client-alive-interval 0: a stopped client is not probed or dropped."""
    srv = server_factory("--log-level", "debug", "--client-alive-interval", "0")
    stopped = ssh_local_forward(srv, keys.default, tmp_path, "127.0.0.1", echo_server.port)
    try:
        os.kill(stopped.proc.pid, signal.SIGSTOP)
        time.sleep(3)
        assert "client not responding" not in srv.log()
        os.kill(stopped.proc.pid, signal.SIGCONT)
        assert tunnel_works(stopped.port)
    finally:
        cont(stopped)
        stopped.close()


# ------------------------------------------------------------------ channel idle timeout

def test_idle_tunnel_closed_busy_tunnel_and_session_kept(server_factory, keys, echo_server,
                                                        tmp_path):
    srv = server_factory("--log-level", "debug", "--channel-idle-timeout", "2")
    p_idle, p_busy = free_port(), free_port()
    ssh = ssh_bg(srv, keys.default, tmp_path,
                 "-L", "127.0.0.1:%d:127.0.0.1:%d" % (p_idle, echo_server.port),
                 "-L", "127.0.0.1:%d:127.0.0.1:%d" % (p_busy, echo_server.port))
    try:
        assert wait_listening(p_idle, 15, ssh.proc) and wait_listening(p_busy, 15, ssh.proc)
        idle = socket.create_connection(("127.0.0.1", p_idle), timeout=10)
        busy = socket.create_connection(("127.0.0.1", p_busy), timeout=10)
        idle.sendall(b"hello")
        assert idle.recv(5) == b"hello"
        idle.settimeout(0.05)
        closed_at = None
        deadline = time.time() + 20
        i = 0
        while closed_at is None and time.time() < deadline:
            msg = b"ping %d" % i
            busy.sendall(msg)
            assert busy.recv(len(msg)) == msg, "the busy tunnel broke"
            i += 1
            try:
                if idle.recv(100) == b"":
                    closed_at = time.time()
            except socket.timeout:
                pass
            except OSError:
                closed_at = time.time()
        assert closed_at is not None, srv.log()
        assert srv.log().count("closed idle tunnel idle=2s") == 1, srv.log()
        assert "127.0.0.1:%d" % echo_server.port not in srv.log()  # no destination logged
        # The busy tunnel keeps working well past the timeout, and the session is up: the
        # idle forward opens a new tunnel.
        for j in range(15):
            busy.sendall(b"more %d" % j)
            assert busy.recv(100) == b"more %d" % j
            time.sleep(0.2)
        assert srv.log().count("closed idle tunnel") == 1, srv.log()
        assert ssh.alive()
        assert tunnel_works(p_idle)
        assert srv.log().count("connection opened") == 1
        busy.close()
        idle.close()
    finally:
        ssh.close()


def test_channel_idle_timeout_off_by_default(server_factory, keys, echo_server):
    srv = server_factory("--log-level", "debug")
    t = login(srv, keys.default)
    ch = t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 1))
    time.sleep(3)
    ch.sendall(b"still here")
    ch.settimeout(10)
    assert ch.recv(100) == b"still here"
    assert "closed idle tunnel" not in srv.log()
    t.close()


# ----------------------------------------------------------------------------- window

def test_default_window_is_2mib(server_factory, keys, echo_server):
    srv = server_factory()
    t = login(srv, keys.default)
    ch = t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 1))
    assert ch.out_window_size == 2 * 1024 * 1024
    t.close()


def test_small_window_granted_and_bulk_intact(server_factory, keys, sink_server):
    srv = server_factory("--window-size", "32K")
    t = login(srv, keys.default)
    ch = t.open_channel("direct-tcpip", ("127.0.0.1", sink_server.port), ("127.0.0.1", 1))
    assert ch.out_window_size == 32768
    data = rand_bytes(3 * 1024 * 1024, 7)
    ch.sendall(data)
    ch.shutdown_write()
    ch.settimeout(60)
    reply = b""
    while not reply.endswith(b"\n"):
        d = ch.recv(200)
        if not d:
            break
        reply += d
    assert reply.decode().split() == [hashlib.sha256(data).hexdigest(), str(len(data))]
    t.close()


def test_window_size_in_bytes_and_m(server_factory, keys, echo_server):
    for arg, want in (("100000", 100000), ("16M", 16 * 1024 * 1024)):
        srv = server_factory("--window-size", arg)
        t = login(srv, keys.default)
        ch = t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 1))
        assert ch.out_window_size == want
        t.close()
        srv.stop()


def test_bad_option_values_refused(keys):
    from conftest import ALKNET
    base = [ALKNET, "serve", "--key", keys.host, "--authorized-keys", keys.authorized,
            "--listen", "127.0.0.1:%d" % free_port()]
    for opt, val in (("--window-size", "32767"), ("--window-size", "17M"),
                     ("--window-size", "1G"), ("--window-size", "-1"),
                     ("--client-alive-interval", "x"), ("--client-alive-count-max", "-1"),
                     ("--channel-idle-timeout", "1.5"), ("--per-source-penalty", "crash:1"),
                     ("--per-source-penalty", "min:20,max:10"),
                     ("--per-source-penalty-exempt", "10.0.0.1/8"),
                     ("--per-source-prefix", "4"), ("--per-source-prefix", "32:129"),
                     ("--unauth-timeout", "0")):
        r = subprocess.run(base + [opt, val], capture_output=True, timeout=10)
        assert r.returncode == 2, (opt, val, r.stderr)
        assert opt.lstrip("-") in r.stderr.decode() or "login-grace-time" in r.stderr.decode()


def test_help_lists_the_options():
    from conftest import ALKNET
    out = subprocess.run([ALKNET, "--help"], capture_output=True, timeout=10).stdout.decode()
    for opt in ("--client-alive-interval", "--client-alive-count-max", "--channel-idle-timeout",
                "--window-size", "--per-source-penalty ", "--per-source-penalty-exempt",
                "--per-source-prefix", "--unauth-timeout"):
        assert opt in out, opt
    assert "same as --login-grace-time" in out
