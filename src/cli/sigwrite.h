/* SPDX-License-Identifier: Apache-2.0 */
/* sign and unsign: a signature-only plan through the library's one writer. */
#ifndef NXP_CLI_SIGWRITE_H
#define NXP_CLI_SIGWRITE_H

#include "cli/opt.h"
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

enum { CLI_OPT_CROSS_CHECK = 0x180, CLI_OPT_ALLOW_META_LOSS };

/* --cross-check, --allow-metadata-loss (cli/opt.h). */
extern const cli_opt cli_sigwrite_options[];
/* "OUT may be IN ..." for the help of sign and unsign. */
extern const char cli_sigwrite_about[];

/* Take option c; 1 when taken. */
int cli_sigwrite_opt(cli_sigwrite *w, int c, const char *arg);
/* Write it and print the result; returns the exit status. */
int cli_sigwrite_run(const cli_sigwrite *w);

#endif
