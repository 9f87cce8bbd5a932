/* SPDX-License-Identifier: Apache-2.0 */
/* The planner on generated images with policies loaded from YAML text:
 * rule order, the deciding rule of each bit, every safety refusal, the
 * signature settings, and the incremental checksum against a full recompute. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/plan.h"
#include "support.h"

#define CAP (1 << 20)
static uint8_t buf[CAP];
static nxp_image img;
static nxp_facts facts;
static nxp_plan plan;
static nxp_policy *pol;

static void load_policy(const char *yaml)
{
	nxp_diags d = {0};
	nxp_error err = {0};
	int rc = nxp_policy_load_buffer(&pol, "test.yaml", yaml, strlen(yaml), &d, &err);
	cr_assert_eq(rc, NXP_OK, "policy: %s", err.msg);
	nxp_diags_free(&d);
}

static size_t setup(const nxt_pe_spec *spec, const char *yaml)
{
	size_t n = nxt_build_pe(buf, CAP, spec, NULL);
	cr_assert(n > 0);
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(&img, buf, n, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_analyze(&facts, &img, "dir/legacy/app.exe", &err), NXP_OK);
	load_policy(yaml);
	return n;
}

static void build(int will_sign)
{
	nxp_plan_options opt = {.will_sign = will_sign};
	nxp_error err = {0};
	cr_assert_eq(nxp_plan_build(&plan, pol, &facts, &opt, &err), NXP_OK);
}

static void teardown(void)
{
	nxp_facts_free(&facts);
	nxp_policy_free(pol);
	pol = NULL;
}

static const nxp_change *find(nxp_field field, int section)
{
	for (size_t i = 0; i < plan.nchanges; i++)
		if (plan.changes[i].field == field && plan.changes[i].section == section)
			return &plan.changes[i];
	return NULL;
}

static int refused_with(const char *rule, const char *text)
{
	for (size_t i = 0; i < plan.nrefusals; i++)
		if (plan.refusals[i].rule && !strcmp(plan.refusals[i].rule, rule) &&
		    strstr(plan.refusals[i].reason, text))
			return 1;
	return 0;
}

/* Apply the plan to a copy and recompute the checksum from scratch. */
static uint32_t checksum_after_plan(void)
{
	static uint8_t out[CAP];
	memcpy(out, buf, (size_t)plan.out_len);
	for (size_t i = 0; i < plan.nchanges; i++)
		for (uint32_t k = 0; k < plan.changes[i].size; k++)
			out[plan.changes[i].offset + k] = (uint8_t)(plan.changes[i].new_value >> (8 * k));
	return nxp_pe_checksum(out, (size_t)plan.out_len, img.checksum_offset);
}

Test(plan, sets_flag_and_section_with_rules_named, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 3, .dll_characteristics = 0x40};
	setup(&spec, "nxpatch: 1\n"
	                        "rules:\n"
	                        "  - id: dep\n"
	                        "    actions:\n"
	                        "      - set: [nx_compat]\n"
	                        "  - id: thunks\n"
	                        "    actions:\n"
	                        "      - section: .data\n"
	                        "        add: [execute]\n"
	                        "        allow_wx: true\n");
	build(0);
	cr_assert_eq(plan.status, NXP_PLAN_CHANGES);
	const nxp_change *d = find(NXP_FIELD_DLL_CHARACTERISTICS, -1);
	cr_assert(d);
	cr_assert_eq(d->offset, img.dll_characteristics_offset);
	cr_assert_eq(d->old_value, 0x40);
	cr_assert_eq(d->new_value, 0x140);
	cr_assert_eq(d->nbits, 1);
	cr_assert_str_eq(d->bits[0].rule, "dep");
	/* both .data sections (1 and 2) get execute from "thunks" */
	for (int s = 1; s <= 2; s++) {
		const nxp_change *c = find(NXP_FIELD_SECTION_CHARACTERISTICS, s);
		cr_assert(c, "section %d", s);
		cr_assert_eq(c->new_value, 0xE0000040);
		cr_assert_str_eq(c->bits[0].rule, "thunks");
	}
	cr_assert_null(find(NXP_FIELD_SECTION_CHARACTERISTICS, 0));
	/* the planned checksum is the real checksum of the patched bytes */
	const nxp_change *cs = find(NXP_FIELD_CHECKSUM, -1);
	cr_assert(cs);
	cr_assert_eq(cs->new_value, checksum_after_plan());
	cr_assert_eq(plan.nmatched, 2);
	/* sorted by offset */
	for (size_t i = 1; i < plan.nchanges; i++)
		cr_assert(plan.changes[i - 1].offset < plan.changes[i].offset);
}

