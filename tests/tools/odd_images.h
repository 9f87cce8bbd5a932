/* SPDX-License-Identifier: Apache-2.0 */
/* Odd but valid (or specifically refused) PE images, built on the test
 * generator nxt_build_pe (tests/unit/support.c) and patched. Shared by
 * tests/unit/test_odd_images.c and the nxp_gen_images tool (which writes them
 * to files for tests/e2e/odd_images.sh and seeds the fuzz corpus).
 * Header-only: every function is static. */
#ifndef NXT_ODD_IMAGES_H
#define NXT_ODD_IMAGES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "unit/support.h"

/* Offsets inside the optional header (PE32 / PE32+ alike unless noted). */
#define ODD_OPT_ENTRY 16
#define ODD_OPT_SECTION_ALIGN 32
#define ODD_OPT_FILE_ALIGN 36
#define ODD_OPT_SIZE_OF_IMAGE 56
#define ODD_OPT_SIZE_OF_HEADERS 60
#define ODD_OPT_CHECKSUM 64

static uint32_t odd_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void odd_fix_checksum(uint8_t *buf, size_t n, const nxt_layout *l)
{
	nxt_put32(buf + l->opt + ODD_OPT_CHECKSUM, nxt_ref_checksum(buf, n, l->opt + ODD_OPT_CHECKSUM));
}

static uint8_t *odd_section(uint8_t *buf, const nxt_layout *l, unsigned i)
{
	return buf + l->section_table + 40 * i;
}

static size_t odd_build(uint8_t *buf, size_t cap, nxt_pe_spec spec, nxt_layout *l)
{
	return nxt_build_pe(buf, cap, &spec, l);
}

/* No section at all: headers only, no entry point. */
static size_t odd_no_sections(uint8_t *buf, size_t cap)
{
	nxt_layout l;
	return odd_build(buf, cap, (nxt_pe_spec){.pe32plus = 1, .nsections = 0}, &l);
}

static size_t odd_single_section(uint8_t *buf, size_t cap)
{
	nxt_layout l;
	return odd_build(buf, cap, (nxt_pe_spec){.pe32plus = 0, .nsections = 1}, &l);
}

/* The 96-section maximum the Windows loader accepts. */
static size_t odd_max_sections(uint8_t *buf, size_t cap)
{
	nxt_layout l;
	return odd_build(buf, cap, (nxt_pe_spec){.pe32plus = 1, .nsections = 96}, &l);
}

/* One more than the loader's limit: refused with NXP_E_TOO_MANY_SECTIONS. */
static size_t odd_97_sections(uint8_t *buf, size_t cap)
{
	nxt_layout l;
	size_t n = odd_build(buf, cap, (nxt_pe_spec){.pe32plus = 1, .nsections = 97}, &l);
	return n;
}

/* One section at raw offset 0 and RVA 0 that covers the headers and the
 * code: the headers are inside a section. */
static size_t odd_headers_in_section(uint8_t *buf, size_t cap)
{
	nxt_layout l;
	size_t n = odd_build(buf, cap, (nxt_pe_spec){.pe32plus = 1, .nsections = 1}, &l);
	if (!n)
		return 0;
	uint8_t *s = odd_section(buf, &l, 0);
	memcpy(s, ".flat\0\0\0", 8);
	nxt_put32(s + 8, (uint32_t)n);   /* VirtualSize */
	nxt_put32(s + 12, 0);            /* VirtualAddress */
	nxt_put32(s + 16, (uint32_t)n);  /* SizeOfRawData */
	nxt_put32(s + 20, 0);            /* PointerToRawData */
	nxt_put32(buf + l.opt + ODD_OPT_ENTRY, l.headers_size); /* the 0xc3 byte */
	nxt_put32(buf + l.opt + ODD_OPT_SIZE_OF_IMAGE, 0x1000);
	odd_fix_checksum(buf, n, &l);
	return n;
}

/* SectionAlignment == FileAlignment == align (below a page): every
 * section's RVA equals its file offset. align 0x200 or smaller. */
static size_t odd_low_alignment(uint8_t *buf, size_t cap, uint32_t align)
{
	nxt_layout l;
	size_t n = odd_build(buf, cap, (nxt_pe_spec){.pe32plus = 0, .nsections = 3}, &l);
	if (!n)
		return 0;
	nxt_put32(buf + l.opt + ODD_OPT_SECTION_ALIGN, align);
	nxt_put32(buf + l.opt + ODD_OPT_FILE_ALIGN, align);
	for (unsigned i = 0; i < 3; i++) {
		uint8_t *s = odd_section(buf, &l, i);
		nxt_put32(s + 12, odd_get32(s + 20)); /* RVA = raw offset */
		nxt_put32(s + 8, 0x200);
	}
	nxt_put32(buf + l.opt + ODD_OPT_ENTRY, l.headers_size);
	nxt_put32(buf + l.opt + ODD_OPT_SIZE_OF_IMAGE, (uint32_t)n);
	odd_fix_checksum(buf, n, &l);
	return n;
}

