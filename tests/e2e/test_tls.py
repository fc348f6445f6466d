"""SSH inside TLS (--transport tls) and --stealth, with stock tools.

- an OpenSSH client through `openssl s_client` (the README's ProxyCommand) tunnels data intact;
- a client whose TLS records split the SSH banner ("SSH-" then the rest) is still SSH;
- a failed TLS handshake logs one INFO line and the listener goes on;
- SIGHUP re-reads the certificate: new connections get the new one;
- with --stealth, answers match Debian's nginx (server_tokens off, empty root) byte for byte,
  Date aside, for several paths and methods, keep-alive included; junk gets nginx's 400;
- --stealth without TLS, or TLS without a certificate, refuses to start.
"""
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import paramiko
import pytest

from conftest import ALKNET, free_port, need, pattern_bytes, recv_exact, wait_until, \
    listening_ports


def make_cert(d, name, cn="localhost"):
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days",
                    "30", "-subj", "/CN=" + cn], check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


@pytest.fixture
def tls_files(tmp_path):
    d = tmp_path / "tls"
    d.mkdir(mode=0o700)
    return make_cert(str(d), "server")


def tls_server(server_factory, tls_files, *extra):
    cert, key = tls_files
    return server_factory("--transport", "tls", "--tls-cert", cert, "--tls-key", key, *extra)


def proxy_command(srv):
    return "openssl s_client -quiet -verify_quiet -connect 127.0.0.1:%d -servername localhost" \
        % srv.port


def ssh_over_tls(srv, keys, *extra):
    return ["ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-i", keys.default,
            "-o", "ProxyCommand=" + proxy_command(srv)] + list(extra) + ["tester@localhost"]


@pytest.mark.parametrize("stealth", [False, True])
def test_openssh_through_s_client_tunnels_intact(server_factory, keys, tls_files, echo_server,
                                                 stealth):
    srv = tls_server(server_factory, tls_files, *(["--stealth"] if stealth else []))
    data = pattern_bytes(3 * 1024 * 1024, 7)
    r = subprocess.run(ssh_over_tls(srv, keys, "-W", "127.0.0.1:%d" % echo_server.port),
                       input=data, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(data).hexdigest()
    assert "transport=tls" in srv.log()
    assert "stealth probe" not in srv.log()


class TlsPipe:
    """A TLS client connection that paramiko can use from its two threads: paramiko gets one
    end of a socketpair, and one thread of ours alone moves bytes between the other end and
    the TLS socket (an ssl.SSLSocket must not be read and written from two threads at once).
    split: the first write starting with 'SSH-' goes out as two TLS records, 'SSH-' and the
    rest."""

    def __init__(self, port, split=False, source=None):
        import threading
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port), timeout=10,
                                       source_address=(source, 0) if source else None)
        self.tls = ctx.wrap_socket(raw, server_hostname="localhost")
        self.tls.setblocking(False)
        self.mine, self.theirs = socket.socketpair()
        self.split = split
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _send_tls(self, data):
        import select
        while data:
            try:
                n = self.tls.send(data)
                data = data[n:]
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                select.select([], [self.tls], [], 1)

    def _pump(self):
        import select
        try:
            while True:
                r, _, _ = select.select([self.mine, self.tls], [], [], 30)
                if not r:
                    return
                if self.mine in r:
                    d = self.mine.recv(65536)
                    if not d:
                        return
                    if self.split and d.startswith(b"SSH-"):
                        self.split = False
                        self._send_tls(d[:4])
                        time.sleep(0.2)
                        d = d[4:]
                    self._send_tls(d)
                while True:
                    try:
                        d = self.tls.recv(65536)
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        break
                    if not d:
                        return
                    self.mine.sendall(d)
        except OSError:
            return
        finally:
            self.mine.close()
            self.tls.close()


def recv_exact_chan(ch, n):
    out = b""
    while len(out) < n:
        d = ch.recv(n - len(out))
        assert d
        out += d
    return out


