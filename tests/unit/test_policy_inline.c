/* SPDX-License-Identifier: Apache-2.0 */
/* Inline edits (nxp_policy_add_edits): what each option compiles to, every
 * bad value's message, their place after a file's rules, the plan they give
 * against the same policy written in YAML, refusals naming the option that
 * would allow the change, and signature: sign in the planner. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/plan.h"
#include "support.h"

#define E(k, v) ((nxp_edit){NXP_EDIT_##k, v})
#define WX ((nxp_edit){NXP_EDIT_ALLOW_WX, NULL})

static nxp_policy *compile(const nxp_edit *e, size_t n)
{
	nxp_policy *p = NULL;
	nxp_error err = {0};
	cr_assert_eq(nxp_policy_add_edits(&p, e, n, &err), NXP_OK, "%s", err.msg);
	cr_assert_not_null(p);
	return p;
}

/* The message of a failing compile. */
static const char *bad(const nxp_edit *e, size_t n)
{
	static nxp_error err;
	nxp_policy *p = NULL;
	memset(&err, 0, sizeof(err));
	cr_assert_eq(nxp_policy_add_edits(&p, e, n, &err), NXP_E_USAGE, "accepted: %s",
	             e[0].value ? e[0].value : "(none)");
	cr_assert_null(p);
	return err.msg;
}

static nxp_policy *yaml(const char *text)
{
	nxp_policy *p;
	nxp_diags d = {0};
	nxp_error err = {0};
	cr_assert_eq(nxp_policy_load_buffer(&p, "test.yaml", text, strlen(text), &d, &err), NXP_OK,
	             "%s", err.msg);
	nxp_diags_free(&d);
	return p;
}

Test(policy_inline, set_and_clear_compile_to_one_rule_each)
{
	nxp_edit e[] = {E(SET, "nx_compat, dynamic_base"), E(CLEAR, "force_integrity")};
	nxp_policy *p = compile(e, 2);
	cr_assert_str_eq(p->source, "<command line>");
	cr_assert_eq(p->nrules, 2);
	cr_assert_eq(p->rules[0].set, NXP_DLL_NX_COMPAT | NXP_DLL_DYNAMIC_BASE);
	cr_assert_eq(p->rules[0].clear, 0);
	cr_assert_str_eq(p->rules[0].option, "--set nx_compat, dynamic_base");
	cr_assert_str_eq(p->rules[0].id, "--set nx_compat, dynamic_base");
	cr_assert_eq(p->rules[1].clear, NXP_DLL_FORCE_INTEGRITY);
	cr_assert_str_eq(p->rules[1].option, "--clear force_integrity");
	/* no conditions: every image matches */
	cr_assert_eq(p->rules[0].signed_cond, -1);
	cr_assert_eq(p->rules[0].code_in_data_cond, -1);
	cr_assert_eq(p->rules[0].kind_mask, 0);
	cr_assert_eq(p->signature, NXP_SIGMODE_REFUSE);
	cr_assert_null(p->signature_from);
	nxp_policy_free(p);
}

Test(policy_inline, section_settings_and_allow_wx)
{
	nxp_edit e[] = {E(SECTION, ".thunk:+execute,-write"), E(SECTION, "@code-in-data:+execute"),
	                E(SECTION, ".t*:+write,+execute"), WX, E(SIGNATURE, "sign"),
	                E(CHECKSUM, "always")};
	nxp_policy *p = compile(e, 6);
	cr_assert_eq(p->nrules, 3);
	const nxp_section_action *a = &p->rules[0].sections[0];
	cr_assert_eq(p->rules[0].nsections, 1);
	cr_assert_str_eq(a->selector, ".thunk");
	cr_assert_eq(a->add, NXP_SCN_MEM_EXECUTE);
	cr_assert_eq(a->remove, NXP_SCN_MEM_WRITE);
	cr_assert_eq(a->allow_wx, 1, "--allow-wx applies to every --section, wherever it is");
	cr_assert_str_eq(p->rules[1].sections[0].selector, NXP_SELECTOR_CODE_IN_DATA);
	cr_assert_eq(p->rules[2].sections[0].add, NXP_SCN_WX);
	cr_assert_eq(p->signature, NXP_SIGMODE_SIGN);
	cr_assert_str_eq(p->signature_from, "--signature sign");
	cr_assert_eq(p->checksum, NXP_CHECKSUM_ALWAYS);
	cr_assert_str_eq(p->checksum_from, "--checksum always");
	nxp_policy_free(p);
}

