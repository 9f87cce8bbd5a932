/* SPDX-License-Identifier: Apache-2.0 */
/* Planning: evaluate the rules in order against one image's facts, resolve
 * every bit (the later rule wins), apply the safety checks, and produce the
 * list of field edits that apply will write. Nothing here touches a file.
 * This file runs the passes in order (src/plan/internal.h lists the file of
 * each) and holds the records they add to the plan. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nxpatch/plan.h"
#include "plan/internal.h"

void nxpi_plan_refuse(nxp_plan *p, nxp_finding_id id, nxp_where where, const char *rule,
                      const char *fmt, ...)
{
	if (p->nrefusals >= NXP_MAX_REFUSALS)
		return;
	nxp_refusal *r = &p->refusals[p->nrefusals++];
	r->id = id;
	r->where = where;
	r->rule = rule;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

nxp_where nxpi_plan_where(const char *field, uint32_t offset, int section)
{
	nxp_where w = NXP_WHERE_NONE;
	w.field = field;
	w.has_offset = 1;
	w.offset = offset;
	w.section = section;
	return w;
}

void nxpi_plan_warn(nxp_plan *p, const char *fmt, ...)
{
	if (p->nwarnings >= NXP_MAX_PLAN_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->warnings[p->nwarnings++], sizeof(p->warnings[0]), fmt, ap);
	va_end(ap);
}

void nxpi_plan_change(nxp_plan *p, nxp_field field, int section, uint32_t offset, uint32_t size,
                      uint64_t old, uint64_t val, const nxp_change *bits)
{
	nxp_change *c = &p->changes[p->nchanges++];
	memset(c, 0, sizeof(*c));
	if (bits) {
		memcpy(c->bits, bits->bits, bits->nbits * sizeof(c->bits[0]));
		c->nbits = bits->nbits;
	}
	c->field = field;
	c->section = section;
	c->offset = offset;
	c->size = size;
	c->old_value = old;
	c->new_value = val;
}

void nxpi_plan_init(nxp_plan *plan, const nxp_image *img)
{
	memset(plan, 0, sizeof(*plan));
	plan->checksum_old = img->checksum;
	plan->checksum_new = img->checksum;
	plan->out_len = img->len;
	plan->dll_new = img->dll_characteristics;
	for (unsigned i = 0; i < img->nsections; i++)
		plan->section_new[i] = img->sections[i].characteristics;
}

int nxp_plan_build(nxp_plan *plan, const nxp_policy *pol, const nxp_facts *f,
                   const nxp_plan_options *opt, nxp_error *err)
{
	(void)err;
	static const nxp_plan_options defaults = {0};
	const nxp_image *img = f->img;
	nxpi_planner *pl = &(nxpi_planner){.plan = plan, .pol = pol, .f = f,
	                                   .opt = opt ? opt : &defaults};
	nxpi_plan_init(plan, img);
	for (size_t i = 0; i < f->nwarnings; i++)
		nxpi_plan_warn(plan, "%s", f->warnings[i]);

	nxpi_plan_rules(pl);
	nxpi_plan_flags(pl);
	if (pl->npool)
		nxpi_plan_pool_changes(pl);
	int changed = plan->nchanges > 0;
	int will_be_signed = nxpi_plan_sign(pl, changed);
	nxpi_plan_check_dll(pl, will_be_signed);
	nxpi_plan_pool_section(pl);
	nxpi_plan_sanction_wx(pl);
	nxpi_plan_check_nx(pl);
	nxpi_plan_check_traced(pl);
	nxpi_plan_set_checksum(pl, changed);
	nxpi_plan_check_layout(plan, img);
	nxpi_plan_name_rules(plan, pol);

	if (plan->nrefusals)
		plan->status = NXP_PLAN_REFUSED;
	else if (plan->nchanges || plan->signature)
		plan->status = NXP_PLAN_CHANGES;
	else
		plan->status = NXP_PLAN_NOTHING;
	return NXP_OK;
}
