#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Facts derived on demand (issue 17): apply's text report plans on facts
# that search a section's bytes and compute the checksum only when a
# decision reads them (nxp_input_plan). Its plans must be the plans of
# `plan`, which derives every fact first: for the built-in default, every
# shipped policy and policies whose decisions turn on evidence (the
# code_in_data condition either way, "@code-in-data" selections, rule order,
# opting in to DEP, W+X sanctioned by allow_wx), over the Debian test corpus
# and the samples. Then --trust-checksum: what it writes and says, where it
# is refused, and that the bytes mode without it still reads every byte.
. "$(dirname "$0")/lib.sh"
require_corpus

IN=()
for d in wine64 wine32 mingw efi clamav other; do
  [ -d "$TC/$d" ] || fail "test corpus lacks $d/"
  IN+=("$TC/$d")
done
IN+=("$NXP_SAMPLES_DIR")

pols=(default "$NXP_SOURCE_DIR"/rules/*.yaml "$NXP_SOURCE_DIR"/tests/data/lazy/*.yaml)
# The plan lines of a text report: apply's "written" lines and the summary
# are apply's own.
plan_lines() {
  grep -v -e '^  written: ' -e '^  not written: ' -e '^summary: ' "$1" |
    sed -e 's/; nothing will be written$//' -e 's/ (nothing to do: a verified copy)$//' | sort
}
total=0
for p in "${pols[@]}"; do
  if [ "$p" = default ]; then pol=(); n=builtin; else pol=(--policy "$p"); n=$(basename "$p" .yaml); fi
  "$NXPATCH" plan -r -j 2 "${pol[@]}" "${IN[@]}" >"$T/plan-$n.txt" 2>"$T/plan-$n.err" || true
  rm -rf "$T/out"; mkdir "$T/out"
  rc=0
  "$NXPATCH" apply -r -j 2 "${pol[@]}" --no-cross-check --out-dir "$T/out" "${IN[@]}" \
    >"$T/apply-$n.txt" 2>"$T/apply-$n.err" || rc=$?
  [ $rc -le 3 ] || fail "apply under $n exited $rc: $(tail -3 "$T/apply-$n.err")"
  plan_lines "$T/plan-$n.txt" >"$T/p.txt"
  plan_lines "$T/apply-$n.txt" >"$T/a.txt"
  if ! cmp -s "$T/p.txt" "$T/a.txt"; then
    diff "$T/p.txt" "$T/a.txt" | head -20 >&2
    fail "under $n, apply (facts derived on demand) planned differently from plan"
  fi
  images=$(grep -c '^/' "$T/p.txt" || true)
  changed=$(grep -c ': [0-9]* change' "$T/p.txt" || true)
  refused=$(grep -c ': refused' "$T/p.txt" || true)
  echo "$n: $images images, $changed to change, $refused refused: same plans"
  [ "$images" -ge 1000 ] || fail "$n: only $images images judged"
  total=$((total + images))
done
echo "lazy facts: $total judgements agree"

# --trust-checksum. A 1 MB image with a valid stored CheckSum (built here).
S="$NXP_SAMPLES_DIR/thunk_data64.exe"
pol=(--policy "$NXP_SOURCE_DIR/rules/thunk-sections.yaml")
cp "$S" "$T/w.exe"
"$NXPATCH" apply "${pol[@]}" -o "$T/ref.exe" --no-cross-check "$T/w.exe" >/dev/null
# The same image with its CheckSum set valid first, as a linker leaves it.
"$PYTHON" - "$T/w.exe" <<'PY'
import sys, pefile
p = pefile.PE(sys.argv[1]); p.OPTIONAL_HEADER.CheckSum = p.generate_checksum()
d = p.write(); p.close(); open(sys.argv[1], "wb").write(d)
PY
cp "$T/w.exe" "$T/valid.exe"
"$NXPATCH" apply "${pol[@]}" -o "$T/full.exe" --no-cross-check "$T/valid.exe" >/dev/null
out=$("$NXPATCH" apply "${pol[@]}" --in-place=bytes --trust-checksum --journal "$T/j" \
  --no-cross-check "$T/w.exe")
grep -q "checksum: updated from the stored 0x" <<<"$out" || fail "--trust-checksum not reported: $out"
cmp -s "$T/w.exe" "$T/full.exe" || fail "--trust-checksum on a valid checksum wrote other bytes than a full read"
"$NXPATCH" verify "${pol[@]}" "$T/w.exe" >/dev/null || fail "verify fails the --trust-checksum output"
v=$("$PYTHON" -c "import sys,pefile; p=pefile.PE(sys.argv[1]); print(p.OPTIONAL_HEADER.CheckSum == p.generate_checksum())" "$T/w.exe")
[ "$v" = True ] || fail "pefile: the --trust-checksum output's checksum is not valid"

# A stored CheckSum that is wrong: without the option the bytes mode reads
# the file and writes the correct checksum; with it, the error is carried
# (and said), and verify reads every byte and reports it.
cp "$T/valid.exe" "$T/bad.exe"
"$PYTHON" - "$T/bad.exe" <<'PY'
import sys, pefile
p = pefile.PE(sys.argv[1]); p.OPTIONAL_HEADER.CheckSum ^= 0x100
d = p.write(); p.close(); open(sys.argv[1], "wb").write(d)
PY
cp "$T/bad.exe" "$T/bad2.exe"
rm -f "$T/j"
"$NXPATCH" apply "${pol[@]}" --in-place=bytes --journal "$T/j" --no-cross-check "$T/bad.exe" >/dev/null
v=$("$PYTHON" -c "import sys,pefile; p=pefile.PE(sys.argv[1]); print(p.OPTIONAL_HEADER.CheckSum == p.generate_checksum())" "$T/bad.exe")
[ "$v" = True ] || fail "the bytes mode without --trust-checksum did not write the correct checksum"
"$NXPATCH" apply "${pol[@]}" --in-place=bytes --trust-checksum --journal "$T/j" --no-cross-check \
  "$T/bad2.exe" >"$T/o.txt"
grep -q "taken as correct and not re-read" "$T/o.txt" || fail "the carried checksum is not said"
"$NXPATCH" verify "${pol[@]}" "$T/bad2.exe" >"$T/v.txt" 2>&1 || true
grep -q "checksum 0x[0-9a-f]* is stale (computed" "$T/v.txt" ||
  fail "verify does not report the carried checksum error: $(cat "$T/v.txt")"
printf 'nxpatch: 1\nsettings:\n  checksum: always\nrules: []\n' >"$T/sum-always.yaml"
rc=0; "$NXPATCH" verify --policy "$T/sum-always.yaml" "$T/bad2.exe" >"$T/v.txt" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "verify under checksum: always passes an output whose trusted checksum was wrong"

# A stored 0 is never taken as correct: the file is read.
cp "$S" "$T/zero.exe"
"$PYTHON" - "$T/zero.exe" <<'PY'
import sys, pefile
p = pefile.PE(sys.argv[1]); p.OPTIONAL_HEADER.CheckSum = 0
d = p.write(); p.close(); open(sys.argv[1], "wb").write(d)
PY
printf 'nxpatch: 1\nsettings:\n  checksum: always\nrules:\n  - id: x\n    actions:\n      - section: ".data"\n        add: [execute]\n        allow_wx: true\n' >"$T/always.yaml"
out=$("$NXPATCH" apply --policy "$T/always.yaml" --in-place=bytes --trust-checksum --journal "$T/j" \
  --no-cross-check "$T/zero.exe")
grep -q "taken as correct" <<<"$out" && fail "a stored 0 was taken as correct"
v=$("$PYTHON" -c "import sys,pefile; p=pefile.PE(sys.argv[1]); print(p.OPTIONAL_HEADER.CheckSum == p.generate_checksum() != 0)" "$T/zero.exe")
[ "$v" = True ] || fail "checksum: always on a stored 0 did not write the correct checksum"

# Refused outside the bytes mode, before anything is read.
cp "$S" "$T/r.exe"; before=$(sha "$T/r.exe")
for mode in "-o $T/r2.exe" "--in-place" "--out-dir $T/od"; do
  rc=0
  # shellcheck disable=SC2086
  "$NXPATCH" apply "${pol[@]}" --trust-checksum $mode "$T/r.exe" >/dev/null 2>"$T/e.txt" || rc=$?
  [ $rc -eq 2 ] || fail "--trust-checksum with $mode exited $rc, not 2"
  grep -q -- "--trust-checksum goes with --in-place=bytes" "$T/e.txt" || fail "no reason: $(cat "$T/e.txt")"
done
[ "$(sha "$T/r.exe")" = "$before" ] || fail "a refused --trust-checksum run changed the input"
[ ! -e "$T/r2.exe" ] || fail "a refused --trust-checksum run wrote an output"
echo "trust-checksum: ok"
