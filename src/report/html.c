/* SPDX-License-Identifier: Apache-2.0 */
/* The self-contained HTML report of scan, plan and verify, written as the
 * images come (batch streaming, like the JSON and SARIF documents):
 *
 *   nxp_html_begin   the head (style, meta: version, date, command, policy)
 *                    and the start of the data block
 *   nxp_html_row     one image as one line of JSON in the data block
 *                    (rendered by whoever processed the image)
 *   nxp_html_end     the end of the data block, the run's counts, the
 *                    controls and the script (src/report/html/report.js)
 *                    that renders the images in pages, with filters and the
 *                    identical reasons grouped.
 *
 * Hostile names: every string from an image or the file system reaches the
 * page either HTML-escaped (the static parts) or inside the data block as
 * JSON with '<', '>' and '&' written \u003c, \u003e, \u0026, so nothing in
 * it can end the block or open markup; the script puts it in the page with
 * textContent only. A Content-Security-Policy allows no resource at all but
 * the page's own style and its one script (by hash), so even markup that
 * got through could load and run nothing. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "nxpatch/report.h"
#include "util/escape.h"

/* src/report/html/report.{js,css}, embedded at build time (CMakeLists.txt). */
extern const char nxpi_html_report_js[];
extern const size_t nxpi_html_report_js_len;
extern const char nxpi_html_report_css[];
extern const size_t nxpi_html_report_css_len;

/* s (shown as text printers show names: nxpi_shown) as HTML text or an
 * attribute value. */
static void esc(FILE *out, const char *s)
{
	for (s = s ? nxpi_shown(s) : ""; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

/* 'sha256-BASE64' of the script, for the page's Content-Security-Policy. */
static void script_hash(char *out, size_t cap)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	if (!EVP_Digest(nxpi_html_report_js, nxpi_html_report_js_len, md, &mdlen, EVP_sha256(), NULL)) {
		snprintf(out, cap, "'none'");
		return;
	}
	EVP_EncodeBlock(b64, md, (int)mdlen);
	snprintf(out, cap, "'sha256-%s'", (const char *)b64);
}

static void html_date(char *buf, size_t cap, long long when)
{
	time_t t = (time_t)when;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, cap, "%lld", when);
}

void nxp_html_begin(FILE *out, const nxp_html_meta *m)
{
	char hash[128], date[64];
	script_hash(hash, sizeof(hash));
	html_date(date, sizeof(date), m->date);
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; img-src data:; script-src ", out);
	fputs(hash, out);
	fputs("\">\n<meta name=\"generator\" content=\"nxpatch ", out);
	esc(out, m->version);
	fputs("\">\n<title>nxpatch ", out);
	esc(out, m->command);
	fputs(" report</title>\n<style>\n", out);
	fwrite(nxpi_html_report_css, 1, nxpi_html_report_css_len, out);
	fputs("</style>\n</head>\n<body data-command=\"", out);
	esc(out, m->command);
	fputs("\">\n<header>\n<h1>nxpatch ", out);
	esc(out, m->command);
	fputs("</h1>\n<dl id=\"meta\">\n<div><dt>nxpatch</dt><dd id=\"m-version\">", out);
	esc(out, m->version);
	fputs("</dd></div>\n<div><dt>date</dt><dd id=\"m-date\"><time datetime=\"", out);
	esc(out, date);
	fputs("\">", out);
	esc(out, date);
	fputs("</time></dd></div>\n<div><dt>command</dt><dd id=\"m-command\">", out);
	esc(out, m->command);
	fputs("</dd></div>\n", out);
	if (m->policy) {
		fputs("<div><dt>policy</dt><dd id=\"m-policy\">", out);
		esc(out, m->policy);
		fputs("</dd></div>\n", out);
	}
	fputs("</dl>\n</header>\n<noscript><p>The list of images needs JavaScript; "
	      "<code>--format json</code> holds the same data.</p></noscript>\n"
	      "<script type=\"application/json\" id=\"nxp-rows\">\n", out);
}

/* A JSON text that is safe inside a <script> element: '<', '>' and '&'
 * (which JSON has only inside strings) become \u003c, \u003e, \u0026. */
static char *script_safe(const char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++)
		n += (*p == '<' || *p == '>' || *p == '&') ? 6 : 1;
	char *o = malloc(n + 2), *q = o;
	if (!o)
		return NULL;
	for (const char *p = s; *p; p++) {
		if (*p == '<' || *p == '>' || *p == '&') {
			snprintf(q, 7, "\\u%04x", (unsigned)(unsigned char)*p);
			q += 6;
		} else {
			*q++ = *p;
		}
	}
	*q++ = '\n';
	*q = '\0';
	return o;
}

static void copy_key(json_t *to, const char *key, json_t *from, const char *from_key)
{
	json_t *v = json_object_get(from, from_key);
	if (v && !json_is_null(v))
		json_object_set(to, key, v);
}

/* At most this many evidence records per image go into the page (the
 * count says how many there are). */
#define HTML_EVIDENCE_MAX 50

