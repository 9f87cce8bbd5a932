/* SPDX-License-Identifier: Apache-2.0 */
/* LIEF as the second reader: the field-by-field cross-check against the
 * reader, and LIEF failing on bad input without hurting the caller.
 *
 * Images are synthesized (build_pe in lief_support.h, with support.h's
 * builder: a PE32+ and a PE32 with 6 data directories), so the tests need
 * no toolchain; the mingw runtime DLLs are used when installed
 * (tests/e2e/crosscheck_mingw.sh covers all of them).
 * The worker's limits and lifecycle are test_lief_lifecycle.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/file.h"
#include "nxpatch/pe.h"
#include "unit/lief_support.h"
#include "util/bytes.h"

/* Write, parse with the reader, read with LIEF, cross-check. */
static void check_agrees(const synth *s, const char *name, nxp_image *img, nxp_lief_view *v)
{
	const char *path = tmp_path(name);
	write_file(path, s->buf, s->len);
	nxp_error err = { 0 };
	cr_assert_eq(nxp_pe_parse(img, s->buf, s->len, &err), NXP_OK, "reader: %s", err.msg);
	cr_assert_eq(nxp_lief_read(path, v, NULL, &err), NXP_OK, "lief: %s", err.msg);
	nxp_mismatch mm[8];
	size_t n = 99;
	int rc = nxp_crosscheck(img, v, mm, 8, &n);
	for (size_t i = 0; i < n && i < 8; i++)
		cr_log_error("%s: reader %s lief %s", mm[i].field, mm[i].reader, mm[i].lief);
	cr_assert_eq(rc, NXP_OK);
	cr_assert_eq(n, 0);
	assert_no_children();
}

TestSuite(crosscheck, .init = make_tmpdir, .fini = remove_tmpdir, .timeout = 120);

/* -------------------------------------------------------- agreement -- */

Test(crosscheck, lief_agrees_with_reader_pe32plus)
{
	synth s = build_pe(1, 16, 3, 0x400);
	static nxp_image img;
	nxp_lief_view v;
	check_agrees(&s, "a.dll", &img, &v);
	/* And LIEF really read the fields (not a zeroed record on both sides). */
	cr_assert_eq(v.machine, NXP_MACHINE_AMD64);
	cr_assert_eq(v.magic, 0x20b);
	cr_assert_eq(v.pe_offset, 0x80);
	cr_assert_eq(v.nsections_seen, 3);
	cr_assert_eq(v.image_base, 0x280000000ull);
	cr_assert_eq(v.checksum, 0x12345);
	cr_assert_eq(v.dll_characteristics, NXP_DLL_DYNAMIC_BASE | NXP_DLL_NX_COMPAT);
	cr_assert_eq(v.ndirs, 16);
	cr_assert_eq(v.ndirs_seen, NXP_LIEF_NDIRS);
	cr_assert_eq(v.dirs[12].rva, 0x2000);
	cr_assert_str_eq(v.sections[1].name, ".rdata");
	cr_assert_eq(v.sections[2].characteristics, 0xc0000040);
	cr_assert_eq(v.sections[2].raw_offset, img.sections[2].raw_offset);
	free(s.buf);
}

Test(crosscheck, lief_agrees_with_reader_pe32_six_dirs)
{
	/* NumberOfRvaAndSizes 6 (as on some EFI images): LIEF still lists 15
	 * directories; only the 6 declared ones are compared. */
	synth s = build_pe(0, 6, 4, 0x200);
	static nxp_image img;
	nxp_lief_view v;
	check_agrees(&s, "b.dll", &img, &v);
	cr_assert_eq(v.machine, NXP_MACHINE_I386);
	cr_assert_eq(v.magic, 0x10b);
	cr_assert_eq(v.ndirs, 6);
	cr_assert_eq(v.ndirs_seen, NXP_LIEF_NDIRS);
	cr_assert_eq(v.image_base, 0x10000000u);
	cr_assert_eq(v.stack_reserve, 0x200000);
	cr_assert_str_eq(v.sections[3].name, ".reloc");
	free(s.buf);
}

/* The shared test generator's images: sections up to 96, certificate
 * tables, overlay, imports. */
