/* SPDX-License-Identifier: Apache-2.0 */
/* Policy diagnostics: collected while loading, rendered as
 * "file:line:col: message", the source line, and a caret under the column. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"

/* The 1-based line `line` of buf, with control characters other than tab
 * shown as '?', or NULL when the line is missing or too long to quote. */
static char *source_line(const char *buf, size_t len, uint32_t line)
{
	if (!buf || line == 0)
		return NULL;
	size_t pos = 0;
	for (uint32_t l = 1; l < line; l++) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		if (!nl)
			return NULL;
		pos = (size_t)(nl - buf) + 1;
	}
	if (pos > len)
		return NULL;
	const char *nl = memchr(buf + pos, '\n', len - pos);
	size_t end = nl ? (size_t)(nl - buf) : len;
	if (end > pos && buf[end - 1] == '\r')
		end--;
	if (end - pos > NXP_POLICY_MAX_SHOWN_LINE)
		return NULL;
	char *s = malloc(end - pos + 1);
	if (!s)
		return NULL;
	for (size_t i = pos; i < end; i++) {
		unsigned char ch = (unsigned char)buf[i];
		s[i - pos] = (ch < 0x20 && ch != '\t') || ch == 0x7f ? '?' : (char)ch;
	}
	s[end - pos] = '\0';
	return s;
}

static void add_diag(pctx *c, nxp_loc loc, const char *msg)
{
	nxp_diags *d = c->diags;
	if (!d)
		return;
	if (d->n > NXP_POLICY_MAX_DIAGS)
		return;
	nxp_diag *items = realloc(d->items, (d->n + 1) * sizeof(*items));
	if (!items) {
		c->nomem = 1;
		return;
	}
	d->items = items;
	nxp_diag *g = &d->items[d->n];
	memset(g, 0, sizeof(*g));
	g->file = strdup(c->name);
	g->message = strdup(msg);
	if (!g->file || !g->message) {
		free(g->file);
		free(g->message);
		c->nomem = 1;
		return;
	}
	g->line = loc.line;
	g->col = loc.col;
	g->source_line = source_line(c->buf, c->len, loc.line);
	d->n++;
}

void pctx_error(pctx *c, nxp_loc loc, const char *fmt, ...)
{
	char msg[NXP_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->nerrors == 0) {
		if (loc.line)
			nxp_fail(&c->first, NXP_E_POLICY, "%s:%u:%u: %s", c->name, loc.line, loc.col, msg);
		else
			nxp_fail(&c->first, NXP_E_POLICY, "%s: %s", c->name, msg);
	}
	c->nerrors++;
	if (c->diags && c->diags->n == NXP_POLICY_MAX_DIAGS) {
		char more[96];
		snprintf(more, sizeof(more), "too many errors, stopped after %d",
		         NXP_POLICY_MAX_DIAGS);
		add_diag(c, loc, more);
		return;
	}
	add_diag(c, loc, msg);
}

int pctx_full(const pctx *c)
{
	return c->diags ? c->diags->n > NXP_POLICY_MAX_DIAGS : c->nerrors > 0;
}

void pctx_count(pctx *c)
{
	c->nerrors++;
}

static int diag_cmp(const void *a, const void *b)
{
	const nxp_diag *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return 0;
}

void pctx_sort_diags(pctx *c)
{
	nxp_diags *d = c->diags;
	if (!d || d->n < 2)
		return;
	/* Insertion sort: stable, and the list is short and nearly sorted. The
	 * "too many errors" note, when present, stays last. */
	size_t n = d->n;
	if (n > NXP_POLICY_MAX_DIAGS)
		n = NXP_POLICY_MAX_DIAGS;
	for (size_t i = 1; i < n; i++) {
		nxp_diag tmp = d->items[i];
		size_t j = i;
		while (j > 0 && diag_cmp(&d->items[j - 1], &tmp) > 0) {
			d->items[j] = d->items[j - 1];
			j--;
		}
		d->items[j] = tmp;
	}
}

void nxp_diags_free(nxp_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->items[i].file);
		free(d->items[i].message);
		free(d->items[i].source_line);
	}
	free(d->items);
	d->items = NULL;
	d->n = 0;
}

char *nxp_diag_render(const nxp_diag *d)
{
	const char *file = d->file ? d->file : "<policy>";
	const char *msg = d->message ? d->message : "";
	size_t need = strlen(file) + strlen(msg) + 64;
	int quote = d->line && d->col && d->source_line;
	uint32_t caret_col = d->col;
	if (quote) {
		size_t sl = strlen(d->source_line);
		if (caret_col > sl + 1)
			caret_col = (uint32_t)(sl + 1);
		need += 2 * sl + caret_col + 4;
	}
	char *out = malloc(need);
	if (!out)
		return NULL;
	size_t n;
	if (d->line)
		n = (size_t)snprintf(out, need, "%s:%u:%u: %s\n", file, d->line, d->col, msg);
	else
		n = (size_t)snprintf(out, need, "%s: %s\n", file, msg);
	if (!quote)
		return out;
	n += (size_t)snprintf(out + n, need - n, "%s\n", d->source_line);
	/* The caret: one blank per character before the column (columns count
	 * characters, as libyaml does), tabs kept so the caret lines up. */
	const unsigned char *s = (const unsigned char *)d->source_line;
	uint32_t col = 1;
	while (col < caret_col) {
		if (*s == '\0') {
			out[n++] = ' ';
		} else {
			out[n++] = *s == '\t' ? '\t' : ' ';
			s++;
			while ((*s & 0xc0) == 0x80)
				s++;
		}
		col++;
	}
	out[n++] = '^';
	out[n++] = '\n';
	out[n] = '\0';
	return out;
}
