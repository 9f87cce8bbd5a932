/* nxpatch apply [--policy FILE] PATH... (-o OUT | --out-dir DIR | --in-place
 *   [--backup SUFFIX]) [--no-cross-check] [--format text|json] [signing options]
 * Applies exactly the plan, verifies the output, then replaces the target. */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/signargs.h"
#include "nxpatch/input.h"
#include "nxpatch/plan.h"
#include "nxpatch/report.h"

static const char usage[] =
	"usage: nxpatch apply [--policy FILE] PATH... (-o OUT | --out-dir DIR | --in-place "
	"[--backup SUFFIX])\n"
	"         [--no-cross-check] [--format text|json] [signing options]\n" CLI_SIGN_USAGE;

enum { OPT_OUT_DIR = 0x200, OPT_IN_PLACE, OPT_BACKUP, OPT_NO_CROSS, OPT_TEST_CORRUPT };

typedef struct apply_args {
	const char *policy_path;
	const char *out;
	const char *out_dir;
	int in_place;
	const char *backup;
	int cross_check;
	int format;
	int test_corrupt;
	cli_sign_args sign;
} apply_args;

static int output_path(const apply_args *a, const char *in, char *buf, size_t len)
{
	if (a->out)
		return snprintf(buf, len, "%s", a->out) < (int)len;
	if (a->in_place)
		return snprintf(buf, len, "%s", in) < (int)len;
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", in);
	return snprintf(buf, len, "%s/%s", a->out_dir, basename(tmp)) < (int)len;
}

typedef struct totals {
	int changed, unchanged, refused, failed;
} totals;

static void one_image(const apply_args *a, const nxp_policy *pol, const nxp_signer *signer,
                      const char *path, json_t *files, totals *t)
{
	nxp_error err = {0};
	nxp_input *in;
	if (nxp_input_open(&in, path, &err)) {
		cli_error_e(path, &err);
		if (files)
			json_array_append_new(files, nxp_json_failure(path, &err));
		t->failed++;
		return;
	}
	nxp_plan *plan = malloc(sizeof(*plan));
	if (!plan) {
		cli_error(path, "out of memory");
		nxp_input_close(in);
		t->failed++;
		return;
	}
	nxp_plan_options popt = {.will_sign = signer != NULL};
	nxp_plan_build(plan, pol, &in->facts, &popt, &err);

	char out[4096];
	nxp_apply_result res = {0};
	nxp_apply_options aopt = {
		.cross_check = a->cross_check,
		.backup_suffix = a->in_place ? a->backup : NULL,
		.signer = signer,
		.sign_opts = &a->sign.so,
		.test_corrupt_output = a->test_corrupt,
	};
	int rc = NXP_OK;
	if (!output_path(a, path, out, sizeof(out)))
		rc = nxp_fail(&err, NXP_E_USAGE, "output path too long");
	else if (plan->status == NXP_PLAN_CHANGES)
		rc = nxp_apply(in, plan, out, &aopt, &res, &err);

	const char *result;
	if (plan->status == NXP_PLAN_REFUSED) {
		result = "refused";
		t->refused++;
	} else if (rc) {
		result = "failed";
		t->failed++;
	} else if (res.written) {
		result = "written";
		t->changed++;
	} else {
		result = "nothing_to_do";
		t->unchanged++;
	}
	if (files) {
		json_t *o = nxp_json_plan(&in->facts, plan);
		json_t *r = json_pack("{s:s, s:s, s:b}", "status", result, "output", out, "written",
		                      res.written);
		if (res.backup[0])
			json_object_set_new(r, "backup", json_string(res.backup));
		if (rc)
			json_object_set_new(r, "error", json_string(err.msg));
		json_object_set_new(o, "result", r);
		json_array_append_new(files, o);
	} else {
		nxp_text_plan(stdout, &in->facts, plan);
		if (res.written)
			printf("  written: %s (checksum 0x%08x)%s%s\n", out, res.checksum,
			       res.backup[0] ? ", original kept as " : "", res.backup);
		else if (plan->status == NXP_PLAN_NOTHING)
			printf("  not written: nothing to do\n");
		else if (plan->status == NXP_PLAN_REFUSED)
			printf("  not written: refused\n");
	}
	if (rc)
		cli_error(path, "%s", err.msg);
	free(plan);
	nxp_input_close(in);
}