Test(policy_inline, bad_values_name_the_option)
{
	struct {
		nxp_edit e[2];
		size_t n;
		const char *msg;
	} cases[] = {
		{{E(SET, "nx_compt")}, 1,
		 "--set nx_compt: unknown dll characteristics flag 'nx_compt' (did you mean "
		 "'nx_compat'?)"},
		{{E(CLEAR, "nx_compat,,no_seh")}, 1,
		 "--clear nx_compat,,no_seh: an empty flag name (give names separated by commas)"},
		{{E(SECTION, ".data:+exec")}, 1,
		 "--section .data:+exec: unknown section attribute 'exec' (did you mean 'execute'?)"},
		{{E(SECTION, ".data:execute")}, 1,
		 "--section .data:execute: say '+execute' to add the attribute or '-execute' to "
		 "remove it"},
		{{E(SECTION, ".data")}, 1,
		 "--section .data: expected SECTION:+attribute,-attribute (a name, a glob or "
		 "@code-in-data before the colon), for example '.thunk:+execute,-write'"},
		{{E(SECTION, ":+execute")}, 1, NULL},
		{{E(SECTION, "[.data:+execute")}, 1, "--section [.data:+execute: bad glob '[.data': "},
		{{E(SECTION, "@code-in-dat:+execute")}, 1,
		 "--section @code-in-dat:+execute: unknown selector '@code-in-dat' (did you mean "
		 "'@code-in-data'?)"},
		{{E(SECTION, ".data:+execute,-execute")}, 1,
		 "--section .data:+execute,-execute: both adds and removes 'execute'"},
		{{E(SECTION, ".data:+write,+execute")}, 1,
		 "--section .data:+write,+execute: adding both write and execute makes the section "
		 "writable and executable: add --allow-wx to allow it"},
		{{WX}, 1,
		 "--allow-wx lets --section edits make a section writable and executable, and no "
		 "--section was given"},
		{{E(SET, "nx_compat"), E(CLEAR, "no_seh,nx_compat")}, 2,
		 "--clear no_seh,nx_compat: nx_compat contradicts --set nx_compat: give one"},
		{{E(SIGNATURE, "resgn")}, 1,
		 "--signature resgn: unknown signature mode 'resgn' (did you mean 'resign'?)"},
		{{E(CHECKSUM, "sometimes")}, 1,
		 "--checksum sometimes: unknown checksum mode 'sometimes', expected one of: auto, "
		 "always"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *m = bad(cases[i].e, cases[i].n);
		if (cases[i].msg)
			cr_assert(!strncmp(m, cases[i].msg, strlen(cases[i].msg)), "case %zu: %s", i, m);
	}
}

Test(policy_inline, edits_follow_the_file_rules_and_a_failure_changes_nothing)
{
	nxp_policy *p = yaml("nxpatch: 1\nsettings:\n  signature: strip\nrules:\n"
	                     "  - id: file-rule\n    actions:\n      - set: [nx_compat]\n");
	cr_assert_str_eq(p->signature_from, "test.yaml:3:14");
	nxp_edit ok[] = {E(CLEAR, "nx_compat"), E(SIGNATURE, "resign")};
	nxp_error err = {0};
	cr_assert_eq(nxp_policy_add_edits(&p, ok, 2, &err), NXP_OK, "%s", err.msg);
	cr_assert_str_eq(p->source, "test.yaml");
	cr_assert_eq(p->nrules, 2);
	cr_assert_str_eq(p->rules[0].id, "file-rule");
	cr_assert_null(p->rules[0].option);
	cr_assert_str_eq(p->rules[1].option, "--clear nx_compat");
	cr_assert_eq(p->signature, NXP_SIGMODE_RESIGN);
	cr_assert_str_eq(p->signature_from, "--signature resign");
	char where[128];
	nxp_rule_origin(p, &p->rules[0], where, sizeof(where));
	cr_assert_str_eq(where, "test.yaml:5:5");
	nxp_rule_origin(p, &p->rules[1], where, sizeof(where));
	cr_assert_str_eq(where, "--clear nx_compat");

	nxp_edit no[] = {E(SET, "dynamic_base"), E(SIGNATURE, "strip"), E(SET, "bogus")};
	cr_assert_eq(nxp_policy_add_edits(&p, no, 3, &err), NXP_E_USAGE);
	cr_assert_eq(p->nrules, 2, "a failed compile added rules");
	cr_assert_eq(p->signature, NXP_SIGMODE_RESIGN, "a failed compile changed the settings");
	nxp_policy_free(p);
}

Test(policy_inline, yaml_takes_signature_sign)
{
	nxp_policy *p = yaml("nxpatch: 1\nsettings: {signature: sign}\n");
	cr_assert_eq(p->signature, NXP_SIGMODE_SIGN);
	nxp_policy_free(p);
}

/* ---- against the planner ---- */

#define CAP (1 << 20)
static uint8_t buf[CAP];
static nxp_image img;
static nxp_facts facts;

static void image(const nxt_pe_spec *spec)
{
	size_t n = nxt_build_pe(buf, CAP, spec, NULL);
	cr_assert(n > 0);
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(&img, buf, n, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_analyze(&facts, &img, "app.exe", &err), NXP_OK);
}

static void plan_of(nxp_plan *plan, const nxp_policy *p, int will_sign)
{
	nxp_plan_options opt = {.will_sign = will_sign};
	nxp_error err = {0};
	cr_assert_eq(nxp_plan_build(plan, p, &facts, &opt, &err), NXP_OK);
}

static nxp_plan plan_a, plan_b;

/* The same plan but for the rule names. */
static void same_plan(const nxp_plan *a, const nxp_plan *b)
{
	cr_assert_eq(a->status, b->status);
	cr_assert_eq(a->nchanges, b->nchanges);
	for (size_t i = 0; i < a->nchanges; i++) {
		const nxp_change *x = &a->changes[i], *y = &b->changes[i];
		cr_assert_eq(x->field, y->field);
		cr_assert_eq(x->offset, y->offset);
		cr_assert_eq(x->old_value, y->old_value);
		cr_assert_eq(x->new_value, y->new_value, "change %zu: 0x%llx vs 0x%llx", i,
		             (unsigned long long)x->new_value, (unsigned long long)y->new_value);
		cr_assert_eq(x->nbits, y->nbits);
	}
	cr_assert_eq(a->nrefusals, b->nrefusals);
	for (size_t i = 0; i < a->nrefusals; i++)
		cr_assert_eq(a->refusals[i].id, b->refusals[i].id);
	cr_assert_eq(a->signature, b->signature);
	cr_assert_eq(a->checksum_new, b->checksum_new);
	cr_assert_eq(a->out_len, b->out_len);
}

Test(policy_inline, same_plan_as_the_yaml_policy)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 3, .section_flags = {0x60000020, 0xC0000040,
	                                                                     0x40000040}};
	image(&spec);
	nxp_edit e[] = {E(SET, "nx_compat"), E(CLEAR, "no_seh"), E(SECTION, ".d*:+execute,-write"),
	                E(CHECKSUM, "always")};
	nxp_policy *in = compile(e, 4);
	nxp_policy *file = yaml("nxpatch: 1\nsettings: {checksum: always}\nrules:\n"
	                        "  - id: a\n    actions: [{set: [nx_compat]}]\n"
	                        "  - id: b\n    actions: [{clear: [no_seh]}]\n"
	                        "  - id: c\n    actions: [{section: '.d*', add: [execute], "
	                        "remove: [write]}]\n");
	plan_of(&plan_a, in, 0);
	plan_of(&plan_b, file, 0);
	cr_assert_eq(plan_a.status, NXP_PLAN_CHANGES);
	cr_assert_geq(plan_a.nchanges, 3);
	same_plan(&plan_a, &plan_b);
	for (size_t i = 0; i < plan_a.nchanges; i++)
		if (plan_a.changes[i].field == NXP_FIELD_SECTION_CHARACTERISTICS)
			cr_assert_str_eq(plan_a.changes[i].bits[0].rule, "--section .d*:+execute,-write");
	nxp_policy_free(in);
	nxp_policy_free(file);
	nxp_facts_free(&facts);
}