static size_t odd_align_200(uint8_t *buf, size_t cap) { return odd_low_alignment(buf, cap, 0x200); }
static size_t odd_align_4(uint8_t *buf, size_t cap) { return odd_low_alignment(buf, cap, 4); }

/* A tiny PE in the 268-byte style: e_lfanew 4, so the PE signature, the
 * COFF header and the optional header overlap the DOS header, and e_lfanew
 * (0x3c) is read from the optional header's SectionAlignment field (4).
 * No sections; the code sits in the headers. ndirs data directories. */
static size_t odd_tiny(uint8_t *buf, size_t cap, uint32_t ndirs)
{
	const uint32_t e = 4, opt = e + 24, osz = 96 + 8 * ndirs;
	size_t n = 268;
	if (opt + osz > n)
		n = opt + osz;
	if (n > cap)
		return 0;
	memset(buf, 0, n);
	buf[0] = 'M';
	buf[1] = 'Z';
	memcpy(buf + e, "PE\0\0", 4);
	nxt_put16(buf + e + 4, 0x14c);            /* i386 */
	nxt_put16(buf + e + 6, 0);                /* no sections */
	nxt_put16(buf + e + 20, (uint16_t)osz);
	nxt_put16(buf + e + 22, 0x0103);          /* relocs stripped, executable, 32-bit */
	uint8_t *o = buf + opt;
	nxt_put16(o, 0x10b);
	nxt_put32(o + ODD_OPT_ENTRY, 0x100);      /* inside the headers */
	nxt_put32(o + 28, 0x400000);              /* ImageBase */
	nxt_put32(o + ODD_OPT_SECTION_ALIGN, 4);  /* == e_lfanew, at 0x3c */
	nxt_put32(o + ODD_OPT_FILE_ALIGN, 4);
	nxt_put16(o + 40, 4);
	nxt_put16(o + 48, 4);
	nxt_put32(o + ODD_OPT_SIZE_OF_IMAGE, 0x200);
	nxt_put32(o + ODD_OPT_SIZE_OF_HEADERS, (uint32_t)n);
	nxt_put16(o + 68, 2);                     /* windows_gui */
	nxt_put32(o + 92, ndirs);
	buf[0x100] = 0xc3;
	if (odd_get32(buf + 0x3c) != e)
		return 0;                         /* the overlap must hold */
	nxt_put32(o + ODD_OPT_CHECKSUM, nxt_ref_checksum(buf, n, opt + ODD_OPT_CHECKSUM));
	return n;
}

/* NumberOfRvaAndSizes 0: refused with NXP_E_DATA_DIRS (no certificate entry). */
static size_t odd_tiny_no_dirs(uint8_t *buf, size_t cap) { return odd_tiny(buf, cap, 0); }
static size_t odd_tiny_5_dirs(uint8_t *buf, size_t cap) { return odd_tiny(buf, cap, 5); }

/* e_lfanew 0x10: the PE headers overlap the DOS header, e_lfanew (0x3c) is
 * the optional header's BaseOfCode field. Otherwise an ordinary image. */
static size_t odd_overlapping_headers(uint8_t *buf, size_t cap)
{
	nxt_layout l;
	size_t n = odd_build(buf, cap, (nxt_pe_spec){.pe32plus = 1, .nsections = 2}, &l);
	if (!n)
		return 0;
	const uint32_t e = 0x10;
	/* Move everything from e_lfanew to the end of the section table down. */
	memmove(buf + e, buf + l.e_lfanew, l.section_table + 40 * 2 - l.e_lfanew);
	memset(buf + e + (l.section_table + 80 - l.e_lfanew), 0, l.e_lfanew - e);
	uint32_t delta = l.e_lfanew - e;
	l.e_lfanew = e;
	l.coff -= delta;
	l.opt -= delta;
	l.section_table -= delta;
	if (odd_get32(buf + 0x3c) != 0 && odd_get32(buf + 0x3c) != e)
		return 0;
	nxt_put32(buf + 0x3c, e);             /* BaseOfCode, read as e_lfanew */
	odd_fix_checksum(buf, n, &l);
	return n;
}

/* Three sections whose raw data is the same file range. */
static size_t odd_shared_raw_data(uint8_t *buf, size_t cap)
{
	nxt_layout l;
	size_t n = odd_build(buf, cap, (nxt_pe_spec){.pe32plus = 1, .nsections = 3}, &l);
	if (!n)
		return 0;
	for (unsigned i = 1; i < 3; i++)
		nxt_put32(odd_section(buf, &l, i) + 20, l.headers_size);
	odd_fix_checksum(buf, n, &l);
	return n;
}

