/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>

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
		fprintf(stderr, "%s: ", nxp_shown(path));
	fprintf(stderr, "%s\n", nxp_shown(msg));
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
	fprintf(stderr, "\nsee 'nxpatch help'\n");
	return NXP_EXIT_USAGE;
}
