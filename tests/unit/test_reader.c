/* SPDX-License-Identifier: Apache-2.0 */
/* long-file: one test per header field and malformation the reader names. */
/* The strict PE reader on generated images: valid ones, every malformed
 * structure with its specific error, truncation at every length, and random
 * mutations (which must never crash, under ASan/UBSan too). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/pe.h"
#include "pe/internal.h"
#include "util/cpu.h"
#include "util/bytes.h"
#include "support.h"

#define CAP (1 << 20)
static uint8_t buf[CAP];

static size_t build(const nxt_pe_spec *spec, nxt_layout *lay)
{
	size_t n = nxt_build_pe(buf, CAP, spec, lay);
	cr_assert(n > 0);
	return n;
}

static int parse(size_t len, nxp_image *img, nxp_error *err)
{
	return nxp_pe_parse(img, buf, len, err);
}

#define EXPECT_ERR(len, want_, text)                                                 \
	do {                                                                        \
		static nxp_image img_;                                              \
		nxp_error err_ = {0};                                               \
		int rc_ = parse((len), &img_, &err_);                               \
		cr_assert_eq(rc_, (want_), "expected %s, got %s: %s", nxp_code_name(want_), \
		             nxp_code_name(rc_), err_.msg);                         \
		cr_assert_eq(err_.code, (want_));                                    \
		cr_assert(strstr(err_.msg, (text)), "message '%s' lacks '%s'", err_.msg, \
		          (text));                                                  \
	} while (0)

static nxp_image img;

Test(reader, valid_pe32plus)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 3, .dll_characteristics = 0x160};
	size_t n = build(&spec, &l);
	nxp_error err = {0};
	cr_assert_eq(parse(n, &img, &err), NXP_OK, "%s", err.msg);
	cr_assert(img.pe32plus);
	cr_assert_eq(img.machine, NXP_MACHINE_AMD64);
	cr_assert_eq(img.nsections, 3);
	cr_assert_eq(img.pe_offset, l.e_lfanew);
	cr_assert_eq(img.checksum_offset, l.e_lfanew + 88);
	cr_assert_eq(img.dll_characteristics_offset, l.e_lfanew + 94);
	cr_assert_eq(img.cert_dir_offset, l.e_lfanew + 152 + 16);
	cr_assert_eq(img.sections[2].characteristics_offset, l.section_table + 2 * 40 + 36);
	cr_assert_eq(img.dll_characteristics, 0x160);
	cr_assert_eq(img.entry_section, 0);
	cr_assert_eq(img.image_base, 0x140000000ull);
	cr_assert_eq(img.ndirs_used, 16);
	cr_assert_eq(img.overlay_size, 0);
	cr_assert_eq(img.checksum, nxp_pe_checksum(buf, n, img.checksum_offset));
	cr_assert_str_eq(img.sections[0].name, ".text");
	cr_assert_eq(nxp_pe_kind(&img), NXP_KIND_EXE);
}

Test(reader, valid_pe32_fields_and_offsets)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 0, .nsections = 2, .with_imports = 1};
	size_t n = build(&spec, &l);
	nxp_error err = {0};
	cr_assert_eq(parse(n, &img, &err), NXP_OK, "%s", err.msg);
	cr_assert(!img.pe32plus);
	cr_assert_eq(img.machine, NXP_MACHINE_I386);
	cr_assert_eq(img.cert_dir_offset, l.e_lfanew + 152);
	cr_assert_eq(img.image_base, 0x400000);
	cr_assert_eq(img.nimports, 2);
	cr_assert_eq(img.imports[1].name_len, 9);
	cr_assert(!memcmp(buf + img.imports[1].name_offset, "ATL71.DLL", 9));
}

Test(reader, certificate_table_and_overlay)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .cert_size = 0x123, .overlay = 100};
	size_t n = build(&spec, &l);
	nxp_error err = {0};
	cr_assert_eq(parse(n, &img, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(img.ncerts, 1);
	cr_assert_eq(img.certs[0].offset, l.cert_offset);
	cr_assert_eq(img.certs[0].length, 0x123);
	cr_assert_eq(img.certs[0].revision, 0x200);
	cr_assert_eq(img.certs[0].type, 2);
	cr_assert_eq(img.cert_offset, l.cert_offset);
	cr_assert_eq(img.overlay_offset, l.sections_end);
	/* 100 bytes of overlay, padded to 8 before the table. */
	cr_assert_eq(img.overlay_size, 104);
}

