/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: planning `pool: nx` (pool.c), used by nxp_plan_build. */
#ifndef NXPI_PLAN_POOL_H
#define NXPI_PLAN_POOL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "nxpatch/analysis.h"
#include "nxpatch/driver.h"
#include "nxpatch/plan.h"
#include "nxpatch/policy.h"

#define NXPI_POOL_MAX_NOTES 16

typedef struct nxpi_pool_edit {
	nxp_field field;            /* POOL_TYPE, CALL_SITE or RELOC_ENTRY */
	uint32_t offset;            /* file offset of the bytes */
	uint32_t size;              /* 2..8 */
	uint32_t site_rva;          /* the call */
	uint32_t rva;               /* CALL_SITE: the rewritten instruction; RELOC_ENTRY: the
	                             * address the entry relocated */
	uint32_t target_rva;        /* CALL_SITE: the wrapper */
	uint16_t api;
	int section;
	uint64_t old_value, new_value; /* little-endian bytes */
	const char *rule;
} nxpi_pool_edit;

/* One NX wrapper for the appended section. */
typedef struct nxpi_pool_wrap {
	uint16_t api;
	uint32_t iat_rva;
	uint32_t rva;
} nxpi_pool_wrap;

#define NXPI_POOL_MAX_WRAPS (NXP_MAX_ADDSEC_DATA / NXP_NXWRAP_SIZE)

typedef struct nxpi_pool_plan {
	nxpi_pool_edit edits[NXP_MAX_POOL_EDITS];
	size_t nedits;
	char refusals[NXPI_POOL_MAX_NOTES][320];
	const char *refusal_rule[NXPI_POOL_MAX_NOTES];
	uint32_t refusal_rva[NXPI_POOL_MAX_NOTES];   /* the call site, 0 for the image */
	size_t nrefusals;
	size_t refusals_dropped;
	char warnings[NXPI_POOL_MAX_NOTES][320];
	size_t nwarnings;
	/* The wrapper route: wrappers at nxpi_addsec_rva(img) + k * NXP_NXWRAP_SIZE,
	 * their bytes in code[0 .. nwraps * NXP_NXWRAP_SIZE). */
	nxpi_pool_wrap wraps[NXPI_POOL_MAX_WRAPS];
	size_t nwraps;
	uint8_t code[NXP_MAX_ADDSEC_DATA];
} nxpi_pool_plan;

/* rules: the matching rules with pool: nx, in policy order. */
void nxpi_plan_pool(nxpi_pool_plan *pp, const nxp_facts *f, const nxp_rule *const *rules,
                   size_t nrules);

#endif
