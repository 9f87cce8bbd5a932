/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch unsign IN -o OUT: remove the certificate table (truncate at it,
 * zero directory entry 4, recompute CheckSum): a signature-only plan through
 * the library's writer (cli/sigwrite.c). */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/sigwrite.h"

static const char usage[] = "usage: nxpatch unsign IN -o OUT [--cross-check] "
                            "[--allow-metadata-loss]\n" CLI_SIGWRITE_USAGE;

int cmd_unsign(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		CLI_SIGWRITE_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	cli_sigwrite w = {.action = NXP_SIGACT_STRIP};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", lopts, NULL)) != -1) {
		if (cli_sigwrite_opt(&w, c))
			continue;
		switch (c) {
		case 'o': w.out = optarg; break;
		case 'h': fputs(usage, stdout); return NXP_EXIT_OK;
		default: return cli_usage("unsign", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage("unsign", "no input file");
	if (optind + 1 < argc)
		return cli_usage("unsign", "one input file at a time");
	if (!w.out)
		return cli_usage("unsign", "no output file (-o OUT; OUT may be IN)");
	w.in = argv[optind];
	return cli_sigwrite_run(&w);
}
