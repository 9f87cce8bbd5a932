#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# pool: nx's wrapper route (issue 15 section 2) on the real loader: a pool
# type set by `xor ecx, ecx` (too short to hold 0x200) is made NX by routing
# the call through an NX wrapper in an appended .nxwrap section. Under
# wine64's +relay log, before apply ExAllocatePoolWithTag gets 0 at both of
# drv_short64's sites (`call [rip+iat]` and `call rsi` after `mov rsi,
# [rip+iat]`), after apply 0x200, from the same call sites, and DriverEntry
# still succeeds. The written drivers: pefile parses them, their checksum is
# valid, the new section is last, read-execute, never writable, page
# aligned, SizeOfImage/SizeOfCode/NumberOfSections follow, and the input's
# bytes differ only in the planned ranges. x86 (wine64 cannot run PE32, and
# wine32 is not installed in CI): checked structurally with pefile and
# llvm-readobj: the call's base relocation is gone, the load's kept and
# pointing at the wrapper. A mixed driver (an imm32 site and a xor site)
# migrates whole; with no room for a section header, an overlay, or a
# signature and signature: refuse, nothing is written; re-signed, it verifies
# with osslsigncode and runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/drivers.bash"
. "$(dirname "$0")/pki.sh"
require_wine
require_pefile
require_cmd osslsigncode
require_cmd openssl
require_cmd llvm-readobj llvm
D=$NXP_SAMPLES_DIR/drivers
sample drivers/drv_short64.sys >/dev/null

cat >"$T/pool.yaml" <<'Y'
nxpatch: 1
settings: {checksum: always}
rules:
  - id: nx-pool
    when: {kind: driver}
    actions:
      - pool: nx
Y

apply_ok() {
  "$NXPATCH" apply --policy "${3:-$T/pool.yaml}" "$1" -o "$2" "${@:4}" >"$T/apply.out" 2>&1 ||
    { cat "$T/apply.out" >&2; fail "apply $(basename "$1") failed"; }
}

# wrapped_ok IN OUT: the appended section and nothing else. The planned
# ranges come from `plan --format json` of IN; every byte of IN outside
# them is unchanged in OUT, every changed byte inside .text is a planned
# call-site byte, and the new section's header and layout are right.
wrapped_ok() {
  "$NXPATCH" plan --policy "$T/pool.yaml" --format json "$1" >"$T/plan.json" ||
    fail "plan --format json $(basename "$1") failed"
  "$PYTHON" - "$1" "$2" "$T/plan.json" <<'PY' || fail "$(basename "$2"): the written driver is wrong"
import json, sys, pefile
a, b = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
plan = json.load(open(sys.argv[3]))['files'][0]
pa, pb = pefile.PE(sys.argv[1]), pefile.PE(sys.argv[2])
assert pb.verify_checksum(), 'checksum not valid'
assert len(pb.sections) == len(pa.sections) + 1, 'not one more section'
s = pb.sections[-1]
assert s.Name.rstrip(b'\0') == b'.nxwrap', s.Name
assert s.Characteristics == 0x68000020, hex(s.Characteristics)      # code, not paged, RX
assert not s.Characteristics & 0x80000000 and not s.Characteristics & 0x02000000
assert s.VirtualAddress % 0x1000 == 0 and s.VirtualAddress == pa.OPTIONAL_HEADER.SizeOfImage
assert pb.OPTIONAL_HEADER.SizeOfImage == s.VirtualAddress + 0x1000
assert pb.OPTIONAL_HEADER.SizeOfCode == pa.OPTIONAL_HEADER.SizeOfCode + s.SizeOfRawData
assert s.PointerToRawData >= len(a) and len(b) == s.PointerToRawData + s.SizeOfRawData
assert not any(b[len(a):s.PointerToRawData]), 'padding before the section is not zero'
planned = set()
for c in plan['changes']:
    planned.update(range(c['offset'], c['offset'] + c['size']))
diff = [i for i in range(len(a)) if a[i] != b[i]]
outside = [i for i in diff if i not in planned]
assert not outside, f'bytes changed outside the plan: {outside}'
text = next(x for x in pa.sections if x.Name.rstrip(b'\0') == b'.text')
sites = set()
for c in plan['changes']:
    if c['field'] == 'call_site':
        sites.update(range(c['offset'], c['offset'] + c['size']))
t = [i for i in diff if text.PointerToRawData <= i < text.PointerToRawData + text.SizeOfRawData]
assert t and all(i in sites for i in t), t
print(len(diff), 'bytes changed,', len(t), 'in .text')
PY
  "$NXPATCH" scan --cross-check "$2" >/dev/null || fail "$(basename "$2"): LIEF disagrees with the reader"
}

