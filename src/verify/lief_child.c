/* SPDX-License-Identifier: Apache-2.0 */
/* The LIEF worker: the only translation unit that includes LIEF headers.
 *
 * LIEF/types.h defines `bool` as int for C, so nothing here may include
 * <stdbool.h> (directly or through another header): keep the includes to
 * libc headers and the nxpatch public headers, none of which pull it in.
 *
 * LIEF never runs in the caller's process. The first request starts a
 * worker, a child process that then serves requests one at a time until it
 * fails, is recycled, or nxp_lief_shutdown() ends it:
 *
 * - Channels. A SOCK_SEQPACKET socketpair carries requests (limits and a
 *   path) to the worker's fd 3 and fixed-size records back, one message
 *   each, so a short or oversized record is seen as such. The worker's
 *   stderr is a pipe the parent reads while it waits, so LIEF's noise and
 *   std::terminate's "terminate called after throwing an instance of ..."
 *   line become part of the error message. The worker writes to stderr only
 *   while it serves a request, and before its record, so once the record is
 *   in, whatever the pipe holds is that request's and is dropped; a failed
 *   worker is never reused, so a failure's text is its request's alone.
 *   stdin and stdout are /dev/null; every other descriptor is closed.
 * - Limits, per request, set by the worker on itself: soft RLIMIT_AS and
 *   RLIMIT_DATA of its size now (from /proc/self/statm, so it works under
 *   ASan) plus the request's budget, soft RLIMIT_CPU of the CPU time it has
 *   used plus the timeout, and alarm() as a backstop. Hard limits are left
 *   alone so the next request can raise the soft ones again. No core dumps.
 *   After a parse the worker calls pe_binary_destroy() and reports how much
 *   it has grown since it started.
 * - The parent keeps the deadline: it polls both channels until the record
 *   arrives; past the deadline it SIGKILLs and reaps the worker. Any failure
 *   (abort, signal, timeout, exhausted memory, short or garbled record) is
 *   NXP_E_LIEF for that request, the worker is reaped, and the next request
 *   starts a fresh one.
 * - Recycling: after NXP_LIEF_WORKER_MAX_REQUESTS requests, or when it has
 *   grown by more than NXP_LIEF_WORKER_MAX_GROWTH, the worker is ended and
 *   reaped, so heap fragmentation cannot grow without bound.
 * - Lifetime. The worker is created with clone() and no exit signal: it is
 *   a fork of the caller in every other way, but the caller's wait(),
 *   waitpid(-1) and SIGCHLD never see it (we reap it with __WALL), exactly
 *   as they never saw the short-lived child of earlier versions. It asks for
 *   SIGKILL when its parent dies (PR_SET_PDEATHSIG, then checks getppid()),
 *   and _exits on end of file on its socket.
 * - Fork safety. The state records the owning pid. A process forked after
 *   the worker started (batch workers) inherits descriptors to its parent's
 *   worker: when getpid() differs it closes them, without signalling or
 *   waiting for that worker, and starts its own.
 * - SIGPIPE. Requests go out with send(MSG_NOSIGNAL). A worker that died
 *   between requests (killed from outside) never saw the new one: the send
 *   fails with EPIPE, and the request is retried once on a fresh worker. A
 *   worker that dies once it has the request is that request's failure.
 *
 * The worker is fork()'s child without fork()'s glibc handlers (raw clone),
 * which is sound only in a single-threaded process: callers must be. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <LIEF/PE.h>
#include <LIEF/logging.h>

#include "nxpatch/crosscheck.h"

#ifdef bool
#error "lief_child.c: <stdbool.h> must not be included here (LIEF/types.h defines bool)"
#endif

#define WIRE_MAGIC 0x4e58504cu  /* "NXPL" */
#define REQ_MAGIC 0x4e585052u   /* "NXPR" */
#define ERR_KEEP 2048           /* bytes of the worker's stderr kept */
#define CHILD_EXIT_SETUP 121    /* the worker could not set itself up */
#define REQ_FD 3                /* the request/record socket, in the worker */
#define OOM_GRACE_MS 1000       /* after an out-of-memory report, then kill */

