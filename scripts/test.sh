#!/usr/bin/env bash
# The test command (README, .ci/run): every test, in the one release profile, then the
# end-to-end release workflow with real semantic-release (needs node/npm; skipped with
# DBRELEASE_SKIP_E2E=1 or when arguments select cargo tests).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbrelease-target}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --release "$@" 2>&1 | tee "$log" || status=$?
e2e_passed=0
e2e_failed=0
if [ "$#" -eq 0 ] && [ "${DBRELEASE_SKIP_E2E:-0}" != 1 ]; then
  if scripts/e2e_semantic_release.sh; then e2e_passed=2; else e2e_failed=2; status=1; fi
fi
# One total over every test binary and the end-to-end runs, so the last line says what ran.
awk -v ep="$e2e_passed" -v ef="$e2e_failed" \
  '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
   END { printf "tests: %d passed, %d failed (including %d end-to-end semantic-release runs)\n", p + ep, f + ef, ep + ef }' "$log"
exit "$status"
