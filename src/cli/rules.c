/* SPDX-License-Identifier: Apache-2.0 */
/* Shipped rule sets: `--policy NAME` and `nxpatch policy list|show`.
 * A NAME is looked up, in order, in each directory of NXPATCH_RULES_PATH
 * (colon-separated), beside the binary (share/nxpatch/rules, as the build
 * tree has it), in ../share/nxpatch/rules from the binary (an installed,
 * relocated prefix), and in NXP_DATADIR/rules (the configured prefix). The
 * first directory that has NAME.yaml wins. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/dash.h"
#include "cli/rules.h"
#include "nxpatch/policy.h"
#include "util/suggest.h"

#define MAX_DIRS 16
#define MAX_NAMES 256

static int add_dir(char dirs[][PATH_MAX], int n, const char *d)
{
	if (n >= MAX_DIRS || !*d)
		return n;
	if (snprintf(dirs[n], PATH_MAX, "%s", d) >= PATH_MAX)
		return n;
	for (int i = 0; i < n; i++)
		if (!strcmp(dirs[i], dirs[n]))
			return n;
	return n + 1;
}

int cli_rules_dirs(char dirs[][PATH_MAX], int max)
{
	(void)max;
	int n = 0;
	const char *env = getenv("NXPATCH_RULES_PATH");
	if (env && *env) {
		char buf[4096];
		snprintf(buf, sizeof(buf), "%s", env);
		for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save))
			n = add_dir(dirs, n, d);
	}
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0) {
		exe[len] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			char d[PATH_MAX];
			if (snprintf(d, sizeof(d), "%s/share/nxpatch/rules", exe) < (int)sizeof(d))
				n = add_dir(dirs, n, d);
			if (snprintf(d, sizeof(d), "%s/../share/nxpatch/rules", exe) < (int)sizeof(d))
				n = add_dir(dirs, n, d);
		}
	}
#ifdef NXP_DATADIR
	n = add_dir(dirs, n, NXP_DATADIR "/rules");
#endif
	return n;
}

static int is_name(const char *s)
{
	if (!*s || strlen(s) > 64)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_' || *p == '.'))
			return 0;
	return s[0] != '.';
}

int cli_find_rules(const char *name, char *out, size_t size)
{
	if (!is_name(name))
		return 0;
	char dirs[MAX_DIRS][PATH_MAX];
	int n = cli_rules_dirs(dirs, MAX_DIRS);
	size_t nl = strlen(name);
	int has_ext = nl > 5 && !strcmp(name + nl - 5, ".yaml");
	for (int i = 0; i < n; i++) {
		struct stat st;
		if (snprintf(out, size, "%s/%s%s", dirs[i], name, has_ext ? "" : ".yaml") >= (int)size)
			continue;
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode))
			return 1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every rule-set name found (first directory wins), sorted; the caller
 * frees each and the array. */
static size_t list_names(char ***out)
{
	char dirs[MAX_DIRS][PATH_MAX];
	int nd = cli_rules_dirs(dirs, MAX_DIRS);
	char **names = calloc(MAX_NAMES, sizeof(*names));
	size_t n = 0;
	for (int i = 0; names && i < nd; i++) {
		DIR *d = opendir(dirs[i]);
		if (!d)
			continue;
		struct dirent *e;
		while ((e = readdir(d)) && n < MAX_NAMES) {
			size_t l = strlen(e->d_name);
			if (l <= 5 || strcmp(e->d_name + l - 5, ".yaml") || e->d_name[0] == '.')
				continue;
			char *nm = strndup(e->d_name, l - 5);
			if (!nm)
				break;
			int dup = 0;
			for (size_t k = 0; k < n && !dup; k++)
				dup = !strcmp(names[k], nm);
			if (dup || !is_name(nm))
				free(nm);
			else
				names[n++] = nm;
		}
		closedir(d);
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	*out = names;
	return n;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The first sentence of the leading comment (after the SPDX line), without
 * "# name: ", at most about 76 characters. */
static void describe(const char *path, const char *name, char *out, size_t size)
{
	out[0] = 0;
	FILE *fp = fopen(path, "r");
	if (!fp)
		return;
	char line[512], text[1024] = "";
	size_t tl = 0;
	while (fgets(line, sizeof(line), fp) && tl < 200) {
		if (line[0] != '#')
			break;
		if (strstr(line, "SPDX-License-Identifier"))
			continue;
		char *s = line + 1;
		while (*s == ' ')
			s++;
		s[strcspn(s, "\r\n")] = 0;
		if (!*s)
			break;
		size_t nl = strlen(name);
		if (!tl && !strncmp(s, name, nl) && s[nl] == ':')
			for (s += nl + 1; *s == ' '; s++)
				;
		tl += (size_t)snprintf(text + tl, sizeof(text) - tl, "%s%s", tl ? " " : "", s);
		if (tl >= sizeof(text))
			tl = sizeof(text) - 1;
		char *dot = strstr(text, ". ");
		if (dot || (tl && text[tl - 1] == '.'))
			break;
	}
	fclose(fp);
	char *dot = strstr(text, ". ");
	if (dot)
		dot[1] = 0;
	if (strlen(text) > 76)
		memcpy(text + 73, "...", 4);
	snprintf(out, size, "%s", text);
}

int cli_rules_list(void)
{
	char **names;
	size_t n = list_names(&names);
	if (!names) {
		cli_error(NULL, "out of memory");
		return NXP_EXIT_INPUT;
	}
	if (!n) {
		cli_error(NULL, "no shipped rule sets found (looked in NXPATCH_RULES_PATH, beside the "
		                "binary and in the installed share/nxpatch/rules)");
		free_names(names, n);
		return NXP_EXIT_INPUT;
	}
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX], desc[512];
		if (!cli_find_rules(names[i], path, sizeof(path)))
			continue;
		describe(path, names[i], desc, sizeof(desc));
		printf("%-16s %s\n", names[i], desc);
	}
	free_names(names, n);
	return NXP_EXIT_OK;
}

