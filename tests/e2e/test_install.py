"""make install / make uninstall with DESTDIR and PREFIX: every file lands where the
Makefile says, with install(1) modes, and the unit's ExecStart names PREFIX/bin/alknet."""
import os
import stat
import subprocess

import pytest

from conftest import ROOT

FILES = {
    "usr/bin/alknet": 0o755,
    "usr/share/man/man1/alknet.1": 0o644,
    "usr/lib/systemd/system/alknet.service": 0o644,
    "usr/lib/systemd/system/alknet.socket": 0o644,
    "etc/fail2ban/filter.d/alknet.conf": 0o644,
    "etc/fail2ban/jail.d/alknet.conf": 0o644,
    "usr/share/doc/alknet/alknet.conf.example": 0o644,
}


def make(*args):
    # Our own make, not a sub-make of the one running the tests (no jobserver, no SANITIZE).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    # -o alknet: install the binary that is there; never rebuild it in the middle of the tests.
    return subprocess.run(["make", "-s", "-C", ROOT, "-o", "alknet"] + list(args),
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def staged(tmp_path):
    if not os.path.exists(os.path.join(ROOT, "alknet")):
        pytest.skip("./alknet not built")
    dest = str(tmp_path / "dest")
    r = make("install", "DESTDIR=" + dest, "PREFIX=/usr")
    assert r.returncode == 0, r.stdout + r.stderr
    return dest


def test_install_places_every_file_with_its_mode(staged):
    for rel, mode in FILES.items():
        path = os.path.join(staged, rel)
        assert os.path.isfile(path), rel
        assert stat.S_IMODE(os.stat(path).st_mode) == mode, (rel, oct(os.stat(path).st_mode))
    for rel in FILES:
        src = {"usr/bin/alknet": "alknet", "usr/share/man/man1/alknet.1": "man/alknet.1",
               "usr/lib/systemd/system/alknet.socket": "contrib/systemd/alknet.socket",
               "etc/fail2ban/filter.d/alknet.conf": "contrib/fail2ban/filter.d/alknet.conf",
               "etc/fail2ban/jail.d/alknet.conf": "contrib/fail2ban/jail.d/alknet.conf",
               "usr/share/doc/alknet/alknet.conf.example": "contrib/alknet.conf.example"}.get(rel)
        if src:
            assert open(os.path.join(staged, rel), "rb").read() == \
                open(os.path.join(ROOT, src), "rb").read(), rel
    r = subprocess.run([os.path.join(staged, "usr/bin/alknet"), "--version"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "alknet" in r.stdout + r.stderr


def test_install_rewrites_execstart(staged):
    unit = open(os.path.join(staged, "usr/lib/systemd/system/alknet.service")).read()
    assert "ExecStart=/usr/bin/alknet serve --config /etc/alknet/alknet.conf\n" in unit
    assert "/usr/local/" not in unit
    assert "/usr/share/doc/alknet/alknet.conf.example" in unit


def test_uninstall_removes_them(staged):
    r = make("uninstall", "DESTDIR=" + staged, "PREFIX=/usr")
    assert r.returncode == 0, r.stdout + r.stderr
    left = [os.path.join(d, f) for d, _, files in os.walk(staged) for f in files]
    assert left == []
