#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# apply writes the next image while LIEF reads this one's output (the
# cross-check of the two halves of nxp_apply, write.h): at -j 1 and in each
# -j worker. Seen from the journal, which records each in-place write when
# it starts and when it ends: with the cross-check, image k+1 starts before
# image k ends; without it, nothing waits. The reports stay in input order
# and every output is the one a plain run writes.
. "$(dirname "$0")/lib.sh"

cp "$NXP_SOURCE_DIR/rules/thunk-sections.yaml" "$T/pol.yaml"
src=$NXP_SAMPLES_DIR/nonx32.exe
[ -f "$src" ] || fail "missing sample $src"

# make DIR N: N copies of the sample, n1.exe .. nN.exe.
make() {
  rm -rf "$1"
  mkdir -p "$1"
  for k in $(seq "$2"); do cp "$src" "$1/n$k.exe"; done
}

# The journal's (status, name) lines in order: "started n1" ...
events() {
  "$PYTHON" - "$1" <<'PY'
import json, os, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r["status"], os.path.basename(r["path"])[:-4])
PY
}

# -j 1 with the cross-check: the exact order of a two-deep pipeline.
make "$T/a" 5
"$NXPATCH" apply -j 1 --policy "$T/pol.yaml" --in-place --journal "$T/a.j" \
  "$T"/a/n{1,2,3,4,5}.exe >"$T/a.out" 2>"$T/a.err" || fail "apply -j 1: $(cat "$T/a.err")"
want="started n1
started n2
written n1
started n3
written n2
started n4
written n3
started n5
written n4
written n5"
got=$(events "$T/a.j")
[ "$got" = "$want" ] || fail "-j 1: the journal's order is not the pipeline's:
$got"
echo "ok: -j 1: image k+1 is written while LIEF reads image k"

# The reports are in input order, each naming its own output.
names=$(sed -n 's/^  written: .*\/\(n[0-9]\)\.exe (checksum.*/\1/p' "$T/a.out" | tr '\n' ' ')
[ "$names" = "n1 n2 n3 n4 n5 " ] || fail "-j 1: reports out of order: $names"

# The same without the cross-check: each image ends before the next starts.
make "$T/b" 3
"$NXPATCH" apply -j 1 --no-cross-check --policy "$T/pol.yaml" --in-place --journal "$T/b.j" \
  "$T"/b/n{1,2,3}.exe >/dev/null 2>"$T/b.err" || fail "apply --no-cross-check: $(cat "$T/b.err")"
got=$(events "$T/b.j" | tr '\n' ' ')
[ "$got" = "started n1 written n1 started n2 written n2 started n3 written n3 " ] ||
  fail "--no-cross-check: something waited: $got"
echo "ok: --no-cross-check: nothing waits"

# Every output is the one a plain run writes (the patched sample), and
# verify agrees.
"$NXPATCH" apply --policy "$T/pol.yaml" "$src" -o "$T/ref.exe" >/dev/null
for k in 1 2 3 4 5; do
  cmp -s "$T/a/n$k.exe" "$T/ref.exe" || fail "-j 1: n$k.exe is not the plain run's output"
done
"$NXPATCH" verify -q --policy "$T/pol.yaml" "$T"/a/*.exe >/dev/null || fail "verify of the -j 1 outputs"

# -j 2: each worker holds two images at once. Every image is slowed down
# (a test build's NXP_TEST_ITEM_DELAY_MS) so that both workers are busy:
# then more than two images are between their start and their end.
require_test_hooks
make "$T/c" 8
NXP_TEST_ITEM_DELAY_MS=50 "$NXPATCH" apply -j 2 --policy "$T/pol.yaml" --in-place \
  --journal "$T/c.j" "$T"/c/n{1,2,3,4,5,6,7,8}.exe >"$T/c.out" 2>"$T/c.err" ||
  fail "apply -j 2: $(cat "$T/c.err")"
open=$(events "$T/c.j" | awk '$1 == "started" { n++; if (n > m) m = n } $1 == "written" { n-- } END { print m }')
[ "$open" -ge 3 ] || fail "-j 2: at most $open images in flight: the workers do not pipeline"
for k in $(seq 8); do
  cmp -s "$T/c/n$k.exe" "$T/ref.exe" || fail "-j 2: n$k.exe is not the plain run's output"
done
names=$(sed -n 's/^  written: .*\/\(n[0-9]\)\.exe (checksum.*/\1/p' "$T/c.out" | tr '\n' ' ')
[ "$names" = "n1 n2 n3 n4 n5 n6 n7 n8 " ] || fail "-j 2: reports out of order: $names"
echo "ok: -j 2: up to $open images in flight, outputs and reports as a plain run's"

echo "apply_pipeline: all checks passed"
