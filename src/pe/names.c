/* SPDX-License-Identifier: Apache-2.0 */
/* Stable names: the vocabulary of `scan`, the JSON reports and policies. */
#include <stdio.h>
#include <string.h>

#include "nxpatch/pe.h"

const nxp_flag_name nxp_dll_flag_names[] = {
	{"high_entropy_va", NXP_DLL_HIGH_ENTROPY_VA},
	{"dynamic_base", NXP_DLL_DYNAMIC_BASE},
	{"force_integrity", NXP_DLL_FORCE_INTEGRITY},
	{"nx_compat", NXP_DLL_NX_COMPAT},
	{"no_isolation", NXP_DLL_NO_ISOLATION},
	{"no_seh", NXP_DLL_NO_SEH},
	{"no_bind", NXP_DLL_NO_BIND},
	{"appcontainer", NXP_DLL_APPCONTAINER},
	{"wdm_driver", NXP_DLL_WDM_DRIVER},
	{"guard_cf", NXP_DLL_GUARD_CF},
	{"terminal_server_aware", NXP_DLL_TERMINAL_SERVER_AWARE},
	{NULL, 0},
};

const nxp_flag_name nxp_section_attr_names[] = {
	{"no_pad", 0x00000008u},
	{"code", NXP_SCN_CNT_CODE},
	{"initialized_data", NXP_SCN_CNT_INITIALIZED_DATA},
	{"uninitialized_data", NXP_SCN_CNT_UNINITIALIZED_DATA},
	{"lnk_other", 0x00000100u},
	{"lnk_info", 0x00000200u},
	{"lnk_remove", 0x00000800u},
	{"lnk_comdat", 0x00001000u},
	{"gprel", 0x00008000u},
	{"nreloc_ovfl", 0x01000000u},
	{"discardable", NXP_SCN_MEM_DISCARDABLE},
	{"not_cached", NXP_SCN_MEM_NOT_CACHED},
	{"not_paged", NXP_SCN_MEM_NOT_PAGED},
	{"shared", NXP_SCN_MEM_SHARED},
	{"execute", NXP_SCN_MEM_EXECUTE},
	{"read", NXP_SCN_MEM_READ},
	{"write", NXP_SCN_MEM_WRITE},
	{NULL, 0},
};

const nxp_flag_name nxp_machine_names[] = {
	{"i386", NXP_MACHINE_I386},
	{"amd64", NXP_MACHINE_AMD64},
	{"arm64", NXP_MACHINE_ARM64},
	{"arm", NXP_MACHINE_ARM},
	{"armnt", NXP_MACHINE_ARMNT},
	{"ia64", NXP_MACHINE_IA64},
	{"arm64ec", 0xa641},
	{"riscv64", 0x5064},
	{"unknown", 0},
	{NULL, 0},
};

const nxp_flag_name nxp_subsystem_names[] = {
	{"unknown", 0},
	{"native", 1},
	{"windows_gui", 2},
	{"windows_cui", 3},
	{"os2_cui", 5},
	{"posix_cui", 7},
	{"native_windows", 8},
	{"windows_ce_gui", 9},
	{"efi_application", 10},
	{"efi_boot_service_driver", 11},
	{"efi_runtime_driver", 12},
	{"efi_rom", 13},
	{"xbox", 14},
	{"windows_boot_application", 16},
	{NULL, 0},
};

static const char *lookup_value(const nxp_flag_name *t, uint32_t v)
{
	for (; t->name; t++)
		if (t->bit == v)
			return t->name;
	return NULL;
}

const char *nxp_machine_name(uint16_t machine)
{
	return lookup_value(nxp_machine_names, machine);
}

const char *nxp_subsystem_name(uint16_t subsystem)
{
	return lookup_value(nxp_subsystem_names, subsystem);
}

const char *nxp_kind_name(nxp_kind kind)
{
	static const char *const names[] = {
		[NXP_KIND_EXE] = "exe",
		[NXP_KIND_DLL] = "dll",
		[NXP_KIND_DRIVER] = "driver",
		[NXP_KIND_EFI] = "efi",
	};
	if ((unsigned)kind >= (sizeof(names) / sizeof(names[0])))
		return "unknown";
	return names[kind];
}

int nxp_flag_lookup(const nxp_flag_name *table, const char *name, uint32_t *bit)
{
	for (; table->name; table++) {
		if (strcmp(table->name, name) == 0) {
			*bit = table->bit;
			return 1;
		}
	}
	return 0;
}

size_t nxp_flag_format(const nxp_flag_name *table, uint32_t value, const char *sep,
                       char *out, size_t outlen)
{
	size_t n = 0;
	uint32_t known = 0;
	if (outlen)
		out[0] = '\0';
#define APPEND(...)                                                             \
	do {                                                                    \
		int w_ = snprintf(out + (n < outlen ? n : outlen),              \
		                  n < outlen ? outlen - n : 0, __VA_ARGS__);    \
		if (w_ > 0)                                                     \
			n += (size_t)w_;                                        \
	} while (0)
	for (const nxp_flag_name *t = table; t->name; t++) {
		if (t->bit && (value & t->bit) == t->bit) {
			APPEND("%s%s", n ? sep : "", t->name);
			known |= t->bit;
		}
	}
	if (value & ~known)
		APPEND("%s0x%x", n ? sep : "", value & ~known);
#undef APPEND
	return n;
}
