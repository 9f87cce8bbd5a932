/* SPDX-License-Identifier: Apache-2.0 */
/* What an output holds (write/internal.h): the input with the plan's edits,
 * the appended section, and under re-signing the new signature; and the
 * SHA-256 that output will have, for the journal's write-ahead line. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nxpatch/sign.h"
#include "util/bytes.h"
#include "util/file.h"
#include "write/internal.h"

/* The appended section's bytes after the kept input (plan->out_len): zero
 * padding to its raw offset, its data, zeros to its raw size; malloc'd,
 * *n bytes (NULL with *n 0 when the plan appends nothing). */
static uint8_t *added_bytes(const nxp_plan *plan, size_t *n)
{
	*n = 0;
	if (!plan->add.present)
		return NULL;
	size_t len = (size_t)(nxp_plan_body_end(plan) - plan->out_len);
	uint8_t *buf = calloc(len ? len : 1, 1);
	if (buf) {
		memcpy(buf + (plan->add.raw_offset - plan->out_len), plan->add.data, plan->add.data_len);
		*n = len;
	}
	return buf;
}

static int write_added(nxpi_tmpfile *t, const nxp_plan *plan, nxp_error *err)
{
	size_t n;
	uint8_t *buf = added_bytes(plan, &n);
	if (plan->add.present && !buf)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	int rc = n ? nxpi_tmpfile_write(t, buf, n, err) : NXP_OK;
	free(buf);
	return rc;
}

/* in->data[0 .. plan->out_len) with the planned edits to t, then the
 * appended section, if any. The input's
 * bytes go through copy_file_range() where it works (nxpi_tmpfile_copy), so
 * they are copied in the kernel and never faulted into this process. */
static int write_patched(nxpi_tmpfile *t, const nxp_input *in, const nxp_plan *plan,
                         nxp_error *err)
{
	uint64_t pos = 0;
	int src_fd = nxpi_file_reopen(&in->file, in->path);
	int rc = NXP_OK;
	for (size_t i = 0; !rc && i < plan->nchanges; i++) {
		const nxp_change *c = &plan->changes[i];
		uint8_t v[8];
		nxpi_put_le(v, c->size, c->new_value);
		rc = nxpi_tmpfile_copy(t, &src_fd, in->file.data, pos, c->offset - pos, err);
		if (!rc)
			rc = nxpi_tmpfile_write(t, v, c->size, err);
		pos = (uint64_t)c->offset + c->size;
	}
	if (!rc)
		rc = nxpi_tmpfile_copy(t, &src_fd, in->file.data, pos, plan->out_len - pos, err);
	if (!rc)
		rc = write_added(t, plan, err);
	if (src_fd >= 0)
		close(src_fd);
	return rc;
}

/* Edits besides the two fields signing rewrites itself. */
static int has_edits(const nxp_plan *plan)
{
	for (size_t i = 0; i < plan->nchanges; i++)
		if (plan->changes[i].field != NXP_FIELD_CERT_DIR &&
		    plan->changes[i].field != NXP_FIELD_CHECKSUM)
			return 1;
	return 0;
}

/* The patched image in memory, for signing: full length (nxp_sign_image
 * drops the old certificate table itself), or, with an appended section,
 * the kept bytes, the section, and no certificate table (*len). */
static uint8_t *patched_copy(const nxp_input *in, const nxp_plan *plan, size_t *len)
{
	size_t n = 0;
	uint8_t *add = added_bytes(plan, &n);
	if (plan->add.present && !add)
		return NULL;
	size_t keep = plan->add.present ? (size_t)plan->out_len : in->file.len;
	*len = keep + n;
	uint8_t *buf = malloc(*len ? *len : 1);
	if (!buf) {
		free(add);
		return NULL;
	}
	memcpy(buf, in->file.data, keep);
	if (n)
		memcpy(buf + keep, add, n);
	free(add);
	for (size_t i = 0; i < plan->nchanges; i++)
		if (plan->changes[i].field != NXP_FIELD_CERT_DIR || plan->add.present)
			nxpi_put_le(buf + plan->changes[i].offset, plan->changes[i].size,
			          plan->changes[i].new_value);
	return buf;
}

/* Edits, then a new signature: sign the patched copy; the signer hands back
 * the new CheckSum, directory entry and table, so no second image-sized
 * buffer. */
