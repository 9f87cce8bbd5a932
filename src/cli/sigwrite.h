/* SPDX-License-Identifier: Apache-2.0 */
/* sign and unsign: a signature-only plan through the library's one writer. */
#ifndef NXP_CLI_SIGWRITE_H
#define NXP_CLI_SIGWRITE_H

#include "nxpatch/plan.h"
#include "nxpatch/sign.h"

typedef struct cli_sigwrite {
	const char *in, *out;
	nxp_sig_action action;          /* NXP_SIGACT_RESIGN (sign) or _STRIP (unsign) */
	const nxp_signer *signer;       /* sign */
	const nxp_sign_opts *so;        /* sign */
	int cross_check;                /* --cross-check */
	int allow_metadata_loss;        /* --allow-metadata-loss */
} cli_sigwrite;

#define CLI_SIGWRITE_USAGE                                                              \
	"  OUT may be IN (replaced in place: owner, group, mode and extended attributes\n"  \
	"  are kept, or the file is refused; --allow-metadata-loss replaces it anyway).\n"  \
	"  --cross-check  also re-read the output with LIEF (apply does by default)\n"

enum { CLI_OPT_CROSS_CHECK = 0x180, CLI_OPT_ALLOW_META_LOSS };

#define CLI_SIGWRITE_LONG_OPTIONS                                                    \
	{"cross-check", no_argument, NULL, CLI_OPT_CROSS_CHECK},                     \
	{"allow-metadata-loss", no_argument, NULL, CLI_OPT_ALLOW_META_LOSS}

/* Take option c; 1 when taken. */
int cli_sigwrite_opt(cli_sigwrite *w, int c);
/* Write it and print the result; returns the exit status. */
int cli_sigwrite_run(const cli_sigwrite *w);

#endif
