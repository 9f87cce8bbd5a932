/* SPDX-License-Identifier: Apache-2.0 */
/* A batch run's inputs: the arguments, directories walked with -r and
 * --from lists collected into one list in input order; hard links kept once
 * (the first), --out-dir name clashes found, and this --shard's slice taken.
 * See batch.h and docs/pipeline.md. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/dash.h"
#include "cli/inputs.h"
#include "util/file.h"

static int add_item(batch_items *l, const char *path, const char *rel, int found,
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
void batch_items_free(batch_items *l)
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
static int walk(batch_items *l, const char *dir, const batch_opts *o)
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
			/* Another run's temporary file or backup, gone since the
			 * directory was read (shards on one tree): skipped, as it
			 * would have been. */
			if (errno == ENOENT &&
			    (nxpi_tmpfile_is_name(name) || has_suffix(name, ".nxpatch-orig"))) {
				l->skipped++;
				continue;
			}
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
static int add_stdin(batch_items *l, const char *cmd)
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
static int add_arg(batch_items *l, const char *arg, int found, const batch_opts *o, const char *cmd,
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

static int read_from(batch_items *l, const batch_opts *o, const char *cmd, int *input_errors)
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


static const batch_items *sort_base;
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
static int find_clashes(batch_items *l)
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
static int select_items(batch_items *l, const batch_opts *o)
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
		/* the slice: the hash of the path as reported */
		if (o->shard_n && nxpi_fnv1a(l->v[i].path) % o->shard_n != o->shard_k - 1) {
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
static int check_backup_names(const batch_items *l, const char *suffix, const char *cmd)
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

int batch_inputs(batch_items *l, const batch_opts *o, const char *cmd, char **paths, int n,
                 int *input_errors)
{
	int status = batch_claim_stdin(cmd, o, paths, n);
	for (int i = 0; i < n && !status; i++)
		status = add_arg(l, paths[i], 0, o, cmd, input_errors);
	if (!status && o->from)
		status = read_from(l, o, cmd, input_errors);
	if (!status && n == 0 && !o->from)
		status = cli_usage(cmd, "no input files");
	if (status)
		return status;
	if (select_items(l, o)) {
		cli_error(NULL, "out of memory");
		return NXP_EXIT_INPUT;
	}
	if (o->backup_suffix)
		return check_backup_names(l, o->backup_suffix, cmd);
	return 0;
}