static int refusal_says(const nxp_plan *p, const char *text)
{
	for (size_t i = 0; i < p->nrefusals; i++)
		if (strstr(p->refusals[i].reason, text))
			return 1;
	return 0;
}

Test(policy_inline, wx_needs_allow_wx_and_the_refusal_names_it)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .section_flags = {0x60000020, 0xC0000040}};
	image(&spec);
	nxp_edit e[] = {E(SECTION, ".data:+execute")};
	nxp_policy *p = compile(e, 1);
	plan_of(&plan_a, p, 0);
	cr_assert_eq(plan_a.status, NXP_PLAN_REFUSED);
	cr_assert_eq(plan_a.refusals[0].id, NXP_F_REFUSED_WX);
	cr_assert_str_eq(plan_a.refusals[0].rule, "--section .data:+execute");
	cr_assert(refusal_says(&plan_a, "; --allow-wx allows it"), "%s", plan_a.refusals[0].reason);
	nxp_policy_free(p);

	nxp_edit ok[] = {E(SECTION, ".data:+execute"), WX};
	p = compile(ok, 2);
	plan_of(&plan_a, p, 0);
	cr_assert_eq(plan_a.status, NXP_PLAN_CHANGES, "%s", plan_a.refusals[0].reason);
	nxp_policy_free(p);

	/* a file's rule: the refusal names the action's line */
	p = yaml("nxpatch: 1\nrules:\n  - id: x\n    actions:\n      - section: .data\n"
	         "        add: [execute]\n");
	plan_of(&plan_a, p, 0);
	cr_assert_eq(plan_a.status, NXP_PLAN_REFUSED);
	cr_assert(refusal_says(&plan_a, "allow_wx: true in the action at test.yaml:5:9 allows it"),
	          "%s", plan_a.refusals[0].reason);
	cr_assert(refusal_says(&plan_a, "(rule x at test.yaml:3:5)"), "%s",
	          plan_a.refusals[0].reason);
	nxp_policy_free(p);
	nxp_facts_free(&facts);
}

