/* SPDX-License-Identifier: Apache-2.0 */
/* Driver facts: the APIs that can hand out executable memory, the imports
 * that name them, the image checks Driver Verifier makes at load (W+X,
 * SectionAlignment, the IAT in an executable section), and the call-site
 * sweep over every executable section (driver_sweep.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/driver_int.h"
#include "analysis/evidence_int.h"
#include "nxpatch/analysis.h"
#include "util/bytes.h"

/* Argument indexes are 0-based, in the prototype's order (the WDK's wdm.h;
 * docs/drivers.md lists the APIs). */
const nxp_drv_api nxp_drv_apis[] = {
	{"ExAllocatePool", 0, NXP_ARG_POOL_TYPE, NXP_CI_EXEC_POOL, NULL},
	{"ExAllocatePoolWithTag", 0, NXP_ARG_POOL_TYPE, NXP_CI_EXEC_POOL, NULL},
	{"ExAllocatePoolWithQuota", 0, NXP_ARG_POOL_TYPE, NXP_CI_EXEC_POOL, NULL},
	{"ExAllocatePoolWithQuotaTag", 0, NXP_ARG_POOL_TYPE, NXP_CI_EXEC_POOL, NULL},
	{"ExAllocatePoolWithTagPriority", 0, NXP_ARG_POOL_TYPE, NXP_CI_EXEC_POOL, NULL},
	{"ExInitializeNPagedLookasideList", 3, NXP_ARG_LOOKASIDE_FLAGS, NXP_CI_EXEC_POOL, NULL},
	{"ExInitializeLookasideListEx", 3, NXP_ARG_POOL_TYPE, NXP_CI_EXEC_POOL, NULL},
	{"ExAllocatePool2", 0, NXP_ARG_POOL_FLAGS, NXP_CI_EXEC_POOL, NULL},
	{"ExAllocatePool3", 0, NXP_ARG_POOL_FLAGS, NXP_CI_EXEC_POOL, NULL},
	{"ZwAllocateVirtualMemory", 5, NXP_ARG_PROTECT, NXP_CI_EXEC_PROTECT, NULL},
	{"NtAllocateVirtualMemory", 5, NXP_ARG_PROTECT, NXP_CI_EXEC_PROTECT, NULL},
	{"ZwProtectVirtualMemory", 3, NXP_ARG_PROTECT, NXP_CI_EXEC_PROTECT, NULL},
	{"NtProtectVirtualMemory", 3, NXP_ARG_PROTECT, NXP_CI_EXEC_PROTECT, NULL},
	{"MmProtectMdlSystemAddress", 1, NXP_ARG_PROTECT, NXP_CI_EXEC_PROTECT, NULL},
	{"MmMapLockedPagesSpecifyCache", 5, NXP_ARG_MDL_PRIORITY, NXP_CI_MDL_EXEC, NULL},
	{"MmMapIoSpace", -1, NXP_ARG_NONE, NXP_CI_NOT_FIXABLE,
	 "always maps executable memory; the source must use MmMapIoSpaceEx with "
	 "PAGE_READWRITE | PAGE_NOCACHE (Windows 10 and later)"},
	{"MmAllocateContiguousMemory", -1, NXP_ARG_NONE, NXP_CI_NOT_FIXABLE,
	 "returns executable memory; the source must use MmAllocateContiguousNodeMemory with "
	 "PAGE_READWRITE"},
	{"MmAllocateContiguousMemorySpecifyCache", -1, NXP_ARG_NONE, NXP_CI_NOT_FIXABLE,
	 "returns executable memory; the source must use MmAllocateContiguousNodeMemory with "
	 "PAGE_READWRITE"},
	{"MmMapLockedPages", -1, NXP_ARG_NONE, NXP_CI_NOT_FIXABLE,
	 "cannot ask for a no-execute mapping; the source must use "
	 "MmMapLockedPagesSpecifyCache with MdlMappingNoExecute"},
};
const size_t nxp_drv_napis = sizeof(nxp_drv_apis) / sizeof(nxp_drv_apis[0]);

