#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# apply --out-dir never writes outside DIR (issue 12 item 9): a symbolic link
# planted inside DIR, at any depth and while the run goes on, is not
# followed; a link at an output's own name is replaced, its target left
# alone. Two inputs that map to one output name: the second is an error,
# whatever -j, and the first's output stands.
. "$(dirname "$0")/lib.sh"

POL=$T/pol.yaml
printf 'nxpatch: 1\nrules:\n  - id: dep\n    actions:\n      - set: [nx_compat, no_bind]\n' > "$POL"
H=$(sample hello64.exe); N=$(sample nonx32.exe)
apply() { "$NXPATCH" apply -q --no-cross-check --policy "$POL" "$@"; }

# 1. DIR/sub is a link to a directory outside DIR.
mkdir -p "$T/tree/sub/deeper" "$T/outside" "$T/out"
cp "$H" "$T/tree/sub/a.exe"; cp "$N" "$T/tree/sub/deeper/b.exe"; cp "$H" "$T/tree/top.exe"
ln -s "$T/outside" "$T/out/sub"
rc=0; apply -r --out-dir "$T/out" "$T/tree" >"$T/log" 2>"$T/err" || rc=$?
[ -z "$(ls -A "$T/outside")" ] || fail "wrote outside --out-dir through a planted link: $(ls -R "$T/outside")"
[ $rc -eq 3 ] || fail "planted link: exit $rc, want 3; $(cat "$T/err")"
grep -q "out/sub is a symbolic link" "$T/err" || fail "planted link: message $(cat "$T/err")"
[ "$(grep -c 'symbolic link' "$T/err")" -eq 2 ] || fail "both images under the link fail: $(cat "$T/err")"
[ -f "$T/out/top.exe" ] || fail "the image outside the link was not written"
[ -L "$T/out/sub" ] || fail "the planted link was replaced"
echo "ok: a planted directory link is not followed; the rest is written"

# 2. The link one level down (DIR/sub/deeper -> outside), DIR/sub real.
rm -rf "$T/out"; mkdir -p "$T/out/sub"; ln -s "$T/outside" "$T/out/sub/deeper"
rc=0; apply -r -j 2 --out-dir "$T/out" "$T/tree" >"$T/log" 2>"$T/err" || rc=$?
[ -z "$(ls -A "$T/outside")" ] || fail "wrote outside through a nested link"
[ $rc -eq 3 ] && grep -q "out/sub/deeper is a symbolic link" "$T/err" || fail "nested link: exit $rc, $(cat "$T/err")"
[ -f "$T/out/sub/a.exe" ] || fail "sub/a.exe not written"
echo "ok: a nested planted link is not followed"

# 3. A link at the output's own name: replaced by the output, its target untouched.
rm -rf "$T/out"; mkdir -p "$T/out"
echo "victim" > "$T/outside/victim"
ln -s "$T/outside/victim" "$T/out/top.exe"
apply --out-dir "$T/out" "$T/tree/top.exe" >"$T/log" 2>"$T/err" || fail "link at the output name: $(cat "$T/err")"
[ "$(cat "$T/outside/victim")" = victim ] || fail "the link's target was written"
[ -f "$T/out/top.exe" ] && [ ! -L "$T/out/top.exe" ] || fail "the output is not a regular file"
rm -f "$T/outside/victim"

# 4. A race: a directory under DIR is swapped for a link to outside while a
# tree is written into it. Bounded: 3 runs of 60 images.
mkdir -p "$T/race/sub"
for i in $(seq 1 60); do cp "$H" "$T/race/sub/$i.exe"; done
for run in 1 2 3; do
  rm -rf "$T/out"; mkdir -p "$T/out/sub"
  ( for k in $(seq 1 4000); do
      mv -T "$T/out/sub" "$T/out/real$k" 2>/dev/null && ln -sfn "$T/outside" "$T/out/sub"
      rm -f "$T/out/sub" 2>/dev/null; mv -T "$T/out/real$k" "$T/out/sub" 2>/dev/null
    done ) &
  swapper=$!
  apply -r -j 2 --out-dir "$T/out" "$T/race" >/dev/null 2>&1 || true
  kill "$swapper" 2>/dev/null || true; wait "$swapper" 2>/dev/null || true
  [ -z "$(ls -A "$T/outside")" ] || fail "race run $run: wrote outside --out-dir: $(ls "$T/outside" | head)"
done
echo "ok: 3 races against a swapped directory never wrote outside DIR"

# 5. Two inputs, one output name: the second fails, -j 1 and -j 4 alike.
mkdir -p "$T/a" "$T/b" "$T/ta/x" "$T/tb/x"
cp "$H" "$T/a/x.exe"; cp "$N" "$T/b/x.exe"; cp "$H" "$T/ta/x/y.exe"; cp "$N" "$T/tb/x/y.exe"
apply -o "$T/want-x.exe" "$T/a/x.exe" >/dev/null
apply -o "$T/want-y.exe" "$T/ta/x/y.exe" >/dev/null
for j in 1 4; do
  rm -rf "$T/out"; mkdir "$T/out"
  rc=0; apply -j $j --out-dir "$T/out" "$T/a/x.exe" "$T/b/x.exe" >"$T/log" 2>"$T/err" || rc=$?
  [ $rc -eq 3 ] || fail "-j $j: two inputs to one name: exit $rc, want 3"
  grep -q "b/x.exe: .*out/x.exe is already the output of an earlier input, .*a/x.exe" "$T/err" ||
    fail "-j $j: message $(cat "$T/err")"
  cmp -s "$T/out/x.exe" "$T/want-x.exe" || fail "-j $j: out/x.exe is not the first input's output"
  rc=0; apply -j $j -r --out-dir "$T/out" "$T/ta" "$T/tb" >"$T/log" 2>"$T/err" || rc=$?
  [ $rc -eq 3 ] && grep -q "tb/x/y.exe: .*out/x/y.exe is already the output of an earlier input" "$T/err" ||
    fail "-j $j: two trees: exit $rc, $(cat "$T/err")"
  cmp -s "$T/out/x/y.exe" "$T/want-y.exe" || fail "-j $j: out/x/y.exe is not the first tree's output"
  [ -z "$(ls -A "$T/out" | grep -v '^x')" ] || fail "-j $j: stray files in out: $(ls -A "$T/out")"
done
# The same with shards: the clash is decided on the whole list.
rm -rf "$T/out"; mkdir "$T/out"
for k in 1 2 3; do apply --shard $k/3 --out-dir "$T/out" "$T/a/x.exe" "$T/b/x.exe" >/dev/null 2>&1 || true; done
cmp -s "$T/out/x.exe" "$T/want-x.exe" || fail "--shard: out/x.exe is not the first input's output"
echo "ok: two inputs to one output name: the second fails (-j 1, -j 4, shards)"
