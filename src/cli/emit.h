/* SPDX-License-Identifier: Apache-2.0 */
/* A batch run's output: each image's result rendered in the run's format
 * (by whoever processed it: a worker, or the parent with -j 1), written in
 * input order whatever the order they arrive in, the progress bar, and the
 * summary. The parent only counts and writes rendered bytes: no JSON is
 * parsed or assembled in it, so it never serialises the work and holds
 * nothing per image once the image is written. */
#ifndef NXP_CLI_EMIT_H
#define NXP_CLI_EMIT_H

#include <stdint.h>
#include <stdio.h>

#include "cli/batch.h"
#include "cli/inputs.h"
#include "cli/jstream.h"

/* What one image produced, rendered. */
typedef struct batch_result {
	batch_class cls;
	int exit;
	uint64_t bytes;
	size_t err_len, out_len, aux_len;
	char *buf;              /* stderr text, then out, then aux, back to back */
} batch_result;

typedef struct batch_emitter {
	const batch_cmd *cmd;
	const batch_opts *o;
	const batch_items *l;
	batch_result **recs;    /* received, not yet emitted */
	size_t next_emit;
	jstream files;          /* json: "files"; sarif: "results" */
	jstream notes;          /* sarif: "toolExecutionNotifications" */
	FILE *spool;            /* sarif: the notifications, until the results are done */
	size_t count[BATCH_NCLASSES];
	size_t scanned;         /* images not skipped */
	uint64_t bytes;
	int status;
	int progress;           /* a progress bar on stderr (a terminal, no -q) */
	int drawn;              /* the bar is on the screen now */
	int out_tty;            /* stdout is a terminal too: clear the bar around each line */
	int color;              /* text reports get colour (--color, NO_COLOR, a terminal) */
	double t0, last_draw;
	uint64_t done_bytes;
	size_t done;
} batch_emitter;

/* Set up the run's output for the items of l (skipped: what collecting
 * skipped). Returns 0, or -1 when out of memory (a message printed when the
 * report's shape could not be made). */
int emit_init(batch_emitter *E, const batch_cmd *cmd, const batch_opts *o, const batch_items *l);
/* The document's start, once, before the first image. */
void emit_begin(batch_emitter *E);

/* Render what the command produced for item it; NULL when out of memory. */
batch_result *emit_render(const batch_emitter *E, const batch_item *it, batch_class cls,
                          int exit, const char *text, const char *err, json_t *report,
                          json_t *findings);
/* An item that failed with msg, rendered. */
batch_result *emit_failure(const batch_emitter *E, const batch_item *it, const char *msg);
/* A result as bytes (for a worker's pipe), and back (NULL: malformed or
 * out of memory). */
char *emit_pack(const batch_result *res, size_t *len);
batch_result *emit_unpack(const char *buf, size_t len);
void emit_free(batch_result *res);

/* Item i's result (NULL: out of memory, said): written with every result
 * after it that is now in order. */
void emit_take(batch_emitter *E, size_t i, batch_result *res);
/* Redraw the progress bar when it is due. */
void emit_tick(batch_emitter *E);
/* The summary (and the rest of a document), the interruption message when
 * stop_signal stopped the run; frees E. Returns the run's exit status. */
int emit_finish(batch_emitter *E, int input_errors, int stop_signal);

#endif