# compliant OUT: applying the policy again changes nothing, verify agrees,
# and every site reaches the wrapper.
compliant() {
  local out
  out=$("$NXPATCH" plan --policy "$T/pool.yaml" --check "$1" 2>&1) ||
    fail "$(basename "$1"): plan --check is not clean: $out"
  grep -q ': nothing to do$' <<<"$out" || fail "$(basename "$1"): $out"
  "$NXPATCH" verify --policy "$T/pool.yaml" "$1" >/dev/null ||
    fail "$(basename "$1"): verify is not clean"
  "$NXPATCH" scan --format json "$1" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)["files"][0]["driver"]
assert d["findings"] == [], d["findings"]
assert d["nx_wrappers"] == {"section": ".nxwrap", "count": 1}, d["nx_wrappers"]
assert d["sites"] and all(s["verdict"] == "nx_wrapper" for s in d["sites"]), d["sites"]' ||
    fail "$(basename "$1"): the sites do not all reach the NX wrapper"
}

# x64: both shapes, before and after, on the loader.
expect_types "$D/drv_short64.sys" ExAllocatePoolWithTag "0x0 0x0"
before=$(awk '$1 == "ExAllocatePoolWithTag" {print $2}' "$T/drv.calls" | tr '\n' ' ')
"$NXPATCH" plan --policy "$T/pool.yaml" "$D/drv_short64.sys" >"$T/plan.txt" || fail "plan failed"
grep -q 'section .nxwrap appended: rva 0x[0-9a-f]*, 0x20 bytes at file offset 0x[0-9a-f]* (raw 0x200), characteristics 0x68000020, 1 NX wrapper' "$T/plan.txt" &&
grep -q 'ExAllocatePoolWithTag call at 0x[0-9a-f]* -> NX wrapper at 0x[0-9a-f]* ff 15 .* -> e8 .* 90 \[rule nx-pool\]' "$T/plan.txt" &&
grep -q 'load at 0x[0-9a-f]* for the ExAllocatePoolWithTag call at 0x[0-9a-f]* -> NX wrapper at 0x[0-9a-f]* 48 8b 35 .* -> 48 8d 35 ' "$T/plan.txt" ||
  { cat "$T/plan.txt" >&2; fail "the dry run does not show the section and both rewrites"; }
apply_ok "$D/drv_short64.sys" "$T/short64.sys"
expect_types "$T/short64.sys" ExAllocatePoolWithTag "0x200 0x200"
after=$(awk '$1 == "ExAllocatePoolWithTag" {print $2}' "$T/drv.calls" | tr '\n' ' ')
# `call rel32; nop` returns one byte earlier; `call rsi` returns where it did.
"$PYTHON" - "$before" "$after" <<'PY' || fail "the calls do not come from the same sites: before $before, after $after"
import sys
b, a = [int(x, 16) for x in sys.argv[1].split()], [int(x, 16) for x in sys.argv[2].split()]
assert a == [b[0] - 1, b[1]], (b, a)
PY
wrapped_ok "$D/drv_short64.sys" "$T/short64.sys"
compliant "$T/short64.sys"
echo "ok: drv_short64.sys: xor sites now pass NonPagedPoolNx through the wrapper, DriverEntry succeeds"

# In place with a journal: the write-ahead line's planned SHA-256 covers
# the appended section (apply checks the output against it), and revert
# restores the original.
cp "$D/drv_short64.sys" "$T/inplace.sys"
h=$(sha "$T/inplace.sys")
"$NXPATCH" apply --policy "$T/pool.yaml" --in-place --journal "$T/j.jsonl" "$T/inplace.sys" >"$T/apply.out" 2>&1 ||
  { cat "$T/apply.out" >&2; fail "apply --in-place --journal failed on a wrapped driver"; }
