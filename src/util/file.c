/* SPDX-License-Identifier: Apache-2.0 */
/* Reading inputs once, writing outputs through a synced temporary file. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nxpatch/file.h"
#include "nxpatch/pe.h"
#include "util/guard.h"
#include "util/file.h"

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

const char *nxpi_file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "regular file";
	case S_IFDIR: return "directory";
	case S_IFIFO: return "FIFO";
	case S_IFCHR: return "character device";
	case S_IFBLK: return "block device";
	case S_IFSOCK: return "socket";
	case S_IFLNK: return "symbolic link";
	default: return "special file";
	}
}

/* Wait for the exclusive lock on fd, polling so that a stuck holder gives a
 * clear error instead of a hang. */
static int lock_wait(int fd, nxp_error *err)
{
	long waited_us = 0, step_us = 500;
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return nxp_fail(err, NXP_E_IO, "cannot lock: %s", strerror(errno));
		if (waited_us >= (long)NXP_LOCK_WAIT_MS * 1000)
			return nxp_fail(err, NXP_E_LOCKED,
			                "another process is writing it (it holds the file's lock); "
			                "gave up after %d s", NXP_LOCK_WAIT_MS / 1000);
		usleep((useconds_t)step_us);
		waited_us += step_us;
		if (step_us < 50000)
			step_us *= 2;
	}
	return NXP_OK;
}

/* Open path read-only as the regular file st describes (without blocking on
 * a FIFO swapped in meanwhile); with NXP_FILE_LOCK, lock it and make sure the
 * path still names the locked inode. */
static int open_regular(const char *path, unsigned flags, struct stat *st, int *out,
                        nxp_error *err)
{
	int lock = (flags & NXP_FILE_LOCK) != 0;
	for (int attempt = 0; attempt < 100; attempt++) {
		if ((lock ? lstat(path, st) : stat(path, st)) != 0)
			return nxp_fail(err, NXP_E_IO, "cannot open: %s", strerror(errno));
		if (S_ISLNK(st->st_mode)) {
			char to[4096];
			ssize_t n = readlink(path, to, sizeof(to) - 1);
			to[n > 0 ? n : 0] = '\0';
			return nxp_fail(err, NXP_E_FILE_TYPE,
			                "is a symbolic link (to %s); replacing it in place would turn the "
			                "link into a file: give the file it points to",
			                n > 0 ? to : "?");
		}
		if (!S_ISREG(st->st_mode))
			return nxp_fail(err, NXP_E_FILE_TYPE, "is a %s, not a regular file",
			                nxpi_file_type_name(st->st_mode));
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
		                        (lock ? O_NOFOLLOW : 0));
		if (fd < 0)
			return nxp_fail(err, NXP_E_IO, "cannot open: %s", strerror(errno));
		struct stat fst;
		if (fstat(fd, &fst) != 0) {
			int e = errno;
			close(fd);
			return nxp_fail(err, NXP_E_IO, "cannot stat: %s", strerror(e));
		}
		if (!S_ISREG(fst.st_mode) || fst.st_dev != st->st_dev || fst.st_ino != st->st_ino) {
			close(fd);
			if (!S_ISREG(fst.st_mode))
				return nxp_fail(err, NXP_E_FILE_TYPE, "is a %s, not a regular file",
				                nxpi_file_type_name(fst.st_mode));
			continue; /* replaced between stat and open: look again */
		}
		if (lock) {
			int rc = lock_wait(fd, err);
			if (rc) {
				close(fd);
				return rc;
			}
			/* Another writer may have renamed a new file over the path
			 * while we waited: then this inode is not the file any more. */
			struct stat now;
			if (lstat(path, &now) != 0 || now.st_dev != fst.st_dev ||
			    now.st_ino != fst.st_ino) {
				close(fd);
				continue;
			}
			if (fstat(fd, &fst) != 0) {
				int e = errno;
				close(fd);
				return nxp_fail(err, NXP_E_IO, "cannot stat: %s", strerror(e));
			}
		}
		*st = fst;
		*out = fd;
		return NXP_OK;
	}
	return nxp_fail(err, NXP_E_CHANGED, "the file keeps being replaced while it is opened");
}

int nxp_file_load(nxp_file *f, const char *path, nxp_error *err)
{
	return nxp_file_load_flags(f, path, 0, err);
}

int nxp_file_load_flags(nxp_file *f, const char *path, unsigned flags, nxp_error *err)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->guard = -1;
	struct stat st;
	int fd = -1;
	int rc = open_regular(path, flags, &st, &fd, err);
	if (rc)
		return rc;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->mode = st.st_mode;
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	f->nlink = st.st_nlink;
	f->mtime_ns = mtime_ns(&st);
	if ((uint64_t)st.st_size > NXP_MAX_FILE_SIZE) {
		close(fd);
		return nxp_fail(err, NXP_E_TOO_LARGE, "file too large (%lld bytes, limit %llu)",
		                (long long)st.st_size, (unsigned long long)NXP_MAX_FILE_SIZE);
	}
	f->len = (size_t)st.st_size;
	f->fd = fd;
	f->locked = (flags & NXP_FILE_LOCK) != 0;
	if (f->len == 0) {
		f->data = (const uint8_t *)"";
		return NXP_OK;
	}
	void *p = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(fd);
		f->fd = -1;
		f->locked = 0;
		return nxp_fail(err, NXP_E_IO, "cannot map: %s", strerror(e));
	}
	madvise(p, f->len, MADV_SEQUENTIAL);
	f->data = p;
	f->mapped = 1;
	f->guard = nxpi_guard_add(p, f->len);
	return NXP_OK;
}

