/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch plan [--policy FILE] [--format text|json|jsonl|sarif|html] [--check]
 *   [batch options] PATH...
 * The dry run: what apply would change in each image. Writes nothing. */

#include "cli/batch.h"
#include "cli/cli.h"
#include "cli/runner.h"
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

static int plan_opt(void *vctx, int c, const char *arg)
{
	plan_ctx *ctx = vctx;
	(void)arg;
	if (c == 'c')
		ctx->check = 1;
	return 1;
}

static int plan_setup(void *vctx, const nxp_policy *pol, const batch_opts *bo)
{
	plan_ctx *ctx = vctx;
	ctx->pol = pol;
	ctx->format = bo->format;
	ctx->verbose = bo->verbose;
	return 0;
}

const cli_batch_spec cli_plan_spec = {
	.synopsis = "[options] PATH...",
	.about = "Shows what apply would change in each image (the dry run); writes nothing.\n",
	.options = plan_options,
	.ctx_size = sizeof(plan_ctx),
	.opt = plan_opt,
	.setup = plan_setup,
	.process = plan_one,
};
