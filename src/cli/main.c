/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: thin main. Each subcommand lives in its own cmd_*.c file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "nxpatch/crosscheck.h"

int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_unsign(int argc, char **argv);
int cmd_sigcheck(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_revert(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_report(int argc, char **argv);

static const struct nxp_cmd commands[] = {
	{"help", cmd_help, "show the commands"},
	{"version", cmd_version, "print the version"},
	{"scan", cmd_scan, "report each image's DEP/NX posture"},
	{"policy", cmd_policy, "check a policy file, show the default"},
	{"sign", cmd_sign, "sign an image with Authenticode (replaces signatures)"},
	{"unsign", cmd_unsign, "remove an image's certificate table"},
	{"sigcheck", cmd_sigcheck, "verify every Authenticode signature of images"},
	{"plan", cmd_plan, "show what apply would change (dry run)"},
	{"apply", cmd_apply, "patch images as the policy says, verify, replace"},
	{"verify", cmd_verify, "check images comply with a policy (and their signatures)"},
	{"revert", cmd_revert, "restore the originals of an apply --journal run"},
	{"report", cmd_report, "merge the reports of --shard runs into one"},
	{"trace", cmd_trace, "run a Windows program under DEP and record its execute faults"},
};

int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("usage: nxpatch <command> [options] [PATH...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-10s %s\n", commands[i].name, commands[i].summary);
	return NXP_EXIT_OK;
}

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("nxpatch " NXP_VERSION "\n");
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
		return finish(cmd_help(argc, argv) | (argc < 2 ? NXP_EXIT_USAGE : 0));
	if (!strcmp(argv[1], "--version"))
		return finish(cmd_version(argc, argv));
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			int status = commands[i].fn(argc - 1, argv + 1);
			nxp_lief_shutdown(); /* reap the LIEF worker, if one was started */
			return finish(status);
		}
	}
	fprintf(stderr, "nxpatch: '%s' is not a command, see 'nxpatch help'\n", argv[1]);
	return NXP_EXIT_USAGE;
}
