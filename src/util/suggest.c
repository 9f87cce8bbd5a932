/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nxpatch/pe.h"

#include "util/suggest.h"

size_t nxpi_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 1000;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
			size_t best = diag + (same ? 0 : 1);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *nxpi_closest(const char *got, const char *const *names, size_t n)
{
	size_t best = 1000, besti = 0;
	for (size_t i = 0; i < n; i++) {
		size_t d = nxpi_edit_distance(got, names[i]);
		if (d < best) {
			best = d;
			besti = i;
		}
	}
	size_t len = strlen(got);
	if (n && best <= (len <= 3 ? 1u : 2u) && best < strlen(names[besti]))
		return names[besti];
	return NULL;
}

void nxpi_suggest_hint(char *out, size_t size, const char *got, const char *const *names,
                      size_t n)
{
	const char *close = nxpi_closest(got, names, n);
	/* an abbreviation of exactly one name ("exec" for "execute") */
	size_t gl = strlen(got), prefixed = 0;
	for (size_t i = 0; !close && gl >= 2 && i < n; i++)
		if (!strncasecmp(names[i], got, gl) && !prefixed++)
			close = names[i];
	if (prefixed > 1)
		close = NULL;
	if (close) {
		snprintf(out, size, " (did you mean '%s'?)", close);
		return;
	}
	size_t w = (size_t)snprintf(out, size, ", expected one of: ");
	for (size_t i = 0; i < n && w < size; i++)
		w += (size_t)snprintf(out + w, size - w, "%s%s", i ? ", " : "", names[i]);
}

void nxpi_suggest_flag_hint(char *out, size_t size, const char *got,
                           const struct nxp_flag_name *table)
{
	const char *names[64];
	size_t n = 0;
	for (; table->name && n < 64; table++)
		names[n++] = table->name;
	nxpi_suggest_hint(out, size, got, names, n);
}
