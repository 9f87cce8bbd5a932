#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The driver report and pool: nx on real drivers from Debian's libwine
# (Wine's own .sys files, built by mingw-w64): every one scans, and Wine's
# usbd.sys allocates NonPagedPool through ExAllocatePool's import thunk,
# set by `xor ecx, ecx` on x64 (too short for 0x200: the wrapper route,
# refused because the image keeps a COFF symbol table after its sections,
# which an appended section would displace) and by `mov dword [esp], 0` on
# x86 (migrated: the immediates become 0x200, the checksum is valid,
# nothing else changes).
. "$(dirname "$0")/lib.sh"
require_corpus
require_pefile
mapfile -t drivers < <(awk -F'\t' '$1 ~ /^wine(32|64)\/.*\.sys$/ { print $1 }' "$TC/MANIFEST.tsv")
[ "${#drivers[@]}" -ge 10 ] || fail "fewer than 10 wine drivers in the corpus (${#drivers[@]})"
args=()
for d in "${drivers[@]}"; do args+=("$TC/$d"); done
"$NXPATCH" scan --format json "${args[@]}" >"$T/scan.json" || fail "scan failed on the wine drivers"
"$PYTHON" - "$T/scan.json" <<'PY' || fail "the wine drivers' report is not what it should be"
import json, sys
files = json.load(open(sys.argv[1]))['files']
drivers = [f for f in files if f['kind'] == 'driver']
assert all(f['status'] == 'ok' for f in files), [f['path'] for f in files if f['status'] != 'ok']
assert all('driver' in f for f in drivers) and len(drivers) >= 10, len(drivers)
def usbd(arch):
    return next(f for f in drivers if f['path'].endswith(arch + '-windows/usbd.sys'))['driver']['sites']
for arch, how in (('x86_64', 'xor (zero)'), ('i386', 'mov imm32')):
    s = usbd(arch)
    assert [(x['api'], x['value'], x['verdict'], x['resolved'], x['call']) for x in s] == \
        [('ExAllocatePool', 0, 'executable', how, 'call thunk')] * 2, (arch, s)
n = sum(len(f['driver']['sites']) for f in drivers)
print(f'{len(drivers)} drivers, {n} call sites')
PY
echo "ok: every wine driver scans; usbd.sys's NonPagedPool sites resolved on both machines"

u64=$(printf '%s\n' "${args[@]}" | grep 'x86_64-windows/usbd.sys$')
u32=$(printf '%s\n' "${args[@]}" | grep 'i386-windows/usbd.sys$')
rc=0; "$NXPATCH" apply --policy "$NXP_SOURCE_DIR/rules/driver-hvci.yaml" "$u64" -o "$T/u64.sys" >"$T/out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && [ ! -e "$T/u64.sys" ] && grep -q 'appending a section: the image has a COFF symbol table (PointerToSymbolTable 0x[0-9a-f]*) after its sections' "$T/out" ||
  { cat "$T/out" >&2; fail "x64 usbd.sys: exit $rc, want a refusal and nothing written"; }
"$NXPATCH" apply --policy "$NXP_SOURCE_DIR/rules/driver-hvci.yaml" "$u32" -o "$T/u32.sys" >"$T/out" 2>&1 ||
  { cat "$T/out" >&2; fail "x86 usbd.sys: apply failed"; }
"$PYTHON" - "$u32" "$T/u32.sys" <<'PY' || fail "x86 usbd.sys: the output is wrong"
import sys, pefile
a, b = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
pe = pefile.PE(sys.argv[2])
assert pe.verify_checksum()
cs = pe.OPTIONAL_HEADER.get_file_offset() + 64
diff = [i for i in range(len(a)) if a[i] != b[i] and not cs <= i < cs + 4]
assert len(a) == len(b) and len(diff) == 2, diff
assert all(b[i] == 0x02 and a[i] == 0 for i in diff), diff
PY
grep -q ': nothing to do$' <<<"$("$NXPATCH" plan --policy "$NXP_SOURCE_DIR/rules/driver-hvci.yaml" "$T/u32.sys")" ||
  fail "x86 usbd.sys: the migrated driver still has something to do"
"$NXPATCH" scan --cross-check "$T/u32.sys" >/dev/null || fail "x86 usbd.sys: LIEF disagrees"
echo "ok: x64 usbd.sys refused (xor sites need a section; its symbol table is in the way), x86 usbd.sys migrated (2 bytes + checksum)"
