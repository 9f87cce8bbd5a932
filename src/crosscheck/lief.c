/* SPDX-License-Identifier: Apache-2.0 */
/* LIEF's view of a file, from the nxpatch-lief-worker executable
 * (src/lief/lief_worker.c) run as a limited worker (src/util/worker.h).
 * No LIEF headers here: the nxpatch library does not link LIEF at all. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "nxpatch/crosscheck.h"
#include "util/worker.h"
#include "crosscheck/internal.h"
#include "crosscheck/lief_wire.h"

static nxpi_worker lief = NXPI_WORKER_INIT("lief child", NXP_LIEF_WORKER_PROGRAM,
                                         NXP_LIEF_WORKER_ENV, NXP_LIEF_WORKER_MAX_REQUESTS,
                                         NXP_LIEF_WORKER_MAX_GROWTH);

/* The path of the request in flight, for the "cannot open" message. */
static char rq_path[PATH_MAX];

/* nxpi_lief_test_delay(): the next request's delay. */
static uint32_t test_delay_ms;

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

int nxp_lief_begin(const char *path, const nxp_lief_limits *lim, nxp_error *err)
{
	if (!path || !*path)
		return nxp_fail(err, NXP_E_USAGE, "nxp_lief_begin: missing path");
	if (nxpi_worker_pid(&lief) && lief.busy)
		return nxp_fail(err, NXP_E_USAGE, "nxp_lief_begin: a request is already in flight");
	size_t len = strlen(path);
	if (len >= PATH_MAX)
		return nxp_fail(err, NXP_E_LIEF, "lief child cannot open %s: %s", path,
		                strerror(ENAMETOOLONG));
	uint32_t timeout = lim && lim->timeout_ms ? lim->timeout_ms : NXP_LIEF_DEFAULT_TIMEOUT_MS;
	uint64_t memory = lim && lim->memory ? lim->memory : default_memory(path);
	uint32_t delay = test_delay_ms;
	test_delay_ms = 0;
	int rc = nxpi_worker_begin(&lief, timeout, delay, memory, path, len, err);
	if (rc == NXP_OK)
		memcpy(rq_path, path, len + 1);
	return rc;
}

int nxp_lief_end(nxp_lief_view *out, nxp_error *err)
{
	if (out)
		memset(out, 0, sizeof(*out));
	if (!nxpi_worker_pid(&lief) || !lief.busy)
		return nxp_fail(err, NXP_E_USAGE, "nxp_lief_end: no request in flight");
	static nxp_lief_reply r;
	int rc = nxpi_worker_end(&lief, &r, sizeof(r), err);
	if (rc)
		return rc;
	int bad = r.view.nsections_copied > NXP_MAX_SECTIONS || r.view.ndirs_seen > 1000000;
	if (bad)
		nxpi_worker_stop(&lief);
	if (r.open_errno)
		return nxp_fail(err, NXP_E_LIEF, "lief child cannot open %s: %s", rq_path,
		                strerror(r.open_errno));
	if (bad)
		return nxp_fail(err, NXP_E_LIEF, "lief child sent an inconsistent record");
	if (out)
		*out = r.view;
	return NXP_OK;
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
	nxpi_worker_stop(&lief);
	lief.busy = 0;
}

pid_t nxpi_lief_worker_pid(void)
{
	return nxpi_worker_pid(&lief);
}

void nxpi_lief_test_set_max_requests(unsigned n)
{
	lief.max_requests = n ? n : NXP_LIEF_WORKER_MAX_REQUESTS;
}

void nxpi_lief_test_delay(uint32_t ms)
{
	test_delay_ms = ms;
}
