/* SPDX-License-Identifier: Apache-2.0 */
/* The command-line front end: one file per subcommand, one table in main.c.
 * A command returns its exit status: */
#ifndef NXP_CLI_H
#define NXP_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

#include "nxpatch/error.h"

enum {
	NXP_EXIT_OK = 0,       /* success */
	NXP_EXIT_CHECK = 1,    /* a checked condition is not met */
	NXP_EXIT_USAGE = 2,    /* usage error or invalid policy */
	NXP_EXIT_INPUT = 3     /* at least one input could not be processed */
};

/* What a batch command's summary counts: the words of its text summary for
 * the changed, unchanged and refused counts (NULL: not counted), and
 * whether it counts compliant images. The batch runner knows no command by
 * name. */
typedef struct batch_labels {
	const char *changed, *unchanged, *refused;
	int compliance;
} batch_labels;

/* A row of the command table (main.c). A batch command has no fn: the
 * shared runner (cli/runner.h) runs it from the rest of its row. */
struct cli_batch_spec;
struct nxp_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	unsigned formats;       /* batch: the --format values taken, 1 << CLI_* */
	int needs_policy;       /* batch: --policy and the inline edits, loaded before the run */
	batch_labels labels;    /* batch: the summary's words */
	const struct cli_batch_spec *batch; /* batch: the command's own part */
};

/* Run command c with its arguments (argv[0] is its name). */
int cli_run_command(const struct nxp_cmd *c, int argc, char **argv);

/* "nxpatch: <path>: <message>" on stderr. path may be NULL. */
void cli_error(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_error_e(const char *path, const nxp_error *err);
/* Print a usage error ("nxpatch CMD: message", then "see 'nxpatch CMD
 * --help'") and return NXP_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct nxp_policy;
/* Load the policy at path, or the built-in default when path is NULL. On
 * failure prints every diagnostic as file:line:col: message, the source line
 * and a caret, and returns NXP_EXIT_USAGE (invalid policy) or NXP_EXIT_INPUT
 * (unreadable file); 0 on success. */
int cli_load_policy(const char *path, struct nxp_policy **out);
/* The same for a policy held in memory (name is used in messages). */
int cli_load_policy_buffer(const char *name, const char *buf, size_t len, struct nxp_policy **out);

/* --format NAME: allowed is a mask of 1 << CLI_*. Returns 1 and sets
 * *format when NAME is allowed; otherwise prints a usage error naming the
 * allowed ones and returns 0. */
enum { CLI_TEXT = 0, CLI_JSON = 1, CLI_JSONL = 2, CLI_SARIF = 3, CLI_HTML = 4 };
#define CLI_FORMATS_ALL (1u << CLI_TEXT | 1u << CLI_JSON | 1u << CLI_JSONL | 1u << CLI_SARIF | \
                         1u << CLI_HTML)
int cli_parse_format_in(const char *cmd, const char *arg, int *format, unsigned allowed);
/* --color[=WHEN]: auto (default: colour when the output is a terminal and
 * NO_COLOR is unset or empty), always (also --color alone), never. */
enum { CLI_COLOR_AUTO = 0, CLI_COLOR_ALWAYS = 1, CLI_COLOR_NEVER = 2 };
/* Returns 1 when arg (NULL: always) is one of them, else prints a usage
 * error and returns 0. */
int cli_parse_color(const char *cmd, const char *arg, int *mode);
/* Whether text written to fd gets colour under mode. */
int cli_use_color(int mode, int fd);

/* -v: "  rules matched: a, b" (or none) for a text report. */
struct nxp_plan;
void cli_text_rules(FILE *out, const struct nxp_plan *plan);

/* Print a JSON document to stdout (and free it). */
struct json_t;
void cli_print_json(struct json_t *doc);

#endif