static int parse_args(apply_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"output", required_argument, NULL, 'o'},
		{"out-dir", required_argument, NULL, OPT_OUT_DIR},
		{"in-place", no_argument, NULL, OPT_IN_PLACE},
		{"backup", required_argument, NULL, OPT_BACKUP},
		{"no-cross-check", no_argument, NULL, OPT_NO_CROSS},
		{"format", required_argument, NULL, 'f'},
		{"test-corrupt-output", no_argument, NULL, OPT_TEST_CORRUPT},
		{"help", no_argument, NULL, 'h'},
		CLI_SIGN_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:o:f:h", opts, NULL)) != -1) {
		int s = cli_sign_opt(&a->sign, c, optarg, "apply");
		if (s < 0)
			return NXP_EXIT_USAGE;
		if (s > 0)
			continue;
		switch (c) {
		case 'p': a->policy_path = optarg; break;
		case 'o': a->out = optarg; break;
		case OPT_OUT_DIR: a->out_dir = optarg; break;
		case OPT_IN_PLACE: a->in_place = 1; break;
		case OPT_BACKUP: a->backup = optarg; break;
		case OPT_NO_CROSS: a->cross_check = 0; break;
		case OPT_TEST_CORRUPT: a->test_corrupt = 1; break;
		case 'f':
			if (!cli_parse_format(optarg, &a->format))
				return cli_usage("apply", "unknown format '%s' (text, json)", optarg);
			break;
		case 'h': fputs(usage, stdout); return -1;
		default: return cli_usage("apply", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage("apply", "no input files");
	if (!!a->out + !!a->out_dir + a->in_place != 1)
		return cli_usage("apply", "say where the output goes: -o OUT, --out-dir DIR or "
		                          "--in-place");
	if (a->out && optind + 1 < argc)
		return cli_usage("apply", "-o takes one input; use --out-dir or --in-place for more");
	if (a->backup && !a->in_place)
		return cli_usage("apply", "--backup goes with --in-place");
	if (a->backup && (!*a->backup || strchr(a->backup, '/')))
		return cli_usage("apply", "--backup takes a suffix such as .orig");
	if (a->out_dir) {
		struct stat st;
		if (stat(a->out_dir, &st) != 0 || !S_ISDIR(st.st_mode))
			return cli_usage("apply", "--out-dir %s is not a directory", a->out_dir);
	}
	return cli_sign_finish(&a->sign, "apply", 0);
}

int cmd_apply(int argc, char **argv)
{
	apply_args a = {.cross_check = 1};
	cli_sign_init(&a.sign);
	int status = parse_args(&a, argc, argv);
	if (status)
		return status < 0 ? NXP_EXIT_OK : status;
	nxp_policy *pol;
	if ((status = cli_load_policy(a.policy_path, &pol)))
		return status;
	nxp_signer *signer = NULL;
	if (cli_sign_has_key(&a.sign) && (status = cli_sign_load(&a.sign, &signer))) {
		nxp_policy_free(pol);
		return status;
	}
	totals t = {0};
	json_t *files = a.format == CLI_JSON ? json_array() : NULL;
	for (int i = optind; i < argc; i++)
		one_image(&a, pol, signer, argv[i], files, &t);
	if (files)
		cli_print_json(json_pack("{s:s, s:o, s:{s:i, s:i, s:i, s:i}}", "policy", pol->source,
		                         "files", files, "summary", "changed", t.changed,
		                         "unchanged", t.unchanged, "refused", t.refused, "failed",
		                         t.failed));
	else if (argc - optind > 1)
		printf("%d image%s: %d changed, %d unchanged, %d refused, %d failed\n", argc - optind,
		       argc - optind == 1 ? "" : "s", t.changed, t.unchanged, t.refused, t.failed);
	nxp_signer_free(signer);
	nxp_policy_free(pol);
	if (t.failed)
		return NXP_EXIT_INPUT;
	return t.refused ? NXP_EXIT_CHECK : NXP_EXIT_OK;
}
