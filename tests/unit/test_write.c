/* SPDX-License-Identifier: Apache-2.0 */
/* The writer's library pieces: the journal (append, lossless paths, strict
 * reading), the SIGBUS guard of mapped inputs, file-type refusals, the
 * signature-only plans, and a whole write through nxp_apply with its
 * backup never replacing a file. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "nxpatch/file.h"
#include "nxpatch/input.h"
#include "nxpatch/plan.h"
#include "nxpatch/write.h"
#include "support.h"
#include "util/file.h"

static char dir[NXT_SCRATCH_MAX];

static void setup(void)
{
	nxt_scratch_make(dir, "nxp-write");
}

static void teardown(void)
{
	nxt_scratch_remove(dir);
}

TestSuite(write, .init = setup, .fini = teardown);

static const char *at(const char *name)
{
	return nxt_scratch_path(dir, name);
}

static void put_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, n, f), n);
	cr_assert_eq(fclose(f), 0);
}

Test(write, journal_paths_are_lossless)
{
	const char *bad = at("caf\xe9-\xff.exe");
	json_t *r = json_object();
	cr_assert_eq(nxp_journal_set_path(r, "path", bad), 0);
	cr_assert_not_null(json_object_get(r, "path_hex"), "a non-UTF-8 path needs its hex form");
	char back[256];
	cr_assert_eq(nxp_journal_get_path(r, "path", back, sizeof(back)), 0);
	cr_assert_str_eq(back, bad);
	json_decref(r);
	r = json_object();
	cr_assert_eq(nxp_journal_set_path(r, "path", at("plain.exe")), 0);
	cr_assert_null(json_object_get(r, "path_hex"));
	cr_assert_eq(nxp_journal_get_path(r, "path", back, sizeof(back)), 0);
	cr_assert_str_eq(back, at("plain.exe"));
	/* a crafted hex form with a NUL or odd length is refused */
	json_object_set_new(r, "path_hex", json_string("2f00"));
	cr_assert_eq(nxp_journal_get_path(r, "path", back, sizeof(back)), -1);
	json_object_set_new(r, "path_hex", json_string("2f6"));
	cr_assert_eq(nxp_journal_get_path(r, "path", back, sizeof(back)), -1);
	json_decref(r);
}

