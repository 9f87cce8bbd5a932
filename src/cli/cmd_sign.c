/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch sign IN -o OUT (--cert F --key F | --pkcs12 F) [signing options]
 * Replaces any existing signature(s) with one new Authenticode signature:
 * a signature-only plan through the library's writer (cli/sigwrite.c). */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/signargs.h"
#include "cli/sigwrite.h"

static const cli_optgroup groups[] = {
	{"options", cli_sigwrite_options},
	{"signing options", cli_sign_options},
	CLI_GROUPS_END,
};

int cmd_sign(int argc, char **argv)
{
	cli_sign_args a;
	cli_sign_init(&a);
	cli_sigwrite w = {.action = NXP_SIGACT_RESIGN};
	cli_parser p;
	cli_parse_init(&p, "sign", "IN -o OUT (--cert CERT.pem --key KEY.pem | --pkcs12 FILE.p12) "
	               "[options]", cli_sigwrite_about, groups);
	int c;
	while ((c = cli_next(&p, argc, argv)) != CLI_END) {
		if (c == CLI_STOP)
			return p.status;
		int s = cli_sign_opt(&a, c, p.arg, "sign");
		if (s < 0)
			return NXP_EXIT_USAGE;
		if (!s)
			cli_sigwrite_opt(&w, c, p.arg);
	}
	if (p.optind >= argc)
		return cli_usage("sign", "no input file");
	if (p.optind + 1 < argc)
		return cli_usage("sign", "one input file at a time");
	if (!w.out)
		return cli_usage("sign", "no output file (-o OUT; OUT may be IN)");
	int status = cli_sign_finish(&a, "sign", 1);
	nxp_signer *signer = NULL;
	if (status || (status = cli_sign_load(&a, &signer)))
		return status;
	w.in = argv[p.optind];
	w.signer = signer;
	w.so = &a.so;
	status = cli_sigwrite_run(&w);
	nxp_signer_free(signer);
	return status;
}