Test(crosscheck, lief_agrees_on_generated_variants)
{
	static const nxt_pe_spec specs[] = {
		{ .pe32plus = 1, .nsections = 3 },
		{ .pe32plus = 0, .nsections = 3 },
		{ .pe32plus = 1, .nsections = 96 },
		{ .pe32plus = 1, .nsections = 2, .with_imports = 1, .cert_size = 0x100 },
		{ .pe32plus = 0, .nsections = 2, .overlay = 0x300, .cert_size = 0x40 },
		{ .pe32plus = 0, .nsections = 1, .ndirs = 5, .ndirs_set = 1 },
		{ .pe32plus = 1, .nsections = 1, .ndirs = 0x20, .ndirs_set = 1 },
	};
	static uint8_t buf[1 << 20];
	static nxp_image img;
	unsigned checked = 0;
	for (size_t i = 0; i < NXP_ARRAY_LEN(specs); i++) {
		nxt_layout lay;
		size_t len = nxt_build_pe(buf, sizeof(buf), &specs[i], &lay);
		cr_assert_gt(len, 0);
		nxp_error err = { 0 };
		int rc = nxp_pe_parse(&img, buf, len, &err);
		if (rc != NXP_OK) {
			/* e.g. the reader may refuse NumberOfRvaAndSizes 0x20 */
			cr_log_info("spec %zu: reader refuses (%s)", i, err.msg);
			continue;
		}
		char name[32];
		snprintf(name, sizeof(name), "gen%zu.dll", i);
		write_file(tmp_path(name), buf, len);
		nxp_mismatch mm[4];
		size_t n = 99;
		rc = nxp_crosscheck_file(tmp_path(name), &img, mm, 4, &n, &err);
		cr_assert_eq(rc, NXP_OK, "spec %zu: %s", i, err.msg);
		cr_assert_eq(n, 0);
		checked++;
	}
	cr_assert_geq(checked, 5, "only %u of the generated images were compared", checked);
	assert_no_children();
}

/* A mingw runtime DLL, when installed (CI installs mingw-w64). */
Test(crosscheck, lief_agrees_on_mingw_dll)
{
	static const char *const candidates[] = {
		"/usr/lib/gcc/x86_64-w64-mingw32/12-posix/libgomp-1.dll",
		"/usr/lib/gcc/x86_64-w64-mingw32/12-win32/libgomp-1.dll",
		"/usr/lib/gcc/i686-w64-mingw32/12-posix/libgomp-1.dll",
		"/usr/lib/gcc/i686-w64-mingw32/12-win32/libgomp-1.dll",
	};
	int done = 0;
	for (size_t i = 0; i < NXP_ARRAY_LEN(candidates); i++) {
		if (access(candidates[i], R_OK) != 0)
			continue;
		nxp_file f;
		nxp_error err = { 0 };
		cr_assert_eq(nxp_file_load(&f, candidates[i], &err), NXP_OK, "%s", err.msg);
		static nxp_image img;
		cr_assert_eq(nxp_pe_parse(&img, f.data, f.len, &err), NXP_OK, "%s", err.msg);
		nxp_mismatch mm[4];
		size_t n = 99;
		int rc = nxp_crosscheck_file(candidates[i], &img, mm, 4, &n, &err);
		cr_assert_eq(rc, NXP_OK, "%s: %s", candidates[i], err.msg);
		cr_assert_eq(n, 0);
		cr_assert_gt(img.nsections, 10); /* long "/4" names are compared too */
		nxp_file_unload(&f);
		done++;
	}
	if (!done)
		cr_skip_test("no mingw libgomp-1.dll (apt-get install gcc-mingw-w64)");
	assert_no_children();
}

/* --------------------------------------------------------- mismatches -- */

Test(crosscheck, mismatches_are_named_with_both_values)
{
	synth s = build_pe(1, 16, 3, 0x400);
	static nxp_image img;
	nxp_lief_view v;
	check_agrees(&s, "c.dll", &img, &v);

	v.checksum = 0;
	v.sections[2].characteristics |= NXP_SCN_MEM_EXECUTE;
	memcpy(v.sections[0].name, ".TEXT", 5);
	v.dirs[6].size = 0x99;
	nxp_mismatch mm[8];
	size_t n = 0;
	cr_assert_eq(nxp_crosscheck(&img, &v, mm, 8, &n), NXP_E_CROSS_CHECK);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(mm[0].field, "optional_header.checksum");
	cr_assert_str_eq(mm[0].reader, "0x12345");
	cr_assert_str_eq(mm[0].lief, "0x0");
	cr_assert_eq(mm[0].reader_value, 0x12345);
	cr_assert_str_eq(mm[1].field, "data_directory[6].size");
	cr_assert_str_eq(mm[1].lief, "0x99");
	cr_assert_str_eq(mm[2].field, "section[0].name");
	cr_assert_str_eq(mm[2].reader, ".text");
	cr_assert_str_eq(mm[2].lief, ".TEXT");
	cr_assert_str_eq(mm[3].field, "section[2].characteristics");
	cr_assert_str_eq(mm[3].reader, "0xc0000040");
	cr_assert_str_eq(mm[3].lief, "0xe0000040");

	/* max bounds what is stored, not what is counted. */
	memset(mm, 0x5a, sizeof(mm));
	cr_assert_eq(nxp_crosscheck(&img, &v, mm, 1, &n), NXP_E_CROSS_CHECK);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(mm[0].field, "optional_header.checksum");
	cr_assert_eq((unsigned char)mm[1].field[0], 0x5a);
	cr_assert_eq(nxp_crosscheck(&img, &v, NULL, 0, &n), NXP_E_CROSS_CHECK);
	cr_assert_eq(n, 4);
	free(s.buf);
}