Test(write, journal_appends_whole_lines_and_reads_strictly)
{
	nxp_journal *j;
	nxp_error err = {0};
	cr_assert_eq(nxp_journal_open(&j, at("j"), &err), NXP_OK, "%s", err.msg);
	for (int i = 0; i < 3; i++) {
		json_t *r = json_pack("{s:s, s:i}", "op", "replace", "n", i);
		cr_assert_eq(nxp_journal_append(j, r, &err), NXP_OK, "%s", err.msg);
		json_decref(r);
	}
	cr_assert_eq(nxp_journal_close(j, &err), NXP_OK);
	json_t *e;
	cr_assert_eq(nxp_journal_read(at("j"), &e, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(json_array_size(e), 3);
	json_decref(e);

	put_file(at("cut"), "{\"op\":\"replace\"}\n{\"op\":\"rep", 27);
	cr_assert_eq(nxp_journal_read(at("cut"), &e, &err), NXP_E_JOURNAL);
	cr_assert(strstr(err.msg, "line 2 is incomplete"), "%s", err.msg);
	put_file(at("newer"), "{\"op\":\"bytes\"}\n", 15);
	cr_assert_eq(nxp_journal_read(at("newer"), &e, &err), NXP_E_JOURNAL);
	cr_assert(strstr(err.msg, "unknown record type"), "%s", err.msg);
	put_file(at("old"), "{\"path\":\"/x\"}\n", 14);  /* no op: an earlier nxpatch */
	cr_assert_eq(nxp_journal_read(at("old"), &e, &err), NXP_OK, "%s", err.msg);
	json_decref(e);
	cr_assert_eq(nxp_journal_read(dir, &e, &err), NXP_E_JOURNAL);
	cr_assert(strstr(err.msg, "directory"), "%s", err.msg);
	cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
	cr_assert_eq(nxp_journal_open(&j, at("fifo"), &err), NXP_E_FILE_TYPE);
}

Test(write, truncated_mapping_reads_zeros_and_is_not_intact)
{
	size_t n = 1 << 20;
	uint8_t *b = malloc(n);
	memset(b, 0xab, n);
	put_file(at("big"), b, n);
	free(b);
	nxp_file f;
	nxp_error err = {0};
	cr_assert_eq(nxp_file_load(&f, at("big"), &err), NXP_OK, "%s", err.msg);
	cr_assert(nxpi_file_intact(&f));
	cr_assert_eq(truncate(at("big"), 4096), 0);
	/* Without the guard this read is a SIGBUS. */
	volatile uint8_t x = f.data[n - 1];
	cr_assert_eq(x, 0);
	cr_assert_eq(f.data[0], 0xab);
	cr_assert_not(nxpi_file_intact(&f));
	nxp_file_unload(&f);
}

Test(write, only_regular_files_are_loaded)
{
	nxp_file f;
	nxp_error err = {0};
	cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
	cr_assert_eq(nxp_file_load(&f, at("fifo"), &err), NXP_E_FILE_TYPE); /* no hang */
	cr_assert(strstr(err.msg, "FIFO"), "%s", err.msg);
	cr_assert_eq(nxp_file_load(&f, dir, &err), NXP_E_FILE_TYPE);
	put_file(at("t"), "MZ", 2);
	cr_assert_eq(symlink("t", at("l")), 0);
	cr_assert_eq(nxp_file_load(&f, at("l"), &err), NXP_OK, "reading through a link is fine");
	nxp_file_unload(&f);
	cr_assert_eq(nxp_file_load_flags(&f, at("l"), NXP_FILE_LOCK, &err), NXP_E_FILE_TYPE);
	cr_assert(strstr(err.msg, "symbolic link"), "%s", err.msg);
}

Test(write, temporary_names_fit_name_max)
{
	char name[256], prefix[300];
	memset(name, 'n', 255);
	name[255] = '\0';
	nxpi_tmpfile_prefix(name, prefix, sizeof(prefix));
	cr_assert_eq(strlen(prefix) + 6, 32, "%s", prefix);
	char tmp[sizeof(prefix) + 8];
	snprintf(tmp, sizeof(tmp), "%sAb12Cd", prefix);
	cr_assert(nxpi_tmpfile_is_name(tmp));
	nxpi_tmpfile_prefix("a.exe", prefix, sizeof(prefix));
	cr_assert_str_eq(prefix, ".a.exe.nxpatch-");
	cr_assert(nxpi_tmpfile_is_name(".a.exe.nxpatch-Ab12Cd"));
	cr_assert_not(nxpi_tmpfile_is_name("a.exe"));
	cr_assert_not(nxpi_tmpfile_is_name(".nxpatch-0123456789abcdeX-Ab12Cd"));
}

/* A signed synthetic image, through nxp_plan_signature(STRIP) and the
 * writer: the output has no table, the backup of an in-place write never
 * replaces an existing file. */
Test(write, strip_plan_in_place_keeps_an_existing_backup_name)
{
	static uint8_t buf[1 << 16];
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .cert_size = 0x40};
	nxt_layout lay;
	size_t n = nxt_build_pe(buf, sizeof(buf), &spec, &lay);
	cr_assert_gt(n, 0);
	put_file(at("s.exe"), buf, n);
	put_file(at("s.exe.orig"), "not a backup", 12);
	nxp_input *in;
	nxp_error err = {0};
	cr_assert_eq(nxp_input_open_flags(&in, at("s.exe"), NXP_INPUT_LOCK | NXP_INPUT_NO_FACTS,
	                                  &err), NXP_OK, "%s", err.msg);
	nxp_plan *plan = malloc(sizeof(*plan));
	cr_assert_eq(nxp_plan_signature(plan, &in->img, NXP_SIGACT_STRIP, &err), NXP_OK, "%s",
	             err.msg);
	cr_assert_eq(plan->status, NXP_PLAN_CHANGES);
	cr_assert_eq(plan->out_len, lay.cert_offset);
	nxp_apply_options opt = {.backup_suffix = ".orig"};
	nxp_apply_result res;
	cr_assert_eq(nxp_apply(in, plan, at("s.exe"), &opt, &res, &err), NXP_OK, "%s", err.msg);
	cr_assert(res.written && res.in_place);
	cr_assert_str_eq(res.backup, at("s.exe.1.orig"));
	nxp_input_close(in);
	free(plan);
	struct stat st;
	cr_assert_eq(stat(at("s.exe"), &st), 0);
	cr_assert_eq((size_t)st.st_size, lay.cert_offset);
	cr_assert_eq(stat(at("s.exe.orig"), &st), 0);
	cr_assert_eq(st.st_size, 12, "the existing s.exe.orig was replaced");
	cr_assert_eq(stat(at("s.exe.1.orig"), &st), 0);
	cr_assert_eq((size_t)st.st_size, n);
}
