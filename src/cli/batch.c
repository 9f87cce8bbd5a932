/* SPDX-License-Identifier: Apache-2.0 */
/* The batch driver: inputs, workers, ordered reports, summary, journal.
 * See batch.h and docs/pipeline.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/batch.h"
#include "cli/cli.h"
#include "nxpatch/crosscheck.h"
#include "nxpatch/file.h"
#include "nxpatch/check.h"
#include "nxpatch/report.h"
#include "nxpatch/trace.h"
#include "util/escape.h"

/* ---------------------------------------------------------------- options */

void batch_opts_init(batch_opts *o)
{
	memset(o, 0, sizeof(*o));
}

int batch_opt(batch_opts *o, int c, const char *arg, const char *cmd)
{
	char *end;
	switch (c) {
	case 'r': o->recurse = 1; return 1;
	case '0': o->nul = 1; return 1;
	case 'q': o->quiet = 1; return 1;
	case BATCH_OPT_FROM: o->from = arg; return 1;
	case BATCH_OPT_EVIDENCE:
		if (o->evidence) {
			cli_usage(cmd, "--evidence may be given once");
			return -1;
		}
		o->evidence = arg;
		return 1;
	case 'j':
		errno = 0;
		o->jobs = strtol(arg, &end, 10);
		if (errno || *end || o->jobs < 1 || o->jobs > 1024) {
			cli_usage(cmd, "-j takes a number of worker processes, 1 to 1024");
			return -1;
		}
		return 1;
	case BATCH_OPT_SHARD: {
		unsigned long k = strtoul(arg, &end, 10), n = 0;
		if (end != arg && *end == '/') {
			char *e2;
			n = strtoul(end + 1, &e2, 10);
			if (e2 == end + 1 || *e2)
				n = 0;
		}
		if (!n || k < 1 || k > n || n > 1000000) {
			cli_usage(cmd, "--shard takes K/N with 1 <= K <= N (K is 1-based)");
			return -1;
		}
		o->shard_k = (unsigned)k;
		o->shard_n = (unsigned)n;
		return 1;
	}
	default:
		return 0;
	}
}

/* ---------------------------------------------------------------- records */

void batch_error(batch_rec *r, const char *path, const char *fmt, ...)
{
	va_list ap;
	char msg[NXP_ERROR_MSG_MAX + PATH_MAX];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fputs("nxpatch: ", r->err);
	if (path)
		fprintf(r->err, "%s: ", nxp_shown(path));
	fprintf(r->err, "%s\n", nxp_shown(msg)); /* one line, whatever a name holds */
}

void batch_findings(batch_rec *r, const nxp_findings *fs, const nxp_image *img)
{
	json_t *a = nxp_json_findings(fs, img);
	json_array_extend(r->findings, a);
	json_decref(a);
}

/* --evidence: loaded once by batch_run, before any worker starts. */
static nxp_evset *batch_evidence;

static const char *kind_of(mode_t m)
{
	return S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : S_ISCHR(m) ? "a character device"
	       : S_ISBLK(m) ? "a block device" : S_ISDIR(m) ? "a directory" : "not a regular file";
}

int batch_open(const batch_item *it, batch_rec *r, nxp_input **in)
{
	return batch_open_flags(it, r, in, 0);
}

int batch_open_flags(const batch_item *it, batch_rec *r, nxp_input **in, unsigned flags)
{
	nxp_error err = {0};
	int rc;
	/* Named on the command line or in --from: a FIFO would block the open
	 * forever and a device is not an image. Never opened. */
	if (it->mode && !S_ISREG(it->mode))
		rc = nxp_fail(&err, NXP_E_USAGE, "%s: only regular files are read",
		              kind_of(it->mode));
	else
		rc = nxp_input_open_flags(in, it->path, flags, &err);
	if (!rc && batch_evidence) {
		nxp_error merr = {0};
		if ((rc = nxp_facts_merge_trace(&(*in)->facts, batch_evidence, &merr))) {
			nxp_input_close(*in);
			*in = NULL;
			err = merr;
		}
	}
	if (!rc)
		return 0;
	if (it->found && (rc == NXP_E_NOT_PE || rc == NXP_E_PE_SIGNATURE)) {
		r->cls = "skipped";
		return rc;
	}
	batch_error(r, it->path, "%s", err.msg);
	r->report = nxp_json_failure(it->path, &err);
	r->cls = "failed";
	r->exit = NXP_EXIT_INPUT;
	return rc;
}

