/* SPDX-License-Identifier: Apache-2.0 */
/* The one write sequence (include/nxpatch/write.h): apply, sign and unsign
 * all write through nxp_apply(), or its two halves nxp_apply_start() and
 * nxp_apply_finish() (a batch writes its next image while LIEF reads this
 * one's output); revert's restore shares its target checks and commit. What
 * the output holds is content.c's; the input is never copied in memory
 * except when it must be signed after edits. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "nxpatch/report.h"
#include "nxpatch/sign.h"
#include "util/guard.h"
#include "write/outcheck.h"
#include "write/internal.h"
#include "util/file.h"

/* One write in flight: what nxp_apply_start() leaves for
 * nxp_apply_finish() (write.h). */
struct nxp_apply_job {
	const nxp_input *in;
	const nxp_plan *plan;
	const nxp_apply_options *opt;
	nxp_apply_result *res;
	const char *status;
	char out[4096];
	int in_place, opened;
	char backup[4096], planned[65];
	nxpi_tmpfile t;
	/* The synced output, mapped, and nxpatch's parse of it. */
	void *map;
	size_t len;
	int slot;
	nxp_image *img;
	/* LIEF's check of the output: started as soon as it is written, so
	 * LIEF parses it while the disk syncs it, our own pass verifies it and
	 * (in a batch) the next image is written; always collected, even when
	 * something else failed first. */
	nxpi_liefq lief;
};

static void unmap_output(nxp_apply_job *j)
{
	free(j->img);
	j->img = NULL;
	nxpi_guard_remove(j->slot);
	j->slot = -1;
	if (j->map != MAP_FAILED)
		munmap(j->map, j->len);
	j->map = MAP_FAILED;
}

/* Map the synced temporary file and verify it against the plan (and take
 * its SHA-256 from the same pass when the journal needs it); it stays
 * mapped for LIEF's verdict (check_lief). */
static int verify_own(nxp_apply_job *j, nxp_error *err)
{
	struct stat st;
	int rc = NXP_OK;
	uint8_t sha[32];
	int want_sha = j->opt->journal != NULL;
	if (fstat(j->t.fd, &st) != 0) {
		rc = nxp_fail(err, NXP_E_IO, "cannot stat %s: %s", j->t.path, strerror(errno));
	} else {
		j->len = (size_t)st.st_size;
		j->map = j->len ? mmap(NULL, j->len, PROT_READ, MAP_SHARED, j->t.fd, 0) : MAP_FAILED;
		if (j->map == MAP_FAILED)
			rc = nxp_fail(err, NXP_E_IO, "cannot map the written output: %s",
			              j->len ? strerror(errno) : "empty file");
		else
			j->slot = nxpi_guard_add(j->map, j->len);
	}
	if (!rc && !(j->img = malloc(sizeof(*j->img))))
		rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
	if (!rc)
		rc = nxpi_check_output_mapped(j->in, j->plan, j->map, j->len, j->img,
		                              want_sha ? sha : NULL, err);
	if (!rc && j->plan->signature == NXP_SIGACT_RESIGN)
		rc = nxp_sig_verify_own(j->map, j->len, j->img, j->opt->signer, err);
	if (nxpi_guard_faulted(j->slot))
		rc = nxp_fail(err, NXP_E_CHANGED, "the temporary file %s was cut short by someone "
		                                  "else while it was verified", j->t.path);
	if (!rc && want_sha)
		nxpi_write_hex(sha, 32, j->res->sha256);
	if (!rc)
		nxpi_liefq_ready(&j->lief, j->img);
	return rc;
}

