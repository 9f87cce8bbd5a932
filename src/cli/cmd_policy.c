/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch policy check FILE... | list | show NAME | show-default */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "cli/rules.h"
#include "nxpatch/policy.h"
#include "util/escape.h"
#include "util/suggest.h"

extern const char nxpi_default_policy_yaml[];
extern const size_t nxpi_default_policy_yaml_len;

static const char policy_about[] =
	"\nsubcommands:\n"
	"  check FILE...   validate policy files (file:line:col errors, exit 2; - : stdin)\n"
	"  list            the shipped rule sets --policy NAME finds\n"
	"  show NAME       print a shipped rule set\n"
	"  show-default    print the built-in policy\n"
	"The rule sets 'nxpatch policy list' shows are found in NXPATCH_RULES_PATH, beside the\n"
	"binary and in share/nxpatch/rules.\n";

static int policy_usage(void)
{
	return cli_usage("policy", "usage: nxpatch policy check FILE... | list | show NAME | "
	                           "show-default");
}

/* One file: "FILE: ok (N rules)" on stdout, or every diagnostic on stderr in
 * the compiler format (file:line:col: message, source line, caret). */
static int check_one(const char *path)
{
	nxp_policy *p = NULL;
	/* "-": the policy on standard input (as --policy - reads it) */
	int status = strcmp(path, "-") ? cli_load_policy(path, &p)
	                               : cli_load_policy_arg("policy check", "-", &p);
	if (status == NXP_EXIT_OK) {
		printf("%s: ok (%zu rule%s)\n", nxpi_shown(path), p->nrules, p->nrules == 1 ? "" : "s");
		nxp_policy_free(p);
	}
	return status;
}

int cmd_policy(int argc, char **argv)
{
	if (argc < 2)
		return policy_usage();
	/* -h/--help anywhere before "--" (policy check --help) is the help; any
	 * other option is a usage error, not a file name */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			cli_parser p;
			cli_parse_init(&p, "policy", "check FILE... | list | show NAME | show-default",
			               policy_about, NULL);
			cli_print_help(&p);
			return NXP_EXIT_OK;
		}
		if (argv[i][0] == '-' && argv[i][1])
			return cli_usage("policy", "unknown option %s", nxpi_shown(argv[i]));
	}
	if (!strcmp(argv[1], "list")) {
		if (argc != 2)
			return policy_usage();
		return cli_rules_list();
	}
	if (!strcmp(argv[1], "show")) {
		if (argc != 3)
			return policy_usage();
		return cli_rules_show(argv[2]);
	}
	if (!strcmp(argv[1], "show-default")) {
		if (argc != 2)
			return policy_usage();
		fwrite(nxpi_default_policy_yaml, 1, nxpi_default_policy_yaml_len, stdout);
		return NXP_EXIT_OK;
	}
	if (!strcmp(argv[1], "check")) {
		int i = 2;
		if (i < argc && !strcmp(argv[i], "--"))
			i++;
		if (i >= argc)
			return policy_usage();
		int status = NXP_EXIT_OK;
		for (; i < argc; i++) {
			int s = check_one(argv[i]);
			if (s > status)
				status = s;
		}
		return status;
	}
	static const char *const subs[] = {"check", "list", "show", "show-default"};
	const char *close = nxpi_closest(argv[1], subs, sizeof(subs) / sizeof(subs[0]));
	if (close)
		return cli_usage("policy", "'%s' is not a policy subcommand (did you mean '%s'?)",
		                 nxpi_shown(argv[1]), close);
	return policy_usage();
}
