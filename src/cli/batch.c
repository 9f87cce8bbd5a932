/* SPDX-License-Identifier: Apache-2.0 */
/* The batch driver: options, per-image records, and one run's sequence
 * (inputs.c collects, pool.c runs, emit.c writes). See batch.h and
 * docs/pipeline.md. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/batch.h"
#include "cli/cli.h"
#include "cli/color.h"
#include "cli/emit.h"
#include "cli/inputs.h"
#include "cli/pool.h"
#include "nxpatch/check.h"
#include "nxpatch/crosscheck.h"
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

const char *batch_class_name(batch_class c)
{
	static const char *const names[BATCH_NCLASSES] = {
		[BATCH_SCANNED] = "scanned",     [BATCH_CHANGED] = "changed",
		[BATCH_UNCHANGED] = "unchanged", [BATCH_REFUSED] = "refused",
		[BATCH_FAILED] = "failed",       [BATCH_SKIPPED] = "skipped",
		[BATCH_COMPLIANT] = "compliant", [BATCH_NONCOMPLIANT] = "noncompliant",
	};
	return (unsigned)c < BATCH_NCLASSES ? names[c] : "failed";
}

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
		rc = nxp_fail(&err, NXP_E_USAGE, "a %s: only regular files are read",
		              nxpi_file_type_name(it->mode));
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
		r->cls = BATCH_SKIPPED;
		return rc;
	}
	batch_error(r, it->path, "%s", err.msg);
	r->report = nxp_json_failure(it->path, &err);
	r->cls = BATCH_FAILED;
	r->exit = NXP_EXIT_INPUT;
	return rc;
}

/* ---------------------------------------------------------------- running */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

typedef struct run {
	const batch_cmd *cmd;
	const batch_items *l;
	batch_emitter E;
} run;

/* One image between the two halves of its work. */
typedef struct held {
	const batch_item *it;
	batch_rec r;
	char *obuf, *ebuf;
	size_t olen, elen;
	void *state;            /* the command's, for its end; or NULL */
} held;

/* The command's work on one image, or its first half (by a worker, or the
 * parent with -j 1); NULL when out of memory. */
static held *item_begin(const run *R, const batch_item *it)
{
	held *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->it = it;
	h->r.out = open_memstream(&h->obuf, &h->olen);
	h->r.err = open_memstream(&h->ebuf, &h->elen);
	h->r.findings = json_array();
	h->r.cls = BATCH_SCANNED;
#ifdef NXP_TEST_HOOKS
	/* Test builds: NXP_TEST_ITEM_DELAY_MS slows every image down, so that a
	 * test can signal (or kill a worker of) a batch certainly still running. */
	const char *delay = getenv("NXP_TEST_ITEM_DELAY_MS");
	if (delay)
		usleep((useconds_t)strtoul(delay, NULL, 10) * 1000u);
#endif
	if (!h->r.out || !h->r.err) {
		h->r.cls = BATCH_FAILED;
		h->r.exit = NXP_EXIT_INPUT;
	} else if (R->cmd->begin) {
		h->state = R->cmd->begin(R->cmd->ctx, it, &h->r);
	} else {
		R->cmd->process(R->cmd->ctx, it, &h->r);
	}
	return h;
}

/* The rest of its work, rendered. */
static batch_result *item_end(const run *R, held *h)
{
	if (h->state)
		R->cmd->end(R->cmd->ctx, h->state, &h->r);
	batch_rec *r = &h->r;
	if (r->out)
		fclose(r->out);
	if (r->err)
		fclose(r->err);
	if (R->E.color && h->obuf && h->olen) {
		size_t clen;
		char *c = cli_colorize(h->obuf, h->olen, nxpi_shown(h->it->path),
		                       batch_class_name(r->cls), &clen);
		if (c) {
			free(h->obuf);
			h->obuf = c;
			h->olen = clen;
		}
	}
	batch_result *res = emit_render(&R->E, h->it, r->cls, r->exit, h->obuf, h->ebuf,
	                                r->report, r->findings);
	json_decref(r->report);
	json_decref(r->findings);
	free(h->obuf);
	free(h->ebuf);
	const batch_item *it = h->it;
	free(h);
	return res ? res : emit_failure(&R->E, it, "out of memory");
}

static char *pack(batch_result *res, size_t *len)
{
	char *p = res ? emit_pack(res, len) : NULL;
	emit_free(res);
	return p;
}

static void *pool_start(void *ctx, size_t i)
{
	const run *R = ctx;
	return item_begin(R, &R->l->v[i]);
}

