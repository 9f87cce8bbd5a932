/* SPDX-License-Identifier: Apache-2.0 */
/* The LIEF worker's limits and lifecycle, through its client
 * (src/crosscheck/lief.c): memory and time budgets per request, a timeout
 * that kills and reaps, stdio not duplicated, one persistent worker reused,
 * replaced after a failure, a kill, a fork, the request bound, and ended by
 * shutdown or with its owner. What the worker holds of the caller and how it
 * is found: test_lief_worker.c. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nxpatch/pe.h"
#include "unit/lief_support.h"
#include "util/bytes.h"

TestSuite(crosscheck, .init = make_tmpdir, .fini = remove_tmpdir, .timeout = 120);

/* ---------------------------------------------------------- limits -- */

/* 96 sections that all claim the same 4 MiB of raw data: LIEF copies each
 * section's data, about 384 MiB for a 4 MiB file. Returns the path. */
static const char *write_dup_sections(void)
{
	const uint32_t raw = 4u << 20;
	const uint32_t e = 0x80, st = e + 24 + 240;
	const uint32_t hdrs = 0x200 * ((st + 40 * NXP_MAX_SECTIONS + 0x1ff) / 0x200);
	synth s = build_pe(1, 16, 1, 0x200);
	uint8_t *b = calloc(1, (size_t)hdrs + raw);
	cr_assert_not_null(b);
	memcpy(b, s.buf, st);
	nxpi_put_le16(b + e + 6, NXP_MAX_SECTIONS);
	nxpi_put_le32(b + e + 24 + 56, 0x1000 + NXP_MAX_SECTIONS * raw); /* SizeOfImage */
	nxpi_put_le32(b + e + 24 + 60, hdrs);                            /* SizeOfHeaders */
	for (unsigned i = 0; i < NXP_MAX_SECTIONS; i++) {
		uint8_t *h = b + st + 40 * i;
		memcpy(h, ".dup", 4);
		nxpi_put_le32(h + 8, raw);
		nxpi_put_le32(h + 12, 0x1000 + i * raw);
		nxpi_put_le32(h + 16, raw);
		nxpi_put_le32(h + 20, hdrs);
		nxpi_put_le32(h + 36, 0x40000040);
	}
	memset(b + hdrs, 0x41, raw);
	write_file(tmp_path("dup.dll"), b, (size_t)hdrs + raw);
	free(b);
	free(s.buf);
	return tmp_path("dup.dll");
}

Test(crosscheck, tiny_memory_budget_is_reported)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", write_dup_sections());
	nxp_lief_limits lim = { .memory = 1 << 20 };
	double t0 = now_s();
	expect_lief_error(path, &lim, "lief child ran out of memory (limit 1 MiB)");
	lim.memory = 64 << 10;
	expect_lief_error(path, &lim, "lief child ran out of memory (limit 64 KiB)");
	cr_assert_lt(now_s() - t0, 5.0);
}

/* The default budget (max(256 MiB, 8 x 4 MiB)) contains the crafted file. */
Test(crosscheck, crafted_overlapping_sections_are_contained)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", write_dup_sections());
	double t0 = now_s();
	expect_lief_error(path, NULL, "lief child ran out of memory (limit 256 MiB)");
	cr_assert_lt(now_s() - t0, 8.0);

	/* With a budget that fits, LIEF reads it (a small image under the
	 * default budget is covered by every agreement test). */
	nxp_lief_limits lim = { .memory = (uint64_t)2 << 30, .timeout_ms = 60000 };
	nxp_lief_view v;
	nxp_error err = { 0 };
	int rc = nxp_lief_read(path, &v, &lim, &err);
	cr_assert_eq(rc, NXP_OK, "%s", err.msg);
	cr_assert_eq(v.nsections_seen, NXP_MAX_SECTIONS);
	cr_assert_eq(v.sections[95].raw_size, 4u << 20);
	assert_no_children();
}

