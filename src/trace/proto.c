/* SPDX-License-Identifier: Apache-2.0 */
/* The helper's line protocol (src/trace/win/nxpatch-trace.c describes it),
 * parsed into an nxp_trace. The helper is ours, but what it reports comes
 * from a traced program that may be hostile: every field is checked, every
 * count capped, and an unknown line is an error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/trace.h"

#define MAX_FIELDS 16

/* Hex number field: 1..16 digits. */
static int hexnum(const char *s, uint64_t *v)
{
	size_t n = strlen(s);
	if (n == 0 || n > 16)
		return 0;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return 0;
		x = x << 4 | (uint64_t)d;
	}
	*v = x;
	return 1;
}

static int hex32(const char *s, uint32_t *v)
{
	uint64_t x;
	if (!hexnum(s, &x) || x > UINT32_MAX)
		return 0;
	*v = (uint32_t)x;
	return 1;
}

/* Hex-encoded bytes ("-" for empty) into a malloc'd NUL-terminated string;
 * NUL bytes are refused (they cannot be in a path). *out NULL for "-". */
static int hexstr(const char *s, char **out, size_t max)
{
	*out = NULL;
	if (!strcmp(s, "-"))
		return 1;
	size_t n = strlen(s);
	if (n % 2 || n / 2 > max)
		return 0;
	char *r = malloc(n / 2 + 1);
	if (!r)
		return 0;
	for (size_t i = 0; i < n / 2; i++) {
		char pair[3] = {s[2 * i], s[2 * i + 1], 0};
		uint64_t b;
		if (!hexnum(pair, &b) || b == 0) {
			free(r);
			return 0;
		}
		r[i] = (char)b;
	}
	r[n / 2] = 0;
	*out = r;
	return 1;
}

static int bad(nxp_error *err, unsigned line, const char *what)
{
	return nxp_fail(err, NXP_E_INTERNAL, "trace helper output line %u: %s", line, what);
}

static int parse_fault(char **f, int nf, nxp_trace *t, unsigned line, nxp_error *err)
{
	if (nf != 15)
		return bad(err, line, "fault record needs 15 fields");
	nxp_trace_fault x;
	memset(&x, 0, sizeof(x));
	uint32_t id, first;
	uint64_t mbase = 0;
	char *sec = NULL;
	if (!hex32(f[1], &id) || id != t->nfaults || !hex32(f[2], &first) || first > 1 ||
	    !hexnum(f[3], &x.address) || (strcmp(f[4], "-") && !hexnum(f[4], &mbase)) ||
	    !hex32(f[5], &x.rva) || !hexstr(f[6], &sec, 8) ||
	    !hex32(f[7], &x.section_characteristics) || !hexnum(f[8], &x.region_base) ||
	    !hexnum(f[9], &x.allocation_base) || !hexnum(f[10], &x.region_size) ||
	    !hex32(f[11], &x.protect) || !hex32(f[12], &x.allocation_protect) ||
	    !hex32(f[13], &x.type) || !hex32(f[14], &x.state))
		return bad(err, line, "malformed fault record");
	if (sec) {
		snprintf(x.section, sizeof(x.section), "%s", sec);
		free(sec);
	}
	x.first_chance = (int)first;
	x.count = 1;
	x.module = -1;
	if (strcmp(f[4], "-")) {
		for (size_t i = t->nmodules; i-- > 0;)
			if (t->modules[i].base == mbase) {
				x.module = (int)i;
				break;
			}
		if (x.module < 0)
			return bad(err, line, "fault names a module that was not loaded");
	}
	if (t->nfaults >= NXP_TRACE_MAX_SITES)
		return bad(err, line, "more fault sites than the cap");
	if (!t->faults && !(t->faults = calloc(NXP_TRACE_MAX_SITES, sizeof(*t->faults))))
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	t->faults[t->nfaults++] = x;
	return NXP_OK;
}

