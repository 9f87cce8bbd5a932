/* SPDX-License-Identifier: Apache-2.0 */
/* LIEF in a guarded child, and the field-by-field cross-check.
 *
 * Images are synthesized here (a PE32+ and a PE32 with 6 data directories),
 * so the tests need no toolchain; the mingw runtime DLLs are used when
 * installed (tests/e2e/crosscheck_mingw.sh covers all of them). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nxpatch/crosscheck.h"
#include "nxpatch/file.h"
#include "nxpatch/pe.h"
#include "unit/support.h"
#include "util/bytes.h"
#include "verify/internal.h"

/* ------------------------------------------------------------ helpers -- */

static char tmpdir[256];

static void make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/nxp-cc.XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void remove_tmpdir(void)
{
	char cmd[300];
	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static const char *tmp_path(const char *name)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* No child of ours is left, running or zombie, but the live LIEF worker
 * (an ordinary child since it is spawned: waitpid(-1) sees it running). */
static void assert_no_children(void)
{
	pid_t worker = nxpi_lief_worker_pid();
	DIR *d = opendir("/proc");
	cr_assert_not_null(d);
	struct dirent *e;
	int workers = 0;
	while ((e = readdir(d))) {
		char path[300], buf[512];
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *rp = strrchr(buf, ')');
		char state = 0;
		int ppid = 0;
		if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2 || ppid != getpid())
			continue;
		pid_t pid = (pid_t)atoi(e->d_name);
		cr_assert(pid == worker && state != 'Z', "child %d (state %c) is left, worker %d",
		          (int)pid, state, (int)worker);
		workers++;
	}
	closedir(d);
	cr_assert_eq(workers, worker ? 1 : 0, "the worker %d is not our child", (int)worker);
	if (!worker) {
		errno = 0;
		cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child is left");
		cr_assert_eq(errno, ECHILD);
	}
}

