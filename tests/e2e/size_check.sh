#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The size rule (docs/architecture.md, "Size"): no source file over 600 lines
# and no C function over 80 lines without a written reason. The tree passes
# scripts/size-check.sh, and the checker catches what it should (a scratch
# repository with one long function and one long file, with and without
# their reasons).
. "$(dirname "$0")/lib.sh"
cd "$NXP_SOURCE_DIR"
out=$(bash scripts/size-check.sh 2>&1) || fail "files or functions over the limit without a reason:
$out"
echo "ok: the tree keeps the size rule"

R=$T/repo
mkdir -p "$R/scripts" "$R/src"
cp scripts/size-check.sh "$R/scripts/"
body() { for i in $(seq 1 "$1"); do echo "	x += $i;"; done; }
{ echo '/* SPDX-License-Identifier: Apache-2.0 */'
  echo 'static int x;'
  echo 'int short_one(void)'; echo '{'; body 79; echo '	return x;'; echo '}'
  echo 'int long_one(int a,'; echo '             int b)'; echo '{'; body 81; echo '	return a + b;'; echo '}'
} > "$R/src/a.c"
{ echo '/* SPDX-License-Identifier: Apache-2.0 */'; for i in $(seq 1 600); do echo "int v$i;"; done; } > "$R/src/big.c"
git -C "$R" init -q && git -C "$R" add -A
rc=0
out=$(bash "$R/scripts/size-check.sh" "$R" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "exit $rc on a tree over the limits, want 1: $out"
grep -q 'src/a.c:.*function long_one is 82 lines' <<<"$out" || fail "the long function is not named: $out"
grep -q 'short_one' <<<"$out" && fail "an 80-line function is named: $out"
grep -q 'src/big.c: file is 601 lines' <<<"$out" || fail "the long file is not named: $out"
# With their reasons written next to them, both pass.
sed -i 's|^int long_one(int a,|/* long-function: a test of the checker. */\n&|' "$R/src/a.c"
sed -i '1a /* long-file: a test of the checker. */' "$R/src/big.c"
out=$(bash "$R/scripts/size-check.sh" "$R" 2>&1) || fail "reasons given, still failing: $out"
out=$(bash "$R/scripts/size-check.sh" -a "$R" 2>&1) || fail "-a: $out"
grep -q 'long_one is 82 lines (limit 80) \[reason given\]' <<<"$out" || fail "-a does not list it: $out"
echo "ok: the checker names a long function and a long file, and accepts a written reason"
