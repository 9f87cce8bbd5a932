/* SPDX-License-Identifier: Apache-2.0 */
/* The worker side of a limited worker (see worker.h): setup, per-request
 * limits, the request loop. Linked into worker programs only. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/worker.h"

static void child_say(const char *s)
{
	ssize_t r = write(2, s, strlen(s));
	(void)r;
}

static void __attribute__((noreturn)) child_fail(const char *s)
{
	child_say(s);
	_exit(NXPI_WORKER_EXIT_SETUP);
}

typedef struct vm_usage {
	uint64_t size;              /* VmSize */
	uint64_t resident;          /* VmRSS */
	uint64_t data;              /* VmData plus stack */
} vm_usage;

/* The worker's current sizes from /proc/self/statm, in bytes. Returns 0 on
 * failure. */
static int child_vm(vm_usage *u)
{
	char buf[256];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t r;
	do
		r = read(fd, buf, sizeof(buf) - 1);
	while (r < 0 && errno == EINTR);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	/* size resident shared text lib data dt */
	unsigned long long f[6];
	char *p = buf;
	for (int i = 0; i < 6; i++) {
		char *end;
		f[i] = strtoull(p, &end, 10);
		if (end == p)
			return 0;
		p = end;
	}
	long ps = sysconf(_SC_PAGESIZE);
	uint64_t page = (uint64_t)(ps > 0 ? ps : 4096);
	u->size = (uint64_t)f[0] * page;
	u->resident = (uint64_t)f[1] * page;
	u->data = (uint64_t)f[5] * page;
	return u->size > 0;
}

/* How much the worker has grown since `base`: the larger of its resident
 * and its virtual growth. */
static uint64_t child_growth(const vm_usage *base)
{
	vm_usage now;
	if (!child_vm(&now))
		return UINT64_MAX;
	uint64_t rss = now.resident > base->resident ? now.resident - base->resident : 0;
	uint64_t vm = now.size > base->size ? now.size - base->size : 0;
	return rss > vm ? rss : vm;
}

/* Set the soft limit of `res` to `base + budget` (saturating, and at most
 * the hard limit, which stays as it is so a later request can raise the
 * soft one again). */
static int child_limit(int res, uint64_t base, uint64_t budget)
{
	uint64_t v = base + budget;
	if (v < base || v > (uint64_t)RLIM_INFINITY - 1)
		v = (uint64_t)RLIM_INFINITY - 1;
	struct rlimit rl;
	if (getrlimit(res, &rl) != 0)
		return -1;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && (rlim_t)v > rl.rlim_max ? rl.rlim_max
	                                                                        : (rlim_t)v;
	return setrlimit(res, &rl);
}

