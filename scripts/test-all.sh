#!/usr/bin/env bash
# The whole test suite: build, typecheck, lint, every package's unit tests, the stand-in runtime's
# tests, then the end-to-end and fault tests on a real local SLURM testbed (needs root), which is
# always torn down. Ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export TURBO_TELEMETRY_DISABLED=1 DYN_TEST_REPORTS="$ROOT/reports"
rm -rf "$DYN_TEST_REPORTS" && mkdir -p "$DYN_TEST_REPORTS"

gate() { # gate <name> <command...>: run a check and record PASS/FAIL for the tally
  local name=$1
  shift
  echo "==> $name"
  if "$@"; then echo "PASS $name" >>"$DYN_TEST_REPORTS/gates"; else echo "FAIL $name" >>"$DYN_TEST_REPORTS/gates"; fi
}

gate system-deps bash scripts/system-deps.sh
gate build pnpm run build
gate typecheck pnpm run typecheck
gate lint pnpm run lint
echo "==> unit tests"
pnpm exec turbo run test --force --continue
echo "==> stand-in runtime tests"
python3 -m unittest discover -s testbed/runtime/tests -t testbed/runtime >"$DYN_TEST_REPORTS/runtime.txt" 2>&1
tail -n 3 "$DYN_TEST_REPORTS/runtime.txt"

echo "==> end-to-end tests on the SLURM testbed"
bash scripts/e2e.sh
[ $? -eq 3 ] && echo "FAIL testbed-up" >>"$DYN_TEST_REPORTS/gates" || echo "PASS testbed-up" >>"$DYN_TEST_REPORTS/gates"
echo "==> summary"
node scripts/tally.mjs "$DYN_TEST_REPORTS" core,backend-vllm,backend-sglang,backend-trtllm,example-mocker,cli,repo,e2e,e2e-scale
