/* nxpatch scan [--format text|json] PATH...
 * Reports each image's DEP/NX posture. */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"
#include "nxpatch/input.h"
#include "nxpatch/report.h"

int cmd_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int json = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "json"))
				json = 1;
			else if (strcmp(optarg, "text"))
				return cli_usage("scan", "unknown format '%s' (text, json)", optarg);
			break;
		case 'h':
			printf("usage: nxpatch scan [--format text|json] PATH...\n");
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
		if (json)
			json_array_append_new(files, nxp_json_image(&in->facts));
		else
			nxp_text_image(stdout, &in->facts);
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
