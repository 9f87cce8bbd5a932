/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to src/write/: the pieces of the one write sequence. */
#ifndef NXP_WRITE_INTERNAL_H
#define NXP_WRITE_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "nxpatch/file.h"
#include "nxpatch/write.h"

/* Add a warning to res (dropped when full). */
void nxp_write_warn(nxp_apply_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Owner, group, mode and extended attributes of the temporary file dst_fd:
 * in place, the input's (src, whose fd is open); otherwise the input's mode
 * without setuid/setgid unless the new file has the input's owner/group.
 * Something that cannot be kept is NXP_E_METADATA, or with allow_loss a
 * warning (and setuid/setgid dropped when the owner or group changed). */
int nxp_write_meta(int dst_fd, const nxp_file *src, int in_place, int allow_loss,
                   nxp_apply_result *res, nxp_error *err);

/* fsync the directory that contains path (best effort). */
void nxp_write_sync_dir(const char *path);

/* 64 hex digits of the SHA-256 of buf; 0 or -1. */
int nxp_write_sha256_hex(const uint8_t *buf, size_t len, char hex[65]);
void nxp_write_hex(const uint8_t *b, size_t n, char *out);
/* SHA-256 of the regular file at path (never a FIFO or device; reads are
 * SIGBUS-safe). With st, its lstat identity. 0, or -1 with err. */
int nxp_write_sha256_file(const char *path, char hex[65], nxp_file *keep, nxp_error *err);

/* A "replace" journal record. after and backup may be NULL; rules may be
 * NULL when nrules is 0. */
json_t *nxp_journal_replace_rec(const char *status, const char *path, const char *before,
                                const char *after, const char *backup,
                                const char *const *rules, size_t nrules);

#endif
