/* SPDX-License-Identifier: Apache-2.0 */
/* long-file: inputs, the worker pool and emission in one file; the split is issue 18 item 2,
 * not done yet. */
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/batch.h"
#include "cli/color.h"
#include "cli/dash.h"
#include "cli/cli.h"
#include "nxpatch/crosscheck.h"
#include "nxpatch/file.h"
#include "nxpatch/check.h"
#include "nxpatch/report.h"
#include "nxpatch/trace.h"
#include "util/escape.h"
#include "util/file.h"

/* ---------------------------------------------------------------- options */

const cli_opt batch_options[] = {
	{'r', 'r', "recursive", NULL, "recurse into directories named as inputs"},
	{BATCH_OPT_FROM, 0, "from", "FILE", "read input paths from FILE, one a line (- for stdin)"},
	{'0', '0', "null", NULL, "--from paths end with NUL instead of a newline"},
	{'j', 'j', "jobs", "N", "worker processes (default: processors online)"},
	{BATCH_OPT_SHARD, 0, "shard", "K/N", "process only the K-th of N slices of the inputs"},
	{'q', 'q', "quiet", NULL, "no progress bar"},
	{'v', 'v', "verbose", NULL, "more detail in text reports"},
	{BATCH_OPT_COLOR, 0, "color", "[=WHEN]", "colour text reports: auto (a terminal), always, never"},
	{BATCH_OPT_EVIDENCE, 0, "evidence", "FILE", "merge faults recorded by 'nxpatch trace' (JSONL)"},
	CLI_OPT_END,
};

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
	case 'v': o->verbose = 1; return 1;
	case BATCH_OPT_COLOR:
		if (!cli_parse_color(cmd, arg, &o->color))
			return -1;
		return 1;
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
		fprintf(r->err, "%s: ", nxpi_shown(path));
	fprintf(r->err, "%s\n", nxpi_shown(msg)); /* one line, whatever a name holds */
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
		rc = nxp_input_open_flags(in, it->open_path ? it->open_path : it->path, flags, &err);
	if (!rc && it->open_path)
		(*in)->facts.path = it->path; /* reported as "-" */
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
	free(it->open_path);
	free(it->path);
	free(it->rel);
	free(it->out_name);
	free(it->clash);
}

/* The run's items are done with (in the parent; workers _exit): so is the
 * spooled standard input. */
