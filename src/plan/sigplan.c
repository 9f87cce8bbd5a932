/* SPDX-License-Identifier: Apache-2.0 */
/* The signature in plans: what a rule-based plan does with the input's
 * signature (refuse, strip, re-sign, or sign an unsigned image), and the
 * signature-only plans that `sign` and `unsign` write, in the plan model
 * apply uses, so that they go through the one writer and its verification. */
#include <string.h>

#include "nxpatch/plan.h"
#include "nxpatch/sign.h"
#include "plan/internal.h"
#include "util/bytes.h"

/* signature: sign on an unsigned image: the output gets a signature whether
 * or not anything else changes (a garbage certificate-table entry the
 * reader ignored is replaced). */
static void sign_unsigned(nxpi_planner *pl)
{
	nxp_plan *plan = pl->plan;
	const nxp_image *img = pl->f->img;
	nxp_sign_layout lay;
	nxp_error e = {0};
	if (nxp_sign_layout_of(img->data, img->len, img, &lay, &e)) {
		nxpi_plan_refuse(plan, NXP_F_REFUSED_CERT_LAYOUT,
		                 nxpi_plan_where("certificate_table_entry", img->cert_dir_offset, -1), NULL,
		                 "signature: sign cannot sign this image: %s", e.msg);
		return;
	}
	plan->signature = NXP_SIGACT_RESIGN;
	plan->signature_entries = 0;
	plan->out_len = lay.content_len;
	if (lay.has_table)
		nxpi_plan_add(plan, NXP_FIELD_CERT_DIR, lay.cert_dir_offset, 8,
		              (uint64_t)img->cert_size << 32 | img->cert_offset, 0);
	if (!pl->opt->will_sign)
		nxpi_plan_warn(plan, "signing needs key material at apply time (--cert and --key, or "
		                     "--pkcs12)");
}

/* A signed image the plan changes: the policy's signature mode decides. */
static int resolve_signed(nxpi_planner *pl)
{
	nxp_plan *plan = pl->plan;
	const nxp_policy *pol = pl->pol;
	const nxp_image *img = pl->f->img;
	const char *by = plan->changes[0].nbits ? plan->changes[0].bits[0].rule : NULL;
	plan->signature_entries = img->ncerts;
	if (pol->signature == NXP_SIGMODE_REFUSE) {
		nxpi_plan_refuse(plan, NXP_F_REFUSED_SIGNED, NXP_WHERE_NONE, by,
		                 "image is signed (%u entr%s) and the policy says signature: refuse (%s); "
		                 "patching would invalidate the signature; --signature strip, resign or "
		                 "sign (or signature: in the policy's settings) allows it",
		                 img->ncerts, img->ncerts == 1 ? "y" : "ies",
		                 pol->signature_from ? pol->signature_from : "the default");
		return 0;
	}
	if (!NXP_FITS(img->cert_offset, img->cert_size, img->len) ||
	    img->cert_offset + img->cert_size != img->len) {
		nxpi_plan_refuse(plan, NXP_F_REFUSED_CERT_LAYOUT,
		                 nxpi_plan_where("certificate_table_entry", img->cert_dir_offset, -1), by,
		                 "certificate table (0x%x + 0x%x) is not at the end of the file (0x%zx); "
		                 "it cannot be removed without moving data",
		                 img->cert_offset, img->cert_size, img->len);
		return 0;
	}
	plan->signature = pol->signature == NXP_SIGMODE_STRIP ? NXP_SIGACT_STRIP : NXP_SIGACT_RESIGN;
	plan->out_len = img->cert_offset;
	nxpi_plan_add(plan, NXP_FIELD_CERT_DIR, img->cert_dir_offset, 8,
	              (uint64_t)img->cert_size << 32 | img->cert_offset, 0);
	if (plan->signature != NXP_SIGACT_RESIGN)
		return 0;
	if (!pl->opt->will_sign)
		nxpi_plan_warn(plan, "re-signing needs key material at apply time (--cert and --key, "
		                     "or --pkcs12)");
	return 1;
}

int nxpi_plan_sign(nxpi_planner *pl, int changed)
{
	const nxp_facts *f = pl->f;
	if (changed && f->is_signed)
		return resolve_signed(pl);
	if (pl->pol->signature == NXP_SIGMODE_SIGN && !f->is_signed) {
		sign_unsigned(pl);
		return pl->plan->signature == NXP_SIGACT_RESIGN;
	}
	return f->is_signed && (f->img->dll_characteristics & NXP_DLL_FORCE_INTEGRITY);
}

int nxp_plan_signature(nxp_plan *plan, const nxp_image *img, nxp_sig_action action,
                       nxp_error *err)
{
	nxpi_plan_init(plan, img);
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
		uint32_t sum = nxpi_plan_checksum(plan, img, NULL, NULL);
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
