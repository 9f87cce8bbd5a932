#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the Debian packages (nxpatch, libnxpatch0, libnxpatch-dev, and their
# -dbgsym) with dpkg-buildpackage from debian/, in a scratch copy of the
# source tree, and put the .deb files in out/deb/ (or $1).
#   bash scripts/deb.sh [OUTDIR]
# Install them with: apt-get install ./out/deb/*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
out=${1:-$src/out/deb}
bash scripts/deps.sh deb

version=$(dpkg-parsechangelog -S Version)
work=$(mktemp -d "${TMPDIR:-/tmp}/nxpatch-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree=$work/nxpatch-$version
mkdir -p "$tree"
# The tracked files (and new, not ignored ones), never build directories.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$tree"
else
  tar --exclude='./build*' --exclude=./out --exclude=./.git -cf - . | tar -xf - -C "$tree"
fi

echo "deb: building nxpatch $version in $tree" >&2
(cd "$tree" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || {
  tail -n 60 "$work/build.log" >&2
  echo "deb: dpkg-buildpackage failed (log above)" >&2
  exit 1
}
mkdir -p "$out"
rm -f "$out"/*.deb "$out"/*.ddeb
cp "$work"/*.deb "$out"/
cp "$work"/*.buildinfo "$work"/*.changes "$out"/ 2>/dev/null || true
ls -1 "$out"/*.deb
