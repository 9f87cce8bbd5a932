/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the LIEF tests (test_crosscheck.c: the comparison;
 * test_lief_lifecycle.c: the worker's limits and lifecycle): a scratch
 * directory, files in it, the check that no child is left, and the
 * cross-check image shape of support.h. */
#ifndef NXT_LIEF_SUPPORT_H
#define NXT_LIEF_SUPPORT_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crosscheck/internal.h"
#include "nxpatch/crosscheck.h"
#include "unit/support.h"

static char tmpdir[256];

static inline void make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/nxp-cc.XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static inline void remove_tmpdir(void)
{
	char cmd[300];
	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static inline const char *tmp_path(const char *name)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

static inline void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* No child of ours is left, running or zombie, but the live LIEF worker
 * (an ordinary child since it is spawned: waitpid(-1) sees it running). */
static inline void assert_no_children(void)
{
	pid_t worker = nxpi_lief_worker_pid();
	DIR *d = opendir("/proc");
	cr_assert_not_null(d);
	struct dirent *e;
	int workers = 0;
	while ((e = readdir(d))) {
		char path[300], buf[512];
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *rp = strrchr(buf, ')');
		char state = 0;
		int ppid = 0;
		if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2 || ppid != getpid())
			continue;
		pid_t pid = (pid_t)atoi(e->d_name);
		cr_assert(pid == worker && state != 'Z', "child %d (state %c) is left, worker %d",
		          (int)pid, state, (int)worker);
		workers++;
	}
	closedir(d);
	cr_assert_eq(workers, worker ? 1 : 0, "the worker %d is not our child", (int)worker);
	if (!worker) {
		errno = 0;
		cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child is left");
		cr_assert_eq(errno, ECHILD);
	}
}

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct synth {
	uint8_t *buf;
	size_t len;
} synth;

/* The cross-check tests' image (support.h's builder): a DLL whose nsec
 * sections are named .text, .rdata, .data, .reloc in turn, raw bytes each
 * (VirtualSize raw - 0x10), a high ImageBase, stack and heap sizes, the
 * debug (6) and IAT (12) directory entries set (values the reader does not
 * follow), CheckSum 0x12345 (stale on purpose), DYNAMIC_BASE and NX_COMPAT:
 * every field LIEF's record carries has a value that is not a default. */
static inline synth build_pe(int pe32plus, uint32_t ndirs, unsigned nsec, uint32_t raw)
{
	nxt_pe_spec spec = {
		.pe32plus = pe32plus, .nsections = nsec, .ndirs = ndirs, .ndirs_set = 1,
		.dll_characteristics = 0x0040 /* dynamic_base */ | 0x0100 /* nx_compat */,
		.section_size = raw, .virtual_size = raw - 0x10, .size_of_code = raw,
		.section_names = {".text", ".rdata", ".data", ".reloc"},
		.section_flags = {0x60000020, 0x40000040, 0xc0000040, 0x42000040},
		.characteristics = 0x0002 /* executable */ | 0x2000 /* dll */ |
		                   (pe32plus ? 0x0020 : 0x0100),
		.image_base = pe32plus ? 0x280000000ull : 0x10000000u,
		.stack_reserve = 0x200000, .stack_commit = 0x1000,
		.heap_reserve = 0x100000, .heap_commit = 0x1000,
		.checksum_set = 1, .checksum = 0x12345,
		.dirs = {[6] = {0x2010, 0x1c}, [12] = {0x2000, 0x10}},
	};
	synth s;
	s.buf = nxt_build_pe_alloc(&spec, &s.len);
	cr_assert_not_null(s.buf);
	return s;
}

/* A read of path that fails with NXP_E_LIEF, saying needle; no child left. */
static inline void expect_lief_error(const char *path, const nxp_lief_limits *lim,
                                     const char *needle)
{
	nxp_lief_view v;
	nxp_error err = { 0 };
	int rc = nxp_lief_read(path, &v, lim, &err);
	cr_assert_eq(rc, NXP_E_LIEF, "%s: rc %d (%s)", path, rc, err.msg);
	cr_assert_eq(err.code, NXP_E_LIEF);
	cr_assert(strstr(err.msg, needle), "%s: message '%s' lacks '%s'", path, err.msg, needle);
	assert_no_children();
}

#endif
