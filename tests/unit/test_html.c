/* SPDX-License-Identifier: Apache-2.0 */
/* The HTML report's pieces (src/report/html.c): a row is one line of JSON
 * that nothing in a name can break out of; the page's static parts escape
 * what they show. The browser side is e2e.report_html. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "nxpatch/report.h"

static const char hostile[] = "d/</script><!--<script>x<img src=x onerror=\"a()\">'&amp;\xff\n.exe";

Test(html, a_row_is_one_script_safe_json_line)
{
	json_t *findings = json_pack("[{s:s, s:s, s:s, s:s, s:n, s:n, s:s}]", "id", "refused-wx",
	                             "level", "error", "verdict", "refused", "message",
	                             "section </script> would become W+X & <b>", "section", "rva",
	                             "policy_rule", "r<1>");
	json_t *report = json_pack("{s:s, s:s, s:s, s:[{s:s, s:i, s:s}]}", "plan", "refused",
	                           "machine", "amd64", "kind", "exe", "evidence", "kind",
	                           "call_target", "rva", 4096, "section", ".da<ta");
	char *line = nxp_html_row(hostile, "refused", "text <i>\n", "nxpatch: \xfe err\n", report,
	                          findings);
	cr_assert_not_null(line);
	size_t n = strlen(line);
	cr_assert(n > 1 && line[n - 1] == '\n');
	cr_assert_null(memchr(line, '\n', n - 1), "one line: %s", line);
	cr_assert_null(strpbrk(line, "<>&"), "markup characters in the data block: %s", line);
	json_error_t je;
	json_t *row = json_loads(line, 0, &je);
	cr_assert_not_null(row, "not JSON: %s (%s)", line, je.text);
	/* The path as every report shows it: bad bytes and the newline as \xNN. */
	cr_assert_str_eq(json_string_value(json_object_get(row, "path")),
	                 "d/</script><!--<script>x<img src=x onerror=\"a()\">'&amp;\\xff\\x0a.exe");
	cr_assert_str_eq(json_string_value(json_object_get(row, "class")), "refused");
	cr_assert_str_eq(json_string_value(json_object_get(row, "status")), "refused");
	json_t *f = json_array_get(json_object_get(row, "findings"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(f, "message")),
	                 "section </script> would become W+X & <b>");
	cr_assert_null(json_object_get(f, "rva"), "null members are left out");
	cr_assert_str_eq(json_string_value(json_object_get(row, "text")), "text <i>\n");
	cr_assert_str_eq(json_string_value(json_object_get(row, "stderr")), "nxpatch: \\xfe err\n");
	cr_assert_eq(json_integer_value(json_object_get(row, "evidence_total")), 1);
	json_decref(row);
	json_decref(report);
	json_decref(findings);
	free(line);
}

Test(html, evidence_is_capped_and_counted)
{
	json_t *ev = json_array();
	for (int i = 0; i < 500; i++)
		json_array_append_new(ev, json_pack("{s:s, s:i, s:s}", "kind", "call_target", "rva", i,
		                                    "section", ".data"));
	json_t *report = json_pack("{s:s, s:o}", "status", "ok", "evidence", ev);
	char *line = nxp_html_row("a.exe", "scanned", NULL, NULL, report, NULL);
	json_t *row = json_loads(line, 0, NULL);
	cr_assert_not_null(row);
	cr_assert_eq(json_array_size(json_object_get(row, "evidence")), 50);
	cr_assert_eq(json_integer_value(json_object_get(row, "evidence_total")), 500);
	cr_assert_eq(json_array_size(json_object_get(row, "findings")), 0);
	json_decref(row);
	json_decref(report);
	free(line);
}

static char *page(const nxp_html_meta *m, const char *row, json_t *summary)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	nxp_html_begin(f, m);
	if (row)
		fputs(row, f);
	nxp_html_end(f, summary);
	fclose(f);
	return buf;
}

Test(html, the_page_escapes_what_it_shows_and_allows_only_its_own_script)
{
	nxp_html_meta m = {"plan", "9.9", "p/<b>\"x\"&'.yaml\x01", 1700000000};
	json_t *summary = json_pack("{s:i, s:i, s:f, s:b}", "scanned", 3, "refused", 1, "seconds",
	                            0.25, "interrupted", 1);
	char *row = nxp_html_row(hostile, "refused", NULL, NULL, NULL, NULL);
	char *p = page(&m, row, summary);
	cr_assert(strstr(p, "<dd id=\"m-policy\">p/&lt;b&gt;&quot;x&quot;&amp;&#39;.yaml\\x01</dd>"),
	          "%s", p);
	cr_assert(strstr(p, "<time datetime=\"2023-11-14T22:13:20Z\">2023-11-14T22:13:20Z</time>"));
	cr_assert(strstr(p, "<dd id=\"m-version\">9.9</dd>"));
	cr_assert(strstr(p, "<dd data-key=\"scanned\">3</dd>"));
	cr_assert(strstr(p, "<dd data-key=\"seconds\">0.250</dd>"));
	cr_assert(strstr(p, "id=\"interrupted\""));
	cr_assert(strstr(p, "script-src 'sha256-"), "no CSP hash");
	cr_assert(strstr(p, "default-src 'none'"));
	/* Exactly two script elements: the data block and the page's script;
	 * the hostile name never appears raw. */
	size_t scripts = 0;
	for (const char *q = p; (q = strstr(q, "<script")); q++)
		scripts++;
	cr_assert_eq(scripts, 2, "%zu <script in the page", scripts);
	cr_assert_null(strstr(p, "<img"));
	cr_assert_null(strstr(p, "<!--<"));
	free(p);
	free(row);
	json_decref(summary);
}
