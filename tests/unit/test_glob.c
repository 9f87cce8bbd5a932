/* SPDX-License-Identifier: Apache-2.0 */
/* Globs: *, **, ?, [...], escapes; well-formedness; bounded time. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "nxpatch/policy.h"
#include "policy/internal.h"

#define MATCH(p, t) cr_assert(nxpi_glob_match(p, t), "'%s' should match '%s'", p, t)
#define NOMATCH(p, t) cr_assert(!nxpi_glob_match(p, t), "'%s' should not match '%s'", p, t)

Test(glob, literal_whole_string)
{
	MATCH(".thunk", ".thunk");
	NOMATCH(".thunk", ".thunk2");
	NOMATCH(".thunk", "x.thunk");
	NOMATCH(".thunk", ".THUNK");
	MATCH("", "");
	NOMATCH("", "a");
}

Test(glob, star_stays_in_component)
{
	MATCH("*", "app.exe");
	MATCH("*.exe", "app.exe");
	MATCH("*.exe", ".exe");
	NOMATCH("*.exe", "dir/app.exe");
	MATCH("dir/*.exe", "dir/app.exe");
	NOMATCH("dir/*", "dir/sub/app.exe");
	MATCH(".t*", ".text");
	MATCH("PAGE*", "PAGE");
	MATCH("PAGE*", "PAGELK");
	MATCH("a*b*c", "aXXbYYc");
	NOMATCH("a*b*c", "aXXbYY");
}

Test(glob, double_star_components)
{
	MATCH("**/legacy/**", "a/legacy/b");
	MATCH("**/legacy/**", "legacy/b");
	MATCH("**/legacy/**", "/opt/apps/legacy/bin/app.exe");
	NOMATCH("**/legacy/**", "a/notlegacy/b");
	NOMATCH("**/legacy/**", "a/legacyx/b");
	MATCH("**/*.dll", "x.dll");
	MATCH("**/*.dll", "a/b/c/x.dll");
	NOMATCH("**/*.dll", "a/b/c/x.dll.bak");
	MATCH("a/**/b", "a/b");
	MATCH("a/**/b", "a/x/y/b");
	NOMATCH("a/**/b", "a/xb");
	MATCH("a/**", "a/x/y");
	MATCH("**", "any/thing/at/all");
	MATCH("a**z", "a/b/z"); /* '**' inside a component crosses '/' too */
}

Test(glob, question_mark)
{
	MATCH(".t?xt", ".text");
	NOMATCH(".t?xt", ".txt");
	NOMATCH("a?b", "a/b");
	MATCH("???", "abc");
	NOMATCH("???", "ab");
}

Test(glob, classes)
{
	MATCH("[abc]", "b");
	NOMATCH("[abc]", "d");
	MATCH("[a-z]x", "qx");
	NOMATCH("[a-z]x", "Qx");
	MATCH("[!a-z]", "Q");
	NOMATCH("[!a-z]", "q");
	MATCH("[^0-9]", "x");
	MATCH("[]]", "]");
	MATCH("[!]]", "a");
	NOMATCH("[!]]", "]");
	MATCH("x[-a]", "x-");
	NOMATCH("[!x]", "/"); /* a class never matches '/' */
	MATCH(".[rd]data", ".rdata");
	MATCH(".[rd]data", ".ddata");
	NOMATCH(".[rd]data", ".xdata");
}

Test(glob, escapes)
{
	MATCH("a\\*b", "a*b");
	NOMATCH("a\\*b", "axb");
	MATCH("\\[x]", "[x]");
	MATCH("[\\]]", "]");
}

Test(glob, check)
{
	cr_assert_null(nxpi_glob_check("**/legacy/**"));
	cr_assert_null(nxpi_glob_check("[a-z]*"));
	cr_assert_null(nxpi_glob_check("[]]"));
	cr_assert_str_eq(nxpi_glob_check("[abc"), "unterminated '['");
	cr_assert_str_eq(nxpi_glob_check("x[!"), "unterminated '['");
	cr_assert_str_eq(nxpi_glob_check("[]"), "unterminated '['");
	cr_assert_str_eq(nxpi_glob_check("abc\\"), "trailing '\\'");
	cr_assert_str_eq(nxpi_glob_check("[z-a]"), "reversed range in '[...]'");
	cr_assert_not_null(nxpi_glob_check(NULL));
	/* a malformed pattern matches nothing */
	NOMATCH("[abc", "[abc");
	NOMATCH(NULL, "x");
	NOMATCH("x", NULL);
}

Test(glob, long_pattern_rejected)
{
	static char p[5000];
	memset(p, 'a', sizeof(p) - 1);
	cr_assert_not_null(nxpi_glob_check(p));
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Patterns that make a naive backtracking matcher exponential. */
Test(glob, pathological_is_fast, .timeout = 10)
{
	static char text[20001];
	memset(text, 'a', sizeof(text) - 1);
	double t0 = seconds();
	NOMATCH("*a*a*a*a*a*a*a*b", text);
	NOMATCH("**a**a**a**a**a**a**a**b", text);
	NOMATCH("**/**/**/**/**/**/**/b", text);
	MATCH("*a*a*a*a*a*a*a*a", text);
	double dt = seconds() - t0;
	cr_assert_lt(dt, 2.0, "took %.2f s", dt);

	/* many components and double stars */
	static char path[20001];
	for (size_t i = 0; i < sizeof(path) - 1; i++)
		path[i] = i % 2 ? '/' : 'a';
	t0 = seconds();
	NOMATCH("**/a/**/a/**/a/**/a/**/b", path);
	cr_assert_lt(seconds() - t0, 2.0);
}