static void put_le64(uint8_t *p, uint64_t v)
{
	nxp_put_le32(p, (uint32_t)v);
	nxp_put_le32(p + 4, (uint32_t)(v >> 32));
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A small valid image: DOS header, PE headers, `nsec` sections of
 * `raw` bytes each (FileAlignment 0x200, SectionAlignment 0x1000).
 * pe32plus selects the optional header; ndirs is NumberOfRvaAndSizes. */
typedef struct synth {
	uint8_t *buf;
	size_t len;
} synth;

static synth build_pe(int pe32plus, uint32_t ndirs, unsigned nsec, uint32_t raw)
{
	const uint32_t e = 0x80, falign = 0x200, salign = 0x1000;
	uint32_t osz = (pe32plus ? 112 : 96) + 8 * ndirs;
	uint32_t st = e + 24 + osz;
	uint32_t hdrs = (st + 40 * nsec + falign - 1) & ~(falign - 1);
	size_t len = hdrs + (size_t)nsec * raw;
	uint8_t *b = calloc(1, len);
	cr_assert_not_null(b);

	b[0] = 'M';
	b[1] = 'Z';
	nxp_put_le32(b + 0x3c, e);
	memcpy(b + e, "PE\0\0", 4);
	nxp_put_le16(b + e + 4, pe32plus ? NXP_MACHINE_AMD64 : NXP_MACHINE_I386);
	nxp_put_le16(b + e + 6, (uint16_t)nsec);
	nxp_put_le32(b + e + 8, 0x5f000000);                   /* TimeDateStamp */
	nxp_put_le16(b + e + 20, (uint16_t)osz);
	nxp_put_le16(b + e + 22, NXP_FILE_EXECUTABLE | NXP_FILE_DLL |
	                                 (pe32plus ? 0x0020 : 0x0100));

	uint8_t *o = b + e + 24;
	nxp_put_le16(o, pe32plus ? 0x20b : 0x10b);
	o[2] = 2;
	o[3] = 38;
	nxp_put_le32(o + 4, raw);                              /* SizeOfCode */
	nxp_put_le32(o + 16, salign);                          /* AddressOfEntryPoint */
	nxp_put_le32(o + 20, salign);                          /* BaseOfCode */
	if (pe32plus) {
		nxp_put_le32(o + 24, 0x80000000u);             /* ImageBase (low) */
		nxp_put_le32(o + 28, 0x2);                     /* ImageBase (high) */
	} else {
		nxp_put_le32(o + 24, 2 * salign);              /* BaseOfData */
		nxp_put_le32(o + 28, 0x10000000u);             /* ImageBase */
	}
	nxp_put_le32(o + 32, salign);
	nxp_put_le32(o + 36, falign);
	nxp_put_le16(o + 40, 6);                               /* OS version */
	nxp_put_le16(o + 48, 6);                               /* subsystem version */
	nxp_put_le32(o + 56, salign * (1 + nsec));             /* SizeOfImage */
	nxp_put_le32(o + 60, hdrs);
	nxp_put_le32(o + 64, 0x12345);                         /* CheckSum */
	nxp_put_le16(o + 68, 3);                               /* windows_cui */
	nxp_put_le16(o + 70, NXP_DLL_DYNAMIC_BASE | NXP_DLL_NX_COMPAT);
	if (pe32plus) {
		put_le64(o + 72, 0x200000);
		put_le64(o + 80, 0x1000);
		put_le64(o + 88, 0x100000);
		put_le64(o + 96, 0x1000);
		nxp_put_le32(o + 108, ndirs);
	} else {
		nxp_put_le32(o + 72, 0x200000);
		nxp_put_le32(o + 76, 0x1000);
		nxp_put_le32(o + 80, 0x100000);
		nxp_put_le32(o + 84, 0x1000);
		nxp_put_le32(o + 92, ndirs);
	}
	/* Debug (6) and IAT (12) entries: values the reader does not follow. */
	uint32_t dirs_at = pe32plus ? 112 : 96;
	if (ndirs > 6) {
		nxp_put_le32(o + dirs_at + 8 * 6, 2 * salign + 0x10);
		nxp_put_le32(o + dirs_at + 8 * 6 + 4, 0x1c);
	}
	if (ndirs > 12) {
		nxp_put_le32(o + dirs_at + 8 * 12, 2 * salign);
		nxp_put_le32(o + dirs_at + 8 * 12 + 4, 0x10);
	}

	static const char *const names[] = { ".text", ".rdata", ".data", ".reloc" };
	static const uint32_t chars[] = { 0x60000020, 0x40000040, 0xc0000040, 0x42000040 };
	for (unsigned i = 0; i < nsec; i++) {
		uint8_t *s = b + st + 40 * i;
		memcpy(s, names[i % 4], strlen(names[i % 4]));
		nxp_put_le32(s + 8, raw - 0x10);                       /* VirtualSize */
		nxp_put_le32(s + 12, salign * (1 + i));                /* VirtualAddress */
		nxp_put_le32(s + 16, raw);                             /* SizeOfRawData */
		nxp_put_le32(s + 20, hdrs + i * raw);                  /* PointerToRawData */
		nxp_put_le32(s + 36, chars[i % 4]);
		memset(b + hdrs + i * raw, 0xc3, 16);
	}
	return (synth){ b, len };
}

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

static void expect_lief_error(const char *path, const nxp_lief_limits *lim, const char *needle)
{
	nxp_lief_view v;
	nxp_error err = { 0 };
	int rc = nxp_lief_read(path, &v, lim, &err);
	cr_assert_eq(rc, NXP_E_LIEF, "%s: rc %d (%s)", path, rc, err.msg);
	cr_assert_eq(err.code, NXP_E_LIEF);
	cr_assert(strstr(err.msg, needle), "%s: message '%s' lacks '%s'", path, err.msg, needle);
	assert_no_children();
}

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

/* ---------------------------------------------------------- limits -- */

/* 96 sections that all claim the same 4 MiB of raw data: LIEF copies each
 * section's data, about 384 MiB for a 4 MiB file. Returns the path. */
static const char *write_dup_sections(void)
{
	const uint32_t raw = 4u << 20;
	const uint32_t e = 0x80, st = e + 24 + 240;
	const uint32_t hdrs = 0x200 * ((st + 40 * NXP_MAX_SECTIONS + 0x1ff) / 0x200);
	synth s = build_pe(1, 16, 1, 0x200);
	uint8_t *b = calloc(1, (size_t)hdrs + raw);
	cr_assert_not_null(b);
	memcpy(b, s.buf, st);
	nxp_put_le16(b + e + 6, NXP_MAX_SECTIONS);
	nxp_put_le32(b + e + 24 + 56, 0x1000 + NXP_MAX_SECTIONS * raw); /* SizeOfImage */
	nxp_put_le32(b + e + 24 + 60, hdrs);                            /* SizeOfHeaders */
	for (unsigned i = 0; i < NXP_MAX_SECTIONS; i++) {
		uint8_t *h = b + st + 40 * i;
		memcpy(h, ".dup", 4);
		nxp_put_le32(h + 8, raw);
		nxp_put_le32(h + 12, 0x1000 + i * raw);
		nxp_put_le32(h + 16, raw);
		nxp_put_le32(h + 20, hdrs);
		nxp_put_le32(h + 36, 0x40000040);
	}
	memset(b + hdrs, 0x41, raw);
	write_file(tmp_path("dup.dll"), b, (size_t)hdrs + raw);
	free(b);
	free(s.buf);
	return tmp_path("dup.dll");
}

Test(crosscheck, tiny_memory_budget_is_reported)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", write_dup_sections());
	nxp_lief_limits lim = { .memory = 1 << 20 };
	double t0 = now_s();
	expect_lief_error(path, &lim, "lief child ran out of memory (limit 1 MiB)");
	lim.memory = 64 << 10;
	expect_lief_error(path, &lim, "lief child ran out of memory (limit 64 KiB)");
	cr_assert_lt(now_s() - t0, 5.0);
}

