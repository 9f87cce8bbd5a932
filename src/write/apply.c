/* SPDX-License-Identifier: Apache-2.0 */
/* Applying a plan: write the input with exactly the planned edits to a
 * temporary file beside the target, fsync it, verify it, then rename it into
 * place. The input is never copied in memory except when it must be signed. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nxpatch/plan.h"
#include "nxpatch/sign.h"
#include "util/bytes.h"
#include "nxpatch/crosscheck.h"
#include "verify/output.h"

static void put_value(uint8_t *p, uint32_t size, uint64_t v)
{
	for (uint32_t k = 0; k < size; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

/* in->data[0 .. plan->out_len) with the planned edits to t. The input's
 * bytes go through copy_file_range() where it works (nxp_tmpfile_copy), so
 * they are copied in the kernel and never faulted into this process. */
static int write_patched(nxp_tmpfile *t, const nxp_input *in, const nxp_plan *plan,
                         nxp_error *err)
{
	uint64_t pos = 0;
	int src_fd = nxp_file_reopen(&in->file, in->path);
	int rc = NXP_OK;
	for (size_t i = 0; !rc && i < plan->nchanges; i++) {
		const nxp_change *c = &plan->changes[i];
		uint8_t v[8];
		put_value(v, c->size, c->new_value);
		rc = nxp_tmpfile_copy(t, &src_fd, in->file.data, pos, c->offset - pos, err);
		if (!rc)
			rc = nxp_tmpfile_write(t, v, c->size, err);
		pos = (uint64_t)c->offset + c->size;
	}
	if (!rc)
		rc = nxp_tmpfile_copy(t, &src_fd, in->file.data, pos, plan->out_len - pos, err);
	if (src_fd >= 0)
		close(src_fd);
	return rc;
}

/* The patched image in memory, full length, for signing: nxp_sign_image
 * drops the old certificate table itself. */
static uint8_t *patched_copy(const nxp_input *in, const nxp_plan *plan)
{
	uint8_t *buf = malloc(in->file.len ? in->file.len : 1);
	if (!buf)
		return NULL;
	memcpy(buf, in->file.data, in->file.len);
	for (size_t i = 0; i < plan->nchanges; i++)
		if (plan->changes[i].field != NXP_FIELD_CERT_DIR)
			put_value(buf + plan->changes[i].offset, plan->changes[i].size,
			          plan->changes[i].new_value);
	return buf;
}

/* The LIEF cross-check of the written file: started as soon as the file
 * is written, so LIEF's worker parses it while the disk syncs it and our
 * own pass verifies it; always collected, even when something else failed
 * first. */
typedef struct lief_check {
	int pending;
	int rc;
	nxp_error err;
} lief_check;

static void lief_start(lief_check *lc, const nxp_apply_options *opt, const char *path)
{
	memset(lc, 0, sizeof(*lc));
	if (!opt->cross_check)
		return;
	lc->rc = nxp_crosscheck_file_begin(path, &lc->err);
	lc->pending = lc->rc == NXP_OK;
}

/* LIEF's verdict on img (NULL: only drain the request). */
static int lief_finish(lief_check *lc, const nxp_image *img)
{
	if (lc->pending) {
		size_t n = 0;
		lc->pending = 0;
		lc->rc = nxp_crosscheck_file_end(img, NULL, 0, &n, &lc->err);
	}
	return lc->rc;
}

/* Map the synced temporary file and verify it against the plan, then take
 * LIEF's verdict; the LIEF request is collected on every path. */
static int verify_tmpfile(const nxp_tmpfile *t, const nxp_input *in, const nxp_plan *plan,
                          const nxp_apply_options *opt, lief_check *lc, nxp_apply_result *res,
                          nxp_error *err)
{
	struct stat st;
	size_t len = 0;
	void *map = MAP_FAILED;
	nxp_image *img = NULL;
	int rc = NXP_OK;
	if (fstat(t->fd, &st) != 0) {
		rc = nxp_fail(err, NXP_E_IO, "cannot stat %s: %s", t->path, strerror(errno));
	} else {
		len = (size_t)st.st_size;
		map = len ? mmap(NULL, len, PROT_READ, MAP_SHARED, t->fd, 0) : MAP_FAILED;
		if (map == MAP_FAILED)
			rc = nxp_fail(err, NXP_E_IO, "cannot map the written output: %s",
			              len ? strerror(errno) : "empty file");
	}
	if (!rc && !(img = malloc(sizeof(*img))))
		rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
	if (!rc)
		rc = nxp_verify_output_mapped(in, plan, map, len, img, err);
	if (!rc && plan->signature == NXP_SIGACT_RESIGN)
		rc = nxp_sig_verify_own(map, len, img, opt->signer, err);
	int lief_rc = lief_finish(lc, rc ? NULL : img);
	if (!rc && lief_rc)
		rc = nxp_fail(err, lief_rc, "%s", lc->err.msg);
	if (!rc) {
		res->out_len = len;
		res->checksum = img->checksum;
	}
	free(img);
	if (map != MAP_FAILED)
		munmap(map, len);
	return rc;
}

