#!/usr/bin/env bash
# Builds the Python package (crates/dbrelease-py) the way the release workflow does; the tests
# (scripts/test-wheel.sh) build it with this same script.
#   scripts/build-wheel.sh OUT_DIR [TARGET]      an abi3 wheel (CPython >= 3.9)
#   scripts/build-wheel.sh OUT_DIR sdist         the source distribution
# Linux targets are linked with zig against glibc 2.17 (manylinux2014), whatever the runner's
# glibc; macOS and Windows build natively on their runners. Needs scripts/requirements-wheels.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/build-wheel.sh OUT_DIR [TARGET|sdist]}
target=${2:-}
manifest=crates/dbrelease-py/Cargo.toml
case "$target" in
  sdist) exec maturin sdist --manifest-path "$manifest" --out "$out" ;;
  *-linux-gnu) exec maturin build --release --locked --manifest-path "$manifest" --out "$out" \
      --zig --compatibility manylinux2014 --target "$target" ;;
  "") exec maturin build --release --locked --manifest-path "$manifest" --out "$out" ;;
  *) exec maturin build --release --locked --manifest-path "$manifest" --out "$out" --target "$target" ;;
esac