Test(plan, later_rule_wins_on_the_same_bit, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .dll_characteristics = 0x40};
	setup(&spec, "nxpatch: 1\n"
	             "rules:\n"
	             "  - id: first\n"
	             "    actions: [{set: [nx_compat, no_seh]}]\n"
	             "  - id: second\n"
	             "    actions: [{clear: [no_seh]}]\n");
	build(0);
	const nxp_change *d = find(NXP_FIELD_DLL_CHARACTERISTICS, -1);
	cr_assert(d);
	cr_assert_eq(d->new_value, 0x140, "no_seh set by first, cleared by second");
	cr_assert_eq(d->nbits, 1);
	cr_assert_str_eq(d->bits[0].rule, "first");
}

Test(plan, nothing_to_do_when_already_compliant, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .dll_characteristics = 0x140};
	setup(&spec, "nxpatch: 1\nrules:\n  - id: dep\n    actions: [{set: [nx_compat]}]\n");
	build(0);
	cr_assert_eq(plan.status, NXP_PLAN_NOTHING);
	cr_assert_eq(plan.nchanges, 0);
}

Test(plan, conditions_select_rules, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 0, .nsections = 2, .with_imports = 1};
	setup(&spec, "nxpatch: 1\n"
	             "rules:\n"
	             "  - id: amd64-only\n"
	             "    when: {machine: [amd64]}\n"
	             "    actions: [{set: [nx_compat]}]\n"
	             "  - id: atl\n"
	             "    when: {imports: [atl71.dll], path: ['**/legacy/**']}\n"
	             "    actions: [{set: [terminal_server_aware]}]\n");
	build(0);
	const nxp_change *d = find(NXP_FIELD_DLL_CHARACTERISTICS, -1);
	cr_assert(d);
	cr_assert_eq(d->new_value, 0x8000);
	cr_assert_str_eq(d->bits[0].rule, "atl");
	cr_assert_eq(plan.nmatched, 1);
}

Test(plan, refuses_wx_without_allow_wx, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	setup(&spec, "nxpatch: 1\n"
	             "rules:\n"
	             "  - id: exec-data\n"
	             "    actions:\n"
	             "      - section: .data\n"
	             "        add: [execute]\n");
	build(0);
	cr_assert_eq(plan.status, NXP_PLAN_REFUSED);
	cr_assert(refused_with("exec-data", "section .data would become writable and executable"));
	cr_assert(refused_with("exec-data", "allow_wx: true"));
}

Test(plan, refuses_dynamic_base_without_relocations, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	setup(&spec, "nxpatch: 1\nrules:\n  - id: aslr\n    actions: [{set: [dynamic_base]}]\n");
	build(0);
	cr_assert_eq(plan.status, NXP_PLAN_REFUSED);
	cr_assert(refused_with("aslr", "dynamic_base needs base relocations"));
}

Test(plan, refuses_high_entropy_va_on_pe32, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 0, .nsections = 2, .dll_characteristics = 0x40};
	setup(&spec, "nxpatch: 1\nrules:\n  - id: hev\n    actions: [{set: [high_entropy_va]}]\n");
	build(0);
	cr_assert(refused_with("hev", "high_entropy_va applies only to PE32+"));
}

Test(plan, refuses_high_entropy_va_without_dynamic_base, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	setup(&spec, "nxpatch: 1\nrules:\n  - id: hev\n    actions: [{set: [high_entropy_va]}]\n");
	build(0);
	cr_assert(refused_with("hev", "high_entropy_va needs dynamic_base"));
}

Test(plan, refuses_guard_cf_without_guard_tables, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	setup(&spec, "nxpatch: 1\nrules:\n  - id: cfg\n    actions: [{set: [guard_cf]}]\n");
	build(0);
	cr_assert(refused_with("cfg", "guard_cf needs a load configuration with guard tables"));
}