int nxpi_drv_api_index(const char *name, size_t len)
{
	for (size_t i = 0; i < nxp_drv_napis; i++)
		if (strlen(nxp_drv_apis[i].name) == len && !memcmp(nxp_drv_apis[i].name, name, len))
			return (int)i;
	return -1;
}

nxp_site_verdict nxpi_drv_judge(nxp_drv_arg k, uint64_t v)
{
	switch (k) {
	case NXP_ARG_POOL_TYPE: /* paged types (odd) are NX on Windows 8+ */
		return (v & 1) || (v & NXP_POOL_NX_ALLOCATION) ? NXP_SITE_OK : NXP_SITE_EXEC;
	case NXP_ARG_LOOKASIDE_FLAGS:
		return v & NXP_POOL_NX_ALLOCATION ? NXP_SITE_OK : NXP_SITE_EXEC;
	case NXP_ARG_POOL_FLAGS:
		return v & NXP_POOL_FLAG_NON_PAGED_EXECUTE ? NXP_SITE_EXEC : NXP_SITE_OK;
	case NXP_ARG_PROTECT: /* PAGE_EXECUTE, _READ, _READWRITE, _WRITECOPY */
		return v & 0xf0 ? NXP_SITE_EXEC : NXP_SITE_OK;
	case NXP_ARG_MDL_PRIORITY:
		return v & NXP_MDL_MAPPING_NO_EXECUTE ? NXP_SITE_OK : NXP_SITE_EXEC;
	case NXP_ARG_NONE:
		break;
	}
	return NXP_SITE_NOT_FIXABLE;
}

const char *nxp_pool_type_name(uint64_t v, char *buf, size_t len)
{
	static const char *const base[] = {
		"NonPagedPool", "PagedPool", "NonPagedPoolMustSucceed", "DontUseThisType",
		"NonPagedPoolCacheAligned", "PagedPoolCacheAligned", "NonPagedPoolCacheAlignedMustS",
		"MaxPoolType"};
	static const char *const session[] = {
		"NonPagedPoolSession", "PagedPoolSession", "NonPagedPoolMustSucceedSession",
		"DontUseThisTypeSession", "NonPagedPoolCacheAlignedSession",
		"PagedPoolCacheAlignedSession", "NonPagedPoolCacheAlignedMustSSession"};
	if (v == 0x200 || v == 0x204 || v == 0x220) {
		snprintf(buf, len, "%s", v == 0x200 ? "NonPagedPoolNx"
		                         : v == 0x204 ? "NonPagedPoolNxCacheAligned"
		                                      : "NonPagedPoolSessionNx");
		return buf;
	}
	uint64_t t = v & ~(uint64_t)(NXP_POOL_NX_ALLOCATION | NXP_POOL_COLD_ALLOCATION);
	const char *name = t < 8 ? base[t] : t >= 32 && t < 39 ? session[t - 32] : NULL;
	if (!name) {
		snprintf(buf, len, "0x%llx", (unsigned long long)v);
		return buf;
	}
	snprintf(buf, len, "%s%s%s", name, v & NXP_POOL_NX_ALLOCATION ? " | POOL_NX_ALLOCATION" : "",
	         v & NXP_POOL_COLD_ALLOCATION ? " | POOL_COLD_ALLOCATION" : "");
	return buf;
}

const char *nxp_arg_how_name(nxp_arg_how h)
{
	static const char *const n[] = {
		"mov imm32",      "push imm32", "push imm8",           "xor (zero)",
		"short immediate", "loaded from memory", "computed in the block",
		"not set in the block", "stack adjusted before the call", "no argument"};
	return (unsigned)h < sizeof(n) / sizeof(n[0]) ? n[h] : "?";
}

