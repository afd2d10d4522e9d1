#!/usr/bin/env bash
# Prepare a fresh machine (Debian bookworm, Node ≥ 20.19): pnpm (installed with npm; corepack's
# signature check fails here), the locked dependencies, and a build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PNPM_VERSION=10.34.9

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "bootstrap: installing pnpm $PNPM_VERSION with npm"
  npm install -g --no-fund --no-audit "pnpm@$PNPM_VERSION" >/dev/null
fi
export TURBO_TELEMETRY_DISABLED=1
pnpm install --frozen-lockfile --reporter=silent
pnpm run build
