/* The PE checksum: a 16-bit one's-complement sum of the file's words with
 * the CheckSum field counted as zero, plus the file length. One's-complement
 * addition is associative and commutative, so the words are summed 32 bits
 * at a time into 64-bit accumulators and folded once at the end: the result
 * equals the classic fold-after-every-add loop (and pefile's
 * generate_checksum). This runs at memory bandwidth. */
#include <string.h>

#include "nxpatch/pe.h"

static uint32_t fold16(uint64_t x)
{
	while (x >> 16)
		x = (x & 0xffff) + (x >> 16);
	return (uint32_t)x;
}

uint32_t nxp_pe_sum16(const uint8_t *buf, size_t len, uint32_t sum)
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

uint32_t nxp_pe_sum_residue(uint64_t sum)
{
	return fold16(sum) % 0xffff;
}

uint32_t nxp_pe_sum_swap_byte(uint32_t residue, uint64_t off, uint8_t oldb, uint8_t newb)
{
	/* A byte at an even offset is a word's low half, at an odd one its high. */
	uint32_t shift = (off & 1) ? 8 : 0;
	uint32_t o = ((uint32_t)oldb << shift) % 0xffff, n = ((uint32_t)newb << shift) % 0xffff;
	return (residue + 0xffff - o + n) % 0xffff;
}

uint32_t nxp_pe_sum_finish(uint32_t residue, uint64_t len)
{
	/* The fold-after-every-add sum of a non-zero file is never 0: its
	 * residue 0 stands for 0xffff. */
	return (residue ? residue : 0xffff) + (uint32_t)len;
}

uint32_t nxp_pe_checksum(const uint8_t *buf, size_t len, size_t checksum_offset)
{
	uint32_t sum;
	if (checksum_offset >= len) {
		sum = nxp_pe_sum16(buf, len, 0);
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
		sum = nxp_pe_sum16(buf, a, 0);
		sum = nxp_pe_sum16(win, b - a, sum);
		sum = nxp_pe_sum16(buf + b, len - b, sum);
	}
	return (uint32_t)(fold16(sum) + (uint32_t)len);
}
