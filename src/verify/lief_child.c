/* The LIEF child: the only translation unit that includes LIEF headers.
 *
 * LIEF/types.h defines `bool` as int for C, so nothing here may include
 * <stdbool.h> (directly or through another header): keep the includes to
 * libc headers and the nxpatch public headers, none of which pull it in.
 *
 * nxp_lief_read() forks. The child limits its address space (relative to
 * its own VmSize, so it works under ASan), its CPU time and its wall time,
 * disables core dumps, points stdin/stdout at /dev/null and stderr at a pipe
 * the parent reads (so LIEF's noise and std::terminate's "terminate called
 * after throwing an instance of ..." line become part of the error message),
 * parses the file with pe_parse(), copies header and section-header fields
 * into a fixed-size record, writes it to a second pipe and calls _exit(0).
 * The parent reads both pipes with poll() up to a deadline, kills the child
 * when it passes, always reaps it, and turns every failure into NXP_E_LIEF. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
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
#define ERR_KEEP 2048           /* bytes of the child's stderr kept */
#define CHILD_EXIT_SETUP 121    /* the child could not set itself up */
#define REC_FD 3                /* the record pipe, in the child */
#define OOM_GRACE_MS 1000       /* after an out-of-memory report, then kill */

/* What the child sends: a fixed-size record. */
struct lief_wire {
	uint32_t magic;
	int32_t open_errno;         /* non-zero: the file could not be opened */
	nxp_lief_view view;
	uint32_t magic_end;
};

/* ---------------------------------------------------------------- child -- */

static void child_say(const char *s)
{
	ssize_t r = write(2, s, strlen(s));
	(void)r;
}

/* The child's current address-space size (VmSize) and data size (VmData
 * plus stack) from /proc/self/statm, in bytes. Returns 0 on failure. */
static int child_vm(uint64_t *vmsize, uint64_t *vmdata)
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
	*vmsize = (uint64_t)f[0] * page;
	*vmdata = (uint64_t)f[5] * page;
	return *vmsize > 0;
}

/* Limit resource `res` to `base + budget` (saturating). */
static int child_limit(int res, uint64_t base, uint64_t budget)
{
	uint64_t v = base + budget;
	if (v < base || v > (uint64_t)RLIM_INFINITY - 1)
		v = (uint64_t)RLIM_INFINITY - 1;
	struct rlimit rl = { (rlim_t)v, (rlim_t)v };
	return setrlimit(res, &rl);
}

static int child_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
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

