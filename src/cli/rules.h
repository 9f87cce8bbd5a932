/* SPDX-License-Identifier: Apache-2.0 */
/* Shipped rule sets found by name, and the --policy argument (src/cli/rules.c). */
#ifndef NXP_CLI_RULES_H
#define NXP_CLI_RULES_H

#include <limits.h>
#include <stddef.h>

struct nxp_policy;

#define NXP_POLICY_STDIN_MAX (1 << 20)

/* The directories searched for NAME.yaml, in order; returns how many. */
int cli_rules_dirs(char dirs[][PATH_MAX], int max);
/* The path of shipped rule set NAME (with or without .yaml) in out; 1 found. */
int cli_find_rules(const char *name, char *out, size_t size);
/* `nxpatch policy list` and `nxpatch policy show NAME`. */
int cli_rules_list(void);
int cli_rules_show(const char *name);
/* The --policy argument of plan, apply and verify: NULL (the built-in
 * default), "-" (standard input), a file, or a shipped rule set's name.
 * Every failure (missing, unreadable, invalid) is reported and returns
 * NXP_EXIT_USAGE; 0 on success. */
int cli_load_policy_arg(const char *cmd, const char *arg, struct nxp_policy **out);

#endif
