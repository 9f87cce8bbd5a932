/* SPDX-License-Identifier: Apache-2.0 */
/* Option tables, git style: each command declares its options once, as rows
 * (short form, long form, argument, one line of help), grouped into tables
 * that commands share (batch, signing, ...). The parser is generated from
 * the rows and so is `CMD --help` / `nxpatch help CMD`: the help can never
 * list an option the parser does not take, nor miss one it does. Usage
 * errors (an unknown option, with a did-you-mean; a missing argument) are
 * printed here and give NXP_EXIT_USAGE. */
#ifndef NXP_CLI_OPT_H
#define NXP_CLI_OPT_H

#include <getopt.h>
#include <stddef.h>

typedef struct cli_opt {
	int id;                 /* what cli_next() returns: the short letter, or a value
	                           >= 0x100 for a long-only option */
	char short_name;        /* 'o', or 0 */
	const char *long_name;  /* "output", or NULL */
	const char *arg;        /* "FILE": takes an argument; NULL: a flag; "[=WHEN]":
	                           an optional argument (long form only) */
	const char *help;       /* one line */
} cli_opt;

#define CLI_OPT_END {0, 0, NULL, NULL, NULL}

/* A command's options: titled tables, the list ending {NULL, NULL}. */
typedef struct cli_optgroup {
	const char *title;      /* "options", "batch options", ... */
	const cli_opt *opts;
} cli_optgroup;

#define CLI_GROUPS_END {NULL, NULL}

enum {
	CLI_END = -1,           /* no more options: the operands are argv[p.optind..] */
	CLI_STOP = -2           /* --help was printed (p.status 0) or a usage error
	                           (p.status NXP_EXIT_USAGE): return p.status */
};

#define CLI_MAX_OPTS 96

typedef struct cli_parser {
	const char *cmd;        /* "plan", "report merge" */
	const char *synopsis;   /* "[options] PATH..." (after "usage: nxpatch CMD ") */
	const char *about;      /* lines after the synopsis, or NULL */
	const cli_optgroup *groups;
	int posix;              /* stop at the first operand (trace PROGRAM ARG...) */
	int status;             /* after CLI_STOP */
	int optind;             /* after CLI_END */
	const char *arg;        /* the current option's argument, or NULL */
	int started;
	char shorts[3 * CLI_MAX_OPTS + 4];
	struct option lopts[CLI_MAX_OPTS + 2];
} cli_parser;

/* Set p up for cmd's option groups. about may be NULL. */
void cli_parse_init(cli_parser *p, const char *cmd, const char *synopsis, const char *about,
                    const cli_optgroup *groups);
/* The next option's id, CLI_END or CLI_STOP; the argument is in p->arg. */
int cli_next(cli_parser *p, int argc, char **argv);

/* Print the generated help of a command to stdout. */
void cli_print_help(const cli_parser *p);


#endif