/* What the parent sends: limits and a path (only path_len bytes of it). */
struct lief_req {
	uint32_t magic;
	uint32_t timeout_ms;
	uint32_t delay_ms;
	uint32_t path_len;          /* without the NUL, < PATH_MAX */
	uint64_t memory;
	char path[PATH_MAX];
};
#define REQ_HEAD offsetof(struct lief_req, path)

/* What the worker sends back: a fixed-size record. */
struct lief_wire {
	uint32_t magic;
	int32_t open_errno;         /* non-zero: the file could not be opened */
	uint64_t growth;            /* the worker's growth since it started */
	nxp_lief_view view;
	uint32_t magic_end;
};

/* --------------------------------------------------------------- worker -- */

static void child_say(const char *s)
{
	ssize_t r = write(2, s, strlen(s));
	(void)r;
}

static void __attribute__((noreturn)) child_fail(const char *s)
{
	child_say(s);
	_exit(CHILD_EXIT_SETUP);
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
 * plus one), memory of the budget on top of what the worker has now. */
static void child_set_limits(const struct lief_req *req)
{
	uint32_t secs = req->timeout_ms / 1000 + (req->timeout_ms % 1000 ? 1 : 0);
	if (child_limit(RLIMIT_CPU, child_cpu_used(), (uint64_t)secs + 1) != 0)
		child_fail("nxpatch: cannot set RLIMIT_CPU\n");
	alarm(secs + 1); /* the parent's deadline comes first; this is a backstop */

	/* The budget is on top of what the worker already has (VmSize, and for
	 * RLIMIT_DATA its writable private memory). Not counted: what is left of
	 * a malloc arena reserved before the fork (PROT_NONE, up to 64 MiB) when
	 * the caller is not the main thread, since glibc grows into it with
	 * mprotect(), which neither limit checks. From the CLI's main thread
	 * (brk heap and fresh mmaps) the limit is exact. */
	vm_usage u;
	if (!child_vm(&u))
		child_fail("nxpatch: cannot read /proc/self/statm\n");
	if (child_limit(RLIMIT_AS, u.size, req->memory) != 0 ||
	    child_limit(RLIMIT_DATA, u.data, req->memory) != 0)
		child_fail("nxpatch: cannot set RLIMIT_AS/RLIMIT_DATA\n");
}

static void child_copy(const Pe_Binary_t *b, nxp_lief_view *v)
{
	memset(v, 0, sizeof(*v));
	v->pe_offset = b->dos_header.addressof_new_exeheader;

	const Pe_Header_t *h = &b->header;
	v->machine = (uint16_t)h->machine;
	v->nsections = h->numberof_sections;
	v->timestamp = h->time_date_stamp;
	v->symtab_offset = h->pointerto_symbol_table;
	v->nsymbols = h->numberof_symbols;
	v->opt_header_size = h->sizeof_optional_header;
	v->file_characteristics = h->characteristics;

	const Pe_OptionalHeader_t *o = &b->optional_header;
	v->magic = (uint16_t)o->magic;
	v->subsystem = (uint16_t)o->subsystem;
	v->size_of_code = o->sizeof_code;
	v->entry_rva = o->addressof_entrypoint;
	v->image_base = o->imagebase;
	v->section_alignment = o->section_alignment;
	v->file_alignment = o->file_alignment;
	v->size_of_image = o->sizeof_image;
	v->size_of_headers = o->sizeof_headers;
	v->checksum = o->checksum;
	v->dll_characteristics = o->dll_characteristics;
	v->stack_reserve = o->sizeof_stack_reserve;
	v->stack_commit = o->sizeof_stack_commit;
	v->heap_reserve = o->sizeof_heap_reserve;
	v->heap_commit = o->sizeof_heap_commit;
	v->ndirs = o->numberof_rva_and_size;

	uint32_t nd = 0;
	for (Pe_DataDirectory_t **d = b->data_directories; d && *d; d++, nd++) {
		if (nd < NXP_LIEF_NDIRS) {
			v->dirs[nd].rva = (*d)->rva;
			v->dirs[nd].size = (*d)->size;
		}
	}
	v->ndirs_seen = nd;

	/* Sections: only header fields (never `content`, see the LIEF notes). */
	uint32_t ns = 0;
	for (Pe_Section_t **s = b->sections; s && *s; s++, ns++) {
		if (ns >= NXP_MAX_SECTIONS)
			continue;
		nxp_lief_section *out = &v->sections[ns];
		if ((*s)->name)
			strncpy(out->name, (*s)->name, 8);
		out->virtual_size = (*s)->virtual_size;
		out->virtual_address = (*s)->virtual_address;
		out->raw_size = (*s)->size;
		out->raw_offset = (*s)->offset;
		out->characteristics = (*s)->characteristics;
	}
	v->nsections_seen = ns;
	v->nsections_copied = ns < NXP_MAX_SECTIONS ? ns : NXP_MAX_SECTIONS;
}

