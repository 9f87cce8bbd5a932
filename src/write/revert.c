/* SPDX-License-Identifier: Apache-2.0 */
/* revert: undo a journal's records, last first (include/nxpatch/write.h).
 * A "replace" record is undone by renaming its backup (the original inode,
 * a hard link apply made) back over the image, under the image's write
 * lock, after checking everything the journal claims: a journal is input
 * like any other and may be crafted. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "util/fault.h"
#include "write/internal.h"
#include "util/file.h"

typedef struct rv {
	int dry_run;
	nxp_revert_cb cb;
	void *ctx;
	nxp_revert_summary *sum;
	json_t *state;              /* dry run: path -> the SHA-256 it would have now */
	json_t *overlay;            /* dry run: "path\noffset" -> the byte it would hold */
	json_t *closed;             /* patch ids a later mark closed ("reverted") */
	const char *untrusted;      /* why the journal's undo records are not trusted, or NULL */
} rv;

static void event(rv *r, nxp_revert_event ev, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void event(rv *r, nxp_revert_event ev, const char *path, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ev == NXP_REVERT_REFUSED)
		r->sum->refused++;
	else if (ev == NXP_REVERT_FAILED)
		r->sum->failed++;
	else if (ev == NXP_REVERT_RESTORED || ev == NXP_REVERT_WOULD_RESTORE)
		r->sum->restored++;
	if (r->cb)
		r->cb(r->ctx, ev, path, msg);
}

/* Temporary files of an interrupted run beside path. */
static void remove_temporaries(rv *r, const char *path)
{
	char d[PATH_MAX], b[PATH_MAX], prefix[NAME_MAX + 32];
	snprintf(d, sizeof(d), "%s", path);
	snprintf(b, sizeof(b), "%s", path);
	const char *dir = dirname(d), *base = basename(b);
	nxpi_tmpfile_prefix(base, prefix, sizeof(prefix));
	size_t plen = strlen(prefix);
	DIR *dp = opendir(dir);
	if (!dp)
		return;
	struct dirent *e;
	while ((e = readdir(dp))) {
		if (strncmp(e->d_name, prefix, plen) || strlen(e->d_name) != plen + 6)
			continue;
		char p[2 * PATH_MAX];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && unlink(p) == 0)
			event(r, NXP_REVERT_REMOVED_TEMP, p, "removed a temporary file left by an "
			                                     "interrupted run");
	}
	closedir(dp);
}

/* The backup must be path + a suffix, in path's directory. */
static int backup_beside(const char *path, const char *backup)
{
	size_t n = strlen(path);
	return !strncmp(backup, path, n) && backup[n] && !strchr(backup + n, '/');
}

static void sha_of(const nxp_file *f, char hex[65])
{
	if (nxpi_write_sha256_hex(f->data, f->len, hex))
		snprintf(hex, 65, "unknown");
}

