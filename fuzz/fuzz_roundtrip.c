/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_roundtrip: plan and apply fixed policies to arbitrary bytes, then
 * re-read the output. Whenever apply reports success with changes, the
 * written file must parse, carry exactly the planned DllCharacteristics and
 * section characteristics and (checksum: always) a valid checksum. Apply may
 * refuse, but never with a verification failure or an internal error: those
 * mean the planner or the writer produced a wrong image.
 * Outputs go to a private directory in /dev/shm (tmpfs: fsync is free) or
 * $TMPDIR, removed at exit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "nxpatch/analysis.h"
#include "nxpatch/file.h"
#include "nxpatch/input.h"
#include "nxpatch/pe.h"
#include "nxpatch/plan.h"
#include "nxpatch/policy.h"
#include "nxpatch/write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy_yaml[] =
	"nxpatch: 1\n"
	"settings:\n"
	"  signature: strip\n"
	"  checksum: always\n"
	"rules:\n"
	"  - id: rt-flags\n"
	"    actions:\n"
	"      - set: [nx_compat]\n"
	"      - clear: [no_seh]\n"
	"  - id: rt-code\n"
	"    actions:\n"
	"      - section: \"@code-in-data\"\n"
	"        add: [execute]\n"
	"        allow_wx: true\n"
	"  - id: rt-text\n"
	"    when:\n"
	"      has_section: [\".text\"]\n"
	"    actions:\n"
	"      - section: \".text\"\n"
	"        remove: [write, discardable]\n"
	"  - id: rt-data\n"
	"    when:\n"
	"      code_in_data: false\n"
	"    actions:\n"
	"      - section: \".data*\"\n"
	"        remove: [execute]\n";

static nxp_policy *policies[2];
static char dir[256], out_path[300];

static void cleanup(void)
{
	if (out_path[0])
		unlink(out_path);
	if (dir[0])
		rmdir(dir);
}

static void init(void)
{
	nxp_diags d = {0};
	nxp_error err = {0};
	int rc = nxp_policy_load_buffer(&policies[0], "roundtrip.yaml", policy_yaml,
	                                sizeof(policy_yaml) - 1, &d, &err);
	FUZZ_CHECK(rc == NXP_OK, "fixed policy: %s", err.msg);
	nxp_diags_free(&d);
	rc = nxp_policy_load_default(&policies[1], &d, &err);
	FUZZ_CHECK(rc == NXP_OK, "default policy: %s", err.msg);
	nxp_diags_free(&d);
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/nxp-fuzz-rt.XXXXXX", base ? base : "/tmp");
	FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
	snprintf(out_path, sizeof(out_path), "%s/out.exe", dir);
	atexit(cleanup);
}

static void check_output(const nxp_plan *plan, const nxp_policy *pol)
{
	nxp_file f;
	nxp_error err = {0};
	FUZZ_CHECK(nxp_file_load(&f, out_path, &err) == NXP_OK, "output unreadable: %s", err.msg);
	static nxp_image img;
	int rc = nxp_pe_parse(&img, f.data, f.len, &err);
	FUZZ_CHECK(rc == NXP_OK, "apply succeeded but the output does not parse: %s", err.msg);
	FUZZ_CHECK(img.dll_characteristics == plan->dll_new, "dll chars 0x%x, planned 0x%x",
	           img.dll_characteristics, plan->dll_new);
	for (unsigned i = 0; i < img.nsections; i++)
		FUZZ_CHECK(img.sections[i].characteristics == plan->section_new[i],
		           "section %u: 0x%x, planned 0x%x", i, img.sections[i].characteristics,
		           plan->section_new[i]);
	if (pol->checksum == NXP_CHECKSUM_ALWAYS)
		FUZZ_CHECK(img.checksum == nxp_pe_checksum(f.data, f.len, img.checksum_offset),
		           "stored checksum 0x%x is not valid", img.checksum);
	if (plan->signature == NXP_SIGACT_STRIP)
		FUZZ_CHECK(img.ncerts == 0, "signature not stripped");
	nxp_file_unload(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static nxp_input in;
	static nxp_plan plan;
	if (!policies[0])
		init();
	memset(&in, 0, sizeof(in));
	in.path = "fuzz-input.exe";
	in.file.data = data;
	in.file.len = size;
	in.file.fd = -1;    /* no open file behind it */
	in.file.guard = -1;
	nxp_error err = {0};
	if (nxp_pe_parse(&in.img, data, size, &err))
		return 0;
	if (nxp_analyze(&in.facts, &in.img, in.path, &err)) {
		nxp_facts_free(&in.facts);
		return 0;
	}
	for (int p = 0; p < 2; p++) {
		nxp_plan_options popt = {0};
		int rc = nxp_plan_build(&plan, policies[p], &in.facts, &popt, &err);
		FUZZ_CHECK(rc == NXP_OK, "plan_build: %s", err.msg);
		FUZZ_CHECK(plan.nchanges <= NXP_MAX_CHANGES, "%zu changes", plan.nchanges);
		for (size_t i = 0; i < plan.nchanges; i++)
			FUZZ_CHECK((uint64_t)plan.changes[i].offset + plan.changes[i].size <= size,
			           "change %zu at 0x%x outside the input", i, plan.changes[i].offset);
		nxp_apply_result res;
		unlink(out_path);
		rc = nxp_apply(&in, &plan, out_path, NULL, &res, &err);
		if (rc) {
			fuzz_check_error(rc, &err);
			FUZZ_CHECK(rc != NXP_E_VERIFY && rc != NXP_E_INTERNAL,
			           "policy %d: apply failed its own verification: %s", p, err.msg);
			FUZZ_CHECK(rc != NXP_E_REFUSED || plan.status == NXP_PLAN_REFUSED,
			           "refused without a refused plan");
			FUZZ_CHECK(access(out_path, F_OK) != 0, "failed apply left an output");
		} else if (plan.status == NXP_PLAN_CHANGES) {
			FUZZ_CHECK(res.written, "changes planned, nothing written");
			check_output(&plan, policies[p]);
		}
	}
	unlink(out_path);
	nxp_facts_free(&in.facts);
	return 0;
}