Test(plan, refuses_force_integrity_unless_signed, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	setup(&spec, "nxpatch: 1\nrules:\n  - id: fi\n    actions: [{set: [force_integrity]}]\n");
	build(0);
	cr_assert(refused_with("fi", "force_integrity"));
}

Test(plan, force_integrity_allowed_when_resigning, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .cert_size = 0x40};
	setup(&spec, "nxpatch: 1\nsettings: {signature: resign}\n"
	             "rules:\n  - id: fi\n    actions: [{set: [force_integrity]}]\n");
	build(1);
	cr_assert_eq(plan.status, NXP_PLAN_CHANGES, "%s", plan.nrefusals ? plan.refusals[0].reason : "");
	cr_assert_eq(plan.signature, NXP_SIGACT_RESIGN);
	cr_assert_null(find(NXP_FIELD_CHECKSUM, -1), "re-signing computes the checksum last");
}

Test(plan, signed_image_refused_by_default, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .cert_size = 0x40};
	setup(&spec, "nxpatch: 1\nrules:\n  - id: dep\n    actions: [{set: [nx_compat]}]\n");
	build(0);
	cr_assert_eq(plan.status, NXP_PLAN_REFUSED);
	cr_assert(refused_with("dep", "image is signed (1 entry) and the policy says signature: refuse"));
}

Test(plan, strip_truncates_and_zeroes_the_entry, .fini = teardown)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .cert_size = 0x40};
	size_t n = nxt_build_pe(buf, CAP, &spec, &l);
	(void)n;
	setup(&spec, "nxpatch: 1\nsettings: {signature: strip}\n"
	             "rules:\n  - id: dep\n    actions: [{set: [nx_compat]}]\n");
	build(0);
	cr_assert_eq(plan.status, NXP_PLAN_CHANGES);
	cr_assert_eq(plan.signature, NXP_SIGACT_STRIP);
	cr_assert_eq(plan.out_len, l.cert_offset);
	const nxp_change *c = find(NXP_FIELD_CERT_DIR, -1);
	cr_assert(c);
	cr_assert_eq(c->offset, img.cert_dir_offset);
	cr_assert_eq(c->new_value, 0);
	const nxp_change *cs = find(NXP_FIELD_CHECKSUM, -1);
	cr_assert(cs);
	cr_assert_eq(cs->new_value, checksum_after_plan());
}

/* A certificate table with bytes after it cannot be stripped (or replaced)
 * without moving them: refused, and the signature left alone. */
Test(plan, strip_refused_when_the_table_is_not_at_the_end, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .cert_size = 0x40};
	size_t n = nxt_build_pe(buf, CAP, &spec, NULL);
	cr_assert(n > 0);
	memset(buf + n, 0, 16); /* 16 bytes after the table */
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(&img, buf, n + 16, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_analyze(&facts, &img, "app.exe", &err), NXP_OK);
	cr_assert(facts.is_signed);
	load_policy("nxpatch: 1\nsettings: {signature: strip}\n"
	            "rules:\n  - id: dep\n    actions: [{set: [nx_compat]}]\n");
	build(0);
	cr_assert_eq(plan.status, NXP_PLAN_REFUSED);
	cr_assert(refused_with("dep", "is not at the end of the file"));
	cr_assert_eq(plan.signature, NXP_SIGACT_NONE);
	cr_assert_eq(plan.out_len, n + 16);
}

Test(plan, zero_checksum_stays_zero_unless_always, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .dll_characteristics = 0x40};
	size_t n = setup(&spec, "nxpatch: 1\nrules:\n  - id: dep\n    actions: [{set: [nx_compat]}]\n");
	/* zero the stored checksum and re-derive */
	memset(buf + img.checksum_offset, 0, 4);
	nxp_error err = {0};
	nxp_facts_free(&facts);
	cr_assert_eq(nxp_pe_parse(&img, buf, n, &err), NXP_OK);
	cr_assert_eq(nxp_analyze(&facts, &img, "a.exe", &err), NXP_OK);
	build(0);
	cr_assert_null(find(NXP_FIELD_CHECKSUM, -1));
	cr_assert_eq(plan.checksum_new, 0);
	nxp_policy_free(pol);
	load_policy("nxpatch: 1\nsettings: {checksum: always}\n"
	            "rules:\n  - id: dep\n    actions: [{set: [nx_compat]}]\n");
	build(0);
	const nxp_change *cs = find(NXP_FIELD_CHECKSUM, -1);
	cr_assert(cs);
	cr_assert_eq(cs->new_value, checksum_after_plan());
}

