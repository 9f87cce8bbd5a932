#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Names that are not plain text (issue 12 items 13 and 14):
# - `apply --format json` on a non-UTF-8 name keeps its `result` object (the
#   file is written, and the report says so), in -j 1 and -j 2, json and
#   jsonl;
# - a newline (or tab, escape) in a file name never forges a line or field
#   of a text report or message: scan, plan, apply, verify, sigcheck, sign,
#   unsign and the error messages all show it as \x0a;
# - text and JSON show a name the same way, and that way is lossless
#   (replacing every \xNN by its byte gives the name back).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
require_cmd openssl

POL=$T/pol.yaml
printf 'nxpatch: 1\nrules:\n  - id: dep\n    actions:\n      - set: [nx_compat]\n' > "$POL"
mkdir -p "$T/in" "$T"/out/{j1,j2,l,t1,t2}
BAD=$(printf 'na\xffme.exe')
NL=$(printf 'x\nnxpatch: forged 0 changes\ty.exe')
cp "$(sample nonx32.exe)" "$T/in/$BAD"
cp "$(sample nonx32.exe)" "$T/in/$NL"

# decode_paths FILE: the JSON document's file paths, \xNN decoded, one per
# line as Python reprs of the bytes.
decode_paths() {
  "$PYTHON" - "$1" <<'PY'
import json, re, sys
for f in json.load(open(sys.argv[1], encoding="utf-8"))["files"]:
    raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), f["path"].encode())
    print(repr(raw))
PY
}

# --- item 13: the result object survives a non-UTF-8 name -------------------
for j in 1 2; do
  rc=0
  "$NXPATCH" apply -j $j --format json --policy "$POL" --out-dir "$T/out/j$j" "$T/in/$BAD" \
    > "$T/apply$j.json" 2> "$T/apply$j.err" || rc=$?
  [ "$rc" -eq 0 ] || fail "apply -j $j: exit $rc: $(cat "$T/apply$j.err")"
  [ -f "$T/out/j$j/$BAD" ] || fail "apply -j $j did not write the image"
  "$PYTHON" - "$T/apply$j.json" "$T/out/j$j" <<'PY' || fail "apply -j $j --format json (above)"
import json, sys
f = json.load(open(sys.argv[1]))["files"][0]
assert f["path"].endswith("/na\\xffme.exe"), f["path"]
r = f.get("result")
assert r is not None, "no result object"
assert r["status"] == "written" and r["written"] is True, r
assert r["output"] == sys.argv[2] + "/na\\xffme.exe", r
PY
done
"$NXPATCH" apply --format jsonl --policy "$POL" --out-dir "$T/out/l" "$T/in/$BAD" \
  > "$T/apply.jsonl" 2> "$T/applyl.err" || fail "apply --format jsonl: $(cat "$T/applyl.err")"
grep -q '"result": *{[^}]*"status": *"written"' "$T/apply.jsonl" ||
  fail "apply --format jsonl has no result: $(cat "$T/apply.jsonl")"
grep -qF "b'$T/in/na\\xffme.exe'" <<<"$(decode_paths "$T/apply1.json")" ||
  fail "the JSON path does not decode to the name: $(decode_paths "$T/apply1.json")"
echo "ok: apply --format json/jsonl (-j 1, -j 2) on a non-UTF-8 name keeps its result; the path decodes back"

# --- item 14: no forged lines ------------------------------------------------
# expect_lines FILE N: FILE has exactly N lines and none starts "nxpatch: forged".
expect_lines() {
  local n
  n=$(wc -l < "$1")
  [ "$n" -eq "$2" ] || fail "$1: $n lines, want $2: $(cat "$1")"
  ! grep -q '^nxpatch: forged' "$1" || fail "$1: a forged line: $(cat "$1")"
  grep -q 'x\\x0anxpatch: forged 0 changes\\x09y.exe' "$1" ||
    fail "$1: the name is not shown escaped: $(cat "$1")"
}
SHOWN='x\x0anxpatch: forged 0 changes\x09y.exe'
"$NXPATCH" plan --policy "$POL" "$T/in/$NL" > "$T/plan.txt" 2>&1
expect_lines "$T/plan.txt" 4   # head, 2 changes, summary
"$NXPATCH" scan "$T/in/$NL" > "$T/scan.txt" 2>&1
grep -c . "$T/scan.txt" > /dev/null
! grep -q '^nxpatch: forged' "$T/scan.txt" || fail "scan: a forged line"
grep -qxF "$T/in/$SHOWN" <<<"$(head -1 "$T/scan.txt")" || fail "scan: first line $(head -1 "$T/scan.txt")"
"$NXPATCH" verify --policy "$POL" "$T/in/$NL" > "$T/verify.txt" 2>&1 || true
! grep -q '^nxpatch: forged' "$T/verify.txt" || fail "verify: a forged line: $(cat "$T/verify.txt")"
grep -qF "$T/in/$SHOWN: does not comply" "$T/verify.txt" || fail "verify: $(cat "$T/verify.txt")"
for j in 1 2; do
  "$NXPATCH" apply -j $j --policy "$POL" --out-dir "$T/out/t$j" "$T/in/$NL" > "$T/apply$j.txt" 2>&1 ||
    fail "apply -j $j: $(cat "$T/apply$j.txt")"
  expect_lines "$T/apply$j.txt" 5   # head, 2 changes, written, summary
  [ -f "$T/out/t$j/$NL" ] || fail "apply -j $j did not write the image"
