/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch plan [--policy FILE] [--format text|json|jsonl|sarif|html] [--check]
 *   [batch options] PATH...
 * The dry run: what apply would change in each image. Writes nothing. */
#include <getopt.h>
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

static const char usage[] =
	"usage: nxpatch plan [--policy FILE] [--format text|json|jsonl|sarif|html] [--check] "
	"[inline edits] PATH...\n" CLI_EDIT_USAGE BATCH_USAGE;

typedef struct plan_ctx {
	const nxp_policy *pol;
	int check;
	int format;
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
		r->cls = "failed";
		r->exit = NXP_EXIT_INPUT;
		nxp_check_free(&c);
		nxp_input_close(in);
		return;
	}
	const nxp_plan *plan = c.plan;
	r->cls = plan->status == NXP_PLAN_NOTHING  ? "unchanged"
	         : plan->status == NXP_PLAN_CHANGES ? "changed"
	                                            : "refused";
	if (ctx->check && plan->status != NXP_PLAN_NOTHING)
		r->exit = NXP_EXIT_CHECK;
	if (ctx->format != CLI_TEXT) {
		r->report = nxp_json_plan(&in->facts, plan);
		json_object_set_new(r->report, "findings", nxp_json_findings(&c.findings, &in->img));
	}
	if (ctx->format == CLI_TEXT || ctx->format == CLI_HTML)
		nxp_text_plan(r->out, &in->facts, plan);
	batch_findings(r, &c.findings, &in->img);
	nxp_check_free(&c);
	nxp_input_close(in);
}

int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"format", required_argument, NULL, 'f'},
		{"check", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		CLI_EDIT_LONG_OPTIONS,
		BATCH_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	const char *policy_path = NULL;
	plan_ctx ctx = {0};
	cli_edits edits = {.n = 0};
	batch_opts bo;
	batch_opts_init(&bo);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:f:h" BATCH_SHORT_OPTIONS, opts, NULL)) != -1) {
		int s = cli_edit_opt(&edits, c, optarg, "plan");
		if (!s)
			s = batch_opt(&bo, c, optarg, "plan");
		if (s < 0)
			return NXP_EXIT_USAGE;
		if (s > 0)
			continue;
		switch (c) {
		case 'p':
			policy_path = optarg;
			break;
		case 'f':
			if (!cli_parse_format_in("plan", optarg, &bo.format,
			                         1u << CLI_TEXT | 1u << CLI_JSON | 1u << CLI_JSONL |
			                                 1u << CLI_SARIF | 1u << CLI_HTML))
				return NXP_EXIT_USAGE;
			break;
		case 'c':
			ctx.check = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return NXP_EXIT_OK;
		default:
			return cli_usage("plan", "unknown option");
		}
	}
	if (optind >= argc && !bo.from)
		return cli_usage("plan", "no input files");
	nxp_policy *pol;
	char *pol_name;
	int status = cli_policy_with_edits("plan", policy_path, &edits, &pol, &pol_name);
	if (status)
		return status;
	ctx.pol = pol;
	ctx.format = bo.format;
	batch_cmd cmd = {.name = "plan", .policy = pol_name, .process = plan_one, .ctx = &ctx};
	status = batch_run(&cmd, &bo, argv + optind, argc - optind);
	free(pol_name);
	nxp_policy_free(pol);
	return status;
}