static int parse_module(char **f, int nf, nxp_trace *t, unsigned line, nxp_error *err)
{
	if (nf != 7)
		return bad(err, line, "module record needs 7 fields");
	nxp_trace_module m;
	memset(&m, 0, sizeof(m));
	uint32_t machine;
	if (!hexnum(f[1], &m.base) || !hex32(f[2], &m.size_of_image) || !hex32(f[3], &m.timestamp) ||
	    !hex32(f[4], &machine) || machine > 0xffff)
		return bad(err, line, "malformed module record");
	m.machine = (uint16_t)machine;
	if (!hexstr(f[5], &m.winpath, 32768))
		return bad(err, line, "malformed module path");
	if (!hexstr(f[6], &m.path, 32768)) {
		free(m.winpath);
		return bad(err, line, "malformed module path");
	}
	if (t->nmodules >= NXP_TRACE_MAX_MODULES) {
		free(m.winpath);
		free(m.path);
		return NXP_OK; /* the helper caps too; a fault in a module past it is "outside" */
	}
	if (!t->modules && !(t->modules = calloc(NXP_TRACE_MAX_MODULES, sizeof(*t->modules)))) {
		free(m.winpath);
		free(m.path);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	t->modules[t->nmodules++] = m;
	return NXP_OK;
}

/* long-function: one loop over the helper's lines, a case per record type. */
int nxp_trace_parse(const char *buf, size_t len, nxp_trace *t, nxp_error *err)
{
	memset(t, 0, sizeof(*t));
	const char *p = buf, *end = buf + len;
	unsigned line = 0;
	int ended = 0, rc = NXP_OK;
	char *copy = NULL;
	while (p < end && !rc) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			rc = bad(err, line + 1, "truncated (the helper did not finish)");
			break;
		}
		line++;
		size_t n = (size_t)(nl - p);
		free(copy);
		if (!(copy = malloc(n + 1))) {
			rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
			break;
		}
		memcpy(copy, p, n);
		copy[n] = 0;
		p = nl + 1;
		if (memchr(copy, 0, n)) {
			rc = bad(err, line, "NUL byte");
			break;
		}
		char *f[MAX_FIELDS] = {0}; /* all set before use; the initialiser quiets -O3's maybe-uninitialized */
		int nf = 0;
		for (char *s = copy;;) {
			if (nf == MAX_FIELDS) {
				nf++;
				break;
			}
			f[nf++] = s;
			char *tab = strchr(s, '\t');
			if (!tab)
				break;
			*tab = 0;
			s = tab + 1;
		}
		if (nf > MAX_FIELDS) {
			rc = bad(err, line, "too many fields");
			break;
		}
		if (line == 1) {
			if (nf != 1 || strcmp(f[0], "nxtrace 1"))
				rc = bad(err, line, "not the nxtrace 1 protocol");
			continue;
		}
		if (ended) {
			rc = bad(err, line, "record after the end record");
			break;
		}
		uint32_t a, b;
		if (!strcmp(f[0], "start") && nf == 2 && hex32(f[1], &a)) {
			/* the process id: not kept */
		} else if (!strcmp(f[0], "module")) {
			rc = parse_module(f, nf, t, line, err);
		} else if (!strcmp(f[0], "fault")) {
			rc = parse_fault(f, nf, t, line, err);
		} else if (!strcmp(f[0], "count") && nf == 3 && hex32(f[1], &a) && a < t->nfaults) {
			uint64_t c;
			if (!hexnum(f[2], &c) || c == 0)
				rc = bad(err, line, "malformed count record");
			else
				t->faults[a].count = c;
		} else if (!strcmp(f[0], "dropped") && nf == 2 && hexnum(f[1], &t->dropped)) {
		} else if (!strcmp(f[0], "exit") && nf == 2 && hex32(f[1], &b)) {
			t->end = NXP_TRACE_EXITED;
			t->exit_code = b;
			ended = 1;
		} else if (!strcmp(f[0], "timeout") && nf == 2 && hex32(f[1], &b)) {
			t->end = NXP_TRACE_TIMEOUT;
			t->timeout_ms = b;
			ended = 1;
		} else if (!strcmp(f[0], "error") && nf == 2) {
			char *m = NULL;
			if (!hexstr(f[1], &m, sizeof(t->message) - 1)) {
				rc = bad(err, line, "malformed error record");
			} else {
				snprintf(t->message, sizeof(t->message), "%s", m ? m : "unknown error");
				free(m);
				t->end = NXP_TRACE_NOT_STARTED;
				ended = 1;
			}
		} else {
			rc = bad(err, line, "unknown record");
		}
	}
	free(copy);
	if (!rc && line == 0)
		rc = bad(err, 1, "empty (the helper did not start)");
	if (!rc && !ended)
		rc = bad(err, line, "no end record (the helper did not finish)");
	if (rc)
		nxp_trace_free(t);
	return rc;
}

void nxp_trace_free(nxp_trace *t)
{
	for (size_t i = 0; i < t->nmodules; i++) {
		free(t->modules[i].winpath);
		free(t->modules[i].path);
	}
	free(t->modules);
	free(t->faults);
	memset(t, 0, sizeof(*t));
}
