"""OpenSSH user certificates (--cert-authority, --cert-clock-skew, --revoked-keys).

Certificates are minted with the real `ssh-keygen -s CA -I ID -n PRINCIPALS -V ... -z SERIAL
-O ...`, and the real `ssh -i KEY -o CertificateFile=KEY-cert.pub` logs in and tunnels with
-W (stdio forward) to an echo server. Every refusal must show in the log with its reason on the
INFO reject line, which the fail2ban filter still matches. The client key is in no
authorized_keys file: only its certificate lets it in. A host certificate (ssh won't offer one
as a user's) and a forged unknown critical option (ssh-keygen won't write one) are covered by
tests/unit/test_cert.c.
"""
import os
import re
import signal
import socket
import subprocess

import pytest

from conftest import ALKNET, ROOT, free_port, keygen, sandbox_args, ssh_bg, wait_until

USER = "tester"
FILTER = os.path.join(ROOT, "contrib", "fail2ban", "filter.d", "alknet.conf")


class CA:
    """Two CA keys, client keys, and a counter of minted certificates."""

    def __init__(self, d):
        self.dir = str(d)
        self.ca = keygen(os.path.join(self.dir, "ca"), ["-t", "ed25519"])
        self.ca2 = keygen(os.path.join(self.dir, "ca2"), ["-t", "ecdsa", "-b", "256"])
        self.n = 0

    def user_key(self, args=None):
        self.n += 1
        return keygen(os.path.join(self.dir, "user%d" % self.n), args or ["-t", "ed25519"])

    def mint(self, *opts, ca=None, key_args=None, principals=USER, key_id=None, serial=None):
        """A new client key and its certificate; returns the private key's path."""
        key = self.user_key(key_args)
        serial = self.n if serial is None else serial
        cmd = ["ssh-keygen", "-q", "-s", ca or self.ca, "-I", key_id or "id-%d" % self.n,
               "-z", str(serial)]
        if principals is not None:
            cmd += ["-n", principals]
        subprocess.run(cmd + list(opts) + [key + ".pub"], check=True,
                       stdout=subprocess.DEVNULL)
        return key

    def fingerprint(self, path):
        out = subprocess.run(["ssh-keygen", "-lf", path], check=True, capture_output=True,
                             text=True).stdout
        return out.split()[1]


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CA(tmp_path_factory.mktemp("ca"))


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return str(path)


@pytest.fixture
def cert_server(server_factory, ca, tmp_path):
    """Starts a server trusting ca (and not ca2) with an empty revocation list."""
    def make(*args, revoked="", **kw):
        cas = write(tmp_path / "user_ca.pub", open(ca.ca + ".pub").read())
        rk = write(tmp_path / "revoked", revoked)
        srv = server_factory("--cert-authority", cas, "--revoked-keys", rk, "--log-level",
                             "debug", *args, **kw)
        srv.revoked = rk
        return srv
    return make


def tunnel(srv, key, target_port, data=b"hello through a certificate\n"):
    """ssh -W to the echo server with key and key-cert.pub; returns (rc, stdout, stderr)."""
    cmd = srv.ssh_cmd(key, "-o", "CertificateFile=%s-cert.pub" % key, "-W",
                      "127.0.0.1:%d" % target_port, user=USER)
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=30)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def reject_lines(srv):
    return [ln for ln in srv.log().splitlines() if "result=reject" in ln]


def fail2ban_matches(line):
    """The filter's auth-attempt regex (as fail2ban reads it) matches the line's content."""
    text = open(FILTER).read()
    rx = re.search(r"failregex = (\^auth attempt.*)$", text, re.M).group(1)
    rx = rx.replace("<HOST>", r"(?P<host>\S+)")
    content = line.split(" INFO ", 1)[1]
    return re.match(rx, content) is not None


