#!/usr/bin/env bash
# Installs a released dbrelease binary, verified against a checksum pinned in this repository
# (checksums/VERSION.sha256), not against a file of the same release: whoever could swap the
# binary on the release could swap its SHA256SUMS too, but not the commit you run this from.
#
#   scripts/install.sh --version v0.1.0 [--to DIR] [--base-url URL] [--checksums DIR]
#
# Linux x86_64/aarch64, macOS arm64/x86_64, Windows x86_64 (Git Bash, as on GitHub's runners).
# The composite action (action.yml) runs it; it is also the install script for people:
#   curl -fsSL https://raw.githubusercontent.com/dbrelease/dbrelease/<commit>/scripts/install.sh \
#     | bash -s -- --version v0.1.0   (with --checksums pointing at a checkout of that commit)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="" to="${HOME:-.}/.local/bin" base="https://github.com/dbrelease/dbrelease/releases/download"
checksums="$here/../checksums"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --to) to=$2; shift 2 ;;
    --base-url) base=${2%/}; shift 2 ;;
    --checksums) checksums=$2; shift 2 ;;
    *) echo "install.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
done
fail() { echo "install.sh: $*" >&2; exit 1; }
case "$version" in
  v[0-9]*) ;;
  *) fail "--version must be a release tag such as v0.1.0, got '$version'" ;;
esac
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) target=x86_64-unknown-linux-gnu ;;
  Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-gnu ;;
  Darwin/arm64) target=aarch64-apple-darwin ;;
  Darwin/x86_64) target=x86_64-apple-darwin ;;
  MINGW*/x86_64 | MSYS*/x86_64 | CYGWIN*/x86_64) target=x86_64-pc-windows-msvc ;;
  *) fail "no prebuilt dbrelease for $(uname -s) $(uname -m); build it with cargo (see the README)" ;;
esac
case "$target" in
  *windows*) archive="dbrelease-$target.zip" exe=dbrelease.exe ;;
  *) archive="dbrelease-$target.tar.gz" exe=dbrelease ;;
esac
pinned_file="$checksums/$version.sha256"
[ -f "$pinned_file" ] || fail "no pinned checksums for $version in $checksums: use an action/script commit that knows $version"
pinned=$(awk -v name="$archive" '$2 == name || $2 == "*" name { print $1 }' "$pinned_file")
[ -n "$pinned" ] || fail "$pinned_file has no checksum for $archive"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
curl -fsSL --retry 5 --proto '=https,http' -o "$work/$archive" "$base/$version/$archive" \
  || fail "cannot download $base/$version/$archive"
actual=$( { sha256sum "$work/$archive" 2>/dev/null || shasum -a 256 "$work/$archive"; } | cut -d' ' -f1)
if [ "$actual" != "$pinned" ]; then
  fail "$archive has sha256 $actual, but $pinned_file pins $pinned: refusing to install it"
fi
mkdir -p "$work/unpacked"
case "$archive" in
  *.zip) unzip -q "$work/$archive" -d "$work/unpacked" ;;
  *) tar -xzf "$work/$archive" -C "$work/unpacked" ;;
esac
mkdir -p "$to"
# Into place by a rename in the same folder: a concurrent reader sees the old or the new binary.
cp "$work/unpacked/$exe" "$to/.$exe.installing"
chmod +x "$to/.$exe.installing"
mv -f "$to/.$exe.installing" "$to/$exe"
"$to/$exe" --version
