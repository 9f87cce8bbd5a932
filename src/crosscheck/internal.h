/* SPDX-License-Identifier: Apache-2.0 */
/* Library-internal: test and diagnostic hooks of the LIEF worker's client
 * (src/crosscheck/lief.c). Not part of the API: unit tests use them to prove
 * the worker's lifecycle (timeouts, recycling, reaping). */
#ifndef NXPATCH_SRC_CROSSCHECK_INTERNAL_H
#define NXPATCH_SRC_CROSSCHECK_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

/* The pid of this process's LIEF worker, 0 when none runs. */
pid_t nxpi_lief_worker_pid(void);
/* Replace the worker after n requests instead of
 * NXP_LIEF_WORKER_MAX_REQUESTS (0 restores that). */
void nxpi_lief_test_set_max_requests(unsigned n);
/* The next request only: the worker sleeps ms before parsing, so tests can
 * prove timeout handling. */
void nxpi_lief_test_delay(uint32_t ms);

#endif
