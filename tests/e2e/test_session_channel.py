"""The session channel (issue 14): what `ssh -D`/`ssh -L` without -N, `ssh host cmd`, sftp and
paramiko's invoke_shell/exec_command get. Nothing is ever executed; a shell request gets a
short message and the channel stays open (tunnels included) until the client closes it."""
import hashlib
import os
import socket
import subprocess

import paramiko
import pytest

from conftest import (echo_roundtrip, free_port, paramiko_transport, rand_bytes, socks5_connect,
                      wait_listening, wait_until)

SSH_TIMEOUT = 30
SHORTAGE = 4
SHELL_TEXT = "this server only forwards TCP"
EXEC_TEXT = "commands are not run"
SUBSYSTEM_TEXT = "subsystems such as sftp are not available"


class SessionSsh:
    """ssh WITHOUT -N (a session channel with a shell), stdout and stderr kept in files."""

    def __init__(self, srv, key, tmp_path, *extra, stdin=subprocess.DEVNULL, listen_port=None):
        name = "sess-%d" % free_port()
        self.out_path = os.path.join(str(tmp_path), name + ".out")
        self.err_path = os.path.join(str(tmp_path), name + ".err")
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        cmd = srv.ssh_cmd(key, "-o", "ExitOnForwardFailure=yes", *extra)
        self.proc = subprocess.Popen(cmd, stdin=stdin, stdout=self.out, stderr=self.err)
        if listen_port is not None and not wait_listening(listen_port, 15, self.proc):
            self.close()
            raise RuntimeError("ssh did not listen on %d: %s" % (listen_port, self.stderr()))

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        self.err.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def login(srv, keys):
    t = paramiko_transport(srv)
    t.auth_publickey("tester", paramiko.Ed25519Key.from_private_key_file(keys.default))
    return t


def sha(b):
    return hashlib.sha256(b).hexdigest()


@pytest.mark.parametrize("tty", [False, True], ids=["stdin-devnull", "tty"])
def test_dynamic_forward_without_N_keeps_tunnels(server, keys, echo_server, tmp_path, tty):
    """ssh -D without -N, stdin at /dev/null (its EOF comes at once), with and without -tt:
    the message arrives, the client stays, and a SOCKS5 tunnel carries 200 kB both ways."""
    port = free_port()
    extra = ["-tt"] if tty else []
    with SessionSsh(server, keys.default, tmp_path, "-D", "127.0.0.1:%d" % port, *extra,
                    listen_port=port) as c:
        assert wait_until(lambda: b"Your tunnels are up" in c.stdout(), 15), c.stderr()
        out = c.stdout()
        assert SHELL_TEXT.encode() in out
        if tty:
            assert b"~. to close.\r\n" in out, out
        else:
            assert b"Ctrl-C to close.\n" in out and b"\r" not in out, out
        data = rand_bytes(200000, seed=14)
        with socks5_connect(port, "127.0.0.1", echo_server.port) as s:
            got = echo_roundtrip(s, data)
        assert len(got) == len(data) and sha(got) == sha(data)
        assert c.alive(), c.stderr()
        log = server.log()
        assert "session channel request" in log and "request=shell result=ok" in log
        assert ("request=pty-req result=ok" in log) == tty


def test_local_forward_without_N_keeps_tunnels(server, keys, echo_server, tmp_path):
    lport = free_port()
    with SessionSsh(server, keys.default, tmp_path,
                    "-L", "127.0.0.1:%d:127.0.0.1:%d" % (lport, echo_server.port),
                    listen_port=lport) as c:
        assert wait_until(lambda: b"Your tunnels are up" in c.stdout(), 15), c.stderr()
        for n in (1, 5000, 200000):
            data = rand_bytes(n, seed=n)
            with socket.create_connection(("127.0.0.1", lport), timeout=15) as s:
                got = echo_roundtrip(s, data)
            assert sha(got) == sha(data), n
        assert c.alive(), c.stderr()