cmp -s "$T/inplace.sys" "$T/short64.sys" || fail "the in-place output is not the -o output"
"$PYTHON" - "$T/j.jsonl" "$(sha "$T/short64.sys")" <<'PY' || fail "the journal does not plan the wrapped output's SHA-256"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["status"] for r in recs] == ["started", "written"], recs
assert all(r["sha256_after"] == sys.argv[2] for r in recs), recs
PY
"$NXPATCH" revert --journal "$T/j.jsonl" >"$T/revert.out" 2>&1 || { cat "$T/revert.out" >&2; fail "revert failed"; }
[ "$(sha "$T/inplace.sys")" = "$h" ] || fail "revert did not restore the original driver"
echo "ok: in place with a journal, then reverted"

# x86: structurally (no 32-bit Wine).
sample drivers/drv_short32.sys >/dev/null
apply_ok "$D/drv_short32.sys" "$T/short32.sys"
wrapped_ok "$D/drv_short32.sys" "$T/short32.sys"
compliant "$T/short32.sys"
"$NXPATCH" scan --format json "$D/drv_short32.sys" >"$T/scan32.json"
llvm-readobj --coff-basereloc "$T/short32.sys" >"$T/relocs.txt" || fail "llvm-readobj failed"
"$PYTHON" - "$D/drv_short32.sys" "$T/short32.sys" "$T/scan32.json" "$T/relocs.txt" <<'PY' ||
import json, re, sys, pefile
a, b = pefile.PE(sys.argv[1]), pefile.PE(sys.argv[2])
sites = json.load(open(sys.argv[3]))['files'][0]['driver']['sites']
call = next(s for s in sites if s['call'] == 'call [iat]')
reg = next(s for s in sites if s['call'] == 'call reg')
def relocs(pe):
    return {e.rva for blk in pe.DIRECTORY_ENTRY_BASERELOC for e in blk.entries if e.type == 3}
ra, rb = relocs(a), relocs(b)
assert call['rva'] + 2 in ra and call['rva'] + 2 not in rb, 'the call keeps its relocation'
assert reg['load_rva'] + 2 in ra and reg['load_rva'] + 2 in rb, 'the load lost its relocation'
assert ra - rb == {call['rva'] + 2}, ra ^ rb
# llvm-readobj agrees: HIGHLOW entries are exactly pefile's.
ro = {int(m, 16) for m in re.findall(r'Type: HIGHLOW\s+Address: 0x([0-9A-F]+)', open(sys.argv[4]).read())}
assert ro == rb, (sorted(ro), sorted(rb))
w = b.sections[-1]
base = b.OPTIONAL_HEADER.ImageBase
code = b.get_data(call['rva'], 6)
assert code[0] == 0xe8 and code[5] == 0x90, code.hex()
assert call['rva'] + 5 + int.from_bytes(code[1:5], 'little', signed=True) == w.VirtualAddress
load = b.get_data(reg['load_rva'], 6)
assert load[0] == 0x90 and load[1] == 0xbe, load.hex()            # nop; mov esi, imm32
assert int.from_bytes(load[2:6], 'little') == base + w.VirtualAddress
# the wrapper itself holds no absolute address (no relocation in .nxwrap)
assert not any(w.VirtualAddress <= r < w.VirtualAddress + 0x1000 for r in rb)
PY
  fail "drv_short32: the x86 rewrites or the relocation table are wrong"
echo "ok: drv_short32.sys: call [abs32] -> call rel32 with its relocation dropped, mov esi -> wrapper VA (relocation kept)"

# A driver with an imm32 site and a xor site migrates whole: the imm32
# rewritten, the xor site wrapped.
"$PYTHON" - "$D/drv_imm64.sys" "$T/mixed.sys" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
i = b.find(bytes.fromhex('b904000000ba40000000'))   # the CacheAligned site: mov ecx, 4
b[i:i + 5] = bytes.fromhex('31c9909090')            # xor ecx, ecx; nop x3
open(sys.argv[2], 'wb').write(b)
PY
expect_types "$T/mixed.sys" ExAllocatePoolWithTag "0x0 0x0 0x1 0x200 0x0"
apply_ok "$T/mixed.sys" "$T/mixed.out.sys"
expect_types "$T/mixed.out.sys" ExAllocatePoolWithTag "0x200 0x200 0x1 0x200 0x200"
echo "ok: a mixed driver: imm32 sites rewritten and the xor site wrapped, in one output"