Test(crosscheck, timeout_kills_and_reaps_the_child)
{
	synth s = build_pe(1, 16, 3, 0x400);
	write_file(tmp_path("slow.dll"), s.buf, s.len);
	nxp_lief_limits lim = { .timeout_ms = 1000 };
	double t0 = now_s();
	nxpi_lief_test_delay(30000);
	expect_lief_error(tmp_path("slow.dll"), &lim, "lief child timed out after 1 s");
	double dt = now_s() - t0;
	cr_assert_geq(dt, 0.9);
	cr_assert_lt(dt, 3.0, "took %.2f s", dt);

	lim.timeout_ms = 1500;
	nxpi_lief_test_delay(30000);
	expect_lief_error(tmp_path("slow.dll"), &lim, "lief child timed out after 1500 ms");

	/* A delay within the limit is fine. */
	lim.timeout_ms = 5000;
	nxp_lief_view v;
	nxp_error err = { 0 };
	nxpi_lief_test_delay(100);
	cr_assert_eq(nxp_lief_read(tmp_path("slow.dll"), &v, &lim, &err), NXP_OK, "%s", err.msg);
	assert_no_children();
	free(s.buf);
}

/* Output buffered in the parent's stdio is not written twice by the child. */
Test(crosscheck, buffered_output_is_not_duplicated)
{
	char out[512];
	snprintf(out, sizeof(out), "%s", tmp_path("stdout.txt"));
	fflush(stdout);
	int saved = dup(1);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_geq(dup2(fd, 1), 0);
	close(fd);
	printf("once"); /* no newline: sits in the buffer across the fork */
	nxp_lief_view v;
	nxp_error err = { 0 };
	nxp_lief_read(tmp_path("nope"), &v, NULL, &err);
	write_file(tmp_path("junk2"), "MZ", 2);
	nxp_lief_read(tmp_path("junk2"), &v, NULL, &err);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	char buf[64] = { 0 };
	FILE *f = fopen(out, "r");
	cr_assert_not_null(f);
	size_t r = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	cr_assert_eq(r, 4, "stdout holds '%s'", buf);
	cr_assert_str_eq(buf, "once");
}

/* ---------------------------------------------------- the persistent worker -- */

/* A good image at tmp_path(name); returns its path (a static copy). */
static const char *write_good(const char *name)
{
	static char path[512];
	synth s = build_pe(1, 16, 3, 0x400);
	snprintf(path, sizeof(path), "%s", tmp_path(name));
	write_file(path, s.buf, s.len);
	free(s.buf);
	return path;
}

/* Read `path` with LIEF, which must succeed; returns the worker's pid. */
static pid_t read_ok(const char *path, nxp_lief_view *v)
{
	nxp_error err = { 0 };
	cr_assert_eq(nxp_lief_read(path, v, NULL, &err), NXP_OK, "%s: %s", path, err.msg);
	return nxpi_lief_worker_pid();
}

static int pid_exists(pid_t pid)
{
	cr_assert_gt(pid, 0);
	return kill(pid, 0) == 0 || errno != ESRCH;
}

/* No child at all, the worker included (it sends no SIGCHLD, so only
 * __WALL sees it). */
static void assert_no_worker_left(void)
{
	errno = 0;
	cr_assert_eq(waitpid(-1, NULL, WNOHANG | __WALL), -1, "a child (the worker?) is left");
	cr_assert_eq(errno, ECHILD);
}

Test(crosscheck, many_reads_reuse_one_worker)
{
	const char *path = write_good("reuse.dll");
	static nxp_lief_view first, v;
	pid_t pid = read_ok(path, &first);
	cr_assert_gt(pid, 0);
	cr_assert_eq(first.nsections_seen, 3);
	for (int i = 0; i < 100; i++) {
		memset(&v, 0xa5, sizeof(v));
		cr_assert_eq(read_ok(path, &v), pid, "read %d went to another worker", i);
		cr_assert_eq(memcmp(&v, &first, sizeof(v)), 0, "read %d gave another record", i);
	}
	/* The worker is alive, ours, and invisible to waitpid(-1). */
	cr_assert(pid_exists(pid));
	cr_assert_eq(waitpid(-1, NULL, WNOHANG | __WALL), 0);
	assert_no_children();
}

