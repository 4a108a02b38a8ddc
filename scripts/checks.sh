# Sourced by scripts/test-install.sh and scripts/test-wheel.sh: named checks, one line each,
# counted for their "… tests: N passed, M failed" last line. Needs $work, a scratch folder.
passed=0 failed=0
check() { # NAME, then the command that must succeed
  local name=$1; shift
  if "$@" >"$work/last.log" 2>&1; then echo "ok   $name"; passed=$((passed + 1));
  else echo "FAIL $name"; sed 's/^/     /' "$work/last.log"; failed=$((failed + 1)); fi
}