done
# JSON shows the same escape as text.
"$NXPATCH" scan --format json "$T/in/$NL" > "$T/scan.json"
"$PYTHON" - "$T/scan.json" "$T/in/$SHOWN" <<'PY' || fail "scan --format json (above)"
import json, sys
p = json.load(open(sys.argv[1]))["files"][0]["path"]
assert p == sys.argv[2], (p, sys.argv[2])
PY
# Messages: one line each.
rc=0
"$NXPATCH" scan "$T/nope/$NL" > /dev/null 2> "$T/err.txt" || rc=$?
[ "$rc" -ne 0 ] || fail "scan of a missing file exited 0"
[ "$(wc -l < "$T/err.txt")" -eq 1 ] || fail "the error message spans lines: $(cat "$T/err.txt")"
grep -qF "nxpatch: $T/nope/$SHOWN: " "$T/err.txt" || fail "error message: $(cat "$T/err.txt")"
for j in 1 2; do
  rc=0
  "$NXPATCH" apply -j $j --policy "$POL" --in-place "$T/nope/$NL" > /dev/null 2> "$T/err$j.txt" || rc=$?
  ! grep -q '^nxpatch: forged' "$T/err$j.txt" || fail "apply -j $j: a forged message line"
  [ "$(wc -l < "$T/err$j.txt")" -eq 1 ] || fail "apply -j $j: message spans lines: $(cat "$T/err$j.txt")"
done
echo "ok: scan, plan, verify, apply (-j 1, -j 2) and error messages show the newline as \\x0a"

# The journal and revert: the name round-trips, revert's lines are whole.
mkdir "$T/jr"
cp "$T/in/$NL" "$T/jr/$NL"
cp "$T/in/$BAD" "$T/jr/$BAD"
orig_nl=$(sha "$T/jr/$NL")
orig_bad=$(sha "$T/jr/$BAD")
"$NXPATCH" apply --policy "$POL" --in-place --journal "$T/j.jsonl" "$T/jr/$NL" "$T/jr/$BAD" \
  > "$T/japply.txt" 2>&1 || fail "apply --journal: $(cat "$T/japply.txt")"
"$PYTHON" - "$T/j.jsonl" <<'PY' || fail "the journal (above)"
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    json.loads(line)  # every line is valid JSON (and UTF-8)
PY
"$NXPATCH" revert --journal "$T/j.jsonl" > "$T/revert.txt" 2>&1 || fail "revert: $(cat "$T/revert.txt")"
! grep -q '^nxpatch: forged' "$T/revert.txt" || fail "revert: a forged line: $(cat "$T/revert.txt")"
grep -qF "$T/jr/$SHOWN: restored from" "$T/revert.txt" || fail "revert: $(cat "$T/revert.txt")"
[ "$(sha "$T/jr/$NL")" = "$orig_nl" ] && [ "$(sha "$T/jr/$BAD")" = "$orig_bad" ] ||
  fail "revert did not restore both originals"
echo "ok: apply --journal and revert with both names: journal valid, originals restored, lines whole"

# sign, unsign, sigcheck (tab-separated fields too).
P=$T/pki
make_pki "$P"
"$NXPATCH" sign "$T/in/$NL" -o "$T/out/$NL.signed" --cert "$P/leaf-chain.pem" --key "$P/leaf.key" \
  > "$T/sign.txt" 2>&1 || fail "sign: $(cat "$T/sign.txt")"
[ "$(wc -l < "$T/sign.txt")" -eq 1 ] || fail "sign: $(cat "$T/sign.txt")"
"$NXPATCH" sigcheck --trust "$P/root.pem" "$T/out/$NL.signed" > "$T/sigcheck.txt" 2>&1 || true
[ "$(wc -l < "$T/sigcheck.txt")" -eq 1 ] || fail "sigcheck: $(cat "$T/sigcheck.txt")"
[ "$(head -1 "$T/sigcheck.txt" | cut -f1)" = "$T/out/$SHOWN.signed" ] ||
  fail "sigcheck: the tab in the name forged a field: $(cat "$T/sigcheck.txt")"
"$NXPATCH" unsign "$T/out/$NL.signed" -o "$T/out/$NL.unsigned" > "$T/unsign.txt" 2>&1 ||
  fail "unsign: $(cat "$T/unsign.txt")"
[ "$(wc -l < "$T/unsign.txt")" -eq 1 ] || fail "unsign: $(cat "$T/unsign.txt")"
echo "ok: sign, unsign and sigcheck show the name on one line, one field"
echo PASS