/* long-function: the checks of one journal record before its rename, in order. */
static void revert_replace(rv *r, const json_t *e)
{
	char path[PATH_MAX], backup[PATH_MAX];
	const char *st = json_string_value(json_object_get(e, "status"));
	const char *before = json_string_value(json_object_get(e, "sha256_before"));
	const char *after = json_string_value(json_object_get(e, "sha256_after"));
	if (nxp_journal_get_path(e, "path", path, sizeof(path)) || !st || !before) {
		event(r, NXP_REVERT_FAILED, NULL, "journal entry without path, status and "
		                                 "sha256_before");
		return;
	}
	/* "started" is the write-ahead line: alone (no result line, apply was
	 * killed) it is undone like "written" when the file is what apply was
	 * about to write. */
	if (strcmp(st, "written") && strcmp(st, "started"))
		return;
	int have_backup = !nxp_journal_get_path(e, "backup", backup, sizeof(backup));
	if (!r->dry_run)
		remove_temporaries(r, path);

	/* The current file, locked (a real run) so that no apply replaces it
	 * between our checks and the rename. */
	nxp_file cur;
	nxp_error err = {0};
	if (nxp_file_load_flags(&cur, path, r->dry_run ? 0 : NXP_FILE_LOCK, &err)) {
		event(r, err.code == NXP_E_FILE_TYPE ? NXP_REVERT_REFUSED : NXP_REVERT_FAILED, path,
		      "cannot revert: %s", err.msg);
		return;
	}
	char cur_sha[65], orig[65];
	const char *known = r->dry_run ? json_string_value(json_object_get(r->state, path)) : NULL;
	if (known)
		snprintf(cur_sha, sizeof(cur_sha), "%s", known);
	else
		sha_of(&cur, cur_sha);
	if (!strcmp(cur_sha, before)) {
		/* Never replaced, or restored already. A backup made just before an
		 * interrupted rename is a second name of this very file: drop it. */
		struct stat bs;
		if (!r->dry_run && have_backup && backup_beside(path, backup) &&
		    lstat(backup, &bs) == 0 && S_ISREG(bs.st_mode) && bs.st_dev == cur.dev &&
		    bs.st_ino == cur.ino && unlink(backup) == 0)
			event(r, NXP_REVERT_REMOVED_BACKUP, path, "removed the unused backup %s", backup);
		goto done;
	}
	if (!have_backup) {
		event(r, NXP_REVERT_REFUSED, path, "cannot revert: the journal has no backup for it "
		                                   "(apply ran without --backup)");
		goto done;
	}
	if (!backup_beside(path, backup)) {
		event(r, NXP_REVERT_REFUSED, path, "refused: the journal's backup %s is not the "
		                                   "image's name plus a suffix in its directory", backup);
		goto done;
	}
	if (!after || strcmp(cur_sha, after)) {
		event(r, NXP_REVERT_REFUSED, path,
		      "refused: it changed since apply wrote it (sha256 %s, journal says %s)", cur_sha,
		      after ? after : "unknown");
		goto done;
	}
	nxp_file bk;
	if (nxp_file_load_flags(&bk, backup, NXP_FILE_LOCK, &err)) {
		event(r, err.code == NXP_E_FILE_TYPE ? NXP_REVERT_REFUSED : NXP_REVERT_FAILED, path,
		      "cannot revert: the backup %s: %s", backup, err.msg);
		goto done;
	}
	sha_of(&bk, orig);
	int ok = 0;
	if (bk.uid != cur.uid || bk.gid != cur.gid)
		event(r, NXP_REVERT_REFUSED, path,
		      "refused: the backup %s belongs to %u:%u, the image to %u:%u", backup,
		      (unsigned)bk.uid, (unsigned)bk.gid, (unsigned)cur.uid, (unsigned)cur.gid);
	else if (strcmp(orig, before))
		event(r, NXP_REVERT_REFUSED, path,
		      "refused: the backup %s is not the original (sha256 %s, journal says %s)", backup,
		      orig, before);
	else if (!nxpi_file_intact(&cur) || !nxpi_file_intact(&bk))
		event(r, NXP_REVERT_FAILED, path, "cannot revert: it changed while it was checked");
	else
		ok = 1;
	if (ok && r->dry_run) {
		event(r, NXP_REVERT_WOULD_RESTORE, path, "%s", backup);
		json_object_set_new(r->state, path, json_string(before));
	} else if (ok) {
		/* The backup is the original inode: renaming it back is atomic and
		 * keeps its owner, mode, attributes and times. */
		if (rename(backup, path) != 0) {
			event(r, NXP_REVERT_FAILED, path, "cannot restore from %s: %s", backup,
			      strerror(errno));
		} else {
			nxpi_write_sync_dir(path);
			event(r, NXP_REVERT_RESTORED, path, "%s", backup);
		}
	}
	nxp_file_unload(&bk);
done:
	nxp_file_unload(&cur);
}

/* ---- "patch" records (--in-place=bytes) -------------------------------- */

static json_t *overlay_slot(json_t *overlay, const char *path, uint64_t off, char *key,
                            size_t keylen)
{
	snprintf(key, keylen, "%s\n%llu", path, (unsigned long long)off);
	return overlay ? json_object_get(overlay, key) : NULL;
}

/* Write p's old bytes into the file cur (loaded, locked), fsync, read back. */
static int write_back(const nxpi_patch_rec *p, const nxp_file *cur, char *msg, size_t msglen)
{
	int ev;
	int fd = open(p->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != cur->dev ||
	    st.st_ino != cur->ino) {
		snprintf(msg, msglen, "cannot revert: cannot open it for writing: %s",
		         fd < 0 ? strerror(errno) : "it was replaced meanwhile");
		if (fd >= 0)
			close(fd);
		ev = NXP_REVERT_FAILED;
		return ev;
	}
	int ok = 1;
	for (size_t i = 0; ok && i < p->nedits; i++)
		ok = nxpi_io_pwrite(fd, p->edits[i].old, p->edits[i].len, (off_t)p->edits[i].off) ==
		     (ssize_t)p->edits[i].len;
	ok = ok && nxpi_io_fsync(fd) == 0;
	for (size_t i = 0; ok && i < p->nedits; i++) {
		uint8_t b[NXP_PATCH_MAX_EDIT];
		ok = pread(fd, b, p->edits[i].len, (off_t)p->edits[i].off) ==
		             (ssize_t)p->edits[i].len &&
		     !memcmp(b, p->edits[i].old, p->edits[i].len);
	}
	int e = errno;
	nxpi_io_forget(fd);
	close(fd);
	if (!ok) {
		snprintf(msg, msglen, "cannot restore its bytes: %s (the undo record stays; run "
		                      "revert again)", strerror(e));
		ev = NXP_REVERT_FAILED;
	} else {
		ev = NXP_REVERT_RESTORED;
	}
	return ev;
}