/* LIEF's verdict on the verified output, then the output let go. */
static int check_lief(nxp_apply_job *j, nxp_error *err)
{
	int rc = nxpi_liefq_finish(&j->lief);
	if (rc)
		rc = nxp_fail(err, rc, "%s", j->lief.err.msg);
	else {
		j->res->out_len = j->len;
		j->res->checksum = j->img->checksum;
	}
	unmap_output(j);
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

/* The checks on the target before anything is written: 0 to write, or an
 * error. */
static int check_target(nxp_apply_job *j, nxp_error *err)
{
	const nxp_input *in = j->in;
	const nxp_apply_options *opt = j->opt;
	const char *out = j->out;
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
	j->in_place = exists && ost.st_dev == in->file.dev && ost.st_ino == in->file.ino;
	j->res->in_place = j->in_place;
	if (j->in_place && !in->file.locked)
		return nxp_fail(err, NXP_E_INTERNAL,
		                "in-place write of an input opened without NXP_INPUT_LOCK");
	if (opt->journal && !j->in_place)
		return nxp_fail(err, NXP_E_USAGE, "a journal records in-place replacements only");
	if (opt->in_place_bytes && !j->in_place)
		return nxp_fail(err, NXP_E_USAGE, "--in-place=bytes writes into the input "
		                                  "itself; %s is another file", out);
	if (!opt->in_place_bytes && j->plan->signature == NXP_SIGACT_RESIGN && !opt->signer)
		return nxp_fail(err, NXP_E_KEY,
		                "the policy says signature: resign, but no signing key was given "
		                "(--cert and --key, or --pkcs12)");
	return NXP_OK;
}

/* Whatever failed (a short copy, a write from pages past the new end, a
 * verification against zeros), an input that changed meanwhile is the
 * reason to report. Then nothing of the write is left. */
static int write_abort(nxp_apply_job *j, int rc, nxp_error *err)
{
	nxpi_liefq_drop(&j->lief);
	unmap_output(j);
	if (rc && rc != NXP_E_CHANGED && !nxpi_file_intact(&j->in->file))
		rc = nxp_fail(err, NXP_E_CHANGED, "file changed while it was processed");
	if (j->opened)
		nxpi_tmpfile_discard(&j->t);
	j->opened = 0;
	return rc;
}

/* The write sequence up to LIEF's verdict: the output written, synced and
 * verified by nxpatch, LIEF's check started. */
static int write_start(nxp_apply_job *j, nxp_error *err)
{
	const nxp_input *in = j->in;
	const nxp_plan *plan = j->plan;
	const nxp_apply_options *opt = j->opt;
	nxp_apply_result *res = j->res;
	int rc;
	/* The backup's name, and with a journal the write-ahead line: what is
	 * about to happen, with the SHA-256 the output will have (the input with
	 * the planned edits; under re-signing known only after verification) and
	 * the backup's name, so that revert can undo it, or clean up after it,
	 * whenever we are killed. Not durable: nothing is written. */
	if (j->in_place && opt->backup_suffix &&
	    (rc = choose_backup(in->path, opt->backup_suffix, j->backup, sizeof(j->backup), err)))
		return rc;
	if (opt->journal) {
		if (plan->signature != NXP_SIGACT_RESIGN && nxpi_write_planned_sha256(in, plan, j->planned))
			return nxp_fail(err, NXP_E_INTERNAL, "sha-256 of the planned output failed");
		if ((rc = journal_started(in, plan, opt, res->sha256_before,
		                          j->planned[0] ? j->planned : NULL, j->backup, err)))
			return rc;
	}
	if ((rc = opt->out_at ? tmpfile_open_in(&j->t, opt->out_dirfd, j->out, 0600, err)
	                      : nxpi_tmpfile_open(&j->t, j->out, 0600, err)))
		return rc;
	j->opened = 1;
	rc = nxpi_write_content(&j->t, in, plan, opt, err);
#ifdef NXP_TEST_HOOKS
	if (!rc && opt->test_corrupt_output) {
		/* Test hook: damage one byte outside the plan, as a bad disk might. */
		uint8_t b = 0x5a;
		if (pwrite(j->t.fd, &b, 1, (off_t)(plan->out_len / 2)) != 1)
			rc = nxp_fail(err, NXP_E_IO, "test hook: cannot corrupt output");
	}
#endif
	if (!rc)
		rc = nxpi_write_meta(j->t.fd, &in->file, j->in_place, opt->allow_metadata_loss, res,
		                     err);
	if (!rc)
		nxpi_liefq_start(&j->lief, opt->cross_check, j->t.path);
	if (!rc)
		rc = nxpi_tmpfile_sync(&j->t, err);
	if (!rc && (rc = verify_own(j, err)) && rc != NXP_E_CHANGED)
		nxp_error_prefix(err, "verification failed, %s left untouched", j->out);
	return rc ? write_abort(j, rc, err) : NXP_OK;
}

/* The rest: LIEF's verdict, the last checks, the backup and the rename. */
static int write_end(nxp_apply_job *j, nxp_error *err)
{
	const nxp_input *in = j->in;
	const nxp_apply_options *opt = j->opt;
	nxp_apply_result *res = j->res;
	const char *out = j->out;
	int rc, linked = 0;
	if ((rc = check_lief(j, err))) {
		if (rc == NXP_E_LIEF)
			nxp_error_prefix(err, "verification failed, %s left untouched "
			                      "(--no-cross-check skips LIEF)", out);
		else
			nxp_error_prefix(err, "verification failed, %s left untouched", out);
		goto out;
	}
	/* The input must be what was read, and in place still the file at
	 * its path (the lock keeps other nxpatch runs out). */
	struct stat now;
	if (!nxpi_file_intact(&in->file) ||
	    (j->in_place && (lstat(in->path, &now) != 0 || now.st_dev != in->file.dev ||
	                     now.st_ino != in->file.ino))) {
		rc = nxp_fail(err, NXP_E_CHANGED, "file changed while it was processed");
		goto out;
	}
	if (j->in_place && in->file.nlink > 1)
		nxpi_write_warn(res, "%s has %lu hard links: only this name gets the new content, the "
		                    "other names keep the old one", in->path,
		               (unsigned long)in->file.nlink);
	if (opt->journal && !j->planned[0]) {
		/* Re-signing: the output's SHA-256 is known only now; a second
		 * write-ahead line records it before anything is replaced. */
		if ((rc = journal_started(in, j->plan, opt, res->sha256_before, res->sha256,
		                          j->backup, err)))
			goto out;
	} else if (opt->journal && strcmp(j->planned, res->sha256)) {
		rc = nxp_fail(err, NXP_E_VERIFY, "verification failed, %s left untouched: the "
		                                 "output's SHA-256 %s is not the planned %s",
		              out, res->sha256, j->planned);
		goto out;
	}
	if (j->backup[0]) {
		if ((rc = link_backup(in, j->backup, err)))
			goto out;
		linked = 1;
	}
	if ((rc = nxpi_tmpfile_commit(&j->t, err)))
		goto out;
	if (j->backup[0])
		snprintf(res->backup, sizeof(res->backup), "%s", j->backup);
	res->written = 1;
out:
	if (rc && linked)
		unlink(j->backup); /* a second name of the untouched original */
	return write_abort(j, rc, err);
}

/* With a journal, the call's result line (a byte patch made its own). */
static int journal_result(const nxp_apply_job *j, int rc, nxp_error *err)
{
	const nxp_apply_options *opt = j->opt;
	const nxp_apply_result *res = j->res;
	if (!opt->journal || (rc == NXP_E_JOURNAL && !res->written))
		return rc;
	/* A byte patch made its own records (the undo record and its mark);
	 * every other outcome gets a result line without one. */
	if (opt->in_place_bytes && res->written)
		return rc;
	const char *before = res->sha256_before;
	const char *status = j->status;
	if (rc && !strcmp(status, "written"))
		status = rc == NXP_E_REFUSED ? "refused" : "failed";
	json_t *rec = opt->in_place_bytes
	                      ? nxpi_journal_patch_mark(NULL, status, j->in->path)
	                      : nxpi_journal_replace_rec(status, j->in->path, before,
	                                                res->written ? res->sha256 : before,
	                                                res->backup[0] ? res->backup : NULL,
	                                                j->plan->matched, j->plan->nmatched);
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

int nxp_apply_start(const nxp_input *in, const nxp_plan *plan, const char *out_path,
                    const nxp_apply_options *opt, nxp_apply_result *res, nxp_apply_job **job,
                    nxp_error *err)
{
	static const nxp_apply_options defaults = {0};
	*job = NULL;
	memset(res, 0, sizeof(*res));
	nxp_apply_job *j = calloc(1, sizeof(*j));
	if (!j)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	/* Set field by field: a compound literal would build the whole job
	 * (some 17 KB of paths) on the stack and copy it. */
	j->in = in;
	j->plan = plan;
	j->opt = opt = opt ? opt : &defaults;
	j->res = res;
	j->status = "written";
	j->map = MAP_FAILED;
	j->slot = -1;
	int rc = NXP_OK;
	struct stat st;
	if (snprintf(j->out, sizeof(j->out), "%s", out_path) >= (int)sizeof(j->out))
		rc = nxp_fail(err, NXP_E_USAGE, "path too long");
	else if (opt->journal && !opt->in_place_bytes &&
	         nxpi_write_sha256_hex(in->file.data, in->file.len, res->sha256_before))
		rc = nxp_fail(err, NXP_E_INTERNAL, "sha-256 of the input failed");
	if (rc) {
		free(j);
		return rc;
	}
	if (plan->status == NXP_PLAN_REFUSED) {
		rc = nxp_fail(err, NXP_E_REFUSED, "refused: %s", plan->refusals[0].reason);
		j->status = "refused";
	} else if (plan->status == NXP_PLAN_NOTHING &&
	           (!opt->write_unchanged ||
	            (lstat(out_path, &st) == 0 && st.st_dev == in->file.dev &&
	             st.st_ino == in->file.ino))) {
		j->status = "nothing_to_do";
	} else if (!(rc = check_target(j, err))) {
		if (opt->in_place_bytes)
			rc = nxpi_write_bytes(in, plan, opt, res, err);
		else if (!(rc = write_start(j, err)) && nxpi_liefq_pending(&j->lief)) {
			*job = j; /* LIEF's verdict is to come */
			return NXP_OK;
		} else if (!rc) {
			rc = write_end(j, err);
		}
	}
	rc = journal_result(j, rc, err);
	free(j);
	return rc;
}

int nxp_apply_finish(nxp_apply_job *j, nxp_error *err)
{
	int rc = journal_result(j, write_end(j, err), err);
	free(j);
	return rc;
}

int nxp_apply(const nxp_input *in, const nxp_plan *plan, const char *out_path,
              const nxp_apply_options *opt, nxp_apply_result *res, nxp_error *err)
{
	nxp_apply_job *job;
	int rc = nxp_apply_start(in, plan, out_path, opt, res, &job, err);
	return job ? nxp_apply_finish(job, err) : rc;
}
