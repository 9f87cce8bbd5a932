/* SPDX-License-Identifier: Apache-2.0 */
/* Reading inputs once, writing outputs through a synced temporary file. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nxpatch/file.h"
#include "nxpatch/pe.h"

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int nxp_file_load(nxp_file *f, const char *path, nxp_error *err)
{
	memset(f, 0, sizeof(*f));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nxp_fail(err, NXP_E_IO, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return nxp_fail(err, NXP_E_IO, "cannot stat: %s", strerror(e));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return nxp_fail(err, NXP_E_IO, "is a directory");
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->mode = st.st_mode;
	f->mtime_ns = mtime_ns(&st);
	if (S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > NXP_MAX_FILE_SIZE) {
			close(fd);
			return nxp_fail(err, NXP_E_TOO_LARGE,
			                "file too large (%lld bytes, limit %llu)",
			                (long long)st.st_size,
			                (unsigned long long)NXP_MAX_FILE_SIZE);
		}
		f->len = (size_t)st.st_size;
		if (f->len == 0) {
			close(fd);
			f->data = (const uint8_t *)"";
			return NXP_OK;
		}
		void *p = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			return nxp_fail(err, NXP_E_IO, "cannot map: %s", strerror(errno));
		madvise(p, f->len, MADV_SEQUENTIAL);
		f->data = p;
		f->mapped = 1;
		return NXP_OK;
	}
	/* A pipe or device: read it, bounded by the size limit. */
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	for (;;) {
		if (len == cap) {
			if (cap >= NXP_MAX_FILE_SIZE) {
				free(buf);
				close(fd);
				return nxp_fail(err, NXP_E_TOO_LARGE, "input larger than %llu bytes",
				                (unsigned long long)NXP_MAX_FILE_SIZE);
			}
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				close(fd);
				return nxp_fail(err, NXP_E_NOMEM, "out of memory");
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return nxp_fail(err, NXP_E_IO, "cannot read: %s", strerror(e));
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	f->data = buf;
	f->len = len;
	return NXP_OK;
}

void nxp_file_unload(nxp_file *f)
{
	if (f->mapped)
		munmap((void *)f->data, f->len);
	else if (f->len)
		free((void *)f->data);
	memset(f, 0, sizeof(*f));
}

int nxp_file_unchanged(const nxp_file *f, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return 0;
	return st.st_dev == f->dev && st.st_ino == f->ino && (size_t)st.st_size == f->len &&
	       mtime_ns(&st) == f->mtime_ns;
}

int nxp_tmpfile_open(nxp_tmpfile *t, const char *target, mode_t mode, nxp_error *err)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->dirfd = -1;
	if (strlen(target) >= sizeof(t->target) - 32)
		return nxp_fail(err, NXP_E_USAGE, "path too long");
	char dir[sizeof(t->target)], base[sizeof(t->target)];
	strcpy(dir, target);
	strcpy(base, target);
	char *d = dirname(dir), *b = basename(base);
	int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return nxp_fail(err, NXP_E_IO, "cannot create a temporary file in %s: %s", d,
		                strerror(errno));
	int rc = nxp_tmpfile_open_at(t, dfd, d, b, mode, err);
	close(dfd);
	if (!rc)
		strcpy(t->target, target);
	return rc;
}

/* mkostemp() in a directory descriptor: ".<name>.nxpatch-XXXXXX". */
static int create_tmp_at(nxp_tmpfile *t, const char *name)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40) ^
	             (uint64_t)(uintptr_t)t;
	for (int tries = 0; tries < 100; tries++) {
		char sfx[7];
		for (int i = 0; i < 6; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			sfx[i] = set[(x >> 33) % (sizeof(set) - 1)];
		}
		sfx[6] = '\0';
		snprintf(t->tmp_name, sizeof(t->tmp_name), ".%s.nxpatch-%s", name, sfx);
		int fd = openat(t->dirfd, t->tmp_name,
		                O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

int nxp_tmpfile_open_at(nxp_tmpfile *t, int dirfd, const char *dir_display, const char *name,
                        mode_t mode, nxp_error *err)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->dirfd = -1;
	size_t nlen = strlen(name);
	if (!nlen || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return nxp_fail(err, NXP_E_USAGE, "not a file name: %s", name);
	if (nlen + 17 >= sizeof(t->tmp_name) ||
	    strlen(dir_display) + nlen + 20 >= sizeof(t->path))
		return nxp_fail(err, NXP_E_USAGE, "path too long");
	strcpy(t->target_name, name);
	snprintf(t->target, sizeof(t->target), "%s/%s", dir_display, name);
	t->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (t->dirfd < 0)
		return nxp_fail(err, NXP_E_IO, "cannot create a temporary file in %s: %s",
		                dir_display, strerror(errno));
	t->fd = create_tmp_at(t, name);
	if (t->fd < 0) {
		int e = errno;
		close(t->dirfd);
		t->dirfd = -1;
		t->tmp_name[0] = '\0';
		return nxp_fail(err, NXP_E_IO, "cannot create a temporary file in %s: %s",
		                dir_display, strerror(e));
	}
	snprintf(t->path, sizeof(t->path), "%s/%s", dir_display, t->tmp_name);
	if (fchmod(t->fd, mode & 07777) != 0) {
		int e = errno;
		nxp_tmpfile_discard(t);
		return nxp_fail(err, NXP_E_IO, "cannot set mode of temporary file: %s", strerror(e));
	}
	return NXP_OK;
}

/* Account for n appended bytes; start writeback once a chunk is complete.
 * Advisory: a failure here shows up in nxp_tmpfile_sync's fsync. */
static void appended(nxp_tmpfile *t, uint64_t n)
{
	t->written += n;
	if (t->written - t->flushing >= NXP_WRITEBACK_CHUNK) {
		sync_file_range(t->fd, (off64_t)t->flushing, (off64_t)(t->written - t->flushing),
		                SYNC_FILE_RANGE_WRITE);
		t->flushing = t->written;
	}
}

/* At most one writeback chunk per call, so writeback starts while the rest
 * is still being written. */
static size_t step(uint64_t len)
{
	return len > NXP_WRITEBACK_CHUNK ? (size_t)NXP_WRITEBACK_CHUNK : (size_t)len;
}

int nxp_tmpfile_write(nxp_tmpfile *t, const void *buf, size_t len, nxp_error *err)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t w = write(t->fd, p, step(len));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return nxp_fail(err, NXP_E_IO, "cannot write %s: %s", t->path,
			                strerror(errno));
		p += w;
		len -= (size_t)w;
		appended(t, (uint64_t)w);
	}
	return NXP_OK;
}