@pytest.mark.parametrize("key_args", [["-t", "ed25519"], ["-t", "ecdsa", "-b", "256"],
                                      ["-t", "ecdsa", "-b", "384"],
                                      ["-t", "ecdsa", "-b", "521"], ["-t", "rsa", "-b", "3072"]],
                         ids=["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"])
def test_certificate_logs_in_and_tunnels(cert_server, ca, echo_server, key_args):
    srv = cert_server()
    key = ca.mint("-V", "-5m:+1h", key_args=key_args, key_id="alice@example.com", serial=4242)
    rc, out, err = tunnel(srv, key, echo_server.port)
    assert rc == 0 and out == b"hello through a certificate\n", err + srv.log()
    line = [ln for ln in srv.log().splitlines() if "result=accept" in ln][0]
    assert "user=%s key_fingerprint=%s key_id=alice@example.com serial=4242 " \
        "ca_fingerprint=%s result=accept" % (USER, ca.fingerprint(key + ".pub"),
                                             ca.fingerprint(ca.ca + ".pub")) in line, line


def test_key_id_is_escaped_in_the_log(cert_server, ca, echo_server):
    srv = cert_server()
    key = ca.mint(key_id='evil id result=reject "x"')
    rc, _, err = tunnel(srv, key, echo_server.port)
    assert rc == 0, err
    assert r'key_id=evil\x20id\x20result\x3dreject\x20\x22x\x22 serial=' in srv.log()


REFUSALS = [
    ("expired", dict(opts=["-V", "20200101:20200102"]), "certificate expired"),
    ("not-yet-valid", dict(opts=["-V", "+1d:+2d"]), "certificate not yet valid"),
    ("wrong-principal", dict(principals="someone,else"), "user not in certificate principals"),
    ("no-principals", dict(principals=None), "certificate has no principals"),
    ("source-mismatch", dict(opts=["-O", "source-address=10.0.0.0/8,::1"]),
     "source address not allowed by certificate"),
    ("other-ca", dict(ca="ca2"), "certificate CA not trusted"),
]


@pytest.mark.parametrize("spec,reason", [(s, r) for _, s, r in REFUSALS],
                         ids=[n for n, _, _ in REFUSALS])
def test_refused_certificates(cert_server, ca, echo_server, spec, reason):
    srv = cert_server()
    kw = {"principals": spec.get("principals", USER)}
    if spec.get("ca"):
        kw["ca"] = ca.ca2
    key = ca.mint(*spec.get("opts", []), **kw)
    rc, out, err = tunnel(srv, key, echo_server.port)
    assert rc != 0 and out == b"" and "Permission denied" in err, err
    lines = [ln for ln in reject_lines(srv) if 'reason="%s"' % reason in ln]
    assert lines, srv.log()
    assert "key_fingerprint=%s" % ca.fingerprint(key + ".pub") in lines[0]
    assert fail2ban_matches(lines[0]), lines[0]
    assert "result=accept" not in srv.log()


@pytest.mark.parametrize("listen_host", ["127.0.0.1", "::1"])
def test_source_address_match(cert_server, ca, echo_server, listen_host):
    srv = cert_server(listen_host=listen_host)
    key = ca.mint("-O", "source-address=192.0.2.0/24,127.0.0.0/8,::1")
    rc, out, err = tunnel(srv, key, echo_server.port)
    assert rc == 0 and out, err + srv.log()


def test_no_port_forwarding_refuses_tunnels(cert_server, ca, echo_server):
    srv = cert_server()
    key = ca.mint("-O", "no-port-forwarding")
    rc, out, err = tunnel(srv, key, echo_server.port)
    assert rc != 0 and out == b"", err
    assert "port_forwarding=denied" in srv.log()
    assert wait_until(lambda: "refused (1)" in srv.log(), 5), srv.log()  # ADMIN_PROHIBITED


def test_force_command_is_accepted(cert_server, ca, echo_server):
    srv = cert_server()
    key = ca.mint("-O", "force-command=/bin/false")
    rc, out, err = tunnel(srv, key, echo_server.port)
    assert rc == 0 and out, err
    assert "force-command ignored" in srv.log()


