/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_pe: the strict reader, the analysis and both report renderers on
 * arbitrary bytes. Checks, beyond "no crash, no leak, no UB": a failure has a
 * named code and a message; a success hands out only in-file spans; the
 * JSON report exists, lists every section and serialises. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "nxpatch/analysis.h"
#include "nxpatch/pe.h"
#include "nxpatch/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static nxp_image img;
	static FILE *devnull;
	nxp_error err = {0};
	int rc = nxp_pe_parse(&img, data, size, &err);
	if (rc) {
		fuzz_check_error(rc, &err);
		/* Messages quote file bytes (section names): the failure report
		 * must still carry them. */
		json_t *fj = nxp_json_failure("fuzz.exe", &err);
		FUZZ_CHECK(fj && json_is_string(json_object_get(fj, "error")),
		           "failure report lost the message '%s'", err.msg);
		json_decref(fj);
		return 0;
	}
	FUZZ_CHECK(err.code == NXP_OK, "success with err.code %d", err.code);
	fuzz_check_image(&img, size);

	nxp_facts facts;
	rc = nxp_analyze(&facts, &img, "fuzz.exe", &err);
	if (rc) {
		fuzz_check_error(rc, &err);
		nxp_facts_free(&facts);
		return 0;
	}
	FUZZ_CHECK(facts.nevidence <= NXP_MAX_EVIDENCE, "%zu evidence", facts.nevidence);
	for (size_t i = 0; i < facts.nevidence; i++)
		FUZZ_CHECK(facts.evidence[i].section >= 0 &&
		                   facts.evidence[i].section < (int)img.nsections,
		           "evidence %zu in section %d", i, facts.evidence[i].section);

	json_t *j = nxp_json_image(&facts);
	FUZZ_CHECK(j != NULL, "nxp_json_image returned NULL");
	json_t *secs = json_object_get(j, "sections");
	FUZZ_CHECK(json_is_array(secs) && json_array_size(secs) == img.nsections,
	           "JSON lists %zu of %u sections", json_is_array(secs) ? json_array_size(secs) : 0,
	           img.nsections);
	json_t *imps = json_object_get(j, "imports");
	FUZZ_CHECK(json_is_array(imps) && json_array_size(imps) == img.nimports,
	           "JSON lists %zu of %u imports", json_is_array(imps) ? json_array_size(imps) : 0,
	           img.nimports);
	char *s = json_dumps(j, JSON_COMPACT);
	FUZZ_CHECK(s != NULL, "json_dumps failed");
	free(s);
	json_decref(j);

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (devnull)
		nxp_text_image(devnull, &facts);
	nxp_facts_free(&facts);
	return 0;
}
