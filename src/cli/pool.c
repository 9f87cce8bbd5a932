/* SPDX-License-Identifier: Apache-2.0 */
/* The process pool (pool.h). A worker reads item indexes from a pipe, one a
 * line, and answers each with "INDEX LEN\n" and LEN bytes, or "INDEX -\n"
 * for an index declined because the run is stopping. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/pool.h"

/* Indexes queued to a worker at most: those it holds started and the next. */
#define MAX_DEPTH (CLI_POOL_HALVES + 1)

/* The items a worker holds started: p->hold, within 1..CLI_POOL_HALVES. */
static size_t hold_of(const cli_pool *p)
{
	return p->hold < 1 ? 1 : p->hold > CLI_POOL_HALVES ? CLI_POOL_HALVES : p->hold;
}

/* Set by the parent when the run stops (a shared page): a worker starts no
 * item after it and declines the ones queued to it. */
static volatile sig_atomic_t *shared_stop;

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

/* The worker's end of its command pipe: one index a line. */
typedef struct lines {
	int fd;
	int end;
	size_t len;
	char buf[128];
} lines;

/* The next index: 1, 0 when none is there yet (block 0), -1 at the end. */
static int next_index_line(lines *L, int block, size_t *i)
{
	for (;;) {
		char *nl = memchr(L->buf, '\n', L->len);
		if (nl) {
			*nl = '\0';
			*i = strtoul(L->buf, NULL, 10);
			L->len -= (size_t)(nl + 1 - L->buf);
			memmove(L->buf, nl + 1, L->len);
			return 1;
		}
		if (L->end || L->len == sizeof(L->buf))
			return -1;
		struct pollfd p = {.fd = L->fd, .events = POLLIN};
		if (!block && poll(&p, 1, 0) == 0)
			return 0;
		ssize_t r = read(L->fd, L->buf + L->len, sizeof(L->buf) - L->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			L->end = 1;
		else
			L->len += (size_t)r;
	}
}

static int answer(int res_fd, size_t i, char *ans, size_t len)
{
	char head[64];
	int bad = !ans;
	if (ans) {
		int n = snprintf(head, sizeof(head), "%zu %zu\n", i, len);
		bad = write_all(res_fd, head, (size_t)n) || write_all(res_fd, ans, len);
	}
	free(ans);
	return bad;
}

/* The items a worker has started and not finished, oldest first. */
typedef struct started {
	void *tok[CLI_POOL_HALVES];
	size_t at[CLI_POOL_HALVES], n;
} started;

static int finish_oldest(const cli_pool *P, started *S, int res_fd)
{
	size_t len = 0;
	char *ans = P->finish(P->ctx, S->tok[0], &len);
	int bad = answer(res_fd, S->at[0], ans, len);
	S->n--;
	memmove(S->tok, S->tok + 1, S->n * sizeof(S->tok[0]));
	memmove(S->at, S->at + 1, S->n * sizeof(S->at[0]));
	return bad;
}

/* A worker. Signals that stop the run are the parent's business: the
 * worker finishes the items it holds and leaves when the parent closes its
 * pipe. With items in two halves it starts the next queued item before it
 * finishes the one before, and never waits for an index while it holds a
 * started one. */
static void worker(const cli_pool *P, int cmd_fd, int res_fd)
{
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	lines L = {.fd = cmd_fd};
	started S = {.n = 0};
	size_t hold = hold_of(P);
	for (;;) {
		size_t i = 0;
		int got = S.n < hold ? next_index_line(&L, S.n == 0, &i) : 0;
		if (got == 1 && i >= P->n) {
			L.end = 1; /* nonsense: treated as the end */
			L.len = 0;
			got = -1;
		}
		int bad = 0;
		if (got == 1 && shared_stop && *shared_stop) {
			/* Declined: after the answers of those before it. */
			while (!bad && S.n)
				bad = finish_oldest(P, &S, res_fd);
			char head[64];
			int n = snprintf(head, sizeof(head), "%zu -\n", i);
			bad = bad || write_all(res_fd, head, (size_t)n);
		} else if (got == 1) {
			void *tok = P->start(P->ctx, i);
			if (tok) {
				S.tok[S.n] = tok;
				S.at[S.n++] = i;
			}
			bad = !tok;
		} else if (S.n) {
			/* Full, nothing queued yet, or the end: the oldest now. */
			bad = finish_oldest(P, &S, res_fd);
		} else {
			break;
		}
		if (bad)
			break;
	}
	if (P->worker_exit)
		P->worker_exit(P->ctx);
	_exit(0);
}

typedef struct wk {
	pid_t pid;
	int cmd, res;
	size_t q[MAX_DEPTH];    /* indexes sent, oldest first (the one in progress) */
	size_t nq;
	char *buf;
	size_t len, cap;
} wk;

typedef struct pool {
	const cli_pool *p;
	size_t depth;           /* indexes queued to a worker at once */
	wk *W;
	size_t started;
	size_t dispatched;
	size_t *retry;          /* handed to a worker that died before starting them */
	size_t nretry;
} pool;

static int next_index(pool *P, size_t *i)
{
	if (*P->p->stop)
		return 0;
	if (P->nretry) {
		*i = P->retry[--P->nretry];
		return 1;
	}
	if (P->dispatched < P->p->n) {
		*i = P->dispatched++;
		return 1;
	}
	return 0;
}

static void close_cmd(wk *w)
{
	if (w->cmd >= 0)
		close(w->cmd);
	w->cmd = -1;
}

/* Keep the worker's queue full. When there is nothing left to send, its
 * command pipe is closed once its queue is empty: it leaves. */
static void fill(pool *P, wk *w)
{
	size_t i;
	while (w->cmd >= 0 && w->nq < P->depth && next_index(P, &i)) {
		char line[32];
		int n = snprintf(line, sizeof(line), "%zu\n", i);
		if (write_all(w->cmd, line, (size_t)n)) {
			/* The worker is gone: this index goes to another. */
			P->retry[P->nretry++] = i;
			close_cmd(w);
			return;
		}
		w->q[w->nq++] = i;
	}
	if (w->nq == 0)
		close_cmd(w);
}

static size_t pop(wk *w)
{
	size_t i = w->q[0];
	memmove(w->q, w->q + 1, (w->nq - 1) * sizeof(w->q[0]));
	w->nq--;
	return i;
}

/* The ones queued behind a failed item were never started. */
static void requeue(pool *P, wk *w)
{
	while (w->nq)
		P->retry[P->nretry++] = pop(w);
}

static void deliver(pool *P, size_t i, const char *p, size_t len)
{
	char *b = malloc(len + 1);
	if (b) {
		memcpy(b, p, len);
		b[len] = '\0';
	}
	P->p->done(P->p->ctx, i, b, b ? len : 0, NULL);
}

/* Parse the complete answers in w's buffer. */
static void take_answers(pool *P, wk *w)
{
	size_t off = 0;
	for (;;) {
		char *start = w->buf + off, *nl = memchr(start, '\n', w->len - off);
		if (!nl)
			break;
		size_t i = 0, len = 0;
		int used = 0;
		*nl = '\0';
		int declined = sscanf(start, "%zu -%n", &i, &used) == 1 && used == nl - start;
		int ok = declined || sscanf(start, "%zu %zu", &i, &len) == 2;
		*nl = '\n';
		size_t need = (size_t)(nl + 1 - start) + (declined ? 0 : len);
		if (ok && !declined && w->len - off < need)
			break; /* the payload is still coming */
		if (!w->nq)
			break; /* nothing asked: ignore what a broken worker says */
		size_t want = pop(w);
		if (!ok || i != want) {
			/* Nothing more from it can be trusted. */
			P->p->done(P->p->ctx, want, NULL, 0, "worker sent a malformed report");
			off = w->len;
			close_cmd(w);
			requeue(P, w);
			break;
		}
		off += need;
		if (!declined)
			deliver(P, i, nl + 1, len);
		fill(P, w);
	}
	w->len -= off;
	memmove(w->buf, w->buf + off, w->len);
}

/* End of file from a worker: it left, or died holding an item. */
static void reap(pool *P, wk *w)
{
	close(w->res);
	w->res = -1;
	close_cmd(w);
	int st = 0;
	waitpid(w->pid, &st, 0);
	w->pid = -1;
	if (w->nq) {
		char msg[128];
		if (WIFSIGNALED(st))
			snprintf(msg, sizeof(msg), "the worker process died (signal %d)", WTERMSIG(st));
		else
			snprintf(msg, sizeof(msg), "the worker process died (exit %d)",
			         WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		/* What it may have started fails; the rest was never begun. */
		for (size_t k = hold_of(P->p); k && w->nq; k--) {
			size_t i = pop(w);
			P->p->done(P->p->ctx, i, NULL, 0, msg);
		}
		requeue(P, w);
	}
	/* Hand what it left to the workers still running. */
	for (size_t k = 0; k < P->started; k++)
		if (P->W[k].res >= 0)
			fill(P, &P->W[k]);
}

/* Read what is there from w: 0, or -1 at its end of file. */
static int read_worker(pool *P, wk *w)
{
	if (w->cap - w->len < 65536) {
		size_t cap = w->cap ? w->cap * 2 : 131072;
		char *nb = realloc(w->buf, cap);
		if (!nb)
			return 0;
		w->buf = nb;
		w->cap = cap;
	}
	ssize_t r = read(w->res, w->buf + w->len, w->cap - w->len - 1);
	if (r < 0 && errno == EINTR)
		return 0;
	if (r > 0) {
		w->len += (size_t)r;
		take_answers(P, w);
		return 0;
	}
	return -1;
}

static void start_workers(pool *P)
{
	const cli_pool *p = P->p;
	fflush(NULL);
	for (size_t k = 0; k < p->workers; k++) {
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
				if (P->W[j].cmd >= 0)
					close(P->W[j].cmd);
				close(P->W[j].res);
			}
			close(cp[1]);
			close(rp[0]);
			worker(p, cp[0], rp[1]);
		}
		close(cp[0]);
		close(rp[1]);
		P->W[k] = (wk){.pid = pid, .cmd = cp[1], .res = rp[0]};
		P->started++;
	}
}