/* The default budget (max(256 MiB, 8 x 4 MiB)) contains the crafted file. */
Test(crosscheck, crafted_overlapping_sections_are_contained)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", write_dup_sections());
	double t0 = now_s();
	expect_lief_error(path, NULL, "lief child ran out of memory (limit 256 MiB)");
	cr_assert_lt(now_s() - t0, 8.0);

	/* With a budget that fits, LIEF reads it (a small image under the
	 * default budget is covered by every agreement test). */
	nxp_lief_limits lim = { .memory = (uint64_t)2 << 30, .timeout_ms = 60000 };
	nxp_lief_view v;
	nxp_error err = { 0 };
	int rc = nxp_lief_read(path, &v, &lim, &err);
	cr_assert_eq(rc, NXP_OK, "%s", err.msg);
	cr_assert_eq(v.nsections_seen, NXP_MAX_SECTIONS);
	cr_assert_eq(v.sections[95].raw_size, 4u << 20);
	assert_no_children();
}

Test(crosscheck, timeout_kills_and_reaps_the_child)
{
	synth s = build_pe(1, 16, 3, 0x400);
	write_file(tmp_path("slow.dll"), s.buf, s.len);
	nxp_lief_limits lim = { .timeout_ms = 1000 };
	double t0 = now_s();
	nxpi_lief_test_delay(30000);
	expect_lief_error(tmp_path("slow.dll"), &lim, "lief child timed out after 1 s");
	double dt = now_s() - t0;
	cr_assert_geq(dt, 0.9);
	cr_assert_lt(dt, 3.0, "took %.2f s", dt);

	lim.timeout_ms = 1500;
	nxpi_lief_test_delay(30000);
	expect_lief_error(tmp_path("slow.dll"), &lim, "lief child timed out after 1500 ms");

	/* A delay within the limit is fine. */
	lim.timeout_ms = 5000;
	nxp_lief_view v;
	nxp_error err = { 0 };
	nxpi_lief_test_delay(100);
	cr_assert_eq(nxp_lief_read(tmp_path("slow.dll"), &v, &lim, &err), NXP_OK, "%s", err.msg);
	assert_no_children();
	free(s.buf);
}

