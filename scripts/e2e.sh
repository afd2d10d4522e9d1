#!/usr/bin/env bash
# End-to-end and fault tests on a real local SLURM testbed (needs root): brings the testbed up, runs
# the e2e suite, and always tears the testbed down. Exit 3 when the testbed could not start.
set -uo pipefail
cd "$(dirname "$0")/.."
trap 'bash testbed/down.sh >/dev/null 2>&1 || true' EXIT
# TB_PYXIS (real by default, or fake) passes through to up.sh, which prints "testbed: pyxis ...".
bash testbed/up.sh || exit 3
echo "e2e: testbed pyxis: $(cat /var/lib/slurm-testbed/pyxis-kind 2>/dev/null || echo unknown)"
pnpm --filter @dyn/e2e run test:e2e