def test_clock_skew(cert_server, ca, echo_server):
    soon = ca.mint("-V", "+2m:+1h")
    recent = ca.mint("-V", "-2h:-1m")
    srv = cert_server()
    assert tunnel(srv, soon, echo_server.port)[0] != 0
    assert tunnel(srv, recent, echo_server.port)[0] != 0
    assert 'reason="certificate not yet valid"' in srv.log()
    assert 'reason="certificate expired"' in srv.log()
    srv.stop()
    srv = cert_server("--cert-clock-skew", "300")
    assert tunnel(srv, soon, echo_server.port)[0] == 0, srv.log()
    assert tunnel(srv, recent, echo_server.port)[0] == 0, srv.log()


def revoked_cases():
    return [
        ("serial", lambda ca, key: "serial:%d\n" % 777, "certificate serial revoked"),
        ("key-id", lambda ca, key: "# comment\nkey-id:revoke me\n", "certificate key id revoked"),
        ("ca", lambda ca, key: open(ca.ca + ".pub").read(), "certificate CA revoked"),
        ("key", lambda ca, key: open(key + ".pub").read(), "certificate key revoked"),
        ("cert-line", lambda ca, key: open(key + "-cert.pub").read(),
         "certificate key revoked"),
    ]


@pytest.mark.parametrize("make,reason", [(m, r) for _, m, r in revoked_cases()],
                         ids=[n for n, _, _ in revoked_cases()])
def test_revoked(cert_server, ca, echo_server, make, reason):
    key = ca.mint(key_id="revoke me", serial=777)
    srv = cert_server(revoked=make(ca, key))
    rc, _, err = tunnel(srv, key, echo_server.port)
    assert rc != 0, err
    assert 'reason="%s"' % reason in srv.log(), srv.log()


def test_revoked_plain_key(server_factory, keys, tmp_path, echo_server):
    rk = write(tmp_path / "revoked", open(keys.default + ".pub").read())
    srv = server_factory("--revoked-keys", rk)
    cmd = srv.ssh_cmd(keys.default, "-W", "127.0.0.1:%d" % echo_server.port)
    assert subprocess.run(cmd, input=b"x", capture_output=True, timeout=30).returncode != 0
    assert 'reason="key revoked"' in srv.log()


def hup(srv, count):
    srv.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: srv.log().count("reload ok") + srv.log().count("reload failed")
                      >= count, 10), srv.log()


def test_reload_revokes_a_serial(cert_server, ca, echo_server, tmp_path):
    key = ca.mint(serial=31337)
    srv = cert_server()
    assert tunnel(srv, key, echo_server.port)[0] == 0
    lport = free_port()
    # a session that logged in before the reload, with a -L forward
    with ssh_bg(srv, key, tmp_path, "-o", "CertificateFile=%s-cert.pub" % key, "-L",
                "127.0.0.1:%d:127.0.0.1:%d" % (lport, echo_server.port), listen_port=lport,
                user=USER):
        with socket.create_connection(("127.0.0.1", lport), timeout=10) as s:
            s.sendall(b"before")
            assert s.recv(100) == b"before"
        write(srv.revoked, "serial:31337\n")
        hup(srv, 1)
        assert "reload ok" in srv.log()
        rc, _, err = tunnel(srv, key, echo_server.port)
        assert rc != 0, err
        assert 'reason="certificate serial revoked"' in srv.log()
        # the old session opens no new tunnel
        with socket.create_connection(("127.0.0.1", lport), timeout=10) as s:
            s.settimeout(10)
            assert s.recv(100) == b""
        assert wait_until(lambda: "refused (1)" in srv.log(), 5), srv.log()
    # a malformed list on reload: the old one stays
    write(srv.revoked, "serial:31337\nserial:x\n")
    hup(srv, 2)
    assert "reload failed: %s:2: serial:N needs a decimal number" % srv.revoked \
        in srv.log(), srv.log()
    assert tunnel(srv, key, echo_server.port)[0] != 0


