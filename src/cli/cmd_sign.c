/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch sign IN -o OUT (--cert F --key F | --pkcs12 F) [signing options]
 * Replaces any existing signature(s) with one new Authenticode signature:
 * a signature-only plan through the library's writer (cli/sigwrite.c). */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/signargs.h"
#include "cli/sigwrite.h"

static const char usage[] = "usage: nxpatch sign IN -o OUT [--cross-check] "
                            "[--allow-metadata-loss]\n" CLI_SIGWRITE_USAGE CLI_SIGN_USAGE;

int cmd_sign(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		CLI_SIGN_LONG_OPTIONS,
		CLI_SIGWRITE_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	cli_sign_args a;
	cli_sign_init(&a);
	cli_sigwrite w = {.action = NXP_SIGACT_RESIGN};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", lopts, NULL)) != -1) {
		int s = cli_sign_opt(&a, c, optarg, "sign");
		if (s < 0)
			return NXP_EXIT_USAGE;
		if (s > 0 || cli_sigwrite_opt(&w, c))
			continue;
		switch (c) {
		case 'o': w.out = optarg; break;
		case 'h': fputs(usage, stdout); return NXP_EXIT_OK;
		default: return cli_usage("sign", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage("sign", "no input file");
	if (optind + 1 < argc)
		return cli_usage("sign", "one input file at a time");
	if (!w.out)
		return cli_usage("sign", "no output file (-o OUT; OUT may be IN)");
	int status = cli_sign_finish(&a, "sign", 1);
	nxp_signer *signer = NULL;
	if (status || (status = cli_sign_load(&a, &signer)))
		return status;
	w.in = argv[optind];
	w.signer = signer;
	w.so = &a.so;
	status = cli_sigwrite_run(&w);
	nxp_signer_free(signer);
	return status;
}
