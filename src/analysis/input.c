/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "nxpatch/input.h"

enum { STAGE_NONE, STAGE_FILE, STAGE_FACTS };

int nxp_input_open(nxp_input **out, const char *path, nxp_error *err)
{
	*out = NULL;
	nxp_input *in = calloc(1, sizeof(*in));
	if (!in)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	in->path = path;
	int rc = nxp_file_load(&in->file, path, err);
	if (rc)
		goto fail;
	in->stage = STAGE_FILE;
	if ((rc = nxp_pe_parse(&in->img, in->file.data, in->file.len, err)))
		goto fail;
	rc = nxp_analyze(&in->facts, &in->img, path, err);
	in->stage = STAGE_FACTS;
	if (rc)
		goto fail;
	*out = in;
	return NXP_OK;
fail:
	nxp_input_close(in);
	return rc;
}

void nxp_input_close(nxp_input *in)
{
	if (!in)
		return;
	if (in->stage >= STAGE_FACTS)
		nxp_facts_free(&in->facts);
	if (in->stage >= STAGE_FILE)
		nxp_file_unload(&in->file);
	free(in);
}
