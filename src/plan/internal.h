/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the plan stage (src/plan/), shared by its files. */
#ifndef NXP_PLAN_INTERNAL_H
#define NXP_PLAN_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "nxpatch/plan.h"

/* Append one whole-field change (no section, no bit list); the caller has
 * made sure there is room (NXP_MAX_CHANGES). */
static inline void nxpi_plan_add(nxp_plan *p, nxp_field field, uint32_t offset, uint32_t size,
                                 uint64_t old, uint64_t val)
{
	nxp_change *c = &p->changes[p->nchanges++];
	memset(c, 0, sizeof(*c));
	c->field = field;
	c->section = -1;
	c->offset = offset;
	c->size = size;
	c->old_value = old;
	c->new_value = val;
}

#endif