char *nxp_html_row(const char *path, const char *cls, const char *text, const char *err,
                   json_t *report, json_t *findings)
{
	json_t *row = json_object();
	if (!row)
		return NULL;
	json_object_set_new(row, "path", nxpi_json_name(path ? path : ""));
	json_object_set_new(row, "class", json_string(cls ? cls : "failed"));
	json_t *status = json_object_get(report, "plan");
	if (!json_is_string(status))
		status = json_object_get(report, "status");
	if (json_is_string(status))
		json_object_set(row, "status", status);
	copy_key(row, "machine", report, "machine");
	copy_key(row, "kind", report, "kind");
	copy_key(row, "flags", json_object_get(report, "dll_characteristics"), "flags");
	json_t *sig = json_object_get(report, "signature");
	if (json_is_object(sig))
		copy_key(row, "signed", sig, "present");
	json_t *changes = json_object_get(report, "changes");
	if (json_is_array(changes))
		json_object_set_new(row, "changes", json_integer((json_int_t)json_array_size(changes)));
	copy_key(row, "error", report, "error");

	json_t *fs = json_array();
	static const char *const fkeys[] = {"id", "level", "verdict", "message", "section", "rva",
	                                    "policy_rule"};
	for (size_t i = 0; i < json_array_size(findings); i++) {
		json_t *f = json_array_get(findings, i), *o = json_object();
		for (size_t k = 0; k < sizeof(fkeys) / sizeof(fkeys[0]); k++)
			copy_key(o, fkeys[k], f, fkeys[k]);
		json_array_append_new(fs, o);
	}
	json_object_set_new(row, "findings", fs);

	json_t *ev = json_object_get(report, "evidence");
	if (json_array_size(ev)) {
		size_t n = json_array_size(ev);
		json_t *list = json_array();
		for (size_t i = 0; i < n && i < HTML_EVIDENCE_MAX; i++)
			json_array_append(list, json_array_get(ev, i));
		json_object_set_new(row, "evidence", list);
		json_object_set_new(row, "evidence_total", json_integer((json_int_t)n));
	}
	if (text && *text)
		json_object_set_new(row, "text", nxp_json_text(text));
	if (err && *err)
		json_object_set_new(row, "stderr", nxp_json_text(err));

	char *s = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(row);
	if (!s)
		return NULL;
	char *line = script_safe(s);
	free(s);
	return line;
}

/* The counts of the run, in the summary's order. */
static void counts(FILE *out, json_t *summary)
{
	const char *k;
	json_t *v;
	fputs("<section id=\"counts\">\n<h2>Counts</h2>\n<dl class=\"counts\">\n", out);
	json_object_foreach(summary, k, v) {
		char num[64];
		if (json_is_integer(v))
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		else if (json_is_real(v))
			snprintf(num, sizeof(num), "%.3f", json_real_value(v));
		else
			continue;
		fputs("<div><dt>", out);
		esc(out, k);
		fputs("</dt><dd data-key=\"", out);
		esc(out, k);
		fputs("\">", out);
		esc(out, num);
		fputs("</dd></div>\n", out);
	}
	fputs("</dl>\n", out);
	json_t *shard = json_object_get(summary, "shard");
	if (json_is_object(shard))
		fprintf(out, "<p id=\"shard\">shard %lld of %lld</p>\n",
		        (long long)json_integer_value(json_object_get(shard, "k")),
		        (long long)json_integer_value(json_object_get(shard, "n")));
	if (json_is_true(json_object_get(summary, "interrupted")))
		fputs("<p class=\"interrupted\" id=\"interrupted\">interrupted: the report lists only "
		      "the images done before the signal</p>\n", out);
	fputs("</section>\n", out);
}

static const char app_html[] =
	"<main id=\"app\" hidden>\n"
	"<section id=\"reasons\">\n<h2>Findings and reasons, identical ones grouped</h2>\n"
	"<div id=\"groups\"></div>\n</section>\n"
	"<section id=\"images\">\n<h2>Images</h2>\n"
	"<div id=\"filters\" role=\"search\">\n"
	"<label>verdict <select id=\"f-class\"></select></label>\n"
	"<label>finding <select id=\"f-finding\"></select></label>\n"
	"<label>worst level <select id=\"f-level\"></select></label>\n"
	"<label>text <input type=\"search\" id=\"f-text\" placeholder=\"path, message\"></label>\n"
	"<label>per page <select id=\"f-size\"><option>25</option><option>100</option>"
	"<option>500</option></select></label>\n"
	"<button type=\"button\" id=\"f-reset\">reset</button>\n"
	"<span id=\"f-group\" hidden>reason: <span id=\"f-group-msg\"></span> "
	"<button type=\"button\" id=\"f-group-clear\">clear</button></span>\n"
	"</div>\n"
	"<div id=\"pager\"><button type=\"button\" id=\"prev\">previous</button>"
	"<span id=\"page\"></span><button type=\"button\" id=\"next\">next</button>"
	"<span id=\"shown\"></span><span id=\"bad\"></span></div>\n"
	"<div id=\"rows\"></div>\n</section>\n</main>\n";

void nxp_html_end(FILE *out, json_t *summary)
{
	fputs("</script>\n", out);
	counts(out, summary);
	fputs(app_html, out);
	fputs("<script>", out);
	fwrite(nxpi_html_report_js, 1, nxpi_html_report_js_len, out);
	fputs("</script>\n</body>\n</html>\n", out);
}
