"""authorized_keys options with the real OpenSSH client, against sshd(8)'s documented meaning:
permitopen (several, "*" port, bracketed IPv6), from= (address, glob, CIDR, "!" negation,
matched against the client address; ssh -b picks it), expiry-time (past refused, future
fine), restrict / port-forwarding / no-port-forwarding, options that grant nothing here, and
an unknown option, which skips the line (fail closed).
"""
import os
import subprocess

import pytest

from conftest import TcpServer, echo_handler, ssh_cmd_info

PROHIBITED = "administratively prohibited"


def authorized(keys, tmp_path, options, key=None):
    d = tmp_path / "ak"
    d.mkdir(mode=0o700, exist_ok=True)
    p = d / "authorized_keys"
    line = open((key or keys.default) + ".pub").read().strip()
    p.write_text(("%s %s\n" % (options, line)) if options else line + "\n")
    os.chmod(p, 0o600)
    return str(p)


def ssh_w(srv, key, target, *extra):
    return subprocess.run(ssh_cmd_info(srv, key, *extra, "-W", target), input=b"ping",
                          capture_output=True, timeout=60)


def ok(srv, keys, target, *extra):
    r = ssh_w(srv, keys.default, target, *extra)
    return r.returncode == 0 and r.stdout == b"ping"


def prohibited(srv, keys, target, *extra):
    r = ssh_w(srv, keys.default, target, *extra)
    return r.returncode != 0 and PROHIBITED in r.stderr.decode()


def login_refused(srv, keys, target, *extra):
    r = ssh_w(srv, keys.default, target, *extra)
    return r.returncode == 255 and b"Permission denied" in r.stderr


@pytest.fixture
def echoes():
    s = [TcpServer(echo_handler, "127.0.0.1"), TcpServer(echo_handler, "::1")]
    yield s
    for x in s:
        x.close()


def test_permitopen_several_any_port_and_ipv6(server_factory, keys, tmp_path, echoes):
    v4, v6 = echoes
    ak = authorized(keys, tmp_path, 'permitopen="127.0.0.1:%d",permitopen="[::1]:*"' % v4.port)
    srv = server_factory(authorized=ak)
    assert ok(srv, keys, "127.0.0.1:%d" % v4.port)
    assert prohibited(srv, keys, "127.0.0.1:%d" % (v4.port + 1))
    assert ok(srv, keys, "[::1]:%d" % v6.port)
    # no lookup and no patterns: the host must be the text of an entry
    assert prohibited(srv, keys, "localhost:%d" % v4.port)
    ak = authorized(keys, tmp_path, 'permitopen="*:%d"' % v4.port)
    srv = server_factory(authorized=ak)
    assert ok(srv, keys, "127.0.0.1:%d" % v4.port)
    assert ok(srv, keys, "localhost:%d" % v4.port)
    assert prohibited(srv, keys, "127.0.0.1:%d" % v6.port) or v6.port == v4.port


def test_permitopen_and_policy_must_both_allow(server_factory, keys, tmp_path, echoes):
    v4 = echoes[0]
    ak = authorized(keys, tmp_path, 'permitopen="127.0.0.1:*"')
    d = tmp_path / "pol"
    d.mkdir(mode=0o700)
    (d / "p").write_text("deny to 127.0.0.1:%d\n" % v4.port)
    srv = server_factory("--policy", str(d / "p"), authorized=ak)
    assert prohibited(srv, keys, "127.0.0.1:%d" % v4.port)


@pytest.mark.parametrize("pattern,good,bad", [
    ("127.0.0.1", "127.0.0.1", "127.0.0.2"),
    ("127.0.0.0/30,!127.0.0.2", "127.0.0.1", "127.0.0.2"),
    ("!127.0.0.2,127.0.0.*", "127.0.0.3", "127.0.0.2"),
    ("127.0.0.2/32", "127.0.0.2", "127.0.0.1"),
])
def test_from(server_factory, keys, tmp_path, echoes, pattern, good, bad):
    v4 = echoes[0]
    ak = authorized(keys, tmp_path, 'from="%s"' % pattern)
    srv = server_factory(authorized=ak)
    assert ok(srv, keys, "127.0.0.1:%d" % v4.port, "-b", good)
    assert login_refused(srv, keys, "127.0.0.1:%d" % v4.port, "-b", bad)
    log = srv.log()
    assert ("auth attempt remote_addr=%s " % bad) in log
    assert 'result=reject attempt=1 reason="source address not allowed by from="' in log


def test_expiry_time(server_factory, keys, tmp_path, echoes):
    v4 = echoes[0]
    ak = authorized(keys, tmp_path, 'expiry-time="20200101"')
    srv = server_factory(authorized=ak)
    assert login_refused(srv, keys, "127.0.0.1:%d" % v4.port)
    assert 'reason="key expired"' in srv.log()
    ak = authorized(keys, tmp_path, 'expiry-time="209901011200Z"')
    srv = server_factory(authorized=ak)
    assert ok(srv, keys, "127.0.0.1:%d" % v4.port)


@pytest.mark.parametrize("options,forwards", [
    ("restrict", False),
    ("restrict,port-forwarding", True),
    ("port-forwarding,restrict", False),
    ("no-port-forwarding", False),
    ('restrict,port-forwarding,command="/bin/false",no-pty,no-agent-forwarding,'
     'no-X11-forwarding,environment="A=b",no-user-rc', True),
])
def test_forwarding_flags(server_factory, keys, tmp_path, echoes, options, forwards):
    v4 = echoes[0]
    srv = server_factory(authorized=authorized(keys, tmp_path, options))
    target = "127.0.0.1:%d" % v4.port
    assert ok(srv, keys, target) if forwards else prohibited(srv, keys, target)
    if not forwards:
        assert "policy_refused=1" in srv.log() or srv.wait_log("policy_refused=1", 5)


def test_unknown_option_skips_the_line(server_factory, keys, tmp_path, echoes):
    ak = authorized(keys, tmp_path, 'restrict,no-such-option')
    srv = server_factory(authorized=ak)
    assert login_refused(srv, keys, "127.0.0.1:%d" % echoes[0].port)
    assert "authorized_keys: %s:1: bad options: unknown or misused option; line skipped" % ak \
        in srv.log()
