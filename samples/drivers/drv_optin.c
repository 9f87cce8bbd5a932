/* SPDX-License-Identifier: Apache-2.0 */
/* drv_optin: opted in at source level with POOL_NX_OPTIN. The WDK's
 * ExInitializeDriverRuntime(DrvRtPoolNxOptIn) is an inline function that sets
 * the driver's own global ExDefaultNonPagedPoolType to NonPagedPoolNx on
 * Windows 8 and later; under POOL_NX_OPTIN every NonPagedPool in the source
 * reads that global. mingw-w64 has neither, so they are written out here:
 * the call site loads the type from memory (`mov ecx, [rip+global]` /
 * `push dword [abs32]`), and the store of 0x200 to the global is what marks
 * the opt-in in the binary. */
#include "drv.h"

/* mingw maps it to a static-library helper; the kernel exports it. */
#undef RtlIsNtDdiVersionAvailable
NTKERNELAPI BOOLEAN NTAPI RtlIsNtDdiVersionAvailable(ULONG Version);

POOL_TYPE ExDefaultNonPagedPoolType = NonPagedPool;
ULONG ExDefaultMdlProtection = 0;

static void ExInitializeDriverRuntime(ULONG flags)
{
	if ((flags & DrvRtPoolNxOptIn) && RtlIsNtDdiVersionAvailable(NTDDI_WIN8)) {
		ExDefaultMdlProtection = MdlMappingNoExecute;
		ExDefaultNonPagedPoolType = NonPagedPoolNx;
	}
}

#ifdef _WIN64
NXS_SITE(site_default, "mov ExDefaultNonPagedPoolType(%rip), %ecx")
#else
NXS_SITE(site_default, "push _ExDefaultNonPagedPoolType")
#endif

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT drv, PUNICODE_STRING reg);
NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT drv, PUNICODE_STRING reg)
{
	(void)drv;
	(void)reg;
	ExInitializeDriverRuntime(DrvRtPoolNxOptIn);
	return nxs_use(site_default()) ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}
