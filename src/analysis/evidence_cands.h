/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: candidate positions of a few short byte patterns in one
 * section's bytes, for all the patterns in one pass (evidence_cands.c).
 *
 * The thunk-shape scan (evidence_shapes.c) confirms each shape's
 * candidates in turn, front to back, one shape after the other. Instead of
 * one search per shape over the section, one vector pass finds the
 * candidates of every shape and keeps them, per shape, in a bounded batch;
 * a shape whose batch runs dry before the end of the section is searched
 * on from where its batch stopped, alone. Memory stays bounded whatever the
 * data holds, and on ordinary data the one pass covers the section. */
#ifndef NXP_ANALYSIS_EVIDENCE_CANDS_H
#define NXP_ANALYSIS_EVIDENCE_CANDS_H

#include <stdint.h>

#define NXP_EV_MAX_PATTERNS 4
#define NXP_EV_PROBE_MAX 7         /* largest probe_off */
#define NXP_EV_CAND_BATCH 16384u   /* candidates kept ahead per pattern */
#define NXP_EV_CAND_NONE UINT32_MAX

/* A candidate at offset i of a section of len bytes: len - i >= room,
 * base[i .. i+nbytes) == bytes and base[i + probe_off] == probe. The probe
 * is a second byte the vector pass compares together with bytes[0]: for a
 * pattern of two or more bytes, bytes[1]; for a one-byte pattern, a fixed
 * byte further into the shape, so that random data rarely matches. */
typedef struct nxpi_ev_pattern {
	uint8_t bytes[4];
	uint8_t nbytes;    /* 1..4 */
	uint8_t probe_off; /* 1..NXP_EV_PROBE_MAX, below room */
	uint8_t probe;
	uint32_t room;     /* >= nbytes */
} nxpi_ev_pattern;

/* Which search finds the candidates: AUTO picks the fastest the CPU has;
 * the others are for tests. */
enum { NXP_EV_SCAN_AUTO, NXP_EV_SCAN_SCALAR, NXP_EV_SCAN_SSE2, NXP_EV_SCAN_AVX2 };

typedef struct nxpi_ev_cand_batch {
	uint32_t *pos;    /* NXP_EV_CAND_BATCH slots, ascending offsets */
	uint32_t n, next; /* filled, handed out */
	uint32_t scanned; /* every candidate below this offset was found */
} nxpi_ev_cand_batch;

typedef struct nxpi_ev_cands {
	nxpi_ev_pattern pat[NXP_EV_MAX_PATTERNS];
	unsigned npat;
	int scan; /* NXP_EV_SCAN_*, never AUTO */
	const uint8_t *base;
	uint32_t len;
	nxpi_ev_cand_batch b[NXP_EV_MAX_PATTERNS];
	uint32_t *store;
} nxpi_ev_cands;

/* 1 when this build and CPU can run the given search. */
int nxpi_ev_cands_usable(int scan);

/* Set up for npat (1..NXP_EV_MAX_PATTERNS) patterns; NXP_OK or
 * NXP_E_NOMEM. An unusable scan falls back to SCALAR. */
int nxpi_ev_cands_init(nxpi_ev_cands *c, const nxpi_ev_pattern *pat, unsigned npat, int scan);
void nxpi_ev_cands_free(nxpi_ev_cands *c);

/* Start on a section's bytes (len of them at base). */
void nxpi_ev_cands_section(nxpi_ev_cands *c, const uint8_t *base, uint32_t len);

/* The first candidate of pattern k at or after from, or NXP_EV_CAND_NONE.
 * Calls for one pattern must ask for non-decreasing from. */
uint32_t nxpi_ev_cand_next(nxpi_ev_cands *c, unsigned k, uint32_t from);

#endif
