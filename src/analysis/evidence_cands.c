/* SPDX-License-Identifier: Apache-2.0 */
/* Candidate positions of up to four short byte patterns, all found in one
 * pass over a section (see evidence_cands.h).
 *
 * The section is searched in blocks of 32 positions. A block's mask has
 * bit j set when position i + j may start a candidate of some pattern in
 * the pass; every set bit is then checked exactly, pattern by pattern, by
 * cand_at(), and appended to that pattern's batch. The vector searches
 * (SSE2, baseline on x86-64; AVX2 when the CPU has it) compare bytes[0] and
 * the probe byte of every pattern at 32 positions at once; on random data
 * a two-byte match is 1 in 65536, so nearly every block is passed over
 * with no scalar work. Vector loads stay inside the section: a block is
 * searched with vectors only when its last load (at probe_off from its
 * last position) ends at or before the section's end, and the tail (under
 * 32 + NXP_EV_PROBE_MAX positions) goes through the scalar mask, which
 * reads one byte per position.
 *
 * A block is taken whole or not at all: when some batch in the pass lacks
 * room for 32 more candidates, the pass stops before the block and every
 * pattern in it records where it stopped. */
#include <stdlib.h>
#include <string.h>

#include "analysis/evidence_cands.h"
#include "nxpatch/error.h"
#include "util/cpu.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#ifdef NXP_HAVE_AVX2
#include <immintrin.h>
#endif

#define BLOCK 32u /* positions per block: one bit each of a uint32_t */

/* One search: the patterns in it (bit k of group: pattern k) and their
 * first and probe bytes in slots 0..NXP_EV_MAX_PATTERNS-1. Unused slots
 * repeat slot 0, so the vector loops always compare four patterns, with
 * constants that stay in registers. */
typedef struct pass {
	nxpi_ev_cands *c;
	unsigned group;
	uint8_t first[NXP_EV_MAX_PATTERNS], probe[NXP_EV_MAX_PATTERNS];
	uint32_t off[NXP_EV_MAX_PATTERNS]; /* probe offsets */
	uint8_t is_first[256];             /* 1 for each slot's first byte */
	int full;                          /* stopped: a batch ran out of room */
} pass;

static int cand_at(const nxpi_ev_cands *c, unsigned k, uint32_t i)
{
	/* room >= nbytes and room > probe_off: both reads lie in [i, len). */
	const nxpi_ev_pattern *p = &c->pat[k];
	return c->len - i >= p->room && !memcmp(c->base + i, p->bytes, p->nbytes) &&
	       c->base[i + p->probe_off] == p->probe;
}

/* Append the candidates among the block's set bits; 0 (and nothing
 * appended) when a batch lacks room for a whole block. */
static int take(pass *ps, uint32_t i, uint32_t bits)
{
	nxpi_ev_cands *c = ps->c;
	for (unsigned k = 0; k < c->npat; k++)
		if ((ps->group >> k & 1) && NXP_EV_CAND_BATCH - c->b[k].n < BLOCK) {
			ps->full = 1;
			return 0;
		}
	for (; bits; bits &= bits - 1) {
		uint32_t q = i + (uint32_t)__builtin_ctz(bits);
		for (unsigned k = 0; k < c->npat; k++)
			if ((ps->group >> k & 1) && cand_at(c, k, q))
				c->b[k].pos[c->b[k].n++] = q;
	}
	return 1;
}

/* Positions i .. i+n-1 (n <= BLOCK, all inside the section) whose byte is
 * some pattern's first byte. */
static uint32_t mask_scalar(const pass *ps, uint32_t i, uint32_t n)
{
	const uint8_t *p = ps->c->base + i;
	uint32_t bits = 0;
	for (uint32_t j = 0; j < n; j++)
		bits |= (uint32_t)ps->is_first[p[j]] << j;
	return bits;
}

/* The vector searches compare all four slots, written out so that the
 * compiler keeps the eight constants in registers. */
_Static_assert(NXP_EV_MAX_PATTERNS == 4, "the vector searches compare four slots");

