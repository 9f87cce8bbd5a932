/* SPDX-License-Identifier: Apache-2.0 */
/* "-" as standard input and "-o -" as standard output (cli/dash.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/dash.h"

/* A private directory under TMPDIR (or /tmp): mkdtemp makes it 0700. */
static int private_dir(char *dir, size_t len, const char *what)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, len, "%s/nxpatch-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", what);
	if (mkdtemp(dir))
		return 0;
	cli_error(NULL, "cannot create a temporary directory for %s: %s", what, strerror(errno));
	dir[0] = 0;
	return -1;
}

/* Copy from fd to fd; 0, or -1 with errno set. */
static int copy_fd(int from, int to)
{
	char buf[1 << 16];
	for (;;) {
		ssize_t n = read(from, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(to, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1;
			off += w;
		}
	}
}

static char stdin_dir[PATH_MAX - 16], stdin_file[PATH_MAX];
static const char *stdin_owner;

int cli_stdin_claim(const char *cmd, const char *what)
{
	if (stdin_owner && !strcmp(stdin_owner, what))
		return 0; /* the same use, claimed early (batch_claim_stdin) */
	if (stdin_owner)
		return cli_usage(cmd, "standard input is %s already: it cannot also be %s", stdin_owner,
		                 what);
	stdin_owner = what;
	return 0;
}

void cli_stdin_remove(void)
{
	if (stdin_file[0])
		unlink(stdin_file);
	if (stdin_dir[0])
		rmdir(stdin_dir);
	stdin_file[0] = stdin_dir[0] = 0;
}

int cli_stdin_spool(const char *cmd, const char **path)
{
	int status = cli_stdin_claim(cmd, "the input -");
	if (status)
		return status;
	if (stdin_dir[0])
		return cli_usage(cmd, "- (standard input) may be given once");
	if (isatty(STDIN_FILENO))
		return cli_usage(cmd, "- reads an image from standard input, which is a terminal");
	if (private_dir(stdin_dir, sizeof(stdin_dir), "stdin"))
		return NXP_EXIT_INPUT;
	snprintf(stdin_file, sizeof(stdin_file), "%s/stdin", stdin_dir);
	int fd = open(stdin_file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || copy_fd(STDIN_FILENO, fd) != 0 || close(fd) != 0) {
		cli_error("-", "cannot read standard input into %s: %s", stdin_file, strerror(errno));
		if (fd >= 0)
			close(fd);
		cli_stdin_remove();
		return NXP_EXIT_INPUT;
	}
	*path = stdin_file;
	return 0;
}

int cli_stdout_begin(const char *cmd, cli_stdout *out)
{
	memset(out, 0, sizeof(*out));
	out->saved = -1;
	if (isatty(STDOUT_FILENO))
		return cli_usage(cmd, "-o - writes the image to standard output, which is a terminal: "
		                      "redirect it");
	if (private_dir(out->dir, sizeof(out->dir), "out"))
		return NXP_EXIT_INPUT;
	snprintf(out->path, sizeof(out->path), "%s/image", out->dir);
	fflush(stdout);
	if ((out->saved = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)) < 0 ||
	    dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		cli_error(NULL, "-o -: %s", strerror(errno));
		if (out->saved >= 0)
			close(out->saved);
		rmdir(out->dir);
		return NXP_EXIT_INPUT;
	}
	return 0;
}

int cli_stdout_end(cli_stdout *out, int status)
{
	fflush(stdout);
	int fd = open(out->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		if (copy_fd(fd, out->saved) != 0) {
			cli_error("-", "cannot write the image to standard output: %s", strerror(errno));
			status = NXP_EXIT_INPUT;
		}
		close(fd);
		unlink(out->path);
	}
	rmdir(out->dir);
	dup2(out->saved, STDOUT_FILENO);
	close(out->saved);
	return status;
}
