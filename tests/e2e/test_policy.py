"""The forwarding policy (--policy FILE, --deny-private) with the real OpenSSH client:
first-match order over networks, globs and port ranges, IPv6, a name that resolves to a
denied address, the private-network preset, key rules, a reload that changes the rules for
new channels only, and bad policy files at start and at reload.

Every target listens on 127.0.0.1, 127.0.0.2 or ::1; refusals are
"administratively prohibited" and nothing of the destination reaches the log.
"""
import os
import signal
import socket
import subprocess

import pytest

from conftest import (ALKNET, TcpServer, echo_handler, free_port, sandbox_args,
                      ssh_cmd_info, ssh_local_forward, wait_until)

PROHIBITED = "administratively prohibited"


def policy_file(tmp_path, text, name="policy"):
    d = tmp_path / "pol"
    d.mkdir(mode=0o700, exist_ok=True)
    p = d / name
    p.write_text(text)
    os.chmod(p, 0o600)
    return str(p)


def ssh_w(srv, key, target, data=b"ping"):
    return subprocess.run(ssh_cmd_info(srv, key, "-W", target), input=data,
                          capture_output=True, timeout=60)


def allowed(srv, key, target):
    r = ssh_w(srv, key, target)
    return r.returncode == 0 and r.stdout == b"ping"


def passes(srv, key, target):
    """The policy let it through (whatever the target then said)."""
    r = ssh_w(srv, key, target)
    return PROHIBITED not in r.stderr.decode()


def refused(srv, key, target):
    r = ssh_w(srv, key, target)
    return r.returncode != 0 and PROHIBITED in r.stderr.decode()


@pytest.fixture
def echo_pair():
    """Echo servers on 127.0.0.1 and 127.0.0.2, and one on ::1."""
    s = [TcpServer(echo_handler, "127.0.0.1"), TcpServer(echo_handler, "127.0.0.2"),
         TcpServer(echo_handler, "::1")]
    yield s
    for x in s:
        x.close()


def test_first_match_cidr_glob_and_port_range(server_factory, keys, tmp_path, echo_pair):
    v4, v4b, _ = echo_pair
    if v4.port == v4b.port:
        pytest.skip("both echo servers got the same port")
    lo, hi = sorted((v4.port, v4b.port))
    pol = policy_file(tmp_path, "deny  to 127.0.0.2:%d\n"
                      "allow to 127.0.0.0/8:%d-%d   # both echo ports\n"
                      "allow to local*:%d\n"
                      "default deny\n" % (v4b.port, lo, hi, v4.port))
    srv = server_factory("--policy", pol)
    assert allowed(srv, keys.default, "127.0.0.1:%d" % v4.port)
    assert passes(srv, keys.default, "127.0.0.2:%d" % v4.port)  # in the range: no listener
    assert refused(srv, keys.default, "127.0.0.2:%d" % v4b.port)  # the first rule wins
    assert refused(srv, keys.default, "127.0.0.1:%d" % (hi + 1))  # outside the range
    assert allowed(srv, keys.default, "localhost:%d" % v4.port)  # the glob
    assert refused(srv, keys.default, "example.invalid:%d" % (hi + 1))  # the default
    log = srv.log()
    assert "policy_refused=1" in log
    assert "example.invalid" not in log and "localhost" not in log


def test_ipv6_destinations(server_factory, keys, tmp_path, echo_pair):
    _, _, v6 = echo_pair
    pol = policy_file(tmp_path, "allow to [::1]:%d\ndefault deny\n" % v6.port)
    srv = server_factory("--policy", pol)
    assert allowed(srv, keys.default, "[::1]:%d" % v6.port)
    assert refused(srv, keys.default, "[::1]:%d" % (v6.port + 1))
    assert refused(srv, keys.default, "[::ffff:127.0.0.1]:%d" % v6.port)
    pol = policy_file(tmp_path, "deny to ::1\n", "p2")
    srv = server_factory("--policy", pol)
    assert refused(srv, keys.default, "[::1]:%d" % v6.port)
    assert refused(srv, keys.default, "[0:0::1]:%d" % v6.port)


def test_name_resolving_to_a_denied_address(server_factory, keys, tmp_path, echo_pair):
    """localhost resolves to loopback: the address check refuses it, though no rule names
    it (no DNS-rebinding bypass); and an allow glob for the name does not help when a deny
    network comes first."""
    v4 = echo_pair[0]
    pol = policy_file(tmp_path, "deny to 127.0.0.0/8, ::1\nallow to localhost\n")
    srv = server_factory("--policy", pol)
    assert refused(srv, keys.default, "localhost:%d" % v4.port)
    assert refused(srv, keys.default, "LOCALHOST:%d" % v4.port)
    assert refused(srv, keys.default, "127.1:%d" % v4.port)  # inet_aton's short form
    assert refused(srv, keys.default, "2130706433:%d" % v4.port)  # and its number form
    assert v4.accepted == 0
    assert "policy_refused=1" in srv.log()