# Refusals: exit 1, nothing written, the input untouched, the reason given.
refused() {
  local h rc=0
  h=$(sha "$1")
  rm -f "$T/refused.sys"
  "$NXPATCH" apply --policy "${3:-$T/pool.yaml}" "$1" -o "$T/refused.sys" >"$T/apply.out" 2>&1 || rc=$?
  [ "$rc" -eq 1 ] && [ ! -e "$T/refused.sys" ] && [ "$(sha "$1")" = "$h" ] &&
    grep -qE "$2" "$T/apply.out" ||
    { cat "$T/apply.out" >&2; fail "$(basename "$1"): exit $rc, want 1, nothing written and /$2/"; }
  echo "ok: $(basename "$1") refused: $(grep -m1 -oE "$2" "$T/apply.out")"
}
# No free header slot: never partial, the imm32 sites are not written either.
"$PYTHON" - "$T/mixed.sys" "$T/noroom.sys" <<'PY'
import sys, pefile
pe = pefile.PE(sys.argv[1])
end = pe.sections[-1].get_file_offset() + 40
b = bytearray(open(sys.argv[1], 'rb').read())
b[end + 4] = 0x42                                   # the slack after the section table holds data
open(sys.argv[2], 'wb').write(b)
PY
refused "$T/noroom.sys" "appending a section: the 40 bytes after the section table \(0x[0-9a-f]+\) are not free"
grep -q "refused (1 reason); nothing will be written" "$T/apply.out" || fail "noroom: the plan does not say nothing is written"
# An overlay after the last section would be displaced.
cp "$D/drv_short64.sys" "$T/overlay.sys"
printf 'appended data' >>"$T/overlay.sys"
refused "$T/overlay.sys" "0xd bytes follow the last section's data at 0x[0-9a-f]+ \(an overlay, or debug data outside the sections\); they would be displaced"
"$NXPATCH" plan --policy "$T/pool.yaml" --format json "$T/overlay.sys" | "$PYTHON" -c '
import json, sys
f = json.load(sys.stdin)["files"][0]
assert f["plan"] == "refused" and f["added_section"] is None, f["plan"]
assert any(x["id"] == "refused-add-section" for x in f["findings"]), [x["id"] for x in f["findings"]]' ||
  fail "overlay: the JSON plan does not carry refused-add-section"

# Signed: refused by default; stripped or re-signed (the certificate table
# last, after the new section) with the policy's consent.
P=$T/pki
make_pki "$P"
nxsign "$D/drv_short64.sys" "$T/signed.sys"
refused "$T/signed.sys" "image is signed \(1 entry\) and the policy says signature: refuse"
sed 's/settings: {checksum: always}/settings: {checksum: always, signature: resign}/' "$T/pool.yaml" >"$T/resign.yaml"
apply_ok "$T/signed.sys" "$T/resigned.sys" "$T/resign.yaml" --cert "$P/leaf-chain.pem" --key "$P/leaf.key"
ossl_verify "$T/resigned.sys" || { cat "$T/ossl.log" >&2; fail "osslsigncode rejects the re-signed wrapped driver"; }
"$PYTHON" - "$T/resigned.sys" <<'PY' || fail "the re-signed wrapped driver's layout is wrong"
import sys, pefile
pe = pefile.PE(sys.argv[1])
assert pe.verify_checksum()
s = pe.sections[-1]
d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[4]
assert s.Name.rstrip(b'\0') == b'.nxwrap'
assert d.VirtualAddress >= s.PointerToRawData + s.SizeOfRawData, 'the signature is not last'
assert d.VirtualAddress + d.Size == len(open(sys.argv[1], 'rb').read())
PY
expect_types "$T/resigned.sys" ExAllocatePoolWithTag "0x200 0x200"
sed 's/settings: {checksum: always}/settings: {checksum: always, signature: strip}/' "$T/pool.yaml" >"$T/strip.yaml"
apply_ok "$T/signed.sys" "$T/stripped.sys" "$T/strip.yaml"
cmp -s "$T/stripped.sys" "$T/short64.sys" ||
  fail "stripping and wrapping the signed driver does not give the unsigned driver's output"
echo "ok: a signed wrapped driver: refused, re-signed (osslsigncode verifies, it runs), or stripped"