const char *nxp_site_verdict_name(nxp_site_verdict v)
{
	static const char *const n[] = {"ok",          "executable", "unknown", "opted_in",
	                                "not_fixable", "nx_wrapper"};
	return (unsigned)v < sizeof(n) / sizeof(n[0]) ? n[v] : "?";
}

const char *nxp_call_shape_name(nxp_call_shape s)
{
	static const char *const n[] = {"call [rip+iat]", "call [iat]", "call reg", "jmp [iat]",
	                                "call thunk",     "call nx wrapper"};
	return (unsigned)s < sizeof(n) / sizeof(n[0]) ? n[s] : "?";
}

static void site_value(const nxp_drv_site *s, char *buf, size_t len);

void nxp_drv_site_value(const nxp_drv_site *s, char *buf, size_t len)
{
	site_value(s, buf, len);
	size_t n = strlen(buf);
	if (s->verdict == NXP_SITE_WRAPPED && n < len)
		snprintf(buf + n, len - n, ", made NX at run time by nxpatch's wrapper");
}

static void site_value(const nxp_drv_site *s, char *buf, size_t len)
{
	const nxp_drv_api *a = &nxp_drv_apis[s->api];
	char name[96];
	if (s->verdict == NXP_SITE_NOT_FIXABLE) {
		snprintf(buf, len, "not fixable by patching: %s", a->fix ? a->fix : "");
		return;
	}
	if (!s->known) {
		if (s->how == NXP_HOW_MEMORY && s->global_rva)
			snprintf(buf, len, "unknown: loaded from memory (global at 0x%x)%s", s->global_rva,
			         s->verdict == NXP_SITE_OPTIN ? ", which the driver sets to NonPagedPoolNx "
			                                        "(POOL_NX_OPTIN)"
			                                      : "");
		else
			snprintf(buf, len, "unknown: %s", nxp_arg_how_name(s->how));
		return;
	}
	switch (a->kind) {
	case NXP_ARG_POOL_TYPE:
		snprintf(buf, len, "%s (0x%llx)", nxp_pool_type_name(s->value, name, sizeof(name)),
		         (unsigned long long)s->value);
		break;
	case NXP_ARG_LOOKASIDE_FLAGS:
		snprintf(buf, len, "flags 0x%llx (%s)", (unsigned long long)s->value,
		         s->value & NXP_POOL_NX_ALLOCATION ? "POOL_NX_ALLOCATION"
		                                           : "no POOL_NX_ALLOCATION: NonPagedPool");
		break;
	case NXP_ARG_POOL_FLAGS:
		snprintf(buf, len, "POOL_FLAGS 0x%llx%s", (unsigned long long)s->value,
		         s->value & NXP_POOL_FLAG_NON_PAGED_EXECUTE ? " (POOL_FLAG_NON_PAGED_EXECUTE)" : "");
		break;
	case NXP_ARG_PROTECT:
		snprintf(buf, len, "protection 0x%llx%s", (unsigned long long)s->value,
		         s->value & 0xf0 ? " (PAGE_EXECUTE*)" : "");
		break;
	case NXP_ARG_MDL_PRIORITY:
		snprintf(buf, len, "priority 0x%llx%s", (unsigned long long)s->value,
		         s->value & NXP_MDL_MAPPING_NO_EXECUTE ? " (MdlMappingNoExecute)"
		                                               : " (no MdlMappingNoExecute)");
		break;
	case NXP_ARG_NONE:
		snprintf(buf, len, "-");
		break;
	}
}

static int cmp_slot(const void *a, const void *b)
{
	const nxpi_drv_slot *x = a, *y = b;
	return x->rva < y->rva ? -1 : x->rva > y->rva;
}

/* The IAT slots of the APIs in nxp_drv_apis, from every import descriptor
 * (names read from the lookup table, OriginalFirstThunk, or the IAT itself
 * when there is none). Also the RVA of the first IAT, for the 0x2005 check. */
