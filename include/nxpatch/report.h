/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: rendering facts, plans and results as text, JSON (jansson values),
 * SARIF and HTML.
 * The JSON shape is a stable interface, documented in docs/json.md. */
#ifndef NXPATCH_REPORT_H
#define NXPATCH_REPORT_H

#include <stdio.h>

#include "nxpatch/analysis.h"
#include "nxpatch/pe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* jansson's JSON value (include <jansson.h> to use one): the library
 * returns and takes them, and its users need not include jansson. */
typedef struct json_t json_t;

/* {"path", "status": "ok", "error": null, "machine", ...} for one image. */
json_t *nxp_json_image(const nxp_facts *f);
/* The image's evidence: [{"kind", "rva", "section"}] (scan and verify). */
json_t *nxp_json_evidence(const nxp_facts *f);
/* {"path", "status": "error", "error": msg, "code": "NXP_E_..."}. */
json_t *nxp_json_failure(const char *path, const nxp_error *err);

/* A JSON string of s; bytes that are not valid UTF-8 become "\\xNN". */
json_t *nxp_json_text(const char *s);

struct nxp_plan;
/* The scan object of f extended with "status" ("changes", "nothing_to_do",
 * "refused"), "changes", "refused", "warnings", "signature.action" and
 * "checksum.new". */
json_t *nxp_json_plan(const nxp_facts *f, const struct nxp_plan *plan);
/* The dry-run diff of one image, as text. */
void nxp_text_plan(FILE *out, const nxp_facts *f, const struct nxp_plan *plan);

/* Human-readable scan output for one image. */
void nxp_text_image(FILE *out, const nxp_facts *f);

struct nxp_finding;
struct nxp_findings;
/* {"id", "sarif", "level", "verdict", "message", "section", "rva", "field",
 * "offset", "policy_rule"} (docs/json.md); img names the section. */
json_t *nxp_json_finding(const struct nxp_finding *f, const nxp_image *img);
json_t *nxp_json_findings(const struct nxp_findings *fs, const nxp_image *img);
/* One line per finding: failing != 0 prints the PENDING/REFUSED/SIGNATURE
 * findings ("  message"), failing == 0 the posture ones
 * ("  level: message [id]"). */
void nxp_text_findings(FILE *out, const struct nxp_findings *fs, int failing);
struct nxp_sig_result;
/* [{"entry", "status", "subject", "issuer", "digest", "signing_time",
 * "timestamp", "reason"?}] of verify --trust. */
json_t *nxp_json_signatures(const struct nxp_sig_result *res, size_t n);

/* The SARIF 2.1.0 document of command cmd (scan, plan, verify), in pieces
 * written as the images come (batch streaming): one image's results (path
 * as reported, its findings: nxp_json_findings()) and its
 * toolExecutionNotifications (one when cls is "failed"; report is the
 * failure object), and the document around every image's pieces
 * concatenated, success = no notifications. The run's keys are in the order
 * tool, results, invocations, properties, so the results come before
 * anything that depends on all of them. Steal results/notes. */
json_t *nxp_sarif_results(const char *path, json_t *findings);
json_t *nxp_sarif_notes(const char *path, const char *cls, json_t *report);
json_t *nxp_sarif_skeleton(const char *cmd, const char *version, json_t *results,
                           json_t *notes, int success, json_t *summary);
/* The self-contained HTML report of scan, plan or verify (docs/json.md
 * "HTML report"), written as the images come: nxp_html_begin(), then each
 * image's nxp_html_row() line in input order, then nxp_html_end() with the
 * run's summary. */
typedef struct nxp_html_meta {
	const char *command;    /* "scan", "plan", "verify" */
	const char *version;    /* nxpatch's version */
	const char *policy;     /* the policy's source (the JSON "policy"), or NULL */
	long long date;         /* when the run started, seconds since the epoch (UTC) */
} nxp_html_meta;
void nxp_html_begin(FILE *out, const nxp_html_meta *meta);
/* One image: path as given (escaped here), its summary class, text report,
 * messages, per-image JSON (or NULL) and findings (nxp_json_finding
 * objects). Returns a malloc'd line ending in '\n', safe inside the
 * page's data block, or NULL when out of memory. */
char *nxp_html_row(const char *path, const char *cls, const char *text, const char *err,
                   json_t *report, json_t *findings);
void nxp_html_end(FILE *out, json_t *summary);

#ifdef __cplusplus
}
#endif
#endif
