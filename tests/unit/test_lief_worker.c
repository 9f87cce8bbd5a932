/* SPDX-License-Identifier: Apache-2.0 */
/* The LIEF worker as a separate executable (nxpatch-lief-worker, started
 * with posix_spawn): what it holds of the caller (nothing: not its memory,
 * not its environment), how it is found, and what the supervisor does when
 * the caller itself reaps it or runs threads. The request/limit/recycling
 * behaviour is tested in test_crosscheck.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nxpatch/crosscheck.h"
#include "unit/support.h"
#include "crosscheck/internal.h"

static char dir[256];
static char good[300];

static void setup(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/nxp-lw.XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(good, sizeof(good), "%s/good.dll", dir);
	static uint8_t buf[1 << 16];
	nxt_pe_spec spec = { .pe32plus = 1, .nsections = 3 };
	size_t len = nxt_build_pe(buf, sizeof(buf), &spec, NULL);
	cr_assert_gt(len, 0);
	FILE *f = fopen(good, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static void teardown(void)
{
	nxp_lief_shutdown();
	unlink(good);
	rmdir(dir);
}

TestSuite(lief_worker, .init = setup, .fini = teardown);

static pid_t read_good(void)
{
	static nxp_lief_view v;
	nxp_error err = { 0 };
	cr_assert_eq(nxp_lief_read(good, &v, NULL, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(v.nsections_seen, 3);
	return nxpi_lief_worker_pid();
}

/* Is `needle` anywhere in the readable memory of process `pid`? Regions
 * over 1 GiB (a sanitizer's shadow) are skipped. */
static int memory_holds(pid_t pid, const char *needle)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *maps = fopen(path, "r");
	cr_assert_not_null(maps, "%s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	int mem = open(path, O_RDONLY);
	cr_assert_geq(mem, 0, "%s: %s", path, strerror(errno));
	size_t nlen = strlen(needle);
	static char buf[(1 << 20) + 256];
	char line[512];
	int found = 0;
	while (!found && fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
		    strstr(line, "[vvar]") || strstr(line, "[vsyscall]") || hi - lo > (1ul << 30))
			continue;
		for (unsigned long at = lo; at < hi && !found; at += 1 << 20) {
			size_t want = hi - at > (1 << 20) ? (1 << 20) : hi - at;
			/* overlap the chunks so a needle across a boundary is seen */
			size_t extra = at + want + nlen <= hi ? nlen : 0;
			ssize_t n = pread(mem, buf, want + extra, (off_t)at);
			if (n > 0 && memmem(buf, (size_t)n, needle, nlen))
				found = 1;
		}
	}
	close(mem);
	fclose(maps);
	return found;
}

static int file_holds(const char *path, const char *needle)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return memmem(buf, n, needle, strlen(needle)) != NULL;
}

/* The worker is its own program in a fresh address space: a secret in the
 * caller's heap (as a loaded key and its passphrase were during a
 * re-signing apply) and a variable of the caller's environment are not in
 * it. The scanner is proved on the caller itself. */
Test(lief_worker, holds_nothing_of_the_caller)
{
	char *secret = malloc(64);
	cr_assert_not_null(secret);
	snprintf(secret, 64, "nxp-heap-secret-%d-%ld", (int)getpid(), (long)time(NULL));
	char envval[64];
	snprintf(envval, sizeof(envval), "nxp-env-secret-%d", (int)getpid());
	cr_assert_eq(setenv("NXP_TEST_PASSPHRASE", envval, 1), 0);

	pid_t p = read_good();
	cr_assert_gt(p, 0);
	char path[64], exe[4096];
	cr_assert(memory_holds(getpid(), secret), "the scanner cannot find the secret in the caller");
	cr_assert_not(memory_holds(p, secret), "the worker's memory holds the caller's secret");
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)p);
	cr_assert_not(file_holds(path, envval), "the worker's environment holds the caller's");
	cr_assert_not(file_holds(path, "NXP_TEST_PASSPHRASE"));
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)p);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	cr_assert_gt(n, 0);
	exe[n] = '\0';
	cr_assert(strstr(exe, "/nxpatch-lief-worker"), "the worker runs %s", exe);
	read_good();
	free(secret);
}

