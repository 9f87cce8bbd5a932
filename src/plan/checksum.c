/* SPDX-License-Identifier: Apache-2.0 */
/* The planned CheckSum: computed from the input's bytes and the plan, by
 * swapping the changed bytes into the input's sum, without building the
 * output. */
#include "analysis/internal.h"
#include "pe/internal.h"
#include "plan/internal.h"

/* The input's checksum the plan's starts from: computed, or (opt's
 * checksum_from_stored, facts derived on demand) the stored nonzero value,
 * taken as correct and recorded so in the plan. 0 when it must be derived
 * first (marked in the facts' demand; the plan is then built again). */
static int checksum_base(nxp_plan *p, const nxp_facts *f, const nxp_plan_options *opt,
                         uint32_t *base)
{
	if (f->checksum_unread && opt && opt->checksum_from_stored && f->img->checksum) {
		p->checksum_from_stored = 1;
		*base = f->img->checksum;
		return 1;
	}
	if (!nxpi_checksum_read(f))
		return 0;
	*base = f->checksum_computed;
	return 1;
}

uint32_t nxpi_plan_checksum(nxp_plan *p, const nxp_image *img, const nxp_facts *f,
                            const nxp_plan_options *opt)
{
	uint64_t out_len = p->out_len;
	uint32_t sum, base = 0;
	if (f && out_len == img->len) {
		if (!checksum_base(p, f, opt, &base))
			return 0;
		p->checksum_base = base;
		sum = base - (uint32_t)img->len;
	} else
		sum = nxp_pe_checksum(img->data, (size_t)out_len, img->checksum_offset) -
		      (uint32_t)out_len;
	sum = nxpi_pe_sum_residue(sum);
	for (size_t i = 0; i < p->nchanges; i++) {
		const nxp_change *c = &p->changes[i];
		if (c->field == NXP_FIELD_CHECKSUM)
			continue;
		for (uint32_t k = 0; k < c->size; k++)
			sum = nxpi_pe_sum_swap_byte(sum, c->offset + k, img->data[c->offset + k],
			                           (uint8_t)(c->new_value >> (8 * k)));
	}
	/* An appended section: its data start at an even (aligned) offset. */
	if (p->add.present)
		sum = nxpi_pe_sum_residue((uint64_t)sum + nxpi_pe_sum16(p->add.data, p->add.data_len, 0));
	return nxpi_pe_sum_finish(sum, nxp_plan_body_end(p));
}

void nxpi_plan_set_checksum(nxpi_planner *pl, int changed)
{
	nxp_plan *plan = pl->plan;
	const nxp_image *img = pl->f->img;
	int want_sum = pl->pol->checksum == NXP_CHECKSUM_ALWAYS || (changed && img->checksum != 0);
	if (plan->signature == NXP_SIGACT_RESIGN || !want_sum) {
		plan->checksum_new = img->checksum;
		return;
	}
	uint32_t sum = nxpi_plan_checksum(plan, img, pl->f, pl->opt);
	if (sum != img->checksum)
		nxpi_plan_add(plan, NXP_FIELD_CHECKSUM, img->checksum_offset, 4, img->checksum, sum);
	plan->checksum_new = sum;
}
