/* SPDX-License-Identifier: Apache-2.0 */
/* Checking a signature nxpatch has just made, before the output replaces
 * anything. */
#include "nxpatch/sign.h"

int nxp_sig_verify_own(const uint8_t *data, size_t len, const nxp_image *img,
                       const nxp_signer *signer, nxp_error *err)
{
	nxp_trust *trust = NULL;
	int rc = nxp_trust_from_signer(&trust, signer, err);
	if (!rc) {
		nxp_sig_result res[NXP_MAX_CERT_ENTRIES];
		size_t n = 0;
		rc = nxp_sig_verify(data, len, img, trust, res, NXP_MAX_CERT_ENTRIES, &n, err);
		if (!rc && n != 1)
			rc = nxp_fail(err, NXP_E_VERIFY, "expected one signature, found %zu", n);
	}
	nxp_trust_free(trust);
	if (rc) {
		nxp_error_prefix(err, "the signed output does not verify");
		err->code = NXP_E_VERIFY;
		return NXP_E_VERIFY;
	}
	return NXP_OK;
}
