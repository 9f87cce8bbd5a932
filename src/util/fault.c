/* SPDX-License-Identifier: Apache-2.0 */
/* Test builds only: fault injection at the durable-write boundaries (see
 * fault.h). Not compiled into a build without NXP_TEST_HOOKS. */
#ifdef NXP_TEST_HOOKS
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/fault.h"

/* A write not yet made durable by an fsync of its file: what a power cut
 * would lose. */
typedef struct pending {
	int fd;
	int append;               /* a write() on O_APPEND: cut the file back to size */
	off_t size;
	off_t off;                /* a pwrite(): put old[0, len) back at off */
	size_t len;
	unsigned char *old;
} pending;

#define MAX_PENDING 256

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pending pend[MAX_PENDING];
static size_t npend;
static long count;

static void forget_locked(int fd)
{
	size_t k = 0;
	for (size_t i = 0; i < npend; i++) {
		if (pend[i].fd == fd)
			free(pend[i].old);
		else
			pend[k++] = pend[i];
	}
	npend = k;
}

/* The power cut: newest first, every pending write undone. */
static void power_cut(void)
{
	for (size_t i = npend; i-- > 0;) {
		pending *p = &pend[i];
		if (p->append) {
			if (ftruncate(p->fd, p->size) != 0)
				_exit(99);
		} else if (pwrite(p->fd, p->old, p->len, p->off) != (ssize_t)p->len) {
			_exit(99);
		}
		fsync(p->fd);
	}
}

/* 0: go on; -1: fail the call with EIO. Never returns in kill/power mode. */
static int boundary(const char *op)
{
	long n = ++count;
	const char *log = getenv("NXP_FAULT_LOG");
	if (log) {
		FILE *f = fopen(log, "a");
		if (f) {
			fprintf(f, "%ld %s %d\n", n, op, (int)getpid());
			fclose(f);
		}
	}
	const char *at = getenv("NXP_FAULT_AT");
	if (!at || strtol(at, NULL, 10) != n)
		return 0;
	const char *mode = getenv("NXP_FAULT_MODE");
	if (mode && !strcmp(mode, "fail")) {
		errno = EIO;
		return -1;
	}
	if (mode && !strcmp(mode, "power"))
		power_cut();
	kill(getpid(), SIGKILL);
	_exit(98);
}

static void track(int fd, int append, off_t off, size_t len)
{
	if (npend >= MAX_PENDING)
		_exit(97); /* the test cannot model this run: fail it loudly */
	pending p = {.fd = fd, .append = append, .off = off, .len = len};
	if (append) {
		struct stat st;
		if (fstat(fd, &st) != 0)
			_exit(97);
		p.size = st.st_size;
	} else {
		p.old = malloc(len ? len : 1);
		if (!p.old)
			_exit(97);
		ssize_t r = pread(fd, p.old, len, off);
		if (r < 0)
			_exit(97);
		memset(p.old + r, 0, len - (size_t)r);
	}
	pend[npend++] = p;
}

ssize_t nxpi_io_write(int fd, const void *buf, size_t len)
{
	pthread_mutex_lock(&mu);
	ssize_t r = -1;
	if (!boundary("write")) {
		track(fd, 1, 0, 0);
		r = write(fd, buf, len);
	}
	pthread_mutex_unlock(&mu);
	return r;
}

ssize_t nxpi_io_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	pthread_mutex_lock(&mu);
	ssize_t r = -1;
	if (!boundary("pwrite")) {
		track(fd, 0, off, len);
		r = pwrite(fd, buf, len, off);
	}
	pthread_mutex_unlock(&mu);
	return r;
}

int nxpi_io_fsync(int fd)
{
	pthread_mutex_lock(&mu);
	int r = -1;
	if (!boundary("fsync")) {
		r = fsync(fd);
		if (r == 0)
			forget_locked(fd);
	}
	pthread_mutex_unlock(&mu);
	return r;
}

void nxpi_io_forget(int fd)
{
	pthread_mutex_lock(&mu);
	forget_locked(fd);
	pthread_mutex_unlock(&mu);
}
#else
/* ISO C forbids an empty translation unit. */
typedef int nxp_fault_unused;
#endif
