/* nxpatch scan [--format text|json] [--cross-check] PATH...
 * Reports each image's DEP/NX posture. */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"
#include "nxpatch/crosscheck.h"
#include "nxpatch/input.h"
#include "nxpatch/report.h"

#define MAX_MISMATCHES 64

/* Compare LIEF's view with the reader's. Returns 1 when they agree, 0 when
 * they disagree, -1 when LIEF could not read the file. */
static int cross_check(const nxp_input *in, json_t *o)
{
	nxp_mismatch mm[MAX_MISMATCHES];
	size_t n = 0;
	nxp_error err = {0};
	int rc = nxp_crosscheck_file(in->path, &in->img, mm, MAX_MISMATCHES, &n, &err);
	if (rc == NXP_E_LIEF || (rc && rc != NXP_E_CROSS_CHECK)) {
		cli_error_e(in->path, &err);
		if (o)
			json_object_set_new(o, "cross_check",
			                    json_pack("{s:b, s:s, s:[]}", "agree", 0, "error", err.msg,
			                              "mismatches"));
		return -1;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < n && i < MAX_MISMATCHES; i++) {
		json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "field", mm[i].field, "reader",
		                                      mm[i].reader, "lief", mm[i].lief));
		if (!o)
			printf("  cross-check  %s: reader %s, lief %s\n", mm[i].field, mm[i].reader,
			       mm[i].lief);
	}
	if (o)
		json_object_set_new(o, "cross_check",
		                    json_pack("{s:b, s:I, s:o}", "agree", n == 0, "count", (json_int_t)n,
		                              "mismatches", list));
	else {
		if (n == 0)
			printf("  cross-check  lief agrees on every header and section field\n");
		json_decref(list);
	}
	return n == 0;
}

int cmd_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"cross-check", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int json = 0, cross = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "json"))
				json = 1;
			else if (strcmp(optarg, "text"))
				return cli_usage("scan", "unknown format '%s' (text, json)", optarg);
			break;
		case 'c':
			cross = 1;
			break;
		case 'h':
			printf("usage: nxpatch scan [--format text|json] [--cross-check] PATH...\n");
			return NXP_EXIT_OK;
		default:
			return cli_usage("scan", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage("scan", "no input files");

	int status = NXP_EXIT_OK;
	json_t *files = json ? json_array() : NULL;
	for (int i = optind; i < argc; i++) {
		const char *path = argv[i];
		nxp_error err = {0};
		nxp_input *in;
		if (nxp_input_open(&in, path, &err)) {
			cli_error_e(path, &err);
			if (json)
				json_array_append_new(files, nxp_json_failure(path, &err));
			status = NXP_EXIT_INPUT;
			continue;
		}
		json_t *o = json ? nxp_json_image(&in->facts) : NULL;
		if (!json)
			nxp_text_image(stdout, &in->facts);
		if (cross) {
			int agree = cross_check(in, o);
			if (agree < 0)
				status = NXP_EXIT_INPUT;
			else if (!agree && status == NXP_EXIT_OK)
				status = NXP_EXIT_CHECK;
		}
		if (json)
			json_array_append_new(files, o);
		nxp_input_close(in);
	}
	if (json) {
		json_t *doc = json_pack("{s:o}", "files", files);
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(doc);
	}
	return status;
}
