/* SPDX-License-Identifier: Apache-2.0 */
/* Streamed JSON arrays: see jstream.h. */
#include <stdlib.h>
#include <string.h>

#include "cli/jstream.h"

/* The placeholder element: a string no report holds. */
static const char placeholder[] = "\"\\u0000nxpatch-stream\"";

json_t *jstream_placeholder(void)
{
	return json_pack("[s#]", "\0nxpatch-stream", (size_t)15);
}

char *jstream_find(char *text, char **after)
{
	char *p = strstr(text, placeholder);
	if (p)
		*after = p + strlen(placeholder);
	return p;
}

int jstream_cut(jstream *js, char *text, char **after)
{
	char *p = jstream_find(text, after);
	if (!p)
		return -1;
	char *open = p;
	while (open > text && open[-1] != '[')
		open--;
	if (open == text)
		return -1;
	js->indent = (size_t)(p - open) - 1; /* "\n" then the spaces */
	js->head = strndup(text, (size_t)(open - text));
	js->lead = strndup(open, (size_t)(p - open));
	return js->head && js->lead ? 0 : -1;
}

const char *jstream_tail(const jstream *js, const char *after)
{
	if (js->n)
		return after;
	const char *close = strchr(after, ']');
	return close ? close : after;
}

char *jstream_render(const jstream *js, json_t *v)
{
	char *s = json_dumps(v, JSTREAM_DUMP_FLAGS);
	if (!s)
		return NULL;
	size_t lines = 0, len = strlen(s);
	for (size_t i = 0; i < len; i++)
		lines += s[i] == '\n';
	char *o = malloc(len + lines * js->indent + 1), *q = o;
	if (o) {
		for (size_t i = 0; i < len; i++) {
			*q++ = s[i];
			if (s[i] == '\n') {
				memset(q, ' ', js->indent);
				q += js->indent;
			}
		}
		*q = '\0';
	}
	free(s);
	return o;
}


void jstream_put(jstream *js, FILE *f, const char *el, size_t len)
{
	if (!len)
		return;
	if (js->n)
		fputc(',', f);
	fputs(js->lead, f);
	fwrite(el, 1, len, f);
	js->n++;
}

char *jstream_join(const jstream *js, json_t *arr)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return NULL;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		char *el = jstream_render(js, json_array_get(arr, i));
		if (el) {
			if (i)
				fprintf(m, ",%s", js->lead);
			fputs(el, m);
		}
		free(el);
	}
	fclose(m);
	return buf;
}

void jstream_free(jstream *js)
{
	free(js->head);
	free(js->lead);
	js->head = js->lead = NULL;
}
