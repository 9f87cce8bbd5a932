/* SPDX-License-Identifier: Apache-2.0 */
/* Signature-only plans: what `sign` and `unsign` write, in the plan model
 * apply uses, so that they go through the one writer and its verification. */
#include <string.h>

#include "nxpatch/plan.h"
#include "plan/internal.h"
#include "nxpatch/sign.h"
#include "pe/internal.h"


int nxp_plan_signature(nxp_plan *plan, const nxp_image *img, nxp_sig_action action,
                       nxp_error *err)
{
	memset(plan, 0, sizeof(*plan));
	plan->checksum_old = img->checksum;
	plan->checksum_new = img->checksum;
	plan->out_len = img->len;
	plan->dll_new = img->dll_characteristics;
	for (unsigned i = 0; i < img->nsections; i++)
		plan->section_new[i] = img->sections[i].characteristics;
	if (action != NXP_SIGACT_STRIP && action != NXP_SIGACT_RESIGN)
		return nxp_fail(err, NXP_E_USAGE, "a signature plan strips or re-signs");
	nxp_sign_layout lay;
	int rc = nxp_sign_layout_of(img->data, img->len, img, &lay, err);
	if (rc)
		return rc;
	if (action == NXP_SIGACT_STRIP && !lay.has_table)
		return NXP_OK; /* not signed: nothing to do */
	plan->signature = action;
	plan->signature_entries = img->ncerts;
	plan->out_len = lay.content_len;
	uint64_t dir_old = (uint64_t)img->cert_size << 32 | img->cert_offset;
	if (lay.has_table)
		nxpi_plan_add(plan, NXP_FIELD_CERT_DIR, lay.cert_dir_offset, 8, dir_old, 0);
	if (action == NXP_SIGACT_STRIP) {
		/* The CheckSum of the image cut at the table, with directory
		 * entry 4 zeroed: always recomputed, as a signed image's was. */
		uint64_t n = plan->out_len;
		uint32_t s = nxpi_pe_sum_residue(
			nxp_pe_checksum(img->data, (size_t)n, lay.checksum_offset) - (uint32_t)n);
		for (uint32_t k = 0; k < 8; k++)
			s = nxpi_pe_sum_swap_byte(s, lay.cert_dir_offset + k,
			                         img->data[lay.cert_dir_offset + k], 0);
		uint32_t sum = nxpi_pe_sum_finish(s, n);
		if (sum != img->checksum)
			nxpi_plan_add(plan, NXP_FIELD_CHECKSUM, lay.checksum_offset, 4, img->checksum, sum);
		plan->checksum_new = sum;
		/* sorted by offset: CheckSum comes before directory entry 4 */
		if (plan->nchanges == 2) {
			nxp_change t = plan->changes[0];
			plan->changes[0] = plan->changes[1];
			plan->changes[1] = t;
		}
	}
	plan->status = NXP_PLAN_CHANGES;
	return NXP_OK;
}
