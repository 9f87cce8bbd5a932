#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# "-" on the command line: an input "-" is standard input (scan, plan, verify,
# apply; reported as "-"), "-o -" writes apply's verified image to standard
# output (the report then goes to standard error); --out-dir is created when
# missing, beneath the part of it that exists. Nothing temporary is left.
. "$(dirname "$0")/lib.sh"

mkdir "$T/tmp"
export TMPDIR=$T/tmp
n32=$(sample nonx32.exe); h64=$(sample hello64.exe); td=$(sample thunk_data64.exe)
leftovers() { [ -z "$(ls -A "$T/tmp")" ] || fail "temporary files left in TMPDIR: $(ls -A "$T/tmp")"; }

# scan / plan / verify read an image from standard input
"$NXPATCH" scan -q - <"$n32" >"$T/s" || fail "scan - failed"
head -1 "$T/s" | grep -qx -- '-' || fail "scan - does not report the image as '-': $(head -1 "$T/s")"
"$NXPATCH" scan -q --format json - <"$n32" >"$T/s.json" || fail "scan - --format json"
"$PYTHON" - "$T/s.json" <<'PY' || fail "scan - JSON"
import json, sys
d = json.load(open(sys.argv[1]))
f = d["files"]
assert len(f) == 1 and f[0]["path"] == "-", f[0].get("path")
assert f[0]["dll_characteristics"]["value"] == 0x40, f[0]["dll_characteristics"]
PY
"$NXPATCH" plan -q - <"$n32" >"$T/p" || fail "plan - failed"
grep -qx -- '-: 2 changes' "$T/p" || fail "plan -: $(cat "$T/p")"
"$NXPATCH" plan -q "$n32" >"$T/p2"
diff <(tail -n +2 "$T/p" | grep -v '^summary') <(tail -n +2 "$T/p2" | grep -v '^summary') ||
  fail "plan - differs from plan FILE"
rc=0; "$NXPATCH" verify -q - "$h64" <"$n32" >"$T/v" || rc=$?
[ "$rc" -eq 1 ] || fail "verify - (non-compliant) exited $rc, want 1"
grep -qx -- '-: does not comply' "$T/v" || fail "verify -: $(cat "$T/v")"
grep -q "^$h64: ok" "$T/v" || fail "verify - FILE: the file is not reported"
leftovers

# usage errors: "-" twice, "-" with --from -, "-" where a file must be replaced
rc=0; "$NXPATCH" scan - - <"$n32" 2>"$T/e" || rc=$?
[ "$rc" -eq 2 ] && grep -q -- '- (standard input) may be given once' "$T/e" ||
  fail "scan - -: exit $rc $(cat "$T/e")"
rc=0; echo "$h64" | "$NXPATCH" scan --from - - 2>"$T/e" || rc=$?
[ "$rc" -eq 2 ] && grep -q 'standard input is --from - already: it cannot also be the input -' "$T/e" ||
  fail "--from - and -: exit $rc $(cat "$T/e")"
rc=0; "$NXPATCH" plan --policy - - <"$n32" 2>"$T/e" || rc=$?
[ "$rc" -eq 2 ] && grep -q 'standard input is the input - already: it cannot also be --policy -' "$T/e" ||
  fail "--policy - and -: exit $rc $(cat "$T/e")"
printf 'nxpatch: 1\nrules: []\n' | "$NXPATCH" policy check - >"$T/pc" || fail "policy check -"
grep -q -- '^-: ok (0 rules)' "$T/pc" || fail "policy check -: $(cat "$T/pc")"
rc=0; "$NXPATCH" apply - --in-place <"$n32" 2>"$T/e" || rc=$?
[ "$rc" -eq 2 ] && grep -q 'give -o OUT' "$T/e" || fail "apply - --in-place: exit $rc $(cat "$T/e")"
rc=0; "$NXPATCH" apply - --out-dir "$T/od" <"$n32" 2>"$T/e" || rc=$?
[ "$rc" -eq 2 ] || fail "apply - --out-dir: exit $rc, want 2"
[ ! -e "$T/od" ] || fail "a usage error created the --out-dir"
[ ! -e ./- ] || fail "a file named '-' was created"
leftovers

# apply - -o FILE, apply FILE -o -, apply - -o -: the same verified bytes
"$NXPATCH" apply -q --policy default "$n32" -o "$T/ref.exe" >/dev/null || fail "apply -o FILE"
"$NXPATCH" apply -q - -o "$T/in.exe" <"$n32" >"$T/r1" || fail "apply - -o FILE"
cmp -s "$T/in.exe" "$T/ref.exe" || fail "apply - -o FILE wrote other bytes than apply FILE -o FILE"
"$NXPATCH" apply -q "$n32" -o - >"$T/out.exe" 2>"$T/r2" || fail "apply FILE -o -: $(cat "$T/r2")"
cmp -s "$T/out.exe" "$T/ref.exe" || fail "apply -o - wrote other bytes than apply -o FILE"
grep -q '^  written: - (checksum 0x' "$T/r2" || fail "apply -o -: the report (stderr) lacks 'written: -': $(cat "$T/r2")"
grep -q '^summary: 1 image' "$T/r2" || fail "apply -o -: the summary is not on stderr"
"$NXPATCH" apply -q - -o - <"$n32" >"$T/both.exe" 2>/dev/null || fail "apply - -o -"
cmp -s "$T/both.exe" "$T/ref.exe" || fail "apply - -o - differs"
"$NXPATCH" verify -q "$T/both.exe" >/dev/null || fail "apply - -o -: the output does not verify"
"$NXPATCH" apply -q --format json "$n32" -o - >"$T/j.exe" 2>"$T/j.json" || fail "apply --format json -o -"
cmp -s "$T/j.exe" "$T/ref.exe" || fail "apply --format json -o -: the image on stdout differs"
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d["files"][0]["result"]; assert r["output"]=="-" and r["written"], r' "$T/j.json" ||
  fail "apply --format json -o -: the JSON report (stderr) is wrong"
