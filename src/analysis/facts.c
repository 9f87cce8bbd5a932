/* SPDX-License-Identifier: Apache-2.0 */
/* Facts about one image, derived once and shared by matching, planning and
 * reports. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/driver_int.h"
#include "nxpatch/analysis.h"
#include "analysis/internal.h"

#define NXP_MAX_WARNINGS 64

int nxpi_facts_add_evidence(nxp_facts *f, nxp_evidence_kind kind, uint32_t rva, int section)
{
	if (section < 0 || section >= (int)f->img->nsections)
		return NXP_OK;
	/* One record per (kind, rva): collectors may meet the same target twice. */
	for (size_t i = f->nevidence; i-- > 0 && i + 64 >= f->nevidence;)
		if (f->evidence[i].kind == kind && f->evidence[i].rva == rva)
			return NXP_OK;
	f->section_evidence[section]++;
	f->code_in_data = 1;
	if (f->nevidence >= NXP_MAX_EVIDENCE) {
		f->evidence_dropped++;
		return NXP_OK;
	}
	if (!f->evidence) {
		f->evidence = malloc(NXP_MAX_EVIDENCE * sizeof(*f->evidence));
		if (!f->evidence)
			return NXP_E_NOMEM;
	}
	f->evidence[f->nevidence++] = (nxp_evidence){kind, rva, section};
	return NXP_OK;
}

int nxpi_facts_add_warning(nxp_facts *f, const char *fmt, ...)
{
	if (f->nwarnings >= NXP_MAX_WARNINGS)
		return NXP_OK;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char **nw = realloc(f->warnings, (f->nwarnings + 1) * sizeof(*nw));
	if (!nw)
		return NXP_E_NOMEM;
	f->warnings = nw;
	if (!(f->warnings[f->nwarnings] = strdup(buf)))
		return NXP_E_NOMEM;
	f->nwarnings++;
	return NXP_OK;
}

int nxp_analyze(nxp_facts *f, const nxp_image *img, const char *path, nxp_error *err)
{
	memset(f, 0, sizeof(*f));
	f->img = img;
	f->path = path;
	f->kind = nxp_pe_kind(img);
	f->is_signed = img->ncerts > 0;
	f->checksum_computed = nxp_pe_checksum(img->data, img->len, img->checksum_offset);
	int rc = NXP_OK;
	for (unsigned i = 0; i < img->nread_warnings && !rc; i++)
		rc = nxpi_facts_add_warning(f, "%s", img->read_warnings[i]);
	if (!rc)
		rc = nxpi_collect_evidence(f, err);
	if (!rc && f->kind == NXP_KIND_DRIVER)
		rc = nxpi_drv_analyze(f);
	if (rc && err && !err->code)
		nxp_fail(err, rc, "out of memory during analysis");
	return rc;
}

void nxp_facts_free(nxp_facts *f)
{
	free(f->evidence);
	nxpi_drv_free(f);
	for (size_t i = 0; i < f->nwarnings; i++)
		free(f->warnings[i]);
	free(f->warnings);
	memset(f, 0, sizeof(*f));
}
