#!/usr/bin/env bash
# End-to-end and fault tests on a real local SLURM testbed (needs root): brings the testbed up, runs
# the e2e suite, and always tears the testbed down. Exit 3 when the testbed could not start.
set -uo pipefail
cd "$(dirname "$0")/.."
trap 'bash testbed/down.sh >/dev/null 2>&1 || true' EXIT
# TB_PYXIS (real by default, or fake) passes through to up.sh, which prints "testbed: pyxis ...".
bash testbed/up.sh || exit 3
echo "e2e: testbed pyxis: $(cat /var/lib/slurm-testbed/pyxis-kind 2>/dev/null || echo unknown)"
# TB_ACCOUNTING (1 by default: slurmdbd + MariaDB, or 0) passes through too; endings.test.ts reads it.
echo "e2e: testbed accounting: $(cat /var/lib/slurm-testbed/accounting-kind 2>/dev/null || echo unknown)"
pnpm --filter @dyn/e2e run test:e2e
# Then the tests that need a big cluster: the same testbed with 32 nodes (up.sh tears the 4-node one
# down first). A testbed that cannot start with 32 nodes fails the scale suite (no report is written).
if TB_NODES=32 bash testbed/up.sh >"${DYN_TEST_REPORTS:-/tmp}/testbed-32.log" 2>&1; then
  pnpm --filter @dyn/e2e run test:scale
else
  echo "e2e: the 32-node testbed did not start (log: ${DYN_TEST_REPORTS:-/tmp}/testbed-32.log)"
  tail -n 20 "${DYN_TEST_REPORTS:-/tmp}/testbed-32.log"
fi
