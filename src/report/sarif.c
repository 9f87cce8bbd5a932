/* SPDX-License-Identifier: Apache-2.0 */
/* The SARIF 2.1.0 document of a scan, plan or verify run, rendered from the
 * per-image records and their findings (include/nxpatch/report.h). Shaped
 * for GitHub code scanning: every rule has shortDescription,
 * fullDescription, help and helpUri; every result has a ruleId, a level, a
 * message, a location and partialFingerprints. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "nxpatch/check.h"
#include "nxpatch/report.h"

static const struct sarif_rule {
	const char *id, *name, *text, *full, *help, *uri;
} rules[] = {
#define NXP_SARIF_RULE(id, name, text, full, help, uri) {id, name, text, full, help, uri},
#include "report/sarif_rules.def"
#undef NXP_SARIF_RULE
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

/* The most severe level among the findings of a SARIF rule. */
static const char *default_level(const char *rule)
{
	nxp_level lv = NXP_LEVEL_NOTE;
	for (unsigned i = 0; i < NXP_F__COUNT; i++) {
		const nxp_finding_info *fi = nxp_finding_info_of((nxp_finding_id)i);
		if (!strcmp(fi->sarif_rule, rule) && fi->level > lv)
			lv = fi->level;
	}
	return nxp_level_name(lv);
}

/* A relative path stays a relative URI reference; an absolute one becomes
 * file://. Bytes outside the unreserved set are percent-encoded. */
static json_t *path_uri(const char *path)
{
	char buf[3 * 4096 + 16];
	size_t k = 0;
	if (path[0] == '/')
		k = (size_t)snprintf(buf, sizeof(buf), "file://");
	for (const unsigned char *p = (const unsigned char *)path; *p && k + 4 < sizeof(buf); p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/", *p))
			buf[k++] = (char)*p;
		else
			k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%%%02X", *p);
	}
	buf[k] = '\0';
	return json_string(buf);
}

static json_t *location(const char *path)
{
	return json_pack("[{s:{s:{s:o}}}]", "physicalLocation", "artifactLocation", "uri",
	                 path_uri(path));
}

static void fnv(uint64_t *h, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
		*h = (*h ^ *p) * 0x100000001b3ull;
	*h = (*h ^ 0xff) * 0x100000001b3ull; /* separator */
}

/* Stable across runs and message wording: what, where, which rule. */
static json_t *fingerprints(const char *path, json_t *x)
{
	uint64_t h = 0xcbf29ce484222325ull;
	fnv(&h, json_string_value(json_object_get(x, "id")));
	fnv(&h, path);
	fnv(&h, json_string_value(json_object_get(x, "section")));
	fnv(&h, json_string_value(json_object_get(x, "field")));
	fnv(&h, json_string_value(json_object_get(x, "policy_rule")));
	char hex[17];
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)h);
	return json_pack("{s:s}", "nxpatchFinding/v1", hex);
}

static json_t *properties(json_t *x)
{
	static const struct {
		const char *from, *to;
	} keys[] = {{"id", "finding"},   {"verdict", "verdict"}, {"section", "section"},
	            {"rva", "rva"},      {"field", "field"},     {"offset", "fileOffset"},
	            {"policy_rule", "policyRule"}};
	json_t *p = json_object();
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(x, keys[i].from);
		if (v && !json_is_null(v))
			json_object_set(p, keys[i].to, v);
	}
	return p;
}

static json_t *rules_array(void)
{
	json_t *jr = json_array();
	for (size_t i = 0; i < NRULES; i++)
		json_array_append_new(
			jr, json_pack("{s:s, s:s, s:{s:s}, s:{s:s}, s:{s:s}, s:s, s:{s:s}}", "id",
			              rules[i].id, "name", rules[i].name, "shortDescription", "text",
			              rules[i].text, "fullDescription", "text", rules[i].full, "help",
			              "text", rules[i].help, "helpUri", rules[i].uri,
			              "defaultConfiguration", "level", default_level(rules[i].id)));
	return jr;
}

json_t *nxp_sarif_results(const char *path, json_t *findings)
{
	json_t *results = json_array();
	if (!path)
		path = "";
	for (size_t k = 0; k < json_array_size(findings); k++) {
		json_t *x = json_array_get(findings, k);
		const char *rule = json_string_value(json_object_get(x, "sarif"));
		size_t idx = 0;
		while (rule && idx < NRULES && strcmp(rules[idx].id, rule))
			idx++;
		if (!rule || idx == NRULES)
			continue; /* findings.def and sarif_rules.def disagree: a unit test fails */
		json_t *res = json_pack("{s:s, s:I, s:O, s:{s:O}, s:o, s:o, s:o}", "ruleId", rule,
		                        "ruleIndex", (json_int_t)idx, "level",
		                        json_object_get(x, "level"), "message", "text",
		                        json_object_get(x, "message"), "locations", location(path),
		                        "partialFingerprints", fingerprints(path, x), "properties",
		                        properties(x));
		if (res)
			json_array_append_new(results, res);
	}
	return results;
}

json_t *nxp_sarif_notes(const char *path, const char *cls, json_t *report)
{
	json_t *notes = json_array();
	if (!path)
		path = "";
	if (cls && !strcmp(cls, "failed")) {
		const char *e = json_string_value(json_object_get(report, "error"));
		json_array_append_new(notes, json_pack("{s:s, s:{s:s}, s:o}", "level", "error",
		                                       "message", "text", e ? e : "failed",
		                                       "locations", location(path)));
	}
	return notes;
}

json_t *nxp_sarif_skeleton(const char *cmd, const char *version, json_t *results,
                           json_t *notes, int success, json_t *summary)
{
	json_t *inv = json_pack("{s:b, s:[s], s:o}", "executionSuccessful", success, "arguments",
	                        cmd, "toolExecutionNotifications", notes);
	json_t *run = json_pack("{s:{s:{s:s, s:s, s:s, s:o}}, s:o, s:[o], s:{s:O}}", "tool",
	                        "driver", "name", "nxpatch", "version", version,
	                        "informationUri", "https://github.com/nxpatch/nxpatch", "rules",
	                        rules_array(), "results", results, "invocations", inv,
	                        "properties", "summary", summary);
	return json_pack("{s:s, s:s, s:[o]}", "$schema",
	                 "https://json.schemastore.org/sarif-2.1.0.json", "version", "2.1.0",
	                 "runs", run);
}
