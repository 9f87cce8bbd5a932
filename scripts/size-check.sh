#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The house rule on size (docs/architecture.md, "Size"): no source file over
# 600 lines and no C function over 80 lines without a reason written next to
# it. A file's reason is a comment with "long-file:" in its first 20 lines; a
# function's is a comment with "long-function:" between the end of the
# previous function and its opening brace. Prints every file and function
# over the limit that has no reason and exits 1 when there is one; -a also
# lists the ones with a reason.
# Usage: scripts/size-check.sh [-a] [DIR]   (DIR: the source tree, default .)
set -euo pipefail
all=0
if [ "${1:-}" = -a ]; then all=1; shift; fi
root=${1:-.}
cd "$root"
FILE_MAX=600 FUNC_MAX=80
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -- 'src/*.c' 'src/*.h' 'include/*.h' 'tests/*.c' 'tests/*.h' \
                         'tests/*.sh' 'tests/*.bash' 'fuzz/*.c' 'fuzz/*.h' 'bench/*.c' 'scripts/*.sh')
else
  mapfile -t files < <(find src include tests fuzz bench scripts -type f \
                         \( -name '*.c' -o -name '*.h' -o -name '*.sh' -o -name '*.bash' \) \
                         -not -path 'tests/data/*' 2>/dev/null | sort)
fi
[ ${#files[@]} -gt 0 ] || { echo "size-check: no source files under $root" >&2; exit 2; }
bad=0
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  out=$(awk -v file="$f" -v fmax=$FILE_MAX -v gmax=$FUNC_MAX -v all=$all '
    FNR <= 20 && /long-file:/ { freason = 1 }
    /long-function:/ { reason = 1 }
    /^\{/ && prev ~ /\)[ \t]*$/ { start = FNR; name = sig; inside = 1; next }
    inside && /^\}/ {
      n = FNR - start - 1
      if (n > gmax && (!reason || all))
        printf "%s:%d: function %s is %d lines (limit %d)%s\n", file, start, name, n, gmax,
               reason ? " [reason given]" : ""
      if (n > gmax && !reason) nbad++
      inside = 0; reason = 0; next
    }
    !inside && /^[A-Za-z_].*\(/ { s = $0; sub(/\(.*/, "", s); k = split(s, w, /[ \t*]+/); sig = w[k] }
    { if ($0 !~ /^[ \t]*$/) prev = $0 }
    END {
      if (FNR > fmax && (!freason || all))
        printf "%s: file is %d lines (limit %d)%s\n", file, FNR, fmax, freason ? " [reason given]" : ""
      if (FNR > fmax && !freason) nbad++
      exit nbad > 0
    }' "$f") && rc=0 || rc=$?
  [ -n "$out" ] && printf '%s\n' "$out"
  [ $rc -eq 0 ] || bad=1
done
exit $bad
