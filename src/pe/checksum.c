/* SPDX-License-Identifier: Apache-2.0 */
/* The PE checksum: a 16-bit one's-complement sum of the file's words with
 * the CheckSum field counted as zero, plus the file length. One's-complement
 * addition is associative and commutative, so the words are summed into
 * wide accumulators and folded once at the end: the result equals the
 * classic fold-after-every-add loop (and pefile's generate_checksum).
 *
 * Exactly: a folded sum is 0 when every word (and the starting sum) is 0,
 * else the one value in 1..0xffff congruent to the total modulo 0xffff.
 * So any grouping of the adds gives the same bits, as long as no
 * accumulator overflows and each is folded before the partial sums meet.
 * nxpi_pe_sum16 takes the AVX2 loop where the CPU has it and the plain C
 * one elsewhere (their speeds: docs/benchmarks.md, bench/csum_bench.c). */
#include <string.h>

#include "nxpatch/pe.h"
#include "pe/internal.h"
#include "util/cpu.h"

#ifdef NXP_HAVE_AVX2
#include <immintrin.h>
#endif

static uint32_t fold16(uint64_t x)
{
	while (x >> 16)
		x = (x & 0xffff) + (x >> 16);
	return (uint32_t)x;
}

uint32_t nxpi_pe_sum16_portable(const uint8_t *buf, size_t len, uint32_t sum)
{
	uint64_t a0 = sum, a1 = 0, a2 = 0, a3 = 0;
	size_t i = 0;
	/* 32 bytes per round; each 64-bit load splits into two 32-bit halves so
	 * the accumulators cannot overflow before 2^31 rounds (64 GiB). */
	for (; len - i >= 32; i += 32) {
		uint64_t w[4];
		memcpy(w, buf + i, sizeof(w));
		a0 += (w[0] & 0xffffffffu) + (w[0] >> 32);
		a1 += (w[1] & 0xffffffffu) + (w[1] >> 32);
		a2 += (w[2] & 0xffffffffu) + (w[2] >> 32);
		a3 += (w[3] & 0xffffffffu) + (w[3] >> 32);
	}
	for (; len - i >= 2; i += 2)
		a0 += (uint32_t)buf[i] | (uint32_t)buf[i + 1] << 8;
	if (i < len)
		a0 += buf[i]; /* a trailing odd byte: a word with a zero high byte */
	/* Each accumulator is < 2^63; fold them separately before adding. */
	uint64_t t = (uint64_t)fold16(a0) + fold16(a1) + fold16(a2) + fold16(a3);
	return fold16(t);
}

#ifdef NXP_HAVE_AVX2
/* 128 bytes per round: in each 32-bit lane of four 32-byte loads, the low
 * and high words are split apart (mask, shift) and added, 8 words of at most
 * 0xffff per lane per round. 8192 rounds add at most 8192 * 8 * 0xffff <
 * 2^32, so every 8192 rounds (1 MiB) the 32-bit lanes are widened into
 * 64-bit ones, which overflow only after 2^32 MiB. */
#define SUM16_ROUND 128u
#define SUM16_ROUNDS_PER_WIDEN 8192u

NXP_TARGET_AVX2 static inline __m256i words_avx2(const uint8_t *p)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
	return _mm256_add_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0xffff)),
	                        _mm256_srli_epi32(v, 16));
}

