/* SPDX-License-Identifier: Apache-2.0 */
/* The durable-write boundaries of the in-place writers (the journal's
 * write and fsync, --in-place=bytes' pwrite and fsync), each through one of
 * these wrappers, so that a test build can fail or crash at any of them.
 *
 * Only a build configured with NXP_TEST_HOOKS (CMake option, off by default;
 * scripts/test.sh turns it on) compiles the injector (src/util/fault.c);
 * elsewhere the wrappers are the plain system calls. In a test build the
 * environment arms it:
 *   NXP_FAULT_LOG=FILE   append "N op" for every boundary reached (counting)
 *   NXP_FAULT_AT=N       at the Nth boundary (1-based), before the call:
 *   NXP_FAULT_MODE=kill  SIGKILL (a crash: the page cache keeps what was
 *                        written), the default;
 *                  power a power cut: every write since the last fsync of
 *                        its file is undone first (the journal cut back, old
 *                        bytes put back), then SIGKILL;
 *                  fail  the call fails with EIO and the run goes on. */
#ifndef NXP_UTIL_FAULT_H
#define NXP_UTIL_FAULT_H

#include <sys/types.h>
#include <unistd.h>

#ifdef NXP_TEST_HOOKS
ssize_t nxpi_io_write(int fd, const void *buf, size_t len);
ssize_t nxpi_io_pwrite(int fd, const void *buf, size_t len, off_t off);
int nxpi_io_fsync(int fd);
/* The descriptor is being closed: forget what the injector tracks for it. */
void nxpi_io_forget(int fd);
#define NXP_HAVE_FAULT_INJECTION 1
#else
static inline ssize_t nxpi_io_write(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len);
}
static inline ssize_t nxpi_io_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}
static inline int nxpi_io_fsync(int fd)
{
	return fsync(fd);
}
static inline void nxpi_io_forget(int fd)
{
	(void)fd;
}
#define NXP_HAVE_FAULT_INJECTION 0
#endif

#endif