Test(reader, two_certificate_entries)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1, .cert_size = 0x40};
	size_t n = build(&spec, &l);
	/* Append a second entry and grow the directory. */
	uint8_t *w = buf + n;
	memset(w, 0, 0x30);
	nxt_put32(w, 0x2c);
	nxt_put16(w + 4, 0x200);
	nxt_put16(w + 6, 2);
	n += 0x30;
	nxt_put32(buf + l.opt + 112 + 36, 0x40 + 0x30);
	nxp_error err = {0};
	cr_assert_eq(parse(n, &img, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(img.ncerts, 2);
	cr_assert_eq(img.certs[1].offset, l.cert_offset + 0x40);
	cr_assert_eq(img.certs[1].length, 0x2c);
}

Test(reader, too_small_and_bad_magic)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1};
	size_t n = build(&spec, NULL);
	EXPECT_ERR(0, NXP_E_NOT_PE, "too small for a DOS header");
	EXPECT_ERR(63, NXP_E_NOT_PE, "(63 < 64 bytes)");
	buf[0] = 'Z';
	EXPECT_ERR(n, NXP_E_NOT_PE, "no MZ signature");
}

Test(reader, e_lfanew_out_of_range)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1};
	size_t n = build(&spec, NULL);
	nxt_put32(buf + 0x3c, 0xfffffff0u);
	EXPECT_ERR(n, NXP_E_LFANEW, "e_lfanew 0xfffffff0 points past end of file");
	nxt_put32(buf + 0x3c, (uint32_t)n - 2);
	EXPECT_ERR(n, NXP_E_LFANEW, "points past end of file");
}

Test(reader, bad_pe_signature)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1};
	size_t n = build(&spec, NULL);
	buf[0x81] = 'X';
	EXPECT_ERR(n, NXP_E_PE_SIGNATURE, "no PE signature at e_lfanew 0x80");
}

Test(reader, bad_optional_magic)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1};
	size_t n = build(&spec, &l);
	nxt_put16(buf + l.opt, 0x107);
	EXPECT_ERR(n, NXP_E_OPTHDR_MAGIC, "magic 0x107");
}

Test(reader, number_of_sections_65535)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1};
	size_t n = build(&spec, &l);
	nxt_put16(buf + l.coff + 2, 65535);
	EXPECT_ERR(n, NXP_E_TOO_MANY_SECTIONS, "NumberOfSections 65535 exceeds the limit of 96");
	nxt_put16(buf + l.coff + 2, 97);
	EXPECT_ERR(n, NXP_E_TOO_MANY_SECTIONS, "97");
}

Test(reader, ninety_six_sections_accepted)
{
	static uint8_t big[CAP];
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 96};
	size_t n = nxt_build_pe(big, CAP, &spec, NULL);
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(&img, big, n, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(img.nsections, 96);
}

Test(reader, optional_header_too_small)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 0, .nsections = 1};
	size_t n = build(&spec, &l);
	nxt_put16(buf + l.coff + 16, 0x50);
	EXPECT_ERR(n, NXP_E_OPTHDR_SIZE, "SizeOfOptionalHeader 0x50 is too small for a PE32");
	nxt_put16(buf + l.coff + 16, 0);
	EXPECT_ERR(n, NXP_E_OPTHDR_SIZE, "too small");
	/* Large enough for the fixed part, too small for 16 directories. */
	nxt_put16(buf + l.coff + 16, 96 + 8 * 10);
	EXPECT_ERR(n, NXP_E_DATA_DIRS, "16 data directories do not fit");
}

