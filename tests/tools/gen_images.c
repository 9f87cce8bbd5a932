/* SPDX-License-Identifier: Apache-2.0 */
/* nxp_gen_images: writes generated PE images for tests and fuzzing. Nothing
 * binary is committed for tests; this tool makes it at test time.
 *
 *   nxp_gen_images odd DIR          odd-but-valid images, DIR/<name>.exe, and
 *                                   DIR/expect.txt ("name code" per line)
 *   nxp_gen_images seeds DIR        fuzz_pe seeds: generator variants + odd images
 *   nxp_gen_images cert-seeds DIR   fuzz_certs seeds: certificate tables alone
 *   nxp_gen_images amp KIND FILE    one limit amplifier (see usage)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/odd_images.h"

#define CAP (8u << 20)

static int write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[4096];
	if (dir)
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "nxp_gen_images: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return 0;
}

static int gen_odd(const char *dir, uint8_t *buf)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/expect.txt", dir);
	FILE *m = fopen(path, "w");
	if (!m) {
		fprintf(stderr, "nxp_gen_images: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < NXT_ODD_COUNT; i++) {
		size_t n = nxt_odd_images[i].build(buf, CAP);
		if (!n) {
			fprintf(stderr, "nxp_gen_images: %s: build failed\n", nxt_odd_images[i].name);
			return 1;
		}
		char name[256];
		snprintf(name, sizeof(name), "%s.exe", nxt_odd_images[i].name);
		write_file(dir, name, buf, n);
		fprintf(m, "%s %d\n", nxt_odd_images[i].name, nxt_odd_images[i].expect);
	}
	return fclose(m) != 0;
}

static int gen_seeds(const char *dir, uint8_t *buf)
{
	static const nxt_pe_spec specs[] = {
		{.pe32plus = 1, .nsections = 3, .dll_characteristics = 0x160},
		{.pe32plus = 0, .nsections = 2, .with_imports = 1},
		{.pe32plus = 1, .nsections = 2, .with_imports = 1, .cert_size = 0x40},
		{.pe32plus = 0, .nsections = 1, .overlay = 0x30, .cert_size = 0x20},
		{.pe32plus = 1, .nsections = 2, .ndirs = 6},
		{.pe32plus = 0, .nsections = 4, .ndirs = 5, .ndirs_set = 1},
	};
	char name[64];
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		size_t n = nxt_build_pe(buf, CAP, &specs[i], NULL);
		snprintf(name, sizeof(name), "gen_%02zu.exe", i);
		write_file(dir, name, buf, n);
	}
	for (size_t i = 0; i < NXT_ODD_COUNT; i++) {
		size_t n = nxt_odd_images[i].build(buf, CAP);
		if (n > 64 * 1024)
			continue; /* keep seeds small */
		snprintf(name, sizeof(name), "odd_%s.exe", nxt_odd_images[i].name);
		write_file(dir, name, buf, n);
	}
	return 0;
}

static size_t put_cert(uint8_t *p, uint32_t len, uint16_t rev, uint16_t type)
{
	memset(p, 0, (len + 7) & ~7u);
	nxt_put32(p, len);
	nxt_put16(p + 4, rev);
	nxt_put16(p + 6, type);
	if (len > 12) {
		p[8] = 0x30; /* a DER SEQUENCE, as PKCS#7 starts */
		p[9] = 0x82;
		p[10] = (uint8_t)((len - 12) >> 8);
		p[11] = (uint8_t)(len - 12);
	}
	return (len + 7) & ~7u;
}

static int gen_cert_seeds(const char *dir, uint8_t *buf)
{
	size_t n = put_cert(buf, 0x40, 0x0200, 2);
	write_file(dir, "one.bin", buf, n);
	n = put_cert(buf, 0x40, 0x0200, 2);
	n += put_cert(buf + n, 0x2c, 0x0200, 2);
	write_file(dir, "two_shim.bin", buf, n);
	n = put_cert(buf, 0x2d, 0x0100, 1);
	write_file(dir, "unpadded_x509.bin", buf, n - 3);
	n = put_cert(buf, 0x10, 0x0200, 0xef);
	write_file(dir, "small_unknown_type.bin", buf, n);
	return 0;
}

