/* SPDX-License-Identifier: Apache-2.0 */
/* A process pool: items 0..n-1 run in K forked worker processes, each
 * holding two at once (the one it works on and the next, so it never
 * waits between two; three when each item has two halves, see start). The pool knows nothing of what an item is: a worker
 * turns item i into answer bytes (work), the parent gets each answer back
 * as it arrives (done), in whatever order the workers finish. A worker that
 * dies fails the item it held; the ones queued behind it go to the others.
 * A stop (a signal handler sets *stop) starts nothing more: the workers
 * finish the item they hold and decline the rest. */
#ifndef NXP_CLI_POOL_H
#define NXP_CLI_POOL_H

#include <signal.h>
#include <stddef.h>

/* Items one process holds between the two halves of their work. */
#define CLI_POOL_HALVES 2

typedef struct cli_pool {
	size_t n;               /* items */
	size_t workers;         /* processes to start (at least 1) */
	int tick_ms;            /* call tick at least this often while waiting; -1: never */
	const volatile sig_atomic_t *stop;
	void *ctx;
	/* In a worker: item i's answer (malloc'd; the pool frees it), or NULL
	 * when it has none (out of memory: the worker leaves). */
	char *(*work)(void *ctx, size_t i, size_t *len);
	/* Or, instead of work, item i in two halves: start returns a token (NULL:
	 * out of memory, the worker leaves) that finish turns into the answer.
	 * A worker then starts the next item, when one is already queued to
	 * it, before it finishes this one, and finishes them in order: it
	 * holds CLI_POOL_HALVES started, and one more queued; when it dies, the
	 * ones it may have started fail. */
	void *(*start)(void *ctx, size_t i);
	char *(*finish)(void *ctx, void *token, size_t *len);
	/* In the parent: item i's answer (the callee owns buf), or buf NULL and
	 * failure saying why it has none (failure NULL: out of memory). */
	void (*done)(void *ctx, size_t i, char *buf, size_t len, const char *failure);
	void (*tick)(void *ctx);        /* or NULL */
	void (*worker_exit)(void *ctx); /* in a worker, before it leaves; or NULL */
} cli_pool;

/* Run every item not declined. Returns 0, -1 when out of memory, or -2 when
 * no worker process could start (errno says why). Nothing ran after -1/-2. */
int cli_pool_run(const cli_pool *p);

#endif
