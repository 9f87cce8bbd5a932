/* SPDX-License-Identifier: Apache-2.0 */
/* The shared runner of the batch commands (scan, plan, apply, verify), as
 * git's builtin table runs its commands: the command table's row says which
 * --format values the command takes, whether it loads a policy (--policy
 * and the inline edits) and the words of its summary; the runner parses the
 * options, loads the policy, runs the batch and frees. A command supplies
 * only what is its own: its option rows and their handler, the checks and
 * set-up of its own options, and its work on one image. */
#ifndef NXP_CLI_RUNNER_H
#define NXP_CLI_RUNNER_H

#include "cli/batch.h"
#include "cli/cli.h"

struct nxp_policy;

typedef struct cli_batch_spec {
	const char *synopsis;           /* after "nxpatch CMD " */
	const char *about;
	const cli_opt *options;         /* its own rows: the "options" group; 'p' (--policy) and
	                                   'f' (--format) rows are taken by the runner */
	const cli_optgroup *more;       /* groups after the batch options, or NULL */
	size_t ctx_size;                /* its context, zeroed, then init */
	void (*init)(void *ctx);        /* or NULL */
	/* One of its own options: 1 taken, -1 after a usage error (printed). */
	int (*opt)(void *ctx, int c, const char *arg);
	/* Once every option is read (paths: the operands): 0 or the exit
	 * status to stop with. bo may be adjusted (apply's names, suffixes).
	 * Or NULL. */
	int (*check)(void *ctx, batch_opts *bo, char **paths, int n);
	/* Before the run, with the policy (NULL when the row loads none): what
	 * else the run needs. 0, or the exit status to stop with (after
	 * freeing what it made). Or NULL. */
	int (*setup)(void *ctx, const struct nxp_policy *pol, const batch_opts *bo);
	void (*process)(void *ctx, const batch_item *it, batch_rec *r);
	/* Or the image's work in two halves (batch_cmd): apply's, whose second
	 * half waits for LIEF. */
	void *(*begin)(void *ctx, const batch_item *it, batch_rec *r);
	void (*end)(void *ctx, void *state, batch_rec *r);
	/* After the run: free what setup made; returns the final status. Or
	 * NULL. */
	int (*finish)(void *ctx, int status);
} cli_batch_spec;

/* The four commands' parts (cmd_scan.c, ...). */
extern const cli_batch_spec cli_scan_spec, cli_plan_spec, cli_apply_spec, cli_verify_spec;

/* Run the batch command of row c. */
int cli_run_batch(const struct nxp_cmd *c, int argc, char **argv);

#endif
