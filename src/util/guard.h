/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: reads of mapped files that survive the file being truncated.
 *
 * A read of a file mapping past the file's current end raises SIGBUS, which
 * would kill the whole batch. Every mapping nxpatch reads is registered
 * here; a SIGBUS inside one replaces the faulting pages with zero pages and
 * marks the mapping faulted, so the code that was reading goes on (reading
 * zeros) and its caller fails the image with "file changed while it was
 * processed" instead. A SIGBUS outside every registered mapping gets the
 * previous disposition (the process dies as before). */
#ifndef NXP_UTIL_GUARD_H
#define NXP_UTIL_GUARD_H

#include <stddef.h>

/* Register [p, p+len); returns a slot (>= 0), or -1 when every slot is in
 * use (the mapping is then read unguarded). */
int nxpi_guard_add(const void *p, size_t len);
/* Forget a slot (before munmap). -1 is ignored. */
void nxpi_guard_remove(int slot);
/* 1 when a read of the slot's mapping faulted since it was added. */
int nxpi_guard_faulted(int slot);

#endif
