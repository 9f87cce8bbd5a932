/* SPDX-License-Identifier: Apache-2.0 */
/* long-file: the one supervisor (start, requests, limits, reaping); its child side is
 * worker_child.c. */
/* The parent side of a limited worker (see worker.h): finding and starting
 * the executable, sending a request, waiting for the reply under a
 * deadline, naming a failure, recycling, fork safety. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/worker.h"

#ifndef NXP_LIBEXECDIR
#define NXP_LIBEXECDIR "/usr/local/libexec/nxpatch"
#endif

#define ERR_KEEP 2048           /* bytes of the worker's stderr kept */
#define OOM_GRACE_MS 1000       /* after an out-of-memory report, then kill */

extern char **environ;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* ---------------------------------------------------- the executable -- */

static int executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int nxpi_worker_find(const char *program, const char *env_override, char *out, size_t outlen,
                    nxp_error *err)
{
	const char *env = env_override ? getenv(env_override) : NULL;
	if (env && *env) {
		if ((size_t)snprintf(out, outlen, "%s", env) >= outlen || !executable(out))
			return nxp_fail(err, NXP_E_LIEF, "%s=%s is not an executable file", env_override,
			                env);
		return NXP_OK;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(out, outlen, "%s/%s", self, program) < outlen &&
			    executable(out))
				return NXP_OK;
			/* An installed prefix moved elsewhere (cmake --install --prefix P):
			 * P/bin/nxpatch and P/libexec/nxpatch/PROGRAM. */
			if ((size_t)snprintf(out, outlen, "%s/../libexec/nxpatch/%s", self, program) <
			            outlen &&
			    executable(out))
				return NXP_OK;
		}
	}
	if ((size_t)snprintf(out, outlen, "%s/%s", NXP_LIBEXECDIR, program) < outlen &&
	    executable(out))
		return NXP_OK;
	return nxp_fail(err, NXP_E_LIEF,
	                "%s not found: not next to this program (%s) nor in %s; reinstall nxpatch, "
	                "or set %s to its path",
	                program, n > 0 ? self : "/proc/self/exe unreadable", NXP_LIBEXECDIR,
	                env_override ? env_override : "its variable");
}

/* ------------------------------------------------------ the lifecycle -- */

/* How the worker ended. */
typedef struct ending {
	int exited;                 /* 1: exit status in code; 0: killed by sig */
	int code, sig;
} ending;

/* Wait for the worker through its pidfd (a pid can be reused once someone
 * else reaped it; the pidfd cannot). Returns 1 when it ended (and fills
 * *e), 0 when it still runs (WNOHANG), -1 with errno (ECHILD: someone
 * else reaped it). */