Test(reader, optional_header_too_large)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1};
	size_t n = build(&spec, &l);
	nxt_put16(buf + l.coff + 16, 0xffff);
	EXPECT_ERR(n, NXP_E_OPTHDR_SIZE, "SizeOfOptionalHeader 0xffff is too large");
	/* Within the cap, but it pushes the section table past the file. */
	nxt_put16(buf + l.coff + 16, 0xf00);
	EXPECT_ERR(n, NXP_E_OPTHDR_TRUNCATED, "optional header ends past end of file");
}

Test(reader, number_of_rva_and_sizes_below_5)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1, .ndirs = 4, .ndirs_set = 1};
	size_t n = build(&spec, &l);
	EXPECT_ERR(n, NXP_E_DATA_DIRS, "NumberOfRvaAndSizes 4 is below 5");
	spec.ndirs = 0;
	n = build(&spec, &l);
	EXPECT_ERR(n, NXP_E_DATA_DIRS, "NumberOfRvaAndSizes 0 is below 5");
}

Test(reader, number_of_rva_and_sizes_huge_is_clamped)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1};
	size_t n = build(&spec, &l);
	nxt_put32(buf + l.opt + 108, 0x7fffffff);
	nxp_error err = {0};
	cr_assert_eq(parse(n, &img, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(img.ndirs, 0x7fffffff);
	cr_assert_eq(img.ndirs_used, NXP_MAX_DATA_DIRS);
}

Test(reader, six_directories_like_efi)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .ndirs = 6, .cert_size = 0x20};
	size_t n = build(&spec, NULL);
	nxp_error err = {0};
	cr_assert_eq(parse(n, &img, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(img.ndirs_used, 6);
	cr_assert_eq(img.ncerts, 1);
}

Test(reader, section_table_past_end_of_file)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	build(&spec, &l);
	/* Cut the file inside the section table. */
	EXPECT_ERR(l.section_table + 50, NXP_E_SECTION_TABLE,
	           "section table ends past end of file (0x188 + 0x50 > 0x1ba)");
}

Test(reader, section_data_past_end_of_file)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	size_t n = build(&spec, &l);
	nxt_put32(buf + l.section_table + 40 + 16, 0x10000);
	EXPECT_ERR(n, NXP_E_SECTION_DATA, "section 1 (.data) data ends past end of file");
	/* An offset that would overflow 32 bits when added to the size. */
	nxt_put32(buf + l.section_table + 40 + 16, 0x200);
	nxt_put32(buf + l.section_table + 40 + 20, 0xfffffe00u);
	EXPECT_ERR(n, NXP_E_SECTION_DATA, "(0xfffffe00 + 0x200 > ");
	/* A misaligned offset is read from where the loader reads (rounded
	 * down to 0x200), and that is what must fit. */
	nxt_put32(buf + l.section_table + 40 + 20, 0xfffffff0u);
	EXPECT_ERR(n, NXP_E_SECTION_DATA, "(0xfffffe00 + 0x200 > ");
}

/* The loader never reads the certificate table: an entry that cannot be one
 * (past the end of the file, overlapping section data, half empty) is
 * ignored with a warning and the image counts as unsigned. */
#define EXPECT_UNSIGNED_WARNING(len, text)                                           \
	do {                                                                        \
		static nxp_image img_;                                              \
		nxp_error err_ = {0};                                               \
		int rc_ = parse((len), &img_, &err_);                               \
		cr_assert_eq(rc_, NXP_OK, "%s", err_.msg);                          \
		cr_assert_eq(img_.ncerts, 0);                                       \
		cr_assert_eq(img_.cert_size, 0);                                    \
		cr_assert_eq(img_.nread_warnings, 1);                               \
		cr_assert(strstr(img_.read_warnings[0], (text)), "warning '%s' lacks '%s'", \
		          img_.read_warnings[0], (text));                           \
	} while (0)