/* Move fd to a number >= 10 so the dup2()s below cannot clobber it. */
static int child_high_fd(int fd)
{
	int n = fcntl(fd, F_DUPFD, 10);
	return n;
}

static void child_close_from(int lowfd)
{
	if (close_range((unsigned)lowfd, ~0u, 0) == 0)
		return;
	long max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = lowfd; fd < max; fd++)
		close(fd);
}

/* Once per worker: descriptors (0,1 -> /dev/null, 2 -> the stderr pipe,
 * 3 -> the socket, nothing else), death with the owner, signals, no core
 * dumps, malloc and LIEF settings. */
static void child_setup(int sock, int err_w, pid_t owner)
{
	/* Die with the owner; if it is already gone, getppid() says so. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != owner)
		_exit(CHILD_EXIT_SETUP);

	int s = child_high_fd(sock);
	int errp = child_high_fd(err_w);
	int nul = open("/dev/null", O_RDWR);
	if (s < 0 || errp < 0 || nul < 0)
		_exit(CHILD_EXIT_SETUP);
	if (dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(errp, 2) < 0 || dup2(s, REQ_FD) < 0)
		_exit(CHILD_EXIT_SETUP);
	child_close_from(REQ_FD + 1);

	/* Default dispositions for the signals that end us, none blocked. */
	static const int sigs[] = { SIGABRT, SIGALRM, SIGXCPU, SIGSEGV, SIGBUS, SIGPIPE };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_CORE, &rl);

	/* Pin glibc's thresholds (they grow dynamically after large frees).
	 * Blocks under 4 MiB come from the heap, which keeps up to 16 MiB free
	 * between requests: a fresh mapping per block, faulted in and unmapped
	 * again by pe_binary_destroy(), was half the worker's time on small
	 * images. Larger blocks get their own mappings, returned at once. Heap
	 * growth counts against both limits as mappings do; what the heap keeps
	 * is part of the size the next budget is added to, and is bounded by
	 * NXP_LIEF_WORKER_MAX_GROWTH. */
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	mallopt(M_TRIM_THRESHOLD, 16 << 20);
	lief_logging_disable();
}

