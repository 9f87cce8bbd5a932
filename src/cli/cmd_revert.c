/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch revert --journal FILE [--dry-run]
 * Undo `apply --in-place --journal FILE` (the library's nxp_revert: every
 * check is there; this file prints). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "nxpatch/write.h"
#include "util/escape.h"

static const char usage[] =
	"usage: nxpatch revert --journal FILE [--dry-run]\n"
	"  restores every image 'apply --in-place --journal FILE' wrote, from its backup,\n"
	"  last first, when the image is still exactly what apply wrote and the backup\n"
	"  exactly the original (SHA-256)\n";

static void on_event(void *ctx, nxp_revert_event ev, const char *path, const char *msg)
{
	(void)ctx;
	switch (ev) {
	case NXP_REVERT_RESTORED:
		printf("%s: restored from %s\n", nxp_shown(path), nxp_shown(msg));
		break;
	case NXP_REVERT_WOULD_RESTORE:
		printf("%s: would restore from %s\n", nxp_shown(path), nxp_shown(msg));
		break;
	case NXP_REVERT_REMOVED_TEMP:
	case NXP_REVERT_REMOVED_BACKUP: printf("%s: %s\n", nxp_shown(path), nxp_shown(msg)); break;
	case NXP_REVERT_REFUSED:
	case NXP_REVERT_FAILED: fflush(stdout); cli_error(path, "%s", msg); break;
	}
}

int cmd_revert(int argc, char **argv)
{
	static const struct option opts[] = {
		{"journal", required_argument, NULL, 'j'},
		{"dry-run", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *journal = NULL;
	int dry_run = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "nh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': journal = optarg; break;
		case 'n': dry_run = 1; break;
		case 'h': fputs(usage, stdout); return NXP_EXIT_OK;
		default: return cli_usage("revert", "unknown option");
		}
	}
	if (!journal)
		return cli_usage("revert", "--journal FILE is required");
	if (optind < argc)
		return cli_usage("revert", "unexpected argument '%s'", argv[optind]);
	nxp_revert_summary sum;
	nxp_error err = {0};
	if (nxp_revert(journal, dry_run, on_event, NULL, &sum, &err)) {
		cli_error_e(journal, &err);
		return NXP_EXIT_INPUT;
	}
	printf("summary: %zu entr%s, %zu %s, %zu refused, %zu failed\n", sum.entries,
	       sum.entries == 1 ? "y" : "ies", sum.restored, dry_run ? "to restore" : "restored",
	       sum.refused, sum.failed);
	return sum.failed ? NXP_EXIT_INPUT : sum.refused ? NXP_EXIT_CHECK : NXP_EXIT_OK;
}
