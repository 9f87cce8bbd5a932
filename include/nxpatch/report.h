/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: rendering facts, plans and results as text or JSON (jansson).
 * The JSON shape is a stable interface, documented in docs/json.md. */
#ifndef NXPATCH_REPORT_H
#define NXPATCH_REPORT_H

#include <stdio.h>
#include <jansson.h>

#include "nxpatch/analysis.h"
#include "nxpatch/pe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* {"path", "status": "ok", "error": null, "machine", ...} for one image. */
json_t *nxp_json_image(const nxp_facts *f);
/* {"path", "status": "error", "error": msg, "code": "NXP_E_..."}. */
json_t *nxp_json_failure(const char *path, const nxp_error *err);

/* A JSON string of s; bytes that are not valid UTF-8 become "\\xNN". */
json_t *nxp_json_text(const char *s);

/* "name1,name2" style list of set flags as a JSON array of strings. */
json_t *nxp_json_flags(const nxp_flag_name *table, uint32_t value);

struct nxp_plan;
/* The scan object of f extended with "status" ("changes", "nothing_to_do",
 * "refused"), "changes", "refused", "warnings", "signature.action" and
 * "checksum.new". */
json_t *nxp_json_plan(const nxp_facts *f, const struct nxp_plan *plan);
/* The dry-run diff of one image, as text. */
void nxp_text_plan(FILE *out, const nxp_facts *f, const struct nxp_plan *plan);
const char *nxp_plan_status_name(int status);

/* Human-readable scan output for one image. */
void nxp_text_image(FILE *out, const nxp_facts *f);

/* The driver facts (nxpatch/driver.h) of f: the "driver" object of the scan
 * JSON (null for other kinds) and the text lines. */
json_t *nxp_json_driver(const nxp_facts *f);
void nxp_text_driver(FILE *out, const nxp_facts *f);

#ifdef __cplusplus
}
#endif
#endif