Test(policy_inline, signed_refusal_names_the_setting_and_the_option)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .cert_size = 64};
	image(&spec);
	cr_assert(facts.is_signed);
	nxp_edit e[] = {E(SET, "no_seh")};
	nxp_policy *p = compile(e, 1);
	plan_of(&plan_a, p, 0);
	cr_assert_eq(plan_a.status, NXP_PLAN_REFUSED);
	cr_assert_eq(plan_a.refusals[0].id, NXP_F_REFUSED_SIGNED);
	cr_assert(refusal_says(&plan_a, "signature: refuse (the default)"), "%s",
	          plan_a.refusals[0].reason);
	cr_assert(refusal_says(&plan_a, "--signature strip, resign or sign"), "%s",
	          plan_a.refusals[0].reason);
	nxp_policy_free(p);

	nxp_edit e2[] = {E(SET, "no_seh"), E(SIGNATURE, "refuse")};
	p = compile(e2, 2);
	plan_of(&plan_a, p, 0);
	cr_assert(refusal_says(&plan_a, "signature: refuse (--signature refuse)"), "%s",
	          plan_a.refusals[0].reason);
	nxp_policy_free(p);

	/* sign on a signed image with a change: one new signature replaces it */
	nxp_edit e3[] = {E(SET, "no_seh"), E(SIGNATURE, "sign")};
	p = compile(e3, 2);
	plan_of(&plan_a, p, 1);
	cr_assert_eq(plan_a.status, NXP_PLAN_CHANGES);
	cr_assert_eq(plan_a.signature, NXP_SIGACT_RESIGN);
	cr_assert_eq(plan_a.signature_entries, 1);
	cr_assert_eq(plan_a.out_len, img.cert_offset);
	nxp_policy_free(p);

	/* sign on a signed image with nothing else to do: kept as it is */
	nxp_edit e4[] = {E(SIGNATURE, "sign")};
	p = compile(e4, 1);
	plan_of(&plan_a, p, 1);
	cr_assert_eq(plan_a.status, NXP_PLAN_NOTHING);
	cr_assert_eq(plan_a.signature, NXP_SIGACT_NONE);
	nxp_policy_free(p);
	nxp_facts_free(&facts);
}