static int wait_child(nxpi_worker *w, ending *e, int flags)
{
	siginfo_t si;
	int r;
	do {
		memset(&si, 0, sizeof(si));
		r = waitid(P_PIDFD, (id_t)w->pidfd, &si, WEXITED | flags);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	if (si.si_pid == 0)
		return 0;
	if (e) {
		e->exited = si.si_code == CLD_EXITED;
		e->code = e->exited ? si.si_status : 0;
		e->sig = e->exited ? 0 : si.si_status;
	}
	return 1;
}

/* Forget the worker (closing our descriptors) and any request to it. */
static void worker_forget(nxpi_worker *w)
{
	close_fd(&w->pidfd);
	close_fd(&w->sock);
	close_fd(&w->err);
	w->pid = 0;
	w->served = 0;
	w->busy = 0;
}

/* A process forked since the worker started holds its parent's descriptors:
 * the worker is not ours to signal or wait for. */
static void worker_disown(nxpi_worker *w)
{
	if (w->pid && w->owner != getpid())
		worker_forget(w);
}

void nxpi_worker_stop(nxpi_worker *w)
{
	worker_disown(w);
	if (!w->pid)
		return;
	/* SIGKILL: between requests it holds nothing, during one the request
	 * is being abandoned. */
	pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
	wait_child(w, NULL, 0);
	worker_forget(w);
}

pid_t nxpi_worker_pid(nxpi_worker *w)
{
	worker_disown(w);
	return w->pid;
}

/* The variables a worker inherits: what the dynamic loader and the
 * sanitizers need. Nothing else of the caller's environment (a passphrase
 * variable, tokens) reaches it. */
static const char *const env_keep[] = {
	"LD_LIBRARY_PATH=", "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=", "TMPDIR=",
};
#define ENV_MAX (sizeof(env_keep) / sizeof(env_keep[0]) + 2)

static void worker_env(char **envp)
{
	size_t n = 0;
	envp[n++] = "LC_ALL=C";
	for (char **e = environ; e && *e && n + 1 < ENV_MAX; e++)
		for (size_t i = 0; i < sizeof(env_keep) / sizeof(env_keep[0]); i++)
			if (!strncmp(*e, env_keep[i], strlen(env_keep[i])))
				envp[n++] = *e;
	envp[n] = NULL;
}

/* long-function: spawn attributes, descriptors and signal masks set up in order, with one
 * cleanup path. */
static int worker_start(nxpi_worker *w, nxp_error *err)
{
	char prog[PATH_MAX];
	int rc = nxpi_worker_find(w->program, w->env_override, prog, sizeof(prog), err);
	if (rc)
		return rc;

	int sv[2], ep[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return nxp_fail(err, NXP_E_IO, "%s: socketpair: %s", w->name, strerror(errno));
	if (pipe2(ep, O_CLOEXEC) != 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return nxp_fail(err, NXP_E_IO, "%s: pipe: %s", w->name, strerror(e));
	}

	pid_t owner = getpid();
	char owner_s[24];
	snprintf(owner_s, sizeof(owner_s), "%ld", (long)owner);
	char *argv[] = { (char *)w->program, owner_s, NULL };
	char *envp[ENV_MAX];
	worker_env(envp);

	/* 0, 1: /dev/null; 2: the stderr pipe; 3: the socket; nothing else
	 * (the worker closes the rest again itself). Default dispositions for
	 * the signals that end it, none blocked. */
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int se = posix_spawn_file_actions_init(&fa);
	if (se == 0 && (se = posix_spawnattr_init(&at)) != 0)
		posix_spawn_file_actions_destroy(&fa);
	if (se) {
		close(sv[0]), close(sv[1]), close(ep[0]), close(ep[1]);
		return nxp_fail(err, NXP_E_IO, "%s: posix_spawn setup: %s", w->name, strerror(se));
	}
	/* SIGINT and SIGQUIT (a terminal's ^C and ^\) stay blocked: one sent
	 * to the caller's process group while posix_spawn runs reaches the
	 * child before it has its own group; unblocked, it would kill the
	 * worker and fail the caller's request in flight. The worker then
	 * ignores both (worker_child.c). */
	sigset_t def, none;
	sigemptyset(&def);
	sigemptyset(&none);
	sigaddset(&none, SIGINT);
	sigaddset(&none, SIGQUIT);
	static const int sigs[] = { SIGABRT, SIGALRM, SIGXCPU, SIGSEGV, SIGBUS, SIGPIPE,
		                    SIGTERM, SIGHUP };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&def, sigs[i]);
	if ((se = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
	    (se = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) == 0 &&
	    (se = posix_spawn_file_actions_adddup2(&fa, ep[1], 2)) == 0 &&
	    (se = posix_spawn_file_actions_adddup2(&fa, sv[1], NXPI_WORKER_FD)) == 0 &&
	    (se = posix_spawn_file_actions_addclosefrom_np(&fa, NXPI_WORKER_FD + 1)) == 0 &&
	    (se = posix_spawnattr_setsigdefault(&at, &def)) == 0 &&
	    (se = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
	    /* Its own process group: a terminal's ^C or a signal to the
	     * caller's group is for the caller, which finishes the request in
	     * flight (the worker dies with it, or at end of file). */
	    (se = posix_spawnattr_setpgroup(&at, 0)) == 0 &&
	    (se = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
	                                            POSIX_SPAWN_SETPGROUP)) == 0) {
		pid_t pid = 0;
		se = posix_spawn(&pid, prog, &fa, &at, argv, envp);
		if (se == 0) {
			w->pid = pid;
			w->owner = owner;
			w->sock = sv[0];
			w->err = ep[0];
			w->served = 0;
			w->busy = 0;
			w->pidfd = pidfd_open(pid, 0);
		}
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	close(ep[1]);
	if (se) {
		close(sv[0]);
		close(ep[0]);
		return nxp_fail(err, NXP_E_LIEF, "%s: cannot start %s: %s", w->name, prog,
		                strerror(se));
	}
	if (w->pidfd < 0) {
		int e = errno;
		kill(w->pid, SIGKILL); /* not reaped by anyone yet: the pid is still its */
		waitpid(w->pid, NULL, 0);
		worker_forget(w);
		return nxp_fail(err, NXP_E_IO, "%s: pidfd_open: %s", w->name, strerror(e));
	}
	fcntl(w->err, F_SETFL, O_NONBLOCK); /* our end only: the worker's blocks */
	return NXP_OK;
}

/* send() errors that mean the worker was gone before the request. */
static int worker_gone(int e)
{
	return e == EPIPE || e == ECONNRESET || e == ECONNREFUSED || e == ENOTCONN;
}

int nxpi_worker_begin(nxpi_worker *w, uint32_t timeout_ms, uint32_t delay_ms, uint64_t memory,
                     const void *payload, size_t len, nxp_error *err)
{
	worker_disown(w);
	if (w->busy)
		return nxp_fail(err, NXP_E_USAGE, "%s: a request is already in flight", w->name);
	if (len > NXPI_WORKER_MAX_PAYLOAD)
		return nxp_fail(err, NXP_E_USAGE, "%s: request too long", w->name);
	static char buf[sizeof(nxpi_worker_req) + NXPI_WORKER_MAX_PAYLOAD];
	nxpi_worker_req h = { NXPI_WORKER_REQ_MAGIC, timeout_ms, delay_ms, (uint32_t)len, memory };
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, len);
	size_t total = sizeof(h) + len;

	/* A worker that died between requests never saw this one: retry once
	 * on a fresh one. */
	for (int attempt = 0;; attempt++) {
		if (!w->pid) {
			int rc = worker_start(w, err);
			if (rc)
				return rc;
		}
		ssize_t n;
		do
			n = send(w->sock, buf, total, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n == (ssize_t)total)
			break;
		int e = n < 0 ? errno : EIO;
		nxpi_worker_stop(w);
		if (attempt == 0 && worker_gone(e))
			continue;
		return nxp_fail(err, NXP_E_IO, "%s: send: %s", w->name, strerror(e));
	}
	w->busy = 1;
	w->timeout_ms = timeout_ms;
	w->memory = memory;
	w->deadline = now_ms() + timeout_ms;
	return NXP_OK;
}

/* ------------------------------------------------ waiting for a reply -- */

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
		const char *wh = strstr(q, "what():");
		if (wh) {
			wh += 7;
			while (*wh == ' ')
				wh++;
			const char *nl = strchr(wh, '\n');
			printable(what, sizeof(what), wh, nl ? (size_t)(nl - wh) : strlen(wh));
		}
		if (what[0])
			snprintf(out, outlen, "%s: %s", type, what);
		else
			snprintf(out, outlen, "%s", type);
		return;
	}
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
		"ENOMEM", "rss-limit-exceeded", "Failed to mmap",
	};
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strstr(e->text, marks[i]))
			return 1;
	return 0;
}

