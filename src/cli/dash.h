/* SPDX-License-Identifier: Apache-2.0 */
/* "-" on the command line: an input image read from standard input, and
 * "-o -", an output image written to standard output. Images are read by
 * path (mapped, locked, re-read by the LIEF worker) and outputs are written
 * and verified through the one writer before anything is replaced, so both
 * go through a file in a private directory (mode 0700 under TMPDIR) that is
 * removed afterwards. */
#ifndef NXP_CLI_DASH_H
#define NXP_CLI_DASH_H

#include <limits.h>

/* Standard input is read once, for one thing: what ("--policy -", "--from
 * -", "the input -") claims it. Returns 0 (also when what claimed it
 * already), or prints a usage error naming both uses and returns
 * NXP_EXIT_USAGE when something else did. */
int cli_stdin_claim(const char *cmd, const char *what);

/* Copy standard input (not a terminal) into a private file once; *path
 * names it. Returns 0 or an exit status after printing (cmd names the
 * command in usage errors). A second call is a usage error. */
int cli_stdin_spool(const char *cmd, const char **path);
/* Remove the spooled file (and its directory), if any. */
void cli_stdin_remove(void);

/* -o -: out->path is where the command writes the image; until
 * cli_stdout_end() standard output is redirected to standard error, so
 * reports and messages go there and standard output carries the image
 * alone. */
typedef struct cli_stdout {
	int saved;                  /* the real standard output */
	char dir[PATH_MAX - 16];
	char path[PATH_MAX];
} cli_stdout;

/* Returns 0 or an exit status after printing (standard output is a
 * terminal: a usage error). */
int cli_stdout_begin(const char *cmd, cli_stdout *out);
/* Copy what was written to out->path (if anything) to the real standard
 * output, restore it, remove the file. Returns status, or NXP_EXIT_INPUT
 * when the copy failed. */
int cli_stdout_end(cli_stdout *out, int status);

#endif
