/* nxpatch plan [--policy FILE] [--format text|json] [--check] PATH...
 * The dry run: what apply would change in each image. Writes nothing. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "nxpatch/input.h"
#include "nxpatch/plan.h"
#include "nxpatch/report.h"

static const char usage[] =
	"usage: nxpatch plan [--policy FILE] [--format text|json] [--check] PATH...\n";

int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"format", required_argument, NULL, 'f'},
		{"check", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *policy_path = NULL;
	int format = CLI_TEXT, check = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy_path = optarg;
			break;
		case 'f':
			if (!cli_parse_format(optarg, &format))
				return cli_usage("plan", "unknown format '%s' (text, json)", optarg);
			break;
		case 'c':
			check = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return NXP_EXIT_OK;
		default:
			return cli_usage("plan", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage("plan", "no input files");
	nxp_policy *pol;
	int status = cli_load_policy(policy_path, &pol);
	if (status)
		return status;

	int pending = 0, failed = 0;
	json_t *files = format == CLI_JSON ? json_array() : NULL;
	for (int i = optind; i < argc; i++) {
		nxp_error err = {0};
		nxp_input *in;
		if (nxp_input_open(&in, argv[i], &err)) {
			cli_error_e(argv[i], &err);
			if (files)
				json_array_append_new(files, nxp_json_failure(argv[i], &err));
			failed = 1;
			continue;
		}
		nxp_plan *plan = malloc(sizeof(*plan));
		if (!plan) {
			cli_error(argv[i], "out of memory");
			nxp_input_close(in);
			failed = 1;
			continue;
		}
		nxp_plan_build(plan, pol, &in->facts, NULL, &err);
		if (plan->status != NXP_PLAN_NOTHING)
			pending = 1;
		if (files)
			json_array_append_new(files, nxp_json_plan(&in->facts, plan));
		else
			nxp_text_plan(stdout, &in->facts, plan);
		free(plan);
		nxp_input_close(in);
	}
	if (files)
		cli_print_json(json_pack("{s:s, s:o}", "policy", pol->source, "files", files));
	nxp_policy_free(pol);
	if (failed)
		return NXP_EXIT_INPUT;
	return check && pending ? NXP_EXIT_CHECK : NXP_EXIT_OK;
}