Test(reader, certificate_table_past_end_of_file)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1, .cert_size = 0x40};
	size_t n = build(&spec, &l);
	nxt_put32(buf + l.opt + 112 + 36, 0x1000);
	EXPECT_UNSIGNED_WARNING(n, "certificate table entry (offset 0x");
	EXPECT_UNSIGNED_WARNING(n, "size 0x1000) ends past end of file; ignored, as the loader does");
	nxt_put32(buf + l.opt + 112 + 36, 0x40);
	nxt_put32(buf + l.opt + 112 + 32, 0xfffffff8u);
	EXPECT_UNSIGNED_WARNING(n, "(offset 0xfffffff8, size 0x40) ends past end of file");
	nxt_put32(buf + l.opt + 112 + 36, 0);
	EXPECT_UNSIGNED_WARNING(n, "size 0x0) is half empty");
}

Test(reader, certificate_entry_bad_length)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1, .cert_size = 0x40};
	size_t n = build(&spec, &l);
	nxt_put32(buf + l.cert_offset, 0x41);
	EXPECT_ERR(n, NXP_E_CERT_ENTRY, "certificate entry 0 at 0x");
	EXPECT_ERR(n, NXP_E_CERT_ENTRY, "dwLength 0x41 runs past the end of the table (0x40 bytes "
	           "left)");
	nxt_put32(buf + l.cert_offset, 0);
	EXPECT_ERR(n, NXP_E_CERT_ENTRY, "dwLength 0 is shorter than its 8-byte header");
	nxt_put32(buf + l.cert_offset, 4);
	EXPECT_ERR(n, NXP_E_CERT_ENTRY, "dwLength 4 is shorter than its 8-byte header");
	nxt_put32(buf + l.cert_offset, 8);
	EXPECT_ERR(n, NXP_E_CERT_ENTRY, "dwLength 8 holds no certificate after its header");
}

Test(reader, certificate_table_overlapping_sections)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .cert_size = 0x40};
	size_t n = build(&spec, &l);
	nxt_put32(buf + l.opt + 112 + 32, l.headers_size);
	EXPECT_UNSIGNED_WARNING(n, "overlaps section data; ignored");
}

Test(reader, import_name_outside_image)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .with_imports = 1};
	size_t n = build(&spec, &l);
	nxt_put32(buf + l.headers_size + 0x200 + 12, 0x90000);
	EXPECT_ERR(n, NXP_E_DIRECTORY, "import descriptor 0: dll name (rva 0x90000)");
}

Test(reader, directory_outside_sections)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	size_t n = build(&spec, &l);
	nxt_put32(buf + l.opt + 112 + 8 * 9, 0x80000); /* TLS */
	nxt_put32(buf + l.opt + 112 + 8 * 9 + 4, 0x28);
	EXPECT_ERR(n, NXP_E_DIRECTORY, "tls directory (rva 0x80000, size 0x28)");
	nxt_put32(buf + l.opt + 112 + 8 * 9, 0x2000); /* in .data, too long */
	nxt_put32(buf + l.opt + 112 + 8 * 9 + 4, 0x1000);
	EXPECT_ERR(n, NXP_E_DIRECTORY, "tls directory");
}

/* Truncation at every length up to the end of the section data: never a
 * crash, and the error names the structure that the cut falls in. */
Test(reader, truncation_at_every_length)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 3, .cert_size = 0x30};
	size_t n = build(&spec, &l);
	for (size_t len = 0; len < n; len++) {
		nxp_error err = {0};
		int rc = parse(len, &img, &err);
		int want;
		if (len < 64)
			want = NXP_E_NOT_PE;
		else if (len < l.e_lfanew + 4)
			want = NXP_E_LFANEW;
		else if (len < l.opt)
			want = NXP_E_COFF_TRUNCATED;
		else if (len < l.section_table)
			want = NXP_E_OPTHDR_TRUNCATED;
		else if (len < l.section_table + 3 * 40)
			want = NXP_E_SECTION_TABLE;
		else if (len < l.sections_end)
			want = NXP_E_SECTION_DATA;
		else
			want = NXP_OK; /* the cut certificate table is ignored, with a warning */
		cr_assert_eq(rc, want, "len %zu: expected %s, got %s (%s)", len, nxp_code_name(want),
		             nxp_code_name(rc), err.msg);
		if (want == NXP_OK)
			cr_assert(img.ncerts == 0 && img.nread_warnings == 1 &&
			          strstr(img.read_warnings[0], "ends past end of file"), "len %zu", len);
	}
}

