/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch verify [--policy FILE] [--trust CA.pem] [--format text|json|jsonl|sarif|html]
 *   [batch options] PATH...
 * Does each image comply: nothing pending under the policy, a valid or zero
 * checksum, no W+X section the policy does not allow, and (with --trust)
 * every signature entry valid and chaining to a trust anchor. */
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
#include "nxpatch/sign.h"
#include "util/escape.h"

static const cli_opt verify_options[] = {
	{'p', 'p', "policy", "FILE", "the policy: a file, a shipped rule set's name, or - (stdin)"},
	{'t', 't', "trust", "CA.pem", "also check every signature chains to these trust anchors"},
	{'f', 'f', "format", "FORMAT", "text (default), json, jsonl, sarif or html"},
	CLI_OPT_END,
};

static const cli_optgroup groups[] = {
	{"options", verify_options},
	{"inline edits (EDITBIN-style; after the --policy file's rules)", cli_edit_options},
	{"batch options", batch_options},
	CLI_GROUPS_END,
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
	const nxp_policy *pol;
	const nxp_trust *trust;
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

int cmd_verify(int argc, char **argv)
{
	const char *policy_path = NULL, *trust_path = NULL;
	cli_edits edits = {.n = 0};
	batch_opts bo;
	batch_opts_init(&bo);
	cli_parser p;
	cli_parse_init(&p, "verify", "[options] PATH...",
	               "Checks each image complies with the policy: nothing pending, a valid or zero\n"
	               "checksum, no W+X section the policy does not allow, and with --trust every\n"
	               "signature valid and chaining to a trust anchor.\n",
	               groups);
	int c;
	while ((c = cli_next(&p, argc, argv)) != CLI_END) {
		if (c == CLI_STOP)
			return p.status;
		int s = cli_edit_opt(&edits, c, p.arg, "verify");
		if (!s)
			s = batch_opt(&bo, c, p.arg, "verify");
		if (s < 0)
			return NXP_EXIT_USAGE;
		if (s > 0)
			continue;
		switch (c) {
		case 'p': policy_path = p.arg; break;
		case 't': trust_path = p.arg; break;
		case 'f':
			if (!cli_parse_format_in("verify", p.arg, &bo.format,
			                         1u << CLI_TEXT | 1u << CLI_JSON | 1u << CLI_JSONL |
			                                 1u << CLI_SARIF | 1u << CLI_HTML))
				return NXP_EXIT_USAGE;
			break;
		}
	}
	if (p.optind >= argc && !bo.from)
		return cli_usage("verify", "no input files");
	nxp_policy *pol;
	char *pol_name;
	int status = batch_claim_stdin("verify", &bo, argv + p.optind, argc - p.optind);
	if (!status)
		status = cli_policy_with_edits("verify", policy_path, &edits, &pol, &pol_name);
	if (status)
		return status;
	nxp_trust *trust = NULL;
	if (trust_path) {
		nxp_error err = {0};
		if (nxp_trust_load(&trust, trust_path, &err)) {
			cli_error(trust_path, "%s", err.msg);
			free(pol_name);
			nxp_policy_free(pol);
			return NXP_EXIT_USAGE;
		}
	}
	verify_ctx ctx = {pol, trust, bo.format, bo.verbose};
	batch_cmd cmd = {.name = "verify", .policy = pol_name, .process = verify_one, .ctx = &ctx,
	                 .labels = {.compliance = 1}};
	status = batch_run(&cmd, &bo, argv + p.optind, argc - p.optind);
	free(pol_name);
	nxp_trust_free(trust);
	nxp_policy_free(pol);
	return status;
}
