/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_policy: the YAML policy loader on arbitrary text, then the glob
 * matcher. Checks: success gives a policy and no error; failure gives
 * NXP_E_POLICY (or NXP_E_NOMEM), no policy, and at least one diagnostic that
 * renders; nothing leaks either way. The buffer is passed with its exact
 * length and no terminating NUL, as the API allows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nxpatch/policy.h"
#include "policy/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_glob(const uint8_t *data, size_t size)
{
	/* "pattern\0text": only inputs holding a NUL exercise the matcher. */
	const uint8_t *nul = memchr(data, 0, size);
	if (!nul)
		return;
	size_t plen = (size_t)(nul - data);
	if (plen > 256 || size - plen - 1 > 1024)
		return;
	char *pat = strndup((const char *)data, plen);
	char *text = strndup((const char *)nul + 1, size - plen - 1);
	if (pat && text) {
		const char *why = nxpi_glob_check(pat);
		if (!why)
			(void)nxpi_glob_match(pat, text);
		else
			FUZZ_CHECK(why[0] != '\0', "empty glob_check reason");
	}
	free(pat);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nxp_policy *p = (nxp_policy *)(uintptr_t)1; /* must be overwritten */
	nxp_diags diags = {0};
	nxp_error err = {0};
	int rc = nxp_policy_load_buffer(&p, "fuzz.yaml", (const char *)data, size, &diags, &err);
	if (rc == NXP_OK) {
		FUZZ_CHECK(p != NULL, "success without a policy");
		FUZZ_CHECK(p->version == 1, "version %d", p->version);
		for (size_t i = 0; i < p->nrules; i++)
			FUZZ_CHECK(p->rules[i].id != NULL, "rule %zu without an id", i);
		nxp_policy_free(p);
	} else {
		fuzz_check_error(rc, &err);
		FUZZ_CHECK(p == NULL, "failure left *out set");
		FUZZ_CHECK(rc == NXP_E_POLICY || rc == NXP_E_NOMEM, "unexpected %s",
		           nxp_code_name(rc));
		FUZZ_CHECK(rc == NXP_E_NOMEM || diags.n > 0, "NXP_E_POLICY without diagnostics");
	}
	for (size_t i = 0; i < diags.n; i++) {
		FUZZ_CHECK(diags.items[i].message != NULL, "diagnostic %zu without a message", i);
		char *r = nxp_diag_render(&diags.items[i]);
		FUZZ_CHECK(r != NULL, "diagnostic %zu does not render", i);
		free(r);
	}
	nxp_diags_free(&diags);
	fuzz_glob(data, size);
	return 0;
}