/* Output buffered in the parent's stdio is not written twice by the child. */
Test(crosscheck, buffered_output_is_not_duplicated)
{
	char out[512];
	snprintf(out, sizeof(out), "%s", tmp_path("stdout.txt"));
	fflush(stdout);
	int saved = dup(1);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_geq(dup2(fd, 1), 0);
	close(fd);
	printf("once"); /* no newline: sits in the buffer across the fork */
	nxp_lief_view v;
	nxp_error err = { 0 };
	nxp_lief_read(tmp_path("nope"), &v, NULL, &err);
	write_file(tmp_path("junk2"), "MZ", 2);
	nxp_lief_read(tmp_path("junk2"), &v, NULL, &err);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	char buf[64] = { 0 };
	FILE *f = fopen(out, "r");
	cr_assert_not_null(f);
	size_t r = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	cr_assert_eq(r, 4, "stdout holds '%s'", buf);
	cr_assert_str_eq(buf, "once");
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
			nxp_put_le32(m + at, RND() * 2654435761u);
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

/* ---------------------------------------------------- the persistent worker -- */

/* A good image at tmp_path(name); returns its path (a static copy). */
static const char *write_good(const char *name)
{
	static char path[512];
	synth s = build_pe(1, 16, 3, 0x400);
	snprintf(path, sizeof(path), "%s", tmp_path(name));
	write_file(path, s.buf, s.len);
	free(s.buf);
	return path;
}

/* Read `path` with LIEF, which must succeed; returns the worker's pid. */
static pid_t read_ok(const char *path, nxp_lief_view *v)
{
	nxp_error err = { 0 };
	cr_assert_eq(nxp_lief_read(path, v, NULL, &err), NXP_OK, "%s: %s", path, err.msg);
	return nxpi_lief_worker_pid();
}

static int pid_exists(pid_t pid)
{
	cr_assert_gt(pid, 0);
	return kill(pid, 0) == 0 || errno != ESRCH;
}

/* No child at all, the worker included (it sends no SIGCHLD, so only
 * __WALL sees it). */
static void assert_no_worker_left(void)
{
	errno = 0;
	cr_assert_eq(waitpid(-1, NULL, WNOHANG | __WALL), -1, "a child (the worker?) is left");
	cr_assert_eq(errno, ECHILD);
}

Test(crosscheck, many_reads_reuse_one_worker)
{
	const char *path = write_good("reuse.dll");
	static nxp_lief_view first, v;
	pid_t pid = read_ok(path, &first);
	cr_assert_gt(pid, 0);
	cr_assert_eq(first.nsections_seen, 3);
	for (int i = 0; i < 100; i++) {
		memset(&v, 0xa5, sizeof(v));
		cr_assert_eq(read_ok(path, &v), pid, "read %d went to another worker", i);
		cr_assert_eq(memcmp(&v, &first, sizeof(v)), 0, "read %d gave another record", i);
	}
	/* The worker is alive, ours, and invisible to waitpid(-1). */
	cr_assert(pid_exists(pid));
	cr_assert_eq(waitpid(-1, NULL, WNOHANG | __WALL), 0);
	assert_no_children();
}

Test(crosscheck, a_failed_request_gets_a_new_worker)
{
	const char *good = write_good("good.dll");
	static nxp_lief_view first, v;
	pid_t p1 = read_ok(good, &first);
	cr_assert_eq(read_ok(good, &v), p1);

	/* An abort on a warm worker reads exactly as on a fresh one: only that
	 * request's stderr is in the message. */
	write_file(tmp_path("empty"), "", 0);
	nxp_error warm = { 0 }, fresh = { 0 };
	cr_assert_eq(nxp_lief_read(tmp_path("empty"), &v, NULL, &warm), NXP_E_LIEF);
	cr_assert(strstr(warm.msg, "lief child aborted (signal 6)"), "%s", warm.msg);
	cr_assert_eq(nxpi_lief_worker_pid(), 0);
	cr_assert_not(pid_exists(p1), "the aborted worker was not reaped");
	cr_assert_eq(nxp_lief_read(tmp_path("empty"), &v, NULL, &fresh), NXP_E_LIEF);
	cr_assert_str_eq(warm.msg, fresh.msg);

	pid_t p2 = read_ok(good, &v);
	cr_assert(p2 > 0 && p2 != p1, "p1 %d p2 %d", (int)p1, (int)p2);
	cr_assert_eq(memcmp(&v, &first, sizeof(v)), 0);

	/* A timeout: killed, reaped, replaced. */
	nxp_lief_limits slow = { .timeout_ms = 500 };
	nxp_error err = { 0 };
	cr_assert_eq(read_ok(good, &v), p2);
	nxpi_lief_test_delay(30000);
	cr_assert_eq(nxp_lief_read(good, &v, &slow, &err), NXP_E_LIEF);
	cr_assert_str_eq(err.msg, "lief child timed out after 500 ms");
	cr_assert_not(pid_exists(p2));
	pid_t p3 = read_ok(good, &v);
	cr_assert(p3 > 0 && p3 != p2);
	cr_assert_eq(memcmp(&v, &first, sizeof(v)), 0);
	assert_no_children();
}

/* The budget is set per request, relative to the worker's size then: a
 * warm worker still fails a request over its budget, serves a large
 * budget after small ones, and a small one after a large one. */
Test(crosscheck, memory_limit_holds_for_each_request_of_a_warm_worker)
{
	char dup[512];
	snprintf(dup, sizeof(dup), "%s", write_dup_sections());
	const char *good = write_good("small.dll");
	static nxp_lief_view v;
	pid_t p = read_ok(good, &v);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(read_ok(good, &v), p);
	expect_lief_error(dup, &(nxp_lief_limits){ .memory = 1 << 20 },
	                  "lief child ran out of memory (limit 1 MiB)");
	cr_assert_not(pid_exists(p));

	p = read_ok(good, &v);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(read_ok(good, &v), p);
	nxp_lief_limits big = { .memory = (uint64_t)2 << 30, .timeout_ms = 60000 };
	nxp_error err = { 0 };
	cr_assert_eq(nxp_lief_read(dup, &v, &big, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(v.nsections_seen, NXP_MAX_SECTIONS);

	/* The same worker, back to the default budget (256 MiB). Under ASan the
	 * allocator's quarantine keeps the large request's memory, so the
	 * worker is recycled for its growth and a fresh one takes over. */
	pid_t after = nxpi_lief_worker_pid();
#ifndef __SANITIZE_ADDRESS__
	cr_assert_eq(after, p, "the worker did not survive the large request");
#endif
	p = after ? after : read_ok(good, &v);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(read_ok(good, &v), p);
	expect_lief_error(dup, NULL, "lief child ran out of memory (limit 256 MiB)");
	cr_assert_not(pid_exists(p));
	read_ok(good, &v);
	assert_no_children();
}

/* A forked process leaves its parent's worker alone and starts its own. */
Test(crosscheck, a_forked_child_gets_its_own_worker)
{
	const char *good = write_good("fork.dll");
	static nxp_lief_view first, v;
	pid_t parent_worker = read_ok(good, &first);
	cr_assert_gt(parent_worker, 0);
	fflush(NULL);
	pid_t child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		/* No cr_assert here: report through the exit status. */
		nxp_error err = { 0 };
		int code = 0;
		if (nxpi_lief_worker_pid() != 0)
			code = 10; /* the parent's worker looks like ours */
		else if (nxp_lief_read(good, &v, NULL, &err) != NXP_OK)
			code = 11;
		else if (memcmp(&v, &first, sizeof(v)) != 0)
			code = 12;
		else if (nxpi_lief_worker_pid() <= 0 || nxpi_lief_worker_pid() == parent_worker)
			code = 13;
		else if (kill(parent_worker, 0) != 0)
			code = 14; /* the parent's worker must live on */
		pid_t mine = nxpi_lief_worker_pid();
		nxp_lief_shutdown();
		if (!code && (kill(mine, 0) == 0 || waitpid(-1, NULL, WNOHANG | __WALL) != -1))
			code = 15;
		_exit(code);
	}
	int status = 0;
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status), "status 0x%x", status);
	cr_assert_eq(WEXITSTATUS(status), 0, "the child failed check %d", WEXITSTATUS(status));
	cr_assert(pid_exists(parent_worker));
	cr_assert_eq(read_ok(good, &v), parent_worker);
	cr_assert_eq(memcmp(&v, &first, sizeof(v)), 0);
	assert_no_children();
}