# nothing to do: standard output still carries the (verified, identical) image
"$NXPATCH" apply -q "$h64" -o - >"$T/h.exe" 2>"$T/r3" || fail "apply (nothing to do) -o -"
cmp -s "$T/h.exe" "$h64" || fail "apply -o - with nothing to do: not the input's bytes"
# refused: nothing on standard output, exit 1
rc=0; "$NXPATCH" apply -q "$td" -o - >"$T/t.exe" 2>"$T/r4" || rc=$?
[ "$rc" -eq 1 ] || fail "apply -o - of a refused image exited $rc, want 1"
[ ! -s "$T/t.exe" ] || fail "apply -o - of a refused image wrote to standard output"
# a failed write to standard output is an error, not a silent truncation
if [ -w /dev/full ]; then
  rc=0; "$NXPATCH" apply -q "$n32" -o - >/dev/full 2>"$T/e" || rc=$?
  [ "$rc" -eq 3 ] || fail "apply -o - >/dev/full exited $rc, want 3: $(cat "$T/e")"
fi
leftovers

# --out-dir: created when missing (nested), also through the user's own link
"$NXPATCH" apply -q "$n32" "$h64" --out-dir "$T/new/deep/" >/dev/null || fail "--out-dir new/deep"
cmp -s "$T/new/deep/nonx32.exe" "$T/ref.exe" || fail "--out-dir new/deep: no patched image"
mkdir "$T/real"; ln -s real "$T/link"
"$NXPATCH" apply -q "$n32" --out-dir "$T/link/sub" >/dev/null || fail "--out-dir link/sub"
[ -f "$T/real/sub/nonx32.exe" ] || fail "--out-dir through the user's link: not created beneath its target"
(cd "$T" && "$NXPATCH" apply -q "$n32" --out-dir rel/a >/dev/null) || fail "--out-dir relative"
[ -f "$T/rel/a/nonx32.exe" ] || fail "relative --out-dir not created"
# a dangling link where the missing part begins is not followed: nothing is
# created at its target, the link stays (the created part is made one
# directory at a time beneath the existing part, O_NOFOLLOW: util/beneath.c,
# whose race safety e2e.outdir_safety tests)
ln -s "$T/elsewhere" "$T/planted"
rc=0; "$NXPATCH" apply -q "$n32" --out-dir "$T/planted/sub" >"$T/o" 2>"$T/e" || rc=$?
[ "$rc" -ne 0 ] || fail "--out-dir through a dangling link succeeded"
[ ! -e "$T/elsewhere" ] || fail "--out-dir followed a planted link: $(find "$T/elsewhere")"
[ -L "$T/planted" ] || fail "the planted link was replaced"
: >"$T/afile"
rc=0; "$NXPATCH" apply -q "$n32" --out-dir "$T/afile/sub" 2>"$T/e" || rc=$?
[ "$rc" -eq 2 ] || fail "--out-dir under a regular file exited $rc, want 2: $(cat "$T/e")"
leftovers
# sign and unsign: IN - and -o -, the same bytes as with files
. "$(dirname "$0")/pki.sh"
export SOURCE_DATE_EPOCH=1700000000
P=$T/pki; make_pki "$P"
key=(--cert "$P/leaf-chain.pem" --key "$P/leaf.key")
"$NXPATCH" sign "$n32" -o "$T/s1.exe" "${key[@]}" >/dev/null || fail "sign FILE -o FILE"
"$NXPATCH" sign - -o - "${key[@]}" <"$n32" >"$T/s2.exe" 2>"$T/s2.err" || fail "sign - -o -: $(cat "$T/s2.err")"
cmp -s "$T/s1.exe" "$T/s2.exe" || fail "sign - -o - differs from sign FILE -o FILE"
grep -q '^-: signed' "$T/s2.err" || fail "sign -o -: the message (stderr) does not name '-': $(cat "$T/s2.err")"
"$NXPATCH" unsign - -o - <"$T/s1.exe" >"$T/u.exe" 2>/dev/null || fail "unsign - -o -"
"$NXPATCH" unsign "$T/s1.exe" -o "$T/u1.exe" >/dev/null || fail "unsign FILE -o FILE"
cmp -s "$T/u.exe" "$T/u1.exe" || fail "unsign - -o - differs from unsign FILE -o FILE"
# report merge -o -: standard output, no file named "-"
"$NXPATCH" scan -q --format jsonl --shard 1/1 "$n32" >"$T/sh.jsonl" || true
(cd "$T" && "$NXPATCH" report merge -o - sh.jsonl >"$T/m.jsonl") || fail "report merge -o -"
[ -s "$T/m.jsonl" ] && [ ! -e "$T/-" ] || fail "report merge -o - wrote a file named '-'"
leftovers
echo "ok: - as standard input (scan, plan, verify, apply, sign, unsign), -o - (apply, sign, unsign, report merge), --out-dir created"
