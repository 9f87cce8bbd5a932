/* SPDX-License-Identifier: Apache-2.0 */
/* The journal: one JSON object per line, appended durably by apply (and by
 * every writer given one), read strictly by revert. See write.h and
 * docs/pipeline.md. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "nxpatch/report.h"
#include "util/bytes.h"
#include "write/internal.h"
#include "util/escape.h"
#include "util/fault.h"
#include "util/file.h"

struct nxp_journal {
	int fd;
	char path[PATH_MAX];
};

/* Record types revert knows. A new kind of undo record adds its op here and
 * its handler in revert.c. */
static const char *const known_ops[] = {"replace", "patch", NULL};

int nxp_journal_open(nxp_journal **out, const char *path, nxp_error *err)
{
	*out = NULL;
	struct stat st;
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return nxp_fail(err, NXP_E_FILE_TYPE, "the journal is a %s, not a regular file",
		                nxpi_file_type_name(st.st_mode));
	nxp_journal *j = calloc(1, sizeof(*j));
	if (!j)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	snprintf(j->path, sizeof(j->path), "%s", path);
	j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
	             0644);
	if (j->fd < 0) {
		int e = errno;
		free(j);
		return nxp_fail(err, NXP_E_JOURNAL, "cannot open the journal: %s", strerror(e));
	}
	if (fstat(j->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(j->fd);
		free(j);
		return nxp_fail(err, NXP_E_FILE_TYPE, "the journal is not a regular file");
	}
	*out = j;
	return NXP_OK;
}

int nxp_journal_close(nxp_journal *j, nxp_error *err)
{
	if (!j)
		return NXP_OK;
	nxpi_io_forget(j->fd);
	int rc = close(j->fd) != 0 ? nxp_fail(err, NXP_E_JOURNAL, "cannot close the journal: %s",
	                                      strerror(errno))
	                           : NXP_OK;
	free(j);
	return rc;
}

int nxp_journal_append(nxp_journal *j, json_t *rec, nxp_error *err)
{
	char *s = rec ? json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	size_t len = s ? strlen(s) : 0;
	char *line = s ? realloc(s, len + 2) : NULL;
	if (!line) {
		free(s);
		return nxp_fail(err, NXP_E_JOURNAL, "cannot write the journal: %s",
		                rec ? "out of memory" : "the record could not be built");
	}
	line[len] = '\n';
	ssize_t w;
	do
		w = nxpi_io_write(j->fd, line, len + 1);
	while (w < 0 && errno == EINTR);
	int e = errno;
	free(line);
	if (w != (ssize_t)len + 1)
		return nxp_fail(err, NXP_E_JOURNAL, "cannot write the journal %s: %s", j->path,
		                w < 0 ? strerror(e) : "short write (disk full?)");
	if (nxpi_io_fsync(j->fd) != 0)
		return nxp_fail(err, NXP_E_JOURNAL, "cannot sync the journal %s: %s", j->path,
		                strerror(errno));
	return NXP_OK;
}

int nxp_journal_set_path(json_t *rec, const char *key, const char *path)
{
	char cwd[PATH_MAX], abs[2 * PATH_MAX + 2];
	if (path[0] != '/' && getcwd(cwd, sizeof(cwd)))
		snprintf(abs, sizeof(abs), "%s/%s", cwd, path);
	else
		snprintf(abs, sizeof(abs), "%s", path);
	/* "path" as every output shows names (util/escape.h); "path_hex" too
	 * when that differs from the bytes, which revert then reads. */
	if (json_object_set_new(rec, key, nxpi_json_name(abs)))
		return -1;
	if (nxpi_escape_clean(abs, strlen(abs)))
		return 0;
	size_t n = strlen(abs);
	char *hex = malloc(2 * n + 1), hk[64];
	if (!hex)
		return -1;
	nxpi_write_hex((const uint8_t *)abs, n, hex);
	snprintf(hk, sizeof(hk), "%s_hex", key);
	int rc = json_object_set_new(rec, hk, json_string(hex));
	free(hex);
	return rc ? -1 : 0;
}