/* ---------------------------------------------------------------- inputs */

typedef struct items {
	batch_item *v;
	size_t n, cap;
	size_t skipped;         /* not PE-candidates: symlinks, temporaries, specials */
} items;

static int add_item(items *l, const char *path, const char *rel, int found,
                    const struct stat *st)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		batch_item *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	batch_item *it = &l->v[l->n];
	memset(it, 0, sizeof(*it));
	it->path = strdup(path);
	it->rel = rel ? strdup(rel) : NULL;
	if (!it->path || (rel && !it->rel)) {
		free(it->path);
		free(it->rel);
		return -1;
	}
	it->found = found;
	if (st) {
		it->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
		it->dev = st->st_dev;
		it->ino = st->st_ino;
		it->mode = st->st_mode;
	}
	l->n++;
	return 0;
}

static void free_item(batch_item *it)
{
	free(it->path);
	free(it->rel);
	free(it->out_name);
	free(it->clash);
}

static void free_items(items *l)
{
	for (size_t i = 0; i < l->n; i++)
		free_item(&l->v[i]);
	free(l->v);
}

static int has_suffix(const char *name, const char *suffix)
{
	size_t a = strlen(name), b = strlen(suffix);
	return b && a > b && !strcmp(name + a - b, suffix);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* A growable string: the path (or the relative path) of the directory
 * being read, one "/name" per level. */
typedef struct strbuf {
	char *s;
	size_t len, cap;
} strbuf;

static int sb_set(strbuf *b, size_t len, const char *add, size_t alen, int sep)
{
	size_t need = len + (sep ? 1 : 0) + alen + 1;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < need)
			cap *= 2;
		char *s = realloc(b->s, cap);
		if (!s)
			return -1;
		b->s = s;
		b->cap = cap;
	}
	b->len = len;
	if (sep)
		b->s[b->len++] = '/';
	memcpy(b->s + b->len, add, alen);
	b->len += alen;
	b->s[b->len] = '\0';
	return 0;
}

/* One directory being read: its sorted entries and where we are in them. */
typedef struct frame {
	struct dirent **ents;
	int n, i;
	size_t plen, rlen;      /* path and rel lengths of this directory */
	dev_t dev;
	ino_t ino;
} frame;

static void free_frame(frame *f)
{
	for (int i = 0; i < f->n; i++)
		free(f->ents[i]);
	free(f->ents);
}

/* Walk the tree under dir (its contents in byte order of names, depth
 * first), with an explicit stack: the depth of a tree costs heap, not
 * stack (a recursive walk died of SIGSEGV 1,000 directories down).
 * Symbolic links are never followed: a linked directory is not entered, a
 * linked file is skipped (inside the tree its target is reached by its own
 * path; outside it is not ours to touch). A directory met again below
 * itself (a bind mount) is not entered twice. Devices, FIFOs and sockets are
 * skipped, never opened. A directory that cannot be read, or whose path is
 * too long to open, is an error for it alone; the walk goes on. Returns 0,
 * NXP_EXIT_INPUT after such errors, or -1 when out of memory. */
