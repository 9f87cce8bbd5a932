/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>

#include "cli/cli.h"

static void vreport(const char *path, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void vreport(const char *path, const char *fmt, va_list ap)
{
	fputs("nxpatch: ", stderr);
	if (path)
		fprintf(stderr, "%s: ", path);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
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
