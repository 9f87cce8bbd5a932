/* SPDX-License-Identifier: Apache-2.0 */
/* The judge (src/check): the finding table, agreement of verify's verdict
 * with the plan, the safety refusals for nx_compat, and W+X sanctioned by
 * allow_wx staying sanctioned when the output is judged from the file alone
 * (also after it is signed). Images are generated and patched in memory. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/check.h"
#include "nxpatch/plan.h"
#include "support.h"

#define CAP (1 << 20)
static uint8_t buf[CAP], out[CAP];
static size_t len;
static nxt_layout lay;
static nxp_image img, oimg;
static nxp_facts facts, ofacts;
static nxp_policy *pol;
static nxp_check chk;

#define RW_DATA (NXP_SCN_CNT_INITIALIZED_DATA | NXP_SCN_MEM_READ | NXP_SCN_MEM_WRITE)
#define RWX_DATA (RW_DATA | NXP_SCN_MEM_EXECUTE)

static const char thunk_policy[] =
	"nxpatch: 1\n"
	"rules:\n"
	"  - id: code\n"
	"    when: {signed: false, code_in_data: true}\n"
	"    actions:\n"
	"      - section: \"@code-in-data\"\n"
	"        add: [execute]\n"
	"        allow_wx: true\n"
	"  - id: nx\n"
	"    when: {signed: false}\n"
	"    actions:\n"
	"      - set: [nx_compat]\n";

static const char nx_only_policy[] =
	"nxpatch: 1\n"
	"rules:\n"
	"  - id: nx-always\n"
	"    actions:\n"
	"      - set: [nx_compat]\n";

static void load_policy(const char *yaml)
{
	nxp_diags d = {0};
	nxp_error err = {0};
	int rc = nxp_policy_load_buffer(&pol, "test.yaml", yaml, strlen(yaml), &d, &err);
	cr_assert_eq(rc, NXP_OK, "policy: %s", err.msg);
	nxp_diags_free(&d);
}

/* An amd64 exe with .text and a writable .data (flags1), entry point in
 * .data when entry_in_data. */
static void setup_image2(uint32_t flags1, int entry_in_data, uint32_t cert_size, uint16_t dll)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .cert_size = cert_size};
	spec.section_flags[0] = NXP_SCN_CNT_CODE | NXP_SCN_MEM_EXECUTE | NXP_SCN_MEM_READ;
	spec.section_flags[1] = flags1;
	len = nxt_build_pe(buf, CAP, &spec, &lay);
	cr_assert(len > 0);
	if (entry_in_data)
		nxt_put32(buf + lay.opt + 16, lay.va_stride * 2 + 0x10);
	nxt_put16(buf + lay.opt + 70, dll); /* DllCharacteristics */
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(&img, buf, len, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_analyze(&facts, &img, "app.exe", &err), NXP_OK);
}

static void setup_image(uint32_t flags1, int entry_in_data, uint32_t cert_size)
{
	setup_image2(flags1, entry_in_data, cert_size, 0);
}

static void judge(const nxp_facts *f)
{
	nxp_error err = {0};
	nxp_check_free(&chk);
	cr_assert_eq(nxp_check_image(&chk, pol, f, NULL, &err), NXP_OK, "%s", err.msg);
}

static const nxp_finding *has(nxp_finding_id id)
{
	for (size_t i = 0; i < chk.findings.n; i++)
		if (chk.findings.items[i].id == id)
			return &chk.findings.items[i];
	return NULL;
}

/* Write the plan into out and judge the output from its bytes alone. */
static void apply_and_rejudge(void)
{
	const nxp_plan *p = chk.plan;
	cr_assert_eq(p->status, NXP_PLAN_CHANGES);
	memcpy(out, buf, (size_t)p->out_len);
	for (size_t i = 0; i < p->nchanges; i++)
		for (uint32_t k = 0; k < p->changes[i].size; k++)
			out[p->changes[i].offset + k] = (uint8_t)(p->changes[i].new_value >> (8 * k));
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(&oimg, out, (size_t)p->out_len, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_analyze(&ofacts, &oimg, "app.exe", &err), NXP_OK);
	judge(&ofacts);
}