#ifdef __SSE2__
/* One slot at 16 positions: bytes[0] at +0 (at0) and the probe at +off. */
static inline __m128i slot_sse2(__m128i at0, const uint8_t *p, __m128i first, __m128i probe,
                                uint32_t off)
{
	__m128i at = _mm_loadu_si128((const __m128i *)(const void *)(p + off));
	return _mm_and_si128(_mm_cmpeq_epi8(at0, first), _mm_cmpeq_epi8(at, probe));
}

static inline uint32_t mask_sse2(const uint8_t *p, const __m128i f[4], const __m128i pr[4],
                                 const uint32_t off[4])
{
	__m128i at0 = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i m = _mm_or_si128(_mm_or_si128(slot_sse2(at0, p, f[0], pr[0], off[0]),
	                                      slot_sse2(at0, p, f[1], pr[1], off[1])),
	                         _mm_or_si128(slot_sse2(at0, p, f[2], pr[2], off[2]),
	                                      slot_sse2(at0, p, f[3], pr[3], off[3])));
	return (uint32_t)_mm_movemask_epi8(m);
}

/* Blocks from i while i < end (the caller's bound on the loads); returns
 * where it stopped. */
static uint32_t scan_sse2(pass *ps, uint32_t i, uint32_t end)
{
	__m128i f[4], pr[4];
	uint32_t off[4];
	for (unsigned s = 0; s < 4; s++) {
		f[s] = _mm_set1_epi8((char)ps->first[s]);
		pr[s] = _mm_set1_epi8((char)ps->probe[s]);
		off[s] = ps->off[s];
	}
	const uint8_t *base = ps->c->base;
	for (; i < end; i += BLOCK) {
		uint32_t bits = mask_sse2(base + i, f, pr, off) |
		                mask_sse2(base + i + 16, f, pr, off) << 16;
		if (bits && !take(ps, i, bits))
			break;
	}
	return i;
}
#endif

#ifdef NXP_HAVE_AVX2
NXP_TARGET_AVX2 static inline __m256i slot_avx2(__m256i at0, const uint8_t *p, __m256i first,
                                                __m256i probe, uint32_t off)
{
	__m256i at = _mm256_loadu_si256((const __m256i *)(const void *)(p + off));
	return _mm256_and_si256(_mm256_cmpeq_epi8(at0, first), _mm256_cmpeq_epi8(at, probe));
}

NXP_TARGET_AVX2 static uint32_t scan_avx2(pass *ps, uint32_t i, uint32_t end)
{
	__m256i f[4], pr[4];
	uint32_t off[4];
	for (unsigned s = 0; s < 4; s++) {
		f[s] = _mm256_set1_epi8((char)ps->first[s]);
		pr[s] = _mm256_set1_epi8((char)ps->probe[s]);
		off[s] = ps->off[s];
	}
	const uint8_t *base = ps->c->base;
	for (; i < end; i += BLOCK) {
		const uint8_t *p = base + i;
		__m256i at0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
		__m256i m = _mm256_or_si256(
			_mm256_or_si256(slot_avx2(at0, p, f[0], pr[0], off[0]),
			                slot_avx2(at0, p, f[1], pr[1], off[1])),
			_mm256_or_si256(slot_avx2(at0, p, f[2], pr[2], off[2]),
			                slot_avx2(at0, p, f[3], pr[3], off[3])));
		uint32_t bits = (uint32_t)_mm256_movemask_epi8(m);
		if (bits && !take(ps, i, bits))
			break;
	}
	return i;
}
#endif

/* The vector search, from i for as long as a block's loads (up to reach
 * bytes past its last position) end inside the section; returns where it
 * stopped. The scalar search does it all. */
static uint32_t scan_vector(pass *ps, uint32_t i, uint32_t reach)
{
	const nxpi_ev_cands *c = ps->c;
	if (c->len < BLOCK + reach)
		return i;
	uint32_t end = c->len - BLOCK - reach + 1;
#ifdef NXP_HAVE_AVX2
	if (c->scan == NXP_EV_SCAN_AVX2)
		return scan_avx2(ps, i, end);
#endif
#ifdef __SSE2__
	if (c->scan == NXP_EV_SCAN_SSE2)
		return scan_sse2(ps, i, end);
#endif
	(void)end; /* no vector search in this build */
	return i;
}

