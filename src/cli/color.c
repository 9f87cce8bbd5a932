/* SPDX-License-Identifier: Apache-2.0 */
/* Colour for the text reports (--color, NO_COLOR: cli_use_color in util.c).
 * The report text is the library's, unchanged; this adds SGR sequences
 * around what a reader looks for: each image's verdict (from its summary
 * class, not from the words) and the lines that start with a fixed label
 * ("  refused", "  pending:", "  warning:", ...). Without colour the bytes
 * are exactly the plain report's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/color.h"

#define RED "\033[31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define CYAN "\033[36m"
#define BOLD "\033[1m"
#define RESET "\033[m"

/* The colour of an image's verdict, by its summary class. */
static const char *class_color(const char *cls)
{
	static const struct { const char *cls, *sgr; } map[] = {
		{"changed", YELLOW},   {"unchanged", GREEN}, {"compliant", GREEN},
		{"refused", RED},      {"failed", RED},      {"noncompliant", RED},
	};
	for (size_t i = 0; cls && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(cls, map[i].cls))
			return map[i].sgr;
	return NULL;
}

/* Detail lines by their label (the library's fixed report formats). */
static const char *line_color(const char *line, size_t len)
{
	static const struct { const char *label, *sgr; } map[] = {
		{"  refused", RED},           {"  error:", RED},     {"  not written: refused", RED},
		{"  pending:", YELLOW},       {"  warning:", YELLOW}, {"  note:", CYAN},
		{"  written:", GREEN},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		size_t k = strlen(map[i].label);
		if (len >= k && !memcmp(line, map[i].label, k))
			return map[i].sgr;
	}
	return NULL;
}

char *cli_colorize(const char *text, size_t len, const char *shown_path, const char *cls,
                   size_t *outlen)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *o = open_memstream(&buf, &blen);
	if (!o)
		return NULL;
	size_t plen = strlen(shown_path);
	int first = 1;
	for (size_t i = 0; i < len;) {
		const char *line = text + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i;
		const char *sgr;
		if (first && n >= plen && !memcmp(line, shown_path, plen)) {
			/* "PATH: verdict": the path bold, the verdict in its class's colour */
			fprintf(o, BOLD "%.*s" RESET, (int)plen, line);
			size_t rest = n - plen;
			const char *r = line + plen;
			if (rest >= 2 && r[0] == ':' && r[1] == ' ') {
				fputs(": ", o);
				r += 2;
				rest -= 2;
			}
			sgr = class_color(cls);
			if (sgr && rest)
				fprintf(o, "%s%.*s" RESET, sgr, (int)rest, r);
			else
				fwrite(r, 1, rest, o);
		} else if ((sgr = line_color(line, n))) {
			fprintf(o, "%s%.*s" RESET, sgr, (int)n, line);
		} else {
			fwrite(line, 1, n, o);
		}
		if (nl)
			fputc('\n', o);
		first = 0;
		i += n + (nl != NULL);
	}
	if (fclose(o) != 0) {
		free(buf);
		return NULL;
	}
	*outlen = blen;
	return buf;
}
