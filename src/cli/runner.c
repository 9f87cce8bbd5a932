/* SPDX-License-Identifier: Apache-2.0 */
/* The shared runner of the batch commands (runner.h). */
#include <stdlib.h>

#include "cli/edits.h"
#include "cli/runner.h"
#include "nxpatch/policy.h"

/* What the runner reads for every batch command. */
typedef struct common {
	batch_opts bo;
	const char *policy_path;
	cli_edits edits;
} common;

/* The groups of --help: the command's options, the inline edits (when it
 * loads a policy), the batch options, then its own further groups. */
static void make_groups(const struct nxp_cmd *c, cli_optgroup *g)
{
	size_t n = 0;
	g[n++] = (cli_optgroup){"options", c->batch->options};
	if (c->needs_policy)
		g[n++] = (cli_optgroup){"inline edits (EDITBIN-style; after the --policy file's rules)",
		                        cli_edit_options};
	g[n++] = (cli_optgroup){"batch options", batch_options};
	for (const cli_optgroup *m = c->batch->more; m && m->title; m++)
		g[n++] = *m;
	g[n] = (cli_optgroup)CLI_GROUPS_END;
}

/* The options: 0 with *first the first operand, or the exit status to
 * stop with (--help printed: 0, as p.status says). */
static int parse(const struct nxp_cmd *c, void *ctx, common *k, int argc, char **argv,
                 int *first, int *stop)
{
	const cli_batch_spec *B = c->batch;
	cli_optgroup groups[8];
	make_groups(c, groups);
	cli_parser p;
	cli_parse_init(&p, c->name, B->synopsis, B->about, groups);
	int o;
	while ((o = cli_next(&p, argc, argv)) != CLI_END) {
		if (o == CLI_STOP) {
			*stop = 1;
			return p.status;
		}
		int s = c->needs_policy ? cli_edit_opt(&k->edits, o, p.arg, c->name) : 0;
		if (!s)
			s = batch_opt(&k->bo, o, p.arg, c->name);
		if (!s && o == 'p' && c->needs_policy) {
			k->policy_path = p.arg;
			s = 1;
		} else if (!s && o == 'f') {
			s = cli_parse_format_in(c->name, p.arg, &k->bo.format, c->formats) ? 1 : -1;
		} else if (!s) {
			s = B->opt(ctx, o, p.arg);
		}
		if (s < 0)
			return NXP_EXIT_USAGE;
	}
	*first = p.optind;
	return 0;
}

/* After the options: the operands, the command's checks, standard input
 * claimed, the policy, the command's set-up, the run. */
static int run(const struct nxp_cmd *c, void *ctx, common *k, char **paths, int n)
{
	const cli_batch_spec *B = c->batch;
	if (n == 0 && !k->bo.from)
		return cli_usage(c->name, "no input files");
	int status = B->check ? B->check(ctx, &k->bo, paths, n) : 0;
	if (!status)
		status = batch_claim_stdin(c->name, &k->bo, paths, n);
	nxp_policy *pol = NULL;
	char *pol_name = NULL;
	if (!status && c->needs_policy)
		status = cli_policy_with_edits(c->name, k->policy_path, &k->edits, &pol, &pol_name);
	if (!status && B->setup)
		status = B->setup(ctx, pol, &k->bo);
	if (!status) {
		batch_cmd cmd = {.name = c->name, .policy = pol_name, .labels = c->labels,
		                 .process = B->process, .begin = B->begin, .end = B->end,
		                 .ctx = ctx};
		status = batch_run(&cmd, &k->bo, paths, n);
		if (B->finish)
			status = B->finish(ctx, status);
	}
	free(pol_name);
	nxp_policy_free(pol);
	return status;
}

int cli_run_batch(const struct nxp_cmd *c, int argc, char **argv)
{
	const cli_batch_spec *B = c->batch;
	common *k = calloc(1, sizeof(*k));
	void *ctx = calloc(1, B->ctx_size ? B->ctx_size : 1);
	if (!k || !ctx) {
		free(k);
		free(ctx);
		cli_error(NULL, "out of memory");
		return NXP_EXIT_INPUT;
	}
	batch_opts_init(&k->bo);
	if (B->init)
		B->init(ctx);
	int first = 0, stop = 0;
	int status = parse(c, ctx, k, argc, argv, &first, &stop);
	if (!status && !stop)
		status = run(c, ctx, k, argv + first, argc - first);
	free(ctx);
	free(k);
	return status;
}