def test_deny_private(server_factory, keys, tmp_path, echo_pair):
    v4, _, v6 = echo_pair
    srv = server_factory("--deny-private")
    for target in ["127.0.0.1:%d" % v4.port, "[::1]:%d" % v6.port, "localhost:%d" % v4.port,
                   "169.254.169.254:80", "10.1.2.3:80", "[::ffff:127.0.0.1]:%d" % v4.port,
                   "0.0.0.0:%d" % v4.port, "[fd00::1]:80", "100.64.0.1:80", "224.0.0.1:80"]:
        assert refused(srv, keys.default, target), target
    assert v4.accepted == 0 and v6.accepted == 0
    # a rule of the policy file comes before the preset
    pol = policy_file(tmp_path, "allow to 127.0.0.1:%d\n" % v4.port)
    srv = server_factory("--deny-private", "--policy", pol)
    assert allowed(srv, keys.default, "127.0.0.1:%d" % v4.port)
    assert refused(srv, keys.default, "127.0.0.1:%d" % (v4.port + 1))


def test_key_rule(server_factory, keys, tmp_path, echo_pair):
    v4 = echo_pair[0]
    fp = subprocess.run(["ssh-keygen", "-lf", keys.default + ".pub"], capture_output=True,
                        text=True, check=True).stdout.split()[1]
    pol = policy_file(tmp_path, "allow key %s to 127.0.0.1:%d\ndefault deny\n" % (fp, v4.port))
    srv = server_factory("--policy", pol)
    assert allowed(srv, keys.default, "127.0.0.1:%d" % v4.port)
    assert refused(srv, keys.client["rsa"], "127.0.0.1:%d" % v4.port)


def say(sock, data):
    """One echo exchange on an open tunnel, which stays open."""
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(len(data) - len(got))
        assert chunk, "tunnel closed"
        got += chunk
    return got


def hup(srv, count):
    srv.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: srv.log().count("reload ok") + srv.log().count("reload failed")
                      >= count, 10), srv.log()


def test_reload_applies_to_new_channels_only(server_factory, keys, tmp_path, echo_pair):
    v4 = echo_pair[0]
    pol = policy_file(tmp_path, "allow to 127.0.0.1\ndefault deny\n")
    srv = server_factory("--policy", pol)
    with ssh_local_forward(srv, keys.default, tmp_path, "127.0.0.1", v4.port, info=True) as fwd:
        tunnel = socket.create_connection(("127.0.0.1", fwd.port), timeout=10)
        assert say(tunnel, b"before") == b"before"
        with open(pol, "w") as f:
            f.write("deny to 127.0.0.0/8\n")
        hup(srv, 1)
        assert "reload ok" in srv.log()
        # the open channel keeps going; a new one in the same session is refused
        assert say(tunnel, b"after") == b"after"
        second = socket.create_connection(("127.0.0.1", fwd.port), timeout=10)
        second.settimeout(10)
        assert second.recv(10) == b""  # ssh closes it: the channel open failed
        second.close()
        tunnel.close()
        assert wait_until(lambda: PROHIBITED in fwd.stderr(), 10), fwd.stderr()
    assert refused(srv, keys.default, "127.0.0.1:%d" % v4.port)


def test_bad_policy_at_reload_keeps_the_old_one(server_factory, keys, tmp_path, echo_pair):
    v4 = echo_pair[0]
    pol = policy_file(tmp_path, "deny to 127.0.0.2\n")
    srv = server_factory("--policy", pol)
    with open(pol, "w") as f:
        f.write("allow to *\nallow to 127.0.0.1:99999\n")
    hup(srv, 1)
    assert "reload failed: %s:2:20: bad port" % pol in srv.log(), srv.log()
    assert allowed(srv, keys.default, "127.0.0.1:%d" % v4.port)
    assert refused(srv, keys.default, "127.0.0.2:%d" % echo_pair[1].port)


def test_bad_policy_at_start_names_file_line_column(keys, tmp_path):
    pol = policy_file(tmp_path, "# rules\nallow to *:22\ndeny  tu 10.0.0.0/8\n")
    port = free_port()
    r = subprocess.run([ALKNET, "serve", "--key", keys.host, "--authorized-keys",
                        keys.authorized, "--listen", "127.0.0.1:%d" % port, "--policy", pol] +
                       sandbox_args(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stderr
    assert "alknet: %s:3:7: expected principal, key or to" % pol in r.stderr
    r = subprocess.run([ALKNET, "serve", "--key", keys.host, "--authorized-keys",
                        keys.authorized, "--policy", pol, "--check"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "%s:3:7: expected principal, key or to" % pol in r.stderr
