/* SPDX-License-Identifier: Apache-2.0 */
/* The batch driver shared by scan, plan, apply and verify: collecting inputs
 * (files, directories with -r, --from lists), sharding, de-duplicating hard
 * links (inputs.c), running the per-image work in -j worker PROCESSES (pool.c;
 * each starts its own LIEF worker for the cross-check on first use), writing
 * the reports in input order whatever the scheduling, a progress bar, a
 * summary (emit.c), and stopping cleanly on SIGINT/SIGTERM (batch.c).
 *
 * A command supplies one function that handles one image and fills a
 * batch_rec; the record is what travels back from a worker over a pipe (one
 * JSON line), so -j 1 and -j N produce the same bytes. */
#ifndef NXP_CLI_BATCH_H
#define NXP_CLI_BATCH_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "nxpatch/input.h"

#include "cli/cli.h"
#include "cli/opt.h"

enum {
	BATCH_OPT_FROM = 0x300,
	BATCH_OPT_SHARD,
	BATCH_OPT_JOBS,
	BATCH_OPT_QUIET,
	BATCH_OPT_EVIDENCE,
	BATCH_OPT_COLOR
};

/* The batch options (inputs, workers, progress, output), a table for
 * cli/opt.h; taken by batch_opt(). */
extern const cli_opt batch_options[];

typedef struct batch_opts {
	int recurse;
	const char *from;
	int nul;
	long jobs;              /* 0: processors online */
	int quiet;
	int verbose;            /* -v: details in text reports */
	int color;              /* --color: CLI_COLOR_AUTO, _ALWAYS, _NEVER */
	unsigned shard_k, shard_n; /* 1-based K of N; N == 0: no sharding */
	int format;             /* CLI_TEXT, CLI_JSON, CLI_JSONL, CLI_SARIF, CLI_HTML */
	const char *skip_suffix; /* names ending so are ignored while recursing */
	const char *backup_suffix; /* apply --in-place --backup: an input whose name is another
	                              input's plus this suffix is a usage error */
	const char *evidence;   /* --evidence FILE: traced faults merged into the facts */
	int out_names;          /* apply --out-dir: each input's output name is its rel
	                           (or basename); a second input with an earlier one's
	                           output name gets batch_item.clash */
} batch_opts;

void batch_opts_init(batch_opts *o);
/* Take option c. Returns 1 when taken, 0 when not a batch option, -1 after
 * printing a usage error. */
int batch_opt(batch_opts *o, int c, const char *arg, const char *cmd);

/* One input. */
typedef struct batch_item {
	char *path;             /* as reported: the argument, or dir/relative ("-": stdin) */
	char *open_path;        /* where it is read from when that is not path (standard
	                           input, spooled to a private file), or NULL */
	char *rel;              /* relative to its directory argument (for --out-dir), or NULL */
	char *out_name;         /* with batch_opts.out_names: rel, or the path's basename */
	char *clash;            /* the earlier input with the same out_name, or NULL */
	int found;              /* found by -r or --from: a non-PE file is skipped, not an error */
	uint64_t size;
	dev_t dev;
	ino_t ino;
	mode_t mode;            /* from stat when collected; 0 when it failed */
	size_t seq;             /* position in the whole run's order, before sharding */
} batch_item;

/* What became of one image: counted in the summary, named in SARIF
 * notifications, HTML rows and colours by batch_class_name(). */
typedef enum batch_class {
	BATCH_SCANNED,          /* scan: read and reported */
	BATCH_CHANGED,
	BATCH_UNCHANGED,
	BATCH_REFUSED,
	BATCH_FAILED,
	BATCH_SKIPPED,          /* found by -r/--from and not a PE image: not reported */
	BATCH_COMPLIANT,
	BATCH_NONCOMPLIANT,
	BATCH_NCLASSES
} batch_class;

/* "scanned", "changed", ... (the summary's JSON keys). */
const char *batch_class_name(batch_class c);

/* What one image produced. The command's function fills it; out/err are
 * memory streams that become "text" and "stderr". */
typedef struct batch_rec {
	FILE *out;              /* the text report */
	FILE *err;              /* messages for stderr ("nxpatch: path: ...") */
	json_t *report;         /* the per-image JSON object (owned), or NULL */
	json_t *findings;       /* the findings (nxp_json_finding objects), for SARIF */
	batch_class cls;        /* BATCH_SCANNED unless the command says otherwise */
	int exit;               /* 0, NXP_EXIT_CHECK or NXP_EXIT_INPUT */
} batch_rec;

/* Print "nxpatch: path: message" into r->err. */
void batch_error(batch_rec *r, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Add the judge's findings (nxp_check_image) to the record, for SARIF. */
struct nxp_findings;
void batch_findings(batch_rec *r, const struct nxp_findings *fs, const nxp_image *img);

/* Open it as an image. On failure fills r (a failure, or skipped when the
 * file is not a PE image and was found by -r/--from) and returns nonzero. */
int batch_open(const batch_item *it, batch_rec *r, nxp_input **in);
/* The same with nxp_input_open_flags() flags (NXP_INPUT_LOCK in place). */
int batch_open_flags(const batch_item *it, batch_rec *r, nxp_input **in, unsigned flags);

typedef struct batch_cmd {
	const char *name;       /* "scan", ... */
	const char *policy;     /* the policy source for JSON documents, or NULL */
	batch_labels labels;
	void (*process)(void *ctx, const batch_item *it, batch_rec *r);
	/* Instead of process, the work in two halves, so that the next image's
	 * first half runs while this one waits (apply: for LIEF's verdict on
	 * its output). begin fills r as process does and returns NULL when r is
	 * complete, or a state that end completes. Images are begun in input
	 * order, at most two are between their halves, and they end in the
	 * order they were begun. */
	void *(*begin)(void *ctx, const batch_item *it, batch_rec *r);
	void (*end)(void *ctx, void *state, batch_rec *r);
	void *ctx;
} batch_cmd;

/* Claim standard input for --from - or an input "-" (cli/dash.h) before
 * anything else reads it (--policy -): 0 or a usage error's status. */
int batch_claim_stdin(const char *cmd, const batch_opts *o, char **paths, int n);

/* Collect the inputs of paths[0..n) and --from, run cmd over them, write
 * the reports, the summary and the journal. An input "-" is standard input,
 * read once into a private temporary file (removed at the end) and
 * reported as "-". Returns the exit status. */
int batch_run(const batch_cmd *cmd, const batch_opts *o, char **paths, int n);



#endif