static int write_edited_signed(nxpi_tmpfile *t, const nxp_input *in, const nxp_plan *plan,
                               const nxp_apply_options *opt, nxp_error *err)
{
	size_t len;
	uint8_t *buf = patched_copy(in, plan, &len);
	nxp_signed_parts sp = {0};
	nxp_image *img = NULL;
	if (!buf)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	/* An appended section changes the layout the signer hashes: it reads
	 * the patched image, not the input. */
	int rc = NXP_OK;
	if (plan->add.present) {
		if (!(img = malloc(sizeof(*img))))
			rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
		else if ((rc = nxp_pe_parse(img, buf, len, err)))
			nxp_error_prefix(err, "the patched image does not parse");
	}
	if (!rc)
		rc = nxp_sign_image_parts(buf, len, img ? img : &in->img, opt->signer,
		                          opt->sign_opts, &sp, err);
	if (!rc) {
		nxpi_put_le32(buf + in->img.checksum_offset, sp.checksum);
		nxpi_put_le32(buf + in->img.cert_dir_offset, sp.cert_dir[0]);
		nxpi_put_le32(buf + in->img.cert_dir_offset + 4, sp.cert_dir[1]);
		rc = nxpi_tmpfile_write(t, buf, sp.content_len, err);
	}
	if (!rc)
		rc = nxpi_tmpfile_write(t, sp.tail, sp.tail_len, err);
	free(sp.tail);
	free(img);
	free(buf);
	return rc;
}

/* Only a new signature (sign): a second thread copies the input's kept
 * bytes to t (in the kernel where it can, with the disk writing behind it)
 * while this one hashes them; then the two changed header fields are
 * patched in and the tail appended. */
static int write_signed(nxpi_tmpfile *t, const nxp_input *in, const nxp_apply_options *opt,
                        nxp_error *err)
{
	nxp_sign_layout lay;
	int rc = nxp_sign_layout_of(in->file.data, in->file.len, &in->img, &lay, err);
	if (rc)
		return rc;
	nxpi_copy_job job;
	nxp_signed_parts sp = {0};
	nxpi_tmpfile_copy_start(&job, t, nxpi_file_reopen(&in->file, in->path), in->file.data, 0,
	                       lay.content_len);
	rc = nxp_sign_image_parts(in->file.data, in->file.len, &in->img, opt->signer,
	                          opt->sign_opts, &sp, err);
	nxp_error copy_err = {0};
	int copy_rc = nxpi_tmpfile_copy_join(&job, &copy_err);
	if (!rc && copy_rc) {
		*err = copy_err;
		rc = copy_rc;
	}
	uint8_t sum[4], dir[8];
	nxpi_put_le32(sum, sp.checksum);
	nxpi_put_le32(dir, sp.cert_dir[0]);
	nxpi_put_le32(dir + 4, sp.cert_dir[1]);
	if (!rc && sp.content_len != lay.content_len)
		rc = nxp_fail(err, NXP_E_INTERNAL, "signed %zu bytes, copied %zu", sp.content_len,
		              lay.content_len);
	if (!rc)
		rc = nxpi_tmpfile_pwrite(t, in->img.checksum_offset, sum, 4, err);
	if (!rc)
		rc = nxpi_tmpfile_pwrite(t, in->img.cert_dir_offset, dir, 8, err);
	if (!rc)
		rc = nxpi_tmpfile_write(t, sp.tail, sp.tail_len, err);
	free(sp.tail);
	return rc;
}

/* The SHA-256 the output will have: the input with the planned edits, cut
 * at plan->out_len (not under re-signing). */
int nxpi_write_planned_sha256(const nxp_input *in, const nxp_plan *plan, char hex[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	uint64_t pos = 0;
	for (size_t i = 0; ok && i < plan->nchanges; i++) {
		const nxp_change *c = &plan->changes[i];
		uint8_t v[8];
		nxpi_put_le(v, c->size, c->new_value);
		ok = EVP_DigestUpdate(md, in->file.data + pos, c->offset - pos) &&
		     EVP_DigestUpdate(md, v, c->size);
		pos = (uint64_t)c->offset + c->size;
	}
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	size_t n = 0;
	uint8_t *add = added_bytes(plan, &n);
	ok = ok && (!plan->add.present || add);
	ok = ok && EVP_DigestUpdate(md, in->file.data + pos, plan->out_len - pos) &&
	     (!n || EVP_DigestUpdate(md, add, n)) && EVP_DigestFinal_ex(md, d, &len) && len == 32;
	free(add);
	EVP_MD_CTX_free(md);
	if (ok)
		nxpi_write_hex(d, 32, hex);
	return ok ? 0 : -1;
}


int nxpi_write_content(nxpi_tmpfile *t, const nxp_input *in, const nxp_plan *plan,
                      const nxp_apply_options *opt, nxp_error *err)
{
	if (plan->signature == NXP_SIGACT_RESIGN)
		return has_edits(plan) ? write_edited_signed(t, in, plan, opt, err)
		                       : write_signed(t, in, opt, err);
	return write_patched(t, in, plan, err);
}