Test(policy_inline, sign_signs_an_unsigned_image_with_or_without_changes)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	image(&spec);
	cr_assert(!facts.is_signed);
	nxp_policy *p = yaml("nxpatch: 1\nsettings: {signature: sign}\n");
	plan_of(&plan_a, p, 1);
	cr_assert_eq(plan_a.status, NXP_PLAN_CHANGES, "sign must sign an unchanged image");
	cr_assert_eq(plan_a.signature, NXP_SIGACT_RESIGN);
	cr_assert_eq(plan_a.signature_entries, 0);
	cr_assert_eq(plan_a.nchanges, 0);
	cr_assert_eq(plan_a.nwarnings, 0);
	plan_of(&plan_b, p, 0);
	cr_assert_eq(plan_b.nwarnings, 1, "no key: the plan warns");
	cr_assert(strstr(plan_b.warnings[0], "signing needs key material"));

	/* the judge: pending, not compliant */
	nxp_check c;
	nxp_error err = {0};
	cr_assert_eq(nxp_check_image(&c, p, &facts, NULL, &err), NXP_OK, "%s", err.msg);
	cr_assert(!c.compliant);
	int pending = 0;
	for (size_t i = 0; i < c.findings.n; i++)
		pending |= c.findings.items[i].id == NXP_F_SIGNATURE_PENDING;
	cr_assert(pending, "no signature-pending finding");
	nxp_check_free(&c);
	nxp_policy_free(p);

	/* force_integrity is safe when every output is signed */
	nxp_edit e[] = {E(SET, "force_integrity")};
	p = compile(e, 1);
	plan_of(&plan_a, p, 1);
	cr_assert_eq(plan_a.status, NXP_PLAN_REFUSED);
	cr_assert(refusal_says(&plan_a, "--signature sign"), "%s", plan_a.refusals[0].reason);
	nxp_policy_free(p);
	nxp_edit e2[] = {E(SET, "force_integrity"), E(SIGNATURE, "sign")};
	p = compile(e2, 2);
	plan_of(&plan_a, p, 1);
	cr_assert_eq(plan_a.status, NXP_PLAN_CHANGES, "%s", plan_a.refusals[0].reason);
	cr_assert_eq(plan_a.signature, NXP_SIGACT_RESIGN);
	nxp_policy_free(p);
	nxp_facts_free(&facts);
}
