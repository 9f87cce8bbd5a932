/* SPDX-License-Identifier: Apache-2.0 */
/* util/beneath.c and nxpi_tmpfile_open_at: output directories that never
 * leave their root, whatever links are planted under it. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nxpatch/file.h"
#include "util/beneath.h"
#include "support.h"
#include "util/file.h"

static char dir[NXT_SCRATCH_MAX];
static int root = -1;

static void setup(void)
{
	nxt_scratch_make(dir, "nxp-beneath");
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
	nxt_scratch_remove(dir);
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

/* --out-dir's directories are created while another user may swap a
 * component for a link to elsewhere: a child process keeps replacing
 * root/a (also right after it is made) with a link to outside/ while the
 * directories a/b are created beneath root over and over. Every call
 * either gives a directory beneath root or refuses; nothing is ever created
 * outside. */
Test(beneath, link_swapped_in_during_creation_never_leads_outside)
{
	char a[128], out[128];
	snprintf(a, sizeof(a), "%s/root/a", dir);
	snprintf(out, sizeof(out), "%s/outside", dir);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Until killed: take away a directory a just made (it is empty
		 * then), plant the link, hold it a moment, take it away. */
		for (;;) {
			rmdir(a);
			if (symlink(out, a) == 0) {
				for (volatile int k = 0; k < 200; k++)
					;
				unlink(a);
			}
		}
	}
	unsigned made = 0, refused = 0;
	for (int i = 0; i < 3000; i++) {
		nxp_error err = {0};
		const char *leaf = NULL;
		int fd = nxpi_open_parent_beneath(root, "root", "a/b/x.dll", 1, &leaf, &err);
		if (fd >= 0) {
			/* What was opened is a directory whose parent's parent is the
			 * root: b in a in root, never a b reached through a link. */
			struct stat up2, rst;
			int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			cr_assert_geq(up, 0);
			cr_assert_eq(fstatat(up, "..", &up2, 0), 0);
			cr_assert_eq(fstat(root, &rst), 0);
			cr_assert(up2.st_dev == rst.st_dev && up2.st_ino == rst.st_ino,
			          "the directory opened is not beneath the root");
			close(fd);
			made++;
			/* Removed through what was opened, never through a path. */
			cr_assert_eq(unlinkat(up, "b", AT_REMOVEDIR), 0);
			close(up);
			unlinkat(root, "a", AT_REMOVEDIR);
		} else {
			refused++;
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cr_assert(!exists("outside/b"), "a directory was created outside the root");
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", out);
	cr_assert_eq(system(cmd), 0, "something was created outside the root");
	cr_log_info("made %u, refused %u", made, refused);
	cr_assert_gt(made + refused, 0);
}

#ifdef NXP_TEST_HOOKS
/* The window itself, made certain with the test hook: right after a is
 * made (and before it is opened), it is swapped for a link to outside/.
 * The call refuses and nothing is created outside. */
static char swap_to[128];
static void swap_for_link(int dirfd, const char *name)
{
	cr_assert_eq(unlinkat(dirfd, name, AT_REMOVEDIR), 0);
	cr_assert_eq(symlinkat(swap_to, dirfd, name), 0);
}

Test(beneath, directory_swapped_for_a_link_after_mkdir_is_refused)
{
	snprintf(swap_to, sizeof(swap_to), "%s/outside", dir);
	nxpi_beneath_test_after_mkdir = swap_for_link;
	nxp_error err = {0};
	const char *leaf = NULL;
	int fd = nxpi_open_parent_beneath(root, "root", "a/b/x.dll", 1, &leaf, &err);
	nxpi_beneath_test_after_mkdir = NULL;
	cr_assert_eq(fd, -1, "a directory swapped for a link was followed");
	cr_assert(strstr(err.msg, "symbolic link"), "%s", err.msg);
	cr_assert(!exists("outside/b"), "a directory was created outside the root");
}
#endif