static void free_items(items *l)
{
	for (size_t i = 0; i < l->n; i++)
		free_item(&l->v[i]);
	free(l->v);
	cli_stdin_remove();
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
/* long-function: the iterative -r walk: one loop over its own stack with the checks of
 * docs/pipeline.md in order. */
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
		} else if (!S_ISREG(sb.st_mode) || nxpi_tmpfile_is_name(name) ||
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

int batch_claim_stdin(const char *cmd, const batch_opts *o, char **paths, int n)
{
	int dashes = 0;
	for (int i = 0; i < n; i++)
		dashes += !strcmp(paths[i], "-");
	if (dashes > 1)
		return cli_usage(cmd, "- (standard input) may be given once");
	if (o->from && !strcmp(o->from, "-") && cli_stdin_claim(cmd, "--from -"))
		return NXP_EXIT_USAGE;
	if (dashes && cli_stdin_claim(cmd, "the input -"))
		return NXP_EXIT_USAGE;
	return 0;
}

/* "-": standard input, spooled once (cli/dash.h), reported as "-". */
static int add_stdin(items *l, const char *cmd)
{
	const char *path;
	int status = cli_stdin_spool(cmd, &path);
	if (status)
		return status;
	struct stat st;
	if (stat(path, &st) != 0 || add_item(l, "-", NULL, 0, &st) ||
	    !(l->v[l->n - 1].open_path = strdup(path))) {
		cli_stdin_remove();
		return NXP_EXIT_INPUT;
	}
	return 0;
}

/* One argument (or --from line). Returns 0, an exit status to stop with
 * (usage), or NXP_EXIT_INPUT after an error that does not stop the run. */
static int add_arg(items *l, const char *arg, int found, const batch_opts *o, const char *cmd,
                   int *input_errors)
{
	struct stat st;
	if (!found && !strcmp(arg, "-"))
		return add_stdin(l, cmd);
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
	if (!strcmp(o->from, "-") && cli_stdin_claim(cmd, "--from -"))
		return NXP_EXIT_USAGE;
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
	for (size_t i = 0; i < l->n; i++)
		l->v[i].seq = i;
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

/* What one image produced, as the parent needs it: the summary class, the
 * exit status, and bytes already rendered for the run's format by whoever
 * processed the image (a worker, or the parent with -j 1). The parent only
 * counts and writes them in input order: no JSON is parsed or assembled in
 * it, so it never serialises the work and holds nothing per image once
 * the image is written. */
typedef struct result {
	char cls[16];
	int exit;
	uint64_t bytes;
	size_t err_len, out_len, aux_len;
	char *buf;              /* stderr text, then out, then aux, back to back */
} result;

/* A JSON array written one element at a time, shaped as jansson's
 * JSON_INDENT(2) dump of the whole document would shape it: found by
 * dumping the document with a placeholder element and cutting there. */
typedef struct jstream {
	char *head;             /* the document up to and including the array's '[' */
	char *lead;             /* before the first element: "\n" + indent */
	size_t indent;          /* spaces before each of an element's lines */
	size_t n;               /* elements written */
} jstream;

#define DUMP_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

typedef struct run {
	const batch_cmd *cmd;
	const batch_opts *o;
	items *l;
	result **recs;          /* received, not yet emitted */
	size_t next_emit;
	size_t dispatched;
	size_t *retry;          /* handed to a worker that died before starting them */
	size_t nretry;
	jstream files;          /* json: "files"; sarif: "results" */
	jstream notes;          /* sarif: "toolExecutionNotifications" */
	FILE *spool;            /* sarif: the notifications, until the results are done */
	struct {
		size_t scanned, changed, unchanged, refused, failed, skipped, compliant,
			noncompliant;
		uint64_t bytes;
	} c;
	int status;
	int progress;           /* a progress bar on stderr (a terminal, no -q) */
	int drawn;              /* the bar is on the screen now */
	int out_tty;            /* stdout is a terminal too: clear the bar around each line */
	int color;              /* text reports get colour (--color, NO_COLOR, a terminal) */
	double t0, last_draw;
	uint64_t total_bytes, done_bytes;
	size_t done;
} run;

static void merge_status(run *R, int s)
{
	/* The worst wins: input (3) over usage (2) over check (1). */
	if (s > R->status)
		R->status = s;
}

/* ------------------------------------------------------ streamed documents */

/* The placeholder element: a string no report holds. */
static const char placeholder[] = "\"\\u0000nxpatch-stream\"";

static json_t *placeholder_array(void)
{
	return json_pack("[s#]", "\0nxpatch-stream", (size_t)15);
}

/* Cut the dump of a document at its placeholder element: js gets the
 * shape, *after points just past the placeholder in text. */
static int jstream_cut(jstream *js, char *text, char **after)
{
	char *p = strstr(text, placeholder);
	if (!p)
		return -1;
	char *open = p;
	while (open > text && open[-1] != '[')
		open--;
	if (open == text)
		return -1;
	js->indent = (size_t)(p - open) - 1; /* "\n" then the spaces */
	js->head = strndup(text, (size_t)(open - text));
	js->lead = strndup(open, (size_t)(p - open));
	*after = p + strlen(placeholder);
	return js->head && js->lead ? 0 : -1;
}

/* The tail after the placeholder: when nothing was written, the array is
 * "[]", as jansson writes an empty one. */
static const char *jstream_tail(const jstream *js, const char *after)
{
	if (js->n)
		return after;
	const char *close = strchr(after, ']');
	return close ? close : after;
}

/* v dumped as an element of js (the indentation of its depth), or NULL. */
static char *jstream_render(const jstream *js, json_t *v)
{
	char *s = json_dumps(v, DUMP_FLAGS);
	if (!s)
		return NULL;
	size_t lines = 0, len = strlen(s);
	for (size_t i = 0; i < len; i++)
		lines += s[i] == '\n';
	char *o = malloc(len + lines * js->indent + 1), *q = o;
	if (o) {
		for (size_t i = 0; i < len; i++) {
			*q++ = s[i];
			if (s[i] == '\n') {
				memset(q, ' ', js->indent);
				q += js->indent;
			}
		}
		*q = '\0';
	}
	free(s);
	return o;
}

/* Write one rendered element (or, for SARIF, several joined by
 * jstream_join) to f. */
static void jstream_put(jstream *js, FILE *f, const char *el, size_t len)
{
	if (!len)
		return;
	if (js->n)
		fputc(',', f);
	fputs(js->lead, f);
	fwrite(el, 1, len, f);
	js->n++;
}

/* Elements of an array, rendered and joined as jstream_put would join
 * them, into one string (an image's SARIF results). */
static char *jstream_join(const jstream *js, json_t *arr)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return NULL;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		char *el = jstream_render(js, json_array_get(arr, i));
		if (el) {
			if (i)
				fprintf(m, ",%s", js->lead);
			fputs(el, m);
		}
		free(el);
	}
	fclose(m);
	return buf;
}