/* Search on for pattern k from where its batch stopped, together with
 * every other pattern whose batch is used up and stopped at the same
 * offset (at the start of a section: all of them). */
static void refill(nxpi_ev_cands *c, unsigned k)
{
	uint32_t i = c->b[k].scanned, reach = 0;
	pass ps = {.c = c};
	unsigned m = 0;
	for (unsigned j = 0; j < c->npat; j++) {
		nxpi_ev_cand_batch *b = &c->b[j];
		if (j != k && (b->next < b->n || b->scanned != i))
			continue;
		b->n = b->next = 0;
		ps.group |= 1u << j;
		ps.first[m] = c->pat[j].bytes[0];
		ps.probe[m] = c->pat[j].probe;
		ps.off[m] = c->pat[j].probe_off;
		if (ps.off[m] > reach)
			reach = ps.off[m];
		m++;
	}
	for (; m < NXP_EV_MAX_PATTERNS; m++) {
		ps.first[m] = ps.first[0];
		ps.probe[m] = ps.probe[0];
		ps.off[m] = ps.off[0];
	}
	for (m = 0; m < NXP_EV_MAX_PATTERNS; m++)
		ps.is_first[ps.first[m]] = 1;
	i = scan_vector(&ps, i, reach);
	while (!ps.full && i < c->len) {
		uint32_t n = c->len - i < BLOCK ? c->len - i : BLOCK;
		uint32_t bits = mask_scalar(&ps, i, n);
		if (bits && !take(&ps, i, bits))
			break;
		i += n;
	}
	for (unsigned j = 0; j < c->npat; j++)
		if (ps.group >> j & 1)
			c->b[j].scanned = i;
}

uint32_t nxpi_ev_cand_next(nxpi_ev_cands *c, unsigned k, uint32_t from)
{
	nxpi_ev_cand_batch *b = &c->b[k];
	for (;;) {
		while (b->next < b->n) {
			uint32_t q = b->pos[b->next++];
			if (q >= from)
				return q;
		}
		if (b->scanned >= c->len)
			return NXP_EV_CAND_NONE;
		refill(c, k);
	}
}

int nxpi_ev_cands_usable(int scan)
{
	switch (scan) {
	case NXP_EV_SCAN_AUTO:
	case NXP_EV_SCAN_SCALAR:
		return 1;
#ifdef __SSE2__
	case NXP_EV_SCAN_SSE2:
		return 1;
#endif
	case NXP_EV_SCAN_AVX2:
		return nxpi_cpu_avx2();
	default:
		return 0;
	}
}

int nxpi_ev_cands_init(nxpi_ev_cands *c, const nxpi_ev_pattern *pat, unsigned npat, int scan)
{
	memset(c, 0, sizeof(*c));
	if (npat > NXP_EV_MAX_PATTERNS)
		npat = NXP_EV_MAX_PATTERNS;
	if (scan == NXP_EV_SCAN_AUTO)
		scan = nxpi_ev_cands_usable(NXP_EV_SCAN_AVX2)   ? NXP_EV_SCAN_AVX2
		       : nxpi_ev_cands_usable(NXP_EV_SCAN_SSE2) ? NXP_EV_SCAN_SSE2
		                                               : NXP_EV_SCAN_SCALAR;
	c->scan = nxpi_ev_cands_usable(scan) ? scan : NXP_EV_SCAN_SCALAR;
	c->npat = npat;
	memcpy(c->pat, pat, npat * sizeof(*pat));
	if (!(c->store = malloc((size_t)npat * NXP_EV_CAND_BATCH * sizeof(*c->store))))
		return NXP_E_NOMEM;
	for (unsigned k = 0; k < npat; k++)
		c->b[k].pos = c->store + (size_t)k * NXP_EV_CAND_BATCH;
	return NXP_OK;
}

void nxpi_ev_cands_free(nxpi_ev_cands *c)
{
	free(c->store);
	memset(c, 0, sizeof(*c));
}

void nxpi_ev_cands_section(nxpi_ev_cands *c, const uint8_t *base, uint32_t len)
{
	c->base = base;
	c->len = len;
	for (unsigned k = 0; k < c->npat; k++)
		c->b[k].n = c->b[k].next = c->b[k].scanned = 0;
}