Test(reader, rva_to_offset_bounds)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	size_t n = build(&spec, &l);
	nxp_error err = {0};
	cr_assert_eq(parse(n, &img, &err), NXP_OK);
	uint32_t off;
	cr_assert(nxp_pe_rva_to_offset(&img, 0x1000, 0x100, &off));
	cr_assert_eq(off, l.headers_size);
	cr_assert(nxp_pe_rva_to_offset(&img, 0x10ff, 1, &off));
	cr_assert(!nxp_pe_rva_to_offset(&img, 0x10ff, 2, &off)); /* past VirtualSize */
	cr_assert(!nxp_pe_rva_to_offset(&img, 0xfffffffffull, 1, &off));
	cr_assert(!nxp_pe_rva_to_offset(&img, 0x1000, 0xffffffffu, &off));
	cr_assert(nxp_pe_rva_to_offset(&img, 0, 64, &off)); /* headers */
	cr_assert_eq(off, 0);
	cr_assert_eq(nxp_pe_section_of_rva(&img, 0x2050), 1);
	cr_assert_eq(nxp_pe_section_of_rva(&img, 0x5000), -1);
}

Test(checksum, matches_reference_on_random_buffers)
{
	static uint8_t r[70001];
	srand(1234);
	for (size_t i = 0; i < sizeof(r); i++)
		r[i] = (uint8_t)rand();
	size_t lens[] = {0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 4097, 70000, 70001};
	size_t offs[] = {0, 1, 2, 7, 30, 64 + 88, 65 + 88, 1000, SIZE_MAX};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (size_t j = 0; j < sizeof(offs) / sizeof(offs[0]); j++) {
			size_t off = offs[j];
			if (off != SIZE_MAX && (off >= lens[i] || lens[i] - off < 4))
				continue;
			uint32_t want = nxt_ref_checksum(r, lens[i], off);
			uint32_t got = nxp_pe_checksum(r, lens[i], off);
			cr_assert_eq(got, want, "len %zu off %zu: 0x%x != 0x%x", lens[i], off, got,
			             want);
		}
}

Test(checksum, all_ones_and_zeros)
{
	static uint8_t r[4096];
	memset(r, 0xff, sizeof(r));
	cr_assert_eq(nxp_pe_checksum(r, sizeof(r), SIZE_MAX),
	             nxt_ref_checksum(r, sizeof(r), SIZE_MAX));
	memset(r, 0, sizeof(r));
	cr_assert_eq(nxp_pe_checksum(r, sizeof(r), 8), sizeof(r));
}

/* nxpi_pe_sum16 and each implementation behind it against the textbook
 * loop: fold after every 16-bit add (in 64 bits, so a starting sum near
 * 2^32 cannot wrap). */
static uint32_t ref_sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	uint64_t r = sum;
	for (size_t i = 0; i < len; i += 2) {
		r += (uint32_t)p[i] | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		r = (r & 0xffff) + (r >> 16);
	}
	while (r >> 16)
		r = (r & 0xffff) + (r >> 16);
	return (uint32_t)r;
}

typedef uint32_t (*sum16_fn)(const uint8_t *, size_t, uint32_t);

#define SUM16_BIG ((3u << 20) + 256)
static uint8_t sbuf[SUM16_BIG];

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		p[i] = (uint8_t)(seed >> 24);
	}
}

