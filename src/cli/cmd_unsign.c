/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch unsign IN -o OUT: remove the certificate table (truncate at it,
 * zero directory entry 4, recompute CheckSum): a signature-only plan through
 * the library's writer (cli/sigwrite.c). */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/sigwrite.h"

static const cli_optgroup groups[] = {
	{"options", cli_sigwrite_options},
	CLI_GROUPS_END,
};

int cmd_unsign(int argc, char **argv)
{
	cli_sigwrite w = {.action = NXP_SIGACT_STRIP};
	cli_parser p;
	cli_parse_init(&p, "unsign", "IN -o OUT [options]", cli_sigwrite_about, groups);
	int c;
	while ((c = cli_next(&p, argc, argv)) != CLI_END) {
		if (c == CLI_STOP)
			return p.status;
		cli_sigwrite_opt(&w, c, p.arg);
	}
	if (p.optind >= argc)
		return cli_usage("unsign", "no input file");
	if (p.optind + 1 < argc)
		return cli_usage("unsign", "one input file at a time");
	if (!w.out)
		return cli_usage("unsign", "no output file (-o OUT; OUT may be IN)");
	w.in = argv[p.optind];
	return cli_sigwrite_run(&w);
}
