/* SPDX-License-Identifier: Apache-2.0 */
/* pool: nx in the planner, on the sample driver drv_imm64.sys (built by
 * samples/drivers/ with mingw-w64) with its facts altered to reach each
 * refusal: a Dynamic Value Relocation Table, an IAT reference that is not a
 * call, too many sites, an unknown type; keep_executable; the plan is all
 * or nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/driver.h"
#include "nxpatch/plan.h"

#define DRIVER NXP_BINARY_DIR "/samples/drivers/drv_imm64.sys"

static uint8_t *buf;
static size_t len;
static nxp_image img;
static nxp_facts facts;
static nxp_plan plan;
static nxp_policy *pol;

static void load(const char *yaml)
{
	FILE *fp = fopen(DRIVER, "rb");
	if (!fp) {
		if (getenv("CI"))
			cr_assert_fail("%s not built (mingw-w64 missing?)", DRIVER);
		cr_skip_test("%s not built (needs gcc-mingw-w64-x86-64)", DRIVER);
	}
	buf = malloc(1 << 20);
	cr_assert(buf);
	len = fread(buf, 1, 1 << 20, fp);
	fclose(fp);
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(&img, buf, len, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_analyze(&facts, &img, "drv.sys", &err), NXP_OK, "%s", err.msg);
	cr_assert(facts.driver, "a driver has driver facts");
	nxp_diags d = {0};
	cr_assert_eq(nxp_policy_load_buffer(&pol, "t.yaml", yaml, strlen(yaml), &d, &err), NXP_OK,
	             "%s", err.msg);
	nxp_diags_free(&d);
}

static void build(void)
{
	nxp_error err = {0};
	cr_assert_eq(nxp_plan_build(&plan, pol, &facts, NULL, &err), NXP_OK);
}

static void done(void)
{
	nxp_facts_free(&facts);
	nxp_policy_free(pol);
	pol = NULL;
	free(buf);
}

static const char *POOL = "nxpatch: 1\n"
                          "rules:\n"
                          "  - id: nx-pool\n"
                          "    when: {kind: driver}\n"
                          "    actions:\n"
                          "      - pool: nx\n";

static size_t pool_changes(void)
{
	size_t n = 0;
	for (size_t i = 0; i < plan.nchanges; i++)
		n += plan.changes[i].field == NXP_FIELD_POOL_TYPE;
	return n;
}

static int refused_with(const char *text)
{
	for (size_t i = 0; i < plan.nrefusals; i++)
		if (strstr(plan.refusals[i].reason, text))
			return 1;
	return 0;
}

Test(pool_plan, rewrites_the_three_executable_sites, .fini = done)
{
	load(POOL);
	build();
	cr_assert_eq(plan.status, NXP_PLAN_CHANGES);
	cr_assert_eq(pool_changes(), 3);
	uint32_t want_old[3] = {0, 4, 0}, k = 0;
	for (size_t i = 0; i < plan.nchanges; i++) {
		const nxp_change *c = &plan.changes[i];
		if (c->field != NXP_FIELD_POOL_TYPE)
			continue;
		cr_expect_eq(c->size, 4);
		cr_expect_eq(c->old_value, want_old[k]);
		cr_expect_eq(c->new_value, want_old[k] | 0x200);
		cr_expect_eq(c->old_value, (uint64_t)buf[c->offset] | (uint64_t)buf[c->offset + 1] << 8,
		             "old value is what the file holds");
		cr_expect_str_eq(c->bits[0].rule, "nx-pool");
		k++;
	}
	cr_expect(plan.checksum_new != plan.checksum_old, "the checksum follows the edits");
}

Test(pool_plan, dvrt_refuses_the_image, .fini = done)
{
	load(POOL);
	facts.driver->has_dvrt = 1;
	build();
	cr_expect_eq(plan.status, NXP_PLAN_REFUSED);
	cr_expect(refused_with("Dynamic Value Relocation Table"));
}

Test(pool_plan, an_iat_reference_refuses, .fini = done)
{
	load(POOL);
	nxp_driver_facts *d = facts.driver;
	d->refs[d->nrefs++] = (nxp_drv_ref){0x1234, d->sites[0].iat_rva, d->sites[0].api,
	                                    "IAT slot referenced by an instruction that is not a call"};
	build();
	cr_expect_eq(plan.status, NXP_PLAN_REFUSED);
	cr_expect(refused_with("not every call to it can be seen"));
}

Test(pool_plan, dropped_sites_refuse, .fini = done)
{
	load(POOL);
	facts.driver->sites_dropped = 1;
	build();
	cr_expect_eq(plan.status, NXP_PLAN_REFUSED);
}

Test(pool_plan, one_unknown_site_refuses_all, .fini = done)
{
	load(POOL);
	nxp_drv_site *s = &facts.driver->sites[3]; /* NonPagedPoolNx: now unknown */
	s->known = 0;
	s->how = NXP_HOW_COMPUTED;
	s->verdict = NXP_SITE_UNKNOWN;
	build();
	cr_expect_eq(plan.status, NXP_PLAN_REFUSED);
	cr_expect(refused_with("the pool type is unknown: computed in the block"));
}

Test(pool_plan, keep_executable_leaves_sites_alone, .fini = done)
{
	char yaml[512];
	load(POOL);
	nxp_policy_free(pol);
	snprintf(yaml, sizeof(yaml),
	         "%s        keep_executable: [0x%x, 0x%x, %u]\n", POOL, facts.driver->sites[0].rva,
	         facts.driver->sites[1].rva, facts.driver->sites[4].rva);
	nxp_diags d = {0};
	nxp_error err = {0};
	cr_assert_eq(nxp_policy_load_buffer(&pol, "t.yaml", yaml, strlen(yaml), &d, &err), NXP_OK,
	             "%s", err.msg);
	nxp_diags_free(&d);
	build();
	cr_expect_eq(plan.status, NXP_PLAN_NOTHING);
	cr_expect_eq(pool_changes(), 0);
	cr_expect_eq(plan.nwarnings, 3, "one note per kept executable site");
}

Test(pool_plan, policy_errors)
{
	static const char *bad[] = {
		"nxpatch: 1\nrules:\n  - id: a\n    actions:\n      - pool: yes\n",
		"nxpatch: 1\nrules:\n  - id: a\n    actions:\n      - keep_executable: [0x10]\n",
		"nxpatch: 1\nrules:\n  - id: a\n    actions:\n      - pool: nx\n        keep_executable: [-1]\n",
		"nxpatch: 1\nrules:\n  - id: a\n    actions:\n      - pool: nx\n        set: [nx_compat]\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		nxp_policy *p = NULL;
		nxp_diags d = {0};
		nxp_error err = {0};
		cr_expect_eq(nxp_policy_load_buffer(&p, "t.yaml", bad[i], strlen(bad[i]), &d, &err),
		             NXP_E_POLICY, "case %zu loads", i);
		nxp_diags_free(&d);
		nxp_policy_free(p);
	}
}
