/* SPDX-License-Identifier: Apache-2.0 */
/* drv_short: NonPagedPool encoded too short to hold 0x200: x64
 * `xor ecx, ecx` (31 C9) before `call [rip+iat]` and before `call rsi`
 * (rsi loaded from the IAT); x86 `push 0` (6A 00) before `call [abs32]`
 * and `call esi`. Migrating these needs a wrapper, not an immediate. */
#include "drv.h"

#ifdef _WIN64
NXS_SITE(site_xor, "xor %ecx, %ecx")
NXS_SITE_REG(site_xor_reg, "xor %ecx, %ecx")
#else
NXS_SITE(site_xor, "push $0")
NXS_SITE_REG(site_xor_reg, "push $0")
#endif

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT drv, PUNICODE_STRING reg);
NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT drv, PUNICODE_STRING reg)
{
	(void)drv;
	(void)reg;
	int ok = 1;
	ok &= nxs_use(site_xor());
	ok &= nxs_use(site_xor_reg());
	return ok ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}
