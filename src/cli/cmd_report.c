/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch report merge [-o OUT] FILE...
 * Joins the outputs of the shards of one run (--shard K/N of scan, plan,
 * verify or apply) into the report one process would have written: JSONL
 * (--format jsonl), SARIF (--format sarif) or apply journals. The merged
 * report equals the single run's byte for byte, except the time in its
 * summary (the longest shard's). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "util/suggest.h"

static const cli_opt merge_options[] = {
	{'o', 'o', "output", "OUT", "write the merged report to OUT (default, or -: standard output)"},
	CLI_OPT_END,
};

static const cli_optgroup groups[] = {
	{"options", merge_options},
	CLI_GROUPS_END,
};

static const char about[] =
	"FILE: the outputs of every shard of one run (--shard K/N), all of one kind: --format\n"
	"jsonl reports, --format sarif reports, or apply --journal files. Writes the merged\n"
	"report (and its one summary) to OUT or standard output.\n";

enum kind { K_JSONL, K_SARIF, K_JOURNAL };

#define DUMP_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

/* ------------------------------------------------------------- summaries */

typedef struct shards {
	unsigned n;             /* N of the run, 0 until a summary says */
	unsigned char *seen;    /* [N]: K's summary met */
	json_t *sum;            /* the merged summary */
} shards;

/* Add one shard's summary: counts add up, the time is the longest. */
static int add_summary(shards *S, json_t *s, const char *file)
{
	json_t *sh = json_object_get(s, "shard");
	json_int_t k = json_integer_value(json_object_get(sh, "k")),
	           n = json_integer_value(json_object_get(sh, "n"));
	if (!json_is_object(s) || n < 1 || k < 1 || k > n || n > 1000000) {
		cli_error(file, "not the report of a --shard K/N run (no summary.shard)");
		return -1;
	}
	if (!S->n) {
		S->n = (unsigned)n;
		S->seen = calloc((size_t)n, 1);
		S->sum = json_object();
		if (!S->seen || !S->sum) {
			cli_error(NULL, "out of memory");
			return -1;
		}
	} else if ((unsigned)n != S->n) {
		cli_error(file, "shard %lld of %lld, but another file is of %u shards", (long long)k,
		          (long long)n, S->n);
		return -1;
	}
	if (S->seen[k - 1]) {
		cli_error(file, "shard %lld/%lld is given twice", (long long)k, (long long)n);
		return -1;
	}
	S->seen[k - 1] = 1;
	const char *key;
	json_t *v;
	json_object_foreach(s, key, v) {
		if (!strcmp(key, "shard"))
			continue;
		json_t *have = json_object_get(S->sum, key);
		if (json_is_integer(v))
			json_object_set_new(S->sum, key,
			                    json_integer(json_integer_value(have) + json_integer_value(v)));
		else if (json_is_real(v))
			json_object_set_new(S->sum, key,
			                    json_real(have && json_real_value(have) > json_real_value(v)
			                                      ? json_real_value(have)
			                                      : json_real_value(v)));
		else if (!have || json_is_true(v))
			json_object_set(S->sum, key, v);
	}
	return 0;
}

static int all_shards(const shards *S)
{
	if (!S->n) {
		cli_error(NULL, "no summary in any file: not reports of --shard runs");
		return -1;
	}
	for (unsigned k = 0; k < S->n; k++)
		if (!S->seen[k]) {
			cli_error(NULL, "shard %u/%u is missing", k + 1, S->n);
			return -1;
		}
	return 0;
}

/* ------------------------------------------------------------------ JSONL */

typedef struct src {
	const char *name;
	FILE *f;
	char *line;             /* the record line, its batch_index cut off */
	size_t cap;
	long long idx;          /* -1: this file is done */
} src;

/* The next record of s (its index in s->idx), taking the summary line on
 * the way. Returns 0, or -1 after a message. */
static int next_record(src *s, shards *S)
{
	for (;;) {
		ssize_t len = getline(&s->line, &s->cap, s->f);
		if (len <= 0) {
			if (ferror(s->f)) {
				cli_error(s->name, "cannot read: %s", strerror(errno));
				return -1;
			}
			s->idx = -1;
			return 0;
		}
		if (s->line[len - 1] == '\n')
			s->line[--len] = '\0';
		if (!len)
			continue;
		if (!strncmp(s->line, "{\"summary\":", 11)) {
			if (S) {
				json_t *j = json_loads(s->line, 0, NULL);
				int rc = add_summary(S, json_object_get(j, "summary"), s->name);
				json_decref(j);
				if (rc)
					return -1;
			}
			continue;
		}
		/* ...,"batch_index":123} : the last key, written by the shard. */
		char *p = strstr(s->line, ",\"batch_index\":"), *q;
		for (char *r = p; r; r = strstr(r + 1, ",\"batch_index\":"))
			p = r;
		long long idx = p ? strtoll(p + 15, &q, 10) : -1;
		if (!p || idx < 0 || strcmp(q, "}")) {
			cli_error(s->name, "a line without its batch_index: not the report of a "
			                   "--shard run with --format jsonl");
			return -1;
		}
		p[0] = '}';
		p[1] = '\0';
		s->idx = idx;
		return 0;
	}
}

static int merge_jsonl(char **files, int n, FILE *out, shards *S)
{
	src *v = calloc((size_t)n, sizeof(*v));
	int rc = v ? 0 : -1;
	/* First the summaries (each file's last line): the set of shards must
	 * be whole before anything is merged. */
	for (int i = 0; !rc && i < n; i++) {
		v[i].name = files[i];
		if (!(v[i].f = fopen(files[i], "r"))) {
			cli_error(files[i], "cannot open: %s", strerror(errno));
			rc = -1;
		}
		while (!rc && !(rc = next_record(&v[i], S)) && v[i].idx >= 0)
			;
		if (!rc && fseek(v[i].f, 0, SEEK_SET) != 0)
			rc = -1;
	}
	if (!rc)
		rc = all_shards(S);
	for (int i = 0; !rc && i < n; i++)
		rc = next_record(&v[i], NULL);
	long long last = -1;
	size_t records = 0;
	while (!rc) {
		int best = -1;
		for (int i = 0; i < n; i++)
			if (v[i].idx >= 0 && (best < 0 || v[i].idx < v[best].idx))
				best = i;
		if (best < 0)
			break;
		if (v[best].idx == last) {
			cli_error(v[best].name, "image %lld is in two files: a shard given twice?", last);
			rc = -1;
			break;
		}
		last = v[best].idx;
		fputs(v[best].line, out);
		fputc('\n', out);
		records++;
		rc = next_record(&v[best], NULL);
	}
	if (!rc) {
		json_t *line = json_pack("{s:O}", "summary", S->sum);
		json_dumpf(line, out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
		fputc('\n', out);
		json_decref(line);
		fprintf(stderr, "nxpatch: merged %u shards: %zu records\n", S->n, records);
	}
	for (int i = 0; v && i < n; i++) {
		if (v[i].f)
			fclose(v[i].f);
		free(v[i].line);
	}
	free(v);
	return rc;
}

/* ------------------------------------------------------------------ SARIF */

typedef struct item {
	json_int_t idx;
	size_t order;
	json_t *v;
} item;

static int by_idx(const void *a, const void *b)
{
	const item *x = a, *y = b;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

typedef struct list {
	item *v;
	size_t n, cap;
} list;

/* Take the elements of arr, each with its properties.batchIndex (removed;
 * a notification's then empty properties too). */
static int take(list *L, json_t *arr, int drop_empty, const char *file)
{
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *x = json_array_get(arr, i), *p = json_object_get(x, "properties");
		json_t *bi = json_object_get(p, "batchIndex");
		if (!json_is_integer(bi)) {
			cli_error(file, "a result without properties.batchIndex: not the report of a "
			                "--shard run with --format sarif");
			return -1;
		}
		if (L->n == L->cap) {
			size_t cap = L->cap ? L->cap * 2 : 256;
			item *nv = realloc(L->v, cap * sizeof(*nv));
			if (!nv)
				return -1;
			L->v = nv;
			L->cap = cap;
		}
		L->v[L->n] = (item){json_integer_value(bi), L->n, json_incref(x)};
		L->n++;
		json_object_del(p, "batchIndex");
		if (drop_empty && json_object_size(p) == 0)
			json_object_del(x, "properties");
	}
	return 0;
}

static json_t *sorted(list *L)
{
	if (L->n)
		qsort(L->v, L->n, sizeof(*L->v), by_idx);
	json_t *a = json_array();
	for (size_t i = 0; i < L->n; i++)
		json_array_append_new(a, L->v[i].v);
	free(L->v);
	return a;
}

static int merge_sarif(char **files, int n, FILE *out, shards *S)
{
	list res = {0}, notes = {0};
	json_t *first = NULL;
	int rc = 0;
	for (int i = 0; !rc && i < n; i++) {
		json_error_t je;
		json_t *d = json_load_file(files[i], 0, &je);
		json_t *run = json_array_get(json_object_get(d, "runs"), 0);
		json_t *inv = json_array_get(json_object_get(run, "invocations"), 0);
		if (!run || !inv) {
			cli_error(files[i], "not a SARIF report of nxpatch%s%s", d ? "" : ": ",
			          d ? "" : je.text);
			rc = -1;
		} else {
			rc = add_summary(S, json_object_get(json_object_get(run, "properties"), "summary"),
			                 files[i]);
			if (!rc)
				rc = take(&res, json_object_get(run, "results"), 0, files[i]);
			if (!rc)
				rc = take(&notes, json_object_get(inv, "toolExecutionNotifications"), 1,
				          files[i]);
		}
		if (!first && !rc)
			first = json_incref(d);
		json_decref(d);
	}
	json_t *ra = sorted(&res), *na = sorted(&notes);
	if (!rc && !(rc = all_shards(S))) {
		json_t *run = json_array_get(json_object_get(first, "runs"), 0);
		json_t *inv = json_array_get(json_object_get(run, "invocations"), 0);
		size_t nn = json_array_size(na), nr = json_array_size(ra);
		json_object_set(run, "results", ra);
		json_object_set_new(inv, "executionSuccessful", json_boolean(nn == 0));
		json_object_set(inv, "toolExecutionNotifications", na);
		json_object_set(json_object_get(run, "properties"), "summary", S->sum);
		json_dumpf(first, out, DUMP_FLAGS);
		fputc('\n', out);
		fprintf(stderr, "nxpatch: merged %u shards: %zu results, %zu notifications\n", S->n,
		        nr, nn);
	}
	json_decref(ra);
	json_decref(na);
	json_decref(first);
	return rc;
}

/* --------------------------------------------------------------- journals */

/* Paths in the order a -r walk meets them: component by component, each
 * compared bytewise ("a/b" before "a.b", as a directory's entries are). */
static int walk_order(const char *a, const char *b)
{
	for (;;) {
		size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
		int c = memcmp(a, b, la < lb ? la : lb);
		if (c)
			return c;
		if (la != lb)
			return la < lb ? -1 : 1;
		if (!a[la] || !b[lb])
			return a[la] ? 1 : b[lb] ? -1 : 0;
		a += la + 1;
		b += lb + 1;
	}
}

typedef struct jsrc {
	const char *name;
	FILE *f;
	char *line;
	size_t cap;
	char *path;             /* of the current line; NULL when done */
} jsrc;

static int next_line(jsrc *s)
{
	free(s->path);
	s->path = NULL;
	ssize_t len;
	while ((len = getline(&s->line, &s->cap, s->f)) > 0) {
		if (s->line[len - 1] != '\n') {
			cli_error(s->name, "the last line is cut short: not a complete journal");
			return -1;
		}
		json_t *j = json_loads(s->line, 0, NULL);
		const char *p = json_string_value(json_object_get(j, "path"));
		if (!p || !json_object_get(j, "sha256_before")) {
			json_decref(j);
			cli_error(s->name, "a line that is not a journal entry");
			return -1;
		}
		s->path = strdup(p);
		json_decref(j);
		return s->path ? 0 : -1;
	}
	if (ferror(s->f)) {
		cli_error(s->name, "cannot read: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Each shard's journal is in the run's order; an image is in one shard
 * only, its lines stay together and in order. */
static int merge_journals(char **files, int n, FILE *out)
{
	jsrc *v = calloc((size_t)n, sizeof(*v));
	int rc = v ? 0 : -1;
	size_t lines = 0;
	for (int i = 0; !rc && i < n; i++) {
		v[i].name = files[i];
		if (!(v[i].f = fopen(files[i], "r"))) {
			cli_error(files[i], "cannot open: %s", strerror(errno));
			rc = -1;
		} else {
			rc = next_line(&v[i]);
		}
	}
	while (!rc) {
		int best = -1;
		for (int i = 0; i < n; i++)
			if (v[i].path && (best < 0 || walk_order(v[i].path, v[best].path) < 0))
				best = i;
		if (best < 0)
			break;
		char *cur = strdup(v[best].path);
		while (!rc && cur && v[best].path && !strcmp(v[best].path, cur)) {
			fputs(v[best].line, out);
			lines++;
			rc = next_line(&v[best]);
		}
		free(cur);
	}
	if (!rc)
		fprintf(stderr, "nxpatch: merged %d journals: %zu lines\n", n, lines);
	for (int i = 0; v && i < n; i++) {
		if (v[i].f)
			fclose(v[i].f);
		free(v[i].line);
		free(v[i].path);
	}
	free(v);
	return rc;
}

/* The kind of a file, from its first line. */
static int kind_of_file(const char *file, enum kind *k)
{
	FILE *f = fopen(file, "r");
	if (!f) {
		cli_error(file, "cannot open: %s", strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len = getline(&line, &cap, f);
	fclose(f);
	json_t *j = len > 0 ? json_loads(line, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
	int rc = 0;
	if (len > 0 && !strcmp(line, "{\n"))
		*k = K_SARIF;
	else if (json_object_get(j, "sha256_before"))
		*k = K_JOURNAL;
	else if (json_is_object(j))
		*k = K_JSONL;
	else {
		cli_error(file, "neither a JSONL or SARIF report nor a journal");
		rc = -1;
	}
	json_decref(j);
	free(line);
	return rc;
}

static int report_merge(int argc, char **argv)
{
	const char *outp = NULL;
	int c;
	cli_parser p;
	cli_parse_init(&p, "report merge", "[-o OUT] FILE...", about, groups);
	while ((c = cli_next(&p, argc, argv)) != CLI_END) {
		if (c == CLI_STOP)
			return p.status;
		if (c == 'o')
			outp = strcmp(p.arg, "-") ? p.arg : NULL; /* -o -: standard output */
	}
	if (p.optind >= argc)
		return cli_usage("report merge", "no files to merge");
	char **files = argv + p.optind;
	int n = argc - p.optind;
	enum kind k = K_JSONL, k0 = K_JSONL;
	for (int i = 0; i < n; i++) {
		if (kind_of_file(files[i], &k))
			return NXP_EXIT_INPUT;
		if (i && k != k0)
			return cli_usage("report merge", "%s is not of the same kind as %s", files[i],
			                 files[0]);
		k0 = k;
	}
	/* Written to a temporary name and renamed: a failed merge leaves no
	 * half report under OUT. */
	char tmp[4096 + 16];
	FILE *out = stdout;
	if (outp) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", outp);
		if (!(out = fopen(tmp, "w"))) {
			cli_error(tmp, "cannot create: %s", strerror(errno));
			return NXP_EXIT_INPUT;
		}
	}
	shards S = {0};
	int rc = k == K_JSONL   ? merge_jsonl(files, n, out, &S)
	         : k == K_SARIF ? merge_sarif(files, n, out, &S)
	                        : merge_journals(files, n, out);
	json_decref(S.sum);
	free(S.seen);
	if (fflush(out) != 0 || ferror(out)) {
		cli_error(outp, "cannot write: %s", strerror(errno));
		rc = -1;
	}
	if (outp) {
		fclose(out);
		if (rc || rename(tmp, outp) != 0) {
			if (!rc)
				cli_error(outp, "cannot write: %s", strerror(errno));
			unlink(tmp);
			rc = -1;
		}
	}
	return rc ? NXP_EXIT_INPUT : NXP_EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "merge"))
		return report_merge(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		cli_parser p;
		cli_parse_init(&p, "report", "merge [-o OUT] FILE...",
		               "\nsubcommands:\n"
		               "  merge  join the reports of --shard runs into one ('nxpatch report "
		               "merge --help')\n",
		               NULL);
		cli_print_help(&p);
		return NXP_EXIT_OK;
	}
	if (argc >= 2 && argv[1][0] != '-') {
		static const char *const subs[] = {"merge"};
		const char *close = nxpi_closest(argv[1], subs, 1);
		return cli_usage("report", "'%s' is not a report subcommand%s%s%s", argv[1],
		                 close ? " (did you mean '" : "", close ? close : "", close ? "'?)" : "");
	}
	return cli_usage("report", "say 'nxpatch report merge FILE...'");
}