static void __attribute__((noreturn))
child_main(const char *path, int rec_w, int err_w, uint64_t memory, uint32_t timeout_ms,
           uint32_t delay_ms)
{
	/* Descriptors: 0,1 -> /dev/null, 2 -> err pipe, 3 -> record pipe. */
	int rec = child_high_fd(rec_w);
	int errp = child_high_fd(err_w);
	int nul = open("/dev/null", O_RDWR);
	if (rec < 0 || errp < 0 || nul < 0)
		_exit(CHILD_EXIT_SETUP);
	if (dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(errp, 2) < 0 || dup2(rec, REC_FD) < 0)
		_exit(CHILD_EXIT_SETUP);
	child_close_from(REC_FD + 1);

	/* Default dispositions for the signals that end us, none blocked. */
	static const int sigs[] = { SIGABRT, SIGALRM, SIGXCPU, SIGSEGV, SIGBUS, SIGPIPE };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_CORE, &rl);

	uint32_t secs = timeout_ms / 1000 + (timeout_ms % 1000 ? 1 : 0);
	rl.rlim_cur = (rlim_t)secs + 1;
	rl.rlim_max = (rlim_t)secs + 2;
	if (setrlimit(RLIMIT_CPU, &rl) != 0) {
		child_say("nxpatch: cannot set RLIMIT_CPU\n");
		_exit(CHILD_EXIT_SETUP);
	}
	alarm(secs + 1); /* the parent's deadline comes first; this is a backstop */

	/* Pin glibc's mmap threshold (it grows dynamically after large frees)
	 * so large blocks get fresh mappings rather than arena space. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);

	/* The budget is on top of what the child already has (VmSize, and for
	 * RLIMIT_DATA its writable private memory). Not counted: what is left of
	 * a malloc arena reserved before the fork (PROT_NONE, up to 64 MiB) when
	 * the caller is not the main thread, since glibc grows into it with
	 * mprotect(), which neither limit checks. From the CLI's main thread
	 * (brk heap and fresh mmaps) the limit is exact. */
	uint64_t vm = 0, data = 0;
	if (!child_vm(&vm, &data)) {
		child_say("nxpatch: cannot read /proc/self/statm\n");
		_exit(CHILD_EXIT_SETUP);
	}
	if (child_limit(RLIMIT_AS, vm, memory) != 0 || child_limit(RLIMIT_DATA, data, memory) != 0) {
		child_say("nxpatch: cannot set RLIMIT_AS/RLIMIT_DATA\n");
		_exit(CHILD_EXIT_SETUP);
	}

	if (delay_ms) {
		struct timespec ts = { delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}

	static struct lief_wire w;
	memset(&w, 0, sizeof(w));
	w.magic = WIRE_MAGIC;
	w.magic_end = WIRE_MAGIC;

	/* LIEF throws (and so aborts) on a missing file: say so plainly. */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		w.open_errno = errno ? errno : EIO;
	} else {
		close(fd);
		lief_logging_disable();
		Pe_Binary_t *b = pe_parse(path);
		if (!b) {
			child_say("nxpatch: pe_parse returned NULL\n");
			_exit(CHILD_EXIT_SETUP);
		}
		child_copy(b, &w.view);
		/* No pe_binary_destroy(): _exit releases everything, faster. */
	}
	if (child_write_all(REC_FD, &w, sizeof(w)) != 0)
		_exit(CHILD_EXIT_SETUP);
	_exit(0);
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

/* The child's stderr, last ERR_KEEP bytes. */
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
 * produce "T: M"; else the last non-empty line of the child's stderr. */
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

/* Did the child die for want of memory? (std::bad_alloc in a plain build;
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

/* waitpid() that retries on EINTR. */
static pid_t wait_child(pid_t pid, int *status, int flags)
{
	pid_t r;
	do
		r = waitpid(pid, status, flags);
	while (r < 0 && errno == EINTR);
	return r;
}

