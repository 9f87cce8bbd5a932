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
} nxt_pe_spec;

typedef struct nxt_layout {
	uint32_t e_lfanew, coff, opt, opt_size, section_table, headers_size;
	uint32_t sections_end, cert_offset, file_size;
} nxt_layout;

/* Build into buf (cap bytes); returns the size, or 0 if cap is too small. */
size_t nxt_build_pe(uint8_t *buf, size_t cap, const nxt_pe_spec *spec, nxt_layout *lay);

/* The textbook checksum (fold after every 16-bit add), for comparison. */
uint32_t nxt_ref_checksum(const uint8_t *buf, size_t len, size_t checksum_offset);

void nxt_put16(uint8_t *p, uint16_t v);
void nxt_put32(uint8_t *p, uint32_t v);

#endif
