/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: planning `pool: nx` (pool.c), used by nxp_plan_build. */
#ifndef NXP_PLAN_POOL_H
#define NXP_PLAN_POOL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "nxpatch/analysis.h"
#include "nxpatch/plan.h"
#include "nxpatch/policy.h"

#define NXP_POOL_MAX_NOTES 16

typedef struct nxp_pool_edit {
	uint32_t offset;            /* file offset of the imm32 */
	uint32_t site_rva;          /* the call */
	uint16_t api;
	int section;
	uint32_t old_value, new_value;
	const char *rule;
} nxp_pool_edit;

typedef struct nxp_pool_plan {
	nxp_pool_edit edits[NXP_MAX_POOL_EDITS];
	size_t nedits;
	char refusals[NXP_POOL_MAX_NOTES][320];
	const char *refusal_rule[NXP_POOL_MAX_NOTES];
	uint32_t refusal_rva[NXP_POOL_MAX_NOTES];   /* the call site, 0 for the image */
	size_t nrefusals;
	size_t refusals_dropped;
	char warnings[NXP_POOL_MAX_NOTES][320];
	size_t nwarnings;
} nxp_pool_plan;

/* rules: the matching rules with pool: nx, in policy order. */
void nxp_plan_pool(nxp_pool_plan *pp, const nxp_facts *f, const nxp_rule *const *rules,
                   size_t nrules);

#endif