/* What came of a request. */
typedef struct outcome {
	char rec[sizeof(nxpi_worker_rep) + 65536];
	ssize_t rec_len;            /* the reply message's length, -1: none */
	int timed_out, oom_seen;
	errbuf eb;
} outcome;

/* Read what the worker wrote to stderr. Returns 0 at end of file or on an
 * error, 1 otherwise (including "nothing there now"). */
static int read_stderr(nxpi_worker *w, outcome *o)
{
	char tmp[1024];
	ssize_t r = read(w->err, tmp, sizeof(tmp));
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
		if (w->deadline > now_ms() + OOM_GRACE_MS)
			w->deadline = now_ms() + OOM_GRACE_MS;
	}
	return 1;
}

/* Drop what the worker wrote to stderr during a request that succeeded:
 * it is all in the pipe, since the worker writes only before its reply. */
static void drop_stderr(nxpi_worker *w)
{
	char tmp[4096];
	ssize_t r;
	while ((r = read(w->err, tmp, sizeof(tmp))) > 0 || (r < 0 && errno == EINTR))
		;
}

/* Read the reply message. Returns 0 at end of file, 1 otherwise. */
static int read_reply(nxpi_worker *w, outcome *o)
{
	ssize_t n = recv(w->sock, o->rec, sizeof(o->rec), MSG_TRUNC | MSG_DONTWAIT);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n > 0)
		o->rec_len = n;
	return n > 0;
}

/* Wait for the reply while reading the worker's stderr, until the reply
 * arrives, the worker is gone (both channels at end of file), or the
 * deadline passes. A reply already there is taken even past the deadline
 * (the caller may have been busy between begin and end). */
