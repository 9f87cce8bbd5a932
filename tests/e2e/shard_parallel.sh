#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Beyond one machine (issue 17 section 3): GNU parallel runs 4 --shard K/4
# processes as stand-ins for 4 hosts over a 1,000-image tree; 'nxpatch
# report merge' joins their JSONL, SARIF and apply journals into what one
# -j 1 process writes, byte for byte but the time. Incomplete, doubled and
# foreign inputs are refused. The recipe is docs/pipeline.md's.
. "$(dirname "$0")/lib.sh"
require_cmd parallel

POL=$T/pol.yaml
printf 'nxpatch: 1\nrules:\n  - id: dep\n    actions:\n      - set: [nx_compat, no_bind]\n' > "$POL"

# 1,000 images: the samples and the small mingw-w64 runtime DLLs, copied
# round robin into a nested tree, plus entries -r skips.
sample hello64.exe >/dev/null
mapfile -t pes < <(ls "$NXP_SAMPLES_DIR"/*.exe "$NXP_SAMPLES_DIR"/*.dll 2>/dev/null;
                   find /usr/lib/gcc/*-w64-mingw32 /usr/*-w64-mingw32 -name '*.dll' -size -300k 2>/dev/null | sort)
[ ${#pes[@]} -ge 10 ] || skip "fewer than 10 PE images to build a tree from"
for n in $(seq 0 999); do
  f=${pes[$((n % ${#pes[@]}))]}
  d="$T/tree/g$((n % 10))/h$((n % 7))"
  mkdir -p "$d"
  cp "$f" "$d/$n-$(basename "$f")"
done
echo "not an image" > "$T/tree/g0/readme.txt"
ln -s "$T/tree/g1" "$T/tree/g0/link"
ln "$T/tree/g2/h0/$(ls "$T/tree/g2/h0" | head -1)" "$T/tree/g3/hardlink.exe"
[ "$(find "$T/tree" -name '[0-9]*-*' | wc -l)" -eq 1000 ] || fail "the tree does not hold 1,000 images"

untimed() { sed -e 's/"seconds": *[0-9.eE+-]*//'; }

# shards CMD FORMAT: run the 4 shards under GNU parallel, outputs $T/CMD.K.FORMAT.
shards() {
  local cmd=$1 f=$2 extra=""
  [ "$cmd" = scan ] || extra="--policy $POL"
  parallel -j 4 --halt never "'$NXPATCH' $cmd -r -q -j 1 $extra --shard {}/4 --format $f '$T/tree' > '$T/$cmd.{}.$f'" ::: 1 2 3 4 || true
  for k in 1 2 3 4; do [ -s "$T/$cmd.$k.$f" ] || fail "shard $k of $cmd wrote nothing"; done
}

# 1. JSONL of plan and scan: merged == -j 1.
for cmd in plan scan; do
  extra=(); [ $cmd = scan ] || extra=(--policy "$POL")
  "$NXPATCH" $cmd -r -q -j 1 "${extra[@]}" --format jsonl "$T/tree" > "$T/$cmd.ref.jsonl" || fail "$cmd -j 1"
  shards $cmd jsonl
  "$NXPATCH" report merge "$T/$cmd".[1-4].jsonl > "$T/$cmd.merged.jsonl" 2>"$T/err" || fail "merge $cmd: $(cat "$T/err")"
  cmp -s <(untimed < "$T/$cmd.ref.jsonl") <(untimed < "$T/$cmd.merged.jsonl") ||
    { diff <(untimed < "$T/$cmd.ref.jsonl") <(untimed < "$T/$cmd.merged.jsonl") | head -5 >&2; fail "$cmd: merged JSONL differs from -j 1"; }
  [ "$(grep -c '"path"' "$T/$cmd.merged.jsonl")" -eq 1000 ] || fail "$cmd: not 1,000 records"
  # Each shard did a part, none all of it.
  for k in 1 2 3 4; do
    c=$(grep -c '"batch_index"' "$T/$cmd.$k.jsonl")
    [ "$c" -gt 100 ] && [ "$c" -lt 500 ] || fail "$cmd shard $k holds $c images"
  done
  echo "ok: $cmd: 4 shards under GNU parallel merge to -j 1's JSONL"
done
tail -1 "$T/plan.merged.jsonl"

# 2. SARIF of verify: merged == -j 1.
"$NXPATCH" verify -r -q -j 1 --policy "$POL" --format sarif "$T/tree" > "$T/verify.ref.sarif" || true
shards verify sarif
"$NXPATCH" report merge -o "$T/verify.merged.sarif" "$T"/verify.[1-4].sarif 2>"$T/err" || fail "merge sarif: $(cat "$T/err")"
cmp -s <(untimed < "$T/verify.ref.sarif") <(untimed < "$T/verify.merged.sarif") ||
  { diff <(untimed < "$T/verify.ref.sarif") <(untimed < "$T/verify.merged.sarif") | head -5 >&2; fail "verify: merged SARIF differs from -j 1"; }
echo "ok: verify: 4 shards merge to -j 1's SARIF"

# 3. Journals of apply --in-place on one directory: merged == -j 1's, and
# revert of the merged journal restores every byte.
rm -rf "$T/w"; cp -a "$T/tree/g4" "$T/w"
(cd "$T/w" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$T/orig.sums"
# Exit 1 is expected: the policy opts every image into DEP, and the samples
# with code in data are refused (that refusal is part of what is compared).
rc=0
"$NXPATCH" apply -r -q -j 1 --no-cross-check --policy "$POL" --in-place --journal "$T/ref.journal" "$T/w" >/dev/null || rc=$?
[ "$rc" -le 1 ] || fail "apply -j 1: exit $rc"
grep -q '"op"' "$T/ref.journal" || fail "apply -j 1 journaled nothing"
(cd "$T/w" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$T/patched.sums"
rm -rf "$T/w"; cp -a "$T/tree/g4" "$T/w"
parallel -j 4 "'$NXPATCH' apply -r -q -j 1 --no-cross-check --policy '$POL' --in-place --shard {}/4 --journal '$T/j.{}' '$T/w' >/dev/null; [ \$? -le 1 ]" ::: 1 2 3 4 ||
  fail "apply shards: a shard exited with more than 1"
(cd "$T/w" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | cmp -s - "$T/patched.sums" || fail "the shards patched differently"
"$NXPATCH" report merge "$T"/j.[1-4] > "$T/merged.journal" 2>"$T/err" || fail "merge journals: $(cat "$T/err")"
cmp -s "$T/ref.journal" "$T/merged.journal" || { diff "$T/ref.journal" "$T/merged.journal" | head -4 >&2; fail "merged journal differs from -j 1's"; }
"$NXPATCH" revert --journal "$T/merged.journal" >/dev/null 2>"$T/err" || fail "revert of the merged journal: $(cat "$T/err")"
(cd "$T/w" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | cmp -s - "$T/orig.sums" || fail "revert did not restore every byte"
echo "ok: apply: 4 shards' journals merge to -j 1's; revert restores all"

# 4. Refused: a missing shard, a shard twice, shards of different runs,
# a report that is not a shard's, mixed kinds.
expect_refused() {
  local what=$1 want=$2; shift 2
  rc=0; "$NXPATCH" report merge "$@" > "$T/out" 2>"$T/err" || rc=$?
  [ $rc -ne 0 ] && grep -q "$want" "$T/err" || fail "$what: exit $rc, $(cat "$T/err")"
}
expect_refused "missing shard" "shard 4/4 is missing" "$T"/plan.[1-3].jsonl
expect_refused "shard twice" "given twice" "$T"/plan.[1-4].jsonl "$T/plan.2.jsonl"
expect_refused "not a shard" "batch_index" "$T/plan.ref.jsonl"
expect_refused "mixed kinds" "not of the same kind" "$T/plan.1.jsonl" "$T/verify.1.sarif"
"$NXPATCH" plan -r -q --policy "$POL" --shard 1/2 --format jsonl "$T/tree" > "$T/other.1.jsonl"
expect_refused "other run" "of 4 shards\|of 2 shards" "$T/plan.1.jsonl" "$T/other.1.jsonl"
[ ! -e "$T/none.jsonl" ] && ! "$NXPATCH" report merge -o "$T/none.jsonl" "$T"/plan.[1-3].jsonl 2>/dev/null &&
  [ ! -e "$T/none.jsonl" ] && [ ! -e "$T/none.jsonl.tmp" ] || fail "a failed merge left a file"
echo "ok: incomplete, doubled, foreign and mixed inputs are refused"