int nxp_lief_read(const char *path, nxp_lief_view *out, const nxp_lief_limits *lim,
                  nxp_error *err)
{
	if (!path || !*path || !out)
		return nxp_fail(err, NXP_E_USAGE, "nxp_lief_read: missing path or output");
	memset(out, 0, sizeof(*out));

	uint32_t timeout_ms = lim && lim->timeout_ms ? lim->timeout_ms : NXP_LIEF_DEFAULT_TIMEOUT_MS;
	uint64_t memory = lim && lim->memory ? lim->memory : default_memory(path);
	uint32_t delay_ms = lim ? lim->test_delay_ms : 0;
	char dur[32];
	fmt_duration(dur, sizeof(dur), timeout_ms);

	int recp[2], errp[2];
	if (pipe2(recp, O_CLOEXEC) != 0)
		return nxp_fail(err, NXP_E_IO, "lief child: pipe: %s", strerror(errno));
	if (pipe2(errp, O_CLOEXEC) != 0) {
		int e = errno;
		close(recp[0]);
		close(recp[1]);
		return nxp_fail(err, NXP_E_IO, "lief child: pipe: %s", strerror(e));
	}

	fflush(NULL); /* so the child cannot duplicate buffered output */
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(recp[0]);
		close(recp[1]);
		close(errp[0]);
		close(errp[1]);
		return nxp_fail(err, NXP_E_IO, "lief child: fork: %s", strerror(e));
	}
	if (pid == 0)
		child_main(path, recp[1], errp[1], memory, timeout_ms, delay_ms);

	close(recp[1]);
	close(errp[1]);
	int rfd = recp[0], efd = errp[0];

	struct lief_wire w;
	memset(&w, 0, sizeof(w));
	size_t got = 0, extra = 0;
	errbuf eb;
	eb.len = 0;
	eb.text[0] = '\0';

	int64_t deadline = now_ms() + timeout_ms;
	int timed_out = 0, oom_seen = 0;
	while (rfd >= 0 || efd >= 0) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		struct pollfd pf[2];
		nfds_t np = 0;
		int ri = -1, ei = -1;
		if (rfd >= 0) {
			ri = (int)np;
			pf[np].fd = rfd;
			pf[np].events = POLLIN;
			pf[np++].revents = 0;
		}
		if (efd >= 0) {
			ei = (int)np;
			pf[np].fd = efd;
			pf[np].events = POLLIN;
			pf[np++].revents = 0;
		}
		int pr = poll(pf, np, left > 1000000 ? 1000000 : (int)left);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			break; /* treated below: the child is killed and reaped */
		}
		if (ri >= 0 && pf[ri].revents) {
			char tmp[4096];
			ssize_t r = read(rfd, tmp, sizeof(tmp));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close_fd(&rfd);
			} else {
				size_t n = (size_t)r, room = sizeof(w) - got;
				size_t take = n < room ? n : room;
				memcpy((uint8_t *)&w + got, tmp, take);
				got += take;
				extra += n - take;
			}
		}
		if (ei >= 0 && pf[ei].revents) {
			char tmp[1024];
			ssize_t r = read(efd, tmp, sizeof(tmp));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close_fd(&efd);
			} else {
				errbuf_add(&eb, tmp, (size_t)r);
				/* Under ASan an exhausted address space can make the
				 * sanitizer fail a CHECK and hang in its own error path:
				 * give it a moment to exit, then kill it. */
				if (!oom_seen && child_oom(&eb)) {
					oom_seen = 1;
					if (deadline > now_ms() + OOM_GRACE_MS)
						deadline = now_ms() + OOM_GRACE_MS;
				}
			}
		}
	}

	/* Reap: wait until the deadline (pipes closed means it is exiting),
	 * then kill. */
	int status = 0;
	pid_t wr = 0;
	if (!timed_out) {
		for (;;) {
			wr = wait_child(pid, &status, WNOHANG);
			if (wr != 0)
				break;
			if (now_ms() >= deadline) {
				timed_out = 1;
				break;
			}
			struct timespec ts = { 0, 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	if (timed_out) {
		kill(pid, SIGKILL);
		wr = wait_child(pid, &status, 0);
	}
	close_fd(&rfd);
	close_fd(&efd);

	char reason[400];
	child_reason(&eb, reason, sizeof(reason));
	const char *sep = reason[0] ? ": " : "";
	char lim_text[32];
	if (memory % (1u << 20) == 0)
		snprintf(lim_text, sizeof(lim_text), "%llu MiB", (unsigned long long)(memory >> 20));
	else
		snprintf(lim_text, sizeof(lim_text), "%llu KiB", (unsigned long long)(memory >> 10));

	if (oom_seen || child_oom(&eb))
		oom_seen = 1;
	if (oom_seen && (timed_out || wr < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0))
		return nxp_fail(err, NXP_E_LIEF, "lief child ran out of memory (limit %s)", lim_text);
	if (timed_out)
		return nxp_fail(err, NXP_E_LIEF, "lief child timed out after %s", dur);
	if (wr < 0)
		return nxp_fail(err, NXP_E_LIEF, "lief child could not be reaped: %s", strerror(errno));
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
	if (WEXITSTATUS(status) != 0) {
		return nxp_fail(err, NXP_E_LIEF, "lief child exited with status %d%s%s",
		                WEXITSTATUS(status), sep, reason);
	}
	if (got != sizeof(w) || extra != 0 || w.magic != WIRE_MAGIC || w.magic_end != WIRE_MAGIC)
		return nxp_fail(err, NXP_E_LIEF, "lief child sent a short record (%zu of %zu bytes)",
		                got + extra, sizeof(w));
	if (w.open_errno)
		return nxp_fail(err, NXP_E_LIEF, "lief child cannot open %s: %s", path,
		                strerror(w.open_errno));
	if (w.view.nsections_copied > NXP_MAX_SECTIONS || w.view.ndirs_seen > 1000000)
		return nxp_fail(err, NXP_E_LIEF, "lief child sent an inconsistent record");
	*out = w.view;
	return NXP_OK;
}
