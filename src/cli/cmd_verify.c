/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch verify [--policy FILE] [--trust CA.pem] [--format text|json|jsonl|sarif|html]
 *   [batch options] PATH...
 * Does each image comply: nothing pending under the policy, a valid or zero
 * checksum, no W+X section the policy does not allow, and (with --trust)
 * every signature entry valid and chaining to a trust anchor. */

#include "cli/batch.h"
#include "cli/cli.h"
#include "cli/runner.h"
#include "nxpatch/check.h"
#include "nxpatch/input.h"
#include "nxpatch/plan.h"
#include "nxpatch/report.h"
#include "nxpatch/sign.h"
#include "util/escape.h"

static const cli_opt verify_options[] = {
	{'p', 'p', "policy", "FILE", "the policy: a file, a shipped rule set's name, or - (stdin)"},
	{'t', 't', "trust", "CA.pem", "also check every signature chains to these trust anchors"},
	{'f', 'f', "format", "FORMAT", "text (default), json, jsonl, sarif or html"},
	CLI_OPT_END,
};

static void print_text(FILE *out, const char *path, const nxp_check *c, json_t *sigs)
{
	fprintf(out, "%s: %s\n", nxpi_shown(path), c->compliant ? "ok" : "does not comply");
	nxp_text_findings(out, &c->findings, 1);
	for (size_t i = 0; i < json_array_size(sigs); i++) {
		json_t *s = json_array_get(sigs, i);
		json_t *ts = json_object_get(s, "timestamp");
		json_t *when = json_object_get(s, "signing_time");
		fprintf(out, "  signature %lld: %s, signer %s, %s, signed %s, timestamp %s\n",
		       (long long)json_integer_value(json_object_get(s, "entry")),
		       json_string_value(json_object_get(s, "status")),
		       json_string_value(json_object_get(s, "subject")),
		       json_string_value(json_object_get(s, "digest")),
		       json_is_string(when) ? json_string_value(when) : "(no time)",
		       json_is_object(ts) ? (json_is_string(json_object_get(ts, "time"))
		                                     ? json_string_value(json_object_get(ts, "time"))
		                                     : json_string_value(json_object_get(ts, "kind")))
		                          : "none");
	}
	nxp_text_findings(out, &c->findings, 0);
}

typedef struct verify_ctx {
	const char *trust_path;
	const nxp_policy *pol;
	nxp_trust *trust;
	int format;
	int verbose;
} verify_ctx;

static void verify_one(void *vctx, const batch_item *it, batch_rec *r)
{
	const verify_ctx *ctx = vctx;
	nxp_input *in;
	if (batch_open(it, r, &in))
		return;
	nxp_check c;
	nxp_error err = {0};
	nxp_check_options co = {.trust = ctx->trust};
	if (nxp_check_image(&c, ctx->pol, &in->facts, &co, &err)) {
		batch_error(r, it->path, "%s", err.msg);
		r->cls = BATCH_FAILED;
		r->exit = NXP_EXIT_INPUT;
		nxp_check_free(&c);
		nxp_input_close(in);
		return;
	}
	json_t *sigs = nxp_json_signatures(c.sigs, c.nsigs);
	int ok = c.compliant;
	r->cls = ok ? BATCH_COMPLIANT : BATCH_NONCOMPLIANT;
	r->exit = ok ? NXP_EXIT_OK : NXP_EXIT_CHECK;
	batch_findings(r, &c.findings, &in->img);
	if (ctx->format != CLI_TEXT) {
		json_t *problems = json_array();
		for (size_t i = 0; i < c.findings.n; i++)
			if (nxp_finding_info_of(c.findings.items[i].id)->verdict != NXP_VERDICT_POSTURE)
				json_array_append_new(problems, nxp_json_text(c.findings.items[i].message));
		r->report = json_pack("{s:o, s:s, s:b, s:o, s:o, s:o, s:o}", "path",
		                      nxpi_json_name(it->path), "status",
		                      ok ? "ok" : "fail", "compliant", ok, "problems", problems,
		                      "signatures", sigs, "findings",
		                      nxp_json_findings(&c.findings, &in->img), "evidence",
		                      nxp_json_evidence(&in->facts));
	} else {
		print_text(r->out, it->path, &c, sigs);
		if (ctx->verbose)
			cli_text_rules(r->out, c.plan);
		json_decref(sigs);
	}
	nxp_check_free(&c);
	nxp_input_close(in);
}

static int verify_opt(void *vctx, int c, const char *arg)
{
	verify_ctx *ctx = vctx;
	if (c == 't')
		ctx->trust_path = arg;
	return 1;
}

static int verify_setup(void *vctx, const nxp_policy *pol, const batch_opts *bo)
{
	verify_ctx *ctx = vctx;
	ctx->pol = pol;
	ctx->format = bo->format;
	ctx->verbose = bo->verbose;
	if (ctx->trust_path) {
		nxp_error err = {0};
		if (nxp_trust_load(&ctx->trust, ctx->trust_path, &err)) {
			cli_error(ctx->trust_path, "%s", err.msg);
			return NXP_EXIT_USAGE;
		}
	}
	return 0;
}

static int verify_finish(void *vctx, int status)
{
	verify_ctx *ctx = vctx;
	nxp_trust_free(ctx->trust);
	return status;
}

const cli_batch_spec cli_verify_spec = {
	.synopsis = "[options] PATH...",
	.about = "Checks each image complies with the policy: nothing pending, a valid or zero\n"
	         "checksum, no W+X section the policy does not allow, and with --trust every\n"
	         "signature valid and chaining to a trust anchor.\n",
	.options = verify_options,
	.ctx_size = sizeof(verify_ctx),
	.opt = verify_opt,
	.setup = verify_setup,
	.process = verify_one,
	.finish = verify_finish,
};