static int walk(items *l, const char *dir, const batch_opts *o)
{
	strbuf path = {0}, rel = {0};
	frame *st = NULL;
	size_t depth = 0, cap = 0;
	int status = 0;
	struct stat sb;
	if (sb_set(&path, 0, dir, strlen(dir), 0) || sb_set(&rel, 0, "", 0, 0))
		goto oom;
	if (stat(dir, &sb) != 0) {
		cli_error(dir, "cannot stat: %s", strerror(errno));
		status = NXP_EXIT_INPUT;
		goto done;
	}
	for (int enter = 1;;) {
		if (enter) {
			/* path/rel name a directory to read, sb its stat. */
			enter = 0;
			int loop = 0;
			for (size_t k = 0; k < depth && !loop; k++)
				loop = st[k].dev == sb.st_dev && st[k].ino == sb.st_ino;
			struct dirent **ents = NULL;
			int n = -1;
			if (loop) {
				cli_error(path.s, "directory loop (a bind mount?): this directory "
				                  "contains itself; not entered again");
				status = NXP_EXIT_INPUT;
			} else if (path.len >= PATH_MAX) {
				cli_error(NULL, "%.200s...: path too long (%zu bytes, the limit is %d): "
				                "not entered", path.s, path.len, PATH_MAX - 1);
				status = NXP_EXIT_INPUT;
			} else if ((n = scandir(path.s, &ents, NULL, by_name)) < 0) {
				cli_error(path.s, "cannot read directory: %s", strerror(errno));
				status = NXP_EXIT_INPUT;
			}
			if (n >= 0) {
				if (depth == cap) {
					size_t nc = cap ? cap * 2 : 16;
					frame *ns = realloc(st, nc * sizeof(*st));
					if (!ns) {
						for (int i = 0; i < n; i++)
							free(ents[i]);
						free(ents);
						goto oom;
					}
					st = ns;
					cap = nc;
				}
				st[depth++] = (frame){.ents = ents, .n = n, .plen = path.len,
				                      .rlen = rel.len, .dev = sb.st_dev, .ino = sb.st_ino};
			}
		}
		if (!depth)
			break;
		frame *f = &st[depth - 1];
		if (f->i >= f->n) {
			free_frame(f);
			depth--;
			continue;
		}
		const char *name = f->ents[f->i++]->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		size_t nl = strlen(name);
		if (sb_set(&path, f->plen, name, nl, 1) || sb_set(&rel, f->rlen, name, nl, f->rlen > 0))
			goto oom;
		if (path.len >= PATH_MAX) {
			cli_error(NULL, "%.200s...: path too long (%zu bytes, the limit is %d)", path.s,
			          path.len, PATH_MAX - 1);
			status = NXP_EXIT_INPUT;
			continue;
		}
		if (lstat(path.s, &sb) != 0) {
			cli_error(path.s, "cannot stat: %s", strerror(errno));
			status = NXP_EXIT_INPUT;
			continue;
		}
		if (S_ISLNK(sb.st_mode)) {
			l->skipped++;
		} else if (S_ISDIR(sb.st_mode)) {
			enter = 1;
		} else if (!S_ISREG(sb.st_mode) || nxp_tmpfile_is_name(name) ||
		           has_suffix(name, ".nxpatch-orig") ||
		           (o->skip_suffix && has_suffix(name, o->skip_suffix))) {
			l->skipped++;
		} else if (add_item(l, path.s, rel.s, 1, &sb)) {
			goto oom;
		}
	}
	goto done;
oom:
	cli_error(NULL, "out of memory");
	status = -1;
done:
	while (depth)
		free_frame(&st[--depth]);
	free(st);
	free(path.s);
	free(rel.s);
	return status;
}

/* One argument (or --from line). Returns 0, an exit status to stop with
 * (usage), or NXP_EXIT_INPUT after an error that does not stop the run. */
static int add_arg(items *l, const char *arg, int found, const batch_opts *o, const char *cmd,
                   int *input_errors)
{
	struct stat st;
	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (!o->recurse) {
			cli_usage(cmd, "%s is a directory: use -r to process the images under it", arg);
			return NXP_EXIT_USAGE;
		}
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", arg);
		size_t len = strlen(dir);
		while (len > 1 && dir[len - 1] == '/')
			dir[--len] = '\0';
		int s = walk(l, dir, o);
		if (s == -1)
			return NXP_EXIT_INPUT;
		if (s)
			*input_errors = 1;
		return 0;
	}
	/* A missing or unreadable file is still an item: its error is reported
	 * in order, with the others. */
	int ok = stat(arg, &st) == 0;
	return add_item(l, arg, NULL, found, ok ? &st : NULL) ? NXP_EXIT_INPUT : 0;
}

