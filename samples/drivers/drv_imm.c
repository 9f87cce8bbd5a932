/* SPDX-License-Identifier: Apache-2.0 */
/* drv_imm: the pool type as an immediate wide enough to hold 0x200.
 * x64 `mov ecx, imm32` (B9 imm32) before `call [rip+iat]` and before
 * `call rsi` with rsi loaded from the IAT; x86 `push imm32` (68 imm32)
 * before `call [abs32]` and `call esi`. Five sites: NonPagedPool (0),
 * NonPagedPoolCacheAligned (4) and NonPagedPool through the register are
 * executable; PagedPool (1) and NonPagedPoolNx (0x200) are not. */
#include "drv.h"

#ifdef _WIN64
NXS_SITE(site_nonpaged, "mov $0, %ecx")
NXS_SITE(site_cache_aligned, "mov $4, %ecx")
NXS_SITE(site_paged, "mov $1, %ecx")
NXS_SITE(site_nx, "mov $0x200, %ecx")
NXS_SITE_REG(site_nonpaged_reg, "mov $0, %ecx")
#else
NXS_SITE(site_nonpaged, NXS_PUSH32(0))
NXS_SITE(site_cache_aligned, NXS_PUSH32(4))
NXS_SITE(site_paged, "push $1")
NXS_SITE(site_nx, "push $0x200")
NXS_SITE_REG(site_nonpaged_reg, NXS_PUSH32(0))
#endif

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT drv, PUNICODE_STRING reg);
NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT drv, PUNICODE_STRING reg)
{
	(void)drv;
	(void)reg;
	int ok = 1;
	ok &= nxs_use(site_nonpaged());
	ok &= nxs_use(site_cache_aligned());
	ok &= nxs_use(site_paged());
	ok &= nxs_use(site_nx());
	ok &= nxs_use(site_nonpaged_reg());
	return ok ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}
