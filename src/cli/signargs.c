/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/signargs.h"

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* Unix seconds, or ISO 8601 "YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM|-HH:MM]" (UTC
 * when no zone). Returns 1 on success. */
static int parse_time(const char *s, int64_t *out)
{
	if (all_digits(s)) {
		if (strlen(s) > 12)
			return 0;
		*out = strtoll(s, NULL, 10);
		return 1;
	}
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%d", &tm);
	if (!p)
		return 0;
	if (*p == 'T' || *p == ' ') {
		const char *q = strptime(p + 1, "%H:%M:%S", &tm);
		if (!q)
			q = strptime(p + 1, "%H:%M", &tm);
		if (!q)
			return 0;
		p = q;
	}
	int64_t off = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm, n = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5 || hh > 23 || mm > 59)
			return 0;
		off = (int64_t)(hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
		p += 1 + n;
	}
	if (*p)
		return 0;
	*out = (int64_t)timegm(&tm) - off;
	return *out >= 0;
}

const cli_opt cli_sign_options[] = {
	{CLI_OPT_CERT, 0, "cert", "CERT.pem", "signing certificate (PEM; with --key)"},
	{CLI_OPT_KEY, 0, "key", "KEY.pem", "its private key (PEM)"},
	{CLI_OPT_PKCS12, 0, "pkcs12", "FILE.p12", "certificate and key in one PKCS#12 file"},
	{CLI_OPT_PASS_ENV, 0, "pass-env", "VAR", "the key's passphrase is in environment variable VAR"},
	{CLI_OPT_PASS_FILE, 0, "pass-file", "FILE", "the key's passphrase is FILE's first line"},
	{CLI_OPT_DIGEST, 0, "digest", "ALG", "sha256 (default), sha384, sha512 or sha1"},
	{CLI_OPT_SIGNING_TIME, 0, "signing-time", "TIME", "unix seconds or ISO 8601 (default: SOURCE_DATE_EPOCH, else now)"},
	{CLI_OPT_PROGRAM_NAME, 0, "program-name", "NAME", "the program name in the signature"},
	{CLI_OPT_URL, 0, "url", "URL", "the program's URL in the signature"},
	{CLI_OPT_TIMESTAMP_URL, 0, "timestamp-url", "URL", "countersign with the RFC 3161 authority at this http:// URL"},
	CLI_OPT_END,
};

void cli_sign_init(cli_sign_args *a)
{
	memset(a, 0, sizeof(*a));
	a->so.digest = NXP_DIGEST_SHA256;
}

static const char *sign_opt_name(int c)
{
	for (const cli_opt *o = cli_sign_options; o->long_name; o++)
		if (o->id == c)
			return o->long_name;
	return NULL;
}

const char *cli_sign_given(const cli_sign_args *a)
{
	return a->first;
}

int cli_sign_opt(cli_sign_args *a, int c, const char *arg, const char *cmd)
{
	const char *name = sign_opt_name(c);
	if (name && !a->first)
		a->first = name;
	if (name && !a->first_other && c != CLI_OPT_CERT && c != CLI_OPT_KEY &&
	    c != CLI_OPT_PKCS12 && c != CLI_OPT_PASS_ENV && c != CLI_OPT_PASS_FILE)
		a->first_other = name;
	switch (c) {
	case CLI_OPT_CERT: a->ks.cert_path = arg; return 1;
	case CLI_OPT_KEY: a->ks.key_path = arg; return 1;
	case CLI_OPT_PKCS12: a->ks.pkcs12_path = arg; return 1;
	case CLI_OPT_PASS_ENV: a->ks.pass_env = arg; return 1;
	case CLI_OPT_PASS_FILE: a->ks.pass_file = arg; return 1;
	case CLI_OPT_DIGEST:
		if (!nxp_digest_lookup(arg, &a->so.digest)) {
			cli_usage(cmd, "unknown digest '%s' (sha256, sha384, sha512, sha1)", arg);
			return -1;
		}
		return 1;
	case CLI_OPT_SIGNING_TIME: a->time_arg = arg; return 1;
	case CLI_OPT_PROGRAM_NAME: a->so.program_name = arg; return 1;
	case CLI_OPT_URL: a->so.url = arg; return 1;
	case CLI_OPT_TIMESTAMP_URL: a->so.timestamp_url = arg; return 1;
	default: return 0;
	}
}

int cli_sign_has_key(const cli_sign_args *a)
{
	return a->ks.cert_path || a->ks.key_path || a->ks.pkcs12_path;
}

int cli_sign_finish(cli_sign_args *a, const char *cmd, int key_required)
{
	const nxp_key_source *ks = &a->ks;
	if (ks->pkcs12_path && (ks->cert_path || ks->key_path))
		return cli_usage(cmd, "give --cert and --key, or --pkcs12, not both");
	if ((key_required || cli_sign_has_key(a)) && !ks->pkcs12_path &&
	    (!ks->cert_path || !ks->key_path))
		return cli_usage(cmd, "key material needs --cert and --key, or --pkcs12");
	if (ks->pass_env && ks->pass_file)
		return cli_usage(cmd, "give --pass-env or --pass-file, not both");
	if (a->time_arg) {
		if (!parse_time(a->time_arg, &a->so.signing_time))
			return cli_usage(cmd, "--signing-time '%s' is neither unix seconds nor ISO "
			                 "8601 (2024-01-31T12:00:00Z)", a->time_arg);
		a->so.fixed_time = 1;
	} else {
		const char *sde = getenv("SOURCE_DATE_EPOCH");
		if (sde && *sde) {
			if (!all_digits(sde) || !parse_time(sde, &a->so.signing_time))
				return cli_usage(cmd, "SOURCE_DATE_EPOCH '%s' is not unix seconds", sde);
			a->so.fixed_time = 1;
		}
	}
	if (a->so.timestamp_url && strncmp(a->so.timestamp_url, "http://", 7) != 0)
		return cli_usage(cmd, "--timestamp-url must be an http:// URL");
	return NXP_EXIT_OK;
}

int cli_sign_load(const cli_sign_args *a, nxp_signer **out)
{
	nxp_error err = {0};
	int rc = nxp_signer_load(out, &a->ks, &err);
	if (!rc) {
		const char *w = nxp_signer_warning(*out);
		if (w)
			cli_error(NULL, "warning: %s", w);
		return NXP_EXIT_OK;
	}
	cli_error(NULL, "%s", err.msg);
	return rc == NXP_E_KEY || rc == NXP_E_USAGE ? NXP_EXIT_USAGE : NXP_EXIT_INPUT;
}
