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

/* The evidence collectors (src/analysis/evidence*.c). The byte-pattern
 * search skips the sections marked in f->unsearched. */
int nxpi_collect_evidence(nxp_facts *f, nxp_error *err);
/* 1 for a section the byte-pattern search reads (evidence_shapes.c): the
 * ones facts derived on demand leave unsearched. */
int nxpi_ev_pattern_section(const nxp_section *s);

/* Facts derived on demand (nxp_facts.unsearched): what the judge reads of
 * them goes through these, so that a decision never rests on a fact not
 * derived. Each returns the fact and, when it is not derived yet, marks it
 * in *f->demand (the result is then a lower bound, or 0, and the judgement
 * is made again once it is derived). */
uint32_t nxpi_section_evidence(const nxp_facts *f, unsigned i); /* count in section i */
int nxpi_section_searched(const nxp_facts *f, unsigned i);      /* its records complete */
int nxpi_checksum_read(const nxp_facts *f);                     /* checksum_computed valid */
/* 1 when f holds everything nxp_analyze() derives. */
int nxpi_facts_complete(const nxp_facts *f);

/* nxp_analyze() that leaves the byte-pattern search of every data section
 * and the checksum to be derived on demand. */
int nxpi_analyze_lazy(nxp_facts *f, const nxp_image *img, const char *path, nxp_error *err);
/* Derive what *d asks for: search its sections (the evidence is collected
 * again, records from a trace kept), compute the checksum. */
int nxpi_facts_derive(nxp_facts *f, const nxp_demand *d, nxp_error *err);

#endif
