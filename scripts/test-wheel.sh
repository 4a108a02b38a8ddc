#!/usr/bin/env bash
# The Python package as a data user gets it, end to end on this machine: the Linux x86_64 wheel
# and the sdist built by scripts/build-wheel.sh (as the release workflow builds them: zig,
# manylinux2014), checked with auditwheel and twine, served from a local package index on
# loopback (a PEP 503 folder), installed into a fresh virtualenv with no Rust toolchain on PATH,
# then a first verified fetch and a DuckDB query against the GitHub fake. Prints one line per
# check, the wheel's size and the seconds from `pip install` to the first query, and
# "wheel tests: N passed, M failed" last. WHEEL_DIR: where to leave the wheel (scripts/test.sh
# installs the same wheel for the package's pytest run).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbrelease-target}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/dbrelease-test"
mkdir -p "$cache"
. scripts/venv.sh
tools=$(venv_for scripts/requirements-wheels.txt)
work="$(mktemp -d)"
wheels="${WHEEL_DIR:-$work/wheels}"
mkdir -p "$wheels"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
. scripts/checks.sh

# Its own target folder (the Python crate has its own lock file and a cross target), outside
# the clone like the main one, so later runs reuse it.
build() {
  PATH="$tools/bin:$PATH" CARGO_TARGET_DIR="${DBRELEASE_WHEEL_TARGET_DIR:-$HOME/.cache/dbrelease-wheel-target}" \
    scripts/build-wheel.sh "$wheels" x86_64-unknown-linux-gnu \
    && PATH="$tools/bin:$PATH" scripts/build-wheel.sh "$wheels" sdist
}
check "builds the manylinux2014 wheel and the sdist with scripts/build-wheel.sh" build
wheel=$(ls "$wheels"/dbrelease-*.whl 2>/dev/null | head -1 || true)
sdist=$(ls "$wheels"/dbrelease-*.tar.gz 2>/dev/null | head -1 || true)

auditwheel_passes() {
  "$tools/bin/auditwheel" show "$wheel" | tee "$work/auditwheel.txt" \
    && tr -s ' \n' '  ' <"$work/auditwheel.txt" \
      | grep -q 'consistent with the following platform tag: "manylinux_2_17_x86_64"'
}
twine_passes() { "$tools/bin/twine" check --strict "$wheel" "$sdist"; }
check "auditwheel show: manylinux_2_17_x86_64 (any glibc >= 2.17)" auditwheel_passes
check "twine check --strict: the wheel and the sdist" twine_passes
[ -f "$work/auditwheel.txt" ] && sed 's/^/     /' "$work/auditwheel.txt"

# A PEP 503 index folder: /simple/<project>/ lists the files (http.server's listing is that).
index="$work/index/simple"
mkdir -p "$index/dbrelease" "$index/duckdb"
[ -n "$wheel" ] && cp "$wheel" "$index/dbrelease/"
# dbrelease[duckdb]'s dependency, from PyPI into the local index (the user's index has it too).
"$tools/bin/python3" -m pip download --quiet --disable-pip-version-check --no-deps \
  --only-binary :all: -d "$index/duckdb" duckdb==1.4.4 >/dev/null
serve() { # FOLDER → a loopback HTTP server's port (its pid joins $pids)
  python3 - "$1" >"$work/port" <<'PY' &
import functools, http.server, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=sys.argv[1]))
print(server.server_address[1], flush=True)
server.serve_forever()
PY
  pids+=($!)
  for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
  cat "$work/port"
}
index_url="http://127.0.0.1:$(serve "$work/index")/simple/"

# The GitHub fake with owner/data v1.0.0 published by the CLI.
token=ghs_wheelTestT0ken0123456789
"$CARGO_TARGET_DIR/release/examples/github_fake_server" owner data "$token" >"$work/fake" &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/fake" ] && break; sleep 0.1; done
api=$(head -1 "$work/fake")
GITHUB_API_URL="$api" GITHUB_TOKEN="$token" "$CARGO_TARGET_DIR/release/dbrelease" -q publish \
  --github --repo owner/data --tag v1.0.0 --out "$work/dist" >/dev/null

# A fresh virtualenv, a PATH with no cargo or rustc: pip must not compile anything.
bare_path=$(dirname "$(command -v python3)"):/usr/bin:/bin
installs_from_the_index_without_rust() {
  env -i HOME="$work/home" PATH="$bare_path" bash -c '! command -v cargo && ! command -v rustc' >/dev/null \
    && python3 -m venv "$work/user" \
    && start=$(date +%s.%N) \
    && env -i HOME="$work/home" PATH="$work/user/bin:$bare_path" \
      pip install --quiet --disable-pip-version-check --no-cache-dir --index-url "$index_url" \
      'dbrelease[duckdb]' \
    && env -i HOME="$work/home" PATH="$work/user/bin:$bare_path" GITHUB_API_URL="$api" \
      XDG_CACHE_HOME="$work/home/cache" python3 - <<'PY' \
    && echo "$start $(date +%s.%N)" >"$work/seconds"
import dbrelease
con = dbrelease.connect("owner/data", tag="v1.0.0")
rows = con.execute("SELECT count(*) FROM daily_availability").fetchone()[0]
assert rows == 720, rows
print("first query:", rows, "rows")
PY
}
check "pip install 'dbrelease[duckdb]' from a loopback index, no Rust on PATH, then a verified fetch and a query" \
  installs_from_the_index_without_rust
if [ -n "$wheel" ]; then
  echo "     wheel: $(basename "$wheel"), $(stat -c %s "$wheel") bytes"
fi
if [ -f "$work/seconds" ]; then
  awk '{ printf "     pip install to first query: %.1f s\n", $2 - $1 }' "$work/seconds"
fi
echo "wheel tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