Test(crosscheck, a_failed_request_gets_a_new_worker)
{
	const char *good = write_good("good.dll");
	static nxp_lief_view first, v;
	pid_t p1 = read_ok(good, &first);
	cr_assert_eq(read_ok(good, &v), p1);

	/* An abort on a warm worker reads exactly as on a fresh one: only that
	 * request's stderr is in the message. */
	write_file(tmp_path("empty"), "", 0);
	nxp_error warm = { 0 }, fresh = { 0 };
	cr_assert_eq(nxp_lief_read(tmp_path("empty"), &v, NULL, &warm), NXP_E_LIEF);
	cr_assert(strstr(warm.msg, "lief child aborted (signal 6)"), "%s", warm.msg);
	cr_assert_eq(nxpi_lief_worker_pid(), 0);
	cr_assert_not(pid_exists(p1), "the aborted worker was not reaped");
	cr_assert_eq(nxp_lief_read(tmp_path("empty"), &v, NULL, &fresh), NXP_E_LIEF);
	cr_assert_str_eq(warm.msg, fresh.msg);

	pid_t p2 = read_ok(good, &v);
	cr_assert(p2 > 0 && p2 != p1, "p1 %d p2 %d", (int)p1, (int)p2);
	cr_assert_eq(memcmp(&v, &first, sizeof(v)), 0);

	/* A timeout: killed, reaped, replaced. */
	nxp_lief_limits slow = { .timeout_ms = 500 };
	nxp_error err = { 0 };
	cr_assert_eq(read_ok(good, &v), p2);
	nxpi_lief_test_delay(30000);
	cr_assert_eq(nxp_lief_read(good, &v, &slow, &err), NXP_E_LIEF);
	cr_assert_str_eq(err.msg, "lief child timed out after 500 ms");
	cr_assert_not(pid_exists(p2));
	pid_t p3 = read_ok(good, &v);
	cr_assert(p3 > 0 && p3 != p2);
	cr_assert_eq(memcmp(&v, &first, sizeof(v)), 0);
	assert_no_children();
}

/* The budget is set per request, relative to the worker's size then: a
 * warm worker still fails a request over its budget, serves a large
 * budget after small ones, and a small one after a large one. */
Test(crosscheck, memory_limit_holds_for_each_request_of_a_warm_worker)
{
	char dup[512];
	snprintf(dup, sizeof(dup), "%s", write_dup_sections());
	const char *good = write_good("small.dll");
	static nxp_lief_view v;
	pid_t p = read_ok(good, &v);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(read_ok(good, &v), p);
	expect_lief_error(dup, &(nxp_lief_limits){ .memory = 1 << 20 },
	                  "lief child ran out of memory (limit 1 MiB)");
	cr_assert_not(pid_exists(p));

	p = read_ok(good, &v);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(read_ok(good, &v), p);
	nxp_lief_limits big = { .memory = (uint64_t)2 << 30, .timeout_ms = 60000 };
	nxp_error err = { 0 };
	cr_assert_eq(nxp_lief_read(dup, &v, &big, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(v.nsections_seen, NXP_MAX_SECTIONS);

	/* The same worker, back to the default budget (256 MiB). Under ASan the
	 * allocator's quarantine keeps the large request's memory, so the
	 * worker is recycled for its growth and a fresh one takes over. */
	pid_t after = nxpi_lief_worker_pid();
#ifndef __SANITIZE_ADDRESS__
	cr_assert_eq(after, p, "the worker did not survive the large request");
#endif
	p = after ? after : read_ok(good, &v);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(read_ok(good, &v), p);
	expect_lief_error(dup, NULL, "lief child ran out of memory (limit 256 MiB)");
	cr_assert_not(pid_exists(p));
	read_ok(good, &v);
	assert_no_children();
}

/* A forked process leaves its parent's worker alone and starts its own. */
Test(crosscheck, a_forked_child_gets_its_own_worker)
{
	const char *good = write_good("fork.dll");
	static nxp_lief_view first, v;
	pid_t parent_worker = read_ok(good, &first);
	cr_assert_gt(parent_worker, 0);
	fflush(NULL);
	pid_t child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		/* No cr_assert here: report through the exit status. */
		nxp_error err = { 0 };
		int code = 0;
		if (nxpi_lief_worker_pid() != 0)
			code = 10; /* the parent's worker looks like ours */
		else if (nxp_lief_read(good, &v, NULL, &err) != NXP_OK)
			code = 11;
		else if (memcmp(&v, &first, sizeof(v)) != 0)
			code = 12;
		else if (nxpi_lief_worker_pid() <= 0 || nxpi_lief_worker_pid() == parent_worker)
			code = 13;
		else if (kill(parent_worker, 0) != 0)
			code = 14; /* the parent's worker must live on */
		pid_t mine = nxpi_lief_worker_pid();
		nxp_lief_shutdown();
		if (!code && (kill(mine, 0) == 0 || waitpid(-1, NULL, WNOHANG | __WALL) != -1))
			code = 15;
		_exit(code);
	}
	int status = 0;
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status), "status 0x%x", status);
	cr_assert_eq(WEXITSTATUS(status), 0, "the child failed check %d", WEXITSTATUS(status));
	cr_assert(pid_exists(parent_worker));
	cr_assert_eq(read_ok(good, &v), parent_worker);
	cr_assert_eq(memcmp(&v, &first, sizeof(v)), 0);
	assert_no_children();
}

