/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch verify [--policy FILE] [--trust CA.pem] [--format text|json|jsonl|sarif]
 *   [batch options] PATH...
 * Does each image comply: nothing pending under the policy, a valid or zero
 * checksum, no W+X section the policy does not allow, and (with --trust)
 * every signature entry valid and chaining to a trust anchor. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/batch.h"
#include "cli/cli.h"
#include "nxpatch/input.h"
#include "nxpatch/plan.h"
#include "nxpatch/report.h"
#include "nxpatch/sign.h"

static const char usage[] =
	"usage: nxpatch verify [--policy FILE] [--trust CA.pem] [--format text|json|jsonl|sarif] "
	"PATH...\n" BATCH_USAGE;

typedef struct problems {
	json_t *list;
	batch_rec *r;
} problems;

/* A problem: a line of the report and a SARIF result of rule. */
static void problem(problems *p, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(problems *p, const char *rule, const char *fmt, ...)
{
	char buf[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(p->list, json_string(buf));
	batch_finding(p->r, rule, "%s", buf);
}

/* A W+X section is allowed when a matching rule selects it with allow_wx. */
static int wx_allowed(const nxp_policy *pol, const nxp_facts *f, unsigned idx)
{
	for (size_t r = 0; r < pol->nrules; r++) {
		const nxp_rule *rule = &pol->rules[r];
		if (!nxp_rule_matches(rule, f))
			continue;
		for (size_t a = 0; a < rule->nsections; a++)
			if (rule->sections[a].allow_wx && nxp_section_selected(&rule->sections[a], f, idx))
				return 1;
	}
	return 0;
}

static void check_policy(const nxp_policy *pol, const nxp_input *in, problems *p)
{
	const nxp_image *img = &in->img;
	nxp_plan *plan = malloc(sizeof(*plan));
	if (!plan) {
		problem(p, "NXP1001", "out of memory");
		return;
	}
	nxp_error err = {0};
	nxp_plan_build(plan, pol, &in->facts, NULL, &err);
	for (size_t i = 0; i < plan->nchanges; i++) {
		const nxp_change *c = &plan->changes[i];
		if (c->field == NXP_FIELD_CHECKSUM || c->field == NXP_FIELD_CERT_DIR)
			continue;
		char label[64], bits[512], rules[256];
		nxp_change_label(c, img, label, sizeof(label));
		nxp_change_bits(c, bits, sizeof(bits));
		nxp_change_rules(c, rules, sizeof(rules));
		problem(p, "NXP1001", "pending: %s 0x%llX -> 0x%llX (%s) [rule %s]", label,
		        (unsigned long long)c->old_value, (unsigned long long)c->new_value, bits, rules);
	}
	for (size_t i = 0; i < plan->nrefusals; i++)
		problem(p, "NXP1002", "the policy asks for a change it cannot make: %s", plan->refusals[i].reason);
	free(plan);

	if (img->checksum && img->checksum != in->facts.checksum_computed)
		problem(p, "NXP1003", "checksum 0x%08x is stale (computed 0x%08x)", img->checksum,
		        in->facts.checksum_computed);
	for (unsigned i = 0; i < img->nsections; i++) {
		const nxp_section *s = &img->sections[i];
		if ((s->characteristics & NXP_SCN_WX) == NXP_SCN_WX && !wx_allowed(pol, &in->facts, i))
			problem(p, "BA2021", "section %s is writable and executable, and no rule allows it",
			        s->name);
	}
}

static void format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm))
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(buf, len, "%lld", (long long)t);
}