static void check_sum16(const char *name, sum16_fn fn, const uint8_t *p, size_t len, uint32_t sum)
{
	uint32_t want = ref_sum16(p, len, sum), got = fn(p, len, sum);
	cr_assert_eq(got, want, "%s: offset %zu len %zu sum 0x%x: 0x%x != 0x%x", name,
	             (size_t)(p - sbuf), len, sum, got, want);
}

/* Every length 0..300 at 64 alignments, lengths around the vector round
 * (128 bytes) and the widening interval (1 MiB), with starting sums that
 * are zero, folded, unfolded and near 2^32; random bytes and all-ones
 * bytes (the largest words, so the widest accumulators). */
static void check_sum16_impl(const char *name, sum16_fn fn)
{
	static const uint32_t sums[] = {0, 1, 0xfffe, 0xffff, 0x10000, 0x12345678, 0xffffffffu};
	static const size_t big[] = {511, 512, 513, 1000, 4097, 65536 + 129, (1u << 20) - 1,
	                             1u << 20, (1u << 20) + 128, (1u << 20) + 255,
	                             (2u << 20) + 3, (3u << 20) + 77};
	for (int ones = 0; ones < 2; ones++) {
		if (ones)
			memset(sbuf, 0xff, sizeof(sbuf));
		else
			fill_random(sbuf, sizeof(sbuf), 0x9e3779b97f4a7c15u);
		for (size_t off = 0; off < 64; off++)
			for (size_t len = 0; len <= 300; len++)
				for (size_t k = 0; k < NXP_ARRAY_LEN(sums); k++)
					check_sum16(name, fn, sbuf + off, len, sums[k]);
		for (size_t j = 0; j < NXP_ARRAY_LEN(big); j++) {
			check_sum16(name, fn, sbuf, big[j], 0);
			check_sum16(name, fn, sbuf + 1, big[j], 0xffffffffu);
			check_sum16(name, fn, sbuf + 34, big[j], 0x1ffff);
		}
	}
	/* All zeros: the sum stays 0 (not 0xffff), whatever the length. */
	memset(sbuf, 0, sizeof(sbuf));
	cr_assert_eq(fn(sbuf, SUM16_BIG - 7, 0), 0);
	check_sum16(name, fn, sbuf + 3, SUM16_BIG - 7, 0xffff);
}

Test(checksum, sum16_dispatched_matches_reference)
{
	check_sum16_impl("nxpi_pe_sum16", nxpi_pe_sum16);
}

/* The portable path, which every CPU without AVX2 (and every non-x86
 * build) takes. */
Test(checksum, sum16_portable_matches_reference)
{
	check_sum16_impl("portable", nxpi_pe_sum16_portable);
}

Test(checksum, sum16_avx2_matches_reference)
{
	if (!nxpi_cpu_avx2())
		cr_skip_test("no AVX2 in this build or on this CPU");
	check_sum16_impl("avx2", nxpi_pe_sum16_avx2);
}

/* Random mutations of the headers: the reader returns OK or a code, never
 * crashes or reads out of bounds (ASan/UBSan make that visible). */
Test(reader, random_header_mutations_never_crash)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 3, .cert_size = 0x30, .with_imports = 1};
	size_t n = build(&spec, &l);
	static uint8_t orig[CAP];
	memcpy(orig, buf, n);
	srand(42);
	int ok = 0, bad = 0;
	for (int iter = 0; iter < 20000; iter++) {
		memcpy(buf, orig, n);
		int flips = 1 + rand() % 4;
		for (int k = 0; k < flips; k++) {
			size_t at = (size_t)rand() % (l.headers_size + 0x400);
			buf[at] = (uint8_t)rand();
		}
		nxp_error err = {0};
		int rc = parse(n, &img, &err);
		if (rc == NXP_OK)
			ok++;
		else {
			bad++;
			cr_assert(err.msg[0], "error %s without a message", nxp_code_name(rc));
		}
	}
	cr_assert(ok > 0 && bad > 0);
}