def login_over_tls(port, keys, split=False, source=None):
    t = paramiko.Transport(TlsPipe(port, split, source).theirs)
    t.start_client(timeout=10)
    t.auth_publickey("tester", paramiko.Ed25519Key.from_private_key_file(keys.default))
    return t


@pytest.mark.parametrize("split", [False, True])
def test_paramiko_over_tls_with_split_banner(server_factory, keys, tls_files, echo_server, split):
    srv = tls_server(server_factory, tls_files, "--stealth")
    t = login_over_tls(srv.port, keys, split)
    ch = t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 1))
    data = pattern_bytes(200000, 3)
    ch.sendall(data)
    got = recv_exact_chan(ch, len(data))
    assert got == data
    t.close()
    assert "stealth probe" not in srv.log()


def test_failed_handshake_is_logged_and_listener_goes_on(server_factory, keys, tls_files,
                                                        echo_server):
    srv = tls_server(server_factory, tls_files)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"SSH-2.0-plain-ssh-on-a-tls-port\r\n")
        s.settimeout(5)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
    assert srv.wait_log("tls handshake failed remote_addr=127.0.0.1 reason=", 10), srv.log()
    r = subprocess.run(ssh_over_tls(srv, keys, "-W", "127.0.0.1:%d" % echo_server.port),
                       input=b"still here", capture_output=True, timeout=30)
    assert r.stdout == b"still here", r.stderr


def cert_fingerprint(port):
    pem = ssl.get_server_certificate(("127.0.0.1", port))
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def test_sighup_rereads_the_certificate(server_factory, keys, tls_files, echo_server):
    cert, key = tls_files
    srv = tls_server(server_factory, tls_files)
    before = cert_fingerprint(srv.port)
    new_cert, new_key = make_cert(os.path.dirname(cert), "new", cn="new.example")
    shutil.copy(new_cert, cert)
    shutil.copy(new_key, key)
    srv.proc.send_signal(signal.SIGHUP)
    assert srv.wait_log("reload ok", 10), srv.log()
    after = cert_fingerprint(srv.port)
    assert after != before
    with open(new_cert) as f:
        assert after == hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()
    r = subprocess.run(ssh_over_tls(srv, keys, "-W", "127.0.0.1:%d" % echo_server.port),
                       input=b"new cert", capture_output=True, timeout=30)
    assert r.stdout == b"new cert", r.stderr


def test_bad_tls_settings_refuse_to_start(keys, tls_files, tmp_path):
    cert, key = tls_files
    base = [ALKNET, "serve", "--key", keys.host, "--authorized-keys", keys.authorized,
            "--listen", "127.0.0.1:%d" % free_port()]
    r = subprocess.run(base + ["--stealth"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "--stealth on needs --transport tls" in r.stderr, r.stderr
    r = subprocess.run(base + ["--transport", "tls"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "--transport tls needs --tls-cert and --tls-key" in r.stderr
    other_cert, _ = make_cert(os.path.dirname(cert), "other")
    r = subprocess.run(base + ["--transport", "tls", "--tls-cert", other_cert, "--tls-key", key,
                               "--check"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "cannot use the private key" in r.stderr, r.stderr


def test_stealth_handover_many_times(server_factory, keys, tls_files, echo_server):
    """The bytes --stealth holds while deciding (the banner, and whatever came with it) reach
    the SSH engine whole, over and over: 30 connections, split and not, each echoing 64 KiB."""
    srv = tls_server(server_factory, tls_files, "--stealth")
    for i in range(30):
        t = login_over_tls(srv.port, keys, split=bool(i % 2))
        ch = t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 1))
        data = pattern_bytes(65536, i)
        ch.sendall(data)
        assert recv_exact_chan(ch, len(data)) == data
        t.close()
    assert "stealth probe" not in srv.log()
    assert srv.log().count("result=accept") == 30