static size_t import_slots(const nxp_image *img, nxpi_drv_slot *out, uint32_t *first_iat)
{
	size_t n = 0;
	*first_iat = 0;
	if (!img->imports_dir.present)
		return 0;
	unsigned tsz = img->pe32plus ? 8 : 4;
	uint32_t ndesc = img->nimports;
	for (uint32_t i = 0; i < ndesc; i++) {
		uint32_t off;
		if (!nxp_pe_rva_to_offset(img, (uint64_t)img->imports_dir.rva + 20ull * i, 20, &off))
			break;
		const uint8_t *d = img->data + off;
		uint32_t oft = nxpi_le32(d), ft = nxpi_le32(d + 16);
		uint32_t lookup = oft ? oft : ft;
		if (!ft || !lookup)
			continue;
		if (!*first_iat)
			*first_iat = ft;
		uint32_t loff;
		uint32_t avail = nxpi_ev_bytes_at(img, lookup, &loff);
		uint32_t nthunks = avail / tsz;
		if (nthunks > NXP_DRV_MAX_THUNKS)
			nthunks = NXP_DRV_MAX_THUNKS;
		for (uint32_t k = 0; k < nthunks && n < NXP_DRV_MAX_SLOTS; k++) {
			const uint8_t *t = img->data + loff + (size_t)k * tsz;
			uint64_t v = tsz == 8 ? nxpi_le64(t) : nxpi_le32(t);
			if (!v)
				break;
			if (v >> (tsz * 8 - 1))
				continue; /* by ordinal */
			uint32_t noff;
			uint32_t nav = nxpi_ev_bytes_at(img, (uint32_t)v + 2ull, &noff);
			if (!nav || (uint64_t)(uint32_t)v != v)
				continue;
			const char *name = (const char *)img->data + noff;
			size_t len = strnlen(name, nav < 64 ? nav : 64);
			int api = nxpi_drv_api_index(name, len);
			if (api >= 0)
				out[n++] = (nxpi_drv_slot){ft + k * tsz, (uint16_t)api};
		}
	}
	if (n > 1)
		qsort(out, n, sizeof(*out), cmp_slot);
	return n;
}

/* The load configuration names a Dynamic Value Relocation Table: the
 * kernel loader then rewrites import call sites itself (import call
 * optimisation, retpoline), which a patched call site would confuse. */
static int has_dvrt(const nxp_image *img)
{
	if (!img->load_config.present)
		return 0;
	const uint8_t *lc = img->data + img->load_config.offset;
	uint32_t size = img->load_config.size;
	uint32_t stored = size >= 4 ? nxpi_le32(lc) : 0;
	if (stored < size)
		size = stored;
	if (img->pe32plus) {
		if (size >= 200 && nxpi_le64(lc + 192))
			return 1; /* DynamicValueRelocTable */
		if (size >= 230 && nxpi_le32(lc + 224) && nxpi_le16(lc + 228))
			return 1; /* DynamicValueRelocTableOffset / Section */
	} else {
		if (size >= 124 && nxpi_le32(lc + 120))
			return 1;
		if (size >= 142 && nxpi_le32(lc + 136) && nxpi_le16(lc + 140))
			return 1;
	}
	return 0;
}

/* The NX wrappers of a section nxpatch appended: a section named
 * NXP_NXWRAP_SECTION, read-execute and not writable, whose data are
 * wrappers (each exactly what nxpi_nxwrap_encode writes for an API of the
 * slot it jumps through) and then zeros. Anything else is not recognised
 * and is swept like any code. Returns the count, 0 when not recognised. */