/* A section with no raw data (bss-like) and a gap in the RVA space. */
static size_t odd_bss_and_gap(uint8_t *buf, size_t cap)
{
	nxt_layout l;
	size_t n = odd_build(buf, cap, (nxt_pe_spec){.pe32plus = 0, .nsections = 3, .ndirs = 6}, &l);
	if (!n)
		return 0;
	uint8_t *s = odd_section(buf, &l, 1);
	nxt_put32(s + 8, 0x4000);            /* VirtualSize */
	nxt_put32(s + 16, 0);                /* SizeOfRawData */
	nxt_put32(s + 20, 0);
	nxt_put32(s + 36, 0xc0000080);       /* uninitialized data, rw */
	s = odd_section(buf, &l, 2);
	nxt_put32(s + 12, 0x10000);          /* after a gap */
	nxt_put32(buf + l.opt + ODD_OPT_SIZE_OF_IMAGE, 0x11000);
	odd_fix_checksum(buf, n, &l);
	return n;
}

/* Two WIN_CERTIFICATE entries, as Debian's shim carries. */
static size_t odd_two_certificates(uint8_t *buf, size_t cap)
{
	nxt_layout l;
	size_t n = odd_build(buf, cap,
	                     (nxt_pe_spec){.pe32plus = 1, .nsections = 2, .cert_size = 0x40}, &l);
	if (!n || n + 0x30 > cap)
		return 0;
	uint8_t *w = buf + n;
	memset(w, 0, 0x30);
	nxt_put32(w, 0x2c);                  /* unpadded length; padded to 0x30 */
	nxt_put16(w + 4, 0x0200);
	nxt_put16(w + 6, 0x0002);
	uint32_t dirs = l.opt + 112;
	nxt_put32(buf + dirs + 36, 0x40 + 0x30);
	n += 0x30;
	odd_fix_checksum(buf, n, &l);
	return n;
}

/* A writable and executable code section and code in a data section. */
static size_t odd_wx_and_code_in_data(uint8_t *buf, size_t cap)
{
	nxt_layout l;
	size_t n = odd_build(buf, cap, (nxt_pe_spec){.pe32plus = 0, .nsections = 2}, &l);
	if (!n)
		return 0;
	nxt_put32(odd_section(buf, &l, 0) + 36, 0xe0000020);
	nxt_put32(buf + l.opt + ODD_OPT_ENTRY, 0x2000); /* entry in .data */
	odd_fix_checksum(buf, n, &l);
	return n;
}

/* NumberOfRvaAndSizes far above 16 (only 16 are stored and read). */
static size_t odd_many_rva_and_sizes(uint8_t *buf, size_t cap)
{
	nxt_layout l;
	size_t n = odd_build(buf, cap, (nxt_pe_spec){.pe32plus = 1, .nsections = 1}, &l);
	if (!n)
		return 0;
	nxt_put32(buf + l.opt + 108, 0x7fffffff);
	odd_fix_checksum(buf, n, &l);
	return n;
}

typedef struct nxt_odd {
	const char *name;
	size_t (*build)(uint8_t *buf, size_t cap);
	int expect;             /* NXP_OK (0) or the specific nxp_code it earns */
} nxt_odd;

/* Codes (from nxpatch/error.h) repeated as numbers so this header needs no
 * library header: 0 OK, 24 NXP_E_TOO_MANY_SECTIONS, 28 NXP_E_DATA_DIRS. */
static const nxt_odd nxt_odd_images[] = {
	{"no_sections", odd_no_sections, 0},
	{"single_section", odd_single_section, 0},
	{"max_sections", odd_max_sections, 0},
	{"too_many_sections", odd_97_sections, 24},
	{"headers_in_section", odd_headers_in_section, 0},
	{"align_200", odd_align_200, 0},
	{"align_4", odd_align_4, 0},
	{"tiny_no_dirs", odd_tiny_no_dirs, 28},
	{"tiny_5_dirs", odd_tiny_5_dirs, 0},
	{"overlapping_headers", odd_overlapping_headers, 0},
	{"shared_raw_data", odd_shared_raw_data, 0},
	{"bss_and_gap", odd_bss_and_gap, 0},
	{"two_certificates", odd_two_certificates, 0},
	{"wx_and_code_in_data", odd_wx_and_code_in_data, 0},
	{"many_rva_and_sizes", odd_many_rva_and_sizes, 0},
};
#define NXT_ODD_COUNT (sizeof(nxt_odd_images) / sizeof(nxt_odd_images[0]))

#endif
