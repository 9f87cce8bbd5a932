/* SPDX-License-Identifier: Apache-2.0 */
/* The planned CheckSum: computed from the input's bytes and the plan, by
 * swapping the changed bytes into the input's sum, without building the
 * output. */
#include "pe/internal.h"
#include "plan/internal.h"

uint32_t nxpi_plan_checksum(const nxp_plan *p, const nxp_image *img, const nxp_facts *f)
{
	uint64_t out_len = p->out_len;
	uint32_t sum;
	if (f && out_len == img->len)
		sum = f->checksum_computed - (uint32_t)img->len;
	else
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
	uint32_t sum = nxpi_plan_checksum(plan, img, pl->f);
	if (sum != img->checksum)
		nxpi_plan_add(plan, NXP_FIELD_CHECKSUM, img->checksum_offset, 4, img->checksum, sum);
	plan->checksum_new = sum;
}