static int read_from(items *l, const batch_opts *o, const char *cmd, int *input_errors)
{
	FILE *f = strcmp(o->from, "-") ? fopen(o->from, "r") : stdin;
	if (!f) {
		cli_error(o->from, "cannot open: %s", strerror(errno));
		return NXP_EXIT_USAGE;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int status = 0;
	while (!status && (len = getdelim(&line, &cap, o->nul ? '\0' : '\n', f)) > 0) {
		if (line[len - 1] == (o->nul ? '\0' : '\n'))
			line[--len] = '\0';
		if (!o->nul && len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0)
			continue;
		status = add_arg(l, line, 1, o, cmd, input_errors);
	}
	if (ferror(f)) {
		cli_error(o->from, "cannot read: %s", strerror(errno));
		status = NXP_EXIT_INPUT;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return status;
}

/* FNV-1a, 64 bits, of the path as reported. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static const items *sort_base;
static int by_inode(const void *a, const void *b)
{
	const batch_item *x = &sort_base->v[*(const size_t *)a], *y = &sort_base->v[*(const size_t *)b];
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static int by_out_name(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(sort_base->v[i].out_name, sort_base->v[j].out_name);
	return c ? c : i < j ? -1 : 1;
}

/* Output names, and which inputs would write over an earlier one's output:
 * decided here, on the whole list before sharding, so the answer is the same
 * whatever -j and whichever shard. Returns -1 when out of memory. */
static int find_clashes(items *l)
{
	for (size_t i = 0; i < l->n; i++) {
		batch_item *it = &l->v[i];
		const char *name = it->rel;
		if (!name) {
			const char *s = strrchr(it->path, '/');
			name = s ? s + 1 : it->path;
		}
		if (!(it->out_name = strdup(name)))
			return -1;
	}
	size_t *idx = malloc((l->n ? l->n : 1) * sizeof(*idx));
	if (!idx)
		return -1;
	for (size_t i = 0; i < l->n; i++)
		idx[i] = i;
	sort_base = l;
	qsort(idx, l->n, sizeof(*idx), by_out_name);
	int rc = 0;
	for (size_t i = 1, first = 0; i < l->n; i++) {
		if (strcmp(l->v[idx[i]].out_name, l->v[idx[first]].out_name)) {
			first = i;
			continue;
		}
		if (!(l->v[idx[i]].clash = strdup(l->v[idx[first]].path)))
			rc = -1;
	}
	free(idx);
	return rc;
}

/* Keep each (dev, ino) once (the first in order), then this shard's items.
 * Returns -1 when out of memory. */
static int select_items(items *l, const batch_opts *o)
{
	size_t k;
	size_t *idx = malloc((l->n ? l->n : 1) * sizeof(*idx));
	char *drop = calloc(l->n ? l->n : 1, 1);
	if (idx && drop) {
		for (size_t i = 0; i < l->n; i++)
			idx[i] = i;
		sort_base = l;
		qsort(idx, l->n, sizeof(*idx), by_inode);
	}
	for (size_t i = 1; idx && drop && i < l->n; i++) {
		const batch_item *a = &l->v[idx[i - 1]], *b = &l->v[idx[i]];
		if (a->ino && a->dev == b->dev && a->ino == b->ino)
			drop[idx[i]] = 1;
	}
	k = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (drop && drop[i]) {
			free_item(&l->v[i]);
			l->skipped++;
			continue;
		}
		l->v[k++] = l->v[i];
	}
	l->n = k;
	free(idx);
	free(drop);
	if (o->out_names && find_clashes(l))
		return -1;
	/* Then the shard: every machine sees the same list, so the shards
	 * partition it exactly. */
	k = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (o->shard_n && fnv1a(l->v[i].path) % o->shard_n != o->shard_k - 1) {
			free_item(&l->v[i]);
			continue;
		}
		l->v[k++] = l->v[i];
	}
	l->n = k;
	return 0;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* No input may be another input's backup name (x and x.orig with --backup
 * .orig): its backup would have to replace it. */
static int check_backup_names(const items *l, const char *suffix, const char *cmd)
{
	char **names = malloc((l->n ? l->n : 1) * sizeof(*names));
	if (!names) {
		cli_error(NULL, "out of memory");
		return NXP_EXIT_INPUT;
	}
	for (size_t i = 0; i < l->n; i++)
		names[i] = l->v[i].path;
	qsort(names, l->n, sizeof(*names), by_path);
	int status = 0;
	for (size_t i = 0; i < l->n && !status; i++) {
		char want[PATH_MAX + 64];
		const char *key = want;
		if (snprintf(want, sizeof(want), "%s%s", l->v[i].path, suffix) >= (int)sizeof(want))
			continue;
		if (bsearch(&key, names, l->n, sizeof(*names), by_path))
			status = cli_usage(cmd, "%s is an input and the backup name of the input %s "
			                        "(--backup %s); choose another suffix",
			                   want, l->v[i].path, suffix);
	}
	free(names);
	return status;
}

/* ---------------------------------------------------------------- running */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct run {
	const batch_cmd *cmd;
	const batch_opts *o;
	items *l;
	json_t **recs;          /* received, not yet emitted */
	size_t next_emit;
	size_t dispatched;
	json_t *kept;           /* json/sarif/html: every record, in order */
	struct {
		size_t scanned, changed, unchanged, refused, failed, skipped, compliant,
			noncompliant;
		uint64_t bytes;
	} c;
	int status;
	int progress;
	double t0, last_draw;
	uint64_t total_bytes, done_bytes;
	size_t done;
} run;

static void merge_status(run *R, int s)
{
	if (s == NXP_EXIT_INPUT || (s == NXP_EXIT_CHECK && R->status == NXP_EXIT_OK))
		R->status = s;
}