static json_t *json_skeleton(const batch_cmd *cmd, json_t *summary)
{
	json_t *doc = json_object();
	if (cmd->policy)
		json_object_set_new(doc, "policy", json_string(cmd->policy));
	json_object_set_new(doc, "files", placeholder_array());
	json_object_set_new(doc, "summary", summary ? json_incref(summary) : json_null());
	return doc;
}

/* The shapes of the streamed arrays, before anything is written (the
 * workers render with them). Returns -1 when out of memory. */
static int stream_setup(run *R)
{
	json_t *doc;
	if (R->o->format == CLI_JSON)
		doc = json_skeleton(R->cmd, NULL);
	else if (R->o->format == CLI_SARIF)
		doc = nxp_sarif_skeleton(R->cmd->name, NXP_VERSION, placeholder_array(),
		                         placeholder_array(), 1, json_null());
	else
		return 0;
	char *text = doc ? json_dumps(doc, DUMP_FLAGS) : NULL, *after;
	json_decref(doc);
	int rc = text ? jstream_cut(&R->files, text, &after) : -1;
	if (!rc && R->o->format == CLI_SARIF) {
		rc = jstream_cut(&R->notes, after, &after);
		if (!rc && !(R->spool = tmpfile()))
			rc = -1;
	}
	free(text);
	return rc;
}

/* The document's start, once, before the first image. */
static void stream_begin(run *R)
{
	if (R->files.head)
		fputs(R->files.head, stdout);
	if (R->o->format == CLI_HTML) {
		nxp_html_meta m = {R->cmd->name, NXP_VERSION, R->cmd->policy, (long long)time(NULL)};
		/* A reproducible report, as for signing times. */
		const char *sde = getenv("SOURCE_DATE_EPOCH");
		char *end = NULL;
		long long t = sde && *sde ? strtoll(sde, &end, 10) : -1;
		if (t >= 0 && end && !*end)
			m.date = t;
		nxp_html_begin(stdout, &m);
	}
}

/* The rest of the document, now that the summary is known. */
static void stream_end(run *R, json_t *summary)
{
	json_t *doc = R->o->format == CLI_JSON
	                      ? json_skeleton(R->cmd, summary)
	                      : nxp_sarif_skeleton(R->cmd->name, NXP_VERSION, placeholder_array(),
	                                           placeholder_array(), R->notes.n == 0, summary);
	char *text = doc ? json_dumps(doc, DUMP_FLAGS) : NULL, *after = NULL;
	json_decref(doc);
	jstream js = {0};
	if (!text || jstream_cut(&js, text, &after)) {
		cli_error(NULL, "out of memory");
		R->status = NXP_EXIT_INPUT;
	} else if (R->o->format == CLI_JSON) {
		fputs(jstream_tail(&R->files, after), stdout);
		fputc('\n', stdout);
	} else {
		/* results ... ], invocations [ { ... notifications [ spool ] ... */
		jstream nj = {0};
		char *rest = NULL, *mid = strstr(after, placeholder);
		char *nopen = mid;
		while (nopen && nopen > after && nopen[-1] != '[')
			nopen--;
		const char *t = jstream_tail(&R->files, after);
		if (mid && nopen > after) {
			fwrite(t, 1, (size_t)(nopen - t), stdout);
			rewind(R->spool);
			char buf[65536];
			size_t k;
			while ((k = fread(buf, 1, sizeof(buf), R->spool)) > 0)
				fwrite(buf, 1, k, stdout);
			rest = mid + strlen(placeholder);
			nj.n = R->notes.n;
			fputs(jstream_tail(&nj, rest), stdout);
			fputc('\n', stdout);
		}
	}
	free(js.head);
	free(js.lead);
	free(text);
}

