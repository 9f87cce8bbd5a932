/* RFC 3161 timestamping (not implemented yet). */
#include "sign/internal.h"

int nxp_timestamp_add(PKCS7_SIGNER_INFO *si, nxp_digest_alg alg, const char *url,
                      int timeout_ms, nxp_error *err)
{
	(void)si;
	(void)alg;
	(void)timeout_ms;
	return nxp_fail(err, NXP_E_SIGN, "timestamping (%s) is not implemented", url);
}
