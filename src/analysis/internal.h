/* SPDX-License-Identifier: Apache-2.0 */
/* Library-internal: building an image's facts (src/analysis/facts.c) from
 * the collectors (evidence*.c, driver*.c) and from traced faults
 * (src/trace/evidence_file.c). */
#ifndef NXPATCH_SRC_ANALYSIS_INTERNAL_H
#define NXPATCH_SRC_ANALYSIS_INTERNAL_H

#include <stdint.h>
#include "nxpatch/analysis.h"

/* Adds one evidence record (kept up to NXP_MAX_EVIDENCE, counted either
 * way in evidence_dropped). */
int nxpi_facts_add_evidence(nxp_facts *f, nxp_evidence_kind kind, uint32_t rva, int section);
/* Adds a warning (printf-style; the text is copied). */
int nxpi_facts_add_warning(nxp_facts *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The evidence collectors (src/analysis/evidence*.c). */
int nxpi_collect_evidence(nxp_facts *f, nxp_error *err);

#endif
