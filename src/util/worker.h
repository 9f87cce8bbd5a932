/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: a limited worker process, separate executable, one request at a
 * time. Nothing here knows what the worker does: src/crosscheck/lief.c is the
 * LIEF client of it, src/lief/lief_worker.c the LIEF worker program.
 *
 * Parent side (worker.c): nxpi_worker_begin() starts the worker if none runs
 * (posix_spawn of its executable: a fresh address space that holds nothing
 * of the caller's, safe in a multithreaded caller), sends one request and
 * returns; nxpi_worker_end() waits for the reply under the request's
 * deadline. Any failure of the worker (abort, signal, timeout, exhausted
 * memory, short or garbled reply) is NXP_E_LIEF for that request with a
 * message naming it, the worker is reaped, and the next request starts a
 * fresh one.
 *
 * - Channels: a SOCK_SEQPACKET socketpair on the worker's fd 3 (one message
 *   per request and per reply, so short or oversized ones are seen as
 *   such); its stderr is a pipe the parent reads while it waits, so what the
 *   worker says when it dies (std::terminate's "terminate called after
 *   throwing an instance of ...") is part of the message. stdin and stdout
 *   are /dev/null, every other descriptor is closed, the environment holds
 *   only the few variables listed in worker.c (never a passphrase).
 * - Limits, per request, set by the worker on itself (worker_child.c): soft
 *   RLIMIT_AS and RLIMIT_DATA of its size now plus the request's budget,
 *   soft RLIMIT_CPU of its CPU time so far plus the timeout, alarm() as a
 *   backstop, no core dumps. The parent keeps the deadline and SIGKILLs a
 *   worker past it.
 * - Recycling: after max_requests requests, or once the worker reports it
 *   has grown by more than max_growth, it is ended and reaped.
 * - Lifetime: the worker asks for SIGKILL when its parent dies
 *   (PR_SET_PDEATHSIG, then checks getppid() against the owner pid it was
 *   given), and exits at end of file on its socket. Linux sends the death
 *   signal when the *thread* that spawned it ends: a thread that ends after
 *   starting a worker leaves the next request a dead worker, which it
 *   replaces (a send to a gone worker is retried once on a fresh one).
 * - Fork safety: the state records the owning pid. A process forked while a
 *   worker runs (batch workers) closes the inherited descriptors without
 *   signalling or waiting for its parent's worker, and starts its own.
 * - Reaping: the worker is an ordinary child (posix_spawn cannot create one
 *   without an exit signal), so a caller's wait()/waitpid(-1) could reap it
 *   and a SIGCHLD handler sees it end. nxpatch itself only ever waits for
 *   the pids it started. The supervisor signals and waits through a pidfd,
 *   so a worker reaped by someone else is seen as such (ECHILD) and its pid,
 *   perhaps reused, is never signalled; the request in flight then fails
 *   with a message saying so, and the next one starts a fresh worker.
 *
 * Calls on one nxpi_worker must come from one thread at a time (the state is
 * not locked); other threads of the process may do anything meanwhile. */
#ifndef NXP_UTIL_WORKER_H
#define NXP_UTIL_WORKER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nxpatch/error.h"

/* ------------------------------------------------------------ the wire -- */

#define NXPI_WORKER_REQ_MAGIC 0x4e585052u   /* "NXPR" */
#define NXPI_WORKER_REP_MAGIC 0x4e58504cu   /* "NXPL" */
#define NXPI_WORKER_FD 3                    /* the socket, in the worker */
#define NXPI_WORKER_EXIT_SETUP 121          /* the worker could not set itself up */
#define NXPI_WORKER_MAX_PAYLOAD (PATH_MAX + 64) /* request payload bound */

/* A request: this header, then `len` payload bytes. */
typedef struct nxpi_worker_req {
	uint32_t magic;
	uint32_t timeout_ms;
	uint32_t delay_ms;          /* TEST ONLY: the worker sleeps first */
	uint32_t len;
	uint64_t memory;            /* address space the request may add */
} nxpi_worker_req;

/* A reply: this header, then the payload (its length is the client's
 * business: the parent checks it is exactly what the client expects). */
typedef struct nxpi_worker_rep {
	uint32_t magic;
	uint32_t len;
	uint64_t growth;            /* the worker's growth since it started */
} nxpi_worker_rep;

/* ----------------------------------------------------- worker program -- */

/* Serve one request: `req` holds `len` bytes (NUL-terminated one past
 * them); write the reply payload into `rep` (at most `cap` bytes) and
 * return its length. May write to stderr; may die (that is the request's
 * failure). */
typedef size_t (*nxpi_worker_serve_fn)(const char *req, size_t len, void *rep, size_t cap);

/* The worker's main loop: set up (descriptors, death with the owner named
 * by argv[1], signals, no core dumps), then serve requests until end of
 * file on the socket. Never returns. `init` runs once after setup. */
void nxpi_worker_child_main(int argc, char **argv, void (*init)(void),
                           nxpi_worker_serve_fn serve, size_t rep_cap)
	__attribute__((noreturn));

/* -------------------------------------------------------- parent side -- */

typedef struct nxpi_worker {
	/* configuration, set once */
	const char *name;           /* message prefix: "lief child" */
	const char *program;        /* executable file name: "nxpatch-lief-worker" */
	const char *env_override;   /* variable naming the executable: "NXP_LIEF_WORKER" */
	unsigned max_requests;
	uint64_t max_growth;

	/* state */
	pid_t pid;                  /* 0: none runs; descriptors open iff pid */
	pid_t owner;                /* the process that started it */
	int pidfd;                  /* waits and signals go through it */
	int sock, err;
	unsigned served;
	int busy;                   /* a request is in flight */
	uint32_t timeout_ms;
	uint64_t memory;
	int64_t deadline;
} nxpi_worker;

#define NXPI_WORKER_INIT(name_, program_, env_, max_req_, max_growth_) \
	{ (name_), (program_), (env_), (max_req_), (max_growth_), 0, 0, -1, -1, -1, 0, 0, 0, 0, 0 }

/* Send a request (starting the worker if needed). On NXP_OK it is in
 * flight and nxpi_worker_end() must collect it. Errors: NXP_E_USAGE (one
 * already in flight, payload too long), NXP_E_LIEF (the worker program
 * cannot be found or started), NXP_E_IO (socket, pipe, send). */
int nxpi_worker_begin(nxpi_worker *w, uint32_t timeout_ms, uint32_t delay_ms, uint64_t memory,
                     const void *payload, size_t len, nxp_error *err);

/* Wait for the reply and copy its payload to `rep`, which must be exactly
 * `rep_len` bytes long. NXP_OK, or NXP_E_LIEF naming what happened to the
 * worker, or NXP_E_USAGE when nothing is in flight. */
int nxpi_worker_end(nxpi_worker *w, void *rep, size_t rep_len, nxp_error *err);

/* End the worker (if this process started it) and reap it; inherited
 * descriptors are only closed. */
void nxpi_worker_stop(nxpi_worker *w);

/* This process's worker's pid, 0 when none runs. */
pid_t nxpi_worker_pid(nxpi_worker *w);

/* Where the executable `program` is: $env_override when set (it must be
 * executable: no fallback), else next to /proc/self/exe (the build tree),
 * else NXP_LIBEXECDIR (the install). Fills out (PATH_MAX bytes). NXP_OK or
 * NXP_E_LIEF saying what was tried. */
int nxpi_worker_find(const char *program, const char *env_override, char *out, size_t outlen,
                    nxp_error *err);

#endif