static json_t *process_one(const batch_cmd *cmd, const batch_item *it, size_t idx)
{
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;
	batch_rec r = {0};
	r.out = open_memstream(&obuf, &olen);
	r.err = open_memstream(&ebuf, &elen);
	r.findings = json_array();
	r.cls = "scanned";
	if (r.out && r.err)
		cmd->process(cmd->ctx, it, &r);
	else {
		r.cls = "failed";
		r.exit = NXP_EXIT_INPUT;
	}
	if (r.out)
		fclose(r.out);
	if (r.err)
		fclose(r.err);
	/* Paths and captured output may hold bytes that are not UTF-8, which
	 * jansson refuses: they travel escaped, as in the JSON reports. */
	json_t *o = json_pack("{s:I, s:o, s:s, s:i, s:I}", "i", (json_int_t)idx, "path",
	                      nxp_json_name(it->path), "cls", r.cls, "exit", r.exit, "bytes",
	                      (json_int_t)it->size);
	json_object_set_new(o, "text", nxp_json_text(obuf ? obuf : ""));
	json_object_set_new(o, "stderr", nxp_json_text(ebuf ? ebuf : ""));
	json_object_set_new(o, "report", r.report ? r.report : json_null());
	json_object_set_new(o, "findings", r.findings);
	free(obuf);
	free(ebuf);
	return o;
}

static void clear_progress(run *R)
{
	if (R->progress)
		fputs("\r\033[K", stderr);
}

static void draw_progress(run *R, int force)
{
	if (!R->progress)
		return;
	double t = now_s();
	if (!force && t - R->last_draw < 0.1)
		return;
	R->last_draw = t;
	double el = t - R->t0, rate = el > 0 ? (double)R->done_bytes / el : 0;
	char eta[32] = "--:--";
	if (R->done && R->done < R->l->n) {
		double left = el / (double)R->done * (double)(R->l->n - R->done);
		snprintf(eta, sizeof(eta), "%02d:%02d", (int)left / 60, (int)left % 60);
	}
	fprintf(stderr, "\r\033[K%s: %zu/%zu images  %.1f MB/s  ETA %s", R->cmd->name, R->done,
	        R->l->n, rate / 1e6, eta);
	fflush(stderr);
}