int cli_rules_show(const char *name)
{
	char path[PATH_MAX];
	if (!cli_find_rules(name, path, sizeof(path)))
		return cli_usage("policy", "no shipped rule set named '%s' (see 'nxpatch policy list')",
		                 name);
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		cli_error(path, "cannot open: %s", strerror(errno));
		return NXP_EXIT_INPUT;
	}
	char buf[8192];
	size_t got;
	while ((got = fread(buf, 1, sizeof(buf), fp)) > 0)
		fwrite(buf, 1, got, stdout);
	fclose(fp);
	return NXP_EXIT_OK;
}

/* Read all of standard input for --policy -, at most max bytes (+1 to see
 * that there is more). */
static char *read_stdin(size_t max, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (n == cap) {
			if (cap > max)
				break;
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		size_t got = fread(buf + n, 1, cap - n, stdin);
		n += got;
		if (got == 0)
			break;
	}
	if (buf && ferror(stdin)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

int cli_load_policy_arg(const char *cmd, const char *arg, nxp_policy **out)
{
	*out = NULL;
	if (!arg)
		return cli_load_policy(NULL, out);
	if (!strcmp(arg, "-")) {
		if (cli_stdin_claim(cmd, "--policy -"))
			return NXP_EXIT_USAGE;
		size_t len = 0;
		char *buf = read_stdin(NXP_POLICY_STDIN_MAX, &len);
		if (!buf)
			return cli_usage(cmd, "--policy -: cannot read the policy from standard input");
		if (len > NXP_POLICY_STDIN_MAX) {
			free(buf);
			return cli_usage(cmd, "--policy -: the policy on standard input is larger than "
			                      "%d bytes", NXP_POLICY_STDIN_MAX);
		}
		int status = cli_load_policy_buffer("<stdin>", buf, len, out);
		free(buf);
		return status ? NXP_EXIT_USAGE : NXP_EXIT_OK;
	}
	struct stat st;
	char found[PATH_MAX];
	const char *path = arg;
	if (stat(arg, &st) != 0) {
		if (errno == ENOENT && !strchr(arg, '/') && cli_find_rules(arg, found, sizeof(found))) {
			path = found;
		} else {
			int e = errno;
			if (e == ENOENT && !strchr(arg, '/')) {
				char **names;
				size_t n = list_names(&names);
				const char *close = names ? nxpi_closest(arg, (const char *const *)names, n) : NULL;
				int status = cli_usage(cmd, "--policy %s: no such file, and no shipped rule set "
				                       "of that name (%s%s%ssee 'nxpatch policy list')", arg,
				                       close ? "did you mean '" : "", close ? close : "",
				                       close ? "'? " : "");
				if (names)
					free_names(names, n);
				return status;
			}
			return cli_usage(cmd, "--policy %s: %s", arg, strerror(e));
		}
	}
	int status = cli_load_policy(path, out);
	/* An unreadable policy is a usage error like an invalid one (exit 2),
	 * consistently with --trust and --cert. */
	return status ? NXP_EXIT_USAGE : NXP_EXIT_OK;
}
