"""A client that offers no algorithm the server speaks is logged at INFO, once, with its
address and which list failed (`negotiation failed remote_addr=A reason="no matching ..."`),
like OpenSSH's `Unable to negotiate with A port N: no matching ... found`. Real OpenSSH clients
restricted to what alknet lacks, each from its own loopback source address."""
import re
import subprocess

import pytest

from conftest import start_server

SSH_TIMEOUT = 30

CASES = [
    ("127.0.0.2", ["-o", "KexAlgorithms=diffie-hellman-group1-sha1"],
     "no matching key exchange method"),
    ("127.0.0.3", ["-o", "HostKeyAlgorithms=ecdsa-sha2-nistp256"], "no matching host key type"),
    ("127.0.0.4", ["-c", "aes128-cbc"], "no matching cipher"),
    ("127.0.0.5", ["-c", "aes128-ctr", "-m", "hmac-sha1"], "no matching MAC"),
]


@pytest.fixture(scope="module")
def negotiation_log(keys, tmp_path_factory):
    srv = start_server(keys, tmp_path_factory.mktemp("negotiation"))  # --log-level info
    try:
        for src, opts, _ in CASES:
            # The client sends its KEXINIT before it reads ours, so the server always sees
            # the offer, whichever side notices the mismatch first.
            r = subprocess.run(srv.ssh_cmd(keys.default, "-b", src, *opts, "-N"),
                               capture_output=True, timeout=SSH_TIMEOUT,
                               stdin=subprocess.DEVNULL)
            assert r.returncode != 0
        for src, _, reason in CASES:
            assert srv.wait_log('negotiation failed remote_addr=%s reason="%s"' % (src, reason))
    finally:
        srv.stop()
    return srv.log()


@pytest.mark.parametrize("src,opts,reason", CASES, ids=[c[2].split()[-1] for c in CASES])
def test_negotiation_failed_line(negotiation_log, src, opts, reason):
    log = negotiation_log
    lines = [ln for ln in log.splitlines() if "remote_addr=%s " % src in ln + " "]
    failed = [ln for ln in lines if " negotiation failed " in ln]
    assert len(failed) == 1, lines
    assert re.fullmatch(r'\S+Z INFO negotiation failed remote_addr=%s reason="%s"'
                        % (re.escape(src), reason), failed[0]), failed[0]
    # The rest of the connection's lines are the usual pair, nothing about the offer.
    assert any("connection opened" in ln for ln in lines)
    assert any("connection closed" in ln for ln in lines)


def test_successful_login_logs_no_negotiation_line(server_factory, keys):
    srv = server_factory()
    r = subprocess.run(srv.ssh_cmd(keys.default, "-b", "127.0.0.6", "-W", "127.0.0.1:9"),
                       capture_output=True, timeout=SSH_TIMEOUT, stdin=subprocess.DEVNULL)
    assert srv.wait_log("result=accept"), r.stderr
    srv.stop()
    assert "negotiation failed" not in srv.log()
