"""SIGHUP reload, systemd's notify protocol and socket activation.

- a reload re-reads the config file and the authorized keys and drops no session or tunnel;
- a key removed from the file: its live tunnels go on, it can open no new channel, and it can
  no longer log in; a key added can log in at once;
- a broken new file (syntax error, unreadable, mode) keeps the old state, with one WARN line
  naming file:line and the reason;
- READY=1 / RELOADING=1 / READY=1 / STOPPING=1 reach NOTIFY_SOCKET in that order;
- sockets passed by systemd-socket-activate (LISTEN_FDS) are served.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import paramiko
import pytest

from conftest import (ALKNET, free_port, listening_ports, need, pattern_bytes, recv_exact,
                      sandbox_args,
                      ssh_local_forward, wait_until)


def echo_chunk(sock, data):
    sock.sendall(data)
    return recv_exact(sock, len(data)) == data


def setup_files(keys, tmp_path, extra=""):
    d = tmp_path / "etc"
    d.mkdir(mode=0o700)
    host = d / "host_ed25519"
    shutil.copy(keys.host, host)
    os.chmod(host, 0o600)
    ak = d / "authorized_keys"
    ak.write_text(open(keys.default + ".pub").read() + open(keys.client["rsa"] + ".pub").read())
    os.chmod(ak, 0o644)
    conf = d / "alknet.conf"
    conf.write_text("authorized-keys %s\n%s" % (ak, extra))
    os.chmod(conf, 0o644)
    return str(host), str(ak), str(conf)


def hup(srv, count):
    """Sends SIGHUP and waits for the count-th reload line (ok or failed)."""
    srv.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: srv.log().count("reload ok") + srv.log().count("reload failed")
                      >= count, 10), srv.log()


def paramiko_login(srv, key_path):
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    cls = paramiko.ECDSAKey if "ecdsa" in key_path else paramiko.Ed25519Key
    key = cls.from_private_key_file(key_path)
    t.auth_publickey("tester", key)
    return t


def open_echo(t, echo_server):
    return t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 1),
                          timeout=10)


def test_reload_keeps_tunnels_and_applies_new_keys(server_factory, keys, tmp_path, echo_server):
    host, ak, conf = setup_files(keys, tmp_path)
    srv = server_factory("--config", conf, host_key=host, authorized=ak)
    try:
        t = paramiko_login(srv, keys.default)
        ch = open_echo(t, echo_server)
        fwd = ssh_local_forward(srv, keys.default, tmp_path, "127.0.0.1", echo_server.port)
        s = socket.create_connection(("127.0.0.1", fwd.port), timeout=10)
        assert echo_chunk(s, pattern_bytes(100000, 1))
        # Remove the ed25519 key, keep rsa; add the ecdsa one.
        open(ak, "w").write(open(keys.client["rsa"] + ".pub").read() +
                            open(keys.client["ecdsa256"] + ".pub").read())
        hup(srv, 1)
        assert "reload ok authorized_keys=2 config=%s" % conf in srv.log()
        # Everything that was open keeps working, many times over.
        for i in range(20):
            assert echo_chunk(s, pattern_bytes(50000, i))
            ch.sendall(b"x" * 1000)
            got = b""
            while len(got) < 1000:
                got += ch.recv(1000 - len(got))
        assert fwd.alive()
        # The removed key's sessions can open no new channel...
        with pytest.raises(paramiko.ChannelException) as e:
            open_echo(t, echo_server)
        assert e.value.code == 1  # ADMINISTRATIVELY_PROHIBITED
        # ... nor log in again; the added key can.
        r = subprocess.run(srv.ssh_cmd(keys.default, "-W", "127.0.0.1:%d" % echo_server.port),
                           input=b"", capture_output=True, timeout=20)
        assert r.returncode == 255
        t2 = paramiko_login(srv, keys.client["ecdsa256"])
        c2 = open_echo(t2, echo_server)
        c2.sendall(b"hello")
        assert c2.recv(5) == b"hello"
        # Put the key back: the old session may open channels again.
        open(ak, "a").write(open(keys.default + ".pub").read())
        hup(srv, 2)
        c3 = open_echo(t, echo_server)
        c3.sendall(b"back")
        assert c3.recv(4) == b"back"
        s.close()
        fwd.close()
        t.close()
        t2.close()
        assert srv.proc.poll() is None
    finally:
        assert srv.stop() == 0  # under valgrind/ASan: no leak, no memory error


def test_broken_files_keep_the_old_state(server_factory, keys, tmp_path, echo_server):
    host, ak, conf = setup_files(keys, tmp_path, "max-auth-attempts 3\n")
    srv = server_factory("--config", conf, host_key=host, authorized=ak)
    try:
        good_conf = open(conf).read()
        # A syntax error in the config file.
        open(conf, "a").write("max-auth-attempts\n")
        hup(srv, 1)
        assert "WARN reload failed: %s:3: missing value; keeping the previous configuration" \
            % conf in srv.log(), srv.log()
        # An unknown keyword.
        open(conf, "w").write(good_conf + "no-such-thing 1\n")
        hup(srv, 2)
        assert "reload failed: %s:3: unknown keyword 'no-such-thing'" % conf in srv.log()
        # authorized_keys others may change, then unreadable: the old keys stay in force.
        open(conf, "w").write(good_conf)
        os.chmod(ak, 0o666)
        hup(srv, 3)
        assert "reload failed: %s: others may change it (mode 0666); run: chmod go-w %s" % (
            ak, ak) in srv.log()
        os.chmod(ak, 0o644)
        os.rename(ak, ak + ".moved")
        hup(srv, 4)
        assert "reload failed: %s: cannot read: No such file or directory" % ak in srv.log()
        assert srv.log().count("reload failed") == 4 and "reload ok" not in srv.log()
        # The old authorized keys still let the client in and tunnel.
        t = paramiko_login(srv, keys.default)
        ch = open_echo(t, echo_server)
        ch.sendall(b"ping")
        assert ch.recv(4) == b"ping"
        t.close()
        # Fixed: the next reload succeeds.
        os.rename(ak + ".moved", ak)
        hup(srv, 5)
        assert "reload ok authorized_keys=2" in srv.log()
    finally:
        assert srv.stop() == 0  # under valgrind/ASan: no leak, no memory error


def test_reload_applies_config_settings_to_new_connections(server_factory, keys, tmp_path):
    host, ak, conf = setup_files(keys, tmp_path, "max-auth-attempts 3\n")
    srv = server_factory("--config", conf, host_key=host, authorized=ak)
    try:
        open(conf, "w").write("authorized-keys %s\nmax-auth-attempts 1\n" % ak)
        hup(srv, 1)
        subprocess.run(srv.ssh_cmd(keys.stranger) + ["true"], capture_output=True, timeout=20)
        assert wait_until(lambda: "too many auth failures remote_addr=127.0.0.1 attempts=1"
                          in srv.log(), 10), srv.log()
    finally:
        assert srv.stop() == 0  # under valgrind/ASan: no leak, no memory error


class NotifySocket:
    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(10)

    def next(self):
        return self.sock.recv(4096).decode()

    def close(self):
        self.sock.close()


def test_notify_protocol(server_factory, keys, tmp_path):
    host, ak, conf = setup_files(keys, tmp_path)
    ns = NotifySocket(str(tmp_path / "notify.sock"))
    port = free_port()
    env = dict(os.environ, NOTIFY_SOCKET=ns.path)
    proc = subprocess.Popen([ALKNET, "serve", "--config", conf, "--key", host, "--listen",
                             "127.0.0.1:%d" % port] + sandbox_args(), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        msg = ns.next()
        assert "READY=1" in msg.split("\n"), msg
        assert port in listening_ports()  # READY only once listening
        proc.send_signal(signal.SIGHUP)
        msg = ns.next().split("\n")
        assert "RELOADING=1" in msg and any(l.startswith("MONOTONIC_USEC=") for l in msg), msg
        assert "READY=1" in ns.next().split("\n")
        proc.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in ns.next().split("\n")
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        ns.close()


def test_socket_activation(server_factory, keys, tmp_path, echo_server):
    activate = need("systemd-socket-activate")
    host, ak, conf = setup_files(keys, tmp_path)
    p1, p2 = free_port(), free_port()
    log_path = str(tmp_path / "activated.log")
    log = open(log_path, "w")
    # No --listen: the two sockets come from LISTEN_FDS.
    proc = subprocess.Popen([activate, "-l", "127.0.0.1:%d" % p1, "-l", "127.0.0.1:%d" % p2,
                             ALKNET, "serve", "--config", conf, "--key", host]
                            + sandbox_args(),
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: p1 in listening_ports() and p2 in listening_ports(), 10)
        for p in (p1, p2):
            r = subprocess.run(["ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
                                "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                                "-o", "IdentitiesOnly=yes", "-i", keys.default, "-p", str(p),
                                "-W", "127.0.0.1:%d" % echo_server.port, "tester@127.0.0.1"],
                               input=b"activated", capture_output=True, timeout=20)
            assert r.stdout == b"activated", r.stderr
        text = open(log_path).read()
        assert "listening addr=127.0.0.1:%d,127.0.0.1:%d " % (p1, p2) in text, text
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_reload_switches_new_channels_to_the_new_proxy(server_factory, keys, tmp_path, echo_server,
                                                       microsocks_open):
    """--proxy-file is read again: channels opened after the reload go through the new proxy,
    the one opened before keeps its direct connection."""
    from conftest import closed_port
    host, ak, conf = setup_files(keys, tmp_path)
    pf = tmp_path / "etc" / "proxy"
    dead = closed_port()
    pf.write_text("socks5://127.0.0.1:%d\n" % dead)
    os.chmod(pf, 0o600)
    srv = server_factory("--config", conf, "--proxy-file", str(pf),
                       host_key=host, authorized=ak)
    try:
        t = paramiko_login(srv, keys.default)
        with pytest.raises(paramiko.ChannelException) as e:
            open_echo(t, echo_server)
        assert e.value.code == 2  # connect failed: the proxy is not there
        pf.write_text("socks5://127.0.0.1:%d\n" % microsocks_open.port)
        hup(srv, 1)
        assert "proxy=socks5://127.0.0.1:%d" % microsocks_open.port in srv.log()
        for i in range(20):
            ch = open_echo(t, echo_server)
            data = pattern_bytes(20000, i)
            ch.sendall(data)
            got = b""
            while len(got) < len(data):
                got += ch.recv(len(data) - len(got))
            assert got == data
            ch.close()
        t.close()
    finally:
        assert srv.stop() == 0  # under valgrind/ASan: no leak, no memory error
