/* nxpatch sign IN -o OUT (--cert F --key F | --pkcs12 F) [--pass-env VAR |
 *   --pass-file F] [--digest ALG] [--signing-time T] [--program-name N]
 *   [--url U] [--timestamp-url U]
 * Replaces any existing signature(s) with one new Authenticode signature. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "nxpatch/file.h"
#include "nxpatch/pe.h"
#include "nxpatch/sign.h"

static const char usage[] =
	"usage: nxpatch sign IN -o OUT (--cert CERT.pem --key KEY.pem | --pkcs12 FILE.p12)\n"
	"         [--pass-env VAR | --pass-file FILE] [--digest sha256|sha384|sha512|sha1]\n"
	"         [--signing-time UNIX|ISO8601] [--program-name NAME] [--url URL]\n"
	"         [--timestamp-url http://TSA]\n"
	"SOURCE_DATE_EPOCH fixes the signing time when --signing-time is not given.\n";

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

/* Exit status for a library error from key loading or signing. */
static int exit_for(int code)
{
	return code == NXP_E_KEY || code == NXP_E_USAGE ? NXP_EXIT_USAGE : NXP_EXIT_INPUT;
}

/* Re-read the written file and verify its signature with the signer's own
 * certificates as anchors. */
static int check_written(const char *tmp, const nxp_signer *signer, nxp_error *err)
{
	nxp_file f;
	int rc = nxp_file_load(&f, tmp, err);
	if (rc)
		return rc;
	nxp_image *img = malloc(sizeof(*img));
	nxp_trust *trust = NULL;
	if (!img) {
		nxp_file_unload(&f);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	rc = nxp_pe_parse(img, f.data, f.len, err);
	if (!rc)
		rc = nxp_trust_from_signer(&trust, signer, err);
	if (!rc) {
		nxp_sig_result res[NXP_MAX_CERT_ENTRIES];
		size_t n = 0;
		rc = nxp_sig_verify(f.data, f.len, img, trust, res, NXP_MAX_CERT_ENTRIES, &n, err);
		if (!rc && n != 1)
			rc = nxp_fail(err, NXP_E_VERIFY, "expected one signature, found %zu", n);
	}
	if (rc) {
		nxp_error_prefix(err, "the signed output does not verify");
		err->code = NXP_E_VERIFY;
	}
	nxp_trust_free(trust);
	free(img);
	nxp_file_unload(&f);
	return rc ? NXP_E_VERIFY : NXP_OK;
}

int cmd_sign(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"cert", required_argument, NULL, 'c'},
		{"key", required_argument, NULL, 'k'},
		{"pkcs12", required_argument, NULL, 'p'},
		{"pass-env", required_argument, NULL, 'E'},
		{"pass-file", required_argument, NULL, 'F'},
		{"digest", required_argument, NULL, 'd'},
		{"signing-time", required_argument, NULL, 't'},
		{"program-name", required_argument, NULL, 'n'},
		{"url", required_argument, NULL, 'u'},
		{"timestamp-url", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	nxp_key_source ks = {0};
	nxp_sign_opts so = {0};
	const char *out = NULL, *time_arg = NULL;
	so.digest = NXP_DIGEST_SHA256;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'c': ks.cert_path = optarg; break;
		case 'k': ks.key_path = optarg; break;
		case 'p': ks.pkcs12_path = optarg; break;
		case 'E': ks.pass_env = optarg; break;
		case 'F': ks.pass_file = optarg; break;
		case 'd':
			if (!nxp_digest_lookup(optarg, &so.digest))
				return cli_usage("sign", "unknown digest '%s' (sha256, sha384, sha512, "
				                 "sha1)", optarg);
			break;
		case 't': time_arg = optarg; break;
		case 'n': so.program_name = optarg; break;
		case 'u': so.url = optarg; break;
		case 'T': so.timestamp_url = optarg; break;
		case 'h': fputs(usage, stdout); return NXP_EXIT_OK;
		default: return cli_usage("sign", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage("sign", "no input file");
	if (optind + 1 < argc)
		return cli_usage("sign", "one input file at a time");
	const char *in = argv[optind];
	if (!out)
		return cli_usage("sign", "no output file (-o OUT; OUT may be IN)");
	if (ks.pkcs12_path && (ks.cert_path || ks.key_path))
		return cli_usage("sign", "give --cert and --key, or --pkcs12, not both");
	if (!ks.pkcs12_path && (!ks.cert_path || !ks.key_path))
		return cli_usage("sign", "key material needs --cert and --key, or --pkcs12");
	if (ks.pass_env && ks.pass_file)
		return cli_usage("sign", "give --pass-env or --pass-file, not both");
	if (time_arg) {
		if (!parse_time(time_arg, &so.signing_time))
			return cli_usage("sign", "--signing-time '%s' is neither unix seconds nor "
			                 "ISO 8601 (2024-01-31T12:00:00Z)", time_arg);
		so.fixed_time = 1;
	} else {
		const char *sde = getenv("SOURCE_DATE_EPOCH");
		if (sde && *sde) {
			if (!all_digits(sde) || !parse_time(sde, &so.signing_time))
				return cli_usage("sign", "SOURCE_DATE_EPOCH '%s' is not unix seconds", sde);
			so.fixed_time = 1;
		}
	}
	if (so.timestamp_url && strncmp(so.timestamp_url, "http://", 7) != 0)
		return cli_usage("sign", "--timestamp-url must be an http:// URL");

	nxp_error err = {0};
	nxp_signer *signer = NULL;
	int rc = nxp_signer_load(&signer, &ks, &err);
	if (rc) {
		cli_error(NULL, "%s", err.msg);
		return exit_for(rc);
	}
	int status = NXP_EXIT_OK;
	nxp_file f;
	nxp_image *img = malloc(sizeof(*img));
	uint8_t *buf = NULL;
	size_t len = 0;
	nxp_tmpfile t;
	t.fd = -1;
	t.path[0] = '\0';
	if (!img) {
		nxp_signer_free(signer);
		cli_error(in, "out of memory");
		return NXP_EXIT_INPUT;
	}
	if ((rc = nxp_file_load(&f, in, &err)) != 0) {
		cli_error_e(in, &err);
		free(img);
		nxp_signer_free(signer);
		return NXP_EXIT_INPUT;
	}
	if ((rc = nxp_pe_parse(img, f.data, f.len, &err)) != 0 ||
	    (rc = nxp_sign_image(f.data, f.len, img, signer, &so, &buf, &len, &err)) != 0) {
		cli_error_e(in, &err);
		status = exit_for(rc);
		goto done;
	}
	if ((rc = nxp_tmpfile_open(&t, out, f.mode & 0777, &err)) != 0 ||
	    (rc = nxp_tmpfile_write(&t, buf, len, &err)) != 0 ||
	    (rc = nxp_tmpfile_sync(&t, &err)) != 0 ||
	    (rc = check_written(t.path, signer, &err)) != 0) {
		cli_error_e(out, &err);
		status = NXP_EXIT_INPUT;
		goto done;
	}
	if (!nxp_file_unchanged(&f, in)) {
		cli_error(in, "the input changed while it was being signed; nothing written");
		status = NXP_EXIT_INPUT;
		goto done;
	}
	if ((rc = nxp_tmpfile_commit(&t, &err)) != 0) {
		cli_error_e(out, &err);
		status = NXP_EXIT_INPUT;
		goto done;
	}
	printf("%s: signed (%s, %s%s), replaced %u signature%s\n", out,
	       nxp_digest_name(so.digest), nxp_signer_subject(signer),
	       so.timestamp_url ? ", timestamped" : "", img->ncerts,
	       img->ncerts == 1 ? "" : "s");
done:
	nxp_tmpfile_discard(&t);
	free(buf);
	nxp_file_unload(&f);
	free(img);
	nxp_signer_free(signer);
	return status;
}