/* ------------------------------------------------------------ one image */

static result *new_result(const char *cls, int exit, uint64_t bytes, const char *err,
                          const char *out, size_t out_len, const char *aux)
{
	size_t el = err ? strlen(err) : 0, al = aux ? strlen(aux) : 0;
	result *res = malloc(sizeof(*res));
	if (!res)
		return NULL;
	res->buf = malloc(el + out_len + al + 1);
	if (!res->buf) {
		free(res);
		return NULL;
	}
	snprintf(res->cls, sizeof(res->cls), "%s", cls);
	res->exit = exit;
	res->bytes = bytes;
	res->err_len = el;
	res->out_len = out_len;
	res->aux_len = al;
	if (el)
		memcpy(res->buf, err, el);
	if (out_len)
		memcpy(res->buf + el, out, out_len);
	if (al)
		memcpy(res->buf + el + out_len, aux, al);
	res->buf[el + out_len + al] = '\0';
	return res;
}

static void free_result(result *res)
{
	if (res) {
		free(res->buf);
		free(res);
	}
}

/* A shard's SARIF results and notifications carry their image's place in
 * the whole run, properties.batchIndex, for 'nxpatch report merge'. */
static void shard_mark(json_t *arr, size_t seq)
{
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *x = json_array_get(arr, i), *p = json_object_get(x, "properties");
		if (!p) {
			p = json_object();
			json_object_set_new(x, "properties", p);
		}
		json_object_set_new(p, "batchIndex", json_integer((json_int_t)seq));
	}
}

/* Render what the command produced for one image in the run's format.
 * Paths and captured output may hold bytes that are not UTF-8: they are
 * written escaped (\xNN), as in the JSON reports. */
