#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# docs/json.md documents every key the JSON reports carry: scan, plan, apply
# and verify documents (--format json) and lines (--format jsonl, sharded),
# failures, --cross-check, drivers, signatures under --trust, apply's
# results and its journal are made from the samples, and every key path they
# emit must be in the doc's "Field reference" tables (tests/e2e/json_keys.py;
# the same idea as check.every_finding_is_documented for the findings). A
# new key without a row there fails this test.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
require_cmd openssl

R=$T/reports
mkdir -p "$R" "$T/imgs" "$T/out"
for s in thunk_section64.exe thunk_section32.exe hello64.exe norelocs64.exe thunkdll64.dll \
         thunk_data64.exe nonx32.exe overlay64.exe evidence/ev_call64.exe drivers/drv_imm64.sys \
         drivers/drv_hvci64.sys drivers/drv_wx64.sys; do
  cp "$(sample "$s")" "$T/imgs/"
done
head -c 1024 "$(sample hello64.exe)" > "$T/imgs/cut.exe"   # a failure entry
make_pki "$T/pki" >/dev/null 2>&1 || fail "make_pki"
SOURCE_DATE_EPOCH=1700000000 "$NXPATCH" sign "$T/imgs/hello64.exe" -o "$T/imgs/signed64.exe" \
  --cert "$T/pki/leaf-chain.pem" --key "$T/pki/leaf.key" >/dev/null || fail "sign"
cat > "$T/pol.yaml" <<'Y'
nxpatch: 1
settings:
  signature: strip
rules:
  - id: thunks
    when: {has_section: [".thunk"]}
    actions:
      - section: ".thunk"
        add: [execute]
        allow_wx: true
  - id: relocs
    when: {path: ["**/norelocs64.exe"]}
    actions:
      - set: [dynamic_base]
  - id: nx
    actions:
      - set: [nx_compat]
Y
run() { # NAME RC-ALLOWED... -- nxpatch ARGS
  local name=$1; shift
  local ok=" "
  while [ "$1" != -- ]; do ok+="$1 "; shift; done
  shift
  local rc=0
  "$NXPATCH" "$@" > "$R/$name" 2>"$T/err" || rc=$?
  [[ "$ok" == *" $rc "* ]] || fail "nxpatch $* exited $rc: $(head -3 "$T/err")"
}
run scan.all.json 3 -- scan --format json "$T/imgs"/*
run scan.cross.json 0 -- scan --format json --cross-check "$T/imgs/hello64.exe" "$T/imgs/thunk_section64.exe"
run scan.all.jsonl 3 -- scan --format jsonl "$T/imgs"/*
run plan.all.json 3 -- plan --format json --policy "$T/pol.yaml" "$T/imgs"/*
run plan.default.json 3 -- plan --format json "$T/imgs"/*
run plan.hvci.json 0 1 3 -- plan --format json --policy driver-hvci "$T/imgs"/*.sys
run plan.shard.jsonl 0 3 -- plan --format jsonl --shard 1/2 --policy "$T/pol.yaml" "$T/imgs"/*
run verify.all.json 1 3 -- verify --format json --policy "$T/pol.yaml" "$T/imgs"/*
run verify.trust.json 1 -- verify --format json --trust "$T/pki/root.pem" "$T/imgs/signed64.exe" "$T/imgs/hello64.exe"
run verify.all.jsonl 1 3 -- verify --format jsonl "$T/imgs"/*
run apply.outdir.json 1 3 -- apply --format json --policy "$T/pol.yaml" --out-dir "$T/out" "$T/imgs"/*
cp -r "$T/imgs" "$T/inplace"
run apply.inplace.jsonl 1 3 -- apply --format jsonl --policy "$T/pol.yaml" --in-place \
  --journal "$T/journal" "$T/inplace"/*
cp "$T/journal" "$R/journal.apply.jsonl"
cp -r "$T/imgs" "$T/inbytes"
run apply.bytes.jsonl 1 3 -- apply --format jsonl --policy "$T/pol.yaml" --in-place=bytes \
  --journal "$T/journal.bytes" "$T/inbytes"/*
cp "$T/journal.bytes" "$R/journal.bytes.jsonl"
grep -q '"op":"patch"' "$R/journal.bytes.jsonl" || fail "no patch record in the bytes journal"
[ -s "$R/journal.apply.jsonl" ] || fail "the journal is empty"

# nxpatch trace's records (under wine64, which CI installs).
if [ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null 2>&1; then
  run trace.data64.jsonl 1 -- trace --timeout 120 --format jsonl "$T/imgs/thunk_data64.exe"
  grep -q '"kind":"dep_fault"' "$R/trace.data64.jsonl" || fail "trace recorded no fault"
elif [ "${CI:-}" = true ]; then
  fail "wine64 is not installed: trace's records cannot be checked"
fi

"$PYTHON" "$NXP_SOURCE_DIR/tests/e2e/json_keys.py" "$NXP_SOURCE_DIR/docs/json.md" "$R" ||
  fail "docs/json.md does not document every key the reports emit"

# The check itself: a key missing from the doc is caught.
sed '/^| `machine` /d' "$NXP_SOURCE_DIR/docs/json.md" > "$T/json.md"
rc=0; "$PYTHON" "$NXP_SOURCE_DIR/tests/e2e/json_keys.py" "$T/json.md" "$R" 2>"$T/err" || rc=$?
[ $rc -eq 1 ] && grep -q 'key `machine`' "$T/err" || fail "a doc without machine passed: $rc $(cat "$T/err")"
echo "json_documented: all checks passed"