Test(crosscheck, undeclared_dirs_and_section_count)
{
	synth s = build_pe(0, 6, 2, 0x200);
	static nxp_image img;
	nxp_lief_view v;
	check_agrees(&s, "d.dll", &img, &v);
	size_t n = 0;
	/* A directory past NumberOfRvaAndSizes is not compared... */
	v.dirs[9].rva = 0x1234;
	cr_assert_eq(nxp_crosscheck(&img, &v, NULL, 0, &n), NXP_OK);
	/* ...one inside it is. */
	v.dirs[5].rva = 0x1234;
	nxp_mismatch mm[4];
	cr_assert_eq(nxp_crosscheck(&img, &v, mm, 4, &n), NXP_E_CROSS_CHECK);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(mm[0].field, "data_directory[5].rva");
	v.dirs[5].rva = img.dirs[5].rva;
	/* LIEF listing fewer sections than the header declares. */
	v.nsections_seen = v.nsections_copied = 1;
	cr_assert_eq(nxp_crosscheck(&img, &v, mm, 4, &n), NXP_E_CROSS_CHECK);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(mm[0].field, "sections.count");
	cr_assert_str_eq(mm[0].reader, "0x2");
	cr_assert_str_eq(mm[0].lief, "0x1");
	free(s.buf);
}