static void teardown(void)
{
	nxp_check_free(&chk);
	nxp_facts_free(&facts);
	nxp_facts_free(&ofacts);
	nxp_policy_free(pol);
	pol = NULL;
}

Test(check, finding_table_is_well_formed)
{
	size_t nsarif = 0;
	const char *sarif[64];
#define NXP_SARIF_RULE(id, name, text, full, help, uri) sarif[nsarif++] = id;
#include "report/sarif_rules.def"
#undef NXP_SARIF_RULE
	for (unsigned i = 0; i < NXP_F__COUNT; i++) {
		const nxp_finding_info *fi = nxp_finding_info_of((nxp_finding_id)i);
		cr_assert(fi && fi->code == (nxp_finding_id)i);
		cr_assert(fi->id[0] && fi->title[0]);
		for (const char *c = fi->id; *c; c++)
			cr_assert(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-',
			          "finding id %s", fi->id);
		cr_assert_eq(nxp_finding_info_by_name(fi->id), fi, "duplicate id %s", fi->id);
		int found = 0;
		for (size_t k = 0; k < nsarif; k++)
			found |= !strcmp(sarif[k], fi->sarif_rule);
		cr_assert(found, "finding %s maps to SARIF rule %s, which sarif_rules.def lacks", fi->id,
		          fi->sarif_rule);
		/* Failing verdicts are errors; posture never is both error and failing. */
		if (fi->verdict != NXP_VERDICT_POSTURE)
			cr_assert_eq(fi->level, NXP_LEVEL_ERROR, "%s", fi->id);
	}
	cr_assert_null(nxp_finding_info_of(NXP_F__COUNT));
	cr_assert_null(nxp_finding_info_by_name("no-such-finding"));
}

/* The unsafe case of issue 13: an entry point in a writable, non-executable
 * section (a packer's), and a policy that sets nx_compat. */
Test(check, nx_refused_when_entry_point_outside_exec, .fini = teardown)
{
	setup_image(RW_DATA, 1, 0);
	load_policy(nx_only_policy);
	judge(&facts);
	cr_assert_eq(chk.plan->status, NXP_PLAN_REFUSED);
	const nxp_finding *f = has(NXP_F_REFUSED_CODE_OUTSIDE_EXEC);
	cr_assert(f, "no refusal");
	cr_assert_str_eq(f->rule, "nx-always");
	cr_assert(strstr(f->message, "entry_point at 0x2010 in .data"), "%s", f->message);
	cr_assert_eq(f->where.section, 1);
	cr_assert(f->where.has_rva && f->where.rva == 0x2010);
	cr_assert_not(chk.compliant);
}

Test(check, nx_refused_while_unsanctioned_wx_remains, .fini = teardown)
{
	setup_image(RWX_DATA, 0, 0);
	load_policy(nx_only_policy);
	judge(&facts);
	cr_assert_eq(chk.plan->status, NXP_PLAN_REFUSED);
	const nxp_finding *f = has(NXP_F_REFUSED_WX_REMAINS);
	cr_assert(f);
	cr_assert(strstr(f->message, "section .data stays writable and executable"), "%s",
	          f->message);
	cr_assert_not(chk.compliant);
}

/* thunk-sections' shape: the code's section becomes W+X under allow_wx and
 * nx_compat is set; the output, judged from its bytes, complies. */
Test(check, wx_by_allow_wx_stays_sanctioned_after_apply, .fini = teardown)
{
	setup_image(RW_DATA, 1, 0);
	load_policy(thunk_policy);
	judge(&facts);
	cr_assert_eq(chk.plan->status, NXP_PLAN_CHANGES, "%s",
	             chk.plan->nrefusals ? chk.plan->refusals[0].reason : "");
	cr_assert(has(NXP_F_NX_PENDING));
	cr_assert_not(chk.compliant);
	apply_and_rejudge();
	cr_assert(chk.compliant, "%s", chk.findings.n ? chk.findings.items[0].message : "");
	cr_assert_eq(chk.plan->status, NXP_PLAN_NOTHING);
	const nxp_finding *f = has(NXP_F_WX_SANCTIONED);
	cr_assert(f);
	cr_assert_str_eq(f->rule, "code");
}

