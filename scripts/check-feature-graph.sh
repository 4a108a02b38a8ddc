#!/usr/bin/env bash
# Fails when `cargo build` (normal dependencies) and `cargo test` (with dev-dependencies) would
# enable different features on a shared crate: then the test build recompiles what the run
# build compiled. The fix is a line in crates/workspace-hack/Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
tree() {
  cargo tree --workspace -e "$1" --prefix none -f '{p} {f}' | sed 's/ (\*)//; /workspace-hack/d' | sort -u
}
differ=$(comm -23 <(tree normal,build) <(tree normal,build,dev) || true)
if [ -n "$differ" ]; then
  echo "feature graph: cargo build and cargo test differ on these crates (build side shown):" >&2
  echo "$differ" >&2
  echo "add the test side's features to crates/workspace-hack/Cargo.toml" >&2
  exit 1
fi
echo "feature graph: build and test share every crate's features"