/* A caller that reaps every child (wait(-1)) may take the worker: the
 * supervisor sees it gone (pidfd), never signals its perhaps reused pid,
 * and the next request gets a fresh worker. */
Test(lief_worker, a_caller_that_reaps_the_worker_is_survived)
{
	pid_t p = read_good();
	cr_assert_eq(kill(p, SIGKILL), 0);
	int status = 0;
	cr_assert_eq(waitpid(-1, &status, 0), p, "the caller's wait(-1) reaps the worker");
	pid_t q = read_good();
	cr_assert(q > 0 && q != p);

	/* During a request: that request fails, saying why. */
	nxp_error err = { 0 };
	nxpi_lief_test_delay(2000);
	cr_assert_eq(nxp_lief_begin(good, NULL, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(kill(q, SIGKILL), 0);
	cr_assert_eq(waitpid(-1, &status, 0), q);
	static nxp_lief_view v;
	cr_assert_eq(nxp_lief_end(&v, &err), NXP_E_LIEF);
	cr_assert(strstr(err.msg, "reaped by someone else"), "%s", err.msg);
	cr_assert_eq(nxpi_lief_worker_pid(), 0);
	cr_assert_gt(read_good(), 0);
}

/* No worker program: a clear error naming what to do, never a skip. */
Test(lief_worker, a_missing_worker_is_a_clear_error)
{
	static nxp_lief_view v;
	nxp_error err = { 0 };
	read_good();
	nxp_lief_shutdown();
	cr_assert_eq(setenv("NXP_LIEF_WORKER", "/nonexistent/nxpatch-lief-worker", 1), 0);
	cr_assert_eq(nxp_lief_read(good, &v, NULL, &err), NXP_E_LIEF);
	cr_assert_str_eq(err.msg, "NXP_LIEF_WORKER=/nonexistent/nxpatch-lief-worker is not an "
	                          "executable file");
	cr_assert_eq(nxpi_lief_worker_pid(), 0);
	/* Not executable: the same. */
	cr_assert_eq(setenv("NXP_LIEF_WORKER", good, 1), 0);
	cr_assert_eq(nxp_lief_read(good, &v, NULL, &err), NXP_E_LIEF);
	cr_assert(strstr(err.msg, "is not an executable file"), "%s", err.msg);
	/* Neither overridden, nor next to this test program, nor installed. */
	cr_assert_eq(unsetenv("NXP_LIEF_WORKER"), 0);
	cr_assert_eq(nxp_lief_read(good, &v, NULL, &err), NXP_E_LIEF);
	cr_assert(strstr(err.msg, "nxpatch-lief-worker not found: not next to this program"),
	          "%s", err.msg);
	cr_assert(strstr(err.msg, "set NXP_LIEF_WORKER"), "%s", err.msg);
}

static volatile int churning;

static void *churn(void *arg)
{
	(void)arg;
	while (churning) {
		void *p = malloc(4096 + (size_t)(rand() % 65536));
		free(p);
	}
	return NULL;
}

/* Threads in the caller are allowed now: workers started while another
 * thread allocates (which a raw clone of the caller could deadlock on, in
 * the child, on that thread's malloc lock) all serve. */
Test(lief_worker, workers_start_while_another_thread_runs, .timeout = 60)
{
	pthread_t t;
	churning = 1;
	cr_assert_eq(pthread_create(&t, NULL, churn, NULL), 0);
	for (int i = 0; i < 30; i++) {
		cr_assert_gt(read_good(), 0);
		nxp_lief_shutdown();
	}
	churning = 0;
	pthread_join(t, NULL);
}

/* Run by hand, the worker says what it is and exits. */
Test(lief_worker, run_by_hand_it_refuses)
{
	const char *w = getenv("NXP_LIEF_WORKER");
	cr_assert(w && *w, "NXP_LIEF_WORKER is set by CTest");
	char cmd[4400];
	snprintf(cmd, sizeof(cmd), "'%s' 2>&1 </dev/null | grep -q 'not meant to be run by hand'",
	         w);
	cr_assert_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "'%s' 1 </dev/null 2>/dev/null", w);
	int st = system(cmd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 121, "status 0x%x", st);
}
