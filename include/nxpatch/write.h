/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: the one write path, and the journal.
 *
 * Every command that produces or replaces an image (apply, sign, unsign,
 * and revert's restore) goes through nxp_apply()'s sequence:
 *
 *   target checks (regular files only; never a link, device or FIFO)
 *   -> a temporary file beside the target, written from the input and the
 *      plan (edits, a stripped or a new signature)
 *   -> owner, group, mode and extended attributes (in place: the input's)
 *   -> fsync -> verification of every output byte against the input and the
 *      plan (headers, bytes outside the planned ranges, CheckSum, our own
 *      signature, LIEF), which also gives the output's SHA-256
 *   -> the input must be unchanged (and, in place, still locked and named by
 *      its path) -> a backup (a hard link under a fresh name, never over an
 *      existing file) -> the journal's write-ahead line, durable
 *   -> rename over the target, fsync of the directory -> the journal's
 *      result line.
 *
 * With in_place_bytes the file is patched where it is instead
 * (src/write/inplace.c): the image it will be is verified from a view of
 * its mapping with the planned bytes (headers re-parsed, CheckSum computed
 * incrementally, LIEF on the view when asked), then an undo record ("op":
 * "patch": path, device, inode, size, old and new bytes) is made durable in
 * the journal, the bytes are written, fsynced and read back, and a
 * completion mark follows. nxp_recover() (the next run) or nxp_revert()
 * puts the old bytes back after a crash.
 *
 * On any failure before the rename the target is untouched, the temporary
 * file removed and a backup made for it unlinked. Journal records are JSON
 * objects, one per line, with an "op" naming the record type; revert
 * dispatches on it, so new kinds of undo records can be added. */
#ifndef NXPATCH_WRITE_H
#define NXPATCH_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "nxpatch/error.h"
#include "nxpatch/input.h"
#include "nxpatch/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* jansson's JSON value (include <jansson.h> to use one): the library
 * returns and takes them, and its users need not include jansson. */
typedef struct json_t json_t;

struct nxp_signer;
struct nxp_sign_opts;
typedef struct nxp_journal nxp_journal;

typedef struct nxp_apply_options {
	int cross_check;             /* re-read the output with LIEF too */
	const char *backup_suffix;   /* in place: keep the original as path+suffix */
	const struct nxp_signer *signer;        /* for NXP_SIGACT_RESIGN */
	const struct nxp_sign_opts *sign_opts;  /* may be NULL: defaults */
	nxp_journal *journal;        /* in place: write-ahead and result records */
	int allow_metadata_loss;     /* in place: replace the file even when its owner, group,
	                                mode or extended attributes cannot be kept (setuid and
	                                setgid are then dropped) */
	int write_unchanged;         /* NXP_PLAN_NOTHING and another output path: write a
	                                verified copy (unsign of an unsigned image) */
	int test_corrupt_output;     /* test hook: flip a byte after writing; honoured only
	                                by a library built with NXP_TEST_HOOKS (tests) */
	int out_at;                  /* out_path's directory is out_dirfd: the output is
	                                created and renamed through it (openat/renameat),
	                                never by resolving out_path again */
	int out_dirfd;
	int in_place_bytes;          /* in place: write only the planned bytes into the file
	                                itself (same inode: owner, ACLs, xattrs, hard links
	                                kept) instead of renaming a new file over it. Needs a
	                                journal (the undo record is made durable there
	                                first); refused when the plan changes the length (a
	                                signature) or the image is signed. */
} nxp_apply_options;

#define NXP_MAX_WRITE_WARNINGS 4

typedef struct nxp_apply_result {
	int written;                 /* the target was replaced/created */
	int in_place;                /* the target was the input itself */
	uint64_t out_len;
	uint32_t checksum;           /* the output's stored checksum */
	char sha256_before[65];      /* with a journal: the input's SHA-256, else "" */
	char sha256[65];             /* with a journal: the output's SHA-256, else "" */
	char backup[4096];           /* the backup actually made, or "" */
	char warnings[NXP_MAX_WRITE_WARNINGS][320]; /* hard links, metadata given up */
	size_t nwarnings;
} nxp_apply_result;

/* Write in with plan applied to out_path (which may name the input itself:
 * then in must have been opened with NXP_INPUT_LOCK). Refused plans give
 * NXP_E_REFUSED, NXP_PLAN_NOTHING writes nothing (see write_unchanged). With
 * a journal every call appends its result, including refusals and nothing
 * to do. On any failure out_path is untouched and the temporary file
 * removed. */
int nxp_apply(const nxp_input *in, const nxp_plan *plan, const char *out_path,
              const nxp_apply_options *opt, nxp_apply_result *res, nxp_error *err);

/* nxp_apply() in two halves, so that a caller can write its next image
 * while LIEF reads this one's output (the cross-check). nxp_apply_start()
 * does everything up to LIEF's verdict: the output written, synced and
 * verified by nxpatch's own check, and LIEF's request sent, or queued
 * behind the one in flight; nothing is replaced yet. It returns as
 * nxp_apply() does, with *job NULL when the outcome is final; a non-NULL
 * *job (only with cross_check, and never for in_place_bytes) must be
 * passed to nxp_apply_finish(), which takes LIEF's verdict, replaces the
 * target or leaves everything untouched, fills res and returns as
 * nxp_apply() does. Jobs are finished in the order they were started, from
 * the thread that started them; in, plan, opt and res must stay valid
 * until then. A process killed between the two leaves its targets
 * untouched, as between any two steps of nxp_apply(). */
typedef struct nxp_apply_job nxp_apply_job;
int nxp_apply_start(const nxp_input *in, const nxp_plan *plan, const char *out_path,
                    const nxp_apply_options *opt, nxp_apply_result *res, nxp_apply_job **job,
                    nxp_error *err);
int nxp_apply_finish(nxp_apply_job *job, nxp_error *err);

/* ---- Journal ------------------------------------------------------------ */

/* Open (create) a journal for appending. Refuses anything but a regular
 * file (NXP_E_FILE_TYPE). */
int nxp_journal_open(nxp_journal **out, const char *path, nxp_error *err);
/* Close it; NXP_E_JOURNAL when the close fails. j may be NULL. */
int nxp_journal_close(nxp_journal *j, nxp_error *err);

/* Append rec (a JSON object; "op" first by convention) as one line: one
 * write() on an O_APPEND descriptor, then fsync. A line is whole or absent
 * whatever kills the process, and lines of parallel writers never
 * interleave. NXP_E_JOURNAL when the line is not durable. */
int nxp_journal_append(nxp_journal *j, json_t *rec, nxp_error *err);

/* Store path in rec under key, absolute: a JSON string when it is valid
 * UTF-8, else the escaped text (as in every report) under key and the exact
 * bytes in hex under key + "_hex". */
int nxp_journal_set_path(json_t *rec, const char *key, const char *path);
/* The path stored under key (decoding key + "_hex" when present) into buf;
 * 0, or -1 when absent, malformed or too long. */
int nxp_journal_get_path(const json_t *rec, const char *key, char *buf, size_t len);

/* Read a whole journal: *entries becomes a JSON array of its records, in
 * order. Strict: the path must be a regular file, every line complete and a
 * JSON object with a known "op" (a line without one is a "replace" record
 * of an earlier nxpatch); anything else is NXP_E_JOURNAL naming the line,
 * and nothing is returned. */
int nxp_journal_read(const char *path, json_t **entries, nxp_error *err);

/* ---- Revert ------------------------------------------------------------- */

typedef enum nxp_revert_event {
	NXP_REVERT_RESTORED = 0,     /* path restored from the backup (msg: the backup) */
	NXP_REVERT_WOULD_RESTORE = 1,/* dry run: it would be */
	NXP_REVERT_REFUSED = 2,      /* a check failed; nothing touched (msg: why) */
	NXP_REVERT_FAILED = 3,       /* an error (msg: what) */
	NXP_REVERT_REMOVED_TEMP = 4, /* a temporary file of an interrupted run removed */
	NXP_REVERT_REMOVED_BACKUP = 5/* an unused backup (a second name of the file) removed */
} nxp_revert_event;

typedef void (*nxp_revert_cb)(void *ctx, nxp_revert_event ev, const char *path,
                              const char *msg);

typedef struct nxp_revert_summary {
	size_t entries, restored, refused, failed;
} nxp_revert_summary;

/* Undo the journal's records, last first. A "patch" record (--in-place=
 * bytes) is undone by writing its old bytes back, with nxp_recover()'s
 * checks. A "replace" record is restored
 * only when its backup is path + a suffix in path's directory, owned like
 * the current file, the current file's SHA-256 is sha256_after and the
 * backup's is sha256_before; the restore renames the backup (the original
 * inode) over the locked path. A dry run reports and counts what the real
 * run would do. Returns NXP_E_JOURNAL (nothing touched) when the journal
 * cannot be read whole; per-entry problems are events and counts. */
int nxp_revert(const char *journal, int dry_run, nxp_revert_cb cb, void *ctx,
               nxp_revert_summary *sum, nxp_error *err);

/* Finish what a killed --in-place=bytes run left: every "patch" undo record
 * of the journal without a completion mark is undone (the file must still
 * be the record's device, inode and size, and every edited byte its old or
 * new value; otherwise it is refused and left alone), then closed with a
 * "reverted" mark appended through j. Undo records are trusted only from a
 * journal owned by the caller (or root) and writable by no one else.
 * Events as nxp_revert's; sum counts the open records. NXP_E_JOURNAL when
 * the journal cannot be read or a mark not written. */
int nxp_recover(const char *journal, nxp_journal *j, nxp_revert_cb cb, void *ctx,
                nxp_revert_summary *sum, nxp_error *err);

#ifdef __cplusplus
}
#endif
#endif
