/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch revert --journal FILE [--dry-run]
 * Undo `apply --in-place --journal FILE` (the library's nxp_revert: every
 * check is there; this file prints). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "nxpatch/write.h"
#include "util/escape.h"

static const cli_opt revert_options[] = {
	{'j', 0, "journal", "FILE", "the journal 'apply --in-place --journal FILE' wrote"},
	{'n', 'n', "dry-run", NULL, "say what would be restored; change nothing"},
	CLI_OPT_END,
};

static const cli_optgroup groups[] = {
	{"options", revert_options},
	CLI_GROUPS_END,
};

static const char about[] =
	"Restores every image 'apply --in-place --journal FILE' wrote, from its backup, last\n"
	"first, when the image is still exactly what apply wrote and the backup exactly the\n"
	"original (SHA-256).\n";

static void on_event(void *ctx, nxp_revert_event ev, const char *path, const char *msg)
{
	(void)ctx;
	switch (ev) {
	case NXP_REVERT_RESTORED:
		printf("%s: restored from %s\n", nxpi_shown(path), nxpi_shown(msg));
		break;
	case NXP_REVERT_WOULD_RESTORE:
		printf("%s: would restore from %s\n", nxpi_shown(path), nxpi_shown(msg));
		break;
	case NXP_REVERT_REMOVED_TEMP:
	case NXP_REVERT_REMOVED_BACKUP: printf("%s: %s\n", nxpi_shown(path), nxpi_shown(msg)); break;
	case NXP_REVERT_REFUSED:
	case NXP_REVERT_FAILED: fflush(stdout); cli_error(path, "%s", msg); break;
	}
}

int cmd_revert(int argc, char **argv)
{
	const char *journal = NULL;
	int dry_run = 0, c;
	cli_parser p;
	cli_parse_init(&p, "revert", "--journal FILE [--dry-run]", about, groups);
	while ((c = cli_next(&p, argc, argv)) != CLI_END) {
		switch (c) {
		case CLI_STOP: return p.status;
		case 'j': journal = p.arg; break;
		case 'n': dry_run = 1; break;
		}
	}
	if (!journal)
		return cli_usage("revert", "--journal FILE is required");
	if (p.optind < argc)
		return cli_usage("revert", "unexpected argument '%s'", argv[p.optind]);
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