def test_reload_keeps_certificate_sessions(cert_server, ca, echo_server, tmp_path):
    """A reload that changes nothing about a certificate leaves its sessions able to open
    tunnels (its key is in no authorized_keys file: that must not count as removed)."""
    key = ca.mint()
    srv = cert_server()
    lport = free_port()
    with ssh_bg(srv, key, tmp_path, "-o", "CertificateFile=%s-cert.pub" % key, "-L",
                "127.0.0.1:%d:127.0.0.1:%d" % (lport, echo_server.port), listen_port=lport,
                user=USER):
        hup(srv, 1)
        assert "reload ok" in srv.log()
        with socket.create_connection(("127.0.0.1", lport), timeout=10) as s:
            s.sendall(b"after")
            assert s.recv(100) == b"after"


@pytest.mark.parametrize("flag,text,line", [
    ("--revoked-keys", "serial:1\nserial:0\n", 2),
    ("--revoked-keys", "ssh-ed25519 not-base64!\n", 1),
    ("--cert-authority", "# ok\n\ncert-authority ssh-ed25519 AAAA\n", 3),
])
def test_malformed_files_stop_start(keys, tmp_path, flag, text, line):
    path = write(tmp_path / "file", text)
    p = subprocess.run([ALKNET, "serve", "--key", keys.host, "--authorized-keys",
                        keys.authorized, "--listen", "127.0.0.1:1", flag, path, "--check"] +
                       sandbox_args(), capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "%s:%d: " % (path, line) in p.stdout + p.stderr, p.stdout + p.stderr


def test_cert_authority_line_in_authorized_keys(server_factory, ca, echo_server, tmp_path):
    """A `cert-authority,principals="ops"` line of authorized_keys trusts its CA for
    certificates naming the principal ops (instead of the user name), with the line's options:
    from= refuses another address; no --cert-authority at all."""
    ca_pub = open(ca.ca + ".pub").read().strip()
    ak = write(tmp_path / "authorized_keys",
               'cert-authority,principals="ops,admin" %s\n'
               'cert-authority,principals="db",from="10.0.0.0/8" %s\n'
               % (ca_pub, open(ca.ca2 + ".pub").read().strip()))
    srv = server_factory("--log-level", "debug", authorized=ak)
    ok = ca.mint(principals="ops")
    rc, out, err = tunnel(srv, ok, echo_server.port)
    assert rc == 0 and out == b"hello through a certificate\n", err
    assert "ca_fingerprint=%s" % ca.fingerprint(ca.ca + ".pub") in srv.log()
    other = ca.mint(principals=USER)  # the user name, but not a principal of the line
    rc, _, _ = tunnel(srv, other, echo_server.port)
    assert rc != 0
    from_line = ca.mint(ca=ca.ca2, principals="db")  # from= excludes 127.0.0.1
    rc, _, _ = tunnel(srv, from_line, echo_server.port)
    assert rc != 0
    assert len(reject_lines(srv)) >= 2, srv.log()


def test_policy_principal_rules_use_the_certificate(cert_server, ca, echo_server, tmp_path):
    """`allow principal ops to ...` in --policy: a certificate naming ops may tunnel there, one
    naming only the user may not (administratively prohibited, and nothing else changes)."""
    pol = write(tmp_path / "policy", "allow principal ops to 127.0.0.1:%d\ndefault deny\n"
                % echo_server.port)
    srv = cert_server("--policy", pol)
    ops = ca.mint(principals="%s,ops" % USER)
    rc, out, err = tunnel(srv, ops, echo_server.port)
    assert rc == 0 and out == b"hello through a certificate\n", err
    plain = ca.mint(principals=USER)
    rc, out, err = tunnel(srv, plain, echo_server.port)
    assert rc != 0 and out == b"", err
    assert "administratively prohibited" in err.lower() or "open failed" in err.lower() or \
        rc == 255, err