static void emit(run *R, json_t *rec)
{
	const char *cls = json_string_value(json_object_get(rec, "cls"));
	const char *err = json_string_value(json_object_get(rec, "stderr"));
	const char *text = json_string_value(json_object_get(rec, "text"));
	json_t *report = json_object_get(rec, "report");
	if (!cls)
		cls = "failed";
	if (err && *err) {
		clear_progress(R);
		fflush(stdout);
		fputs(err, stderr);
	}
	if (!strcmp(cls, "skipped")) {
		R->c.skipped++;
	} else {
		R->c.scanned++;
		R->c.bytes += (uint64_t)json_integer_value(json_object_get(rec, "bytes"));
		if (!strcmp(cls, "changed")) R->c.changed++;
		else if (!strcmp(cls, "unchanged")) R->c.unchanged++;
		else if (!strcmp(cls, "refused")) R->c.refused++;
		else if (!strcmp(cls, "failed")) R->c.failed++;
		else if (!strcmp(cls, "compliant")) R->c.compliant++;
		else if (!strcmp(cls, "noncompliant")) R->c.noncompliant++;
		switch (R->o->format) {
		case CLI_TEXT:
			if (text)
				fputs(text, stdout);
			break;
		case CLI_JSONL:
			if (json_is_object(report)) {
				json_dumpf(report, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
				fputc('\n', stdout);
				fflush(stdout);
			}
			break;
		default:
			json_array_append(R->kept, rec);
		}
	}
	merge_status(R, (int)json_integer_value(json_object_get(rec, "exit")));
}

static void on_result(run *R, size_t i, json_t *rec)
{
	R->recs[i] = rec;
	R->done++;
	R->done_bytes += R->l->v[i].size;
	while (R->next_emit < R->l->n && R->recs[R->next_emit]) {
		emit(R, R->recs[R->next_emit]);
		json_decref(R->recs[R->next_emit]);
		R->recs[R->next_emit] = (json_t *)1; /* emitted */
		R->next_emit++;
	}
	draw_progress(R, 0);
}

static json_t *failure_rec(const batch_item *it, size_t i, const char *msg)
{
	char e[PATH_MAX + 256];
	snprintf(e, sizeof(e), "nxpatch: %s: %s\n", nxp_shown(it->path), nxp_shown(msg));
	nxp_error err = {NXP_E_INTERNAL, ""};
	snprintf(err.msg, sizeof(err.msg), "%s", msg);
	json_t *rep = nxp_json_failure(it->path, &err);
	return json_pack("{s:I, s:o, s:s, s:i, s:I, s:s, s:o, s:o, s:[]}", "i", (json_int_t)i,
	                 "path", nxp_json_name(it->path), "cls", "failed", "exit", NXP_EXIT_INPUT,
	                 "bytes", (json_int_t)it->size, "text", "", "stderr", nxp_json_text(e),
	                 "report", rep ? rep : json_null(), "findings");
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* A worker: read indexes (one per line), answer with one record per line.
 * Signals that stop the run are the parent's business: the worker finishes
 * the image it holds and leaves when the parent closes its pipe. */
static void worker(run *R, int cmd_fd, int res_fd)
{
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	FILE *in = fdopen(cmd_fd, "r");
	char *line = NULL;
	size_t cap = 0;
	while (in && getline(&line, &cap, in) > 0) {
		size_t i = strtoul(line, NULL, 10);
		if (i >= R->l->n)
			break;
		json_t *rec = process_one(R->cmd, &R->l->v[i], i);
		char *s = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(rec);
		int bad = !s || write_all(res_fd, s, strlen(s)) || write_all(res_fd, "\n", 1);
		free(s);
		if (bad)
			break;
	}
	nxp_lief_shutdown(); /* our LIEF worker, not the parent's */
	_exit(0);
}

typedef struct wk {
	pid_t pid;
	int cmd, res;
	long cur;
	char *buf;
	size_t len, cap;
} wk;

static void send_next(run *R, wk *w)
{
	if (!stop_signal && R->dispatched < R->l->n) {
		char line[32];
		int n = snprintf(line, sizeof(line), "%zu\n", R->dispatched);
		w->cur = (long)R->dispatched++;
		if (write_all(w->cmd, line, (size_t)n) == 0)
			return;
		/* The worker is gone: its end of file reports the image as failed. */
	}
	if (w->cmd >= 0)
		close(w->cmd);
	w->cmd = -1;
}

static void take_lines(run *R, wk *w)
{
	char *start = w->buf, *nl;
	while ((nl = memchr(start, '\n', w->len - (size_t)(start - w->buf)))) {
		*nl = '\0';
		json_t *rec = json_loads(start, 0, NULL);
		long i = w->cur;
		start = nl + 1;
		if (i < 0)
			continue;
		if (!rec || (long)json_integer_value(json_object_get(rec, "i")) != i) {
			json_decref(rec);
			rec = failure_rec(&R->l->v[i], (size_t)i, "worker sent a malformed report");
		}
		w->cur = -1;
		on_result(R, (size_t)i, rec);
		send_next(R, w);
	}
	w->len -= (size_t)(start - w->buf);
	memmove(w->buf, start, w->len);
}

static void run_pool(run *R, size_t nw)
{
	wk *W = calloc(nw, sizeof(*W));
	if (!W) {
		cli_error(NULL, "out of memory");
		R->status = NXP_EXIT_INPUT;
		return;
	}
	fflush(NULL);
	size_t started = 0;
	for (size_t k = 0; k < nw; k++) {
		int cp[2], rp[2];
		if (pipe2(cp, O_CLOEXEC) != 0)
			break;
		if (pipe2(rp, O_CLOEXEC) != 0) {
			close(cp[0]);
			close(cp[1]);
			break;
		}
		pid_t pid = fork();
		if (pid < 0) {
			close(cp[0]); close(cp[1]); close(rp[0]); close(rp[1]);
			break;
		}
		if (pid == 0) {
			for (size_t j = 0; j < k; j++) {
				if (W[j].cmd >= 0)
					close(W[j].cmd);
				close(W[j].res);
			}
			close(cp[1]);
			close(rp[0]);
			worker(R, cp[0], rp[1]);
		}
		close(cp[0]);
		close(rp[1]);
		W[k] = (wk){.pid = pid, .cmd = cp[1], .res = rp[0], .cur = -1};
		started++;
	}
	if (!started) {
		cli_error(NULL, "cannot start worker processes: %s", strerror(errno));
		R->status = NXP_EXIT_INPUT;
		free(W);
		return;
	}
	for (size_t k = 0; k < started; k++)
		send_next(R, &W[k]);
	struct pollfd *pf = calloc(started, sizeof(*pf));
	size_t *map = calloc(started, sizeof(*map));
	for (;;) {
		size_t np = 0;
		for (size_t k = 0; k < started; k++) {
			if (W[k].res < 0)
				continue;
			/* Stopping: idle workers get their end of file now. */
			if (stop_signal && W[k].cur < 0 && W[k].cmd >= 0) {
				close(W[k].cmd);
				W[k].cmd = -1;
			}
			pf[np] = (struct pollfd){.fd = W[k].res, .events = POLLIN};
			map[np++] = k;
		}
		if (!np)
			break;
		int pr = poll(pf, np, R->progress ? 250 : -1);
		if (pr < 0 && errno != EINTR)
			break;
		draw_progress(R, 0);
		for (size_t p = 0; pr > 0 && p < np; p++) {
			if (!(pf[p].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			wk *w = &W[map[p]];
			if (w->cap - w->len < 65536) {
				size_t cap = w->cap ? w->cap * 2 : 131072;
				char *nb = realloc(w->buf, cap);
				if (!nb)
					continue;
				w->buf = nb;
				w->cap = cap;
			}
			ssize_t r = read(w->res, w->buf + w->len, w->cap - w->len - 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0) {
				w->len += (size_t)r;
				take_lines(R, w);
				continue;
			}
			/* End of file: the worker left (or died holding an image). */
			close(w->res);
			w->res = -1;
			if (w->cmd >= 0)
				close(w->cmd);
			w->cmd = -1;
			int st = 0;
			waitpid(w->pid, &st, 0);
			w->pid = -1;
			if (w->cur >= 0) {
				char msg[128];
				if (WIFSIGNALED(st))
					snprintf(msg, sizeof(msg), "the worker process died (signal %d)",
					         WTERMSIG(st));
				else
					snprintf(msg, sizeof(msg), "the worker process died (exit %d)",
					         WIFEXITED(st) ? WEXITSTATUS(st) : -1);
				size_t i = (size_t)w->cur;
				w->cur = -1;
				on_result(R, i, failure_rec(&R->l->v[i], i, msg));
			}
		}
	}
	for (size_t k = 0; k < started; k++) {
		if (W[k].pid > 0)
			waitpid(W[k].pid, NULL, 0);
		free(W[k].buf);
	}
	/* Images handed to workers that could not start them. */
	free(pf);
	free(map);
	free(W);
}

static json_t *summary_json(run *R, double secs, size_t not_started)
{
	json_t *s = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "scanned", (json_int_t)R->c.scanned,
	                      "changed", (json_int_t)R->c.changed, "unchanged",
	                      (json_int_t)R->c.unchanged, "refused", (json_int_t)R->c.refused,
	                      "failed", (json_int_t)R->c.failed, "skipped",
	                      (json_int_t)R->c.skipped);
	if (!strcmp(R->cmd->name, "verify")) {
		json_object_set_new(s, "compliant", json_integer((json_int_t)R->c.compliant));
		json_object_set_new(s, "noncompliant", json_integer((json_int_t)R->c.noncompliant));
	}
	json_object_set_new(s, "bytes", json_integer((json_int_t)R->c.bytes));
	json_object_set_new(s, "seconds", json_real((double)(long long)(secs * 1000) / 1000.0));
	if (stop_signal) {
		json_object_set_new(s, "interrupted", json_true());
		json_object_set_new(s, "not_started", json_integer((json_int_t)not_started));
	}
	return s;
}

static void text_summary(run *R, double secs)
{
	const char *n = R->cmd->name;
	printf("summary: %zu image%s scanned", R->c.scanned, R->c.scanned == 1 ? "" : "s");
	if (!strcmp(n, "plan"))
		printf(", %zu to change, %zu unchanged, %zu refused", R->c.changed, R->c.unchanged,
		       R->c.refused);
	else if (!strcmp(n, "apply"))
		printf(", %zu changed, %zu unchanged, %zu refused", R->c.changed, R->c.unchanged,
		       R->c.refused);
	else if (!strcmp(n, "verify"))
		printf(", %zu compliant, %zu not compliant", R->c.compliant, R->c.noncompliant);
	printf(", %zu failed, %zu skipped; %llu bytes in %.2f s\n", R->c.failed, R->c.skipped,
	       (unsigned long long)R->c.bytes, secs);
}

int batch_run(const batch_cmd *cmd, const batch_opts *o, char **paths, int n)
{
	items l = {0};
	int input_errors = 0, status = 0;
	for (int i = 0; i < n && !status; i++)
		status = add_arg(&l, paths[i], 0, o, cmd->name, &input_errors);
	if (!status && o->from)
		status = read_from(&l, o, cmd->name, &input_errors);
	if (!status && n == 0 && !o->from)
		status = cli_usage(cmd->name, "no input files");
	if (status) {
		free_items(&l);
		return status;
	}
	if (select_items(&l, o)) {
		cli_error(NULL, "out of memory");
		free_items(&l);
		return NXP_EXIT_INPUT;
	}
	if (o->backup_suffix && (status = check_backup_names(&l, o->backup_suffix, cmd->name))) {
		free_items(&l);
		return status;
	}
	if (o->evidence) {
		nxp_error err = {0};
		int rc = nxp_evset_load(&batch_evidence, o->evidence, &err);
		if (rc) {
			cli_error(NULL, "--evidence: %s", err.msg);
			free_items(&l);
			return rc == NXP_E_USAGE || rc == NXP_E_TOO_LARGE ? NXP_EXIT_USAGE : NXP_EXIT_INPUT;
		}
	}

	run R = {.cmd = cmd, .o = o, .l = &l};
	R.c.skipped = l.skipped;
	R.recs = calloc(l.n ? l.n : 1, sizeof(*R.recs));
	R.kept = json_array();
	R.progress = isatty(STDERR_FILENO) && !o->quiet;
	R.t0 = now_s();
	for (size_t i = 0; i < l.n; i++)
		R.total_bytes += l.v[i].size;

	struct sigaction sa = {0}, old_int, old_term, old_pipe;
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	stop_signal = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &old_pipe);

	long jobs = o->jobs ? o->jobs : sysconf(_SC_NPROCESSORS_ONLN);
	if (jobs < 1)
		jobs = 1;
	if (!R.recs) {
		cli_error(NULL, "out of memory");
		R.status = NXP_EXIT_INPUT;
	} else if (jobs == 1 || l.n <= 1) {
		for (size_t i = 0; i < l.n && !stop_signal; i++) {
			R.dispatched++;
			on_result(&R, i, process_one(cmd, &l.v[i], i));
		}
	} else {
		run_pool(&R, (size_t)jobs < l.n ? (size_t)jobs : l.n);
	}
	/* Anything received but not emitted (a gap left by an image never
	 * started) is dropped: reports stay a prefix of the input order. */
	for (size_t i = R.next_emit; R.recs && i < l.n; i++)
		if (R.recs[i] && R.recs[i] != (json_t *)1)
			json_decref(R.recs[i]);
	size_t not_started = l.n - R.next_emit;
	double secs = now_s() - R.t0;
	clear_progress(&R);

	if (input_errors)
		merge_status(&R, NXP_EXIT_INPUT);
	json_t *summary = summary_json(&R, secs, not_started);
	switch (o->format) {
	case CLI_TEXT:
		text_summary(&R, secs);
		break;
	case CLI_JSONL:
		{
			json_t *line = json_pack("{s:O}", "summary", summary);
			json_dumpf(line, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
			fputc('\n', stdout);
			json_decref(line);
		}
		break;
	case CLI_JSON: {
		json_t *files = json_array();
		for (size_t i = 0; i < json_array_size(R.kept); i++) {
			json_t *rep = json_object_get(json_array_get(R.kept, i), "report");
			if (json_is_object(rep))
				json_array_append(files, rep);
		}
		json_t *doc = json_object();
		if (cmd->policy)
			json_object_set_new(doc, "policy", json_string(cmd->policy));
		json_object_set_new(doc, "files", files);
		json_object_set(doc, "summary", summary);
		cli_print_json(doc);
		break;
	}
	case CLI_SARIF:
		cli_print_json(nxp_sarif_document(cmd->name, NXP_VERSION, R.kept, summary));
		break;
	case CLI_HTML:
		nxp_html_plan(stdout, cmd->policy, R.kept, summary);
		break;
	}
	json_decref(summary);
	if (stop_signal) {
		cli_error(NULL, "interrupted by signal %d: %zu image%s not started", (int)stop_signal,
		          not_started, not_started == 1 ? "" : "s");
		if (not_started)
			merge_status(&R, NXP_EXIT_INPUT);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	json_decref(R.kept);
	free(R.recs);
	free_items(&l);
	nxp_evset_free(batch_evidence);
	batch_evidence = NULL;
	return R.status;
}
