/* SPDX-License-Identifier: Apache-2.0 */
/* A program that uses the installed libnxpatch (tests/e2e/install.sh): every
 * public header, then one image through open -> facts -> plan under the
 * built-in policy. Prints "machine kind dll_characteristics changes refusals". */
#include <nxpatch/analysis.h>
#include <nxpatch/check.h>
#include <nxpatch/crosscheck.h>
#include <nxpatch/driver.h>
#include <nxpatch/error.h>
#include <nxpatch/file.h>
#include <nxpatch/input.h>
#include <nxpatch/pe.h>
#include <nxpatch/plan.h>
#include <nxpatch/policy.h>
#include <nxpatch/report.h>
#include <nxpatch/sign.h>
#include <nxpatch/trace.h>
#include <nxpatch/write.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: consumer IMAGE\n");
		return 2;
	}
	nxp_error err = {0};
	nxp_input *in = NULL;
	if (nxp_input_open(&in, argv[1], &err) != NXP_OK) {
		fprintf(stderr, "consumer: %s\n", err.msg);
		return 3;
	}
	nxp_policy *pol = NULL;
	nxp_diags diags = {0};
	if (nxp_policy_load_default(&pol, &diags, &err) != NXP_OK) {
		fprintf(stderr, "consumer: %s\n", err.msg);
		return 3;
	}
	nxp_plan *plan = calloc(1, sizeof(*plan));
	nxp_plan_options opt = {0};
	if (!plan || nxp_plan_build(plan, pol, &in->facts, &opt, &err) != NXP_OK) {
		fprintf(stderr, "consumer: %s\n", err.msg);
		return 3;
	}
	printf("%s %s 0x%04x %zu %zu\n", nxp_machine_name(in->img.machine),
	       nxp_kind_name(nxp_pe_kind(&in->img)), in->img.dll_characteristics, plan->nchanges,
	       plan->nrefusals);
	free(plan);
	nxp_policy_free(pol);
	nxp_diags_free(&diags);
	nxp_input_close(in);
	return 0;
}
