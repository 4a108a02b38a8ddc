#!/usr/bin/env bash
# The install path of action.yml and of scripts/install.sh, end to end on this machine: the built
# binary is packaged as a release ships it (scripts/package.sh), served from a local HTTP server in
# the release layout, and installed against a pinned checksum. A swapped archive and a version
# without pinned checksums must be refused with nothing installed. Prints one line per check and
# "install tests: N passed, M failed" last; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbrelease-target}"
bin="$CARGO_TARGET_DIR/release/dbrelease"
target=$(rustc -vV | sed -n 's/^host: //p')
version=v0.0.0-test
work="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
. scripts/checks.sh

mkdir -p "$work/site/$version" "$work/checksums"
archive=$(scripts/package.sh "$bin" "$target" "$work/site/$version")
cp "$archive.sha256" "$work/checksums/$version.sha256"
python3 - "$work/site" >"$work/port" <<'PY' &
import functools, http.server, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
handler = functools.partial(Quiet, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
server=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$work/port")"
install() { scripts/install.sh --base-url "$base" --checksums "$work/checksums" "$@"; }

installs_the_pinned_binary() {
  install --version "$version" --to "$work/bin" | grep -q "^dbrelease " \
    && cmp -s "$bin" "$work/bin/dbrelease"
}
refuses_a_swapped_archive() {
  # Same name, other bytes: a release whose asset was replaced after the checksum was pinned.
  printf '#!/bin/sh\necho pwned\n' >"$work/evil" && chmod +x "$work/evil"
  scripts/package.sh "$work/evil" "$target" "$work/site/$version" >/dev/null
  ! install --version "$version" --to "$work/bin2" 2>"$work/err" \
    && grep -q "refusing to install" "$work/err" && [ ! -e "$work/bin2/dbrelease" ]
}
refuses_a_version_without_pinned_checksums() {
  ! install --version v9.9.9 --to "$work/bin3" 2>"$work/err" \
    && grep -q "no pinned checksums for v9.9.9" "$work/err" && [ ! -e "$work/bin3/dbrelease" ]
}
check "installs the packaged binary against its pinned checksum ($target)" installs_the_pinned_binary
check "refuses a swapped archive and installs nothing" refuses_a_swapped_archive
check "refuses a version whose checksums are not pinned" refuses_a_version_without_pinned_checksums
echo "install tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