/* Loader leniency (issue 13 item 7): read what the Windows loader reads,
 * warn, and stay strict where a patch would be unsafe. */
Test(reader, misaligned_raw_offset_is_read_like_the_loader)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	size_t n = build(&spec, &l);
	uint32_t off = nxpi_le32(buf + l.section_table + 40 + 20);
	nxt_put32(buf + l.section_table + 40 + 20, off + 1);
	nxp_error err = {0};
	cr_assert_eq(parse(n, &img, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(img.sections[1].raw_offset, off + 1);
	cr_assert_eq(img.sections[1].raw_start, off);
	cr_assert_eq(img.nread_warnings, 1);
	cr_assert(strstr(img.read_warnings[0], "is not a multiple of 0x200; read from 0x"), "%s",
	          img.read_warnings[0]);
	uint32_t o;
	cr_assert(nxp_pe_rva_to_offset(&img, img.sections[1].virtual_address, 4, &o));
	cr_assert_eq(o, off);
}

Test(reader, ignored_directories_pointing_nowhere)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 0, .nsections = 2};
	size_t n = build(&spec, &l);
	/* PE32 (i386): exception and base relocation entries that point nowhere. */
	nxt_put32(buf + l.opt + 96 + 8 * 3, 0xad3876ffu);
	nxt_put32(buf + l.opt + 96 + 8 * 3 + 4, 0xbe3e8b50u);
	nxt_put32(buf + l.opt + 96 + 8 * 5, 0x476ffa5u);
	nxt_put32(buf + l.opt + 96 + 8 * 5 + 4, 0x908);
	nxp_error err = {0};
	cr_assert_eq(parse(n, &img, &err), NXP_OK, "%s", err.msg);
	cr_assert_not(img.exception.present);
	cr_assert_not(img.has_relocs);
	cr_assert_eq(img.nread_warnings, 2);
	cr_assert(strstr(img.read_warnings[1], "counts as having no relocations"), "%s",
	          img.read_warnings[1]);
	/* On amd64 the exception directory is read (unwinding): strict. */
	spec.pe32plus = 1;
	n = build(&spec, &l);
	nxt_put32(buf + l.opt + 112 + 8 * 3, 0x90000);
	nxt_put32(buf + l.opt + 112 + 8 * 3 + 4, 0x30);
	EXPECT_ERR(n, NXP_E_DIRECTORY, "exception directory (rva 0x90000, size 0x30) is not inside");
}

Test(reader, directory_in_zero_filled_tail_reads_as_zeros)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	size_t n = build(&spec, &l);
	/* .data: virtual size 0x800 over 0x200 bytes of file data; TLS at 0x400
	 * into it lies in the zero fill. */
	nxt_put32(buf + l.section_table + 40 + 8, 0x800);
	uint32_t va = nxpi_le32(buf + l.section_table + 40 + 12);
	nxt_put32(buf + l.opt + 112 + 8 * 9, va + 0x400);
	nxt_put32(buf + l.opt + 112 + 8 * 9 + 4, 0x28);
	nxp_error err = {0};
	cr_assert_eq(parse(n, &img, &err), NXP_OK, "%s", err.msg);
	cr_assert_not(img.tls.present);
	cr_assert(strstr(img.read_warnings[0], "lies in the zero-filled part of section .data"), "%s",
	          img.read_warnings[0]);
	/* Straddling the end of the file data: clamped to the file-backed part. */
	nxt_put32(buf + l.opt + 112 + 8 * 9, va + 0x1f0);
	cr_assert_eq(parse(n, &img, &err), NXP_OK, "%s", err.msg);
	cr_assert(img.tls.present);
	cr_assert_eq(img.tls.size, 0x10);
	/* Past the virtual size: nothing maps it, strict as before. */
	nxt_put32(buf + l.opt + 112 + 8 * 9, va + 0x900);
	EXPECT_ERR(n, NXP_E_DIRECTORY, "tls directory");
}
