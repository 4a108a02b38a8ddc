#!/usr/bin/env bash
# Packages a built dbrelease binary the way releases ship it, and prints the archive's path.
#   scripts/package.sh BINARY TARGET OUTDIR
# TARGET is the Rust target triple the binary was built for (its native runner). Unix targets get
# `dbrelease-TARGET.tar.gz`, Windows `dbrelease-TARGET.zip`; inside, the binary at the top level
# beside README.md and the licence files. A `ARCHIVE.sha256` line (sha256sum format) is written
# next to it; the release's SHA256SUMS is the concatenation of these.
set -euo pipefail
[ "$#" -eq 3 ] || { echo "usage: scripts/package.sh BINARY TARGET OUTDIR" >&2; exit 2; }
binary=$1 target=$2 out=$3
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -x "$binary" ] || { echo "package.sh: $binary is not an executable" >&2; exit 1; }
mkdir -p "$out"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
case "$target" in
  *windows*) exe=dbrelease.exe; archive="dbrelease-$target.zip" ;;
  *) exe=dbrelease; archive="dbrelease-$target.tar.gz" ;;
esac
cp "$binary" "$stage/$exe"
cp "$root/README.md" "$stage/"
for licence in LICENSE LICENSE-MIT LICENSE-APACHE; do
  [ -f "$root/$licence" ] && cp "$root/$licence" "$stage/"
done
# Reproducible archives: fixed order, owner and mtime.
epoch="${SOURCE_DATE_EPOCH:-0}"
find "$stage" -exec touch -h -d "@$epoch" {} +
case "$archive" in
  *.zip) (cd "$stage" && rm -f "$out/$archive" && zip -qX "$(cd "$out" && pwd)/$archive" $(ls | sort)) ;;
  *) tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -C "$stage" -cf - . \
       | gzip -n -9 > "$out/$archive" ;;
esac
(cd "$out" && { sha256sum "$archive" 2>/dev/null || shasum -a 256 "$archive"; } > "$archive.sha256")
echo "$out/$archive"
