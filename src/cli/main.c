/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: thin main. Each subcommand lives in its own cmd_*.c file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/runner.h"
#include "nxpatch/crosscheck.h"
#include "util/escape.h"
#include "util/suggest.h"

int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_unsign(int argc, char **argv);
int cmd_sigcheck(int argc, char **argv);
int cmd_revert(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* A command of its own: fn parses and runs. */
#define CMD(n, f, s) {.name = n, .fn = f, .summary = s}
/* A batch command: the shared runner (cli/runner.h) runs it from its row:
 * the --format values it takes, whether it loads a policy, its summary's
 * words, and its own part (cmd_NAME.c). */
#define BATCH(n, s, formats_, policy_, labels_, spec_)                                          \
	{.name = n, .summary = s, .formats = formats_, .needs_policy = policy_, .labels = labels_,   \
	 .batch = &spec_}
#define APPLY_FORMATS (1u << CLI_TEXT | 1u << CLI_JSON | 1u << CLI_JSONL)

static const struct nxp_cmd commands[] = {
	CMD("help", cmd_help, "show the commands"),
	CMD("version", cmd_version, "print the version"),
	BATCH("scan", "report each image's DEP/NX posture", CLI_FORMATS_ALL, 0,
	      ((batch_labels){0}), cli_scan_spec),
	CMD("policy", cmd_policy, "check a policy file, show the default"),
	CMD("sign", cmd_sign, "sign an image with Authenticode (replaces signatures)"),
	CMD("unsign", cmd_unsign, "remove an image's certificate table"),
	CMD("sigcheck", cmd_sigcheck, "verify every Authenticode signature of images"),
	BATCH("plan", "show what apply would change (dry run)", CLI_FORMATS_ALL, 1,
	      ((batch_labels){"to change", "unchanged", "refused", 0}), cli_plan_spec),
	BATCH("apply", "patch images as the policy says, verify, replace", APPLY_FORMATS, 1,
	      ((batch_labels){"changed", "unchanged", "refused", 0}), cli_apply_spec),
	BATCH("verify", "check images comply with a policy (and their signatures)",
	      CLI_FORMATS_ALL, 1, ((batch_labels){.compliance = 1}), cli_verify_spec),
	CMD("revert", cmd_revert, "restore the originals of an apply --journal run"),
	CMD("report", cmd_report, "merge the reports of --shard runs into one"),
	CMD("trace", cmd_trace, "run a Windows program under DEP and record its execute faults"),
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct nxp_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

/* "'x' is not a command (did you mean 'y'?)". */
static int not_a_command(const char *name)
{
	const char *names[NCOMMANDS];
	for (size_t i = 0; i < NCOMMANDS; i++)
		names[i] = commands[i].name;
	const char *close = nxpi_closest(name, names, NCOMMANDS);
	if (close)
		fprintf(stderr, "nxpatch: '%s' is not a command (did you mean '%s'?)\n",
		        nxpi_shown(name), close);
	else
		fprintf(stderr, "nxpatch: '%s' is not a command, see 'nxpatch help'\n", nxpi_shown(name));
	return NXP_EXIT_USAGE;
}

/* nxpatch help [CMD]: the command list, or CMD's own --help (generated from
 * its option table, so the two cannot differ). */
int cmd_help(int argc, char **argv)
{
	if (argc >= 2) {
		if (argc > 2)
			return cli_usage("help", "help takes one command");
		const struct nxp_cmd *c = find_command(argv[1]);
		if (!c)
			return not_a_command(argv[1]);
		if (c->fn == cmd_help || c->fn == cmd_version) {
			printf("usage: nxpatch %s\n  %s\n", c->fn == cmd_help ? "help [COMMAND]" : "version",
			       c->summary);
			return NXP_EXIT_OK;
		}
		char *args[] = {(char *)c->name, "--help", NULL};
		return cli_run_command(c, 2, args);
	}
	printf("usage: nxpatch <command> [options] [PATH...]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		printf("  %-10s %s\n", commands[i].name, commands[i].summary);
	printf("\n'nxpatch help COMMAND' or 'nxpatch COMMAND --help' lists a command's options.\n");
	return NXP_EXIT_OK;
}

int cli_run_command(const struct nxp_cmd *c, int argc, char **argv)
{
	return c->batch ? cli_run_batch(c, argc, argv) : c->fn(argc, argv);
}

int cmd_version(int argc, char **argv)
{
	if (argc > 1)
		return cli_usage("version", "version takes no arguments");
	(void)argv;
#ifdef NXP_TEST_HOOKS
	printf("nxpatch " NXP_VERSION " (test hooks)\n");
#else
	printf("nxpatch " NXP_VERSION "\n");
#endif
	return NXP_EXIT_OK;
}

/* stdout is flushed and checked at the end, as git does: a full disk or a
 * closed pipe is an error, not silent truncation. */
static int finish(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "nxpatch: cannot write to standard output: %s\n", strerror(errno));
		return status ? status : NXP_EXIT_INPUT;
	}
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return finish(argc < 2 ? (cmd_help(1, argv), NXP_EXIT_USAGE) : cmd_help(argc - 1, argv + 1));
	if (!strcmp(argv[1], "--version"))
		return finish(cmd_version(argc - 1, argv + 1));
	const struct nxp_cmd *c = find_command(argv[1]);
	if (c) {
		int status = cli_run_command(c, argc - 1, argv + 1);
		nxp_lief_shutdown(); /* reap the LIEF worker, if one was started */
		return finish(status);
	}
	if (argv[1][0] == '-') {
		static const char *const opts[] = {"help", "version"};
		const char *close = argv[1][1] == '-' ? nxpi_closest(argv[1] + 2, opts, 2) : NULL;
		fprintf(stderr, "nxpatch: unknown option %s%s%s%s; see 'nxpatch help'\n", nxpi_shown(argv[1]),
		        close ? " (did you mean --" : "", close ? close : "", close ? "?)" : "");
		return NXP_EXIT_USAGE;
	}
	return not_a_command(argv[1]);
}
