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

static void mark(const nxp_facts *f, unsigned i, int checksum)
{
	if (!f->demand)
		return; /* nxpi_facts_complete() guards every judge that has none */
	if (checksum)
		f->demand->checksum = 1;
	else
		f->demand->section[i] = 1;
	f->demand->any = 1;
}

uint32_t nxpi_section_evidence(const nxp_facts *f, unsigned i)
{
	if (i >= NXP_MAX_SECTIONS)
		return 0;
	/* A count above zero stays above zero when the section is searched. */
	if (f->unsearched[i] && !f->section_evidence[i])
		mark(f, i, 0);
	return f->section_evidence[i];
}

int nxpi_section_searched(const nxp_facts *f, unsigned i)
{
	if (i < NXP_MAX_SECTIONS && f->unsearched[i]) {
		mark(f, i, 0);
		return 0;
	}
	return 1;
}

int nxpi_checksum_read(const nxp_facts *f)
{
	if (f->checksum_unread) {
		mark(f, 0, 1);
		return 0;
	}
	return 1;
}

int nxpi_facts_complete(const nxp_facts *f)
{
	if (f->checksum_unread)
		return 0;
	for (unsigned i = 0; i < NXP_MAX_SECTIONS; i++)
		if (f->unsearched[i])
			return 0;
	return 1;
}

/* Everything but the evidence, which collect() adds. */
static void facts_begin(nxp_facts *f, const nxp_image *img, const char *path, int lazy)
{
	memset(f, 0, sizeof(*f));
	f->img = img;
	f->path = path;
	f->kind = nxp_pe_kind(img);
	f->is_signed = img->ncerts > 0;
	if (lazy) {
		f->checksum_unread = 1;
		for (unsigned i = 0; i < img->nsections && i < NXP_MAX_SECTIONS; i++)
			f->unsearched[i] = (uint8_t)nxpi_ev_pattern_section(&img->sections[i]);
	} else {
		f->checksum_computed = nxp_pe_checksum(img->data, img->len, img->checksum_offset);
	}
}

static int collect(nxp_facts *f, nxp_error *err)
{
	const nxp_image *img = f->img;
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

int nxp_analyze(nxp_facts *f, const nxp_image *img, const char *path, nxp_error *err)
{
	facts_begin(f, img, path, 0);
	return collect(f, err);
}

int nxpi_analyze_lazy(nxp_facts *f, const nxp_image *img, const char *path, nxp_error *err)
{
	facts_begin(f, img, path, 1);
	return collect(f, err);
}

int nxpi_facts_derive(nxp_facts *f, const nxp_demand *d, nxp_error *err)
{
	if (d->checksum && f->checksum_unread) {
		f->checksum_computed =
			nxp_pe_checksum(f->img->data, f->img->len, f->img->checksum_offset);
		f->checksum_unread = 0;
	}
	int again = 0;
	for (unsigned i = 0; i < NXP_MAX_SECTIONS; i++)
		if (d->section[i] && f->unsearched[i]) {
			f->unsearched[i] = 0;
			again = 1;
		}
	if (!again)
		return NXP_OK;
	/* Collect the evidence again, as nxp_analyze() would with fewer
	 * sections left out: same records, same order. Faults merged from a
	 * trace come after them, as they did; warnings are not repeated. */
	size_t nfault = 0, nw = f->nwarnings;
	nxp_evidence *faults = malloc((f->nevidence + 1) * sizeof(*faults));
	if (!faults)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory during analysis");
	for (size_t k = 0; k < f->nevidence; k++)
		if (f->evidence[k].kind == NXP_EV_DEP_FAULT)
			faults[nfault++] = f->evidence[k];
	f->nevidence = 0;
	f->evidence_dropped = 0;
	f->code_in_data = 0;
	memset(f->section_evidence, 0, sizeof(f->section_evidence));
	int rc = nxpi_collect_evidence(f, err);
	while (f->nwarnings > nw)
		free(f->warnings[--f->nwarnings]);
	for (size_t k = 0; !rc && k < nfault; k++)
		rc = nxpi_facts_add_evidence(f, faults[k].kind, faults[k].rva, faults[k].section);
	free(faults);
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