Test(crosscheck, shutdown_leaves_no_child)
{
	const char *good = write_good("down.dll");
	static nxp_lief_view v;
	nxp_lief_shutdown(); /* nothing to end: harmless */
	pid_t p = read_ok(good, &v);
	cr_assert_gt(p, 0);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG | __WALL), 0, "no worker to see");
	nxp_lief_shutdown();
	cr_assert_eq(nxpi_lief_worker_pid(), 0);
	cr_assert_not(pid_exists(p), "worker %d still exists", (int)p);
	assert_no_worker_left();
	/* The next read starts another worker; a second shutdown ends it. */
	pid_t q = read_ok(good, &v);
	cr_assert(q > 0 && q != p);
	nxp_lief_shutdown();
	nxp_lief_shutdown();
	assert_no_worker_left();
}

Test(crosscheck, the_worker_is_recycled_after_the_request_bound)
{
	const char *good = write_good("recycle.dll");
	static nxp_lief_view v;
	nxpi_lief_test_set_max_requests(3);
	pid_t p = read_ok(good, &v);
	cr_assert_eq(read_ok(good, &v), p);
	cr_assert_eq(read_ok(good, &v), 0, "a third request should retire the worker");
	cr_assert_not(pid_exists(p), "the retired worker was not reaped");
	pid_t q = read_ok(good, &v);
	cr_assert(q > 0 && q != p);
	cr_assert_eq(read_ok(good, &v), q);
	nxpi_lief_test_set_max_requests(0);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(read_ok(good, &v), q, "the default bound is back");
	assert_no_children();
}

/* A worker killed between requests: the send fails (no SIGPIPE reaches
 * us), a new worker takes the request, the dead one is reaped. (Linux
 * raises no SIGPIPE for a SOCK_SEQPACKET send to a closed peer, measured,
 * so this guards the retry more than MSG_NOSIGNAL.) */
Test(crosscheck, a_worker_killed_between_requests_is_replaced)
{
	/* A SIGPIPE would end this process. */
	signal(SIGPIPE, SIG_DFL);
	sigset_t pipe_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_UNBLOCK, &pipe_set, NULL);
	const char *good = write_good("killed.dll");
	static nxp_lief_view first, v;
	pid_t p = read_ok(good, &first);
	cr_assert_gt(p, 0);
	cr_assert_eq(kill(p, SIGKILL), 0);
	siginfo_t si;
	cr_assert_eq(waitid(P_PID, (id_t)p, &si, WEXITED | WNOWAIT | __WALL), 0);
	pid_t q = read_ok(good, &v);
	cr_assert(q > 0 && q != p);
	cr_assert_eq(memcmp(&v, &first, sizeof(v)), 0);
	cr_assert_not(pid_exists(p), "the killed worker was not reaped");
}

/* An owner killed while its worker parses: the worker is killed at once
 * (PR_SET_PDEATHSIG), not when its own 11 s alarm would end it. */
