/* SPDX-License-Identifier: Apache-2.0 */
/* --in-place=bytes: the planned bytes written into the file itself, the one
 * writer's sequence for a patch that keeps the inode (write.h):
 *
 *   the view (the input's mapping, the plan's bytes in private pages)
 *   verified from the headers, and by LIEF when asked
 *   -> the input unchanged, still the locked file at its path
 *   -> the undo record (path, device, inode, size, old and new bytes)
 *      appended to the journal and fsynced
 *   -> pwrite of each run of bytes, fsync, read back
 *   -> the completion mark, fsynced.
 *
 * A failure after the undo record puts the old bytes back at once (and
 * marks the record "reverted"); a crash leaves the record open, and revert
 * or the next apply with the journal restores the original from it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nxpatch/crosscheck.h"
#include "util/bytes.h"
#include "util/fault.h"
#include "util/file.h"
#include "util/guard.h"
#include "write/outcheck.h"
#include "write/internal.h"

/* A random id for the record and its marks. */
static void new_id(char id[33])
{
	uint8_t b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		uint64_t t = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
		memcpy(b, &t, 8);
		memcpy(b + 8, &t, 8);
	}
	nxpi_write_hex(b, sizeof(b), id);
}

/* The LIEF cross-check of the view: LIEF reads a file, so the view goes to
 * an anonymous memory file that the worker opens through /proc: the
 * input's bytes copied by the kernel (sendfile: never faulted into this
 * process), then the plan's bytes written over them. */
static int lief_view_begin(const nxp_input *in, const nxp_plan *plan, int *mfd, nxp_error *err)
{
	*mfd = memfd_create("nxpatch-view", MFD_CLOEXEC);
	if (*mfd < 0)
		return nxp_fail(err, NXP_E_IO, "cannot make a view for LIEF: %s", strerror(errno));
	off_t pos = 0;
	while ((uint64_t)pos < in->file.len) {
		uint64_t left = in->file.len - (uint64_t)pos;
		ssize_t w = sendfile(*mfd, in->file.fd, &pos, left > (1u << 30) ? 1u << 30 : left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0)
			return nxp_fail(err, NXP_E_CHANGED, "file changed while it was processed");
		if (w < 0)
			return nxp_fail(err, NXP_E_IO, "cannot make a view for LIEF: %s", strerror(errno));
	}
	for (size_t i = 0; i < plan->nchanges; i++) {
		const nxp_change *c = &plan->changes[i];
		uint8_t v[8];
		nxpi_put_le(v, c->size, c->new_value);
		if (pwrite(*mfd, v, c->size, (off_t)c->offset) != (ssize_t)c->size)
			return nxp_fail(err, NXP_E_IO, "cannot make a view for LIEF: %s", strerror(errno));
	}
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)getpid(), *mfd);
	return nxp_crosscheck_file_begin(p, err);
}

/* Build the view and verify it (and LIEF's reading of it). */
static int verify_view(const nxp_input *in, const nxp_plan *plan, const nxp_apply_options *opt,
                       nxp_error *err)
{
	size_t len = in->file.len;
	uint8_t *view = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, in->file.fd, 0);
	if (view == MAP_FAILED)
		return nxp_fail(err, NXP_E_IO, "cannot map the image: %s", strerror(errno));
	int slot = nxpi_guard_add(view, len), mfd = -1, lief = 0, rc = NXP_OK;
	for (size_t i = 0; i < plan->nchanges; i++)
		nxpi_put_le(view + plan->changes[i].offset, plan->changes[i].size,
		            plan->changes[i].new_value);
	nxp_image *img = malloc(sizeof(*img));
	if (!img)
		rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
	if (!rc && opt->cross_check) {
		rc = lief_view_begin(in, plan, &mfd, err);
		lief = rc == NXP_OK;
	}
	if (!rc)
		rc = nxpi_check_patch_view(in, plan, view, len, img, err);
	if (lief) {
		nxp_error lerr = {0};
		size_t n = 0;
		int lrc = nxp_crosscheck_file_end(rc ? NULL : img, NULL, 0, &n, &lerr);
		if (!rc && lrc) {
			*err = lerr;
			rc = lrc;
		}
	}
	if (nxpi_guard_faulted(slot))
		rc = nxp_fail(err, NXP_E_CHANGED, "file changed while it was processed");
	if (mfd >= 0)
		close(mfd);
	free(img);
	nxpi_guard_remove(slot);
	munmap(view, len);
	if (rc == NXP_E_LIEF || rc == NXP_E_CROSS_CHECK)
		nxp_error_prefix(err, "verification failed, nothing written (--no-cross-check skips "
		                      "LIEF)");
	else if (rc && rc != NXP_E_CHANGED)
		nxp_error_prefix(err, "verification failed, nothing written");
	return rc;
}

