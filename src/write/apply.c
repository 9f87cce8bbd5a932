/* SPDX-License-Identifier: Apache-2.0 */
/* The one write sequence (include/nxpatch/write.h): apply, sign and unsign
 * all write through nxp_apply(); revert's restore shares its target checks
 * and commit. The input is never copied in memory except when it must be
 * signed after edits. */
#include <errno.h>
#include <openssl/evp.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "nxpatch/crosscheck.h"
#include "nxpatch/report.h"
#include "nxpatch/sign.h"
#include "util/bytes.h"
#include "util/guard.h"
#include "write/outcheck.h"
#include "write/internal.h"
#include "util/file.h"

static void put_value(uint8_t *p, uint32_t size, uint64_t v)
{
	for (uint32_t k = 0; k < size; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

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
		put_value(v, c->size, c->new_value);
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
			put_value(buf + plan->changes[i].offset, plan->changes[i].size,
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

/* Map the synced temporary file and verify it against the plan (and take
 * its SHA-256 from the same pass when want_sha), then take LIEF's verdict;
 * the LIEF request is collected on every path. */
static int verify_tmpfile(const nxpi_tmpfile *t, const nxp_input *in, const nxp_plan *plan,
                          const nxp_apply_options *opt, lief_check *lc, int want_sha,
                          nxp_apply_result *res, nxp_error *err)
{
	struct stat st;
	size_t len = 0;
	void *map = MAP_FAILED;
	nxp_image *img = NULL;
	int rc = NXP_OK, slot = -1;
	uint8_t sha[32];
	if (fstat(t->fd, &st) != 0) {
		rc = nxp_fail(err, NXP_E_IO, "cannot stat %s: %s", t->path, strerror(errno));
	} else {
		len = (size_t)st.st_size;
		map = len ? mmap(NULL, len, PROT_READ, MAP_SHARED, t->fd, 0) : MAP_FAILED;
		if (map == MAP_FAILED)
			rc = nxp_fail(err, NXP_E_IO, "cannot map the written output: %s",
			              len ? strerror(errno) : "empty file");
		else
			slot = nxpi_guard_add(map, len);
	}
	if (!rc && !(img = malloc(sizeof(*img))))
		rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
	if (!rc)
		rc = nxpi_check_output_mapped(in, plan, map, len, img, want_sha ? sha : NULL, err);
	if (!rc && plan->signature == NXP_SIGACT_RESIGN)
		rc = nxp_sig_verify_own(map, len, img, opt->signer, err);
	if (nxpi_guard_faulted(slot))
		rc = nxp_fail(err, NXP_E_CHANGED, "the temporary file %s was cut short by someone "
		                                  "else while it was verified", t->path);
	int lief_rc = lief_finish(lc, rc ? NULL : img);
	if (!rc && lief_rc)
		rc = nxp_fail(err, lief_rc, "%s", lc->err.msg);
	if (!rc) {
		res->out_len = len;
		res->checksum = img->checksum;
		if (want_sha)
			nxpi_write_hex(sha, 32, res->sha256);
	}
	free(img);
	nxpi_guard_remove(slot);
	if (map != MAP_FAILED)
		munmap(map, len);
	return rc;
}

/* PATH+SUFFIX, or PATH.N+SUFFIX (N = 1..999) when that exists: a name that
 * names nothing yet. */
static int choose_backup(const char *path, const char *suffix, char *out, size_t len,
                         nxp_error *err)
{
	for (int n = 0; n < 1000; n++) {
		int k = n ? snprintf(out, len, "%s.%d%s", path, n, suffix)
		          : snprintf(out, len, "%s%s", path, suffix);
		if (k < 0 || (size_t)k >= len)
			return nxp_fail(err, NXP_E_USAGE, "backup path too long");
		struct stat st;
		if (lstat(out, &st) == 0)
			continue;
		if (errno == ENOENT)
			return NXP_OK;
		return nxp_fail(err, NXP_E_BACKUP, "cannot keep a backup as %s: %s", out,
		                strerror(errno));
	}
	return nxp_fail(err, NXP_E_BACKUP,
	                "no free backup name: %s%s and %s.1%s to .999 all exist; nothing replaced",
	                path, suffix, path, suffix);
}

/* The temporary file for out_path in the directory dirfd, which stands for
 * out_path's directory. */
static int tmpfile_open_in(nxpi_tmpfile *t, int dirfd, const char *out_path, mode_t mode,
                           nxp_error *err)
{
	char dir[4096], base[4096];
	if (snprintf(dir, sizeof(dir), "%s", out_path) >= (int)sizeof(dir))
		return nxp_fail(err, NXP_E_USAGE, "path too long");
	strcpy(base, dir);
	return nxpi_tmpfile_open_at(t, dirfd, dirname(dir), basename(base), mode, err);
}

/* A second name for the input's inode; never over an existing file. */
static int link_backup(const nxp_input *in, const char *backup, nxp_error *err)
{
	if (link(in->path, backup) != 0) {
		if (errno == EEXIST)
			return nxp_fail(err, NXP_E_BACKUP,
			                "the backup name %s was taken meanwhile; nothing replaced", backup);
		return nxp_fail(err, NXP_E_BACKUP, "cannot keep a backup as %s: %s", backup,
		                strerror(errno));
	}
	struct stat st;
	if (lstat(backup, &st) != 0 || st.st_dev != in->file.dev || st.st_ino != in->file.ino) {
		unlink(backup);
		return nxp_fail(err, NXP_E_CHANGED, "file changed while it was processed");
	}
	return NXP_OK;
}

/* The SHA-256 the output will have: the input with the planned edits, cut
 * at plan->out_len (not under re-signing). */
static int planned_sha256(const nxp_input *in, const nxp_plan *plan, char hex[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	uint64_t pos = 0;
	for (size_t i = 0; ok && i < plan->nchanges; i++) {
		const nxp_change *c = &plan->changes[i];
		uint8_t v[8];
		put_value(v, c->size, c->new_value);
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

static int journal_started(const nxp_input *in, const nxp_plan *plan,
                           const nxp_apply_options *opt, const char *before, const char *after,
                           const char *backup, nxp_error *err)
{
	json_t *rec = nxpi_journal_replace_rec("started", in->path, before, after,
	                                      backup[0] ? backup : NULL, plan->matched,
	                                      plan->nmatched);
	int rc = nxp_journal_append(opt->journal, rec, err);
	json_decref(rec);
	if (rc)
		nxp_error_prefix(err, "not written");
	return rc;
}

/* long-function: the one write sequence of write.h in its order, with one cleanup path. */
static int write_image(const nxp_input *in, const nxp_plan *plan, const char *out,
                       const nxp_apply_options *opt, nxp_apply_result *res, nxp_error *err)
{
	struct stat ost;
	char leaf[4096];
	snprintf(leaf, sizeof(leaf), "%s", out);
	/* Through the output directory's descriptor when there is one: the path
	 * is not resolved again. */
	int exists = opt->out_at ? fstatat(opt->out_dirfd, basename(leaf), &ost,
	                                   AT_SYMLINK_NOFOLLOW) == 0
	                         : lstat(out, &ost) == 0;
	if (!exists && errno != ENOENT)
		return nxp_fail(err, NXP_E_IO, "cannot stat %s: %s", out, strerror(errno));
	/* A link named as the output (-o, in place) is the user's: never
	 * turned into a file. Under --out-dir (out_at) a link planted at an
	 * output name is replaced by the output, its target untouched. */
	if (exists && S_ISLNK(ost.st_mode) && !opt->out_at)
		return nxp_fail(err, NXP_E_FILE_TYPE,
		                "%s is a symbolic link; nxpatch never replaces a link with a file "
		                "(give the file it points to)", out);
	if (exists && !S_ISREG(ost.st_mode) && !S_ISLNK(ost.st_mode))
		return nxp_fail(err, NXP_E_FILE_TYPE,
		                "%s is a %s, not a regular file; nxpatch writes only regular files",
		                out, nxpi_file_type_name(ost.st_mode));
	int in_place = exists && ost.st_dev == in->file.dev && ost.st_ino == in->file.ino;
	res->in_place = in_place;
	if (in_place && !in->file.locked)
		return nxp_fail(err, NXP_E_INTERNAL,
		                "in-place write of an input opened without NXP_INPUT_LOCK");
	if (opt->journal && !in_place)
		return nxp_fail(err, NXP_E_USAGE, "a journal records in-place replacements only");
	if (opt->in_place_bytes) {
		if (!in_place)
			return nxp_fail(err, NXP_E_USAGE, "--in-place=bytes writes into the input "
			                                  "itself; %s is another file", out);
		return nxpi_write_bytes(in, plan, opt, res, err);
	}
	if (plan->signature == NXP_SIGACT_RESIGN && !opt->signer)
		return nxp_fail(err, NXP_E_KEY,
		                "the policy says signature: resign, but no signing key was given "
		                "(--cert and --key, or --pkcs12)");

	/* The backup's name, and with a journal the write-ahead line: what is
	 * about to happen, with the SHA-256 the output will have (the input with
	 * the planned edits; under re-signing known only after verification) and
	 * the backup's name, so that revert can undo it, or clean up after it,
	 * whenever we are killed. Not durable: nothing is written. */
	char backup[sizeof(res->backup)] = "", planned[65] = "";
	int rc, linked = 0;
	if (in_place && opt->backup_suffix &&
	    (rc = choose_backup(in->path, opt->backup_suffix, backup, sizeof(backup), err)))
		return rc;
	if (opt->journal) {
		if (plan->signature != NXP_SIGACT_RESIGN && planned_sha256(in, plan, planned))
			return nxp_fail(err, NXP_E_INTERNAL, "sha-256 of the planned output failed");
		if ((rc = journal_started(in, plan, opt, res->sha256_before,
		                          planned[0] ? planned : NULL, backup, err)))
			return rc;
	}
	nxpi_tmpfile t;
	if ((rc = opt->out_at ? tmpfile_open_in(&t, opt->out_dirfd, out, 0600, err)
	                      : nxpi_tmpfile_open(&t, out, 0600, err)))
		return rc;
	if (plan->signature == NXP_SIGACT_RESIGN)
		rc = has_edits(plan) ? write_edited_signed(&t, in, plan, opt, err)
		                     : write_signed(&t, in, opt, err);
	else
		rc = write_patched(&t, in, plan, err);
	if (rc)
		goto out;
#ifdef NXP_TEST_HOOKS
	if (opt->test_corrupt_output) {
		/* Test hook: damage one byte outside the plan, as a bad disk might. */
		uint8_t b = 0x5a;
		if (pwrite(t.fd, &b, 1, (off_t)(plan->out_len / 2)) != 1) {
			rc = nxp_fail(err, NXP_E_IO, "test hook: cannot corrupt output");
			goto out;
		}
	}
#endif
	if ((rc = nxpi_write_meta(t.fd, &in->file, in_place, opt->allow_metadata_loss, res, err)))
		goto out;
	lief_check lc;
	lief_start(&lc, opt, t.path);
	if ((rc = nxpi_tmpfile_sync(&t, err))) {
		lief_finish(&lc, NULL);
		goto out;
	}
	if ((rc = verify_tmpfile(&t, in, plan, opt, &lc, opt->journal != NULL, res, err))) {
		if (rc == NXP_E_LIEF)
			nxp_error_prefix(err, "verification failed, %s left untouched "
			                      "(--no-cross-check skips LIEF)", out);
		else if (rc != NXP_E_CHANGED)
			nxp_error_prefix(err, "verification failed, %s left untouched", out);
		goto out;
	}
	/* The input must be what was read, and in place still the file at
	 * its path (the lock keeps other nxpatch runs out). */
	struct stat now;
	if (!nxpi_file_intact(&in->file) ||
	    (in_place && (lstat(in->path, &now) != 0 || now.st_dev != in->file.dev ||
	                  now.st_ino != in->file.ino))) {
		rc = nxp_fail(err, NXP_E_CHANGED, "file changed while it was processed");
		goto out;
	}
	if (in_place && in->file.nlink > 1)
		nxpi_write_warn(res, "%s has %lu hard links: only this name gets the new content, the "
		                    "other names keep the old one", in->path,
		               (unsigned long)in->file.nlink);
	if (opt->journal && !planned[0]) {
		/* Re-signing: the output's SHA-256 is known only now; a second
		 * write-ahead line records it before anything is replaced. */
		if ((rc = journal_started(in, plan, opt, res->sha256_before, res->sha256, backup, err)))
			goto out;
	} else if (opt->journal && strcmp(planned, res->sha256)) {
		rc = nxp_fail(err, NXP_E_VERIFY, "verification failed, %s left untouched: the "
		                                 "output's SHA-256 %s is not the planned %s",
		              out, res->sha256, planned);
		goto out;
	}
	if (backup[0]) {
		if ((rc = link_backup(in, backup, err)))
			goto out;
		linked = 1;
	}
	if ((rc = nxpi_tmpfile_commit(&t, err)))
		goto out;
	if (backup[0])
		snprintf(res->backup, sizeof(res->backup), "%s", backup);
	res->written = 1;
out:
	/* Whatever failed (a short copy, a write from pages past the new end,
	 * a verification against zeros), an input that changed meanwhile is
	 * the reason to report. */
	if (rc && rc != NXP_E_CHANGED && !nxpi_file_intact(&in->file))
		rc = nxp_fail(err, NXP_E_CHANGED, "file changed while it was processed");
	if (rc && linked)
		unlink(backup); /* a second name of the untouched original */
	nxpi_tmpfile_discard(&t);
	return rc;
}

int nxp_apply(const nxp_input *in, const nxp_plan *plan, const char *out_path,
              const nxp_apply_options *opt, nxp_apply_result *res, nxp_error *err)
{
	static const nxp_apply_options defaults = {0};
	if (!opt)
		opt = &defaults;
	memset(res, 0, sizeof(*res));
	if (opt->journal && !opt->in_place_bytes &&
	    nxpi_write_sha256_hex(in->file.data, in->file.len, res->sha256_before))
		return nxp_fail(err, NXP_E_INTERNAL, "sha-256 of the input failed");
	int rc = NXP_OK;
	const char *status = "written";
	struct stat st;
	if (plan->status == NXP_PLAN_REFUSED) {
		rc = nxp_fail(err, NXP_E_REFUSED, "refused: %s", plan->refusals[0].reason);
		status = "refused";
	} else if (plan->status == NXP_PLAN_NOTHING &&
	           (!opt->write_unchanged ||
	            (lstat(out_path, &st) == 0 && st.st_dev == in->file.dev &&
	             st.st_ino == in->file.ino))) {
		status = "nothing_to_do";
	} else {
		rc = write_image(in, plan, out_path, opt, res, err);
		if (rc)
			status = rc == NXP_E_REFUSED ? "refused" : "failed";
	}
	if (!opt->journal || (rc == NXP_E_JOURNAL && !res->written))
		return rc;
	/* A byte patch made its own records (the undo record and its mark);
	 * every other outcome gets a result line without one. */
	if (opt->in_place_bytes && res->written)
		return rc;
	const char *before = res->sha256_before;
	json_t *rec = opt->in_place_bytes
	                      ? nxpi_journal_patch_mark(NULL, status, in->path)
	                      : nxpi_journal_replace_rec(status, in->path, before,
	                                                res->written ? res->sha256 : before,
	                                                res->backup[0] ? res->backup : NULL,
	                                                plan->matched, plan->nmatched);
	if (rec && rc && rc != NXP_E_REFUSED)
		json_object_set_new(rec, "error", nxp_json_text(err->msg));
	nxp_error jerr = {0};
	int jrc = nxp_journal_append(opt->journal, rec, &jerr);
	json_decref(rec);
	if (jrc && !rc) {
		*err = jerr;
		if (res->written)
			nxp_error_prefix(err, "written, but its result line is missing from the journal "
			                      "(the write-ahead line lets revert undo it)");
		rc = jrc;
	}
	return rc;
}
