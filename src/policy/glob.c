/* SPDX-License-Identifier: Apache-2.0 */
/* Globs for paths and section names.
 *
 *   *      any run of characters except '/'
 *   **     any run of characters, '/' included
 *   ** then '/', at the start of the pattern or after a '/': zero or more
 *          whole path components (so the pattern **, /, x, /, ** matches
 *          both "x/b" and "a/x/b")
 *   ?      one character except '/'
 *   [...]  one character (not '/') from a set: ranges a-z, negation with
 *          a leading '!' or '^', a ']' first in the set is literal
 *   \c     the character c
 *
 * The whole text must match. Matching is a dynamic program over (pattern
 * token, text position): O(pattern length x text length) time, O(text
 * length) memory, whatever the pattern; there is no backtracking to blow up. */
#include <stdlib.h>
#include <string.h>

#include "nxpatch/policy.h"
#include "policy/internal.h"

#define GLOB_MAX_PATTERN 4096

enum tok { T_LIT, T_ANY, T_CLASS, T_STAR, T_DSTAR, T_DSTAR_SLASH };

const char *nxpi_glob_check(const char *p)
{
	if (!p)
		return "missing pattern";
	if (strlen(p) > GLOB_MAX_PATTERN)
		return "pattern longer than 4096 characters";
	for (size_t i = 0; p[i]; i++) {
		if (p[i] == '\\') {
			if (!p[i + 1])
				return "trailing '\\'";
			i++;
		} else if (p[i] == '[') {
			size_t j = i + 1;
			if (p[j] == '!' || p[j] == '^')
				j++;
			if (p[j] == ']')
				j++;
			for (; p[j] && p[j] != ']'; j++) {
				if (p[j] == '\\') {
					if (!p[j + 1])
						return "trailing '\\'";
					j++;
				} else if (p[j + 1] == '-' && p[j + 2] && p[j + 2] != ']') {
					unsigned char lo = (unsigned char)p[j];
					unsigned char hi = (unsigned char)p[j + 2];
					if (hi == '\\')
						hi = (unsigned char)p[j + 3];
					if (hi < lo)
						return "reversed range in '[...]'";
				}
			}
			if (!p[j])
				return "unterminated '['";
			i = j;
		}
	}
	return NULL;
}

/* Does ch match the class starting at p (just past '[')? Sets *end past ']'. */
static int class_match(const char *p, unsigned char ch, const char **end)
{
	int neg = 0, hit = 0;
	if (*p == '!' || *p == '^') {
		neg = 1;
		p++;
	}
	int first = 1;
	while (*p && (first || *p != ']')) {
		first = 0;
		unsigned char lo = (unsigned char)*p;
		if (lo == '\\' && p[1])
			lo = (unsigned char)*++p;
		p++;
		unsigned char hi = lo;
		if (p[0] == '-' && p[1] && p[1] != ']') {
			p++;
			hi = (unsigned char)*p;
			if (hi == '\\' && p[1])
				hi = (unsigned char)*++p;
			p++;
		}
		if (ch >= lo && ch <= hi)
			hit = 1;
	}
	if (*p == ']')
		p++;
	*end = p;
	return ch != '/' && hit != neg;
}

/* Skip one class, for tokenizing. */
static const char *class_end(const char *p)
{
	const char *end;
	class_match(p, 0, &end);
	return end;
}

/* long-function: one matcher loop; the backtracking for * and ** needs its state in one place. */
int nxpi_glob_match(const char *pattern, const char *text)
{
	if (!pattern || !text || nxpi_glob_check(pattern))
		return 0;
	size_t n = strlen(text);
	unsigned char small[2][256];
	unsigned char *cur, *nxt, *heap = NULL;
	if (n + 1 <= sizeof(small[0])) {
		cur = small[0];
		nxt = small[1];
	} else {
		heap = malloc(2 * (n + 1));
		if (!heap)
			return 0;
		cur = heap;
		nxt = heap + n + 1;
	}
	/* cur[j]: the pattern so far matches text[0..j). */
	memset(cur, 0, n + 1);
	cur[0] = 1;

	const char *p = pattern;
	while (*p) {
		enum tok t;
		const char *tok = p, *after;
		unsigned char lit = 0;
		if (p[0] == '*' && p[1] == '*') {
			after = p + 2;
			while (*after == '*')
				after++;
			int at_start = tok == pattern || tok[-1] == '/';
			if (at_start && *after == '/') {
				t = T_DSTAR_SLASH;
				after++;
			} else {
				t = T_DSTAR;
			}
		} else if (*p == '*') {
			t = T_STAR;
			after = p + 1;
		} else if (*p == '?') {
			t = T_ANY;
			after = p + 1;
		} else if (*p == '[') {
			t = T_CLASS;
			after = class_end(p + 1);
		} else {
			t = T_LIT;
			if (*p == '\\' && p[1])
				p++;
			lit = (unsigned char)*p;
			after = p + 1;
		}

		int any = 0;
		switch (t) {
		case T_LIT:
		case T_ANY:
		case T_CLASS:
			nxt[0] = 0;
			for (size_t j = 0; j < n; j++) {
				unsigned char ch = (unsigned char)text[j];
				int ok;
				const char *e;
				if (t == T_LIT)
					ok = ch == lit;
				else if (t == T_ANY)
					ok = ch != '/';
				else
					ok = class_match(tok + 1, ch, &e);
				nxt[j + 1] = cur[j] && ok;
			}
			break;
		case T_STAR:
			nxt[0] = cur[0];
			for (size_t j = 1; j <= n; j++)
				nxt[j] = cur[j] || (nxt[j - 1] && text[j - 1] != '/');
			break;
		case T_DSTAR:
			nxt[0] = cur[0];
			for (size_t j = 1; j <= n; j++)
				nxt[j] = cur[j] || nxt[j - 1];
			break;
		case T_DSTAR_SLASH: {
			/* empty, or any run ending in '/' */
			int seen = cur[0];
			nxt[0] = cur[0];
			for (size_t j = 1; j <= n; j++) {
				nxt[j] = cur[j] || (seen && text[j - 1] == '/');
				seen |= cur[j];
			}
			break;
		}
		}
		for (size_t j = 0; j <= n; j++)
			any |= nxt[j];
		unsigned char *tmp = cur;
		cur = nxt;
		nxt = tmp;
		p = after;
		if (!any)
			break;
	}
	int r = cur[n];
	free(heap);
	return r;
}
