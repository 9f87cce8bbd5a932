/* SPDX-License-Identifier: Apache-2.0 */
/* A JSON array written one element at a time into a document that is
 * otherwise dumped whole: shaped as jansson's JSON_INDENT(2) dump of the
 * whole document would shape it, found by dumping the document with a
 * placeholder element and cutting there. The batch reports (JSON "files",
 * SARIF "results" and notifications) stream through it. */
#ifndef NXP_CLI_JSTREAM_H
#define NXP_CLI_JSTREAM_H

#include <jansson.h>
#include <stdio.h>

typedef struct jstream {
	char *head;             /* the document up to and including the array's '[' */
	char *lead;             /* before the first element: "\n" + indent */
	size_t indent;          /* spaces before each of an element's lines */
	size_t n;               /* elements written */
} jstream;

#define JSTREAM_DUMP_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

/* A one-element array holding the placeholder (a string no report holds). */
json_t *jstream_placeholder(void);
/* The next placeholder in text, or NULL; *after points just past it. */
char *jstream_find(char *text, char **after);
/* Cut the dump of a document at its placeholder element: js gets the
 * shape, *after points just past the placeholder in text. 0 or -1. */
int jstream_cut(jstream *js, char *text, char **after);
/* The tail after the placeholder: "]..." when nothing was written, as
 * jansson writes an empty array. */
const char *jstream_tail(const jstream *js, const char *after);
/* v dumped as an element of js (the indentation of its depth), or NULL. */
char *jstream_render(const jstream *js, json_t *v);
/* Write one rendered element (or several joined by jstream_join) to f. */
void jstream_put(jstream *js, FILE *f, const char *el, size_t len);
/* The elements of arr, rendered and joined as jstream_put would join
 * them, into one string (an image's SARIF results). */
char *jstream_join(const jstream *js, json_t *arr);
void jstream_free(jstream *js);

#endif