static result *render(const run *R, const batch_item *it, const char *cls, int exit,
                      const char *text, const char *err, json_t *report, json_t *findings)
{
	json_t *jt = nxp_json_text(text ? text : ""), *je = nxp_json_text(err ? err : "");
	const char *t = json_string_value(jt), *e = json_string_value(je);
	char *out = NULL, *aux = NULL;
	size_t out_len = 0;
	int skipped = !strcmp(cls, "skipped");
	switch (R->o->format) {
	case CLI_TEXT:
		out_len = skipped || !t ? 0 : strlen(t);
		out = out_len ? strdup(t) : NULL;
		break;
	case CLI_JSONL:
		/* A shard's lines carry their place in the whole run, last, for
		 * 'nxpatch report merge'. */
		if (!skipped && json_is_object(report) && R->o->shard_n)
			json_object_set_new(report, "batch_index", json_integer((json_int_t)it->seq));
		if (!skipped && json_is_object(report) &&
		    (out = json_dumps(report, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
			out_len = strlen(out);
			char *o2 = realloc(out, out_len + 2);
			if (o2) {
				out = o2;
				out[out_len++] = '\n';
				out[out_len] = '\0';
			}
		}
		break;
	case CLI_JSON:
		if (!skipped && json_is_object(report) && (out = jstream_render(&R->files, report)))
			out_len = strlen(out);
		break;
	case CLI_SARIF:
		if (!skipped) {
			json_t *jp = nxpi_json_name(it->path);
			const char *path = json_string_value(jp);
			json_t *rs = nxp_sarif_results(path, findings);
			json_t *ns = nxp_sarif_notes(path, cls, report);
			if (R->o->shard_n) {
				shard_mark(rs, it->seq);
				shard_mark(ns, it->seq);
			}
			if ((out = jstream_join(&R->files, rs)))
				out_len = strlen(out);
			aux = jstream_join(&R->notes, ns);
			json_decref(rs);
			json_decref(ns);
			json_decref(jp);
		}
		break;
	case CLI_HTML:
		if (!skipped && (out = nxp_html_row(it->path, cls, text, err, report, findings)))
			out_len = strlen(out);
		break;
	}
	result *res = new_result(cls, exit, it->size, e, out, out_len, aux);
	free(out);
	free(aux);
	json_decref(jt);
	json_decref(je);
	return res;
}

static result *failure_result(const run *R, const batch_item *it, const char *msg)
{
	char e[PATH_MAX + 256];
	snprintf(e, sizeof(e), "nxpatch: %s: %s\n", nxpi_shown(it->path), nxpi_shown(msg));
	nxp_error err = {NXP_E_INTERNAL, ""};
	snprintf(err.msg, sizeof(err.msg), "%s", msg);
	json_t *rep = nxp_json_failure(it->path, &err), *f = json_array();
	result *res = render(R, it, "failed", NXP_EXIT_INPUT, "", e, rep, f);
	json_decref(rep);
	json_decref(f);
	return res;
}

static result *process_one(const run *R, const batch_item *it)
{
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;
	batch_rec r = {0};
	r.out = open_memstream(&obuf, &olen);
	r.err = open_memstream(&ebuf, &elen);
	r.findings = json_array();
	r.cls = "scanned";
	if (r.out && r.err)
		R->cmd->process(R->cmd->ctx, it, &r);
	else {
		r.cls = "failed";
		r.exit = NXP_EXIT_INPUT;
	}
	if (r.out)
		fclose(r.out);
	if (r.err)
		fclose(r.err);
	if (R->color && obuf && olen) {
		size_t clen;
		char *c = cli_colorize(obuf, olen, nxpi_shown(it->path), r.cls, &clen);
		if (c) {
			free(obuf);
			obuf = c;
			olen = clen;
		}
	}
	result *res = render(R, it, r.cls, r.exit, obuf, ebuf, r.report, r.findings);
	json_decref(r.report);
	json_decref(r.findings);
	free(obuf);
	free(ebuf);
	return res ? res : failure_result(R, it, "out of memory");
}

/* The bar is one line on stderr without a newline: before anything else is
 * written to the terminal it is erased (and drawn again after), so a report
 * line never starts in the middle of "ETA 00:02". */
static void clear_progress(run *R)
{
	if (R->progress && R->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		R->drawn = 0;
	}
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
	fflush(stdout); /* what the report wrote is on the screen before the bar */
	fprintf(stderr, "\r\033[K%s: %zu/%zu images  %.1f MB/s  ETA %s", R->cmd->name, R->done,
	        R->l->n, rate / 1e6, eta);
	fflush(stderr);
	R->drawn = 1;
}

static void emit(run *R, const result *res)
{
	const char *cls = res->cls;
	const char *out = res->buf + res->err_len, *aux = out + res->out_len;
	if (res->err_len || (R->out_tty && res->out_len))
		clear_progress(R);
	if (res->err_len) {
		fflush(stdout);
		fwrite(res->buf, 1, res->err_len, stderr);
		fflush(stderr);
	}
	if (!strcmp(cls, "skipped")) {
		R->c.skipped++;
	} else {
		R->c.scanned++;
		R->c.bytes += res->bytes;
		if (!strcmp(cls, "changed")) R->c.changed++;
		else if (!strcmp(cls, "unchanged")) R->c.unchanged++;
		else if (!strcmp(cls, "refused")) R->c.refused++;
		else if (!strcmp(cls, "failed")) R->c.failed++;
		else if (!strcmp(cls, "compliant")) R->c.compliant++;
		else if (!strcmp(cls, "noncompliant")) R->c.noncompliant++;
		switch (R->o->format) {
		case CLI_TEXT:
			fwrite(out, 1, res->out_len, stdout);
			if (R->out_tty)
				fflush(stdout);
			break;
		case CLI_JSONL:
			fwrite(out, 1, res->out_len, stdout);
			if (res->out_len)
				fflush(stdout); /* a line per image, as it is done */
			break;
		case CLI_JSON:
			jstream_put(&R->files, stdout, out, res->out_len);
			break;
		case CLI_SARIF:
			jstream_put(&R->files, stdout, out, res->out_len);
			jstream_put(&R->notes, R->spool, aux, res->aux_len);
			break;
		case CLI_HTML:
			fwrite(out, 1, res->out_len, stdout);
			break;
		}
	}
	merge_status(R, res->exit);
}

static void on_result(run *R, size_t i, result *res)
{
	if (!res) {
		cli_error(R->l->v[i].path, "out of memory");
		res = new_result("failed", NXP_EXIT_INPUT, R->l->v[i].size, NULL, NULL, 0, NULL);
	}
	R->recs[i] = res;
	R->done++;
	R->done_bytes += R->l->v[i].size;
	while (R->next_emit < R->l->n && R->recs[R->next_emit]) {
		emit(R, R->recs[R->next_emit]);
		free_result(R->recs[R->next_emit]);
		R->recs[R->next_emit] = NULL;
		R->next_emit++;
	}
	draw_progress(R, !R->drawn);
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

/* ---------------------------------------------------------------- workers */

/* Images a worker holds at once: the one it works on and the next, so it
 * never waits for the parent between two images. */
#define WORKER_DEPTH 2

/* Set by the parent when a signal stops the run (a shared page): a worker
 * starts no image after it and declines the ones queued to it. */
static volatile sig_atomic_t *shared_stop;

/* A worker: read indexes (one per line), answer each with a header line
 * "INDEX CLS EXIT BYTES ERRLEN OUTLEN AUXLEN" and the three byte strings,
 * or "INDEX -" for an index declined because the run is stopping.
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
		char head[160];
		if (shared_stop && *shared_stop) {
			int n = snprintf(head, sizeof(head), "%zu -\n", i);
			if (write_all(res_fd, head, (size_t)n))
				break;
			continue;
		}
		result *res = process_one(R, &R->l->v[i]);
		int bad = !res;
		if (res) {
			int n = snprintf(head, sizeof(head), "%zu %s %d %llu %zu %zu %zu\n", i, res->cls,
			                 res->exit, (unsigned long long)res->bytes, res->err_len,
			                 res->out_len, res->aux_len);
			bad = write_all(res_fd, head, (size_t)n) ||
			      write_all(res_fd, res->buf, res->err_len + res->out_len + res->aux_len);
		}
		free_result(res);
		if (bad)
			break;
	}
	nxp_lief_shutdown(); /* our LIEF worker, not the parent's */
	_exit(0);
}

typedef struct wk {
	pid_t pid;
	int cmd, res;
	size_t q[WORKER_DEPTH]; /* indexes sent, oldest first (the one in progress) */
	size_t nq;
	char *buf;
	size_t len, cap;
} wk;

static int next_index(run *R, size_t *i)
{
	if (stop_signal)
		return 0;
	if (R->nretry) {
		*i = R->retry[--R->nretry];
		return 1;
	}
	if (R->dispatched < R->l->n) {
		*i = R->dispatched++;
		return 1;
	}
	return 0;
}

/* Keep the worker's queue full. When there is nothing left to send, its
 * command pipe is closed once its queue is empty: it leaves. */
static void fill(run *R, wk *w)
{
	size_t i;
	while (w->cmd >= 0 && w->nq < WORKER_DEPTH && next_index(R, &i)) {
		char line[32];
		int n = snprintf(line, sizeof(line), "%zu\n", i);
		if (write_all(w->cmd, line, (size_t)n)) {
			/* The worker is gone: this index goes to another. */
			R->retry[R->nretry++] = i;
			close(w->cmd);
			w->cmd = -1;
			return;
		}
		w->q[w->nq++] = i;
	}
	if (w->cmd >= 0 && w->nq == 0) {
		close(w->cmd);
		w->cmd = -1;
	}
}

static void pop(wk *w)
{
	memmove(w->q, w->q + 1, (w->nq - 1) * sizeof(w->q[0]));
	w->nq--;
}

/* Parse the complete answers in w's buffer. */
static void take_answers(run *R, wk *w)
{
	size_t off = 0;
	for (;;) {
		char *start = w->buf + off, *nl = memchr(start, '\n', w->len - off);
		if (!nl)
			break;
		size_t i = 0, el = 0, ol = 0, al = 0;
		unsigned long long bytes = 0;
		int exit = 0, used = 0;
		char cls[16] = "";
		*nl = '\0';
		int declined = sscanf(start, "%zu -%n", &i, &used) == 1 && used == nl - start;
		int ok = declined || sscanf(start, "%zu %15s %d %llu %zu %zu %zu", &i, cls, &exit,
		                            &bytes, &el, &ol, &al) == 7;
		*nl = '\n';
		size_t need = (size_t)(nl + 1 - start) + (declined ? 0 : el + ol + al);
		if (ok && !declined && w->len - off < need)
			break; /* the payload is still coming */
		if (!w->nq)
			break; /* nothing asked: ignore what a broken worker says */
		size_t want = w->q[0];
		pop(w);
		if (!ok || i != want) {
			/* Nothing more from it can be trusted. */
			on_result(R, want, failure_result(R, &R->l->v[want],
			                                  "worker sent a malformed report"));
			off = w->len;
			if (w->cmd >= 0)
				close(w->cmd);
			w->cmd = -1;
			while (w->nq) {
				R->retry[R->nretry++] = w->q[0];
				pop(w);
			}
			break;
		}
		off += need;
		if (!declined) {
			const char *p = nl + 1;
			result *res = malloc(sizeof(*res));
			char *b = malloc(el + ol + al + 1);
			if (res && b) {
				memcpy(b, p, el + ol + al);
				b[el + ol + al] = '\0';
				*res = (result){.exit = exit, .bytes = bytes, .err_len = el, .out_len = ol,
				                .aux_len = al, .buf = b};
				snprintf(res->cls, sizeof(res->cls), "%s", cls);
			} else {
				free(res);
				free(b);
				res = NULL;
			}
			on_result(R, i, res);
		}
		fill(R, w);
	}
	w->len -= off;
	memmove(w->buf, w->buf + off, w->len);
}

/* long-function: the worker pool's event loop; the split of batch.c (issue 18 item 2) will take
 * it apart. */
static void run_pool(run *R, size_t nw)
{
	wk *W = calloc(nw, sizeof(*W));
	R->retry = calloc(nw * WORKER_DEPTH + 1, sizeof(*R->retry));
	void *page = mmap(NULL, sizeof(*shared_stop), PROT_READ | PROT_WRITE,
	                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!W || !R->retry || page == MAP_FAILED) {
		cli_error(NULL, "out of memory");
		R->status = NXP_EXIT_INPUT;
		free(W);
		if (page != MAP_FAILED)
			munmap(page, sizeof(*shared_stop));
		return;
	}
	shared_stop = page;
	*shared_stop = 0;
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
		W[k] = (wk){.pid = pid, .cmd = cp[1], .res = rp[0]};
		started++;
	}
	if (!started) {
		cli_error(NULL, "cannot start worker processes: %s", strerror(errno));
		R->status = NXP_EXIT_INPUT;
		free(W);
		munmap(page, sizeof(*shared_stop));
		shared_stop = NULL;
		return;
	}
	for (size_t k = 0; k < started; k++)
		fill(R, &W[k]);
	struct pollfd *pf = calloc(started, sizeof(*pf));
	size_t *map = calloc(started, sizeof(*map));
	for (;;) {
		if (stop_signal)
			*shared_stop = 1;
		size_t np = 0;
		for (size_t k = 0; k < started; k++) {
			if (W[k].res < 0)
				continue;
			/* Stopping: idle workers get their end of file now. */
			if (stop_signal && W[k].nq == 0 && W[k].cmd >= 0) {
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
				take_answers(R, w);
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
			if (w->nq) {
				char msg[128];
				if (WIFSIGNALED(st))
					snprintf(msg, sizeof(msg), "the worker process died (signal %d)",
					         WTERMSIG(st));
				else
					snprintf(msg, sizeof(msg), "the worker process died (exit %d)",
					         WIFEXITED(st) ? WEXITSTATUS(st) : -1);
				size_t i = w->q[0];
				pop(w);
				on_result(R, i, failure_result(R, &R->l->v[i], msg));
				/* The ones queued behind it were never started. */
				while (w->nq) {
					R->retry[R->nretry++] = w->q[0];
					pop(w);
				}
			}
			/* Hand what it left to the workers still running. */
			for (size_t k = 0; k < started; k++)
				if (W[k].res >= 0)
					fill(R, &W[k]);
		}
	}
	for (size_t k = 0; k < started; k++) {
		if (W[k].pid > 0)
			waitpid(W[k].pid, NULL, 0);
		free(W[k].buf);
	}
	free(pf);
	free(map);
	free(W);
	munmap(page, sizeof(*shared_stop));
	shared_stop = NULL;
}

static json_t *summary_json(run *R, double secs, size_t not_started)
{
	json_t *s = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "scanned", (json_int_t)R->c.scanned,
	                      "changed", (json_int_t)R->c.changed, "unchanged",
	                      (json_int_t)R->c.unchanged, "refused", (json_int_t)R->c.refused,
	                      "failed", (json_int_t)R->c.failed, "skipped",
	                      (json_int_t)R->c.skipped);
	if (R->cmd->labels.compliance) {
		json_object_set_new(s, "compliant", json_integer((json_int_t)R->c.compliant));
		json_object_set_new(s, "noncompliant", json_integer((json_int_t)R->c.noncompliant));
	}
	json_object_set_new(s, "bytes", json_integer((json_int_t)R->c.bytes));
	json_object_set_new(s, "seconds", json_real((double)(long long)(secs * 1000) / 1000.0));
	if (stop_signal) {
		json_object_set_new(s, "interrupted", json_true());
		json_object_set_new(s, "not_started", json_integer((json_int_t)not_started));
	}
	/* Which shard: 'nxpatch report merge' checks it has them all. */
	if (R->o->shard_n)
		json_object_set_new(s, "shard", json_pack("{s:i, s:i}", "k", (int)R->o->shard_k, "n",
		                                          (int)R->o->shard_n));
	return s;
}

static void text_summary(run *R, double secs)
{
	const batch_labels *L = &R->cmd->labels;
	printf("summary: %zu image%s scanned", R->c.scanned, R->c.scanned == 1 ? "" : "s");
	if (L->changed)
		printf(", %zu %s, %zu %s, %zu %s", R->c.changed, L->changed, R->c.unchanged,
		       L->unchanged, R->c.refused, L->refused);
	if (L->compliance)
		printf(", %zu compliant, %zu not compliant", R->c.compliant, R->c.noncompliant);
	printf(", %zu failed, %zu skipped; %llu bytes in %.2f s\n", R->c.failed, R->c.skipped,
	       (unsigned long long)R->c.bytes, secs);
}

/* long-function: one run's sequence (inputs, pool, emission, summary); the split of batch.c
 * (issue 18 item 2) will take it apart. */
int batch_run(const batch_cmd *cmd, const batch_opts *o, char **paths, int n)
{
	items l = {0};
	int input_errors = 0, status = batch_claim_stdin(cmd->name, o, paths, n);
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
	/* What was skipped while collecting is the same in every shard:
	 * shard 1 counts it, so shard summaries add up to the whole run's. */
	R.c.skipped = !o->shard_n || o->shard_k == 1 ? l.skipped : 0;
	R.recs = calloc(l.n ? l.n : 1, sizeof(*R.recs));
	R.out_tty = isatty(STDOUT_FILENO);
	/* A document (JSON, SARIF) on the same terminal is written in pieces
	 * that are not whole lines: no bar then (erasing it would erase them). */
	R.progress = isatty(STDERR_FILENO) && !o->quiet &&
	             !(R.out_tty && o->format != CLI_TEXT && o->format != CLI_JSONL);
	R.color = o->format == CLI_TEXT && cli_use_color(o->color, STDOUT_FILENO);
	R.t0 = now_s();
	for (size_t i = 0; i < l.n; i++)
		R.total_bytes += l.v[i].size;
	if (stream_setup(&R)) {
		cli_error(NULL, "cannot set up the report: %s", strerror(errno));
		free(R.recs);
		R.recs = NULL;
	}

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
	} else {
		stream_begin(&R);
		if (jobs == 1 || l.n <= 1) {
			for (size_t i = 0; i < l.n && !stop_signal; i++) {
				R.dispatched++;
				on_result(&R, i, process_one(&R, &l.v[i]));
			}
		} else {
			run_pool(&R, (size_t)jobs < l.n ? (size_t)jobs : l.n);
		}
	}
	/* Anything received but not emitted (a gap left by an image never
	 * started) is dropped: reports stay a prefix of the input order. */
	for (size_t i = R.next_emit; R.recs && i < l.n; i++)
		free_result(R.recs[i]);
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
	case CLI_JSON:
	case CLI_SARIF:
		if (R.recs)
			stream_end(&R, summary);
		break;
	case CLI_HTML:
		if (R.recs)
			nxp_html_end(stdout, summary);
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
	free(R.recs);
	free(R.retry);
	free(R.files.head);
	free(R.files.lead);
	free(R.notes.head);
	free(R.notes.lead);
	if (R.spool)
		fclose(R.spool);
	free_items(&l);
	nxp_evset_free(batch_evidence);
	batch_evidence = NULL;
	return R.status;
}
