#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every source file carries an SPDX licence identifier (the project is Apache-2.0, see LICENSE).
#   bash scripts/spdx.sh          add the identifier to every tracked source file that lacks one
#   bash scripts/spdx.sh --check  list the files that lack one; exit 1 if any (tests/e2e/spdx.sh)
# Source files: C (*.c, *.h), shell (*.sh, .ci/run), Python, CMake, and the shipped policies
# (rules/*.yaml). Test data (tests/data/) and fuzz corpora are data, not source.
set -euo pipefail
cd "$(dirname "$0")/.."
id='SPDX-License-Identifier: Apache-2.0'
mode=fix
case "${1:-}" in
  --check) mode=check ;;
  '') ;;
  *) echo "usage: scripts/spdx.sh [--check]" >&2; exit 2 ;;
esac

list_files() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard
  else
    find . -type f -not -path './.git/*' -not -path './build*' -printf '%P\0'
  fi
}

is_source() {
  case "$1" in
    tests/data/*|fuzz/corpus/*|fuzz/regressions/*) return 1 ;;
    *.c|*.h|*.sh|*.py|*.cmake|*.cmake.in|CMakeLists.txt|*/CMakeLists.txt|.ci/run) return 0 ;;
    rules/*.yaml|samples/*.yaml|samples/*/*.yaml|bench/*.yaml) return 0 ;;
    scripts/*|debian/rules|completions/*|man/*) return 0 ;;
    *) return 1 ;;
  esac
}

missing=0
while IFS= read -r -d '' f; do
  is_source "$f" || continue
  [ -f "$f" ] || continue
  # The identifier belongs in the first lines (after a shebang).
  if grep -q "$id" <<<"$(head -n 3 "$f")"; then continue; fi
  if [ "$mode" = check ]; then
    echo "spdx: $f: no '$id' in its first lines" >&2
    missing=$((missing + 1))
    continue
  fi
  case "$f" in
    *.c|*.h) line="/* $id */" ;;
    *) line="# $id" ;;
  esac
  tmp=$(mktemp "$f.spdx.XXXXXX")
  if grep -q '^#!' <<<"$(head -n 1 "$f")"; then
    { head -n 1 "$f"; echo "$line"; tail -n +2 "$f"; } >"$tmp"
  else
    { echo "$line"; cat "$f"; } >"$tmp"
  fi
  chmod --reference="$f" "$tmp"
  mv "$tmp" "$f"
  echo "spdx: added to $f"
done < <(list_files)

if [ "$mode" = check ] && [ "$missing" -gt 0 ]; then
  echo "spdx: $missing source file(s) lack an SPDX identifier; run: bash scripts/spdx.sh" >&2
  exit 1
fi
exit 0
