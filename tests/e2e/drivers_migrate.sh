#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# pool: nx (issue 15 section 2) on the real loader: before apply every
# executable allocation site passes NonPagedPool (0) or a CacheAligned type
# under wine64's +relay log, after apply the NX form (0x200, 0x204), paged
# and NX sites are untouched, DriverEntry still succeeds; the written
# drivers parse with pefile and LIEF, their checksums are valid, exactly
# the planned bytes differ, and a re-signed one verifies with osslsigncode.
# Unknown types and signed drivers are refused with the reason and nothing
# is written; keep_executable leaves a site alone. Sites whose type is set
# too short for 0x200 (the wrapper route) are drivers_wrap.sh's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/drivers.bash"
. "$(dirname "$0")/pki.sh"
require_wine
require_pefile
require_cmd osslsigncode
require_cmd openssl
D=$NXP_SAMPLES_DIR/drivers

cat >"$T/pool.yaml" <<'Y'
nxpatch: 1
settings: {checksum: always}
rules:
  - id: nx-pool
    when: {kind: driver}
    actions:
      - pool: nx
Y

# apply_ok IN OUT [policy]: apply succeeds and OUT is written.
apply_ok() {
  "$NXPATCH" apply --policy "${3:-$T/pool.yaml}" "$1" -o "$2" >"$T/apply.out" 2>&1 ||
    { cat "$T/apply.out" >&2; fail "apply $(basename "$1") failed"; }
}

# pe_ok IN OUT NBYTES: pefile parses OUT, its checksum is valid, and it
# differs from IN in NBYTES bytes outside the CheckSum field.
pe_ok() {
  "$PYTHON" - "$1" "$2" "$3" <<'PY' || fail "$(basename "$2"): pefile check failed"
import sys, pefile
a, b = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
pe = pefile.PE(sys.argv[2])
assert pe.verify_checksum(), 'checksum not valid'
cs = pe.OPTIONAL_HEADER.get_file_offset() + 64
diff = [i for i in range(len(a)) if a[i] != b[i] and not cs <= i < cs + 4]
assert len(a) == len(b), 'length changed'
assert len(diff) == int(sys.argv[3]), f'{len(diff)} bytes differ: {diff}'
text = next(s for s in pe.sections if s.Name.rstrip(b'\0') == b'.text')
lo = text.PointerToRawData
assert all(lo <= i < lo + text.SizeOfRawData for i in diff), 'a change outside .text'
PY
  "$NXPATCH" scan --cross-check "$2" >/dev/null || fail "$(basename "$2"): LIEF disagrees with the reader"
}

# x64 mov ecx, imm32 (call [rip+iat] and call rsi): three sites change.
expect_types "$D/drv_imm64.sys" ExAllocatePoolWithTag "0x0 0x4 0x1 0x200 0x0"
apply_ok "$D/drv_imm64.sys" "$T/imm64.sys"
expect_types "$T/imm64.sys" ExAllocatePoolWithTag "0x200 0x204 0x1 0x200 0x200"
pe_ok "$D/drv_imm64.sys" "$T/imm64.sys" 3
grep -q ': nothing to do$' <<<"$("$NXPATCH" plan --policy "$T/pool.yaml" "$T/imm64.sys")" ||
  fail "the migrated driver is not compliant: applying the policy again would change it"
"$NXPATCH" scan --format json "$T/imm64.sys" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)["files"][0]["driver"]
assert d["findings"] == [], d["findings"]' || fail "the migrated driver still has findings"

# The lookaside list (flags |= POOL_NX_ALLOCATION), ExAllocatePool and
# ExAllocatePoolWithTagPriority; MmMapIoSpace is reported as not fixable.
drv_run "$D/drv_hvci64.sys"
grep -q '^ExInitializeNPagedLookasideList [^ ]* [^ ]* 0x0 0x0 0x0 ' "$T/drv.calls" ||
  fail "drv_hvci64: lookaside flags were not 0 before"
apply_ok "$D/drv_hvci64.sys" "$T/hvci64.sys"
grep -q 'warning: MmMapIoSpace call at 0x[0-9a-f]* is not fixable by patching' "$T/apply.out" ||
  fail "apply does not say MmMapIoSpace cannot be fixed: $(cat "$T/apply.out")"
expect_types "$T/hvci64.sys" ExAllocatePool "0x200"
grep -q '^ExInitializeNPagedLookasideList [^ ]* [^ ]* 0x0 0x0 0x200 ' "$T/drv.calls" ||
  { cat "$T/drv.calls" >&2; fail "drv_hvci64: lookaside flags are not POOL_NX_ALLOCATION after"; }