int nxp_file_reopen(const nxp_file *f, const char *path)
{
	if (!f->mapped)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != f->dev ||
	    st.st_ino != f->ino || (uint64_t)st.st_size != f->len) {
		close(fd);
		return -1;
	}
	return fd;
}

int nxp_tmpfile_copy(nxp_tmpfile *t, int *src_fd, const uint8_t *src, uint64_t off,
                     uint64_t len, nxp_error *err)
{
	while (len && *src_fd >= 0) {
		loff_t so = (loff_t)off;
		ssize_t n = copy_file_range(*src_fd, &so, t->fd, NULL, step(len), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* EXDEV, EINVAL, ENOSYS, a short file...: write() the rest */
			close(*src_fd);
			*src_fd = -1;
			break;
		}
		off += (uint64_t)n;
		len -= (uint64_t)n;
		appended(t, (uint64_t)n);
	}
	return len ? nxp_tmpfile_write(t, src + off, (size_t)len, err) : NXP_OK;
}

int nxp_tmpfile_pwrite(nxp_tmpfile *t, uint64_t off, const void *buf, size_t len,
                       nxp_error *err)
{
	const uint8_t *p = buf;
	if (len > t->written || off > t->written - len)
		return nxp_fail(err, NXP_E_INTERNAL, "patch at 0x%llx past the written 0x%llx bytes",
		                (unsigned long long)off, (unsigned long long)t->written);
	while (len) {
		ssize_t w = pwrite(t->fd, p, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return nxp_fail(err, NXP_E_IO, "cannot write %s: %s", t->path,
			                w < 0 ? strerror(errno) : "short write");
		p += w;
		off += (uint64_t)w;
		len -= (size_t)w;
	}
	return NXP_OK;
}

static void *copy_job_run(void *arg)
{
	nxp_copy_job *j = arg;
	j->rc = nxp_tmpfile_copy(j->t, &j->src_fd, j->src, j->off, j->len, &j->err);
	if (j->src_fd >= 0)
		close(j->src_fd);
	j->src_fd = -1;
	return NULL;
}

void nxp_tmpfile_copy_start(nxp_copy_job *j, nxp_tmpfile *t, int src_fd, const uint8_t *src,
                            uint64_t off, uint64_t len)
{
	memset(j, 0, sizeof(*j));
	j->t = t;
	j->src_fd = src_fd;
	j->src = src;
	j->off = off;
	j->len = len;
	if (pthread_create(&j->thread, NULL, copy_job_run, j) == 0)
		j->threaded = 1;
	else
		copy_job_run(j);
}

int nxp_tmpfile_copy_join(nxp_copy_job *j, nxp_error *err)
{
	if (j->threaded) {
		pthread_join(j->thread, NULL);
		j->threaded = 0;
	}
	if (j->rc && err)
		*err = j->err;
	return j->rc;
}

int nxp_tmpfile_sync(nxp_tmpfile *t, nxp_error *err)
{
	if (fsync(t->fd) != 0)
		return nxp_fail(err, NXP_E_IO, "cannot sync %s: %s", t->path, strerror(errno));
	return NXP_OK;
}

int nxp_tmpfile_commit(nxp_tmpfile *t, nxp_error *err)
{
	if (t->fd < 0)
		return nxp_fail(err, NXP_E_INTERNAL, "no temporary file to rename");
	if (renameat(t->dirfd, t->tmp_name, t->dirfd, t->target_name) != 0)
		return nxp_fail(err, NXP_E_IO, "cannot rename %s to %s: %s", t->path, t->target,
		                strerror(errno));
	t->path[0] = '\0';
	t->tmp_name[0] = '\0';
	close(t->fd);
	t->fd = -1;
	fsync(t->dirfd);
	close(t->dirfd);
	t->dirfd = -1;
	return NXP_OK;
}

void nxp_tmpfile_discard(nxp_tmpfile *t)
{
	/* The directory descriptor is open exactly while fd is. */
	if (t->fd >= 0) {
		close(t->fd);
		if (t->tmp_name[0])
			unlinkat(t->dirfd, t->tmp_name, 0);
		close(t->dirfd);
	}
	t->fd = -1;
	t->dirfd = -1;
	t->path[0] = '\0';
	t->tmp_name[0] = '\0';
}