/* Amplifiers: inputs whose naive handling costs far more than their size. */
/* long-function: an image built field by field. */
static int gen_amp(const char *kind, const char *file, uint8_t *buf)
{
	nxt_layout l;
	size_t n;
	if (!strcmp(kind, "sections65535")) {
		/* NumberOfSections 65535 with a full section table (2.6 MB). */
		n = nxt_build_pe(buf, CAP, &(nxt_pe_spec){.pe32plus = 1, .nsections = 1}, &l);
		size_t table = 65535u * 40;
		size_t total = l.section_table + table + 0x200;
		uint8_t *big = calloc(1, total);
		if (!big)
			return 1;
		memcpy(big, buf, l.section_table + 40);
		for (size_t i = 1; i < 65535; i++)
			memcpy(big + l.section_table + 40 * i, big + l.section_table, 40);
		nxt_put16(big + l.coff + 2, 65535);
		nxt_put32(big + l.opt + ODD_OPT_SIZE_OF_HEADERS, (uint32_t)(l.section_table + table));
		write_file(NULL, file, big, total);
		free(big);
		return 0;
	}
	if (!strcmp(kind, "overlap")) {
		/* 96 sections, every one mapping the same 4 MB raw range. */
		n = nxt_build_pe(buf, CAP, &(nxt_pe_spec){.pe32plus = 1, .nsections = 96}, &l);
		uint32_t raw = 4u << 20;
		size_t total = l.headers_size + raw;
		uint8_t *big = calloc(1, total);
		if (!big)
			return 1;
		memcpy(big, buf, l.headers_size);
		for (unsigned i = 0; i < 96; i++) {
			uint8_t *s = big + l.section_table + 40 * i;
			nxt_put32(s + 8, raw);
			nxt_put32(s + 12, 0x1000 + i * raw);
			nxt_put32(s + 16, raw);
			nxt_put32(s + 20, l.headers_size);
		}
		nxt_put32(big + l.opt + ODD_OPT_SIZE_OF_IMAGE, 0x1000 + 96 * raw);
		write_file(NULL, file, big, total);
		free(big);
		return 0;
	}
	if (!strcmp(kind, "hugedirs")) {
		/* Every data directory claims 0xffffffff bytes. */
		n = nxt_build_pe(buf, CAP, &(nxt_pe_spec){.pe32plus = 1, .nsections = 2}, &l);
		for (unsigned i = 0; i < 16; i++) {
			nxt_put32(buf + l.opt + 112 + 8 * i, 0x1000);
			nxt_put32(buf + l.opt + 112 + 8 * i + 4, 0xffffffffu);
		}
		write_file(NULL, file, buf, n);
		return 0;
	}
	if (!strcmp(kind, "hugedirs-unread")) {
		/* Huge sizes only in directories nxpatch does not read. */
		n = nxt_build_pe(buf, CAP, &(nxt_pe_spec){.pe32plus = 1, .nsections = 2}, &l);
		static const unsigned unread[] = {2, 6, 7, 8, 11, 12, 13, 14, 15};
		for (unsigned k = 0; k < sizeof(unread) / sizeof(unread[0]); k++) {
			nxt_put32(buf + l.opt + 112 + 8 * unread[k], 0x1000);
			nxt_put32(buf + l.opt + 112 + 8 * unread[k] + 4, 0xfffffff0u);
		}
		write_file(NULL, file, buf, n);
		return 0;
	}
	if (!strcmp(kind, "certs10000")) {
		/* A certificate table of 10000 minimal entries. */
		n = nxt_build_pe(buf, CAP, &(nxt_pe_spec){.pe32plus = 1, .nsections = 1}, &l);
		size_t table = 10000 * 16;
		if (n + table > CAP)
			return 1;
		for (size_t i = 0; i < 10000; i++)
			put_cert(buf + n + 16 * i, 16, 0x0200, 2);
		nxt_put32(buf + l.opt + 112 + 32, (uint32_t)n);
		nxt_put32(buf + l.opt + 112 + 36, (uint32_t)table);
		write_file(NULL, file, buf, n + table);
		return 0;
	}
	if (!strcmp(kind, "header")) {
		/* A valid small image: grow it with truncate -s for a sparse file. */
		n = nxt_build_pe(buf, CAP, &(nxt_pe_spec){.pe32plus = 1, .nsections = 2}, &l);
		write_file(NULL, file, buf, n);
		return 0;
	}
	fprintf(stderr, "nxp_gen_images: unknown amplifier '%s' (sections65535, overlap, hugedirs, "
	                "hugedirs-unread, certs10000, header)\n", kind);
	return 2;
}

int main(int argc, char **argv)
{
	uint8_t *buf = malloc(CAP);
	if (!buf)
		return 1;
	int rc = 2;
	if (argc == 3 && !strcmp(argv[1], "odd"))
		rc = gen_odd(argv[2], buf);
	else if (argc == 3 && !strcmp(argv[1], "seeds"))
		rc = gen_seeds(argv[2], buf);
	else if (argc == 3 && !strcmp(argv[1], "cert-seeds"))
		rc = gen_cert_seeds(argv[2], buf);
	else if (argc == 4 && !strcmp(argv[1], "amp"))
		rc = gen_amp(argv[2], argv[3], buf);
	else
		fprintf(stderr, "usage: nxp_gen_images odd|seeds|cert-seeds DIR\n"
		                "       nxp_gen_images amp KIND FILE\n");
	free(buf);
	return rc;
}