Test(crosscheck, shutdown_leaves_no_child)
{
	const char *good = write_good("down.dll");
	static nxp_lief_view v;
	nxp_lief_shutdown(); /* nothing to end: harmless */
	pid_t p = read_ok(good, &v);
	cr_assert_gt(p, 0);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG | __WALL), 0, "no worker to see");
	nxp_lief_shutdown();
	cr_assert_eq(nxpi_lief_worker_pid(), 0);
	cr_assert_not(pid_exists(p), "worker %d still exists", (int)p);
	assert_no_worker_left();
	/* The next read starts another worker; a second shutdown ends it. */
	pid_t q = read_ok(good, &v);
	cr_assert(q > 0 && q != p);
	nxp_lief_shutdown();
	nxp_lief_shutdown();
	assert_no_worker_left();
}

Test(crosscheck, the_worker_is_recycled_after_the_request_bound)
{
	const char *good = write_good("recycle.dll");
	static nxp_lief_view v;
	nxpi_lief_test_set_max_requests(3);
	pid_t p = read_ok(good, &v);
	cr_assert_eq(read_ok(good, &v), p);
	cr_assert_eq(read_ok(good, &v), 0, "a third request should retire the worker");
	cr_assert_not(pid_exists(p), "the retired worker was not reaped");
	pid_t q = read_ok(good, &v);
	cr_assert(q > 0 && q != p);
	cr_assert_eq(read_ok(good, &v), q);
	nxpi_lief_test_set_max_requests(0);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(read_ok(good, &v), q, "the default bound is back");
	assert_no_children();
}

