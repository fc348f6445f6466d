#!/bin/sh
# Run by scripts/install-deps after the interop packages: installs node ssh2 for
# tests/e2e/test_interop.py and @noble/post-quantum for tests/e2e/test_mlkem_noble.py from
# tests/e2e/interop/package-lock.json. Idempotent and quiet:
# does nothing when node_modules is newer than the lock file.
set -eu
cd "$(dirname "$0")/../../tests/e2e/interop"
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "interop.sh: npm not found (it comes with the nodejs package of this machine kind)" >&2
	exit 1
fi
# --ignore-scripts: ssh2's install script only tries to compile an optional native crypto
# binding; the tests use its pure-JavaScript code, the same on every machine.
npm ci --no-audit --no-fund --ignore-scripts --omit=optional --loglevel=error >/dev/null
