/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the subcommands. */
#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "nxpatch/plan.h"
#include "nxpatch/policy.h"
#include "util/escape.h"

/* Every diagnostic of a policy that failed to load, or its one error. */
static int policy_failed(int rc, nxp_diags *diags, const nxp_error *err)
{
	int status = rc == NXP_E_POLICY ? NXP_EXIT_USAGE : NXP_EXIT_INPUT;
	if (rc == NXP_E_POLICY && diags->n) {
		for (size_t i = 0; i < diags->n; i++) {
			char *s = nxp_diag_render(&diags->items[i]);
			if (s)
				fputs(s, stderr);
			else
				fprintf(stderr, "%s\n", diags->items[i].message);
			free(s);
		}
	} else {
		cli_error(NULL, "%s", err->msg);
	}
	nxp_diags_free(diags);
	return status;
}

int cli_load_policy(const char *path, nxp_policy **out)
{
	nxp_diags diags = {0};
	nxp_error err = {0};
	int rc = path ? nxp_policy_load_file(out, path, &diags, &err)
	              : nxp_policy_load_default(out, &diags, &err);
	if (rc == NXP_OK) {
		nxp_diags_free(&diags);
		return NXP_EXIT_OK;
	}
	return policy_failed(rc, &diags, &err);
}

int cli_load_policy_buffer(const char *name, const char *buf, size_t len, nxp_policy **out)
{
	nxp_diags diags = {0};
	nxp_error err = {0};
	int rc = nxp_policy_load_buffer(out, name, buf, len, &diags, &err);
	if (rc == NXP_OK) {
		nxp_diags_free(&diags);
		return NXP_EXIT_OK;
	}
	return policy_failed(rc, &diags, &err);
}

static const char *const format_names[] = {"text", "json", "jsonl", "sarif", "html"};

int cli_parse_format_in(const char *cmd, const char *arg, int *format, unsigned allowed)
{
	for (int i = 0; i < (int)(sizeof(format_names) / sizeof(format_names[0])); i++) {
		if ((allowed & (1u << i)) && !strcmp(arg, format_names[i])) {
			*format = i;
			return 1;
		}
	}
	char list[64] = "";
	for (int i = 0; i < (int)(sizeof(format_names) / sizeof(format_names[0])); i++)
		if (allowed & (1u << i))
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			         list[0] ? ", " : "", format_names[i]);
	cli_usage(cmd, "unknown format '%s' (%s)", arg, list);
	return 0;
}

void cli_print_json(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	fputc('\n', stdout);
	json_decref(doc);
}

void cli_text_rules(FILE *out, const nxp_plan *plan)
{
	fputs("  rules matched:", out);
	for (size_t i = 0; i < plan->nmatched; i++)
		fprintf(out, "%s %s", i ? "," : "", nxpi_shown(plan->matched[i]));
	fputs(plan->nmatched ? "\n" : " none\n", out);
}