/* A worker killed between requests: the send fails (no SIGPIPE reaches
 * us), a new worker takes the request, the dead one is reaped. (Linux
 * raises no SIGPIPE for a SOCK_SEQPACKET send to a closed peer, measured,
 * so this guards the retry more than MSG_NOSIGNAL.) */
Test(crosscheck, a_worker_killed_between_requests_is_replaced)
{
	/* A SIGPIPE would end this process. */
	signal(SIGPIPE, SIG_DFL);
	sigset_t pipe_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_UNBLOCK, &pipe_set, NULL);
	const char *good = write_good("killed.dll");
	static nxp_lief_view first, v;
	pid_t p = read_ok(good, &first);
	cr_assert_gt(p, 0);
	cr_assert_eq(kill(p, SIGKILL), 0);
	siginfo_t si;
	cr_assert_eq(waitid(P_PID, (id_t)p, &si, WEXITED | WNOWAIT | __WALL), 0);
	pid_t q = read_ok(good, &v);
	cr_assert(q > 0 && q != p);
	cr_assert_eq(memcmp(&v, &first, sizeof(v)), 0);
	cr_assert_not(pid_exists(p), "the killed worker was not reaped");
}

/* An owner killed while its worker parses: the worker is killed at once
 * (PR_SET_PDEATHSIG), not when its own 11 s alarm would end it. */
