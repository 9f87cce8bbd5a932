/* SPDX-License-Identifier: Apache-2.0 */
/* Library-internal part of src/util/file.c: the input file's identity checks
 * and the temporary output file behind nxp_apply() (src/write/). */
#ifndef NXPATCH_SRC_UTIL_FILE_H
#define NXPATCH_SRC_UTIL_FILE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "nxpatch/error.h"
#include "nxpatch/file.h"

/* 1 when no read of f's mapping faulted (the file shrank under it) and the
 * open file still has f's size and mtime. */
int nxpi_file_intact(const nxp_file *f);

/* A second read-only descriptor for the file that f maps, for
 * nxpi_tmpfile_copy(): -1 when f is not a mapping or path no longer names
 * the same regular file (device, inode, size). The caller closes it. */
int nxpi_file_reopen(const nxp_file *f, const char *path);

/* "regular file", "directory", "FIFO", "character device", ... for st_mode. */
const char *nxpi_file_type_name(mode_t mode);

/* Safe replacement of `target`: a temporary file in target's directory,
 * written, fsynced, handed to a verifier, then renamed into place. Nothing
 * happens to target unless commit succeeds. The temporary file is named
 * ".NAME.nxpatch-XXXXXX" after the target's NAME, or, when that would not
 * fit in NAME_MAX (255 bytes), ".nxpatch-HHHHHHHHHHHHHHHH-XXXXXX" with H the
 * 64-bit FNV-1a hash of NAME in hex (nxpi_tmpfile_prefix). */
typedef struct nxpi_tmpfile {
	int fd;
	int dirfd;                  /* the target's directory; open while fd is */
	uint64_t written;           /* bytes appended so far */
	uint64_t flushing;          /* writeback started for [0, flushing) */
	char path[4096];            /* the temporary file (messages, LIEF) */
	char target[4096];          /* the target (messages) */
	char tmp_name[256];         /* the temporary file's name in dirfd */
	char target_name[256];      /* the target's name in dirfd */
} nxpi_tmpfile;

/* Appends start the disk writeback of every NXP_WRITEBACK_CHUNK bytes as
 * they are written (sync_file_range, without waiting), so the disk writes
 * while the rest is still being copied and nxpi_tmpfile_sync() waits only
 * for the tail: fsync of a big file costs about as much as writing it again,
 * and this overlaps the two. */
#define NXP_WRITEBACK_CHUNK ((uint64_t)4 << 20)

int nxpi_tmpfile_open(nxpi_tmpfile *t, const char *target, mode_t mode, nxp_error *err);
/* The name prefix of the temporary files for a target named base (its last
 * path component): ".base.nxpatch-" or ".nxpatch-HHHHHHHHHHHHHHHH-"; the
 * six random characters follow it. */
void nxpi_tmpfile_prefix(const char *base, char *out, size_t outlen);
/* 1 when name (a last path component) is a temporary file name of either
 * form. */
int nxpi_tmpfile_is_name(const char *name);
/* The same for the target `name` (one path component) in the directory
 * dirfd, which is not resolved again: creating, renaming and removing go
 * through dirfd (openat/renameat/unlinkat), so a symbolic link planted in
 * the path after dirfd was opened cannot redirect the output. dir_display
 * is the directory's name for messages (and for the LIEF worker, which
 * only reads). dirfd is duplicated; the caller keeps its own. */
int nxpi_tmpfile_open_at(nxpi_tmpfile *t, int dirfd, const char *dir_display, const char *name,
                        mode_t mode, nxp_error *err);
int nxpi_tmpfile_write(nxpi_tmpfile *t, const void *buf, size_t len, nxp_error *err);
/* Append src[off, off+len) to t, where src maps the file *src_fd reads:
 * copy_file_range() while it works (a copy in the kernel: the bytes are
 * never faulted into this process, and filesystems with reflinks may share
 * them), then write() from src for the rest. When copy_file_range fails
 * (another filesystem, an old kernel, a short file), *src_fd is closed and
 * set to -1. *src_fd < 0: write() only. */
int nxpi_tmpfile_copy(nxpi_tmpfile *t, int *src_fd, const uint8_t *src, uint64_t off,
                     uint64_t len, nxp_error *err);
/* Write len bytes at offset off of what was already appended (a field to
 * patch after a copy). */
int nxpi_tmpfile_pwrite(nxpi_tmpfile *t, uint64_t off, const void *buf, size_t len,
                       nxp_error *err);

/* nxpi_tmpfile_copy on a second thread, so the caller can hash or verify
 * while the kernel copies and the disk writes. Between start and join the
 * job owns t and src_fd (it closes src_fd): the caller only reads src.
 * When no thread can be started the copy runs in start. */
typedef struct nxpi_copy_job {
	nxpi_tmpfile *t;
	int src_fd;
	const uint8_t *src;
	uint64_t off, len;
	int rc;
	nxp_error err;
	int threaded;
	pthread_t thread;
} nxpi_copy_job;

void nxpi_tmpfile_copy_start(nxpi_copy_job *j, nxpi_tmpfile *t, int src_fd, const uint8_t *src,
                            uint64_t off, uint64_t len);
/* Wait for the copy; its result, with its message in err. */
int nxpi_tmpfile_copy_join(nxpi_copy_job *j, nxp_error *err);

/* fsync the data; the file stays open and readable at t->path. */
int nxpi_tmpfile_sync(nxpi_tmpfile *t, nxp_error *err);
/* rename over target and fsync the directory. */
int nxpi_tmpfile_commit(nxpi_tmpfile *t, nxp_error *err);
/* close and unlink; safe to call after commit or twice. */
void nxpi_tmpfile_discard(nxpi_tmpfile *t);

/* FNV-1a, 64 bits, of a NUL-terminated string: short temporary names
 * (util/file.c) and --shard slices (cli/inputs.c). */
uint64_t nxpi_fnv1a(const char *s);

#endif