static json_t *check_signatures(const nxp_trust *trust, const nxp_input *in, problems *p)
{
	json_t *sigs = json_array();
	if (!in->img.ncerts) {
		problem(p, "NXP1004", "not signed");
		return sigs;
	}
	nxp_sig_result res[NXP_MAX_CERT_ENTRIES];
	size_t n = 0;
	nxp_error err = {0};
	int rc = nxp_sig_verify(in->file.data, in->file.len, &in->img, trust, res,
	                        NXP_MAX_CERT_ENTRIES, &n, &err);
	if (rc && n == 0)
		problem(p, "NXP1004", "signature: %s", err.msg);
	for (size_t i = 0; i < n; i++) {
		const nxp_sig_result *r = &res[i];
		char when[64] = "", ts[64] = "";
		if (r->has_signing_time)
			format_time(r->signing_time, when, sizeof(when));
		if (r->has_timestamp_time)
			format_time(r->timestamp_time, ts, sizeof(ts));
		json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s}", "entry", (json_int_t)r->index,
		                      "status", nxp_sig_status_name(r->status), "subject", r->subject,
		                      "issuer", r->issuer, "digest", nxp_digest_name(r->digest));
		json_object_set_new(o, "signing_time", when[0] ? json_string(when) : json_null());
		json_object_set_new(o, "timestamp",
		                    r->has_timestamp
		                            ? json_pack("{s:s, s:o}", "kind",
		                                        r->timestamp_rfc3161 ? "rfc3161" : "countersignature",
		                                        "time", ts[0] ? json_string(ts) : json_null())
		                            : json_null());
		if (r->status != NXP_SIG_OK) {
			json_object_set_new(o, "reason", json_string(r->reason));
			problem(p, "NXP1004", "signature %u: %s: %s", r->index, nxp_sig_status_name(r->status),
			        r->reason);
		}
		json_array_append_new(sigs, o);
	}
	return sigs;
}

static void print_text(FILE *out, const char *path, json_t *problems_list, json_t *sigs)
{
	size_t n = json_array_size(problems_list);
	fprintf(out, "%s: %s\n", path, n ? "does not comply" : "ok");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %s\n", json_string_value(json_array_get(problems_list, i)));
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
}

typedef struct verify_ctx {
	const nxp_policy *pol;
	const nxp_trust *trust;
	int format;
} verify_ctx;

static void verify_one(void *vctx, const batch_item *it, batch_rec *r)
{
	const verify_ctx *ctx = vctx;
	nxp_input *in;
	if (batch_open(it, r, &in))
		return;
	problems p = {json_array(), r};
	check_policy(ctx->pol, in, &p);
	json_t *sigs = ctx->trust ? check_signatures(ctx->trust, in, &p) : json_array();
	int ok = json_array_size(p.list) == 0;
	r->cls = ok ? "compliant" : "noncompliant";
	r->exit = ok ? NXP_EXIT_OK : NXP_EXIT_CHECK;
	if (ctx->format != CLI_TEXT) {
		r->report = json_pack("{s:s, s:s, s:b, s:o, s:o}", "path", it->path, "status",
		                      ok ? "ok" : "fail", "compliant", ok, "problems", p.list,
		                      "signatures", sigs);
	} else {
		print_text(r->out, it->path, p.list, sigs);
		json_decref(p.list);
		json_decref(sigs);
	}
	nxp_input_close(in);
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"trust", required_argument, NULL, 't'},
		{"format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		BATCH_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	const char *policy_path = NULL, *trust_path = NULL;
	batch_opts bo;
	batch_opts_init(&bo);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:t:f:h" BATCH_SHORT_OPTIONS, opts, NULL)) != -1) {
		int s = batch_opt(&bo, c, optarg, "verify");
		if (s < 0)
			return NXP_EXIT_USAGE;
		if (s > 0)
			continue;
		switch (c) {
		case 'p': policy_path = optarg; break;
		case 't': trust_path = optarg; break;
		case 'f':
			if (!cli_parse_format_in("verify", optarg, &bo.format,
			                         1u << CLI_TEXT | 1u << CLI_JSON | 1u << CLI_JSONL |
			                                 1u << CLI_SARIF))
				return NXP_EXIT_USAGE;
			break;
		case 'h': fputs(usage, stdout); return NXP_EXIT_OK;
		default: return cli_usage("verify", "unknown option");
		}
	}
	if (optind >= argc && !bo.from)
		return cli_usage("verify", "no input files");
	nxp_policy *pol;
	int status = cli_load_policy(policy_path, &pol);
	if (status)
		return status;
	nxp_trust *trust = NULL;
	if (trust_path) {
		nxp_error err = {0};
		if (nxp_trust_load(&trust, trust_path, &err)) {
			cli_error(trust_path, "%s", err.msg);
			nxp_policy_free(pol);
			return NXP_EXIT_USAGE;
		}
	}
	verify_ctx ctx = {pol, trust, bo.format};
	batch_cmd cmd = {.name = "verify", .policy = pol->source, .process = verify_one, .ctx = &ctx};
	status = batch_run(&cmd, &bo, argv + optind, argc - optind);
	nxp_trust_free(trust);
	nxp_policy_free(pol);
	return status;
}
