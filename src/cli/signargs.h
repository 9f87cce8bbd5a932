/* SPDX-License-Identifier: Apache-2.0 */
/* Signing options shared by `sign` and `apply`: key material, digest,
 * signing time (or SOURCE_DATE_EPOCH), opus info and timestamping. */
#ifndef NXP_CLI_SIGNARGS_H
#define NXP_CLI_SIGNARGS_H

#include "cli/opt.h"

#include "nxpatch/sign.h"

enum {
	CLI_OPT_CERT = 0x100,
	CLI_OPT_KEY,
	CLI_OPT_PKCS12,
	CLI_OPT_PASS_ENV,
	CLI_OPT_PASS_FILE,
	CLI_OPT_DIGEST,
	CLI_OPT_SIGNING_TIME,
	CLI_OPT_PROGRAM_NAME,
	CLI_OPT_URL,
	CLI_OPT_TIMESTAMP_URL
};

/* The signing options (key material, digest, time, opus, timestamp), a
 * table for cli/opt.h; taken by cli_sign_opt(). SOURCE_DATE_EPOCH fixes the
 * signing time when --signing-time is not given. */
extern const cli_opt cli_sign_options[];

typedef struct cli_sign_args {
	nxp_key_source ks;
	nxp_sign_opts so;
	const char *time_arg;
	const char *first;       /* the first signing option given ("cert"), or NULL */
	const char *first_other; /* the first one that is not key material, or NULL */
} cli_sign_args;

void cli_sign_init(cli_sign_args *a);
/* Take option c (from cli_sign_options). Returns 1 when taken, 0 when c
 * is not a signing option, -1 after printing a usage error. */
int cli_sign_opt(cli_sign_args *a, int c, const char *arg, const char *cmd);
/* The first signing option given ("key", "digest"), or NULL: what a
 * command that would not sign names in its error. */
const char *cli_sign_given(const cli_sign_args *a);
/* 1 when any key material was given. */
int cli_sign_has_key(const cli_sign_args *a);
/* Check the combination; returns 0 or an exit status after printing. */
int cli_sign_finish(cli_sign_args *a, const char *cmd, int key_required);
/* Load the signer; returns 0 or an exit status after printing. */
int cli_sign_load(const cli_sign_args *a, nxp_signer **out);

#endif