Test(plan, incremental_checksum_matches_full_recompute_on_odd_offsets, .fini = teardown)
{
	/* Move e_lfanew to an odd offset so fields straddle 16-bit words. */
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 3, .dll_characteristics = 0x40};
	size_t n = nxt_build_pe(buf, CAP, &spec, NULL);
	memmove(buf + 0x81, buf + 0x80, n - 0x81);
	nxt_put32(buf + 0x3c, 0x81);
	/* section headers moved by one: keep raw offsets valid by reparsing only
	 * headers; the raw data shift is irrelevant to the planner */
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(&img, buf, n, &err), NXP_OK, "%s", err.msg);
	nxt_put32(buf + img.checksum_offset, 0x12345);
	cr_assert_eq(nxp_pe_parse(&img, buf, n, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_analyze(&facts, &img, "a.exe", &err), NXP_OK);
	/* high_entropy_va (0x20) and code (0x20) live in the low byte of their
	 * fields, which now sits at an odd file offset. */
	cr_assert(img.dll_characteristics_offset & 1);
	cr_assert(img.sections[0].characteristics_offset & 1);
	load_policy("nxpatch: 1\nrules:\n  - id: r\n    actions:\n"
	            "      - set: [nx_compat, high_entropy_va]\n"
	            "      - section: '*'\n        add: [code, shared]\n        remove: [read]\n"
	            "        allow_wx: true\n");
	build(0);
	cr_assert_eq(plan.status, NXP_PLAN_CHANGES);
	cr_assert_eq(find(NXP_FIELD_CHECKSUM, -1)->new_value, checksum_after_plan());
}

/* The default-policy pattern: make code-in-data sections executable, then opt
 * in to DEP when no evidence remains, in one pass; the output then has
 * nothing to do. Evidence here: the entry point lies in read-only .rdata. */
Test(plan, code_in_data_resolved_by_earlier_rule_in_one_pass, .fini = teardown)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .dll_characteristics = 0x40};
	size_t n = nxt_build_pe(buf, CAP, &spec, NULL);
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(&img, buf, n, &err), NXP_OK);
	/* section 1 read-only data, entry point inside it */
	nxt_put32(buf + img.sections[1].characteristics_offset, 0x40000040);
	nxt_put32(buf + img.pe_offset + 24 + 16, 0x2000);
	cr_assert_eq(nxp_pe_parse(&img, buf, n, &err), NXP_OK);
	cr_assert_eq(nxp_analyze(&facts, &img, "a.exe", &err), NXP_OK);
	cr_assert(facts.code_in_data);
	const char *yaml = "nxpatch: 1\n"
	                   "rules:\n"
	                   "  - id: exec\n"
	                   "    when: {code_in_data: true}\n"
	                   "    actions: [{section: '@code-in-data', add: [execute]}]\n"
	                   "  - id: dep\n"
	                   "    when: {code_in_data: false}\n"
	                   "    actions: [{set: [nx_compat]}]\n";
	load_policy(yaml);
	build(0);
	cr_assert_eq(plan.status, NXP_PLAN_CHANGES);
	cr_assert(find(NXP_FIELD_SECTION_CHARACTERISTICS, 1));
	const nxp_change *d = find(NXP_FIELD_DLL_CHARACTERISTICS, -1);
	cr_assert(d, "nx_compat must be planned in the same pass");
	cr_assert_str_eq(d->bits[0].rule, "dep");

	/* the output of the plan: nothing left to do */
	static uint8_t out[CAP];
	memcpy(out, buf, n);
	for (size_t i = 0; i < plan.nchanges; i++)
		for (uint32_t k = 0; k < plan.changes[i].size; k++)
			out[plan.changes[i].offset + k] = (uint8_t)(plan.changes[i].new_value >> (8 * k));
	nxp_facts_free(&facts);
	cr_assert_eq(nxp_pe_parse(&img, out, n, &err), NXP_OK);
	cr_assert_eq(nxp_analyze(&facts, &img, "a.exe", &err), NXP_OK);
	cr_assert(!facts.code_in_data);
	build(0);
	cr_assert_eq(plan.status, NXP_PLAN_NOTHING, "second pass: %zu changes", plan.nchanges);
}

