#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The test oracle for the driver work: the sample drivers load under wine64
# (its ntoskrnl.exe resolves their imports), DriverEntry succeeds, and
# WINEDEBUG=+relay shows the pool type each call site passes, one site
# after another in the order DriverEntry calls them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/drivers.bash"
require_wine
require_pefile
D=$NXP_SAMPLES_DIR/drivers

# mov ecx, imm32 via call [rip+iat]: NonPagedPool, CacheAligned, Paged, Nx;
# then NonPagedPool via call rsi.
expect_types "$(sample drivers/drv_imm64.sys)" ExAllocatePoolWithTag "0x0 0x4 0x1 0x200 0x0"
# Each call returns to the instruction after its own site: the RVAs are the
# five distinct call sites, not one helper.
[ "$(awk '$1 == "ExAllocatePoolWithTag" { print $2 }' "$T/drv.calls" | sort -u | wc -l)" = 5 ] ||
  fail "drv_imm64.sys: the five allocations do not come from five call sites"
expect_types "$(sample drivers/drv_short64.sys)" ExAllocatePoolWithTag "0x0 0x0"
# POOL_NX_OPTIN: the type is read from the driver's global; Wine 8.0's
# RtlIsNtDdiVersionAvailable says no to Windows 8, so it stays NonPagedPool.
expect_types "$(sample drivers/drv_optin64.sys)" ExAllocatePoolWithTag "0x0"
expect_types "$(sample drivers/drv_hvci64.sys)" ExAllocatePool "0x0"
grep -q '^ExInitializeNPagedLookasideList ' "$T/drv.calls" ||
  fail "drv_hvci64.sys: no ExInitializeNPagedLookasideList call seen"
for n in layout wx align iatx; do
  expect_types "$(sample drivers/drv_${n}64.sys)" ExAllocatePoolWithTag "0x200"
done

# The driver's own checks fail when an allocation does: a copy of
# drv_imm64.sys whose first `call [rip+iat]` became `xor eax, eax` and four
# nops (the allocation "returns NULL") must make DriverEntry fail.
"$PYTHON" - "$(sample drivers/drv_imm64.sys)" "$T/nullalloc.sys" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
site = bytes.fromhex('b900000000ba40000000' '41b84e787073' 'ff15')
i = b.find(site)
assert i > 0, 'site not found'
b[i + 16:i + 22] = bytes.fromhex('31c090909090')
open(sys.argv[2], 'wb').write(b)
PY
drv_run "$T/nullalloc.sys"
[ "$drv_rc" -eq 1 ] && grep -qx 'DriverEntry returned 0xc0000001' "$T/drv.out" ||
  { cat "$T/drv.out" >&2; fail "a driver whose allocation fails: exit $drv_rc, want 1 (STATUS_UNSUCCESSFUL)"; }
[ "$(drv_types ExAllocatePoolWithTag)" = "0x4 0x1 0x200 0x0" ] ||
  fail "the relay log still shows the removed call"
echo "ok: a failed allocation makes DriverEntry fail (exit 1), and the relay log shows 4 calls"
