/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch plan [--policy FILE] [--format text|json|jsonl|sarif|html] [--check]
 *   [batch options] PATH...
 * The dry run: what apply would change in each image. Writes nothing. */
#include <stdlib.h>
#include <string.h>

#include "cli/batch.h"
#include "cli/cli.h"
#include "cli/edits.h"
#include "cli/rules.h"
#include "nxpatch/check.h"
#include "nxpatch/input.h"
#include "nxpatch/plan.h"
#include "nxpatch/report.h"

static const cli_opt plan_options[] = {
	{'p', 'p', "policy", "FILE", "the policy: a file, a shipped rule set's name, or - (stdin)"},
	{'f', 'f', "format", "FORMAT", "text (default), json, jsonl, sarif or html"},
	{'c', 0, "check", NULL, "exit 1 when any image has changes pending or is refused"},
	CLI_OPT_END,
};

static const cli_optgroup groups[] = {
	{"options", plan_options},
	{"inline edits (EDITBIN-style; after the --policy file's rules)", cli_edit_options},
	{"batch options", batch_options},
	CLI_GROUPS_END,
};

typedef struct plan_ctx {
	const nxp_policy *pol;
	int check;
	int format;
	int verbose;
} plan_ctx;

static void plan_one(void *vctx, const batch_item *it, batch_rec *r)
{
	const plan_ctx *ctx = vctx;
	nxp_input *in;
	if (batch_open(it, r, &in))
		return;
	nxp_check c;
	nxp_error err = {0};
	if (nxp_check_image(&c, ctx->pol, &in->facts, NULL, &err)) {
		batch_error(r, it->path, "%s", err.msg);
		r->cls = BATCH_FAILED;
		r->exit = NXP_EXIT_INPUT;
		nxp_check_free(&c);
		nxp_input_close(in);
		return;
	}
	const nxp_plan *plan = c.plan;
	r->cls = plan->status == NXP_PLAN_NOTHING  ? BATCH_UNCHANGED
	         : plan->status == NXP_PLAN_CHANGES ? BATCH_CHANGED
	                                            : BATCH_REFUSED;
	if (ctx->check && plan->status != NXP_PLAN_NOTHING)
		r->exit = NXP_EXIT_CHECK;
	if (ctx->format != CLI_TEXT) {
		r->report = nxp_json_plan(&in->facts, plan);
		json_object_set_new(r->report, "findings", nxp_json_findings(&c.findings, &in->img));
	}
	if (ctx->format == CLI_TEXT || ctx->format == CLI_HTML)
		nxp_text_plan(r->out, &in->facts, plan);
	if (ctx->format == CLI_TEXT && ctx->verbose) {
		cli_text_rules(r->out, plan);
		nxp_text_findings(r->out, &c.findings, 0);
	}
	batch_findings(r, &c.findings, &in->img);
	nxp_check_free(&c);
	nxp_input_close(in);
}

int cmd_plan(int argc, char **argv)
{
	const char *policy_path = NULL;
	plan_ctx ctx = {0};
	cli_edits edits = {.n = 0};
	batch_opts bo;
	batch_opts_init(&bo);
	cli_parser p;
	cli_parse_init(&p, "plan", "[options] PATH...",
	               "Shows what apply would change in each image (the dry run); writes nothing.\n",
	               groups);
	int c;
	while ((c = cli_next(&p, argc, argv)) != CLI_END) {
		if (c == CLI_STOP)
			return p.status;
		int s = cli_edit_opt(&edits, c, p.arg, "plan");
		if (!s)
			s = batch_opt(&bo, c, p.arg, "plan");
		if (s < 0)
			return NXP_EXIT_USAGE;
		if (s > 0)
			continue;
		switch (c) {
		case 'p':
			policy_path = p.arg;
			break;
		case 'f':
			if (!cli_parse_format_in("plan", p.arg, &bo.format,
			                         1u << CLI_TEXT | 1u << CLI_JSON | 1u << CLI_JSONL |
			                                 1u << CLI_SARIF | 1u << CLI_HTML))
				return NXP_EXIT_USAGE;
			break;
		case 'c':
			ctx.check = 1;
			break;
		}
	}
	if (p.optind >= argc && !bo.from)
		return cli_usage("plan", "no input files");
	nxp_policy *pol;
	char *pol_name;
	int status = batch_claim_stdin("plan", &bo, argv + p.optind, argc - p.optind);
	if (!status)
		status = cli_policy_with_edits("plan", policy_path, &edits, &pol, &pol_name);
	if (status)
		return status;
	ctx.pol = pol;
	ctx.format = bo.format;
	ctx.verbose = bo.verbose;
	batch_cmd cmd = {.name = "plan", .policy = pol_name, .process = plan_one, .ctx = &ctx,
	                 .labels = {"to change", "unchanged", "refused", 0}};
	status = batch_run(&cmd, &bo, argv + p.optind, argc - p.optind);
	free(pol_name);
	nxp_policy_free(pol);
	return status;
}
