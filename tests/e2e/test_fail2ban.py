"""contrib/fail2ban/filter.d/alknet.conf against a log the real server wrote, read by the real
fail2ban-regex (Debian package fail2ban). Each kind of failure comes from its own loopback
source address, so the test can tell which line banned which host:

    127.0.0.2  an unknown key (OpenSSH client)             auth attempt ... result=reject
    127.0.0.3  a password (paramiko)                       auth attempt ... method=password result=reject
    127.0.0.4  passwords until --max-auth-attempts         ... and too many auth failures
    127.0.0.5  no login within --login-grace-time          login grace time exceeded
    127.0.0.6  user names crafted to name 6.6.6.6          auth attempt ... result=reject
    127.0.0.7  only diffie-hellman-group1-sha1             negotiation failed
    127.0.0.8  a good key                                  result=accept: must not match
"""
import os
import re
import shutil
import socket
import subprocess

import paramiko
import pytest

from conftest import ROOT, start_server

FILTER = os.path.join(ROOT, "contrib", "fail2ban", "filter.d", "alknet.conf")
JAIL = os.path.join(ROOT, "contrib", "fail2ban", "jail.d", "alknet.conf")
TIMEOUT = 30
MAX_AUTH = 3
GRACE_S = 5
CRAFTED = ["x remote_addr=6.6.6.6", "x\nremote_addr=6.6.6.6", 'remote_addr=6.6.6.6 "x"']

pytestmark = pytest.mark.skipif(shutil.which("fail2ban-regex") is None,
                                reason="fail2ban-regex missing (scripts/deps/test.txt)")