/* One request: limits, the test delay, the parse, the record. */
static void child_serve(const struct lief_req *req, const vm_usage *base)
{
	child_set_limits(req);
	if (req->delay_ms) {
		struct timespec ts = { req->delay_ms / 1000, (long)(req->delay_ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}

	static struct lief_wire w;
	memset(&w, 0, sizeof(w));
	w.magic = WIRE_MAGIC;
	w.magic_end = WIRE_MAGIC;

	/* LIEF throws (and so aborts) on a missing file: say so plainly. */
	int fd = open(req->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		w.open_errno = errno ? errno : EIO;
	} else {
		close(fd);
		Pe_Binary_t *b = pe_parse(req->path);
		if (!b)
			child_fail("nxpatch: pe_parse returned NULL\n");
		child_copy(b, &w.view);
		pe_binary_destroy(b);
	}
	alarm(0);
	w.growth = child_growth(base);
	if (send(REQ_FD, &w, sizeof(w), MSG_NOSIGNAL) != (ssize_t)sizeof(w))
		_exit(CHILD_EXIT_SETUP);
}

static int child_req_ok(struct lief_req *req, ssize_t n)
{
	if (n < (ssize_t)REQ_HEAD || n > (ssize_t)sizeof(*req) || req->magic != REQ_MAGIC ||
	    req->path_len >= PATH_MAX || (size_t)n != REQ_HEAD + req->path_len)
		return 0;
	req->path[req->path_len] = '\0';
	return 1;
}

static void __attribute__((noreturn)) child_main(int sock, int err_w, pid_t owner)
{
	child_setup(sock, err_w, owner);
	vm_usage base;
	if (!child_vm(&base))
		child_fail("nxpatch: cannot read /proc/self/statm\n");
	static struct lief_req req;
	for (;;) {
		ssize_t n;
		do
			n = recv(REQ_FD, &req, sizeof(req), MSG_TRUNC);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			_exit(0); /* the owner closed its end */
		if (n < 0)
			_exit(CHILD_EXIT_SETUP);
		if (!child_req_ok(&req, n))
			child_fail("nxpatch: garbled request\n");
		child_serve(&req, &base);
	}
}

/* --------------------------------------------------------------- parent -- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fmt_duration(char *buf, size_t len, uint32_t ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%u s", ms / 1000);
	else
		snprintf(buf, len, "%u ms", ms);
}

/* The worker's stderr during one request, last ERR_KEEP bytes. */
typedef struct errbuf {
	char text[ERR_KEEP + 1];
	size_t len;
} errbuf;

static void errbuf_add(errbuf *e, const char *p, size_t n)
{
	if (n >= ERR_KEEP) {
		p += n - ERR_KEEP;
		n = ERR_KEEP;
	}
	if (e->len + n > ERR_KEEP) {
		size_t drop = e->len + n - ERR_KEEP;
		memmove(e->text, e->text + drop, e->len - drop);
		e->len -= drop;
	}
	memcpy(e->text + e->len, p, n);
	e->len += n;
	e->text[e->len] = '\0';
}

/* Copy s[0..n) to out as printable ASCII on one line. */
static void printable(char *out, size_t outlen, const char *s, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; i < n && j + 1 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];
		out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
	}
	if (outlen)
		out[j] = '\0';
}

/* From "terminate called after throwing an instance of 'T'\n  what():  M",
 * produce "T: M"; else the last non-empty line of the worker's stderr. */
static void child_reason(const errbuf *e, char *out, size_t outlen)
{
	out[0] = '\0';
	static const char tag[] = "after throwing an instance of '";
	const char *t = strstr(e->text, tag);
	if (t) {
		t += sizeof(tag) - 1;
		const char *q = strchr(t, '\'');
		if (!q)
			q = t + strlen(t);
		char type[128], what[256] = "";
		printable(type, sizeof(type), t, (size_t)(q - t));
		const char *w = strstr(q, "what():");
		if (w) {
			w += 7;
			while (*w == ' ')
				w++;
			const char *nl = strchr(w, '\n');
			printable(what, sizeof(what), w, nl ? (size_t)(nl - w) : strlen(w));
		}
		if (what[0])
			snprintf(out, outlen, "%s: %s", type, what);
		else
			snprintf(out, outlen, "%s", type);
		return;
	}
	/* last non-empty line */
	size_t end = e->len;
	while (end > 0 && (e->text[end - 1] == '\n' || e->text[end - 1] == '\r' ||
	                   e->text[end - 1] == ' '))
		end--;
	size_t start = end;
	while (start > 0 && e->text[start - 1] != '\n')
		start--;
	if (end > start)
		printable(out, outlen, e->text + start, end - start);
}

