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
void nxpi_write_warn(nxp_apply_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Owner, group, mode and extended attributes of the temporary file dst_fd:
 * in place, the input's (src, whose fd is open); otherwise the input's mode
 * without setuid/setgid unless the new file has the input's owner/group.
 * Something that cannot be kept is NXP_E_METADATA, or with allow_loss a
 * warning (and setuid/setgid dropped when the owner or group changed). */
int nxpi_write_meta(int dst_fd, const nxp_file *src, int in_place, int allow_loss,
                   nxp_apply_result *res, nxp_error *err);

struct nxpi_tmpfile;
/* Append the output to t: the input with the plan's edits and its appended
 * section, signed when the plan re-signs (content.c). */
int nxpi_write_content(struct nxpi_tmpfile *t, const nxp_input *in, const nxp_plan *plan,
                      const nxp_apply_options *opt, nxp_error *err);
/* The SHA-256 (hex) the output will have: the input with the planned edits,
 * cut at plan->out_len, the appended section after it (not under
 * re-signing); 0 or -1. */
int nxpi_write_planned_sha256(const nxp_input *in, const nxp_plan *plan, char hex[65]);

/* fsync the directory that contains path (best effort). */
void nxpi_write_sync_dir(const char *path);

/* 64 hex digits of the SHA-256 of buf; 0 or -1. */
int nxpi_write_sha256_hex(const uint8_t *buf, size_t len, char hex[65]);
void nxpi_write_hex(const uint8_t *b, size_t n, char *out);
/* SHA-256 of the regular file at path (never a FIFO or device; reads are
 * SIGBUS-safe). With st, its lstat identity. 0, or -1 with err. */
int nxpi_write_sha256_file(const char *path, char hex[65], nxp_file *keep, nxp_error *err);

/* A "replace" journal record. after and backup may be NULL; rules may be
 * NULL when nrules is 0. */
json_t *nxpi_journal_replace_rec(const char *status, const char *path, const char *before,
                                const char *after, const char *backup,
                                const char *const *rules, size_t nrules);

/* ---- --in-place=bytes (inplace.c) and its undo records ------------------ */

/* One changed run of bytes: what the file held and what it gets. */
#define NXP_PATCH_MAX_EDIT 8
#define NXP_PATCH_MAX_EDITS (NXP_MAX_CHANGES + 2)
typedef struct nxpi_patch_edit {
	uint64_t off;
	uint32_t len;
	uint8_t old[NXP_PATCH_MAX_EDIT], new_[NXP_PATCH_MAX_EDIT];
} nxpi_patch_edit;

/* A "patch" undo record as read back from a journal. */
typedef struct nxpi_patch_rec {
	char id[33];
	char path[4096];
	uint64_t dev, ino, size;
	nxpi_patch_edit edits[NXP_PATCH_MAX_EDITS];
	size_t nedits;
} nxpi_patch_rec;

/* Write the planned bytes into the input file itself (the caller checked
 * that out_path names it and that it is locked): the view verified, the
 * undo record durable, the bytes, fsync, the completion mark. */
int nxpi_write_bytes(const nxp_input *in, const nxp_plan *plan, const nxp_apply_options *opt,
                    nxp_apply_result *res, nxp_error *err);

/* The undo record (status "started": path, dev, ino, size, edits), and the
 * marks that close one (status "written" or "reverted", by id). */
json_t *nxpi_journal_patch_rec(const char *id, const char *path, const nxp_file *f,
                              const nxpi_patch_edit *e, size_t n, const char *const *rules,
                              size_t nrules);
json_t *nxpi_journal_patch_mark(const char *id, const char *status, const char *path);
/* A "patch" record with status "started" read strictly (a journal may be
 * crafted): 0, or -1 with why. */
int nxpi_journal_patch_parse(const json_t *rec, nxpi_patch_rec *out, char *why, size_t whylen);

/* Undo one patch record (revert.c): the file must still be the record's
 * (device, inode, size, a regular file, never through a link) and each
 * edited byte its old or its new value; the old bytes are written back,
 * fsynced and read back. Returns an nxp_revert_event: RESTORED,
 * WOULD_RESTORE (dry run), REFUSED or FAILED with msg, or -1 when the file
 * holds the old bytes already. overlay (dry run) holds the bytes earlier
 * records would have written. */
int nxpi_patch_undo(const nxpi_patch_rec *p, int dry_run, json_t *overlay, char *msg,
                   size_t msglen);

/* ---- LIEF's cross-check of outputs in flight (liefq.c) ------------------ */

/* One output's check. Checks are answered in the order they start: the
 * first goes to LIEF at once, later ones wait in line and are sent as the
 * one before is collected. Each lives in its write job until finished. */
typedef struct nxpi_liefq {
	const char *path;           /* the output LIEF reads (kept by the caller) */
	const nxp_image *img;       /* nxpatch's parse of it, once verified */
	int sent, waiting;
	int rc;                     /* the verdict, once neither sent nor waiting */
	nxp_error err;
	struct nxpi_liefq *next;
} nxpi_liefq;

/* Start q (nothing when cross_check is 0: its verdict is NXP_OK). */
void nxpi_liefq_start(nxpi_liefq *q, int cross_check, const char *path);
/* 1 while q has no verdict yet. */
int nxpi_liefq_pending(const nxpi_liefq *q);
/* The image LIEF's view of q's output is compared with; set before a
 * later check can be finished. */
void nxpi_liefq_ready(nxpi_liefq *q, const nxp_image *img);
/* Wait for q's verdict (collecting older checks first, each for its own
 * job): NXP_OK, NXP_E_LIEF or NXP_E_CROSS_CHECK with q->err. */
int nxpi_liefq_finish(nxpi_liefq *q);
/* Give q up (its output is being removed): out of the line if it waits,
 * else collected and its answer dropped. */
void nxpi_liefq_drop(nxpi_liefq *q);

#endif
