/* SPDX-License-Identifier: Apache-2.0 */
/* Inline edits (EDITBIN-style) of plan, apply and verify: --set, --clear,
 * --section, --signature, --checksum, --allow-wx, collected in command-line
 * order and compiled by the library (nxp_policy_add_edits) after the
 * --policy file's rules (src/cli/edits.c). */
#ifndef NXP_CLI_EDITS_H
#define NXP_CLI_EDITS_H

#include <stddef.h>

#include "cli/opt.h"
#include "nxpatch/policy.h"

enum {
	CLI_OPT_SET = 0x400,
	CLI_OPT_CLEAR,
	CLI_OPT_SECTION,
	CLI_OPT_SIGNATURE,
	CLI_OPT_CHECKSUM,
	CLI_OPT_ALLOW_WX
};

/* The inline edits, a table for cli/opt.h; taken by cli_edit_opt(). */
extern const cli_opt cli_edit_options[];

#define CLI_MAX_EDITS 256

typedef struct cli_edits {
	nxp_edit items[CLI_MAX_EDITS];
	size_t n;
} cli_edits;

/* Take option c. Returns 1 when taken, 0 when c is not an edit option, -1
 * after printing a usage error. */
int cli_edit_opt(cli_edits *e, int c, const char *arg, const char *cmd);

/* The policy of plan, apply and verify: --policy ARG (or the built-in
 * default when ARG is NULL and there are no edits), then the edits. Every
 * failure is reported and returns NXP_EXIT_USAGE. *name receives what
 * reports call the policy ("FILE", "<command line>", "FILE + command line");
 * the caller frees it. */
int cli_policy_with_edits(const char *cmd, const char *arg, const cli_edits *e,
                          nxp_policy **out, char **name);

#endif