pe_ok "$D/drv_hvci64.sys" "$T/hvci64.sys" 3
echo "ok: lookaside flags 0 -> 0x200 under the loader"

# x86 push imm32 (not run: wine64 cannot load PE32; checked statically).
apply_ok "$D/drv_imm32.sys" "$T/imm32.sys"
pe_ok "$D/drv_imm32.sys" "$T/imm32.sys" 3
"$NXPATCH" scan --format json "$T/imm32.sys" | "$PYTHON" -c '
import json, sys
s = json.load(sys.stdin)["files"][0]["driver"]["sites"]
assert [x["value"] for x in s] == [0x200, 0x204, 1, 0x200, 0x200], s' ||
  fail "drv_imm32: the written pushes do not read back as NX types"
echo "ok: drv_imm32.sys: push imm32 sites now push 0x200/0x204"

# keep_executable: the first site (call at its RVA) keeps NonPagedPool.
first=$("$NXPATCH" scan --format json "$D/drv_imm64.sys" |
        "$PYTHON" -c 'import json,sys; print(hex(json.load(sys.stdin)["files"][0]["driver"]["sites"][0]["rva"]))')
cat >"$T/keep.yaml" <<Y
nxpatch: 1
settings: {checksum: always}
rules:
  - id: nx-pool
    when: {kind: driver}
    actions:
      - pool: nx
        keep_executable: [$first, 0x7777]
Y
apply_ok "$D/drv_imm64.sys" "$T/keep64.sys" "$T/keep.yaml"
grep -q "keeps its pool type (keep_executable)" "$T/apply.out" &&
grep -q "keep_executable 0x7777 (rule nx-pool) names no pool call site" "$T/apply.out" ||
  fail "keep_executable: no notes: $(cat "$T/apply.out")"
expect_types "$T/keep64.sys" ExAllocatePoolWithTag "0x0 0x204 0x1 0x200 0x200"

# Refusals: nothing written, the reason given, the input untouched.
# refused IN REGEX [policy]
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
# (Sites whose type is too short for 0x200 take the wrapper route:
# drivers_wrap.sh.)
# An unknown pool type (loaded from memory, no NX store): refused.
"$PYTHON" - "$D/drv_optin64.sys" "$T/unknown.sys" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
i = b.find(bytes.fromhex('c705'))                   # mov dword [rip+g], 0x200
while i >= 0 and b[i + 6:i + 10] != bytes.fromhex('00020000'):
    i = b.find(bytes.fromhex('c705'), i + 1)
assert i > 0
b[i + 7] = 0                                        # ... now stores 0
open(sys.argv[2], 'wb').write(b)
PY
refused "$T/unknown.sys" "the pool type is unknown: loaded from memory \(global at 0x[0-9a-f]+\); list the site in keep_executable"
grep -q ': nothing to do$' <<<"$("$NXPATCH" plan --policy "$T/pool.yaml" "$D/drv_optin64.sys")" ||
  fail "an opted-in driver (POOL_NX_OPTIN) should need nothing"
echo "ok: POOL_NX_OPTIN driver: nothing to do"

# Signed: refused by default; re-signed with signature: resign.
P=$T/pki
make_pki "$P"
nxsign "$D/drv_imm64.sys" "$T/signed.sys"
refused "$T/signed.sys" "image is signed \(1 entry\) and the policy says signature: refuse"
sed 's/settings: {checksum: always}/settings: {checksum: always, signature: resign}/' "$T/pool.yaml" >"$T/resign.yaml"
"$NXPATCH" apply --policy "$T/resign.yaml" "$T/signed.sys" -o "$T/resigned.sys" \
  --cert "$P/leaf-chain.pem" --key "$P/leaf.key" >"$T/apply.out" 2>&1 ||
  { cat "$T/apply.out" >&2; fail "resign: apply failed"; }
ossl_verify "$T/resigned.sys" || { cat "$T/ossl.log" >&2; fail "osslsigncode rejects the re-signed driver"; }
"$PYTHON" -c 'import pefile,sys; assert pefile.PE(sys.argv[1]).verify_checksum()' "$T/resigned.sys" ||
  fail "the re-signed driver's checksum is not valid"
expect_types "$T/resigned.sys" ExAllocatePoolWithTag "0x200 0x204 0x1 0x200 0x200"
echo "ok: a re-signed migrated driver verifies with osslsigncode and runs"
