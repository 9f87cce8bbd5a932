/* SPDX-License-Identifier: Apache-2.0 */
/* drv_layout: one allocation (NX already) and nothing else; built three ways
 * for the section findings: with a writable and executable section
 * (drv_wx: NXS_WX_SECTION, 0x2003), with SectionAlignment 0x200 (drv_align,
 * 0x2004), and with its import section made executable (drv_iatx, 0x2005:
 * the IAT inside an executable section, as a /MERGE:.rdata=.text does). */
#include "drv.h"

#ifdef NXS_WX_SECTION
/* "wx": gas marks the section writable and executable (RWX in the PE). */
__asm__(".section .wxcode,\"wx\"\n\t"
        ".globl nxs_wx_byte\n"
        "nxs_wx_byte: ret\n\t"
        ".text\n\t");
#endif

#ifdef _WIN64
NXS_SITE(site_nx, "mov $0x200, %ecx")
#else
NXS_SITE(site_nx, "push $0x200")
#endif

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT drv, PUNICODE_STRING reg);
NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT drv, PUNICODE_STRING reg)
{
	(void)drv;
	(void)reg;
	return nxs_use(site_nx()) ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}
