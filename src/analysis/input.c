/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "nxpatch/input.h"
#include "analysis/internal.h"
#include "util/file.h"

enum { STAGE_NONE, STAGE_FILE, STAGE_FACTS };

int nxp_input_open(nxp_input **out, const char *path, nxp_error *err)
{
	return nxp_input_open_flags(out, path, 0, err);
}

int nxp_input_open_flags(nxp_input **out, const char *path, unsigned flags, nxp_error *err)
{
	*out = NULL;
	nxp_input *in = calloc(1, sizeof(*in));
	if (!in)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	in->path = path;
	int rc = nxp_file_load_flags(&in->file, path,
	                             flags & NXP_INPUT_LOCK ? NXP_FILE_LOCK : 0, err);
	if (rc)
		goto fail;
	in->stage = STAGE_FILE;
	if ((rc = nxp_pe_parse(&in->img, in->file.data, in->file.len, err)))
		goto fail;
	if (!(flags & NXP_INPUT_NO_FACTS)) {
		rc = flags & NXP_INPUT_LAZY ? nxpi_analyze_lazy(&in->facts, &in->img, path, err)
		                            : nxp_analyze(&in->facts, &in->img, path, err);
		in->stage = STAGE_FACTS;
		if (rc)
			goto fail;
	}
	/* What was parsed and analysed must be the file's bytes: a file cut
	 * short meanwhile read as zeros past its new end. */
	if (!nxpi_file_intact(&in->file)) {
		rc = nxp_fail(err, NXP_E_CHANGED, "file changed while it was processed");
		goto fail;
	}
	*out = in;
	return NXP_OK;
fail:
	/* A parse that failed on zeros read past a new end of the file is a
	 * changed file, not a malformed image. */
	if (in->stage >= STAGE_FILE && rc != NXP_E_CHANGED && !nxpi_file_intact(&in->file))
		rc = nxp_fail(err, NXP_E_CHANGED, "file changed while it was processed");
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