int nxpi_patch_undo(const nxpi_patch_rec *p, int dry_run, json_t *overlay, char *msg,
                   size_t msglen)
{
	nxp_file cur;
	nxp_error err = {0};
	/* Locked (a real run), never through a link, a regular file only. */
	if (nxp_file_load_flags(&cur, p->path, dry_run ? 0 : NXP_FILE_LOCK, &err)) {
		snprintf(msg, msglen, "cannot revert: %s", err.msg);
		return err.code == NXP_E_FILE_TYPE ? NXP_REVERT_REFUSED : NXP_REVERT_FAILED;
	}
	int ev = -1;
	if ((uint64_t)cur.dev != p->dev || (uint64_t)cur.ino != p->ino || cur.len != p->size) {
		snprintf(msg, msglen, "refused: it is not the file the journal's undo record %s "
		                      "patched (device, inode or size differ: replaced or changed "
		                      "since)", p->id);
		ev = NXP_REVERT_REFUSED;
		goto done;
	}
	int need = 0;
	char key[4200];
	for (size_t i = 0; i < p->nedits && ev < 0; i++)
		for (uint32_t k = 0; k < p->edits[i].len; k++) {
			uint64_t at = p->edits[i].off + k;
			json_t *o = overlay_slot(dry_run ? overlay : NULL, p->path, at, key, sizeof(key));
			uint8_t b = o ? (uint8_t)json_integer_value(o) : cur.data[at];
			if (b != p->edits[i].old[k] && b != p->edits[i].new_[k]) {
				snprintf(msg, msglen, "refused: it changed since the undo record %s was "
				                      "written: the byte at 0x%llx is 0x%02x, neither the old "
				                      "0x%02x nor the new 0x%02x", p->id,
				         (unsigned long long)at, b, p->edits[i].old[k], p->edits[i].new_[k]);
				ev = NXP_REVERT_REFUSED;
				break;
			}
			need |= b != p->edits[i].old[k];
		}
	if (ev >= 0 || !need)
		goto done;
	if (!nxpi_file_intact(&cur)) {
		snprintf(msg, msglen, "cannot revert: it changed while it was checked");
		ev = NXP_REVERT_FAILED;
		goto done;
	}
	snprintf(msg, msglen, "the journal's undo record (%zu run%s of bytes)", p->nedits,
	         p->nedits == 1 ? "" : "s");
	if (dry_run) {
		for (size_t i = 0; i < p->nedits; i++)
			for (uint32_t k = 0; k < p->edits[i].len; k++) {
				overlay_slot(NULL, p->path, p->edits[i].off + k, key, sizeof(key));
				json_object_set_new(overlay, key, json_integer(p->edits[i].old[k]));
			}
		ev = NXP_REVERT_WOULD_RESTORE;
		goto done;
	}
	ev = write_back(p, &cur, msg, msglen);
done:
	nxp_file_unload(&cur);
	return ev;
}

/* Undo records are trusted only from a journal no one else can write. */
static const char *journal_untrusted(const char *journal, char *buf, size_t len)
{
	struct stat st;
	if (stat(journal, &st) != 0)
		return NULL; /* nxp_journal_read says why */
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(buf, len, "the journal belongs to uid %u: its undo records are not trusted",
		         (unsigned)st.st_uid);
		return buf;
	}
	if (st.st_mode & 022) {
		snprintf(buf, len, "the journal is writable by others (mode %04o): its undo records "
		                   "are not trusted", (unsigned)(st.st_mode & 07777));
		return buf;
	}
	return NULL;
}

static void revert_patch(rv *r, const json_t *e)
{
	const char *st = json_string_value(json_object_get(e, "status"));
	const char *id = json_string_value(json_object_get(e, "id"));
	if (st && id && !strcmp(st, "reverted")) {
		json_object_set_new(r->closed, id, json_true());
		return;
	}
	if (!st || strcmp(st, "started") || (id && json_object_get(r->closed, id)))
		return;
	nxpi_patch_rec p;
	char msg[1024];
	if (nxpi_journal_patch_parse(e, &p, msg, sizeof(msg))) {
		event(r, NXP_REVERT_FAILED, NULL, "%s", msg);
		return;
	}
	if (r->untrusted) {
		event(r, NXP_REVERT_REFUSED, p.path, "refused: %s", r->untrusted);
		return;
	}
	int ev = nxpi_patch_undo(&p, r->dry_run, r->overlay, msg, sizeof(msg));
	if (ev >= 0)
		event(r, (nxp_revert_event)ev, p.path, "%s", msg);
}

