/* SPDX-License-Identifier: Apache-2.0 */
/* The finding table (include/nxpatch/findings.def) and finding lists. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/internal.h"
#include "nxpatch/check.h"

static const nxp_finding_info table[NXP_F__COUNT] = {
#define NXP_FINDING(e, id, sarif, level, verdict, title) \
	[e] = {e, id, sarif, NXP_LEVEL_##level, NXP_VERDICT_##verdict, title},
#include "nxpatch/findings.def"
#undef NXP_FINDING
};

const nxp_finding_info *nxp_finding_info_of(nxp_finding_id id)
{
	if ((unsigned)id >= NXP_F__COUNT)
		return NULL;
	return &table[id];
}

const nxp_finding_info *nxp_finding_info_by_name(const char *s)
{
	for (size_t i = 0; s && i < NXP_F__COUNT; i++)
		if (!strcmp(table[i].id, s))
			return &table[i];
	return NULL;
}

const char *nxp_level_name(nxp_level l)
{
	switch (l) {
	case NXP_LEVEL_NOTE: return "note";
	case NXP_LEVEL_WARNING: return "warning";
	case NXP_LEVEL_ERROR: return "error";
	}
	return "none";
}

const char *nxp_verdict_name(nxp_verdict v)
{
	switch (v) {
	case NXP_VERDICT_POSTURE: return "posture";
	case NXP_VERDICT_PENDING: return "pending";
	case NXP_VERDICT_REFUSED: return "refused";
	case NXP_VERDICT_SIGNATURE: return "signature";
	}
	return "unknown";
}

int nxpi_findings_add(nxp_findings *fs, nxp_finding_id id, nxp_where where, const char *rule,
                      const char *fmt, ...)
{
	if (fs->n >= NXP_MAX_FINDINGS) {
		fs->dropped++;
		return NXP_OK;
	}
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? 2 * fs->cap : 16;
		nxp_finding *p = realloc(fs->items, cap * sizeof(*p));
		if (!p)
			return NXP_E_NOMEM;
		fs->items = p;
		fs->cap = cap;
	}
	nxp_finding *f = &fs->items[fs->n++];
	f->id = id;
	f->where = where;
	f->rule = rule;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	return NXP_OK;
}

void nxp_findings_free(nxp_findings *fs)
{
	free(fs->items);
	memset(fs, 0, sizeof(*fs));
}

int nxp_findings_compliant(const nxp_findings *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		if (table[fs->items[i].id].verdict != NXP_VERDICT_POSTURE)
			return 0;
	return 1;
}