def bound_socket(src, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def password_attempts(srv, src, user, n):
    """n password attempts as user on one paramiko connection from src (all refused)."""
    t = paramiko.Transport(bound_socket(src, srv.port))
    t.banner_timeout = t.auth_timeout = TIMEOUT
    try:
        t.start_client(timeout=TIMEOUT)
        for _ in range(n):
            try:
                t.auth_password(user, "secret")
            except (paramiko.AuthenticationException, paramiko.SSHException, EOFError):
                pass
            if not t.is_active():
                break
    finally:
        t.close()


def openssh(srv, key, src, *opts, user="tester"):
    return subprocess.run(srv.ssh_cmd(key, "-b", src, *opts, user=user),
                          capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def server_log(keys, tmp_path_factory):
    srv = start_server(keys, tmp_path_factory.mktemp("fail2ban"),
                       "--max-auth-attempts", str(MAX_AUTH), "--login-grace-time", str(GRACE_S))
    try:
        # The silent client first, so its grace time runs while the others log in.
        idle = bound_socket("127.0.0.5", srv.port)
        idle.sendall(b"SSH-2.0-idle\r\n")
        assert openssh(srv, keys.stranger, "127.0.0.2", "-N").returncode != 0
        password_attempts(srv, "127.0.0.3", "tester", 1)
        password_attempts(srv, "127.0.0.4", "tester", MAX_AUTH)
        for user in CRAFTED:
            password_attempts(srv, "127.0.0.6", user, 1)
        assert openssh(srv, keys.default, "127.0.0.7", "-N",
                       "-o", "KexAlgorithms=diffie-hellman-group1-sha1").returncode != 0
        openssh(srv, keys.default, "127.0.0.8", "-W", "127.0.0.1:9")  # the channel fails
        for want in ["remote_addr=127.0.0.2 user=tester key_fingerprint=",
                     "remote_addr=127.0.0.3 user=tester method=password result=reject",
                     "too many auth failures remote_addr=127.0.0.4",
                     "login grace time exceeded remote_addr=127.0.0.5",
                     "negotiation failed remote_addr=127.0.0.7",
                     "remote_addr=127.0.0.8 user=tester key_fingerprint="]:
            assert srv.wait_log(want, timeout=TIMEOUT), (want, srv.log())
        assert srv.log().count("remote_addr=127.0.0.6 user=") == len(CRAFTED), srv.log()
        idle.close()
    finally:
        srv.stop()
    return srv.log()


def fail2ban_regex(log_text, tmp_path):
    """Runs fail2ban-regex over log_text with our filter; returns [(host, line)] it matched."""
    path = os.path.join(str(tmp_path), "alknet.log")
    with open(path, "w") as f:
        f.write(log_text)
    r = subprocess.run(["fail2ban-regex", "-o", "<ip> | <msg>", path, FILTER],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return [tuple(ln.split(" | ", 1)) for ln in r.stdout.splitlines() if " | " in ln]


def expected_failures(log_text):
    """The lines the filter must match: every failure the server logged, with its address."""
    want = []
    for line in log_text.splitlines():
        if re.search(r" (auth attempt .* result=reject |too many auth failures |"
                     r"login grace time exceeded |negotiation failed )", line):
            want.append((re.search(r"remote_addr=(\S+)", line).group(1), line))
    return want


def check_matches(got, log_text):
    hosts = {h for h, _ in got}
    assert "6.6.6.6" not in hosts
    assert hosts == {"127.0.0.%d" % n for n in (2, 3, 4, 5, 6, 7)}, got
    for host, line in got:
        assert "result=accept" not in line
        assert "connection opened" not in line and "connection closed" not in line
        # The host fail2ban took is the connection's own address, the first field.
        assert re.search(r"(?:INFO|WARN) [a-z ]+ remote_addr=%s( |$)" % re.escape(host), line)
    want = expected_failures(log_text)
    assert [(h, ln[ln.index(" INFO ") if " INFO " in ln else ln.index(" WARN "):])
            for h, ln in got] == \
        [(h, ln[ln.index(" INFO ") if " INFO " in ln else ln.index(" WARN "):])
         for h, ln in want]


def test_filter_matches_each_failure_with_its_host(server_log, tmp_path):
    got = fail2ban_regex(server_log, tmp_path)
    check_matches(got, server_log)
    kinds = {}
    for host, line in got:
        kind = re.search(r"(?:INFO|WARN) (auth attempt|too many auth failures|"
                         r"login grace time exceeded|negotiation failed) ", line).group(1)
        kinds.setdefault(kind, set()).add(host)
    assert kinds["auth attempt"] == {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.6"}
    assert kinds["too many auth failures"] == {"127.0.0.4"}
    assert kinds["login grace time exceeded"] == {"127.0.0.5"}
    assert kinds["negotiation failed"] == {"127.0.0.7"}
    # The key reject and the password rejects each count.
    assert sum(1 for h, _ in got if h == "127.0.0.4") == MAX_AUTH + 1
    assert sum(1 for h, _ in got if h == "127.0.0.6") == len(CRAFTED)


def test_accepted_login_does_not_match(server_log, tmp_path):
    assert re.search(r"remote_addr=127\.0\.0\.8 .*result=accept", server_log)
    got = fail2ban_regex(server_log, tmp_path)
    assert all(h != "127.0.0.8" for h, _ in got)


def test_crafted_user_names_are_escaped_in_the_log(server_log):
    lines = [ln for ln in server_log.splitlines() if "remote_addr=127.0.0.6 " in ln]
    assert lines and all("remote_addr=6.6.6.6" not in ln for ln in lines)
    assert "user=x\\x20remote_addr\\x3d6.6.6.6 " in server_log


def test_filter_reads_journal_style_lines(server_log, tmp_path):
    """As read from the journal: "HOST alknet[PID]: " before our line, the date given apart
    (simulated with a leading timestamp, which fail2ban-regex takes as the entry's date)."""
    journal = "".join("%s myhost alknet[4242]: %s\n" % (ln.split(" ", 1)[0], ln)
                      for ln in server_log.splitlines() if ln)
    got = fail2ban_regex(journal, tmp_path)
    check_matches(got, journal)


def fail2ban_config(tmp_path, local):
    """A copy of the system's fail2ban configuration with only our jail, our filter and
    jail.d/alknet.local = local; returns what `fail2ban-client -d` would send the server."""
    if not os.path.isdir("/etc/fail2ban"):
        pytest.skip("no /etc/fail2ban")
    conf = os.path.join(str(tmp_path), "fail2ban")
    shutil.copytree("/etc/fail2ban", conf)
    shutil.copy(FILTER, os.path.join(conf, "filter.d", "alknet.conf"))
    jail = open(JAIL).read()
    assert re.search(r"^enabled\s*=\s*false$", jail, re.M)  # until the admin enables it
    jail = jail.replace("/var/log/alknet/alknet.log", os.path.join(str(tmp_path), "alknet.log"))
    open(os.path.join(str(tmp_path), "alknet.log"), "w").close()
    for name in os.listdir(os.path.join(conf, "jail.d")):
        os.unlink(os.path.join(conf, "jail.d", name))  # only our jail is enabled
    with open(os.path.join(conf, "jail.d", "alknet.conf"), "w") as f:
        f.write(jail)
    with open(os.path.join(conf, "jail.d", "alknet.local"), "w") as f:
        f.write(local)
    r = subprocess.run(["fail2ban-client", "-c", conf, "-d"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_jail_parses_with_the_filter(tmp_path):
    """The log-file variant, enabled as the jail's comment says."""
    out = fail2ban_config(tmp_path, "[alknet]\nenabled = true\n")
    assert "['add', 'alknet', 'auto']" in out, out
    assert "'set', 'alknet', 'maxretry', 10]" in out, out
    assert "'addlogpath', '%s'" % os.path.join(str(tmp_path), "alknet.log") in out, out


def test_jail_journal_variant(tmp_path):
    """backend = systemd (README.md, Deploying): the filter's journalmatch, no log file."""
    out = fail2ban_config(tmp_path, "[alknet]\nenabled = true\nbackend = systemd\n")
    assert "['add', 'alknet', 'systemd']" in out, out
    assert "'addjournalmatch', '_SYSTEMD_UNIT=alknet.service'" in out, out
    assert "addlogpath" not in out