Test(crosscheck, the_worker_dies_with_its_owner)
{
	const char *good = write_good("orphan.dll");
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0, "orphans are reparented to us");
	int pp[2];
	cr_assert_eq(pipe(pp), 0);
	fflush(NULL);
	pid_t owner = fork();
	cr_assert_geq(owner, 0);
	if (owner == 0) {
		nxp_error err = { 0 };
		pid_t w = 0;
		nxpi_lief_test_delay(30000);
		if (nxp_lief_begin(good, NULL, &err) == NXP_OK)
			w = nxpi_lief_worker_pid();
		struct timespec ts = { 0, 300 * 1000000L }; /* the worker is in its delay */
		nanosleep(&ts, NULL);
		if (write(pp[1], &w, sizeof(w)) != (ssize_t)sizeof(w))
			_exit(1);
		raise(SIGKILL);
	}
	close(pp[1]);
	pid_t w = 0;
	cr_assert_eq(read(pp[0], &w, sizeof(w)), (ssize_t)sizeof(w));
	close(pp[0]);
	cr_assert_gt(w, 0, "the owner could not start a request");
	int status = 0;
	cr_assert_eq(waitpid(owner, &status, 0), owner);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	double t0 = now_s();
	pid_t r;
	while ((r = waitpid(w, &status, WNOHANG | __WALL)) == 0 && now_s() - t0 < 5.0) {
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(r, w, "the orphaned worker lives on");
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status 0x%x", status);
	cr_assert_lt(now_s() - t0, 2.0);
	assert_no_worker_left();
}

/* A worker that dies holding the request fails that request, with no retry. */
Test(crosscheck, a_worker_killed_during_a_request_fails_that_request)
{
	const char *good = write_good("during.dll");
	static nxp_lief_view v;
	nxp_error err = { 0 };
	read_ok(good, &v);
	nxpi_lief_test_delay(500);
	cr_assert_eq(nxp_lief_begin(good, NULL, &err), NXP_OK, "%s", err.msg);
	pid_t p = nxpi_lief_worker_pid();
	cr_assert_gt(p, 0);
	cr_assert_eq(kill(p, SIGKILL), 0);
	cr_assert_eq(nxp_lief_end(&v, &err), NXP_E_LIEF);
	cr_assert_str_eq(err.msg, "lief child was killed (signal 9)");
	cr_assert_not(pid_exists(p));
	cr_assert_neq(read_ok(good, &v), p);
	assert_no_children();
}

/* begin returns at once; the caller works while LIEF parses. */
Test(crosscheck, begin_and_end_overlap_with_the_caller)
{
	synth s = build_pe(1, 16, 3, 0x400);
	const char *path = tmp_path("async.dll");
	write_file(path, s.buf, s.len);
	static nxp_image img;
	static nxp_lief_view v;
	nxp_error err = { 0 };
	cr_assert_eq(nxp_pe_parse(&img, s.buf, s.len, &err), NXP_OK, "%s", err.msg);
	read_ok(path, &v); /* a warm worker */

	nxpi_lief_test_delay(500);
	double t0 = now_s();
	cr_assert_eq(nxp_lief_begin(path, NULL, &err), NXP_OK, "%s", err.msg);
	cr_assert_lt(now_s() - t0, 0.2, "begin waited for the parse");
	cr_assert_eq(nxp_lief_begin(path, NULL, &err), NXP_E_USAGE);
	struct timespec ts = { 0, 500 * 1000000L };
	nanosleep(&ts, NULL); /* the caller's own work */
	cr_assert_eq(nxp_lief_end(&v, &err), NXP_OK, "%s", err.msg);
	cr_assert_lt(now_s() - t0, 0.9, "the delay and our work did not overlap");
	cr_assert_eq(v.checksum, 0x12345);
	cr_assert_eq(nxp_lief_end(&v, &err), NXP_E_USAGE);

	/* The cross-check halves: a mismatch, then collecting without img. */
	size_t n = 0;
	img.checksum = 1;
	cr_assert_eq(nxp_crosscheck_file_begin(path, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_crosscheck_file_end(&img, NULL, 0, &n, &err), NXP_E_CROSS_CHECK);
	cr_assert_eq(n, 1);
	cr_assert(strstr(err.msg, "optional_header.checksum"), "%s", err.msg);
	cr_assert_eq(nxp_crosscheck_file_begin(path, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_crosscheck_file_end(NULL, NULL, 0, &n, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_lief_end(&v, &err), NXP_E_USAGE, "the request was not collected");
	assert_no_children();
	free(s.buf);
}