static size_t find_wraps(const nxp_image *img, int is64, const nxpi_drv_slot *slots,
                         size_t nslots, int *sec, nxpi_drv_wrap *out)
{
	for (unsigned i = 0; i < img->nsections; i++) {
		const nxp_section *s = &img->sections[i];
		if (strcmp(s->name, NXP_NXWRAP_SECTION) ||
		    (s->characteristics & (NXP_SCN_MEM_EXECUTE | NXP_SCN_MEM_WRITE)) !=
		            NXP_SCN_MEM_EXECUTE)
			continue;
		uint32_t off, len;
		nxpi_ev_section_bytes(img, (int)i, &off, &len);
		const uint8_t *p = img->data + off;
		size_t n = 0, pos = 0;
		for (; pos + NXP_NXWRAP_SIZE <= len && n < NXP_DRV_MAX_WRAPS; pos += NXP_NXWRAP_SIZE) {
			uint32_t rva = s->virtual_address + (uint32_t)pos, iat = 0;
			int api = -1;
			for (size_t k = 0; k < nslots && api < 0; k++)
				if (nxpi_nxwrap_match(is64, slots[k].api, p + pos, rva, &iat) &&
				    iat == slots[k].rva)
					api = slots[k].api;
			if (api < 0)
				break;
			out[n++] = (nxpi_drv_wrap){rva, iat, (uint16_t)api};
		}
		for (size_t k = pos; k < len; k++)
			if (p[k])
				return 0; /* not only wrappers and zeros */
		if (n)
			*sec = (int)i;
		return n;
	}
	return 0;
}

int nxpi_drv_analyze(nxp_facts *f)
{
	const nxp_image *img = f->img;
	nxp_driver_facts *d = calloc(1, sizeof(*d));
	if (!d)
		return NXP_E_NOMEM;
	f->driver = d;
	d->iat_section = -1;
	d->wrap_section = -1;
	for (unsigned i = 0; i < img->nsections; i++)
		if ((img->sections[i].characteristics & NXP_SCN_WX) == NXP_SCN_WX) {
			if (d->nwx < sizeof(d->wx_sections) / sizeof(d->wx_sections[0]))
				d->wx_sections[d->nwx] = (int)i;
			d->nwx++;
		}
	d->misaligned = img->section_alignment < 0x1000;
	d->has_dvrt = has_dvrt(img);

	nxpi_drv_slot *slots = malloc(NXP_DRV_MAX_SLOTS * sizeof(*slots));
	if (!slots)
		return NXP_E_NOMEM;
	uint32_t first_iat;
	size_t nslots = import_slots(img, slots, &first_iat);
	uint32_t iat = img->dirs[NXP_DIR_IAT].size ? img->dirs[NXP_DIR_IAT].rva : first_iat;
	if (iat) {
		d->iat_section = nxp_pe_section_of_rva(img, iat);
		d->iat_exec = d->iat_section >= 0 &&
		              (img->sections[d->iat_section].characteristics & NXP_SCN_MEM_EXECUTE);
	}

	int rc = NXP_OK;
	if (nslots && (img->machine == NXP_MACHINE_AMD64 || img->machine == NXP_MACHINE_I386)) {
		nxpi_drv_wrap wraps[NXP_DRV_MAX_WRAPS];
		int is64 = img->machine == NXP_MACHINE_AMD64;
		size_t nwraps = find_wraps(img, is64, slots, nslots, &d->wrap_section, wraps);
		d->nwraps = (unsigned)nwraps;
		nxpi_drv_code code = {is64, img->image_base, slots, nslots, wraps, nwraps};
		nxpi_drv_scan scan = {.d = d, .code = &code};
		for (unsigned i = 0; !rc && i < img->nsections; i++) {
			if (!(img->sections[i].characteristics & NXP_SCN_MEM_EXECUTE) ||
			    (int)i == d->wrap_section)
				continue; /* the wrappers' own jumps to the IAT are not call sites */
			uint32_t off, len;
			nxpi_ev_section_bytes(img, (int)i, &off, &len);
			if (len)
				rc = nxpi_drv_scan_code(&scan, img->data + off, len,
				                       img->sections[i].virtual_address);
		}
		if (!rc)
			nxpi_drv_scan_finish(&scan);
	}
	free(slots);
	return rc;
}

void nxpi_drv_free(nxp_facts *f)
{
	if (f->driver)
		free(f->driver->sites);
	free(f->driver);
	f->driver = NULL;
}