extern const char nxpi_default_policy_yaml[];
extern const size_t nxpi_default_policy_yaml_len;

/* The built-in policy opts a plain unsigned image in to DEP, but not one that
 * imports ATL 7.1 (run-time heap thunks), and says why. */
Test(plan, default_policy_keeps_old_atl_images_out_of_dep, .fini = teardown)
{
	nxt_pe_spec plain = {.pe32plus = 0, .nsections = 2, .dll_characteristics = 0x40};
	setup(&plain, nxpi_default_policy_yaml);
	build(0);
	const nxp_change *d = find(NXP_FIELD_DLL_CHARACTERISTICS, -1);
	cr_assert(d && d->new_value == 0x140, "plain image: nx_compat expected");
	teardown();

	nxt_pe_spec atl = {.pe32plus = 0, .nsections = 2, .dll_characteristics = 0x40,
	                   .with_imports = 1};
	setup(&atl, nxpi_default_policy_yaml);
	build(0);
	cr_assert_null(find(NXP_FIELD_DLL_CHARACTERISTICS, -1), "ATL 7.1 image must stay out of DEP");
	cr_assert_eq(plan.status, NXP_PLAN_NOTHING);
	int warned = 0;
	for (size_t i = 0; i < plan.nwarnings; i++)
		warned |= strstr(plan.warnings[i], "ATL71.DLL") != NULL;
	cr_assert(warned, "the plan must warn about the ATL import");
}

/* Rule ids may be up to 128 characters; the plan must name them whole. */
Test(plan, long_rule_ids_are_named_whole, .fini = teardown)
{
	char id[129], yaml[512];
	memset(id, 'r', 128);
	id[128] = '\0';
	snprintf(yaml, sizeof(yaml),
	         "nxpatch: 1\nrules:\n  - id: %s\n    actions:\n      - section: .data\n"
	         "        add: [execute]\n", id);
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	setup(&spec, yaml);
	build(0);
	const nxp_change *c = find(NXP_FIELD_SECTION_CHARACTERISTICS, 1);
	cr_assert(c);
	cr_assert_str_eq(c->bits[0].rule, id);
	cr_assert(refused_with(id, "would become writable and executable"));
	cr_assert_eq(plan.nmatched, 1);
	cr_assert_str_eq(plan.matched[0], id);
}

/* Every matching rule is named, however many (the JSON's rules_matched and
 * the journal come from plan.matched): 40 rules, more than the 32 warnings
 * a plan keeps. */
Test(plan, every_matching_rule_is_named, .fini = teardown)
{
	static char yaml[8192];
	size_t w = (size_t)snprintf(yaml, sizeof(yaml), "nxpatch: 1\nrules:\n");
	for (int i = 0; i < 40; i++)
		w += (size_t)snprintf(yaml + w, sizeof(yaml) - w,
		                      "  - id: r%d\n    actions:\n      - set: [nx_compat]\n", i);
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .dll_characteristics = 0x40};
	setup(&spec, yaml);
	build(0);
	cr_assert_eq(plan.nmatched, 40);
	char id[8];
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		cr_assert_str_eq(plan.matched[i], id);
	}
}

/* Every field has one name, the names are distinct, and a value outside the
 * enum is "unknown" (reports and findings both take these names). */
Test(plan, every_field_has_a_distinct_name)
{
	const char *seen[NXP_FIELD_SECTION_HEADER + 1] = {0};
	for (int f = 0; f <= NXP_FIELD_SECTION_HEADER; f++) {
		const char *n = nxp_field_name((nxp_field)f);
		cr_assert(n && *n && strcmp(n, "unknown"), "field %d has no name", f);
		for (int g = 0; g < f; g++)
			cr_assert(strcmp(n, seen[g]), "fields %d and %d are both %s", g, f, n);
		seen[f] = n;
	}
	cr_assert_str_eq(nxp_field_name((nxp_field)(NXP_FIELD_SECTION_HEADER + 1)), "unknown");
	cr_assert_str_eq(nxp_field_name(NXP_FIELD_CHECKSUM), "checksum");
}