void nxp_file_unload(nxp_file *f)
{
	if (f->mapped) {
		nxpi_guard_remove(f->guard);
		munmap((void *)f->data, f->len);
	}
	if (f->fd >= 0)
		close(f->fd); /* releases the lock */
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->guard = -1;
}

int nxpi_file_intact(const nxp_file *f)
{
	if (nxpi_guard_faulted(f->guard))
		return 0;
	struct stat st;
	if (f->fd >= 0 && (fstat(f->fd, &st) != 0 || (size_t)st.st_size != f->len ||
	                   mtime_ns(&st) != f->mtime_ns))
		return 0;
	return 1;
}

uint64_t nxpi_fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define TMP_LONG_FORM 16 /* ".", ".nxpatch-", "XXXXXX" around the name */

void nxpi_tmpfile_prefix(const char *base, char *out, size_t outlen)
{
	if (strlen(base) + TMP_LONG_FORM <= NAME_MAX)
		snprintf(out, outlen, ".%s.nxpatch-", base);
	else
		snprintf(out, outlen, ".nxpatch-%016llx-", (unsigned long long)nxpi_fnv1a(base));
}

int nxpi_tmpfile_is_name(const char *name)
{
	size_t len = strlen(name);
	if (name[0] != '.')
		return 0;
	if (len > TMP_LONG_FORM && !strncmp(name + len - 15, ".nxpatch-", 9))
		return 1;
	if (len != 32 || strncmp(name, ".nxpatch-", 9) || name[25] != '-')
		return 0;
	for (int i = 9; i < 25; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return 0;
	return 1;
}

int nxpi_tmpfile_open(nxpi_tmpfile *t, const char *target, mode_t mode, nxp_error *err)
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
	int rc = nxpi_tmpfile_open_at(t, dfd, d, b, mode, err);
	close(dfd);
	if (!rc)
		strcpy(t->target, target);
	return rc;
}

/* mkostemp() in a directory descriptor: ".<name>.nxpatch-XXXXXX", or the
 * short form for long names (nxpi_tmpfile_prefix). */
static int create_tmp_at(nxpi_tmpfile *t, const char *name)
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
		char prefix[NAME_MAX + 32];
		nxpi_tmpfile_prefix(name, prefix, sizeof(prefix));
		size_t pl = strlen(prefix);
		if (pl + 7 > sizeof(t->tmp_name)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(t->tmp_name, prefix, pl);
		memcpy(t->tmp_name + pl, sfx, 7);
		int fd = openat(t->dirfd, t->tmp_name,
		                O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

int nxpi_tmpfile_open_at(nxpi_tmpfile *t, int dirfd, const char *dir_display, const char *name,
                        mode_t mode, nxp_error *err)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->dirfd = -1;
	size_t nlen = strlen(name);
	if (!nlen || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return nxp_fail(err, NXP_E_USAGE, "not a file name: %s", name);
	if (nlen >= sizeof(t->target_name) ||
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
		nxpi_tmpfile_discard(t);
		return nxp_fail(err, NXP_E_IO, "cannot set mode of temporary file: %s", strerror(e));
	}
	return NXP_OK;
}

/* Account for n appended bytes; start writeback once a chunk is complete.
 * Advisory: a failure here shows up in nxpi_tmpfile_sync's fsync. */
static void appended(nxpi_tmpfile *t, uint64_t n)
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

int nxpi_tmpfile_write(nxpi_tmpfile *t, const void *buf, size_t len, nxp_error *err)
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

int nxpi_file_reopen(const nxp_file *f, const char *path)
{
	if (!f->mapped)
		return -1;
	if (f->fd >= 0)
		return fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
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

int nxpi_tmpfile_copy(nxpi_tmpfile *t, int *src_fd, const uint8_t *src, uint64_t off,
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
	return len ? nxpi_tmpfile_write(t, src + off, (size_t)len, err) : NXP_OK;
}

int nxpi_tmpfile_pwrite(nxpi_tmpfile *t, uint64_t off, const void *buf, size_t len,
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
	nxpi_copy_job *j = arg;
	j->rc = nxpi_tmpfile_copy(j->t, &j->src_fd, j->src, j->off, j->len, &j->err);
	if (j->src_fd >= 0)
		close(j->src_fd);
	j->src_fd = -1;
	return NULL;
}

void nxpi_tmpfile_copy_start(nxpi_copy_job *j, nxpi_tmpfile *t, int src_fd, const uint8_t *src,
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

int nxpi_tmpfile_copy_join(nxpi_copy_job *j, nxp_error *err)
{
	if (j->threaded) {
		pthread_join(j->thread, NULL);
		j->threaded = 0;
	}
	if (j->rc && err)
		*err = j->err;
	return j->rc;
}

int nxpi_tmpfile_sync(nxpi_tmpfile *t, nxp_error *err)
{
	if (fsync(t->fd) != 0)
		return nxp_fail(err, NXP_E_IO, "cannot sync %s: %s", t->path, strerror(errno));
	return NXP_OK;
}

int nxpi_tmpfile_commit(nxpi_tmpfile *t, nxp_error *err)
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

void nxpi_tmpfile_discard(nxpi_tmpfile *t)
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
