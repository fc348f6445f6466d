"""The configuration file, `alknet serve --check`, file modes (StrictModes) and several
listeners.

- a --config file sets what the options set; the command line overrides it; `listen` repeats;
- every problem of a file is reported as FILE:LINE: message, and the server does not start;
- --check loads keys and files and exits 0 or 1 without listening;
- an authorized_keys, config or host key file that others may change is refused with the fix.
"""
import os
import shutil
import socket
import subprocess

import pytest

from conftest import ALKNET, free_port, listening_ports, sandbox_args


def run(*args, timeout=20):
    return subprocess.run([ALKNET] + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def private_copy(keys, tmp_path):
    """Host key and authorized_keys in a directory of the test's own (mode 0700)."""
    d = tmp_path / "etc"
    d.mkdir(mode=0o700)
    host = d / "host_ed25519"
    shutil.copy(keys.host, host)
    os.chmod(host, 0o600)
    ak = d / "authorized_keys"
    shutil.copy(keys.authorized, ak)
    os.chmod(ak, 0o644)
    return d, str(host), str(ak)


def write_conf(d, text, mode=0o644):
    p = d / "alknet.conf"
    p.write_text(text)
    os.chmod(p, mode)
    return str(p)


def test_check_accepts_a_good_configuration_without_listening(server_factory, keys, tmp_path):
    d, host, ak = private_copy(keys, tmp_path)
    port = free_port()
    conf = write_conf(d, "# comment\n\nkey %s\nauthorized-keys \"%s\"\nlisten 127.0.0.1:%d\n"
                      "max-auth-attempts=6\n" % (host, ak, port))
    r = run("serve", "--config", conf, "--check")
    assert r.returncode == 0, r.stderr
    assert "configuration ok" in r.stdout
    assert port not in listening_ports()


def test_check_lists_every_problem_with_file_and_line(server_factory, keys, tmp_path):
    d, host, ak = private_copy(keys, tmp_path)
    conf = write_conf(d, "key %s\nauthorized-keys %s\nbogus-keyword 1\nmax-auth-attempts x\n"
                      "listen 127.0.0.1\nlisten \"127.0.0.1:22\ncheck yes\nconnect-timeout 5\n"
                      "connect-timeout 6\n" % (host, ak))
    r = run("serve", "--config", conf, "--check")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert "%s:3: unknown keyword 'bogus-keyword' (see alknet --help)" % conf in lines
    assert "%s:4: max-auth-attempts: 'x' is not a number from 1 to 1000" % conf in lines
    assert any(l.startswith("%s:5: listen: '127.0.0.1' is not ADDR:PORT" % conf) for l in lines)
    assert "%s:6: unterminated quote" % conf in lines
    assert "%s:7: 'check' is a command-line option only" % conf in lines
    assert "%s:9: connect-timeout given twice (first on line 8)" % conf in lines
    assert len(lines) == 6, lines


def test_check_reports_missing_and_unloadable_files(server_factory, keys, tmp_path):
    d, host, ak = private_copy(keys, tmp_path)
    r = run("serve", "--key", str(d / "nope"), "--authorized-keys", ak, "--check")
    assert r.returncode == 1
    assert "%s: cannot read" % (d / "nope") in r.stderr
    bad = d / "bad_key"
    bad.write_text("not a key\n")
    os.chmod(bad, 0o600)
    r = run("serve", "--key", str(bad), "--authorized-keys", ak, "--check")
    assert r.returncode == 1 and "%s: host key:" % bad in r.stderr, r.stderr


def test_bad_config_file_stops_the_server_with_file_and_line(server_factory, keys, tmp_path):
    d, host, ak = private_copy(keys, tmp_path)
    port = free_port()
    conf = write_conf(d, "key %s\nauthorized-keys %s\nlisten 127.0.0.1:%d\nmax-startups 0:0\n"
                      % (host, ak, port))
    r = run("serve", "--config", conf)
    assert r.returncode == 2
    assert ("alknet: %s:4: max-startups: '0:0' is not N or start:rate:full" % conf) in r.stderr
    assert port not in listening_ports()


def test_command_line_overrides_the_file_and_listen_repeats(server_factory, keys, tmp_path):
    d, host, ak = private_copy(keys, tmp_path)
    p1, p2, p3 = free_port(), free_port(), free_port()
    conf = write_conf(d, "key %s\nauthorized-keys %s\nlisten 127.0.0.1:%d\nlisten [::1]:%d\n"
                      "max-auth-attempts 2\n" % (host, ak, p1, p2))
    # The file's two listeners, both serving.
    r = run("serve", "--config", conf, "--check")
    assert r.returncode == 0, r.stderr
    srv = server_factory("--config", conf, authorized=ak, host_key=host)
    try:
        # start_server adds its own --listen: the command line replaces the file's listeners.
        assert p1 not in listening_ports() and p2 not in listening_ports()
        assert "listening addr=127.0.0.1:%d " % srv.port in srv.log()
    finally:
        assert srv.stop() == 0  # under valgrind/ASan: no leak, no memory error
    proc = subprocess.Popen([ALKNET, "serve", "--config", conf, "--max-auth-attempts", "1",
                             "--listen", "127.0.0.1:%d" % p3, "--listen", "127.0.0.1:%d" % p1]
                            + sandbox_args(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        from conftest import wait_until
        assert wait_until(lambda: p3 in listening_ports() and p1 in listening_ports(), 10)
        for p in (p3, p1):
            with socket.create_connection(("127.0.0.1", p), timeout=5) as s:
                assert s.recv(64).startswith(b"SSH-2.0-alknet")
        assert p2 not in listening_ports()
        # --max-auth-attempts 1 on the command line beats the file's 2.
        subprocess.run(["ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
                        "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                        "-o", "IdentitiesOnly=yes", "-i", keys.stranger, "-p", str(p3),
                        "x@127.0.0.1", "true"], capture_output=True, timeout=20)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert "listening addr=127.0.0.1:%d,127.0.0.1:%d " % (p3, p1) in out, out
    assert "too many auth failures remote_addr=127.0.0.1 attempts=1" in out, out


def test_file_listeners_all_serve(server_factory, keys, tmp_path):
    d, host, ak = private_copy(keys, tmp_path)
    p1, p2 = free_port(), free_port("::1")
    conf = write_conf(d, "key %s\nauthorized-keys %s\nlisten 127.0.0.1:%d\nlisten [::1]:%d\n"
                      % (host, ak, p1, p2))
    proc = subprocess.Popen([ALKNET, "serve", "--config", conf] + sandbox_args(),
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        from conftest import wait_until
        assert wait_until(lambda: p1 in listening_ports() and p2 in listening_ports(), 10)
        for fam, addr in ((socket.AF_INET, ("127.0.0.1", p1)), (socket.AF_INET6, ("::1", p2))):
            with socket.socket(fam) as s:
                s.settimeout(5)
                s.connect(addr)
                assert s.recv(64).startswith(b"SSH-2.0-alknet")
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert "listening addr=127.0.0.1:%d,[::1]:%d " % (p1, p2) in out, out


@pytest.mark.parametrize("what", ["authorized_keys", "config", "host_key", "directory"])
def test_files_others_may_change_are_refused(server_factory, keys, tmp_path, what):
    d, host, ak = private_copy(keys, tmp_path)
    conf = write_conf(d, "key %s\nauthorized-keys %s\nlisten 127.0.0.1:%d\n"
                      % (host, ak, free_port()))
    target = {"authorized_keys": ak, "config": conf, "host_key": host, "directory": str(d)}[what]
    os.chmod(target, {"host_key": 0o620, "directory": 0o777}.get(what, 0o666))
    r = run("serve", "--config", conf)
    assert r.returncode != 0
    if what == "directory":
        assert "its directory %s is writable by others (mode 0777); run: chmod go-w %s" % (
            d, d) in r.stderr, r.stderr
    else:
        assert "%s: others may change it (mode 0%o); run: chmod go-w %s" % (
            target, os.stat(target).st_mode & 0o777, target) in r.stderr, r.stderr
    r = run("serve", "--config", conf, "--check")
    assert r.returncode == 1 and "run: chmod go-w" in r.stderr


def test_sticky_world_writable_directory_is_fine(server_factory, keys, tmp_path):
    d, host, ak = private_copy(keys, tmp_path)
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    ak2 = sticky / "authorized_keys"
    shutil.copy(ak, ak2)
    os.chmod(ak2, 0o644)
    r = run("serve", "--key", host, "--authorized-keys", str(ak2), "--check")
    assert r.returncode == 0, r.stderr