static char *pool_finish(void *ctx, void *token, size_t *len)
{
	return pack(item_end(ctx, token), len);
}

static void pool_done(void *ctx, size_t i, char *buf, size_t len, const char *failure)
{
	run *R = ctx;
	batch_result *res = NULL;
	if (failure)
		res = emit_failure(&R->E, &R->l->v[i], failure);
	else if (buf && !(res = emit_unpack(buf, len)))
		res = emit_failure(&R->E, &R->l->v[i], "worker sent a malformed report");
	free(buf);
	emit_take(&R->E, i, res);
}

static void pool_tick(void *ctx)
{
	emit_tick(&((run *)ctx)->E);
}

static void pool_exit(void *ctx)
{
	(void)ctx;
	nxp_lief_shutdown(); /* the worker's LIEF worker, not the parent's */
}

/* -j 1: every item here, each begun while the one before waits for its
 * second half (the next image written while LIEF reads this one's). */
typedef struct here {
	held *h[CLI_POOL_HALVES];
	size_t at[CLI_POOL_HALVES], n;
} here;

static void end_oldest(run *R, here *q)
{
	emit_take(&R->E, q->at[0], item_end(R, q->h[0]));
	q->n--;
	memmove(q->h, q->h + 1, q->n * sizeof(q->h[0]));
	memmove(q->at, q->at + 1, q->n * sizeof(q->at[0]));
}

static void run_here(run *R)
{
	here q = {.n = 0};
	for (size_t i = 0; i < R->l->n && !stop_signal; i++) {
		held *x = item_begin(R, &R->l->v[i]);
		if (!x) {
			while (q.n)
				end_oldest(R, &q);
			emit_take(&R->E, i, emit_failure(&R->E, &R->l->v[i], "out of memory"));
			continue;
		}
		q.h[q.n] = x;
		q.at[q.n++] = i;
		while (q.n == CLI_POOL_HALVES || (q.n && !q.h[0]->state))
			end_oldest(R, &q);
	}
	while (q.n)
		end_oldest(R, &q);
}

/* Every item, in -j worker processes or (one worker, one item) here. */
static void run_items(run *R, const batch_opts *o)
{
	long jobs = o->jobs ? o->jobs : sysconf(_SC_NPROCESSORS_ONLN);
	if (jobs < 1)
		jobs = 1;
	size_t n = R->l->n;
	if (jobs == 1 || n <= 1) {
		run_here(R);
		return;
	}
	cli_pool p = {.n = n, .workers = (size_t)jobs < n ? (size_t)jobs : n,
	              .tick_ms = R->E.progress ? 250 : -1, .stop = &stop_signal, .ctx = R,
	              .start = pool_start, .finish = pool_finish,
	              .hold = R->cmd->begin ? CLI_POOL_HALVES : 1, .done = pool_done,
	              .tick = pool_tick, .worker_exit = pool_exit};
	int rc = cli_pool_run(&p);
	if (rc == -1)
		cli_error(NULL, "out of memory");
	else if (rc)
		cli_error(NULL, "cannot start worker processes: %s", strerror(errno));
	if (rc)
		R->E.status = NXP_EXIT_INPUT;
}

int batch_run(const batch_cmd *cmd, const batch_opts *o, char **paths, int n)
{
	batch_items l = {0};
	int input_errors = 0, status = batch_inputs(&l, o, cmd->name, paths, n, &input_errors);
	if (!status && o->evidence) {
		nxp_error err = {0};
		int rc = nxp_evset_load(&batch_evidence, o->evidence, &err);
		if (rc) {
			cli_error(NULL, "--evidence: %s", err.msg);
			status = rc == NXP_E_USAGE || rc == NXP_E_TOO_LARGE ? NXP_EXIT_USAGE : NXP_EXIT_INPUT;
		}
	}
	if (status) {
		batch_items_free(&l);
		return status;
	}
	run R = {.cmd = cmd, .l = &l};
	int ok = emit_init(&R.E, cmd, o, &l) == 0;

	struct sigaction sa = {0}, old_int, old_term, old_pipe;
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	stop_signal = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &old_pipe);

	if (!ok) {
		cli_error(NULL, "out of memory");
		R.E.status = NXP_EXIT_INPUT;
	} else {
		emit_begin(&R.E);
		run_items(&R, o);
	}
	status = emit_finish(&R.E, input_errors, (int)stop_signal);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	batch_items_free(&l);
	nxp_evset_free(batch_evidence);
	batch_evidence = NULL;
	return status;
}