NXP_TARGET_AVX2 uint32_t nxpi_pe_sum16_avx2(const uint8_t *buf, size_t len, uint32_t sum)
{
	__m256i acc64 = _mm256_setzero_si256();
	size_t i = 0;
	while (len - i >= SUM16_ROUND) {
		size_t rounds = (len - i) / SUM16_ROUND;
		if (rounds > SUM16_ROUNDS_PER_WIDEN)
			rounds = SUM16_ROUNDS_PER_WIDEN;
		__m256i acc32 = _mm256_setzero_si256();
		for (; rounds > 0; rounds--, i += SUM16_ROUND) {
			const uint8_t *p = buf + i;
			__m256i s = _mm256_add_epi32(_mm256_add_epi32(words_avx2(p), words_avx2(p + 32)),
			                             _mm256_add_epi32(words_avx2(p + 64), words_avx2(p + 96)));
			acc32 = _mm256_add_epi32(acc32, s);
		}
		acc64 = _mm256_add_epi64(acc64, _mm256_cvtepu32_epi64(_mm256_castsi256_si128(acc32)));
		acc64 = _mm256_add_epi64(acc64, _mm256_cvtepu32_epi64(_mm256_extracti128_si256(acc32, 1)));
	}
	uint64_t lane[4];
	_mm256_storeu_si256((__m256i *)(void *)lane, acc64);
	/* GCC 12 leaves out the vzeroupper before the tail call below; with
	 * the upper halves dirty, SSE code that runs next (OpenSSL's SHA-256)
	 * pays the AVX-SSE transition penalty (bench/csum_bench.c shows it). */
	_mm256_zeroupper();
	uint64_t t = (uint64_t)fold16(sum) + fold16(lane[0]) + fold16(lane[1]) + fold16(lane[2]) +
	             fold16(lane[3]);
	/* The tail (under 128 bytes) continues from the folded sum. */
	return nxpi_pe_sum16_portable(buf + i, len - i, fold16(t));
}
#else
uint32_t nxpi_pe_sum16_avx2(const uint8_t *buf, size_t len, uint32_t sum)
{
	return nxpi_pe_sum16_portable(buf, len, sum);
}
#endif

uint32_t nxpi_pe_sum16(const uint8_t *buf, size_t len, uint32_t sum)
{
	/* Short buffers (the checksum field's window, incremental edits) gain
	 * nothing from AVX2. */
	if (len >= 512 && nxpi_cpu_avx2())
		return nxpi_pe_sum16_avx2(buf, len, sum);
	return nxpi_pe_sum16_portable(buf, len, sum);
}

uint32_t nxpi_pe_sum_residue(uint64_t sum)
{
	return fold16(sum) % 0xffff;
}

uint32_t nxpi_pe_sum_swap_byte(uint32_t residue, uint64_t off, uint8_t oldb, uint8_t newb)
{
	/* A byte at an even offset is a word's low half, at an odd one its high. */
	uint32_t shift = (off & 1) ? 8 : 0;
	uint32_t o = ((uint32_t)oldb << shift) % 0xffff, n = ((uint32_t)newb << shift) % 0xffff;
	return (residue + 0xffff - o + n) % 0xffff;
}

uint32_t nxpi_pe_sum_finish(uint32_t residue, uint64_t len)
{
	/* The fold-after-every-add sum of a non-zero file is never 0: its
	 * residue 0 stands for 0xffff. */
	return (residue ? residue : 0xffff) + (uint32_t)len;
}

uint32_t nxp_pe_checksum(const uint8_t *buf, size_t len, size_t checksum_offset)
{
	uint32_t sum;
	if (checksum_offset >= len) {
		sum = nxpi_pe_sum16(buf, len, 0);
	} else {
		/* Words are at even offsets; the 4-byte field may straddle words
		 * when e_lfanew is odd, so sum an even-aligned window with the field
		 * zeroed. */
		size_t a = checksum_offset & ~(size_t)1;
		size_t b = checksum_offset + 4 + (checksum_offset & 1);
		if (b > len)
			b = len;
		uint8_t win[6] = {0};
		memcpy(win, buf + a, b - a);
		memset(win + (checksum_offset - a), 0,
		       (b - checksum_offset) < 4 ? (b - checksum_offset) : 4);
		sum = nxpi_pe_sum16(buf, a, 0);
		sum = nxpi_pe_sum16(win, b - a, sum);
		sum = nxpi_pe_sum16(buf + b, len - b, sum);
	}
	return (uint32_t)(fold16(sum) + (uint32_t)len);
}
