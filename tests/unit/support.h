/* SPDX-License-Identifier: Apache-2.0 */
/* Test support: a generator of small, valid PE images that tests then
 * mutate. Nothing binary is committed: images are built in the test. */
#ifndef NXT_SUPPORT_H
#define NXT_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

typedef struct nxt_pe_spec {
	int pe32plus;             /* PE32+ (amd64) or PE32 (i386) */
	unsigned nsections;       /* 0..96; section 0 is .text, the others .data */
	uint32_t ndirs;           /* NumberOfRvaAndSizes (default 16 when 0 and !ndirs_set) */
	int ndirs_set;            /* use ndirs as given, even 0 */
	uint16_t dll_characteristics;
	uint32_t cert_size;       /* > 8: append one WIN_CERTIFICATE of this length */
	uint32_t overlay;         /* bytes of overlay before the certificate table */
	int with_imports;         /* an import directory naming KERNEL32.dll, ATL71.DLL */
	uint32_t section_size;    /* 0: 0x100 virtual / 0x200 raw each; else both this
	                             (a multiple of 0x200), 0x1000-aligned apart */
	uint32_t section_flags[4]; /* non-zero: characteristics of sections 0..3 */
	/* Optional, 0/NULL: the default in parentheses. */
	const char *section_names[4]; /* names of sections 0..3 (.text, then .data) */
	uint32_t virtual_size;    /* VirtualSize of each section (section_size, or 0x100) */
	uint16_t characteristics; /* COFF Characteristics (0x0022) */
	uint32_t size_of_code;    /* SizeOfCode (0x200 with sections) */
	uint64_t image_base;      /* ImageBase (0x140000000 PE32+, 0x400000 PE32) */
	uint64_t stack_reserve, stack_commit, heap_reserve, heap_commit; /* (0) */
	int checksum_set;         /* CheckSum = checksum, stale on purpose (the computed one) */
	uint32_t checksum;
	struct { uint32_t rva, size; } dirs[16]; /* data directory entries set as given
	                             (after the imports and certificate entries) */
} nxt_pe_spec;

typedef struct nxt_layout {
	uint32_t e_lfanew, coff, opt, opt_size, section_table, headers_size;
	uint32_t sections_end, cert_offset, file_size;
	uint32_t dirs;            /* file offset of data directory 0 */
	uint32_t raw_stride, va_stride; /* section i: file offset headers_size +
	                             raw_stride * i, rva va_stride * (i + 1) */
} nxt_layout;

/* Build into buf (cap bytes); returns the size, or 0 if cap is too small
 * (lay, when given, is filled either way: lay->file_size is the size). */
size_t nxt_build_pe(uint8_t *buf, size_t cap, const nxt_pe_spec *spec, nxt_layout *lay);

/* nxt_build_pe into a malloc'd buffer (NULL when out of memory); *len gets
 * the size. */
uint8_t *nxt_build_pe_alloc(const nxt_pe_spec *spec, size_t *len);

/* The textbook checksum (fold after every 16-bit add), for comparison. */
uint32_t nxt_ref_checksum(const uint8_t *buf, size_t len, size_t checksum_offset);

void nxt_put16(uint8_t *p, uint16_t v);
void nxt_put32(uint8_t *p, uint32_t v);
void nxt_put64(uint8_t *p, uint64_t v);

/* In an image nxt_build_pe wrote into buf with layout l: section i's file
 * data and RVA, and setting data directory entry idx. */
uint8_t *nxt_sec(uint8_t *buf, const nxt_layout *l, unsigned i);
uint32_t nxt_sec_rva(const nxt_layout *l, unsigned i);
void nxt_set_dir(uint8_t *buf, const nxt_layout *l, unsigned idx, uint32_t rva, uint32_t size);

/* A suite's private scratch directory: nxt_scratch_make fills dir
 * (NXT_SCRATCH_MAX bytes) with a new /tmp/NAME-XXXXXX, nxt_scratch_remove
 * removes it with everything in it, nxt_scratch_path gives dir/name (in one
 * of 8 rotating buffers). Each aborts the test on failure. */
#define NXT_SCRATCH_MAX 64
void nxt_scratch_make(char *dir, const char *name);
void nxt_scratch_remove(const char *dir);
const char *nxt_scratch_path(const char *dir, const char *name);

#endif
