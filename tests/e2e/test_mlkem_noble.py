"""ML-KEM-768 encapsulation (src/ssh/mlkem768.c) against an independent implementation:
node's @noble/post-quantum (tests/e2e/interop/) makes 50 key pairs, tests/tools/mlkem_encaps
encapsulates to each with a random m, noble decapsulates, and the shared secrets must match.
Keys that fail the FIPS 203 §7.2 modulus check or the length check must be refused.

Needs: scripts/install-deps interop (npm ci in interop/) and make build/tests/mlkem_encaps.
"""
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INTEROP = os.path.join(HERE, "interop")
SCRIPT = os.path.join(INTEROP, "mlkem_noble.mjs")
TOOL = os.path.join(ROOT, "build", "tests", "mlkem_encaps")
N = 50


@pytest.fixture(scope="module")
def tools():
    if not os.path.isdir(os.path.join(INTEROP, "node_modules", "@noble", "post-quantum")):
        pytest.fail("@noble/post-quantum is not installed: run scripts/install-deps interop")
    if not os.access(TOOL, os.X_OK):
        pytest.fail("%s is missing: make build/tests/mlkem_encaps" % TOOL)


def run(cmd, data=""):
    p = subprocess.run(cmd, input=data, capture_output=True, text=True, timeout=120,
                       cwd=INTEROP)
    assert p.returncode == 0, "%s failed: %s" % (cmd[0], p.stderr)
    return p.stdout.splitlines()


def encaps(keys_hex):
    return [line.split(" ") for line in run([TOOL], "".join(k + "\n" for k in keys_hex))]


@pytest.fixture(scope="module")
def pairs(tools):
    return [line.split(" ") for line in run(["node", SCRIPT, "keygen", str(N)])]


def test_noble_decapsulates_our_ciphertexts(pairs):
    out = encaps([ek for ek, _ in pairs])
    assert len(out) == N
    assert all(o[0] == "ok" and len(o[1]) == 2 * 1088 and len(o[2]) == 64 for o in out)
    lines = "".join("%s %s\n" % (dk, o[1]) for (_, dk), o in zip(pairs, out))
    secrets = run(["node", SCRIPT, "decaps"], lines)
    assert secrets == [o[2] for o in out]
    assert len(set(o[1] for o in out)) == N  # random m: no two ciphertexts alike


def with_coefficient(ek_hex, j, value):
    """ek with 12-bit coefficient j of t_hat set to value (ByteEncode12 layout)."""
    b = bytearray(bytes.fromhex(ek_hex))
    i = 3 * (j // 2)
    if j % 2 == 0:
        b[i] = value & 0xFF
        b[i + 1] = (b[i + 1] & 0xF0) | (value >> 8)
    else:
        b[i + 1] = (b[i + 1] & 0x0F) | ((value & 0x0F) << 4)
        b[i + 2] = value >> 4
    return b.hex()


def test_bad_keys_refused(pairs):
    ek = pairs[0][0]
    bad = [with_coefficient(ek, 0, 3329), with_coefficient(ek, 767, 4095),
           with_coefficient(ek, 300, 3329), ek[:-2], ek + "00", ""]
    good = [with_coefficient(ek, 5, 3328)]
    out = encaps(bad + good)
    assert [o[0] for o in out] == ["err"] * len(bad) + ["ok"]
    assert all(o[1] == "-1" for o in out[:len(bad)])