/* The file for writing, checked to be the locked input (never a link). */
static int open_for_writing(const nxp_input *in, int *out, nxp_error *err)
{
	int fd = open(in->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return nxp_fail(err, errno == ELOOP ? NXP_E_FILE_TYPE : NXP_E_IO,
		                "cannot open for writing: %s; nothing written", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != in->file.dev ||
	    st.st_ino != in->file.ino || (size_t)st.st_size != in->file.len) {
		close(fd);
		return nxp_fail(err, NXP_E_CHANGED, "file changed while it was processed");
	}
	*out = fd;
	return NXP_OK;
}

/* Write one side (old or new) of every edit; 0 or -1 with errno. */
static int put_edits(int fd, const nxpi_patch_edit *e, size_t n, int new_side)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *b = new_side ? e[i].new_ : e[i].old;
		ssize_t w;
		do
			w = nxpi_io_pwrite(fd, b, e[i].len, (off_t)e[i].off);
		while (w < 0 && errno == EINTR);
		if (w != (ssize_t)e[i].len) {
			if (w >= 0)
				errno = EIO;
			return -1;
		}
	}
	return 0;
}

/* 1 when the file (fd) holds the given side of every edit. */
static int holds(int fd, const nxpi_patch_edit *e, size_t n, int new_side)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b[NXP_PATCH_MAX_EDIT];
		if (pread(fd, b, e[i].len, (off_t)e[i].off) != (ssize_t)e[i].len ||
		    memcmp(b, new_side ? e[i].new_ : e[i].old, e[i].len))
			return 0;
	}
	return 1;
}

static int append(nxp_journal *j, json_t *rec, nxp_error *err)
{
	int rc = rec ? nxp_journal_append(j, rec, err)
	             : nxp_fail(err, NXP_E_JOURNAL, "cannot write the journal: out of memory");
	json_decref(rec);
	return rc;
}

/* The plan's changes as edits: old bytes from the input, new from the plan. */
static int plan_edits(const nxp_input *in, const nxp_plan *plan, nxpi_patch_edit *e, size_t *n,
                      nxp_error *err)
{
	if (plan->nchanges > NXP_PATCH_MAX_EDITS)
		return nxp_fail(err, NXP_E_INTERNAL, "too many changes for one undo record");
	for (size_t i = 0; i < plan->nchanges; i++) {
		const nxp_change *c = &plan->changes[i];
		if (c->size > NXP_PATCH_MAX_EDIT || !NXP_FITS(c->offset, c->size, in->file.len))
			return nxp_fail(err, NXP_E_INTERNAL, "planned field at 0x%x cannot be patched",
			                c->offset);
		e[i] = (nxpi_patch_edit){.off = c->offset, .len = c->size};
		memcpy(e[i].old, in->file.data + c->offset, c->size);
		nxpi_put_le(e[i].new_, c->size, c->new_value);
	}
	*n = plan->nchanges;
	return NXP_OK;
}

/* What the byte mode refuses: anything that changes the length, a signed
 * image, no journal for the undo record. */