static void collect(nxpi_worker *w, outcome *o)
{
	int sock_open = 1, err_open = 1;
	while (o->rec_len < 0 && (sock_open || err_open)) {
		int64_t left = w->deadline - now_ms();
		if (left < 0)
			left = 0;
		struct pollfd pf[2];
		nfds_t np = 0;
		int si = -1, ei = -1;
		if (sock_open) {
			si = (int)np;
			pf[np++] = (struct pollfd){ .fd = w->sock, .events = POLLIN };
		}
		if (err_open) {
			ei = (int)np;
			pf[np++] = (struct pollfd){ .fd = w->err, .events = POLLIN };
		}
		int pr = poll(pf, np, left > 1000000 ? 1000000 : (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0 || (pr == 0 && left == 0)) {
			o->timed_out = 1; /* the worker is killed and reaped */
			return;
		}
		if (ei >= 0 && pf[ei].revents)
			err_open = read_stderr(w, o);
		if (si >= 0 && pf[si].revents)
			sock_open = read_reply(w, o);
	}
}

static void fmt_duration(char *buf, size_t len, uint32_t ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%u s", ms / 1000);
	else
		snprintf(buf, len, "%u ms", ms);
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
static int worker_failed(nxpi_worker *w, outcome *o, nxp_error *err)
{
	ending st = { 0, 0, 0 };
	int wr = 0, wait_errno = 0;
	while (!o->timed_out) {
		wr = wait_child(w, &st, WNOHANG);
		if (wr != 0)
			break;
		if (now_ms() >= w->deadline)
			o->timed_out = 1;
		else
			nanosleep(&(struct timespec){ 0, 1000000L }, NULL);
	}
	if (o->timed_out) {
		pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
		wr = wait_child(w, &st, 0);
	}
	if (wr < 0)
		wait_errno = errno;
	worker_forget(w);

	const char *nm = w->name;
	char reason[400], dur[32], lim[32];
	child_reason(&o->eb, reason, sizeof(reason));
	const char *sep = reason[0] ? ": " : "";
	fmt_duration(dur, sizeof(dur), w->timeout_ms);
	lim_text(lim, sizeof(lim), w->memory);

	if (o->oom_seen || child_oom(&o->eb))
		o->oom_seen = 1;
	if (o->oom_seen && (o->timed_out || wr < 0 || !st.exited || st.code != 0))
		return nxp_fail(err, NXP_E_LIEF, "%s ran out of memory (limit %s)", nm, lim);
	if (o->timed_out)
		return nxp_fail(err, NXP_E_LIEF, "%s timed out after %s", nm, dur);
	if (wr < 0 && wait_errno == ECHILD)
		return nxp_fail(err, NXP_E_LIEF,
		                "%s ended and was reaped by someone else's wait() before it answered",
		                nm);
	if (wr < 0)
		return nxp_fail(err, NXP_E_LIEF, "%s could not be reaped: %s", nm,
		                strerror(wait_errno));
	if (!st.exited) {
		int sig = st.sig;
		if (sig == SIGALRM || sig == SIGXCPU)
			return nxp_fail(err, NXP_E_LIEF, "%s timed out after %s (signal %d)", nm, dur,
			                sig);
		if (sig == SIGABRT)
			return nxp_fail(err, NXP_E_LIEF, "%s aborted (signal 6)%s%s: malformed image?",
			                nm, sep, reason);
		if (sig == SIGKILL)
			return nxp_fail(err, NXP_E_LIEF, "%s was killed (signal 9)%s%s", nm, sep, reason);
		return nxp_fail(err, NXP_E_LIEF, "%s crashed (signal %d, %s)%s%s: malformed image?",
		                nm, sig, strsignal(sig), sep, reason);
	}
	if (st.code != 0)
		return nxp_fail(err, NXP_E_LIEF, "%s exited with status %d%s%s", nm, st.code, sep,
		                reason);
	return nxp_fail(err, NXP_E_LIEF, "%s sent a short reply (0 bytes)", nm);
}

int nxpi_worker_end(nxpi_worker *w, void *rep, size_t rep_len, nxp_error *err)
{
	worker_disown(w);
	if (!w->busy)
		return nxp_fail(err, NXP_E_USAGE, "%s: no request in flight", w->name);
	w->busy = 0;
	static outcome o;
	o.rec_len = -1;
	o.timed_out = o.oom_seen = 0;
	o.eb.len = 0;
	o.eb.text[0] = '\0';
	collect(w, &o);
	if (o.rec_len <= 0)
		return worker_failed(w, &o, err);

	nxpi_worker_rep h = { 0, 0, 0 };
	memcpy(&h, o.rec, sizeof(h) <= (size_t)o.rec_len ? sizeof(h) : (size_t)o.rec_len);
	if ((size_t)o.rec_len != sizeof(h) + rep_len || h.magic != NXPI_WORKER_REP_MAGIC ||
	    h.len != rep_len) {
		nxpi_worker_stop(w);
		return nxp_fail(err, NXP_E_LIEF, "%s sent a short reply (%zu of %zu bytes)", w->name,
		                (size_t)o.rec_len, sizeof(h) + rep_len);
	}
	drop_stderr(w);
	memcpy(rep, o.rec + sizeof(h), rep_len);
	if (++w->served >= w->max_requests || h.growth > w->max_growth)
		nxpi_worker_stop(w);
	return NXP_OK;
}
