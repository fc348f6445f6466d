"""Authentication with real clients: every client key type, unknown keys, authorized_keys lines
with options (skipped with a warning naming file:line), password / keyboard-interactive /
none refused, and the fingerprint and user name in the auth log line."""
import os
import re
import subprocess

import paramiko
import pytest

from conftest import CLIENT_KEY_TYPES, keygen, rand_bytes, recv_to_eof
from conftest import paramiko_transport as transport

SSH_TIMEOUT = 30


def fingerprint(pub_path):
    out = subprocess.run(["ssh-keygen", "-lf", pub_path], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    return out.split()[1]


def ssh_w(srv, key, port, data=b"", user="tester", extra=()):
    return subprocess.run(srv.ssh_cmd(key, *extra, "-W", "127.0.0.1:%d" % port, user=user),
                          input=data, capture_output=True, timeout=SSH_TIMEOUT)


def pkey(path):
    """An ed25519 private key file (all the keys these tests give paramiko are ed25519)."""
    return paramiko.Ed25519Key.from_private_key_file(path)


@pytest.mark.parametrize("kind", [name for name, _ in CLIENT_KEY_TYPES])
def test_every_key_type_logs_in(server, keys, echo_server, kind):
    key = keys.client[kind]
    user = "user-" + kind
    data = rand_bytes(1000, seed=len(kind))
    r = ssh_w(server, key, echo_server.port, data, user=user)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data
    fp = fingerprint(key + ".pub")
    assert server.wait_log("auth attempt remote_addr=127.0.0.1 user=%s key_fingerprint=%s "
                           "result=accept" % (user, fp), 5), server.log()


@pytest.mark.parametrize("alg", ["rsa-sha2-256", "rsa-sha2-512"])
def test_rsa_signature_algorithms(server, keys, echo_server, alg):
    r = ssh_w(server, keys.client["rsa"], echo_server.port, b"hello",
              extra=("-o", "PubkeyAcceptedAlgorithms=" + alg))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello"


def test_any_user_name_is_accepted_and_logged(server, keys, echo_server):
    for user in ("root", "some.user-1", "x" * 64):
        r = ssh_w(server, keys.default, echo_server.port, b"hi", user=user)
        assert r.returncode == 0, r.stderr
        assert server.wait_log(" user=%s key_fingerprint=" % user, 5)


def test_unknown_key_rejected(server, keys, echo_server):
    r = ssh_w(server, keys.stranger, echo_server.port, b"x", user="intruder")
    assert r.returncode == 255
    assert b"Permission denied" in r.stderr, r.stderr
    assert echo_server.accepted == 0
    fp = fingerprint(keys.stranger + ".pub")
    assert server.wait_log("auth attempt remote_addr=127.0.0.1 user=intruder key_fingerprint=%s "
                           "result=reject" % fp, 5), server.log()
    assert "result=accept" not in server.log()


def test_unknown_key_with_signature_rejected(server, keys):
    """paramiko signs straight away (no query first): a valid signature by an unknown key
    must still be refused."""
    t = transport(server)
    try:
        with pytest.raises(paramiko.AuthenticationException):
            t.auth_publickey("intruder", pkey(keys.stranger))
        assert not t.is_authenticated()
    finally:
        t.close()
    assert server.wait_log("user=intruder key_fingerprint=%s result=reject"
                           % fingerprint(keys.stranger + ".pub"), 5)


@pytest.fixture(scope="module")
def option_keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("optkeys")
    return {name: keygen(os.path.join(str(d), name), ["-t", "ed25519"])
            for name in ("restrict", "from", "command", "permitopen", "plain", "after_bad")}


def test_key_lines_with_options_load(server_factory, option_keys, echo_server, tmp_path):
    """Option lines load with their options (test_authkeys_options.py has the details); bad
    lines warn with FILE:LINE and the rest load."""
    pub = {n: open(p + ".pub").read().strip() for n, p in option_keys.items()}
    lines = [
        "# a comment",                                                   # 1
        "",                                                              # 2
        "restrict " + pub["restrict"],                                   # 3
        'from="127.0.0.1" ' + pub["from"],                               # 4
        'command="echo hi there",no-pty ' + pub["command"],              # 5
        'permitopen="127.0.0.1:%d" %s' % (echo_server.port, pub["permitopen"]),  # 6
        "ssh-ed25519 not-base64!!! broken",                              # 7
        pub["plain"],                                                    # 8
        "   ",                                                           # 9
        pub["after_bad"] + "\r",                                         # 10
    ]
    ak = os.path.join(str(tmp_path), "authorized_keys_opts")
    with open(ak, "w") as f:
        f.write("\n".join(lines))  # no final newline on purpose
    srv = server_factory("--log-level", "debug", authorized=ak)
    log = srv.log()
    assert re.search(r"WARN.*%s:7\b" % re.escape(ak), log), log
    for lineno in (1, 2, 3, 4, 5, 6, 8, 9, 10):
        assert not re.search(r"WARN.*%s:%d\b" % (re.escape(ak), lineno), log), (lineno, log)
    # from= refuses the login from 127.0.0.2
    r = ssh_w(srv, option_keys["from"], echo_server.port, b"x", user="opt-from",
              extra=("-b", "127.0.0.2"))
    assert r.returncode == 255 and b"Permission denied" in r.stderr, r.stderr
    # restrict logs in but forwards nothing
    r = ssh_w(srv, option_keys["restrict"], echo_server.port, b"x", user="opt-restrict")
    assert r.returncode == 255 and b"Permission denied" not in r.stderr, r.stderr
    for name in ("from", "command", "permitopen", "plain", "after_bad"):
        r = ssh_w(srv, option_keys[name], echo_server.port, b"ok", user="ok-" + name)
        assert r.returncode == 0, (name, r.stderr)
        assert r.stdout == b"ok"
    assert echo_server.accepted == 5
    # Key material is never echoed into the log.
    for name in ("restrict", "from", "command", "permitopen"):
        assert pub[name].split()[1] not in srv.log()


def test_password_refused_and_logged(server, keys):
    t = transport(server)
    try:
        with pytest.raises(paramiko.AuthenticationException):
            t.auth_password("pwuser", "hunter2")
        assert not t.is_authenticated()
    finally:
        t.close()
    assert server.wait_log("auth attempt remote_addr=127.0.0.1 user=pwuser method=password "
                           "result=reject", 5), server.log()
    assert "hunter2" not in server.log()


def test_password_not_offered_to_openssh(server, keys, echo_server):
    """OpenSSH asked to use a password only: the server offers publickey alone."""
    r = subprocess.run(server.ssh_cmd(keys.default, "-o", "PreferredAuthentications=password",
                                      "-o", "PasswordAuthentication=yes",
                                      "-W", "127.0.0.1:%d" % echo_server.port),
                       input=b"", capture_output=True, timeout=SSH_TIMEOUT)
    assert r.returncode == 255
    assert b"Permission denied (publickey)" in r.stderr, r.stderr
    assert echo_server.accepted == 0


def test_none_auth_refused(server):
    t = transport(server)
    try:
        with pytest.raises(paramiko.BadAuthenticationType) as e:
            t.auth_none("nobody")
        assert e.value.allowed_types == ["publickey"]
        assert not t.is_authenticated()
    finally:
        t.close()


def test_keyboard_interactive_refused(server):
    t = transport(server)
    try:
        with pytest.raises(paramiko.AuthenticationException):
            t.auth_interactive("kbd", lambda title, instr, prompts: ["secret"] * len(prompts))
        assert not t.is_authenticated()
    finally:
        t.close()
    assert "secret" not in server.log()


def test_user_name_cannot_inject_log_lines(server, keys):
    t = transport(server)
    try:
        with pytest.raises(paramiko.AuthenticationException):
            t.auth_publickey("evil\nINFO auth attempt user=x result=accept", pkey(keys.stranger))
    finally:
        t.close()
    assert server.wait_log("result=reject", 5)
    for line in server.log().splitlines():
        assert not line.startswith("INFO auth attempt user=x"), line
    assert "result=accept" not in server.log()


def test_second_auth_attempt_on_one_connection(server, keys, echo_server):
    """A rejected key, then an authorized one, on the same connection (paramiko sends a
    SERVICE_REQUEST before each attempt, which OpenSSH's sshd accepts until auth succeeds)."""
    t = transport(server)
    try:
        with pytest.raises(paramiko.AuthenticationException):
            t.auth_publickey("tester", pkey(keys.stranger))
        try:
            t.auth_publickey("tester", pkey(keys.default))
        except paramiko.SSHException as e:
            pytest.fail("authorized key refused after a failed attempt on the same connection "
                        "(%r); server log:\n%s" % (e, server.log()))
        assert t.is_authenticated()
        ch = t.open_channel("direct-tcpip", ("127.0.0.1", echo_server.port), ("127.0.0.1", 1))
        ch.sendall(b"ping")
        ch.shutdown_write()
        got = recv_to_eof(ch)
        assert got == b"ping"
    finally:
        t.close()