static int refused(const nxp_input *in, const nxp_plan *plan, const nxp_apply_options *opt,
                   nxp_error *err)
{
	if (plan->add.present)
		return nxp_fail(err, NXP_E_REFUSED,
		                "refused: the plan appends a section (%s), which changes the file's "
		                "length; --in-place=bytes writes only bytes within the file (use "
		                "--in-place=rename)", plan->add.name);
	if (plan->signature != NXP_SIGACT_NONE || plan->out_len != in->file.len)
		return nxp_fail(err, NXP_E_REFUSED,
		                "refused: the plan changes the file's length (its signature); "
		                "--in-place=bytes writes only bytes within the file (use "
		                "--in-place=rename)");
	if (in->img.ncerts > 0)
		return nxp_fail(err, NXP_E_REFUSED,
		                "refused: the image is signed; writing into it would break the "
		                "signature");
	if (!opt->journal)
		return nxp_fail(err, NXP_E_USAGE,
		                "--in-place=bytes needs a journal: the undo record goes there first");
	return NXP_OK;
}

int nxpi_write_bytes(const nxp_input *in, const nxp_plan *plan, const nxp_apply_options *opt,
                    nxp_apply_result *res, nxp_error *err)
{
	if (refused(in, plan, opt, err))
		return err->code;
	nxpi_patch_edit e[NXP_PATCH_MAX_EDITS];
	size_t n = 0;
	int rc = plan_edits(in, plan, e, &n, err);
	if (rc || (rc = verify_view(in, plan, opt, err)))
		return rc;

	/* What was read is still the file, and the file still its path's. */
	struct stat now;
	if (!nxpi_file_intact(&in->file) || lstat(in->path, &now) != 0 ||
	    now.st_dev != in->file.dev || now.st_ino != in->file.ino)
		return nxp_fail(err, NXP_E_CHANGED, "file changed while it was processed");
	int fd = -1;
	if ((rc = open_for_writing(in, &fd, err)))
		return rc;
	if (!holds(fd, e, n, 0)) {
		close(fd);
		return nxp_fail(err, NXP_E_CHANGED, "file changed while it was processed");
	}

	/* The undo record, durable before the first byte. */
	char id[33];
	new_id(id);
	if ((rc = append(opt->journal,
	                 nxpi_journal_patch_rec(id, in->path, &in->file, e, n, plan->matched,
	                                       plan->nmatched),
	                 err))) {
		close(fd);
		return nxp_error_prefix(err, "not written");
	}
	const char *step = "write";
	if (put_edits(fd, e, n, 1) == 0) {
		step = "sync";
		if (nxpi_io_fsync(fd) == 0) {
			step = "read back";
			if (holds(fd, e, n, 1))
				step = NULL;
		}
	}
	if (step) {
		/* Put the original back now; if that fails too, the open undo
		 * record lets revert (or the next run) do it. */
		int e0 = errno;
		int back = put_edits(fd, e, n, 0) == 0 && nxpi_io_fsync(fd) == 0 && holds(fd, e, n, 0);
		nxpi_io_forget(fd);
		close(fd);
		nxp_error jerr = {0};
		if (back)
			back = append(opt->journal, nxpi_journal_patch_mark(id, "reverted", in->path),
			              &jerr) == NXP_OK;
		return nxp_fail(err, NXP_E_IO,
		                "cannot %s the patched bytes: %s; %s", step,
		                strcmp(step, "read back") ? strerror(e0) : "they differ",
		                back ? "the original bytes are back"
		                     : "the journal's undo record restores the original (nxpatch "
		                       "revert)");
	}
	nxpi_io_forget(fd);
	close(fd); /* the bytes were fsynced and read back: a close error changes nothing */
	res->written = 1;
	res->out_len = in->file.len;
	res->checksum = plan->checksum_new;
	if ((rc = append(opt->journal, nxpi_journal_patch_mark(id, "written", in->path), err))) {
		nxp_error_prefix(err, "written, but its completion mark is missing from the journal "
		                      "(revert or the next run restores the original)");
		return rc;
	}
	return NXP_OK;
}