/* The same output after it is signed: the rules say signed: false, which
 * must not turn a sanctioned W+X section into a failure. */
Test(check, wx_sanction_survives_signing, .fini = teardown)
{
	setup_image2(RWX_DATA, 1, 0x100, NXP_DLL_NX_COMPAT);
	cr_assert(facts.is_signed);
	load_policy(thunk_policy);
	judge(&facts);
	cr_assert_eq(chk.plan->status, NXP_PLAN_NOTHING);
	cr_assert(chk.compliant);
	cr_assert(has(NXP_F_WX_SANCTIONED));
}

/* Without an allow_wx rule nothing sanctions W+X: the posture says so and
 * the verdict stays the plan's. */
Test(check, wx_in_nx_image_without_rule_is_posture, .fini = teardown)
{
	setup_image2(RWX_DATA, 0, 0, NXP_DLL_NX_COMPAT);
	load_policy("nxpatch: 1\nrules: []\n");
	judge(&facts);
	cr_assert(chk.compliant);
	cr_assert(has(NXP_F_WX_NX_IMAGE));
}

/* Over many generated images and policies: compliant exactly when the plan
 * has nothing to do. */
Test(check, verdict_is_the_plan, .fini = teardown)
{
	static const char *const pols[] = {nx_only_policy, thunk_policy,
	                                   "nxpatch: 1\nsettings: {checksum: always}\nrules: []\n",
	                                   "nxpatch: 1\nrules: []\n"};
	static const uint32_t flags[] = {RW_DATA, RWX_DATA, NXP_SCN_MEM_READ};
	unsigned n = 0;
	for (size_t p = 0; p < sizeof(pols) / sizeof(pols[0]); p++)
		for (size_t fl = 0; fl < 3; fl++)
			for (int e = 0; e < 2; e++)
				for (int dll = 0; dll < 2; dll++) {
					setup_image2(flags[fl], e, 0, dll ? NXP_DLL_NX_COMPAT : 0);
					load_policy(pols[p]);
					judge(&facts);
					cr_assert_eq(chk.compliant, chk.plan->status == NXP_PLAN_NOTHING,
					             "policy %zu flags %zu entry %d", p, fl, e);
					if (chk.plan->status == NXP_PLAN_CHANGES) {
						apply_and_rejudge();
						cr_assert(chk.compliant, "after apply: policy %zu flags %zu entry %d: %s",
						          p, fl, e,
						          chk.findings.n ? chk.findings.items[0].message : "");
						nxp_facts_free(&ofacts);
					}
					nxp_policy_free(pol);
					pol = NULL;
					nxp_facts_free(&facts);
					n++;
				}
	cr_assert_eq(n, 48);
}

/* docs/json.md documents every finding id (one table row each). */
Test(check, every_finding_is_documented)
{
	FILE *fp = fopen(NXP_SOURCE_DIR "/docs/json.md", "r");
	cr_assert(fp);
	static char doc[1 << 17];
	size_t n = fread(doc, 1, sizeof(doc) - 1, fp);
	fclose(fp);
	doc[n] = '\0';
	for (unsigned i = 0; i < NXP_F__COUNT; i++) {
		const nxp_finding_info *fi = nxp_finding_info_of((nxp_finding_id)i);
		char row[128];
		snprintf(row, sizeof(row), "| `%s` | %s | %s | %s |", fi->id, fi->sarif_rule,
		         nxp_level_name(fi->level), nxp_verdict_name(fi->verdict));
		cr_assert(strstr(doc, row), "docs/json.md lacks the row %s", row);
	}
}
