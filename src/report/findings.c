/* SPDX-License-Identifier: Apache-2.0 */
/* Findings (src/check) as JSON and text. The JSON shape is documented in
 * docs/json.md ("Findings"); SARIF and HTML render these objects. */
#include <stdio.h>
#include <time.h>
#include <jansson.h>

#include "nxpatch/check.h"
#include "nxpatch/report.h"
#include "nxpatch/sign.h"
#include "util/escape.h"

json_t *nxp_json_finding(const nxp_finding *f, const nxp_image *img)
{
	const nxp_finding_info *fi = nxp_finding_info_of(f->id);
	const nxp_where *w = &f->where;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", fi->id, "sarif", fi->sarif_rule, "level",
	                      nxp_level_name(fi->level), "verdict", nxp_verdict_name(fi->verdict));
	json_object_set_new(o, "message", nxp_json_text(f->message));
	json_object_set_new(o, "section",
	                    img && w->section >= 0 && w->section < (int)img->nsections
	                            ? nxp_json_text(img->sections[w->section].name)
	                            : json_null());
	json_object_set_new(o, "rva", w->has_rva ? json_integer((json_int_t)w->rva) : json_null());
	json_object_set_new(o, "field", w->field ? json_string(w->field) : json_null());
	json_object_set_new(o, "offset",
	                    w->has_offset ? json_integer((json_int_t)w->offset) : json_null());
	json_object_set_new(o, "policy_rule", f->rule ? nxp_json_text(f->rule) : json_null());
	return o;
}

json_t *nxp_json_findings(const nxp_findings *fs, const nxp_image *img)
{
	json_t *a = json_array();
	for (size_t i = 0; i < fs->n; i++)
		json_array_append_new(a, nxp_json_finding(&fs->items[i], img));
	return a;
}

void nxp_text_findings(FILE *out, const nxp_findings *fs, int failing)
{
	for (size_t i = 0; i < fs->n; i++) {
		const nxp_finding *f = &fs->items[i];
		const nxp_finding_info *fi = nxp_finding_info_of(f->id);
		int fails = fi->verdict != NXP_VERDICT_POSTURE;
		if (fails != !!failing)
			continue;
		if (fails)
			fprintf(out, "  %s\n", nxpi_shown(f->message));
		else
			fprintf(out, "  %s: %s [%s]\n", nxp_level_name(fi->level), nxpi_shown(f->message),
			        fi->id);
	}
}

static void format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm))
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(buf, len, "%lld", (long long)t);
}

json_t *nxp_json_signatures(const nxp_sig_result *res, size_t n)
{
	json_t *sigs = json_array();
	for (size_t i = 0; res && i < n; i++) {
		const nxp_sig_result *r = &res[i];
		char when[64] = "", ts[64] = "";
		if (r->has_signing_time)
			format_time(r->signing_time, when, sizeof(when));
		if (r->has_timestamp_time)
			format_time(r->timestamp_time, ts, sizeof(ts));
		json_t *o = json_pack("{s:I, s:s, s:o, s:o, s:s}", "entry", (json_int_t)r->index,
		                      "status", nxp_sig_status_name(r->status), "subject",
		                      nxp_json_text(r->subject), "issuer", nxp_json_text(r->issuer),
		                      "digest", nxp_digest_name(r->digest));
		json_object_set_new(o, "signing_time", when[0] ? json_string(when) : json_null());
		json_object_set_new(o, "timestamp",
		                    r->has_timestamp
		                            ? json_pack("{s:s, s:o}", "kind",
		                                        r->timestamp_rfc3161 ? "rfc3161" : "countersignature",
		                                        "time", ts[0] ? json_string(ts) : json_null())
		                            : json_null());
		if (r->status != NXP_SIGSTATUS_OK)
			json_object_set_new(o, "reason", nxp_json_text(r->reason));
		json_array_append_new(sigs, o);
	}
	return sigs;
}
