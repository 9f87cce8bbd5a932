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
} nxt_pe_spec;

typedef struct nxt_layout {
	uint32_t e_lfanew, coff, opt, opt_size, section_table, headers_size;
	uint32_t sections_end, cert_offset, file_size;
	uint32_t dirs;            /* file offset of data directory 0 */
	uint32_t raw_stride, va_stride; /* section i: file offset headers_size +
	                             raw_stride * i, rva va_stride * (i + 1) */
} nxt_layout;

/* Build into buf (cap bytes); returns the size, or 0 if cap is too small. */
size_t nxt_build_pe(uint8_t *buf, size_t cap, const nxt_pe_spec *spec, nxt_layout *lay);

/* The second shape (the cross-check tests'): nsec sections named .text,
 * .rdata, .data, .reloc in turn, raw bytes each at FileAlignment 0x200 and
 * SectionAlignment 0x1000, NumberOfRvaAndSizes ndirs with the debug (6) and
 * IAT (12) entries set, CheckSum 0x12345 (stale on purpose), DYNAMIC_BASE and
 * NX_COMPAT. malloc'd (NULL when out of memory); *len gets the size. */
uint8_t *nxt_synth_pe(int pe32plus, uint32_t ndirs, unsigned nsec, uint32_t raw, size_t *len);

/* The textbook checksum (fold after every 16-bit add), for comparison. */
uint32_t nxt_ref_checksum(const uint8_t *buf, size_t len, size_t checksum_offset);

void nxt_put16(uint8_t *p, uint16_t v);
void nxt_put32(uint8_t *p, uint32_t v);

#endif
