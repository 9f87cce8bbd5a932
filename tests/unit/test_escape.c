/* SPDX-License-Identifier: Apache-2.0 */
/* The one escaping of names for text and JSON (src/util/escape.h). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "util/escape.h"

static void expect(const char *in, size_t n, const char *want)
{
	char out[256];
	size_t need = nxpi_escape(out, sizeof(out), in, n);
	cr_assert_str_eq(out, want, "got %s want %s", out, want);
	cr_assert_eq(need, strlen(want));
	cr_assert_eq(nxpi_escape_clean(in, n), strcmp(out, in) == 0 && strlen(in) == n);
	/* lossless */
	char back[256];
	cr_assert_eq(nxpi_unescape(back, sizeof(back), out), n, "%s", want);
	cr_assert_eq(memcmp(back, in, n), 0, "%s", want);
}

Test(escape, controls_backslash_and_bad_utf8_become_hex)
{
	expect("plain/name.exe", 14, "plain/name.exe");
	expect("a\nb", 3, "a\\x0ab");
	expect("tab\there\r", 9, "tab\\x09here\\x0d");
	expect("esc\x1b[31m", 8, "esc\\x1b[31m");
	expect("del\x7f", 4, "del\\x7f");
	expect("back\\slash", 10, "back\\x5cslash");
	expect("na\xffme", 5, "na\\xffme");
	expect("\xc3\xa9t\xc3\xa9", 5, "\xc3\xa9t\xc3\xa9");           /* valid UTF-8 kept */
	expect("\xc3\xa9\xff", 3, "\xc3\xa9\\xff");                     /* only the bad byte */
	expect("\xc2\x9b" "2J", 4, "\\xc2\\x9b2J");                     /* C1 CSI */
	expect("\xc0\xaf", 2, "\\xc0\\xaf");                            /* overlong */
	expect("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");                   /* surrogate */
	expect("\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80");          /* > U+10FFFF */
	expect("\xe2\x82", 2, "\\xe2\\x82");                            /* cut short */
	expect("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80");              /* emoji kept */
	expect("nul\0in", 6, "nul\\x00in");
}

Test(escape, truncation_and_sizes)
{
	char out[8];
	size_t need = nxpi_escape(out, sizeof(out), "ab\ncd", 5);
	cr_assert_eq(need, 8);
	cr_assert_str_eq(out, "ab\\x0ac", "cut at a whole escape: %s", out);
	need = nxpi_escape(out, 4, "\n\n", 2);
	cr_assert_eq(need, 8);
	cr_assert_str_eq(out, "", "no half escape");
	cr_assert_eq(nxpi_escape(NULL, 0, "x\ny", 3), 6);
	char back[4];
	cr_assert_eq(nxpi_unescape(back, sizeof(back), "abcd"), (size_t)-1, "too long");
	cr_assert_eq(nxpi_unescape(back, sizeof(back), "\\x4"), (size_t)-1, "half an escape");
	cr_assert_eq(nxpi_unescape(back, sizeof(back), "\\n"), (size_t)-1, "not \\x");
}

Test(escape, shown_and_json)
{
	const char *clean = "dir/file.exe";
	cr_assert_eq(nxpi_shown(clean), clean, "a clean name is shown as is, not copied");
	const char *a = nxpi_shown("x\ny"), *b = nxpi_shown("p\tq");
	cr_assert_str_eq(a, "x\\x0ay");
	cr_assert_str_eq(b, "p\\x09q", "two results live at once");
	json_t *j = nxpi_json_name("na\xffme\n");
	cr_assert_not_null(j, "a non-UTF-8 name is a JSON string");
	cr_assert_str_eq(json_string_value(j), "na\\xffme\\x0a", "the same escape as text");
	json_decref(j);
	j = nxpi_json_name("\xc3\xa9");
	cr_assert_str_eq(json_string_value(j), "\xc3\xa9");
	json_decref(j);
}