Test(crosscheck, the_worker_dies_with_its_owner)
{
	const char *good = write_good("orphan.dll");
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0, "orphans are reparented to us");
	int pp[2];
	cr_assert_eq(pipe(pp), 0);
	fflush(NULL);
	pid_t owner = fork();
	cr_assert_geq(owner, 0);
	if (owner == 0) {
		nxp_error err = { 0 };
		pid_t w = 0;
		nxpi_lief_test_delay(30000);
		if (nxp_lief_begin(good, NULL, &err) == NXP_OK)
			w = nxpi_lief_worker_pid();
		struct timespec ts = { 0, 300 * 1000000L }; /* the worker is in its delay */
		nanosleep(&ts, NULL);
		if (write(pp[1], &w, sizeof(w)) != (ssize_t)sizeof(w))
			_exit(1);
		raise(SIGKILL);
	}
	close(pp[1]);
	pid_t w = 0;
	cr_assert_eq(read(pp[0], &w, sizeof(w)), (ssize_t)sizeof(w));
	close(pp[0]);
	cr_assert_gt(w, 0, "the owner could not start a request");
	int status = 0;
	cr_assert_eq(waitpid(owner, &status, 0), owner);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	double t0 = now_s();
	pid_t r;
	while ((r = waitpid(w, &status, WNOHANG | __WALL)) == 0 && now_s() - t0 < 5.0) {
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(r, w, "the orphaned worker lives on");
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status 0x%x", status);
	cr_assert_lt(now_s() - t0, 2.0);
	assert_no_worker_left();
}

/* A worker that dies holding the request fails that request, with no retry. */
Test(crosscheck, a_worker_killed_during_a_request_fails_that_request)
{
	const char *good = write_good("during.dll");
	static nxp_lief_view v;
	nxp_error err = { 0 };
	read_ok(good, &v);
	nxpi_lief_test_delay(500);
	cr_assert_eq(nxp_lief_begin(good, NULL, &err), NXP_OK, "%s", err.msg);
	pid_t p = nxpi_lief_worker_pid();
	cr_assert_gt(p, 0);
	cr_assert_eq(kill(p, SIGKILL), 0);
	cr_assert_eq(nxp_lief_end(&v, &err), NXP_E_LIEF);
	cr_assert_str_eq(err.msg, "lief child was killed (signal 9)");
	cr_assert_not(pid_exists(p));
	cr_assert_neq(read_ok(good, &v), p);
	assert_no_children();
}

/* begin returns at once; the caller works while LIEF parses. */
Test(crosscheck, begin_and_end_overlap_with_the_caller)
{
	synth s = build_pe(1, 16, 3, 0x400);
	const char *path = tmp_path("async.dll");
	write_file(path, s.buf, s.len);
	static nxp_image img;
	static nxp_lief_view v;
	nxp_error err = { 0 };
	cr_assert_eq(nxp_pe_parse(&img, s.buf, s.len, &err), NXP_OK, "%s", err.msg);
	read_ok(path, &v); /* a warm worker */

	nxpi_lief_test_delay(500);
	double t0 = now_s();
	cr_assert_eq(nxp_lief_begin(path, NULL, &err), NXP_OK, "%s", err.msg);
	cr_assert_lt(now_s() - t0, 0.2, "begin waited for the parse");
	cr_assert_eq(nxp_lief_begin(path, NULL, &err), NXP_E_USAGE);
	struct timespec ts = { 0, 500 * 1000000L };
	nanosleep(&ts, NULL); /* the caller's own work */
	cr_assert_eq(nxp_lief_end(&v, &err), NXP_OK, "%s", err.msg);
	cr_assert_lt(now_s() - t0, 0.9, "the delay and our work did not overlap");
	cr_assert_eq(v.checksum, 0x12345);
	cr_assert_eq(nxp_lief_end(&v, &err), NXP_E_USAGE);

	/* The cross-check halves: a mismatch, then collecting without img. */
	size_t n = 0;
	img.checksum = 1;
	cr_assert_eq(nxp_crosscheck_file_begin(path, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_crosscheck_file_end(&img, NULL, 0, &n, &err), NXP_E_CROSS_CHECK);
	cr_assert_eq(n, 1);
	cr_assert(strstr(err.msg, "optional_header.checksum"), "%s", err.msg);
	cr_assert_eq(nxp_crosscheck_file_begin(path, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_crosscheck_file_end(NULL, NULL, 0, &n, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_lief_end(&v, &err), NXP_E_USAGE, "the request was not collected");
	assert_no_children();
	free(s.buf);
}
