"""contrib/systemd: `systemd-analyze verify` (Debian package systemd) accepts both units
without a warning, once ExecStart names the built binary (verify checks that it exists) and
man(1) can find man/alknet.1 (verify checks Documentation=man: pages too). Also the
sandbox stays tight (`systemd-analyze security --offline`), and the example configuration
passes `alknet serve --check` once the server has --config/--check."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ALKNET, ROOT, free_port, keygen

UNITS = os.path.join(ROOT, "contrib", "systemd")
EXAMPLE = os.path.join(ROOT, "contrib", "alknet.conf.example")

needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze missing (scripts/deps/test.txt)")


@pytest.fixture
def unit_dir(tmp_path):
    """Both units in tmp_path/units with ExecStart on the built binary; MANPATH for verify."""
    d = tmp_path / "units"
    d.mkdir()
    for name in ("alknet.service", "alknet.socket"):
        text = open(os.path.join(UNITS, name)).read()
        if name.endswith(".service"):
            assert "ExecStart=/usr/local/bin/alknet serve --config /etc/alknet/alknet.conf\n" \
                in text
            text = text.replace("ExecStart=/usr/local/bin/alknet ",
                                "ExecStart=%s " % os.path.abspath(ALKNET))
        (d / name).write_text(text)
    man1 = tmp_path / "man" / "man1"
    man1.mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, "man", "alknet.1"), str(man1))
    env = dict(os.environ, MANPATH="%s:%s" % (tmp_path / "man",
                                              os.environ.get("MANPATH", "/usr/share/man")),
               SYSTEMD_LOG_LEVEL="notice")
    return d, env


@needs_analyze
def test_units_verify_cleanly(unit_dir):
    d, env = unit_dir
    r = subprocess.run(["systemd-analyze", "verify", str(d / "alknet.service"),
                        str(d / "alknet.socket")],
                       capture_output=True, text=True, timeout=120, env=env)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    # Nothing about our units (lines about other, system units are not ours to fix).
    ours = [ln for ln in out.splitlines() if "alknet" in ln or str(d) in ln]
    assert not ours, out


@needs_analyze
def test_service_sandbox_exposure_is_low(unit_dir):
    d, env = unit_dir
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                        str(d / "alknet.service")],
                       capture_output=True, text=True, timeout=120, env=env)
    m = re.search(r"Overall exposure level for alknet.service: ([0-9.]+)", r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


def test_service_has_the_documented_settings():
    text = open(os.path.join(UNITS, "alknet.service")).read()
    lines = set(ln for ln in text.splitlines() if ln and not ln.startswith("#"))
    for want in ["Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                 "PrivateTmp=yes", "PrivateDevices=yes",
                 "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE",
                 "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 "SystemCallFilter=@system-service", "SystemCallArchitectures=native",
                 "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
                 "ProtectKernelLogs=yes", "ProtectControlGroups=yes", "RestrictNamespaces=yes",
                 "LockPersonality=yes", "MemoryDenyWriteExecute=yes", "RestrictRealtime=yes",
                 "RestrictSUIDSGID=yes", "ProtectClock=yes", "ProtectHostname=yes",
                 "ProtectProc=invisible", "UMask=077", "LimitNOFILE=65536", "User=alknet",
                 "ConfigurationDirectory=alknet"]:
        assert want in lines, want
    sock = open(os.path.join(UNITS, "alknet.socket")).read()
    assert re.search(r"^ListenStream=22$", sock, re.M)
    assert re.search(r"^Accept=no$", sock, re.M)


def test_example_config_checks(tmp_path, keys):
    """The example, with its paths moved into tmp_path, passes --check."""
    host = keygen(str(tmp_path / "host_ed25519"), ["-t", "ed25519"])
    text = open(EXAMPLE).read().replace("/etc/alknet/host_ed25519", host)
    text = text.replace("/etc/alknet/authorized_keys", keys.authorized)
    text = text.replace("listen 0.0.0.0:22", "listen 127.0.0.1:%d" % free_port())
    conf = tmp_path / "alknet.conf"
    conf.write_text(text)
    r = subprocess.run([ALKNET, "serve", "--config", str(conf), "--check"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
