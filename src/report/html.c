/* SPDX-License-Identifier: Apache-2.0 */
/* The self-contained HTML page of a plan run (moved from the CLI; rendered
 * from the per-image records, see include/nxpatch/report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "nxpatch/report.h"

static void esc(FILE *out, const char *s)
{
	for (; s && *s; s++) {
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

static const char html_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width\">\n"
	"<title>nxpatch plan</title>\n<style>\n"
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\n"
	"table{border-collapse:collapse;margin:.5em 0}\n"
	"th,td{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}\n"
	"th{background:#f3f3f3}\n"
	"tr.img[data-status=changes] td.st{color:#8a5a00;font-weight:bold}\n"
	"tr.img[data-status=refused] td.st,tr.img[data-status=error] td.st{color:#b00020;"
	"font-weight:bold}\n"
	"tr.img[data-status=nothing_to_do] td.st{color:#1b5e20}\n"
	"pre{margin:.3em 0;font:12px/1.3 ui-monospace,monospace;white-space:pre-wrap}\n"
	"#filters{margin:1em 0}#filters label{margin-right:1.5em}\n"
	"</style>\n</head>\n<body>\n<h1>nxpatch plan</h1>\n";

static const char html_script[] =
	"<script>\n"
	"(function(){\n"
	"  var st=document.getElementById('f-status'), ru=document.getElementById('f-rule');\n"
	"  function filter(){\n"
	"    var s=st.value, r=ru.value, n=0, rows=document.querySelectorAll('tr.img');\n"
	"    rows.forEach(function(tr){\n"
	"      var ok=(!s||tr.dataset.status===s)&&(!r||tr.dataset.rules.indexOf(' '+r+' ')>=0);\n"
	"      tr.hidden=!ok; var d=document.getElementById(tr.id+'-diff'); if(d) d.hidden=!ok;\n"
	"      if(ok) n++;\n"
	"    });\n"
	"    document.getElementById('shown').textContent=n+' of '+rows.length+' images shown';\n"
	"  }\n"
	"  function fromUrl(){\n"
	"    var q=new URLSearchParams(location.search);\n"
	"    if(q.has('status')) st.value=q.get('status');\n"
	"    if(q.has('rule')){ var v=q.get('rule'), o=Array.prototype.some.call(ru.options,\n"
	"      function(x){return x.value===v;}); if(!o){ var e=document.createElement('option');\n"
	"      e.value=e.textContent=v; ru.appendChild(e);} ru.value=v; }\n"
	"  }\n"
	"  function toUrl(){\n"
	"    var q=new URLSearchParams(location.search);\n"
	"    if(st.value) q.set('status',st.value); else q.delete('status');\n"
	"    if(ru.value) q.set('rule',ru.value); else q.delete('rule');\n"
	"    try{history.replaceState(null,'','?'+q.toString());}catch(e){}\n"
	"  }\n"
	"  st.addEventListener('change',function(){toUrl();filter();});\n"
	"  ru.addEventListener('change',function(){toUrl();filter();});\n"
	"  fromUrl(); filter(); document.body.dataset.ready='1';\n"
	"})();\n"
	"</script>\n";

void nxp_html_plan(FILE *out, const char *policy, json_t *records, json_t *summary)
{
	fputs(html_head, out);
	fputs("<p>policy: <code>", out);
	esc(out, policy ? policy : "(default)");
	fputs("</code></p>\n<table id=\"summary\"><tr>", out);
	const char *k;
	json_t *v;
	json_object_foreach(summary, k, v) {
		fputs("<th>", out);
		esc(out, k);
		fputs("</th>", out);
	}
	fputs("</tr>\n<tr>", out);
	json_object_foreach(summary, k, v) {
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
		fprintf(out, "<td data-key=\"%s\">", k);
		esc(out, s);
		fputs("</td>", out);
		free(s);
	}
	fputs("</tr></table>\n", out);

	/* Every rule that matched any image, for the filter. */
	json_t *all = json_object();
	for (size_t i = 0; i < json_array_size(records); i++) {
		json_t *rm = json_object_get(json_object_get(json_array_get(records, i), "report"),
		                             "rules_matched");
		for (size_t r = 0; r < json_array_size(rm); r++)
			json_object_set(all, json_string_value(json_array_get(rm, r)), json_true());
	}
	fputs("<div id=\"filters\"><label>status <select id=\"f-status\">"
	      "<option value=\"\">all</option><option value=\"changes\">changes</option>"
	      "<option value=\"nothing_to_do\">nothing to do</option>"
	      "<option value=\"refused\">refused</option><option value=\"error\">error</option>"
	      "</select></label><label>rule <select id=\"f-rule\"><option value=\"\">all</option>",
	      out);
	json_object_foreach(all, k, v) {
		fputs("<option value=\"", out);
		esc(out, k);
		fputs("\">", out);
		esc(out, k);
		fputs("</option>", out);
	}
	json_decref(all);
	fputs("</select></label><span id=\"shown\"></span></div>\n"
	      "<table id=\"images\"><thead><tr><th>image</th><th>status</th><th>changes</th>"
	      "<th>refusals</th><th>rules</th></tr></thead>\n<tbody>\n",
	      out);
	for (size_t i = 0; i < json_array_size(records); i++) {
		json_t *rec = json_array_get(records, i), *rep = json_object_get(rec, "report");
		const char *st = json_string_value(json_object_get(rep, "plan"));
		if (!st)
			st = "error";
		json_t *rm = json_object_get(rep, "rules_matched");
		fprintf(out, "<tr class=\"img\" id=\"img-%zu\" data-status=\"%s\" data-rules=\" ", i,
		        st);
		for (size_t r = 0; r < json_array_size(rm); r++) {
			esc(out, json_string_value(json_array_get(rm, r)));
			fputc(' ', out);
		}
		fputs("\"><td class=\"path\">", out);
		esc(out, json_string_value(json_object_get(rec, "path")));
		fprintf(out, "</td><td class=\"st\">%s</td><td>%zu</td><td>%zu</td><td>", st,
		        json_array_size(json_object_get(rep, "changes")),
		        json_array_size(json_object_get(rep, "refused")));
		for (size_t r = 0; r < json_array_size(rm); r++) {
			if (r)
				fputs(", ", out);
			esc(out, json_string_value(json_array_get(rm, r)));
		}
		fprintf(out, "</td></tr>\n<tr class=\"diff\" id=\"img-%zu-diff\"><td colspan=\"5\">"
		             "<details><summary>diff</summary><pre>", i);
		const char *text = json_string_value(json_object_get(rec, "text"));
		const char *err = json_string_value(json_object_get(rec, "stderr"));
		esc(out, text && *text ? text : err);
		fputs("</pre>", out);
		/* The judge's findings (include/nxpatch/findings.def), as in SARIF. */
		json_t *fs = json_object_get(rec, "findings");
		if (json_array_size(fs)) {
			fputs("<ul class=\"findings\">", out);
			for (size_t fi = 0; fi < json_array_size(fs); fi++) {
				json_t *x = json_array_get(fs, fi);
				fputs("<li data-level=\"", out);
				esc(out, json_string_value(json_object_get(x, "level")));
				fputs("\" data-id=\"", out);
				esc(out, json_string_value(json_object_get(x, "id")));
				fputs("\">", out);
				esc(out, json_string_value(json_object_get(x, "level")));
				fputs(" <code>", out);
				esc(out, json_string_value(json_object_get(x, "id")));
				fputs("</code>: ", out);
				esc(out, json_string_value(json_object_get(x, "message")));
				fputs("</li>", out);
			}
			fputs("</ul>", out);
		}
		fputs("</details></td></tr>\n", out);
	}
	fputs("</tbody></table>\n", out);
	fputs(html_script, out);
	fputs("</body>\n</html>\n", out);
}