/* Did the worker die for want of memory? (std::bad_alloc in a plain build;
 * the sanitizer allocator's own reports under ASan.) */
static int child_oom(const errbuf *e)
{
	static const char *const marks[] = {
		"std::bad_alloc", "out of memory", "allocation-size-too-big",
		"requested allocation size", "failed to allocate", "Cannot allocate memory",
		"ENOMEM", "rss-limit-exceeded",
	};
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strstr(e->text, marks[i]))
			return 1;
	return 0;
}

static uint64_t default_memory(const char *path)
{
	struct stat st;
	uint64_t m = NXP_LIEF_MIN_MEMORY;
	if (stat(path, &st) == 0 && st.st_size > 0) {
		uint64_t sz = (uint64_t)st.st_size;
		if (sz > NXP_LIEF_MAX_MEMORY / NXP_LIEF_MEMORY_PER_BYTE)
			return NXP_LIEF_MAX_MEMORY;
		if (sz * NXP_LIEF_MEMORY_PER_BYTE > m)
			m = sz * NXP_LIEF_MEMORY_PER_BYTE;
	}
	return m;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* waitpid() that retries on EINTR. __WALL: the worker sends no SIGCHLD. */
static pid_t wait_child(pid_t pid, int *status, int flags)
{
	pid_t r;
	do
		r = waitpid(pid, status, flags | __WALL);
	while (r < 0 && errno == EINTR);
	return r;
}

/* The worker, as its owner sees it. Descriptors are open iff pid != 0. */
static struct worker {
	pid_t pid;
	pid_t owner;                /* the process that started it */
	int sock;                   /* requests out, records in */
	int err;                    /* its stderr (non-blocking) */
	unsigned served;            /* requests it answered */
} wk = { 0, 0, -1, -1, 0 };

/* The request in flight between nxp_lief_begin() and nxp_lief_end(). */
static struct pending {
	int busy;
	uint64_t memory;
	uint32_t timeout_ms;
	int64_t deadline;
	char path[PATH_MAX];
} rq;

static unsigned max_requests = NXP_LIEF_WORKER_MAX_REQUESTS;

/* Forget the worker (closing our descriptors) and any request to it. */
static void worker_forget(void)
{
	close_fd(&wk.sock);
	close_fd(&wk.err);
	wk.pid = 0;
	wk.served = 0;
	rq.busy = 0;
}

/* A process forked since the worker started holds its parent's descriptors:
 * the worker is not ours to signal or wait for. */
static void worker_disown(void)
{
	if (wk.pid && wk.owner != getpid())
		worker_forget();
}

/* End our worker and reap it. SIGKILL: between requests it holds nothing,
 * during one the request is being abandoned. */
static void worker_stop(void)
{
	worker_disown();
	if (!wk.pid)
		return;
	kill(wk.pid, SIGKILL);
	wait_child(wk.pid, NULL, 0);
	worker_forget();
}

/* fork() without glibc's atfork handlers and with no exit signal: see the
 * header comment (raw clone: the caller must be single-threaded). */
static pid_t spawn(void)
{
	return (pid_t)syscall(SYS_clone, 0UL, NULL, NULL, NULL, 0UL);
}

static int worker_start(nxp_error *err)
{
	int sv[2], ep[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return nxp_fail(err, NXP_E_IO, "lief child: socketpair: %s", strerror(errno));
	if (pipe2(ep, O_CLOEXEC) != 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return nxp_fail(err, NXP_E_IO, "lief child: pipe: %s", strerror(e));
	}
	pid_t owner = getpid();
	fflush(NULL); /* so the worker cannot duplicate buffered output */
	pid_t pid = spawn();
	if (pid == 0)
		child_main(sv[1], ep[1], owner);
	int e = errno;
	close(sv[1]);
	close(ep[1]);
	if (pid < 0) {
		close(sv[0]);
		close(ep[0]);
		return nxp_fail(err, NXP_E_IO, "lief child: fork: %s", strerror(e));
	}
	fcntl(ep[0], F_SETFL, O_NONBLOCK); /* our end only: the worker's blocks */
	wk = (struct worker){ pid, owner, sv[0], ep[0], 0 };
	return NXP_OK;
}

/* send() errors that mean the worker was gone before the request. */
static int worker_gone(int e)
{
	return e == EPIPE || e == ECONNRESET || e == ECONNREFUSED || e == ENOTCONN;
}

/* Hand the request to the worker, starting one if needed. A worker that
 * died between requests never saw this one: retry once on a fresh one. */
static int send_request(const struct lief_req *r, size_t len, nxp_error *err)
{
	for (int attempt = 0;; attempt++) {
		if (!wk.pid) {
			int rc = worker_start(err);
			if (rc)
				return rc;
		}
		ssize_t n;
		do
			n = send(wk.sock, r, len, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n == (ssize_t)len)
			return NXP_OK;
		int e = n < 0 ? errno : EIO;
		worker_stop();
		if (attempt == 0 && worker_gone(e))
			continue;
		return nxp_fail(err, NXP_E_IO, "lief child: send: %s", strerror(e));
	}
}

int nxp_lief_begin(const char *path, const nxp_lief_limits *lim, nxp_error *err)
{
	if (!path || !*path)
		return nxp_fail(err, NXP_E_USAGE, "nxp_lief_begin: missing path");
	worker_disown();
	if (rq.busy)
		return nxp_fail(err, NXP_E_USAGE, "nxp_lief_begin: a request is already in flight");
	size_t len = strlen(path);
	if (len >= PATH_MAX)
		return nxp_fail(err, NXP_E_LIEF, "lief child cannot open %s: %s", path,
		                strerror(ENAMETOOLONG));

	static struct lief_req r;
	r.magic = REQ_MAGIC;
	r.timeout_ms = lim && lim->timeout_ms ? lim->timeout_ms : NXP_LIEF_DEFAULT_TIMEOUT_MS;
	r.delay_ms = lim ? lim->test_delay_ms : 0;
	r.memory = lim && lim->memory ? lim->memory : default_memory(path);
	r.path_len = (uint32_t)len;
	memcpy(r.path, path, len);
	int rc = send_request(&r, REQ_HEAD + len, err);
	if (rc)
		return rc;
	rq.busy = 1;
	rq.memory = r.memory;
	rq.timeout_ms = r.timeout_ms;
	rq.deadline = now_ms() + r.timeout_ms;
	memcpy(rq.path, path, len + 1);
	return NXP_OK;
}

/* What came of a request. */
typedef struct outcome {
	struct lief_wire w;
	ssize_t rec_len;            /* the record message's length, -1: none */
	int timed_out, oom_seen;
	errbuf eb;
} outcome;

/* Read what the worker wrote to stderr. Returns 0 at end of file or on an
 * error, 1 otherwise (including "nothing there now"). */
static int read_stderr(outcome *o)
{
	char tmp[1024];
	ssize_t r = read(wk.err, tmp, sizeof(tmp));
	if (r < 0)
		return errno == EINTR || errno == EAGAIN;
	if (r == 0)
		return 0;
	errbuf_add(&o->eb, tmp, (size_t)r);
	/* Under ASan an exhausted address space can make the sanitizer fail a
	 * CHECK and hang in its own error path: give it a moment to exit, then
	 * kill it. */
	if (!o->oom_seen && child_oom(&o->eb)) {
		o->oom_seen = 1;
		if (rq.deadline > now_ms() + OOM_GRACE_MS)
			rq.deadline = now_ms() + OOM_GRACE_MS;
	}
	return 1;
}

/* Drop what the worker wrote to stderr during a request that succeeded:
 * it is all in the pipe, since the worker wrote it before its record. */
static void drop_stderr(void)
{
	char tmp[4096];
	ssize_t r;
	while ((r = read(wk.err, tmp, sizeof(tmp))) > 0 || (r < 0 && errno == EINTR))
		;
}

/* Read the record message. Returns 0 at end of file, 1 otherwise. */
static int read_record(outcome *o)
{
	ssize_t n = recv(wk.sock, &o->w, sizeof(o->w), MSG_TRUNC | MSG_DONTWAIT);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n > 0)
		o->rec_len = n;
	return n > 0;
}

/* Wait for the record while reading the worker's stderr, until the record
 * arrives, the worker is gone (both channels at end of file), or the
 * deadline passes. A record already there is taken even past the deadline
 * (the caller may have been busy between begin and end). */
static void collect(outcome *o)
{
	int sock_open = 1, err_open = 1;
	while (o->rec_len < 0 && (sock_open || err_open)) {
		int64_t left = rq.deadline - now_ms();
		if (left < 0)
			left = 0;
		struct pollfd pf[2];
		nfds_t np = 0;
		int si = -1, ei = -1;
		if (sock_open) {
			si = (int)np;
			pf[np++] = (struct pollfd){ .fd = wk.sock, .events = POLLIN };
		}
		if (err_open) {
			ei = (int)np;
			pf[np++] = (struct pollfd){ .fd = wk.err, .events = POLLIN };
		}
		int pr = poll(pf, np, left > 1000000 ? 1000000 : (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0 || (pr == 0 && left == 0)) {
			o->timed_out = 1; /* the worker is killed and reaped */
			return;
		}
		if (ei >= 0 && pf[ei].revents)
			err_open = read_stderr(o);
		if (si >= 0 && pf[si].revents)
			sock_open = read_record(o);
	}
}

static void lim_text(char *buf, size_t len, uint64_t memory)
{
	if (memory % (1u << 20) == 0)
		snprintf(buf, len, "%llu MiB", (unsigned long long)(memory >> 20));
	else
		snprintf(buf, len, "%llu KiB", (unsigned long long)(memory >> 10));
}

/* The worker is gone or past its deadline: reap it (killing it at the
 * deadline) and say what happened. */
static int worker_failed(outcome *o, nxp_error *err)
{
	int status = 0, wait_errno = 0;
	pid_t wr = 0;
	while (!o->timed_out) {
		wr = wait_child(wk.pid, &status, WNOHANG);
		if (wr != 0)
			break;
		if (now_ms() >= rq.deadline)
			o->timed_out = 1;
		else
			nanosleep(&(struct timespec){ 0, 1000000L }, NULL);
	}
	if (o->timed_out) {
		kill(wk.pid, SIGKILL);
		wr = wait_child(wk.pid, &status, 0);
	}
	if (wr < 0)
		wait_errno = errno;
	worker_forget();

	char reason[400], dur[32], lim[32];
	child_reason(&o->eb, reason, sizeof(reason));
	const char *sep = reason[0] ? ": " : "";
	fmt_duration(dur, sizeof(dur), rq.timeout_ms);
	lim_text(lim, sizeof(lim), rq.memory);

	if (o->oom_seen || child_oom(&o->eb))
		o->oom_seen = 1;
	if (o->oom_seen && (o->timed_out || wr < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0))
		return nxp_fail(err, NXP_E_LIEF, "lief child ran out of memory (limit %s)", lim);
	if (o->timed_out)
		return nxp_fail(err, NXP_E_LIEF, "lief child timed out after %s", dur);
	if (wr < 0)
		return nxp_fail(err, NXP_E_LIEF, "lief child could not be reaped: %s",
		                strerror(wait_errno));
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		if (sig == SIGALRM || sig == SIGXCPU)
			return nxp_fail(err, NXP_E_LIEF, "lief child timed out after %s (signal %d)", dur,
			                sig);
		if (sig == SIGABRT)
			return nxp_fail(err, NXP_E_LIEF, "lief child aborted (signal 6)%s%s: malformed image?",
			                sep, reason);
		if (sig == SIGKILL)
			return nxp_fail(err, NXP_E_LIEF, "lief child was killed (signal 9)%s%s", sep, reason);
		return nxp_fail(err, NXP_E_LIEF, "lief child crashed (signal %d, %s)%s%s: malformed image?",
		                sig, strsignal(sig), sep, reason);
	}
	if (!WIFEXITED(status))
		return nxp_fail(err, NXP_E_LIEF, "lief child ended strangely (status 0x%x)", status);
	if (WEXITSTATUS(status) != 0)
		return nxp_fail(err, NXP_E_LIEF, "lief child exited with status %d%s%s",
		                WEXITSTATUS(status), sep, reason);
	return nxp_fail(err, NXP_E_LIEF, "lief child sent a short record (0 of %zu bytes)",
	                sizeof(o->w));
}

/* A record arrived: check it, drop the request's stderr, recycle the
 * worker when it is due, and answer. */
static int take_record(outcome *o, nxp_lief_view *out, nxp_error *err)
{
	const struct lief_wire *w = &o->w;
	if ((size_t)o->rec_len != sizeof(*w) || w->magic != WIRE_MAGIC ||
	    w->magic_end != WIRE_MAGIC) {
		worker_stop();
		return nxp_fail(err, NXP_E_LIEF, "lief child sent a short record (%zu of %zu bytes)",
		                (size_t)o->rec_len, sizeof(*w));
	}
	drop_stderr();
	int bad = w->view.nsections_copied > NXP_MAX_SECTIONS || w->view.ndirs_seen > 1000000;
	if (bad || ++wk.served >= max_requests || w->growth > NXP_LIEF_WORKER_MAX_GROWTH)
		worker_stop();
	if (w->open_errno)
		return nxp_fail(err, NXP_E_LIEF, "lief child cannot open %s: %s", rq.path,
		                strerror(w->open_errno));
	if (bad)
		return nxp_fail(err, NXP_E_LIEF, "lief child sent an inconsistent record");
	if (out)
		*out = w->view;
	return NXP_OK;
}

int nxp_lief_end(nxp_lief_view *out, nxp_error *err)
{
	if (out)
		memset(out, 0, sizeof(*out));
	worker_disown();
	if (!rq.busy)
		return nxp_fail(err, NXP_E_USAGE, "nxp_lief_end: no request in flight");
	rq.busy = 0;
	static outcome o;
	memset(&o, 0, sizeof(o));
	o.rec_len = -1;
	collect(&o);
	if (o.rec_len > 0)
		return take_record(&o, out, err);
	return worker_failed(&o, err);
}

int nxp_lief_read(const char *path, nxp_lief_view *out, const nxp_lief_limits *lim,
                  nxp_error *err)
{
	if (!path || !*path || !out)
		return nxp_fail(err, NXP_E_USAGE, "nxp_lief_read: missing path or output");
	memset(out, 0, sizeof(*out));
	int rc = nxp_lief_begin(path, lim, err);
	return rc ? rc : nxp_lief_end(out, err);
}

void nxp_lief_shutdown(void)
{
	worker_stop();
	rq.busy = 0;
}

pid_t nxp_lief_worker_pid(void)
{
	worker_disown();
	return wk.pid;
}

void nxp_lief_test_set_max_requests(unsigned n)
{
	max_requests = n ? n : NXP_LIEF_WORKER_MAX_REQUESTS;
}
