/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: reading an input file once. (Writing goes through nxp_apply(),
 * nxpatch/write.h.) */
#ifndef NXPATCH_FILE_H
#define NXPATCH_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "nxpatch/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A whole input file, mapped read-only. Only regular files are read: a
 * directory, device, FIFO or socket is refused (NXP_E_FILE_TYPE) without
 * being opened for reading, so a FIFO never blocks. Reads of the mapping are
 * safe against the file being truncated meanwhile (a SIGBUS turns into zero
 * pages, and the writer then refuses the image: "file changed while it was
 * processed"). The identity fields let a writer notice the file changed
 * under it. */
typedef struct nxp_file {
	const uint8_t *data;
	size_t len;
	int mapped;                 /* data is an mmap (else a static empty string) */
	dev_t dev;
	ino_t ino;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	nlink_t nlink;
	int64_t mtime_ns;
	int fd;                     /* kept open (read-only) while loaded; -1 when none */
	int locked;                 /* fd holds the exclusive write lock (NXP_FILE_LOCK) */
	int guard;                  /* internal: the SIGBUS guard slot, or -1 */
} nxp_file;

/* nxp_file_load_flags() flags. */
#define NXP_FILE_LOCK 1u        /* about to be replaced in place: refuse a symbolic link
                                   (never follow it), and hold an exclusive lock (flock)
                                   on the file from this read until unload, waiting up to
                                   NXP_LOCK_WAIT_MS for another writer; the lock is taken
                                   on the inode the path names after locking */
#define NXP_LOCK_WAIT_MS 60000

/* Read the regular file path once (mapped, SIGBUS-guarded; flags as above,
 * nxp_file_load = no flags) into *f; nxp_file_unload releases it. Anything
 * but a regular file (a device, a FIFO, a directory) is refused with a
 * message naming it (NXP_E_FILE_TYPE); with NXP_FILE_LOCK a link too. */
int nxp_file_load(nxp_file *f, const char *path, nxp_error *err);
int nxp_file_load_flags(nxp_file *f, const char *path, unsigned flags, nxp_error *err);
void nxp_file_unload(nxp_file *f);

#ifdef __cplusplus
}
#endif
#endif
