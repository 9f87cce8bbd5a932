/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch revert --journal FILE [--dry-run]
 * Undo `apply --in-place --journal FILE`: every image the journal says was
 * written goes back to its original, taken from the backup apply kept
 * (apply --journal implies --backup .nxpatch-orig). An image is restored
 * only when its current SHA-256 is the journal's "sha256_after" and the
 * backup's is "sha256_before"; anything else is refused and left alone.
 * Entries are undone last first, so a journal that grew over several runs
 * unwinds them in order. Temporary files left by an interrupted apply
 * (.<name>.nxpatch-XXXXXX beside an image) are removed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/batch.h"
#include "cli/cli.h"
#include "util/escape.h"

static const char usage[] =
	"usage: nxpatch revert --journal FILE [--dry-run]\n"
	"  restores every image 'apply --in-place --journal FILE' wrote, from its backup,\n"
	"  when the image is still exactly what apply wrote (SHA-256)\n";

static void remove_temporaries(const char *path)
{
	char d[PATH_MAX], b[PATH_MAX], prefix[PATH_MAX + 16];
	snprintf(d, sizeof(d), "%s", path);
	snprintf(b, sizeof(b), "%s", path);
	const char *dir = dirname(d), *base = basename(b);
	snprintf(prefix, sizeof(prefix), ".%s.nxpatch-", base);
	size_t plen = strlen(prefix);
	DIR *dp = opendir(dir);
	if (!dp)
		return;
	struct dirent *e;
	while ((e = readdir(dp))) {
		if (strncmp(e->d_name, prefix, plen) || strlen(e->d_name) != plen + 6)
			continue;
		char p[2 * PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (unlink(p) == 0)
			printf("%s: removed a temporary file left by an interrupted run\n", nxp_shown(p));
	}
	closedir(dp);
}

/* Returns 0 (restored, or nothing to do), NXP_EXIT_CHECK when refused,
 * NXP_EXIT_INPUT on an error. *restored is set when a file was restored. */
static int revert_one(json_t *e, int dry_run, int *restored)
{
	const char *path = json_string_value(json_object_get(e, "path"));
	const char *st = json_string_value(json_object_get(e, "status"));
	const char *before = json_string_value(json_object_get(e, "sha256_before"));
	const char *after = json_string_value(json_object_get(e, "sha256_after"));
	const char *backup = json_string_value(json_object_get(e, "backup"));
	*restored = 0;
	if (!path || !st || !before) {
		cli_error(NULL, "journal entry without path, status and sha256_before");
		return NXP_EXIT_INPUT;
	}
	/* "started" is the write-ahead line: alone (no final line, apply was
	 * killed) it is undone like "written" when the file is what apply
	 * was about to write. */
	int started = !strcmp(st, "started");
	if (strcmp(st, "written") && !started)
		return 0;
	if (!dry_run)
		remove_temporaries(path);
	char cur[65], orig[65];
	if (batch_sha256_file(path, cur)) {
		cli_error(path, "cannot revert: cannot read it: %s", strerror(errno));
		return NXP_EXIT_INPUT;
	}
	if (!strcmp(cur, before)) {
		/* Never replaced, or restored already; a backup made just before
		 * an interrupted rename is the same original: drop it. */
		if (!dry_run && backup && strcmp(backup, path) && !batch_sha256_file(backup, orig) &&
		    !strcmp(orig, before) && unlink(backup) == 0)
			printf("%s: removed the unused backup %s\n", nxp_shown(path), nxp_shown(backup));
		return 0;
	}
	if (!backup) {
		cli_error(path, "cannot revert: the journal has no backup for it (apply ran without "
		                "--backup)");
		return NXP_EXIT_CHECK;
	}
	if (!after || strcmp(cur, after)) {
		cli_error(path, "refused: it changed since apply wrote it (sha256 %s, journal says %s)",
		          cur, after ? after : "unknown");
		return NXP_EXIT_CHECK;
	}
	if (batch_sha256_file(backup, orig)) {
		cli_error(path, "cannot revert: cannot read the backup %s: %s", backup,
		          strerror(errno));
		return NXP_EXIT_INPUT;
	}
	if (strcmp(orig, before)) {
		cli_error(path, "refused: the backup %s is not the original (sha256 %s, journal says "
		                "%s)", backup, orig, before);
		return NXP_EXIT_CHECK;
	}
	if (dry_run) {
		printf("%s: would restore from %s\n", nxp_shown(path), nxp_shown(backup));
		*restored = 1;
		return 0;
	}
	/* The backup is the original inode (a hard link apply made): renaming
	 * it back is atomic and keeps its mode and times. */
	if (rename(backup, path) != 0) {
		cli_error(path, "cannot restore from %s: %s", backup, strerror(errno));
		return NXP_EXIT_INPUT;
	}
	char d[PATH_MAX];
	snprintf(d, sizeof(d), "%s", path);
	int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	printf("%s: restored from %s\n", nxp_shown(path), nxp_shown(backup));
	*restored = 1;
	return 0;
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
	FILE *f = fopen(journal, "r");
	if (!f) {
		cli_error(journal, "cannot open: %s", strerror(errno));
		return NXP_EXIT_INPUT;
	}
	json_t *entries = json_array();
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;
	int status = NXP_EXIT_OK;
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[len - 1] != '\n') {
			/* Cannot happen with apply's single-write lines; say so if it does. */
			cli_error(journal, "line %lu is incomplete, ignored", lineno);
			continue;
		}
		json_error_t jerr;
		json_t *e = json_loads(line, 0, &jerr);
		if (!json_is_object(e)) {
			cli_error(journal, "line %lu: not a journal entry: %s", lineno, jerr.text);
			json_decref(e);
			status = NXP_EXIT_INPUT;
			continue;
		}
		json_array_append_new(entries, e);
	}
	free(line);
	fclose(f);
	size_t restored = 0, refused = 0, failed = 0;
	for (size_t i = json_array_size(entries); i-- > 0;) {
		int done = 0, s = revert_one(json_array_get(entries, i), dry_run, &done);
		if (s == NXP_EXIT_CHECK)
			refused++;
		else if (s)
			failed++;
		restored += (size_t)done;
		if (s == NXP_EXIT_INPUT || (s == NXP_EXIT_CHECK && status == NXP_EXIT_OK))
			status = s;
	}
	printf("summary: %zu entr%s, %zu %s, %zu refused, %zu failed\n", json_array_size(entries),
	       json_array_size(entries) == 1 ? "y" : "ies", restored,
	       dry_run ? "to restore" : "restored", refused, failed);
	json_decref(entries);
	return status;
}
