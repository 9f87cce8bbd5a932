/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch scan [--format text|json|jsonl|sarif|html] [--cross-check] [batch options] PATH...
 * Reports each image's DEP/NX posture. */
#include <string.h>

#include "cli/batch.h"
#include "cli/cli.h"
#include "cli/runner.h"
#include "nxpatch/check.h"
#include "nxpatch/crosscheck.h"
#include "nxpatch/input.h"
#include "nxpatch/report.h"

#define MAX_MISMATCHES 64

static const cli_opt scan_options[] = {
	{'f', 'f', "format", "FORMAT", "text (default), json, jsonl, sarif or html"},
	{'c', 0, "cross-check", NULL, "compare every header and section field with LIEF's reading"},
	CLI_OPT_END,
};

typedef struct scan_ctx {
	int json;
	int cross;
	int verbose;
} scan_ctx;

/* Compare LIEF's view with the reader's. Returns 1 when they agree, 0 when
 * they disagree, -1 when LIEF could not read the file. */
static int cross_check(const nxp_input *in, json_t *o, batch_rec *r)
{
	nxp_mismatch mm[MAX_MISMATCHES];
	size_t n = 0;
	nxp_error err = {0};
	int rc = nxp_crosscheck_file(in->path, &in->img, mm, MAX_MISMATCHES, &n, &err);
	if (rc == NXP_E_LIEF || (rc && rc != NXP_E_CROSS_CHECK)) {
		batch_error(r, in->path, "%s", err.msg);
		if (o)
			json_object_set_new(o, "cross_check",
			                    json_pack("{s:b, s:s, s:[]}", "agree", 0, "error", err.msg,
			                              "mismatches"));
		return -1;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < n && i < MAX_MISMATCHES; i++) {
		json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "field", mm[i].field, "reader",
		                                      mm[i].reader, "lief", mm[i].lief));
		if (!o)
			fprintf(r->out, "  cross-check  %s: reader %s, lief %s\n", mm[i].field,
			        mm[i].reader, mm[i].lief);
	}
	if (o)
		json_object_set_new(o, "cross_check",
		                    json_pack("{s:b, s:I, s:o}", "agree", n == 0, "count", (json_int_t)n,
		                              "mismatches", list));
	else {
		if (n == 0)
			fprintf(r->out, "  cross-check  lief agrees on every header and section field\n");
		json_decref(list);
	}
	return n == 0;
}

/* The image's posture (the judge without a policy): its findings go into
 * the JSON report and the SARIF document. */
static void scan_findings(const nxp_input *in, json_t *o, batch_rec *r, int verbose)
{
	nxp_check c;
	nxp_error err = {0};
	if (nxp_check_image(&c, NULL, &in->facts, NULL, &err)) {
		batch_error(r, in->path, "%s", err.msg);
		r->exit = NXP_EXIT_INPUT;
		nxp_check_free(&c);
		return;
	}
	batch_findings(r, &c.findings, &in->img);
	if (o)
		json_object_set_new(o, "findings", nxp_json_findings(&c.findings, &in->img));
	else if (verbose)
		nxp_text_findings(r->out, &c.findings, 0);
	nxp_check_free(&c);
}

static void scan_one(void *vctx, const batch_item *it, batch_rec *r)
{
	const scan_ctx *ctx = vctx;
	nxp_input *in;
	if (batch_open(it, r, &in))
		return;
	json_t *o = ctx->json ? nxp_json_image(&in->facts) : NULL;
	if (!ctx->json)
		nxp_text_image(r->out, &in->facts);
	if (ctx->cross) {
		int agree = cross_check(in, o, r);
		if (agree < 0)
			r->exit = NXP_EXIT_INPUT;
		else if (!agree)
			r->exit = NXP_EXIT_CHECK;
	}
	scan_findings(in, o, r, ctx->verbose);
	r->report = o;
	nxp_input_close(in);
}

static int scan_opt(void *vctx, int c, const char *arg)
{
	scan_ctx *ctx = vctx;
	(void)arg;
	if (c == 'c')
		ctx->cross = 1;
	return 1;
}

static int scan_setup(void *vctx, const nxp_policy *pol, const batch_opts *bo)
{
	scan_ctx *ctx = vctx;
	(void)pol;
	ctx->json = bo->format == CLI_JSON || bo->format == CLI_JSONL || bo->format == CLI_HTML;
	ctx->verbose = bo->verbose;
	return 0;
}

const cli_batch_spec cli_scan_spec = {
	.synopsis = "[options] PATH...",
	.about = "Reports each image's DEP/NX posture; changes nothing.\n",
	.options = scan_options,
	.ctx_size = sizeof(scan_ctx),
	.opt = scan_opt,
	.setup = scan_setup,
	.process = scan_one,
};
