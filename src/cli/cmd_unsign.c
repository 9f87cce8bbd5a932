/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch unsign IN -o OUT: remove the certificate table (truncate at it,
 * zero directory entry 4, recompute CheckSum). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "nxpatch/file.h"
#include "nxpatch/pe.h"
#include "nxpatch/sign.h"
#include "util/escape.h"

int cmd_unsign(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h': printf("usage: nxpatch unsign IN -o OUT\n"); return NXP_EXIT_OK;
		default: return cli_usage("unsign", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage("unsign", "no input file");
	if (optind + 1 < argc)
		return cli_usage("unsign", "one input file at a time");
	if (!out)
		return cli_usage("unsign", "no output file (-o OUT; OUT may be IN)");
	const char *in = argv[optind];

	nxp_error err = {0};
	nxp_file f;
	if (nxp_file_load(&f, in, &err)) {
		cli_error_e(in, &err);
		return NXP_EXIT_INPUT;
	}
	int status = NXP_EXIT_INPUT, stripped = 0;
	nxp_image *img = malloc(sizeof(*img)), *check = malloc(sizeof(*check));
	uint8_t *buf = NULL;
	size_t len = 0;
	nxp_tmpfile t;
	t.fd = -1;
	t.path[0] = '\0';
	if (!img || !check) {
		cli_error(in, "out of memory");
		goto done;
	}
	if (nxp_pe_parse(img, f.data, f.len, &err) ||
	    nxp_sign_strip(f.data, f.len, img, &buf, &len, &stripped, &err)) {
		cli_error_e(in, &err);
		goto done;
	}
	/* The result must parse and carry no table. */
	if (nxp_pe_parse(check, buf, len, &err)) {
		nxp_error_prefix(&err, "the unsigned output does not parse");
		cli_error_e(out, &err);
		goto done;
	}
	if (check->cert_size != 0) {
		cli_error(out, "the unsigned output still has a certificate table");
		goto done;
	}
	if (nxp_tmpfile_open(&t, out, f.mode & 0777, &err) ||
	    nxp_tmpfile_write(&t, buf, len, &err) || nxp_tmpfile_sync(&t, &err)) {
		cli_error_e(out, &err);
		goto done;
	}
	if (!nxp_file_unchanged(&f, in)) {
		cli_error(in, "the input changed while it was being processed; nothing written");
		goto done;
	}
	if (nxp_tmpfile_commit(&t, &err)) {
		cli_error_e(out, &err);
		goto done;
	}
	if (stripped)
		printf("%s: removed %u signature%s\n", nxp_shown(out), img->ncerts, img->ncerts == 1 ? "" : "s");
	else
		printf("%s: not signed, written unchanged\n", nxp_shown(out));
	status = NXP_EXIT_OK;
done:
	nxp_tmpfile_discard(&t);
	free(buf);
	free(check);
	free(img);
	nxp_file_unload(&f);
	return status;
}
