/* SPDX-License-Identifier: Apache-2.0 */
/* Library-internal: pieces shared by the report writers in src/report/. */
#ifndef NXPATCH_SRC_REPORT_INTERNAL_H
#define NXPATCH_SRC_REPORT_INTERNAL_H

#include <jansson.h>
#include <stdio.h>
#include "nxpatch/analysis.h"
#include "nxpatch/pe.h"

/* The names of the set bits of value in table, as a JSON array of strings
 * (unknown bits as "0x..."). */
json_t *nxpi_json_flags(const nxp_flag_name *table, uint32_t value);

/* The driver facts (nxpatch/driver.h) of f: the "driver" object of the scan
 * JSON (null for other kinds) and the text lines. */
json_t *nxpi_json_driver(const nxp_facts *f);
void nxpi_text_driver(FILE *out, const nxp_facts *f);

#endif