int nxp_recover(const char *journal, nxp_journal *j, nxp_revert_cb cb, void *ctx,
                nxp_revert_summary *sum, nxp_error *err)
{
	memset(sum, 0, sizeof(*sum));
	json_t *entries;
	int rc = nxp_journal_read(journal, &entries, err);
	if (rc)
		return rc;
	rv r = {.cb = cb, .ctx = ctx, .sum = sum};
	/* The records no mark closed: a run was killed between them and its mark. */
	json_t *open_ids = json_object();
	for (size_t i = 0; i < json_array_size(entries); i++) {
		const json_t *e = json_array_get(entries, i);
		const char *op = json_string_value(json_object_get(e, "op"));
		const char *st = json_string_value(json_object_get(e, "status"));
		const char *id = json_string_value(json_object_get(e, "id"));
		if (!op || strcmp(op, "patch") || !st || !id)
			continue;
		if (!strcmp(st, "started"))
			json_object_set_new(open_ids, id, json_integer((json_int_t)i));
		else
			json_object_del(open_ids, id);
	}
	char ubuf[200];
	const char *untrusted = json_object_size(open_ids) ? journal_untrusted(journal, ubuf,
	                                                                        sizeof(ubuf))
	                                                   : NULL;
	for (size_t i = json_array_size(entries); !rc && i-- > 0;) {
		const json_t *e = json_array_get(entries, i);
		const char *id = json_string_value(json_object_get(e, "id"));
		json_t *at = id ? json_object_get(open_ids, id) : NULL;
		if (!at || (size_t)json_integer_value(at) != i)
			continue;
		sum->entries++;
		nxpi_patch_rec p;
		char msg[1024];
		if (nxpi_journal_patch_parse(e, &p, msg, sizeof(msg))) {
			event(&r, NXP_REVERT_FAILED, NULL, "%s", msg);
			continue;
		}
		if (untrusted) {
			event(&r, NXP_REVERT_REFUSED, p.path, "refused: %s", untrusted);
			continue;
		}
		int ev = nxpi_patch_undo(&p, 0, NULL, msg, sizeof(msg));
		if (ev >= 0)
			event(&r, (nxp_revert_event)ev, p.path, "%s", msg);
		if (ev == NXP_REVERT_RESTORED || ev < 0) {
			/* Closed, so that no later run undoes a patch made after it. */
			json_t *mark = nxpi_journal_patch_mark(p.id, "reverted", p.path);
			rc = mark ? nxp_journal_append(j, mark, err)
			          : nxp_fail(err, NXP_E_JOURNAL, "out of memory");
			json_decref(mark);
		}
	}
	json_decref(open_ids);
	json_decref(entries);
	return rc;
}

/* What pairs a "started" line with its result line: the image (path bytes),
 * the SHA-256 it had and the backup made for it. Allocated, or NULL. */
static char *replace_key(const json_t *e)
{
	const char *f[] = {"path", "path_hex", "sha256_before", "backup", "backup_hex"};
	char *k = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&k, &len);
	if (!m)
		return NULL;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const char *v = json_string_value(json_object_get(e, f[i]));
		fprintf(m, "%s", v ? v : "");
		fputc('\n', m);
	}
	if (fclose(m) != 0) {
		free(k);
		return NULL;
	}
	return k;
}

int nxp_revert(const char *journal, int dry_run, nxp_revert_cb cb, void *ctx,
               nxp_revert_summary *sum, nxp_error *err)
{
	memset(sum, 0, sizeof(*sum));
	json_t *entries;
	int rc = nxp_journal_read(journal, &entries, err);
	if (rc)
		return rc;
	char ubuf[200];
	rv r = {.dry_run = dry_run, .cb = cb, .ctx = ctx, .sum = sum, .state = json_object(),
	        .overlay = json_object(), .closed = json_object(),
	        .untrusted = journal_untrusted(journal, ubuf, sizeof(ubuf))};
	json_t *answered = json_object();
	sum->entries = json_array_size(entries);
	for (size_t i = json_array_size(entries); i-- > 0;) {
		const json_t *e = json_array_get(entries, i);
		const char *op = json_string_value(json_object_get(e, "op"));
		if (op && !strcmp(op, "patch")) {
			revert_patch(&r, e);
			continue;
		}
		if (op && strcmp(op, "replace"))
			continue;
		/* A write-ahead line ("started") answered by its result line later
		 * in the journal is the same image's same run: undone (or refused,
		 * counted) once, from the result line. */
		char *key = replace_key(e);
		const char *st = json_string_value(json_object_get(e, "status"));
		int started = st && !strcmp(st, "started");
		if (key && started && json_object_get(answered, key)) {
			free(key);
			continue;
		}
		if (key && !started)
			json_object_set_new(answered, key, json_true());
		free(key);
		revert_replace(&r, e);
	}
	json_decref(answered);
	json_decref(r.state);
	json_decref(r.overlay);
	json_decref(r.closed);
	json_decref(entries);
	return NXP_OK;
}
