/* SPDX-License-Identifier: Apache-2.0 */
/* bench/csum_bench.c: the PE checksum against memory bandwidth.
 *
 *   csum_bench [MiB] [reps]     (defaults: 200 MiB, 5 repetitions)
 *
 * On one warm buffer of pseudo-random bytes, the median over reps of:
 * memcpy (to a second buffer; counted as bytes copied, i.e. read once and
 * written once), memchr for a byte that is not there (a pure read),
 * nxp_pe_checksum (the library's, linked from libnxpatch.a), a plain
 * fold-per-word checksum loop for reference, and SHA-256 via OpenSSL's EVP
 * (the Authenticode digest's cost per byte). Prints one JSON object. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "nxpatch/pe.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static volatile uint64_t sink;

/* The textbook loop (pefile's and the PE/COFF spec's): fold after every add. */
static uint32_t naive_checksum(const uint8_t *p, size_t len, size_t off)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2) {
		uint32_t w = (i == off || i == off + 2) ? 0 : (uint32_t)p[i] | (uint32_t)p[i + 1] << 8;
		sum += w;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	if (len & 1)
		sum += p[len - 1];
	sum = (sum & 0xffff) + (sum >> 16);
	return sum + (uint32_t)len;
}

enum { K_MEMCPY, K_MEMCHR, K_CSUM, K_NAIVE, K_SHA256, NK };
static const char *const names[NK] = {"memcpy", "memchr", "nxp_pe_checksum",
                                      "naive_checksum", "sha256"};

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
	int reps = argc > 2 ? atoi(argv[2]) : 5;
	if (mib == 0 || reps <= 0 || reps > 100) {
		fprintf(stderr, "usage: csum_bench [MiB] [reps]\n");
		return 2;
	}
	size_t len = mib << 20;
	uint8_t *a = malloc(len), *b = malloc(len);
	if (!a || !b) {
		fprintf(stderr, "csum_bench: out of memory\n");
		return 1;
	}
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (size_t i = 0; i < len; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(a + i, &x, len - i < 8 ? len - i : 8);
	}
	for (size_t i = 0; i < len; i++)
		if (a[i] == 0xff)
			a[i] = 0xfe; /* memchr(0xff) scans everything */
	memset(b, 0, len);

	/* The two checksums must agree (and one warm-up pass each). */
	uint32_t c1 = nxp_pe_checksum(a, len, 0xd8), c2 = naive_checksum(a, len, 0xd8);
	if (c1 != c2) {
		fprintf(stderr, "csum_bench: checksum mismatch 0x%08x vs 0x%08x\n", c1, c2);
		return 1;
	}

	double t[NK][100];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		memcpy(b, a, len);
		sink += b[len / 3];
		double t1 = now();
		sink += (uintptr_t)memchr(a, 0xff, len);
		double t2 = now();
		sink += nxp_pe_checksum(a, len, 0xd8);
		double t3 = now();
		sink += naive_checksum(a, len, 0xd8);
		double t4 = now();
		EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
		EVP_DigestUpdate(ctx, a, len);
		EVP_DigestFinal_ex(ctx, md, &mdlen);
		sink += md[0];
		double t5 = now();
		t[K_MEMCPY][r] = t1 - t0;
		t[K_MEMCHR][r] = t2 - t1;
		t[K_CSUM][r] = t3 - t2;
		t[K_NAIVE][r] = t4 - t3;
		t[K_SHA256][r] = t5 - t4;
	}
	EVP_MD_CTX_free(ctx);
	printf("{\"bytes\": %zu, \"reps\": %d", len, reps);
	for (int k = 0; k < NK; k++) {
		qsort(t[k], (size_t)reps, sizeof(double), cmp_double);
		double med = reps & 1 ? t[k][reps / 2] : (t[k][reps / 2 - 1] + t[k][reps / 2]) / 2;
		printf(", \"%s\": {\"median_s\": %.6f, \"gb_per_s\": %.3f}", names[k], med,
		       (double)len / med / 1e9);
	}
	printf("}\n");
	free(a);
	free(b);
	return 0;
}
