/* SPDX-License-Identifier: Apache-2.0 */
/* drv_hvci: the other code-integrity findings, in C (the shapes are what
 * gcc -O1 emits). Executable memory that patching cannot fix (MmMapIoSpace,
 * MmAllocateContiguousMemory), executable protections (0x2001), an MDL
 * mapping without MdlMappingNoExecute (0x2002), and 0x2000 through a
 * non-paged lookaside list without POOL_NX_ALLOCATION, ExAllocatePool and
 * ExAllocatePoolWithTagPriority. DriverEntry runs only the lookaside list
 * and ExAllocatePool; the rest sits behind a flag that is never set (Wine
 * 8.0 implements MmMapIoSpace and the contiguous allocators as stubs and
 * ExAllocatePoolWithTagPriority not at all). */
#include "drv.h"

/* In ntifs.h, which does not combine with wdm.h. */
NTSYSAPI NTSTATUS NTAPI ZwAllocateVirtualMemory(HANDLE process, PVOID *base, ULONG_PTR zero_bits,
                                                PSIZE_T size, ULONG type, ULONG protect);

volatile int nxs_never;
static NPAGED_LOOKASIDE_LIST lookaside;

static int never_run(void)
{
	PHYSICAL_ADDRESS pa = {.QuadPart = 0xfed00000};
	PHYSICAL_ADDRESS hi = {.QuadPart = -1};
	void *io = MmMapIoSpace(pa, 4096, MmNonCached);
	void *cm = MmAllocateContiguousMemory(4096, hi);
	void *base = 0;
	SIZE_T size = 4096;
	ZwAllocateVirtualMemory(NtCurrentProcess(), &base, 0, &size, MEM_COMMIT,
	                        PAGE_EXECUTE_READWRITE);
	void *tp = ExAllocatePoolWithTagPriority(NonPagedPool, NXS_SIZE, NXS_TAG,
	                                         NormalPoolPriority);
	PMDL mdl = IoAllocateMdl(io, 4096, FALSE, FALSE, NULL);
	void *va = MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, FALSE,
	                                        NormalPagePriority);
	return io != 0 && cm != 0 && va != 0 && tp != 0;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT drv, PUNICODE_STRING reg);
NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT drv, PUNICODE_STRING reg)
{
	(void)drv;
	(void)reg;
	if (nxs_never)
		return never_run() ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
	ExInitializeNPagedLookasideList(&lookaside, NULL, NULL, 0, NXS_SIZE, NXS_TAG, 0);
	int ok = nxs_use(ExAllocatePool(NonPagedPool, NXS_SIZE));
	ExDeleteNPagedLookasideList(&lookaside);
	return ok ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}
