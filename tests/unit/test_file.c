/* SPDX-License-Identifier: Apache-2.0 */
/* The output side of src/util/file.c: appends that start writeback in
 * chunks, the threaded copy job, and patching written fields. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nxpatch/file.h"
#include "support.h"
#include "util/file.h"

static char dir[NXT_SCRATCH_MAX];

static void setup(void)
{
	nxt_scratch_make(dir, "nxp-file");
}

static void teardown(void)
{
	nxt_scratch_remove(dir);
}

TestSuite(file, .init = setup, .fini = teardown);

/* A source file of n pseudo-random bytes, loaded (mapped) into f. */
static void make_source(nxp_file *f, const char *path, size_t n)
{
	uint8_t *b = malloc(n);
	cr_assert_not_null(b);
	uint32_t x = 0x12345678;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (uint8_t)(x >> 24);
	}
	FILE *fp = fopen(path, "wb");
	cr_assert_not_null(fp);
	cr_assert_eq(fwrite(b, 1, n, fp), n);
	cr_assert_eq(fclose(fp), 0);
	free(b);
	nxp_error err = {0};
	cr_assert_eq(nxp_file_load(f, path, &err), NXP_OK, "%s", err.msg);
}

static uint8_t *slurp(const char *path, size_t *n)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	uint8_t *b = malloc((size_t)st.st_size + 1);
	FILE *fp = fopen(path, "rb");
	cr_assert_not_null(fp);
	*n = fread(b, 1, (size_t)st.st_size, fp);
	fclose(fp);
	return b;
}

/* Three writeback chunks and a bit: the threaded copy gives exactly the
 * source's bytes, counts them, and started writeback of whole chunks. */
Test(file, copy_job_copies_exactly)
{
	char src[128], dst[128];
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(dst, sizeof(dst), "%s/dst", dir);
	size_t n = 3 * NXP_WRITEBACK_CHUNK + 12345;
	nxp_file f;
	make_source(&f, src, n);
	nxpi_tmpfile t;
	nxp_error err = {0};
	cr_assert_eq(nxpi_tmpfile_open(&t, dst, 0644, &err), NXP_OK, "%s", err.msg);
	nxpi_copy_job job;
	nxpi_tmpfile_copy_start(&job, &t, nxpi_file_reopen(&f, src), f.data, 0, n);
	cr_assert_eq(nxpi_tmpfile_copy_join(&job, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(t.written, n);
	cr_assert_eq(t.flushing, 3 * NXP_WRITEBACK_CHUNK);
	cr_assert_eq(nxpi_tmpfile_sync(&t, &err), NXP_OK);
	cr_assert_eq(nxpi_tmpfile_commit(&t, &err), NXP_OK, "%s", err.msg);
	size_t got;
	uint8_t *b = slurp(dst, &got);
	cr_assert_eq(got, n);
	cr_assert(!memcmp(b, f.data, n), "the copy differs from its source");
	free(b);
	nxpi_tmpfile_discard(&t);
	nxp_file_unload(&f);
}

/* Without a descriptor (a pipe input, another filesystem) the job writes
 * from the mapping; a range from the middle, then a patched field. */
Test(file, copy_job_without_fd_writes_from_memory_and_patches)
{
	char src[128], dst[128];
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(dst, sizeof(dst), "%s/dst", dir);
	size_t n = NXP_WRITEBACK_CHUNK + 4096;
	nxp_file f;
	make_source(&f, src, n);
	nxpi_tmpfile t;
	nxp_error err = {0};
	cr_assert_eq(nxpi_tmpfile_open(&t, dst, 0600, &err), NXP_OK);
	nxpi_copy_job job;
	nxpi_tmpfile_copy_start(&job, &t, -1, f.data, 100, n - 200);
	cr_assert_eq(nxpi_tmpfile_copy_join(&job, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(t.written, n - 200);
	cr_assert_eq(nxpi_tmpfile_pwrite(&t, 8, "PATCHED!", 8, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxpi_tmpfile_write(&t, "END", 3, &err), NXP_OK);
	cr_assert_eq(nxpi_tmpfile_sync(&t, &err), NXP_OK);
	cr_assert_eq(nxpi_tmpfile_commit(&t, &err), NXP_OK);
	size_t got;
	uint8_t *b = slurp(dst, &got);
	cr_assert_eq(got, n - 200 + 3);
	cr_assert(!memcmp(b, f.data + 100, 8));
	cr_assert(!memcmp(b + 8, "PATCHED!", 8));
	cr_assert(!memcmp(b + 16, f.data + 116, n - 200 - 16));
	cr_assert(!memcmp(b + n - 200, "END", 3));
	free(b);
	nxp_file_unload(&f);
}

/* A patch must land inside what was written: never extend the file. */
Test(file, pwrite_past_the_written_bytes_is_refused)
{
	char dst[128];
	snprintf(dst, sizeof(dst), "%s/dst", dir);
	nxpi_tmpfile t;
	nxp_error err = {0};
	cr_assert_eq(nxpi_tmpfile_open(&t, dst, 0600, &err), NXP_OK);
	cr_assert_eq(nxpi_tmpfile_write(&t, "0123456789", 10, &err), NXP_OK);
	cr_assert_eq(nxpi_tmpfile_pwrite(&t, 6, "abcd", 4, &err), NXP_OK);
	cr_assert_eq(nxpi_tmpfile_pwrite(&t, 7, "abcd", 4, &err), NXP_E_INTERNAL);
	cr_assert(strstr(err.msg, "past the written"), "%s", err.msg);
	cr_assert_eq(nxpi_tmpfile_pwrite(&t, UINT64_MAX - 1, "abcd", 4, &err), NXP_E_INTERNAL);
	struct stat st;
	cr_assert_eq(fstat(t.fd, &st), 0);
	cr_assert_eq(st.st_size, 10);
	nxpi_tmpfile_discard(&t);
	cr_assert_neq(access(dst, F_OK), 0, "discard must not create the target");
}

/* A copy that cannot write reports its error through join. */
Test(file, copy_job_reports_write_errors)
{
	char src[128], dst[128];
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(dst, sizeof(dst), "%s/dst", dir);
	nxp_file f;
	make_source(&f, src, 65536);
	nxpi_tmpfile t;
	nxp_error err = {0};
	cr_assert_eq(nxpi_tmpfile_open(&t, dst, 0600, &err), NXP_OK);
	/* Reopen the temporary file read-only under the same descriptor
	 * number, so every write fails with EBADF. */
	int ro = open(t.path, O_RDONLY);
	cr_assert_geq(ro, 0);
	cr_assert_geq(dup2(ro, t.fd), 0);
	close(ro);
	nxpi_copy_job job;
	nxpi_tmpfile_copy_start(&job, &t, nxpi_file_reopen(&f, src), f.data, 0, 65536);
	cr_assert_eq(nxpi_tmpfile_copy_join(&job, &err), NXP_E_IO);
	cr_assert(strstr(err.msg, "cannot write"), "%s", err.msg);
	nxpi_tmpfile_discard(&t);
	nxp_file_unload(&f);
}