/* CPU seconds used so far, rounded up. */
static uint64_t child_cpu_used(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	uint64_t us = (uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec;
	return (uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec + (us + 999999) / 1000000;
}

/* This request's limits: CPU time and a timer of the timeout (whole seconds,
 * plus one), memory of the budget on top of what the worker has now (its
 * VmSize, and for RLIMIT_DATA its writable private memory; measured from
 * /proc/self/statm, so it also holds under ASan). */
static void child_set_limits(const nxpi_worker_req *req)
{
	uint32_t secs = req->timeout_ms / 1000 + (req->timeout_ms % 1000 ? 1 : 0);
	if (child_limit(RLIMIT_CPU, child_cpu_used(), (uint64_t)secs + 1) != 0)
		child_fail("nxpatch worker: cannot set RLIMIT_CPU\n");
	alarm(secs + 1); /* the parent's deadline comes first; this is a backstop */
	vm_usage u;
	if (!child_vm(&u))
		child_fail("nxpatch worker: cannot read /proc/self/statm\n");
	if (child_limit(RLIMIT_AS, u.size, req->memory) != 0 ||
	    child_limit(RLIMIT_DATA, u.data, req->memory) != 0)
		child_fail("nxpatch worker: cannot set RLIMIT_AS/RLIMIT_DATA\n");
}

/* Once per worker. posix_spawn gave us 0,1 = /dev/null, 2 = the stderr
 * pipe, 3 = the socket; the rest is made sure of here: death with the
 * owner, nothing else open, default signals, no core dumps, malloc. */
static void child_setup(int argc, char **argv)
{
	char *end = NULL;
	long owner = argc == 2 ? strtol(argv[1], &end, 10) : 0;
	int type = 0;
	socklen_t tl = sizeof(type);
	if (owner <= 0 || !end || *end ||
	    getsockopt(NXPI_WORKER_FD, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 ||
	    type != SOCK_SEQPACKET)
		child_fail("this program is started by nxpatch for its cross-check; it is not "
		           "meant to be run by hand\n");
	/* Die with the owner; if it is already gone, getppid() says so. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != (pid_t)owner)
		_exit(NXPI_WORKER_EXIT_SETUP);
	if (close_range(NXPI_WORKER_FD + 1, ~0u, 0) != 0) {
		for (int fd = NXPI_WORKER_FD + 1; fd < 1024; fd++)
			close(fd);
	}
	static const int sigs[] = { SIGABRT, SIGALRM, SIGXCPU, SIGSEGV, SIGBUS, SIGPIPE };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	/* A ^C or ^\ for the caller's group is the caller's to handle (it
	 * finishes the request in flight); one already pending from the spawn
	 * window is discarded when ignored. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_CORE, &rl);

	/* Pin glibc's thresholds (they grow dynamically after large frees).
	 * Blocks under 4 MiB come from the heap, which keeps up to 16 MiB free
	 * between requests: a fresh mapping per block, faulted in and unmapped
	 * again after every request, was half the worker's time on small
	 * images. Larger blocks get their own mappings, returned at once. Heap
	 * growth counts against both limits as mappings do; what the heap keeps
	 * is part of the size the next budget is added to, and is bounded by
	 * the parent's max_growth. */
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	mallopt(M_TRIM_THRESHOLD, 16 << 20);
}

static int child_req_ok(const nxpi_worker_req *h, ssize_t n)
{
	return n >= (ssize_t)sizeof(*h) && h->magic == NXPI_WORKER_REQ_MAGIC &&
	       h->len <= NXPI_WORKER_MAX_PAYLOAD && (size_t)n == sizeof(*h) + h->len;
}

void nxpi_worker_child_main(int argc, char **argv, void (*init)(void),
                           nxpi_worker_serve_fn serve, size_t rep_cap)
{
	child_setup(argc, argv);
	if (init)
		init();
	/* One buffer for the request and one for the reply, allocated before
	 * the base size is taken. */
	static char in[sizeof(nxpi_worker_req) + NXPI_WORKER_MAX_PAYLOAD + 1];
	char *out = malloc(sizeof(nxpi_worker_rep) + rep_cap);
	if (!out)
		child_fail("nxpatch worker: out of memory\n");
	vm_usage base;
	if (!child_vm(&base))
		child_fail("nxpatch worker: cannot read /proc/self/statm\n");
	for (;;) {
		ssize_t n;
		do
			n = recv(NXPI_WORKER_FD, in, sizeof(in) - 1, MSG_TRUNC);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			_exit(0); /* the owner closed its end */
		if (n < 0)
			_exit(NXPI_WORKER_EXIT_SETUP);
		nxpi_worker_req h;
		if ((size_t)n >= sizeof(h))
			memcpy(&h, in, sizeof(h));
		if ((size_t)n < sizeof(h) || (size_t)n >= sizeof(in) || !child_req_ok(&h, n))
			child_fail("nxpatch worker: garbled request\n");
		in[n] = '\0';

		child_set_limits(&h);
		if (h.delay_ms) {
			struct timespec ts = { h.delay_ms / 1000, (long)(h.delay_ms % 1000) * 1000000L };
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		}
		size_t len = serve(in + sizeof(h), h.len, out + sizeof(nxpi_worker_rep), rep_cap);
		alarm(0);
		if (len > rep_cap)
			child_fail("nxpatch worker: reply too long\n");
		nxpi_worker_rep rep = { NXPI_WORKER_REP_MAGIC, (uint32_t)len, child_growth(&base) };
		memcpy(out, &rep, sizeof(rep));
		size_t total = sizeof(rep) + len;
		if (send(NXPI_WORKER_FD, out, total, MSG_NOSIGNAL) != (ssize_t)total)
			_exit(NXPI_WORKER_EXIT_SETUP);
	}
}
