/* SPDX-License-Identifier: Apache-2.0 */
/* A process pool: items 0..n-1 run in K forked worker processes. The pool
 * knows nothing of what an item is: a worker turns item i into answer
 * bytes in two halves (start, then finish), the parent gets each answer
 * back as it arrives (done), in whatever order the workers finish. A
 * worker holds `hold` items started (1, or CLI_POOL_HALVES: it starts the
 * next queued item before it finishes the one before) and one more queued,
 * so it never waits between two. A worker that dies fails the items it may
 * have started; the ones queued behind them go to the others. A stop (a
 * signal handler sets *stop) starts nothing more: the workers finish the
 * items they hold and decline the rest. */
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
	/* In a worker: item i started, as a token (NULL: out of memory, the
	 * worker leaves), and the token turned into item i's answer (malloc'd;
	 * the pool frees it; NULL: out of memory, the worker leaves). Items
	 * are finished in the order they were started. */
	void *(*start)(void *ctx, size_t i);
	char *(*finish)(void *ctx, void *token, size_t *len);
	size_t hold;            /* items a worker holds started: 1 to CLI_POOL_HALVES */
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