def test_exec_runs_nothing_and_exits_1(server, keys, tmp_path):
    marker = tmp_path / "executed"
    cmd = server.ssh_cmd(keys.default) + ["touch %s; echo ran" % marker]
    r = subprocess.run(cmd, capture_output=True, timeout=SSH_TIMEOUT, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r
    assert EXEC_TEXT in r.stderr.decode(), r.stderr
    assert r.stdout == b""
    assert not marker.exists()
    log = server.log()
    assert "request=exec result=ok" in log
    assert "touch" not in log and str(marker) not in log  # the command is never logged


def test_subsystem_sftp_refused(server, keys, tmp_path):
    """Refused the way exec is: the request is granted only so that the client shows the
    message (OpenSSH's client exits at a FAILURE without printing stderr it already has), then
    exit status 1 and the close; ssh, sftp and paramiko all show our text."""
    r = subprocess.run(server.ssh_cmd(keys.default, "-s") + ["sftp"], capture_output=True,
                       timeout=SSH_TIMEOUT, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r
    assert SUBSYSTEM_TEXT in r.stderr.decode(), r.stderr
    args = server.ssh_cmd(keys.default)
    # sftp takes ssh's options, but the port as -P and the destination last
    opts = list(args[1:-1])
    opts[opts.index("-p")] = "-P"
    r = subprocess.run(["sftp", "-b", "-"] + opts + [args[-1]], capture_output=True,
                       timeout=SSH_TIMEOUT, input=b"ls\n")
    assert r.returncode != 0, r
    assert SUBSYSTEM_TEXT in r.stderr.decode(), r.stderr
    t = login(server, keys)
    try:
        chan = t.open_session(timeout=10)
        chan.settimeout(10)
        chan.invoke_subsystem("sftp")
        assert chan.recv_exit_status() == 1
        err = b""
        while b"\n" not in err:
            d = chan.recv_stderr(4096)
            assert d, err
            err += d
        assert SUBSYSTEM_TEXT.encode() in err
        assert wait_until(lambda: chan.closed or chan.eof_received, 10)
    finally:
        t.close()
    assert server.log().count("request=subsystem result=refused") == 3
    assert server.proc.poll() is None


def test_paramiko_shell_stays_open_and_exec_exits_1(server, keys, echo_server):
    t = login(server, keys)
    try:
        chan = t.open_session(timeout=10)
        chan.settimeout(10)
        chan.get_pty()  # paramiko sends an empty list of terminal modes
        chan.invoke_shell()
        got = b""
        while b"Ctrl-C" not in got:
            d = chan.recv(4096)
            assert d, got
            got += d
        assert SHELL_TEXT.encode() in got and b"\r\n" in got
        # Typed data is thrown away, EOF doesn't close; a second shell is refused.
        chan.sendall(b"ls -l\n" * 1000)
        chan.shutdown_write()
        with pytest.raises(paramiko.SSHException):
            chan.exec_command("id")
        # A round trip on another channel: anything the server did with the session channel
        # before (a CLOSE, an exit-status) would have arrived first.
        tun = t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 1))
        data = rand_bytes(5000, seed=3)
        assert echo_roundtrip(tun, data) == data
        assert not chan.closed and not chan.exit_status_ready()
        assert not chan.recv_ready()

        ex = t.open_session(timeout=10)
        ex.settimeout(10)
        ex.exec_command("rm -rf /tmp/should-not-run")
        assert ex.recv_exit_status() == 1
        err = b""
        while True:
            d = ex.recv_stderr(4096)
            if not d:
                break
            err += d
        assert EXEC_TEXT.encode() in err and ex.recv(10) == b""
        # Other requests are refused; the channel goes on.
        s3 = t.open_session(timeout=10)
        with pytest.raises(paramiko.SSHException):
            s3.request_x11()
        chan.close()
    finally:
        t.close()
    assert "rm -rf" not in server.log()


def test_session_channels_count_against_max_channels(server_factory, keys, echo_server):
    srv = server_factory("--max-channels", "2")
    t = login(srv, keys)
    try:
        a = t.open_session(timeout=10)
        b = t.open_session(timeout=10)
        with pytest.raises(paramiko.ChannelException) as e:
            t.open_session(timeout=10)
        assert e.value.code == SHORTAGE
        with pytest.raises(paramiko.ChannelException) as e:
            t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 1),
                           timeout=10)
        assert e.value.code == SHORTAGE
        # Our CLOSE reaches the server before the next open: the slot is free for it.
        b.close()
        tun = t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 1),
                             timeout=10)
        data = rand_bytes(1000, seed=9)
        assert echo_roundtrip(tun, data) == data
        a.close()
    finally:
        t.close()


@pytest.mark.parametrize("key", [b"\x03", b"\x04"], ids=["ctrl-c", "ctrl-d"])
def test_tty_ctrl_c_or_ctrl_d_ends_it(server, keys, tmp_path, key):
    port = free_port()
    with SessionSsh(server, keys.default, tmp_path, "-tt", "-D", "127.0.0.1:%d" % port,
                    stdin=subprocess.PIPE, listen_port=port) as c:
        assert wait_until(lambda: b"Your tunnels are up" in c.stdout(), 15), c.stderr()
        c.proc.stdin.write(b"typed" + key)
        c.proc.stdin.flush()
        rc = c.proc.wait(SSH_TIMEOUT)
        c.proc.stdin.close()
        assert rc == 0, c.stderr()
    assert server.wait_log("session channel closed by user", 10)
