/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch sign IN -o OUT (--cert F --key F | --pkcs12 F) [signing options]
 * Replaces any existing signature(s) with one new Authenticode signature. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/signargs.h"
#include "nxpatch/file.h"
#include "nxpatch/pe.h"
#include "nxpatch/sign.h"
#include "util/bytes.h"
#include "util/escape.h"

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
	else if (!(rc = nxp_pe_parse(img, f.data, f.len, err)) &&
	         !(rc = nxp_sig_verify_own(f.data, f.len, img, signer, err))) {
		uint32_t sum = nxp_pe_checksum(f.data, f.len, img->checksum_offset);
		if (img->checksum != sum)
			rc = nxp_fail(err, NXP_E_INTERNAL,
			              "the signed output's checksum 0x%08x is not valid (computed "
			              "0x%08x)", img->checksum, sum);
	}
	free(img);
	nxp_file_unload(&f);
	return rc;
}

/* Sign while the body is written: a second thread copies the input's
 * kept bytes to t (in the kernel where it can, with the disk writing behind
 * it) while this one hashes them; then the two changed header fields are
 * patched in and the tail appended. */
static int sign_and_write(nxp_tmpfile *t, const nxp_file *f, const char *in,
                          const nxp_image *img, const nxp_signer *signer,
                          const nxp_sign_opts *so, nxp_signed_parts *sp, int *writing,
                          nxp_error *err)
{
	*writing = 0;
	nxp_sign_layout lay;
	int rc = nxp_sign_layout_of(f->data, f->len, img, &lay, err);
	if (rc)
		return rc;
	nxp_copy_job job;
	nxp_tmpfile_copy_start(&job, t, nxp_file_reopen(f, in), f->data, 0, lay.content_len);
	rc = nxp_sign_image_parts(f->data, f->len, img, signer, so, sp, err);
	nxp_error copy_err = {0};
	int copy_rc = nxp_tmpfile_copy_join(&job, &copy_err);
	if (rc)
		return rc;
	*writing = 1;
	if (copy_rc) {
		*err = copy_err;
		return copy_rc;
	}
	uint8_t sum[4], dir[8];
	nxp_put_le32(sum, sp->checksum);
	nxp_put_le32(dir, sp->cert_dir[0]);
	nxp_put_le32(dir + 4, sp->cert_dir[1]);
	if (sp->content_len != lay.content_len)
		rc = nxp_fail(err, NXP_E_INTERNAL, "signed %zu bytes, copied %zu", sp->content_len,
		              lay.content_len);
	if (!rc)
		rc = nxp_tmpfile_pwrite(t, img->checksum_offset, sum, 4, err);
	if (!rc)
		rc = nxp_tmpfile_pwrite(t, img->cert_dir_offset, dir, 8, err);
	if (!rc)
		rc = nxp_tmpfile_write(t, sp->tail, sp->tail_len, err);
	/* Done with the input's pages: the check below maps the output. */
	if (f->mapped)
		madvise((void *)f->data, f->len, MADV_DONTNEED);
	return rc;
}

static int sign_file(const char *in, const char *out, const nxp_signer *signer,
                     const nxp_sign_opts *so)
{
	nxp_error err = {0};
	int status = NXP_EXIT_OK, rc, writing = 0;
	nxp_file f;
	nxp_image *img = malloc(sizeof(*img));
	nxp_signed_parts sp = {0};
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
	if ((rc = nxp_pe_parse(img, f.data, f.len, &err)) != 0) {
		cli_error_e(in, &err);
		status = exit_for(rc);
	} else if (nxp_tmpfile_open(&t, out, f.mode & 0777, &err)) {
		cli_error_e(out, &err);
		status = NXP_EXIT_INPUT;
	} else if ((rc = sign_and_write(&t, &f, in, img, signer, so, &sp, &writing, &err)) != 0 &&
	           !writing) {
		cli_error_e(in, &err);
		status = exit_for(rc);
	} else if (rc || nxp_tmpfile_sync(&t, &err) || check_written(t.path, signer, &err)) {
		cli_error_e(out, &err);
		status = NXP_EXIT_INPUT;
	} else if (!nxp_file_unchanged(&f, in)) {
		cli_error(in, "the input changed while it was being signed; nothing written");
		status = NXP_EXIT_INPUT;
	} else if (nxp_tmpfile_commit(&t, &err)) {
		cli_error_e(out, &err);
		status = NXP_EXIT_INPUT;
	} else {
		printf("%s: signed (%s, %s%s), replaced %u signature%s\n", nxp_shown(out),
		       nxp_digest_name(so->digest), nxp_signer_subject(signer),
		       so->timestamp_url ? ", timestamped" : "", img->ncerts,
		       img->ncerts == 1 ? "" : "s");
	}
	nxp_tmpfile_discard(&t);
	free(sp.tail);
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