static int make_backup(const char *path, const char *suffix, nxp_apply_result *res,
                       nxp_error *err)
{
	int n = snprintf(res->backup, sizeof(res->backup), "%s%s", path, suffix);
	if (n < 0 || (size_t)n >= sizeof(res->backup))
		return nxp_fail(err, NXP_E_USAGE, "backup path too long");
	unlink(res->backup);
	if (link(path, res->backup) == 0)
		return NXP_OK;
	return nxp_fail(err, NXP_E_IO, "cannot keep a backup as %s: %s", res->backup,
	                strerror(errno));
}

/* The temporary file for out_path in the directory dirfd, which stands for
 * out_path's directory. */
static int tmpfile_open_in(nxp_tmpfile *t, int dirfd, const char *out_path, mode_t mode,
                           nxp_error *err)
{
	char dir[4096], base[4096];
	if (snprintf(dir, sizeof(dir), "%s", out_path) >= (int)sizeof(dir))
		return nxp_fail(err, NXP_E_USAGE, "path too long");
	strcpy(base, dir);
	return nxp_tmpfile_open_at(t, dirfd, dirname(dir), basename(base), mode, err);
}

int nxp_apply(const nxp_input *in, const nxp_plan *plan, const char *out_path,
              const nxp_apply_options *opt, nxp_apply_result *res, nxp_error *err)
{
	static const nxp_apply_options defaults = {0};
	if (!opt)
		opt = &defaults;
	memset(res, 0, sizeof(*res));
	if (plan->status == NXP_PLAN_REFUSED)
		return nxp_fail(err, NXP_E_REFUSED, "refused: %s", plan->refusals[0].reason);
	if (plan->status == NXP_PLAN_NOTHING)
		return NXP_OK;
	if (plan->signature == NXP_SIGACT_RESIGN && !opt->signer)
		return nxp_fail(err, NXP_E_KEY,
		                "the policy says signature: resign, but no signing key was given "
		                "(--cert and --key, or --pkcs12)");

	nxp_tmpfile t;
	mode_t mode = in->file.mode ? in->file.mode & 07777 : 0644;
	int rc = opt->out_at ? tmpfile_open_in(&t, opt->out_dirfd, out_path, mode, err)
	                     : nxp_tmpfile_open(&t, out_path, mode, err);
	if (rc)
		return rc;
	if (plan->signature == NXP_SIGACT_RESIGN) {
		/* Sign the patched copy; the signer hands back the new CheckSum,
		 * directory entry and table, so no second image-sized buffer. */
		uint8_t *buf = patched_copy(in, plan);
		nxp_signed_parts sp = {0};
		if (!buf) {
			rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
			goto out;
		}
		rc = nxp_sign_image_parts(buf, in->file.len, &in->img, opt->signer, opt->sign_opts,
		                          &sp, err);
		if (!rc) {
			nxp_put_le32(buf + in->img.checksum_offset, sp.checksum);
			nxp_put_le32(buf + in->img.cert_dir_offset, sp.cert_dir[0]);
			nxp_put_le32(buf + in->img.cert_dir_offset + 4, sp.cert_dir[1]);
			rc = nxp_tmpfile_write(&t, buf, sp.content_len, err);
		}
		if (!rc)
			rc = nxp_tmpfile_write(&t, sp.tail, sp.tail_len, err);
		free(sp.tail);
		free(buf);
	} else {
		rc = write_patched(&t, in, plan, err);
	}
	if (rc)
		goto out;
	if (opt->test_corrupt_output) {
		/* Test hook: damage one byte outside the plan, as a bad disk might. */
		uint8_t b = 0x5a;
		if (pwrite(t.fd, &b, 1, (off_t)(plan->out_len / 2)) != 1) {
			rc = nxp_fail(err, NXP_E_IO, "test hook: cannot corrupt output");
			goto out;
		}
	}
	lief_check lc;
	lief_start(&lc, opt, t.path);
	if ((rc = nxp_tmpfile_sync(&t, err))) {
		lief_finish(&lc, NULL);
		goto out;
	}
	if ((rc = verify_tmpfile(&t, in, plan, opt, &lc, res, err))) {
		if (rc == NXP_E_LIEF)
			nxp_error_prefix(err, "verification failed, %s left untouched "
			                      "(--no-cross-check skips LIEF)", out_path);
		else
			nxp_error_prefix(err, "verification failed, %s left untouched", out_path);
		goto out;
	}
	/* Replacing the input: it must not have changed since it was read. */
	if (!strcmp(out_path, in->path) && !nxp_file_unchanged(&in->file, in->path)) {
		rc = nxp_fail(err, NXP_E_CHANGED, "file changed while it was being processed");
		goto out;
	}
	if (opt->backup_suffix && !strcmp(out_path, in->path) &&
	    (rc = make_backup(in->path, opt->backup_suffix, res, err)))
		goto out;
	if ((rc = nxp_tmpfile_commit(&t, err)))
		goto out;
	res->written = 1;
out:
	nxp_tmpfile_discard(&t);
	return rc;
}
