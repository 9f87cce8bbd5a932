/* SPDX-License-Identifier: Apache-2.0 */
/* Names as text and JSON show them (see escape.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "util/escape.h"

/* The length of the valid, shown-as-is UTF-8 sequence at s[0..n) (at
 * least 2 bytes), or 0 when s does not start one. Rejects overlong forms,
 * surrogates, code points above U+10FFFF and C1 controls. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return len;
}

/* How many bytes at s[i..n) are kept as they are (0: escape s[i]). */
static size_t kept(const unsigned char *s, size_t i, size_t n)
{
	unsigned char c = s[i];
	if (c < 0x80)
		return c >= 0x20 && c != 0x7f && c != '\\' ? 1 : 0;
	return utf8_len(s + i, n - i);
}

int nxpi_escape_clean(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t k = kept(u, i, n);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

size_t nxpi_escape(char *out, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t need = 0, j = 0;
	int full = 0;
	for (size_t i = 0; i < n;) {
		size_t k = kept(u, i, n);
		size_t w = k ? k : 4;
		if (!full && j + w < cap) {
			if (k) {
				memcpy(out + j, s + i, k);
			} else {
				out[j] = '\\';
				out[j + 1] = 'x';
				out[j + 2] = hex[u[i] >> 4];
				out[j + 3] = hex[u[i] & 15];
			}
			j += w;
		} else {
			full = 1;
		}
		need += w;
		i += k ? k : 1;
	}
	if (cap)
		out[j] = '\0';
	return need;
}

#define SHOWN_SLOTS 8
#define SHOWN_MAX (4 * 4096 + 1)

const char *nxpi_shown(const char *s)
{
	if (!s)
		return "(null)";
	size_t n = strlen(s);
	if (nxpi_escape_clean(s, n))
		return s;
	static _Thread_local char slots[SHOWN_SLOTS][SHOWN_MAX];
	static _Thread_local unsigned next;
	char *out = slots[next++ % SHOWN_SLOTS];
	nxpi_escape(out, SHOWN_MAX, s, n > 4096 ? 4096 : n);
	return out;
}

json_t *nxpi_json_name(const char *s)
{
	size_t n = strlen(s);
	if (nxpi_escape_clean(s, n))
		return json_stringn(s, n);
	size_t need = nxpi_escape(NULL, 0, s, n);
	char *e = malloc(need + 1);
	if (!e)
		return NULL;
	nxpi_escape(e, need + 1, s, n);
	json_t *j = json_stringn(e, need);
	free(e);
	return j;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

size_t nxpi_unescape(char *out, size_t cap, const char *s)
{
	size_t j = 0;
	for (size_t i = 0; s[i];) {
		int c = (unsigned char)s[i];
		if (c == '\\') {
			int hi = s[i + 1] == 'x' ? hexval(s[i + 2]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 3]) : -1;
			if (lo < 0)
				return (size_t)-1;
			c = hi * 16 + lo;
			i += 4;
		} else {
			i++;
		}
		if (j + 1 >= cap)
			return (size_t)-1;
		out[j++] = (char)c;
	}
	if (cap)
		out[j] = '\0';
	return j;
}