static void event_loop(pool *P, struct pollfd *pf, size_t *map)
{
	for (;;) {
		if (*P->p->stop)
			*shared_stop = 1;
		size_t np = 0;
		for (size_t k = 0; k < P->started; k++) {
			if (P->W[k].res < 0)
				continue;
			/* Stopping: idle workers get their end of file now. */
			if (*P->p->stop && P->W[k].nq == 0)
				close_cmd(&P->W[k]);
			pf[np] = (struct pollfd){.fd = P->W[k].res, .events = POLLIN};
			map[np++] = k;
		}
		if (!np)
			break;
		int pr = poll(pf, np, P->p->tick_ms);
		if (pr < 0 && errno != EINTR)
			break;
		if (P->p->tick)
			P->p->tick(P->p->ctx);
		for (size_t q = 0; pr > 0 && q < np; q++)
			if ((pf[q].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    read_worker(P, &P->W[map[q]]))
				reap(P, &P->W[map[q]]);
	}
}

int cli_pool_run(const cli_pool *p)
{
	pool P = {.p = p, .depth = hold_of(p) + 1};
	int rc = 0;
	P.W = calloc(p->workers, sizeof(*P.W));
	P.retry = calloc(p->workers * MAX_DEPTH + 1, sizeof(*P.retry));
	struct pollfd *pf = calloc(p->workers, sizeof(*pf));
	size_t *map = calloc(p->workers, sizeof(*map));
	void *page = mmap(NULL, sizeof(*shared_stop), PROT_READ | PROT_WRITE,
	                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!P.W || !P.retry || !pf || !map || page == MAP_FAILED) {
		rc = -1;
		goto done;
	}
	shared_stop = page;
	*shared_stop = 0;
	start_workers(&P);
	if (!P.started) {
		rc = -2;
		goto done;
	}
	for (size_t k = 0; k < P.started; k++)
		fill(&P, &P.W[k]);
	event_loop(&P, pf, map);
	for (size_t k = 0; k < P.started; k++) {
		if (P.W[k].pid > 0)
			waitpid(P.W[k].pid, NULL, 0);
		free(P.W[k].buf);
	}
done:;
	int e = errno;
	if (page != MAP_FAILED)
		munmap(page, sizeof(*shared_stop));
	shared_stop = NULL;
	free(pf);
	free(map);
	free(P.W);
	free(P.retry);
	errno = e;
	return rc;
}