Test(crosscheck, crosscheck_file_reports_first_mismatch)
{
	synth s = build_pe(1, 16, 3, 0x400);
	const char *path = tmp_path("e.dll");
	write_file(path, s.buf, s.len);
	static nxp_image img;
	nxp_error err = { 0 };
	cr_assert_eq(nxp_pe_parse(&img, s.buf, s.len, &err), NXP_OK, "%s", err.msg);
	size_t n = 99;
	cr_assert_eq(nxp_crosscheck_file(path, &img, NULL, 0, &n, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(n, 0);

	img.dll_characteristics = 0; /* as if the reader had misread it */
	nxp_mismatch mm[2];
	cr_assert_eq(nxp_crosscheck_file(path, &img, mm, 2, &n, &err), NXP_E_CROSS_CHECK);
	cr_assert_eq(err.code, NXP_E_CROSS_CHECK);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(mm[0].field, "optional_header.dll_characteristics");
	cr_assert_str_eq(err.msg, "lief disagrees with the reader on 1 field, first "
	                          "optional_header.dll_characteristics (reader 0x0, lief 0x140)");

	/* The child failing is NXP_E_LIEF, with no mismatches. */
	cr_assert_eq(nxp_crosscheck_file(tmp_path("missing.dll"), &img, mm, 2, &n, &err),
	             NXP_E_LIEF);
	cr_assert_eq(n, 0);
	assert_no_children();
	free(s.buf);
}

/* ------------------------------------------------ the child failing -- */
Test(crosscheck, missing_file)
{
	expect_lief_error(tmp_path("nope.dll"), NULL, "lief child cannot open");
	expect_lief_error(tmp_path("nope.dll"), NULL, "No such file or directory");
}

Test(crosscheck, empty_file_aborts_cleanly)
{
	write_file(tmp_path("empty"), "", 0);
	expect_lief_error(tmp_path("empty"), NULL, "lief child aborted (signal 6)");
	expect_lief_error(tmp_path("empty"), NULL, "malformed image?");
}

Test(crosscheck, garbage_aborts_cleanly)
{
	uint8_t junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	write_file(tmp_path("junk"), junk, sizeof(junk));
	/* The uncaught exception's type and text are part of the message. */
	expect_lief_error(tmp_path("junk"), NULL, "lief child aborted (signal 6): LIEF::bad_format");
}

Test(crosscheck, truncated_headers_abort_cleanly)
{
	synth s = build_pe(1, 16, 3, 0x400);
	write_file(tmp_path("t100"), s.buf, 100);
	expect_lief_error(tmp_path("t100"), NULL, "lief child aborted (signal 6)");
	/* Cut inside the optional header: LIEF errors or reads what is there;
	 * either way the caller gets a clean answer. */
	write_file(tmp_path("t200"), s.buf, 200);
	nxp_lief_view v;
	nxp_error err = { 0 };
	int rc = nxp_lief_read(tmp_path("t200"), &v, NULL, &err);
	cr_assert(rc == NXP_OK || rc == NXP_E_LIEF, "rc %d", rc);
	assert_no_children();
	free(s.buf);
}

Test(crosscheck, a_directory_is_not_an_image)
{
	expect_lief_error(tmpdir, NULL, "lief child");
}

Test(crosscheck, bad_arguments)
{
	nxp_lief_view v;
	nxp_error err = { 0 };
	cr_assert_eq(nxp_lief_read(NULL, &v, NULL, &err), NXP_E_USAGE);
	cr_assert_eq(nxp_lief_read("", &v, NULL, &err), NXP_E_USAGE);
	cr_assert_eq(nxp_lief_read("/x", NULL, NULL, &err), NXP_E_USAGE);
	size_t n = 5;
	cr_assert_eq(nxp_crosscheck_file("/x", NULL, NULL, 0, &n, &err), NXP_E_USAGE);
	cr_assert_eq(n, 0);
}

/* ---------------------------------------------------------- mutants -- */

/* 200 mutants of a valid image (bytes flipped mostly in the headers, some
 * truncations, some targeted fields): the parent never crashes, every call
 * returns NXP_OK or NXP_E_LIEF with a message, and no child is left. When
 * both the reader and LIEF accept a mutant, they must agree. */
Test(crosscheck, mutants_never_hurt_the_parent, .timeout = 300)
{
	synth s = build_pe(1, 16, 4, 0x400);
	uint8_t *m = malloc(s.len);
	cr_assert_not_null(m);
	const char *path = tmp_path("mut.dll");
	uint32_t rng = 12345;
#define RND() (rng = rng * 1103515245u + 12345u, (rng >> 8))
	int ok = 0, failed = 0, both = 0, abort6 = 0;
	static const uint32_t targets[] = {
		0x3c, 0x80 + 6, 0x80 + 20, 0x80 + 24, 0x80 + 24 + 56, 0x80 + 24 + 60,
		0x80 + 24 + 108, 0x80 + 24 + 112 + 8 * 2, 0x80 + 24 + 240 + 16, 0x80 + 24 + 240 + 20,
	};
	for (int i = 0; i < 200; i++) {
		memcpy(m, s.buf, s.len);
		size_t len = s.len;
		switch (i % 4) {
		case 0: /* flip a byte in the headers */
		case 1: {
			uint32_t at = RND() % 0x200;
			m[at] ^= (uint8_t)(1u << (RND() % 8));
			break;
		}
		case 2: { /* a targeted field gets a random dword */
			uint32_t at = targets[RND() % NXP_ARRAY_LEN(targets)];
			nxpi_put_le32(m + at, RND() * 2654435761u);
			break;
		}
		case 3: /* truncate */
			len = RND() % s.len;
			break;
		}
		write_file(path, m, len);
		nxp_lief_view v;
		nxp_error err = { 0 };
		int rc = nxp_lief_read(path, &v, NULL, &err);
		cr_assert(rc == NXP_OK || rc == NXP_E_LIEF, "mutant %d: rc %d", i, rc);
		if (rc == NXP_OK) {
			ok++;
			static nxp_image img;
			nxp_error e2 = { 0 };
			if (nxp_pe_parse(&img, m, len, &e2) == NXP_OK) {
				nxp_mismatch mm[4];
				size_t n = 0;
				nxp_crosscheck(&img, &v, mm, 4, &n);
				cr_assert_eq(n, 0, "mutant %d: %s reader %s lief %s", i, mm[0].field,
				             mm[0].reader, mm[0].lief);
				both++;
			}
		} else {
			failed++;
			cr_assert_gt(strlen(err.msg), 10);
			cr_assert(strncmp(err.msg, "lief child ", 11) == 0, "%s", err.msg);
			if (strstr(err.msg, "(signal 6)"))
				abort6++;
		}
	}
#undef RND
	cr_log_info("mutants: %d ok (%d also accepted by the reader), %d lief errors (%d aborts)",
	            ok, both, failed, abort6);
	cr_assert_gt(failed, 0, "no mutant made LIEF fail: the test proves nothing");
	cr_assert_gt(both, 0);
	assert_no_children();
	free(m);
	free(s.buf);
}