static int unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int nxp_journal_get_path(const json_t *rec, const char *key, char *buf, size_t len)
{
	char hk[64];
	snprintf(hk, sizeof(hk), "%s_hex", key);
	const char *hex = json_string_value(json_object_get(rec, hk));
	if (hex) {
		size_t n = strlen(hex);
		if (n % 2 || n / 2 >= len)
			return -1;
		for (size_t i = 0; i < n / 2; i++) {
			int hi = unhex(hex[2 * i]), lo = unhex(hex[2 * i + 1]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			buf[i] = (char)(hi << 4 | lo);
		}
		buf[n / 2] = '\0';
		return 0;
	}
	const char *s = json_string_value(json_object_get(rec, key));
	if (!s || strlen(s) >= len)
		return -1;
	strcpy(buf, s);
	return 0;
}

json_t *nxpi_journal_replace_rec(const char *status, const char *path, const char *before,
                                const char *after, const char *backup,
                                const char *const *rules, size_t nrules)
{
	json_t *r = json_object();
	if (!r)
		return NULL;
	json_t *ru = json_array();
	for (size_t i = 0; i < nrules; i++)
		json_array_append_new(ru, nxp_json_text(rules[i]));
	int bad = json_object_set_new(r, "op", json_string("replace")) ||
	          nxp_journal_set_path(r, "path", path) ||
	          json_object_set_new(r, "status", json_string(status)) ||
	          json_object_set_new(r, "sha256_before", json_string(before)) ||
	          json_object_set_new(r, "sha256_after", after ? json_string(after) : json_null());
	if (!bad && backup)
		bad = nxp_journal_set_path(r, "backup", backup);
	else if (!bad)
		bad = json_object_set_new(r, "backup", json_null());
	if (!bad)
		bad = json_object_set_new(r, "rules", ru);
	else
		json_decref(ru);
	if (bad) {
		json_decref(r);
		return NULL;
	}
	return r;
}

int nxp_journal_read(const char *path, json_t **entries, nxp_error *err)
{
	*entries = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return nxp_fail(err, NXP_E_JOURNAL, "cannot open the journal: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int isdir = S_ISDIR(st.st_mode);
		close(fd);
		return nxp_fail(err, NXP_E_JOURNAL, "the journal is %s, not a regular file",
		                isdir ? "a directory" : "not a regular file");
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	json_t *all = json_array();
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;
	int rc = NXP_OK;
	while (!rc && (len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[len - 1] != '\n') {
			rc = nxp_fail(err, NXP_E_JOURNAL,
			              "line %lu is incomplete (the journal is truncated); nothing "
			              "reverted", lineno);
			break;
		}
		json_error_t jerr;
		json_t *e = json_loadb(line, (size_t)len, 0, &jerr);
		if (!json_is_object(e)) {
			rc = nxp_fail(err, NXP_E_JOURNAL, "line %lu is not a journal record: %s", lineno,
			              e ? "not an object" : jerr.text);
			json_decref(e);
			break;
		}
		const char *op = json_string_value(json_object_get(e, "op"));
		int known = !json_object_get(e, "op");
		for (size_t k = 0; !known && op && known_ops[k]; k++)
			known = !strcmp(op, known_ops[k]);
		if (!known) {
			rc = nxp_fail(err, NXP_E_JOURNAL,
			              "line %lu: unknown record type (\"op\") %s, written by a newer "
			              "nxpatch?", lineno, op ? op : "(not a string)");
			json_decref(e);
			break;
		}
		json_array_append_new(all, e);
	}
	if (!rc && ferror(f))
		rc = nxp_fail(err, NXP_E_JOURNAL, "cannot read the journal: %s", strerror(errno));
	free(line);
	fclose(f);
	if (rc) {
		json_decref(all);
		return rc;
	}
	*entries = all;
	return NXP_OK;
}

/* ---- "patch" records (--in-place=bytes) -------------------------------- */

static json_t *hex_string(const uint8_t *b, size_t n)
{
	char h[2 * NXP_PATCH_MAX_EDIT + 1];
	nxpi_write_hex(b, n, h);
	return json_string(h);
}

json_t *nxpi_journal_patch_rec(const char *id, const char *path, const nxp_file *f,
                              const nxpi_patch_edit *e, size_t n, const char *const *rules,
                              size_t nrules)
{
	json_t *r = json_object(), *ed = json_array(), *ru = json_array();
	int bad = !r || !ed || !ru;
	for (size_t i = 0; !bad && i < n; i++) {
		json_t *o = json_object();
		bad = !o || json_object_set_new(o, "offset", json_integer((json_int_t)e[i].off)) ||
		      json_object_set_new(o, "old", hex_string(e[i].old, e[i].len)) ||
		      json_object_set_new(o, "new", hex_string(e[i].new_, e[i].len)) ||
		      json_array_append_new(ed, o);
	}
	for (size_t i = 0; !bad && i < nrules; i++)
		bad = json_array_append_new(ru, nxp_json_text(rules[i]));
	if (!bad)
		bad = json_object_set_new(r, "op", json_string("patch")) ||
		      json_object_set_new(r, "id", json_string(id)) ||
		      nxp_journal_set_path(r, "path", path) ||
		      json_object_set_new(r, "status", json_string("started")) ||
		      json_object_set_new(r, "dev", json_integer((json_int_t)f->dev)) ||
		      json_object_set_new(r, "ino", json_integer((json_int_t)f->ino)) ||
		      json_object_set_new(r, "size", json_integer((json_int_t)f->len)) ||
		      json_object_set(r, "edits", ed) || json_object_set(r, "rules", ru);
	json_decref(ed);
	json_decref(ru);
	if (bad) {
		json_decref(r);
		return NULL;
	}
	return r;
}

json_t *nxpi_journal_patch_mark(const char *id, const char *status, const char *path)
{
	json_t *r = json_object();
	if (!r || json_object_set_new(r, "op", json_string("patch")) ||
	    (id && json_object_set_new(r, "id", json_string(id))) ||
	    nxp_journal_set_path(r, "path", path) ||
	    json_object_set_new(r, "status", json_string(status))) {
		json_decref(r);
		return NULL;
	}
	return r;
}

static int unhex_bytes(const char *s, uint8_t *out, size_t max, size_t *n)
{
	size_t len = s ? strlen(s) : 0;
	if (!s || len % 2 || !len || len / 2 > max)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = unhex(s[2 * i]), lo = unhex(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*n = len / 2;
	return 0;
}

static int get_u64(const json_t *o, const char *key, uint64_t *v)
{
	json_t *x = json_object_get(o, key);
	if (!json_is_integer(x) || json_integer_value(x) < 0)
		return -1;
	*v = (uint64_t)json_integer_value(x);
	return 0;
}

int nxpi_journal_patch_parse(const json_t *rec, nxpi_patch_rec *p, char *why, size_t whylen)
{
	memset(p, 0, sizeof(*p));
	const char *id = json_string_value(json_object_get(rec, "id"));
	const json_t *ed = json_object_get(rec, "edits");
	if (!id || strlen(id) >= sizeof(p->id) || !*id) {
		snprintf(why, whylen, "a patch record without a valid id");
		return -1;
	}
	snprintf(p->id, sizeof(p->id), "%s", id);
	if (nxp_journal_get_path(rec, "path", p->path, sizeof(p->path)) || p->path[0] != '/') {
		snprintf(why, whylen, "patch record %s: no absolute path", id);
		return -1;
	}
	if (get_u64(rec, "dev", &p->dev) || get_u64(rec, "ino", &p->ino) ||
	    get_u64(rec, "size", &p->size)) {
		snprintf(why, whylen, "patch record %s: no device, inode and size", id);
		return -1;
	}
	if (!json_is_array(ed) || !json_array_size(ed) ||
	    json_array_size(ed) > NXP_PATCH_MAX_EDITS) {
		snprintf(why, whylen, "patch record %s: edits missing or more than %d", id,
		         NXP_PATCH_MAX_EDITS);
		return -1;
	}
	for (size_t i = 0; i < json_array_size(ed); i++) {
		const json_t *o = json_array_get(ed, i);
		nxpi_patch_edit *e = &p->edits[i];
		size_t no = 0, nn = 0;
		if (get_u64(o, "offset", &e->off) ||
		    unhex_bytes(json_string_value(json_object_get(o, "old")), e->old,
		                NXP_PATCH_MAX_EDIT, &no) ||
		    unhex_bytes(json_string_value(json_object_get(o, "new")), e->new_,
		                NXP_PATCH_MAX_EDIT, &nn) ||
		    no != nn || !NXP_FITS(e->off, no, p->size)) {
			snprintf(why, whylen, "patch record %s: edit %zu is malformed or outside the file",
			         id, i);
			return -1;
		}
		e->len = (uint32_t)no;
		for (size_t k = 0; k < i; k++)
			if (e->off < p->edits[k].off + p->edits[k].len &&
			    p->edits[k].off < e->off + e->len) {
				snprintf(why, whylen, "patch record %s: edits %zu and %zu overlap", id, k, i);
				return -1;
			}
	}
	p->nedits = json_array_size(ed);
	return 0;
}
