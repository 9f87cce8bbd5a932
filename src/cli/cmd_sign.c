/* nxpatch sign IN -o OUT (--cert F --key F | --pkcs12 F) [signing options]
 * Replaces any existing signature(s) with one new Authenticode signature. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/signargs.h"
#include "nxpatch/file.h"
#include "nxpatch/pe.h"
#include "nxpatch/sign.h"

static const char usage[] = "usage: nxpatch sign IN -o OUT (OUT may be IN)\n" CLI_SIGN_USAGE;

/* Exit status for a library error from signing. */
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
	if (!img)
		rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
	else if (!(rc = nxp_pe_parse(img, f.data, f.len, err)))
		rc = nxp_sig_verify_own(f.data, f.len, img, signer, err);
	free(img);
	nxp_file_unload(&f);
	return rc;
}

static int sign_file(const char *in, const char *out, const nxp_signer *signer,
                     const nxp_sign_opts *so)
{
	nxp_error err = {0};
	int status = NXP_EXIT_OK, rc;
	nxp_file f;
	nxp_image *img = malloc(sizeof(*img));
	uint8_t *buf = NULL;
	size_t len = 0;
	nxp_tmpfile t = {.fd = -1};
	if (!img) {
		cli_error(in, "out of memory");
		return NXP_EXIT_INPUT;
	}
	if (nxp_file_load(&f, in, &err)) {
		cli_error_e(in, &err);
		free(img);
		return NXP_EXIT_INPUT;
	}
	if ((rc = nxp_pe_parse(img, f.data, f.len, &err)) != 0 ||
	    (rc = nxp_sign_image(f.data, f.len, img, signer, so, &buf, &len, &err)) != 0) {
		cli_error_e(in, &err);
		status = exit_for(rc);
	} else if (nxp_tmpfile_open(&t, out, f.mode & 0777, &err) ||
	           nxp_tmpfile_write(&t, buf, len, &err) || nxp_tmpfile_sync(&t, &err) ||
	           check_written(t.path, signer, &err)) {
		cli_error_e(out, &err);
		status = NXP_EXIT_INPUT;
	} else if (!nxp_file_unchanged(&f, in)) {
		cli_error(in, "the input changed while it was being signed; nothing written");
		status = NXP_EXIT_INPUT;
	} else if (nxp_tmpfile_commit(&t, &err)) {
		cli_error_e(out, &err);
		status = NXP_EXIT_INPUT;
	} else {
		printf("%s: signed (%s, %s%s), replaced %u signature%s\n", out,
		       nxp_digest_name(so->digest), nxp_signer_subject(signer),
		       so->timestamp_url ? ", timestamped" : "", img->ncerts,
		       img->ncerts == 1 ? "" : "s");
	}
	nxp_tmpfile_discard(&t);
	free(buf);
	nxp_file_unload(&f);
	free(img);
	return status;
}

int cmd_sign(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		CLI_SIGN_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	cli_sign_args a;
	cli_sign_init(&a);
	const char *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", lopts, NULL)) != -1) {
		int s = cli_sign_opt(&a, c, optarg, "sign");
		if (s < 0)
			return NXP_EXIT_USAGE;
		if (s > 0)
			continue;
		switch (c) {
		case 'o': out = optarg; break;
		case 'h': fputs(usage, stdout); return NXP_EXIT_OK;
		default: return cli_usage("sign", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage("sign", "no input file");
	if (optind + 1 < argc)
		return cli_usage("sign", "one input file at a time");
	if (!out)
		return cli_usage("sign", "no output file (-o OUT; OUT may be IN)");
	int status = cli_sign_finish(&a, "sign", 1);
	nxp_signer *signer = NULL;
	if (status || (status = cli_sign_load(&a, &signer)))
		return status;
	status = sign_file(argv[optind], out, signer, &a.so);
	nxp_signer_free(signer);
	return status;
}
