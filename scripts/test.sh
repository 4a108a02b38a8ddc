#!/usr/bin/env bash
# The test command (README, .ci/run). It sets up what the tests need itself, so a fresh machine
# runs every test:
#   - a virtualenv with the pinned Python packages of scripts/requirements-test.txt, first on PATH
#     (so the tests' `python3` is the virtualenv's), and moto's S3 server from
#     scripts/requirements-moto.txt in a second one;
#   - GitHub's OpenAPI description (npm package @octokit/openapi), for the GitHub fake's contract
#     test;
#   - semantic-release by lockfile (examples/data-repository/package-lock.json), for the end-to-end release workflow;
#   - maturin, zig, auditwheel and twine (scripts/requirements-wheels.txt, in a third one), to
#     build and check the Python package's wheel (crates/dbrelease-py) as the release workflow does.
# Then every cargo test in the one release profile, then the end-to-end runs. A test that cannot
# run records itself in $DBRELEASE_SKIP_LOG; skips are counted in the last line, and with CI=true
# any skip fails the run. Arguments select cargo tests (and skip the end-to-end runs).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbrelease-target}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/dbrelease-test"
mkdir -p "$cache"

# Python: one virtualenv per requirements file content, reused across runs.
. scripts/venv.sh
venv=$(venv_for scripts/requirements-test.txt)
export PATH="$venv/bin:$PATH"
# moto's S3 server from its own virtualenv (see scripts/requirements-moto.txt), by full path.
DBRELEASE_MOTO_SERVER="$(venv_for scripts/requirements-moto.txt)/bin/moto_server"
export DBRELEASE_MOTO_SERVER

# GitHub's own OpenAPI description, pinned by version.
openapi_version=23.0.2
openapi="$cache/octokit-openapi-$openapi_version/package/generated/api.github.com.json"
if [ ! -f "$openapi" ]; then
  mkdir -p "$(dirname "$openapi")/../.."
  (cd "$cache" && npm pack --silent "@octokit/openapi@$openapi_version" >/dev/null \
    && mkdir -p "octokit-openapi-$openapi_version" \
    && tar xzf "octokit-openapi-$openapi_version.tgz" -C "octokit-openapi-$openapi_version" package/generated/api.github.com.json \
    && rm -f "octokit-openapi-$openapi_version.tgz")
fi
export DBRELEASE_GITHUB_OPENAPI="$openapi"

# A headless browser and an OCR engine, for the test that reads the data card's index.html the
# way a visitor sees it (daily::a_new_day_shows_in_the_notes_the_card_page_and_describe). Debian
# packages; installed only where we may (root), otherwise that test records a skip.
if ! command -v chromium >/dev/null || ! command -v tesseract >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium tesseract-ocr tesseract-ocr-eng fonts-dejavu-core) >/dev/null 2>&1 \
      || echo "could not install chromium and tesseract-ocr with apt-get" >&2
  fi
fi

log=$(mktemp)
skips=$(mktemp)
faults=$(mktemp)
trap 'rm -f "$log" "$skips" "$faults"' EXIT
export DBRELEASE_SKIP_LOG="$skips"
# The randomized fault harness (publish_github::random_faults_and_kills_never_tear_a_release)
# writes its counts here; printed before the last line.
export DBRELEASE_FAULT_REPORT="$faults"
status=0
cargo test --release --workspace --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
# Skipped cargo tests returned early, so cargo counted them as passed.
cargo_skipped=$(grep -c . "$skips" || true)
# The Python package: built from the consumer crate with maturin (an abi3 wheel), installed into
# the test virtualenv, and tested with pytest against the GitHub fake and a static server.
py_passed=0
py_failed=0
wheel_passed=0
wheel_failed=0
# Runs a script that ends with "NAME tests: N passed, M failed", shows its output and sets
# NAME_passed and NAME_failed from that line (a run that ends without it counts as a failure).
counted() { # NAME, then the command
  local name=$1 log counts
  shift
  log=$(mktemp)
  "$@" >"$log" 2>&1 || status=1
  cat "$log"
  counts=$(sed -n "s/^$name tests: \([0-9]*\) passed, \([0-9]*\) failed\$/\1 \2/p" "$log")
  rm -f "$log"
  [ -n "$counts" ] || { counts="0 1"; status=1; }
  printf -v "${name}_passed" %s "${counts% *}"
  printf -v "${name}_failed" %s "${counts#* }"
}
if [ "$#" -eq 0 ]; then
  cargo build --release --quiet --bin dbrelease --example github_fake_server
  wheels=$(mktemp -d)
  py_log=$(mktemp)
  # The wheel as the release workflow builds it (scripts/test-wheel.sh checks it, installs it
  # from a loopback index into a fresh virtualenv without Rust), then the package's tests on it.
  counted wheel env WHEEL_DIR="$wheels" scripts/test-wheel.sh
  if python3 -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheels"/*.whl >>"$py_log" 2>&1 \
    && REPO_ROOT="$PWD" DBRELEASE_BIN="$CARGO_TARGET_DIR/release/dbrelease" \
      DBRELEASE_FAKE_BIN="$CARGO_TARGET_DIR/release/examples/github_fake_server" \
      python3 -m pytest -q -p no:cacheprovider crates/dbrelease-py/tests >>"$py_log" 2>&1; then
    py_passed=$(sed -n 's/^\([0-9]*\) passed.*/\1/p' "$py_log" | tail -1)
  else
    py_failed=1
    status=1
  fi
  cat "$py_log"
  rm -rf "$wheels" "$py_log"
fi
# The binary's install path (action.yml, scripts/install.sh): packaged, served, installed
# against a pinned checksum; a swapped archive refused.
install_passed=0
install_failed=0
if [ "$#" -eq 0 ]; then
  counted install scripts/test-install.sh
fi
e2e_passed=0
e2e_failed=0
if [ "$#" -eq 0 ] && [ "${DBRELEASE_SKIP_E2E:-0}" != 1 ]; then
  if scripts/e2e_semantic_release.sh; then e2e_passed=2; else e2e_failed=2; status=1; fi
elif [ "$#" -eq 0 ]; then
  echo "end-to-end semantic-release runs (DBRELEASE_SKIP_E2E=1)" >>"$skips"
fi
skipped=$(grep -c . "$skips" || true)
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests:" >&2
  sed 's/^/  /' "$skips" >&2
  if [ "${CI:-}" = true ]; then status=1; fi
fi
cat "$faults"
# One total over every test binary and the end-to-end runs, so the last line says what ran.
awk -v ep="$((e2e_passed + py_passed + install_passed + wheel_passed))" -v ef="$((e2e_failed + py_failed + install_failed + wheel_failed))" -v sk="$skipped" -v csk="$cargo_skipped" -v py="$py_passed" \
  '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
   END { printf "tests: %d passed, %d failed, %d skipped (including %d Python package tests, the wheel and install tests and the end-to-end semantic-release runs)\n", p + ep - csk, f + ef, sk, py }' "$log"
exit "$status"
