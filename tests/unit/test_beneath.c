/* SPDX-License-Identifier: Apache-2.0 */
/* util/beneath.c and nxpi_tmpfile_open_at: output directories that never
 * leave their root, whatever links are planted under it. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nxpatch/file.h"
#include "util/beneath.h"
#include "util/file.h"

static char dir[64];
static int root = -1;

static void setup(void)
{
	strcpy(dir, "/tmp/nxp-beneath-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	char p[128];
	snprintf(p, sizeof(p), "%s/root", dir);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/outside", dir);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/root", dir);
	root = open(p, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(root, 0);
}

static void teardown(void)
{
	close(root);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(beneath, .init = setup, .fini = teardown);

static int exists(const char *rel)
{
	char p[1024];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, &st) == 0;
}

Test(beneath, creates_missing_directories)
{
	nxp_error err = {0};
	const char *leaf = NULL;
	int fd = nxpi_open_parent_beneath(root, "root", "a/b/c/x.dll", 1, &leaf, &err);
	cr_assert_geq(fd, 0, "%s", err.msg);
	cr_assert_str_eq(leaf, "x.dll");
	cr_assert(exists("root/a/b/c"));
	close(fd);
	/* Without create a missing directory is an error. */
	fd = nxpi_open_parent_beneath(root, "root", "q/x.dll", 0, &leaf, &err);
	cr_assert_eq(fd, -1);
	cr_assert(!exists("root/q"));
	/* A bare name is in the root itself. */
	fd = nxpi_open_parent_beneath(root, "root", "x.dll", 0, &leaf, &err);
	cr_assert_geq(fd, 0);
	cr_assert_str_eq(leaf, "x.dll");
	close(fd);
}

Test(beneath, refuses_links_dots_and_empty_components)
{
	char p[256], t[256];
	snprintf(t, sizeof(t), "%s/outside", dir);
	snprintf(p, sizeof(p), "%s/root/link", dir);
	cr_assert_eq(symlink(t, p), 0);
	static const char *bad[] = {"link/x.dll", "link/new/x.dll", "../outside/x.dll",
	                            "a/../../outside/x.dll", "./x.dll", "a//x.dll", "/x.dll",
	                            "a/..", "a/."};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		nxp_error err = {0};
		const char *leaf = NULL;
		int fd = nxpi_open_parent_beneath(root, "root", bad[i], 1, &leaf, &err);
		cr_assert_eq(fd, -1, "%s was accepted", bad[i]);
		cr_assert_neq(err.msg[0], '\0', "%s: no message", bad[i]);
	}
	cr_assert(!exists("outside/new"), "a directory was created through the link");
	nxp_error err = {0};
	const char *leaf;
	cr_assert_eq(nxpi_open_parent_beneath(root, "root", "link/x.dll", 1, &leaf, &err), -1);
	cr_assert(strstr(err.msg, "root/link is a symbolic link"), "%s", err.msg);
	/* A file where a directory should be. */
	snprintf(p, sizeof(p), "%s/root/file", dir);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	cr_assert_eq(nxpi_open_parent_beneath(root, "root", "file/x.dll", 1, &leaf, &err), -1);
	cr_assert(strstr(err.msg, "root/file is not a directory"), "%s", err.msg);
}

/* The temporary file and the rename go through the directory descriptor:
 * moving the directory away and planting a link at its old name after it
 * was opened changes nothing. */
Test(beneath, tmpfile_at_stays_in_the_opened_directory)
{
	nxp_error err = {0};
	const char *leaf;
	int fd = nxpi_open_parent_beneath(root, "root", "sub/x.dll", 1, &leaf, &err);
	cr_assert_geq(fd, 0, "%s", err.msg);
	char from[256], to[256], t[256];
	snprintf(from, sizeof(from), "%s/root/sub", dir);
	snprintf(to, sizeof(to), "%s/root/moved", dir);
	snprintf(t, sizeof(t), "%s/outside", dir);
	cr_assert_eq(rename(from, to), 0);
	cr_assert_eq(symlink(t, from), 0);

	nxpi_tmpfile tf;
	cr_assert_eq(nxpi_tmpfile_open_at(&tf, fd, "root/sub", leaf, 0640, &err), NXP_OK, "%s",
	             err.msg);
	close(fd); /* the tmpfile holds its own */
	cr_assert(strstr(tf.path, "root/sub/.x.dll.nxpatch-"), "%s", tf.path);
	cr_assert_eq(nxpi_tmpfile_write(&tf, "MZ", 2, &err), NXP_OK);
	cr_assert_eq(nxpi_tmpfile_sync(&tf, &err), NXP_OK);
	cr_assert_eq(nxpi_tmpfile_commit(&tf, &err), NXP_OK, "%s", err.msg);
	nxpi_tmpfile_discard(&tf);
	cr_assert(exists("root/moved/x.dll"));
	cr_assert(!exists("outside/x.dll"));
	struct stat st;
	snprintf(to, sizeof(to), "%s/root/moved/x.dll", dir);
	cr_assert_eq(stat(to, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0640);
	cr_assert_eq(st.st_size, 2);
	/* Discarding an open one removes its temporary file. */
	snprintf(to, sizeof(to), "%s/root/moved", dir);
	fd = open(to, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(nxpi_tmpfile_open_at(&tf, fd, "root/moved", "y.dll", 0644, &err), NXP_OK);
	char rel[512];
	snprintf(rel, sizeof(rel), "root/moved/%s", tf.tmp_name);
	cr_assert(exists(rel));
	nxpi_tmpfile_discard(&tf);
	cr_assert(!exists(rel));
	cr_assert(!exists("root/moved/y.dll"));
	/* Not a file name. */
	cr_assert_neq(nxpi_tmpfile_open_at(&tf, fd, "root/moved", "a/b", 0644, &err), NXP_OK);
	cr_assert_neq(nxpi_tmpfile_open_at(&tf, fd, "root/moved", "..", 0644, &err), NXP_OK);
	close(fd);
}
