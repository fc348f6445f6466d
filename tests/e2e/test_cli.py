"""The command line: help, version, and every kind of start-up error going to stderr with a
clear message and a non-zero exit status."""
import os
import re
import shutil
import socket
import subprocess

import pytest

from conftest import ALKNET, free_port, keygen

TIMEOUT = 10


def run(*args, user=None):
    cmd = [ALKNET] + list(args)
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)


def listen_arg():
    return "127.0.0.1:%d" % free_port()


def serve(keys, *extra, key=None, authorized=None):
    return run("serve", "--key", key or keys.host, "--authorized-keys",
               authorized or keys.authorized, "--listen", listen_arg(), *extra)


def assert_error(r, *words):
    assert r.returncode != 0
    assert r.stdout == "", "errors go to stderr, not stdout: %r" % r.stdout
    assert r.stderr.strip(), "no message on stderr"
    assert len(r.stderr) < 2000, "an error should be a short message, not a usage dump"
    low = r.stderr.lower()
    for w in words:
        assert w.lower() in low, (w, r.stderr)


def test_help():
    for args in (["--help"], ["serve", "--help"]):
        r = run(*args)
        assert r.returncode == 0, r.stderr
        assert "serve" in r.stdout
        for opt in ("--key", "--authorized-keys", "--listen", "--max-auth-attempts",
                    "--max-connections-per-ip", "--login-grace-time", "--drain-timeout",
                    "--connect-timeout", "--log-level"):
            assert opt in r.stdout, opt


def test_version():
    r = run("--version")
    assert r.returncode == 0
    assert re.match(r"alknet \d+\.\d+\.\d+", r.stdout), r.stdout


def test_no_command():
    assert_error(run(), "serve")


def test_unknown_command():
    assert_error(run("frobnicate"), "serve")


@pytest.mark.parametrize("flag", ["--bogus", "-x", "--listen-address"])
def test_unknown_flag(keys, flag):
    r = serve(keys, flag)
    assert_error(r, flag)


def test_flag_missing_value(keys):
    assert_error(run("serve", "--authorized-keys", keys.authorized, "--key"), "--key")


def test_missing_key_option(keys):
    r = run("serve", "--authorized-keys", keys.authorized, "--listen", listen_arg())
    assert_error(r, "--key")


def test_missing_authorized_keys_option(keys):
    r = run("serve", "--key", keys.host, "--listen", listen_arg())
    assert_error(r, "--authorized-keys")


def test_missing_key_file(keys, tmp_path):
    path = os.path.join(str(tmp_path), "no_such_key")
    assert_error(serve(keys, key=path), path)


def test_missing_authorized_keys_file(keys, tmp_path):
    path = os.path.join(str(tmp_path), "no_such_authorized_keys")
    assert_error(serve(keys, authorized=path), path)


def test_key_is_a_directory(keys, tmp_path):
    d = os.path.join(str(tmp_path), "keydir")
    os.mkdir(d, 0o700)
    assert_error(serve(keys, key=d), d)


def test_unreadable_key_file(keys, tmp_path):
    """The key is mode 600 and owned by root; the server runs as nobody."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the server as another user")
    d = os.path.join(str(tmp_path), "pub")
    os.mkdir(d)
    os.chmod(str(tmp_path), 0o755)
    os.chmod(d, 0o755)
    key = keygen(os.path.join(d, "host"), ["-t", "ed25519"])
    ak = os.path.join(d, "ak")
    shutil.copy(keys.authorized, ak)
    os.chmod(ak, 0o644)
    r = run("serve", "--key", key, "--authorized-keys", ak, "--listen", listen_arg(), user=65534)
    assert_error(r, key)
    assert "permission denied" in r.stderr.lower(), r.stderr


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_key_readable_by_others_refused(keys, tmp_path, mode):
    key = os.path.join(str(tmp_path), "host_open")
    shutil.copy(keys.host, key)
    os.chmod(key, mode)
    assert_error(serve(keys, key=key), "chmod", key)


def test_encrypted_key_refused(keys, tmp_path):
    key = os.path.join(str(tmp_path), "host_encrypted")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "correct horse", "-f", key],
                   check=True, timeout=TIMEOUT)
    os.chmod(key, 0o600)
    r = serve(keys, key=key)
    assert_error(r, key)
    assert "encrypt" in r.stderr.lower() or "passphrase" in r.stderr.lower(), r.stderr


def test_garbage_key_refused(keys, tmp_path):
    key = os.path.join(str(tmp_path), "host_garbage")
    with open(key, "w") as f:
        f.write("this is not a key\n")
    os.chmod(key, 0o600)
    assert_error(serve(keys, key=key), key)


def test_public_key_as_host_key_refused(keys, tmp_path):
    key = os.path.join(str(tmp_path), "host_pub")
    shutil.copy(keys.host + ".pub", key)
    os.chmod(key, 0o600)
    assert_error(serve(keys, key=key), key)


@pytest.mark.parametrize("host_type", [["-t", "ecdsa", "-b", "256"], ["-t", "rsa", "-b", "2048"]],
                         ids=["ecdsa", "rsa"])
def test_other_host_key_types_start(keys, tmp_path, host_type):
    """ECDSA and RSA host keys are accepted too (the server starts and serves ssh)."""
    from conftest import start_server
    key = keygen(os.path.join(str(tmp_path), "host_" + host_type[1]), host_type)
    srv = start_server(keys, tmp_path, host_key=key)
    try:
        r = subprocess.run(srv.ssh_cmd(keys.default, "-W", "127.0.0.1:1"), input=b"",
                           capture_output=True, timeout=30)
        assert b"Host key verification failed" not in r.stderr
        assert "result=accept" in srv.log() or srv.wait_log("result=accept", 5)
    finally:
        srv.stop()


@pytest.mark.parametrize("value", ["1.2.3.4", "[::1]", "localhost:22", "127.0.0.1:99999",
                                   "127.0.0.1:", ":22", "127.0.0.1:-1", "127.0.0.1:22x",
                                   "::1:22", "[::1:22", "999.1.1.1:22", ""])
def test_bad_listen_value(keys, value):
    r = run("serve", "--key", keys.host, "--authorized-keys", keys.authorized, "--listen", value)
    assert_error(r, "--listen")


@pytest.mark.parametrize("flag,value", [("--max-auth-attempts", "x"),
                                        ("--max-auth-attempts", "-1"),
                                        ("--max-connections-per-ip", "lots"),
                                        ("--login-grace-time", "2s"),
                                        ("--drain-timeout", "-3"),
                                        ("--connect-timeout", ""),
                                        ("--log-level", "loud")])
def test_bad_option_value(keys, flag, value):
    assert_error(serve(keys, flag, value), flag)


def test_port_in_use(keys):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        r = run("serve", "--key", keys.host, "--authorized-keys", keys.authorized,
                "--listen", "127.0.0.1:%d" % port)
        assert_error(r, "cannot listen", str(port))
    finally:
        busy.close()


def test_ipv6_port_in_use(keys):
    busy = socket.socket(socket.AF_INET6)
    busy.bind(("::1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        r = run("serve", "--key", keys.host, "--authorized-keys", keys.authorized,
                "--listen", "[::1]:%d" % port)
        assert_error(r, "cannot listen")
    finally:
        busy.close()
