/* SPDX-License-Identifier: Apache-2.0 */
/* revert: undo a journal's records, last first (include/nxpatch/write.h).
 * A "replace" record is undone by renaming its backup (the original inode,
 * a hard link apply made) back over the image, under the image's write
 * lock, after checking everything the journal claims: a journal is input
 * like any other and may be crafted. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "write/internal.h"
#include "util/file.h"

typedef struct rv {
	int dry_run;
	nxp_revert_cb cb;
	void *ctx;
	nxp_revert_summary *sum;
	json_t *state;              /* dry run: path -> the SHA-256 it would have now */
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
	if (nxp_write_sha256_hex(f->data, f->len, hex))
		snprintf(hex, 65, "unknown");
}

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
			nxp_write_sync_dir(path);
			event(r, NXP_REVERT_RESTORED, path, "%s", backup);
		}
	}
	nxp_file_unload(&bk);
done:
	nxp_file_unload(&cur);
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
	rv r = {.dry_run = dry_run, .cb = cb, .ctx = ctx, .sum = sum, .state = json_object()};
	json_t *answered = json_object();
	sum->entries = json_array_size(entries);
	for (size_t i = json_array_size(entries); i-- > 0;) {
		const json_t *e = json_array_get(entries, i);
		const char *op = json_string_value(json_object_get(e, "op"));
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
	json_decref(entries);
	return NXP_OK;
}
