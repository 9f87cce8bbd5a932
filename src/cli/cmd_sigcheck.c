/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch sigcheck --trust CA.pem PATH...
 * Verifies every Authenticode signature of each image and prints one line per
 * entry. Exit 0 all ok, 1 any signature fails (or an image is unsigned),
 * 3 an input could not be read or parsed. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "nxpatch/file.h"
#include "nxpatch/pe.h"
#include "nxpatch/sign.h"
#include "util/escape.h"

static void fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%lld", (long long)t);
}

static void print_result(const char *path, const nxp_sig_result *r)
{
	char st[40] = "none", ts[64] = "none";
	if (r->has_signing_time)
		fmt_time(r->signing_time, st, sizeof(st));
	if (r->has_timestamp) {
		char tt[40] = "unknown-time";
		if (r->has_timestamp_time)
			fmt_time(r->timestamp_time, tt, sizeof(tt));
		snprintf(ts, sizeof(ts), "%s@%s", r->timestamp_rfc3161 ? "rfc3161" : "countersignature",
		         tt);
	}
	printf("%s\tentry %u\t%s", nxpi_shown(path), r->index, r->status == NXP_SIGSTATUS_OK ? "ok" : "FAILED");
	if (r->status != NXP_SIGSTATUS_OK)
		printf(" (%s: %s)", nxp_sig_status_name(r->status), nxpi_shown(r->reason));
	printf("\tsubject=%s\tdigest=%s\tsigning-time=%s\ttimestamp=%s\tnested=%u\n",
	       r->subject[0] ? nxpi_shown(r->subject) : "unknown",
	       r->digest ? nxp_digest_name(r->digest) : "unknown", st, ts, r->nested);
}

static const cli_opt sigcheck_options[] = {
	{'t', 0, "trust", "CA.pem", "the trust anchors every signature must chain to (required)"},
	CLI_OPT_END,
};

static const cli_optgroup groups[] = {
	{"options", sigcheck_options},
	CLI_GROUPS_END,
};

int cmd_sigcheck(int argc, char **argv)
{
	const char *trust_path = NULL;
	int c;
	cli_parser p;
	cli_parse_init(&p, "sigcheck", "--trust CA.pem PATH...",
	               "Verifies every Authenticode signature of each image: one tab-separated line\n"
	               "per signature entry.\n",
	               groups);
	while ((c = cli_next(&p, argc, argv)) != CLI_END) {
		switch (c) {
		case CLI_STOP: return p.status;
		case 't': trust_path = p.arg; break;
		}
	}
	if (!trust_path)
		return cli_usage("sigcheck", "--trust CA.pem is required");
	if (p.optind >= argc)
		return cli_usage("sigcheck", "no input files");
	nxp_error err = {0};
	nxp_trust *trust = NULL;
	if (nxp_trust_load(&trust, trust_path, &err)) {
		cli_error(NULL, "%s", err.msg);
		return NXP_EXIT_USAGE;
	}
	nxp_image *img = malloc(sizeof(*img));
	nxp_sig_result *res = calloc(NXP_MAX_CERT_ENTRIES + 1, sizeof(*res));
	if (!img || !res) {
		free(img);
		free(res);
		nxp_trust_free(trust);
		cli_error(NULL, "out of memory");
		return NXP_EXIT_INPUT;
	}
	int status = NXP_EXIT_OK;
	for (int i = p.optind; i < argc; i++) {
		const char *path = argv[i];
		nxp_file f;
		if (nxp_file_load(&f, path, &err) || nxp_pe_parse(img, f.data, f.len, &err)) {
			cli_error_e(path, &err);
			nxp_file_unload(&f); /* a failed load leaves f empty */
			status = NXP_EXIT_INPUT;
			continue;
		}
		size_t n = 0;
		int rc = nxp_sig_verify(f.data, f.len, img, trust, res, NXP_MAX_CERT_ENTRIES + 1, &n,
		                        &err);
		for (size_t k = 0; k < n; k++)
			print_result(path, &res[k]);
		if (rc && n == 0)
			printf("%s\t-\tFAILED (%s)\n", nxpi_shown(path), nxpi_shown(err.msg));
		if (rc && status == NXP_EXIT_OK)
			status = NXP_EXIT_CHECK;
		nxp_file_unload(&f);
	}
	free(res);
	free(img);
	nxp_trust_free(trust);
	return status;
}
