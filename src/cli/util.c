/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/escape.h"

static void vreport(const char *path, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* One line on stderr: names in the path and the message are escaped (a
 * newline in a file name cannot forge a line). */
static void vreport(const char *path, const char *fmt, va_list ap)
{
	char msg[NXP_ERROR_MSG_MAX + 4096];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fputs("nxpatch: ", stderr);
	if (path)
		fprintf(stderr, "%s: ", nxpi_shown(path));
	fprintf(stderr, "%s\n", nxpi_shown(msg));
}

void cli_error(const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(path, fmt, ap);
	va_end(ap);
}

void cli_error_e(const char *path, const nxp_error *err)
{
	cli_error(path, "%s", err->msg);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "nxpatch %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nsee 'nxpatch %s --help'\n", cmd);
	return NXP_EXIT_USAGE;
}

int cli_parse_color(const char *cmd, const char *arg, int *mode)
{
	if (!arg || !strcmp(arg, "always"))
		*mode = CLI_COLOR_ALWAYS;
	else if (!strcmp(arg, "auto"))
		*mode = CLI_COLOR_AUTO;
	else if (!strcmp(arg, "never"))
		*mode = CLI_COLOR_NEVER;
	else {
		cli_usage(cmd, "--color takes auto, always or never, not '%s'", arg);
		return 0;
	}
	return 1;
}

int cli_use_color(int mode, int fd)
{
	if (mode != CLI_COLOR_AUTO)
		return mode == CLI_COLOR_ALWAYS;
	const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
	if (no && *no)
		return 0;
	if (term && !strcmp(term, "dumb"))
		return 0;
	return isatty(fd);
}
