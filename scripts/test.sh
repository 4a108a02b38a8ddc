#!/usr/bin/env bash
# The test command (README, .ci/run): every test, in the one release profile.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbrelease-target}"
cargo test --release "$@"
