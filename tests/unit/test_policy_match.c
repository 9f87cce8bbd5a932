/* SPDX-License-Identifier: Apache-2.0 */
/* Matching rules against hand-built facts and images. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/analysis.h"
#include "nxpatch/policy.h"
#include "policy/internal.h"

static nxp_image *img;
static nxp_facts facts;
/* import names live in the image buffer, as the reader leaves them */
static const char names[] = "KERNEL32.dll\0atl71.dll\0USER32.DLL";

static void setup(void)
{
	img = calloc(1, sizeof(*img));
	cr_assert_not_null(img);
	img->data = (const uint8_t *)names;
	img->len = sizeof(names);
	img->machine = NXP_MACHINE_I386;
	img->subsystem = 2; /* windows_gui */
	img->dll_characteristics = NXP_DLL_DYNAMIC_BASE;
	img->nsections = 3;
	strcpy(img->sections[0].name, ".text");
	strcpy(img->sections[1].name, ".data");
	strcpy(img->sections[2].name, ".thunk");
	img->nimports = 3;
	img->imports[0] = (nxp_import){0, 12};
	img->imports[1] = (nxp_import){13, 9};
	img->imports[2] = (nxp_import){23, 10};
	memset(&facts, 0, sizeof(facts));
	facts.img = img;
	facts.path = "apps/legacy/bin/app.exe";
	facts.kind = NXP_KIND_EXE;
	facts.is_signed = 0;
	facts.section_evidence[1] = 3;
	facts.code_in_data = 1;
}

static void teardown(void)
{
	free(img);
}

TestSuite(policy_match, .init = setup, .fini = teardown);

/* The first rule of a policy with one rule "r" whose when is `when`. */
static nxp_policy *policy_with_when(const char *when)
{
	char y[2048];
	snprintf(y, sizeof(y), "nxpatch: 1\nrules:\n  - id: r\n    when: %s\n"
	         "    actions: [{set: nx_compat}]\n", when);
	nxp_policy *p = NULL;
	nxp_error err = {0};
	int rc = nxp_policy_load_buffer(&p, "t.yaml", y, strlen(y), NULL, &err);
	cr_assert_eq(rc, NXP_OK, "%s: %s", when, err.msg);
	return p;
}

static int matches(const char *when)
{
	nxp_policy *p = policy_with_when(when);
	int m = nxpi_rule_matches(&p->rules[0], &facts);
	nxp_policy_free(p);
	return m;
}

#define YES(w) cr_assert(matches(w), "should match: %s", w)
#define NO(w) cr_assert(!matches(w), "should not match: %s", w)

Test(policy_match, empty_when_matches_all)
{
	YES("{}");
}

Test(policy_match, path)
{
	YES("{path: \"**/legacy/**\"}");
	YES("{path: [\"*.dll\", \"apps/**/*.exe\"]}");
	NO("{path: \"*.exe\"}"); /* '*' does not cross '/' */
	NO("{path: \"**/other/**\"}");
	facts.path = NULL;
	NO("{path: \"**\"}");
}

Test(policy_match, machine_and_subsystem)
{
	YES("{machine: [amd64, i386]}");
	NO("{machine: amd64}");
	YES("{subsystem: windows_gui}");
	NO("{subsystem: [windows_cui, native]}");
}

Test(policy_match, kind)
{
	YES("{kind: [dll, exe]}");
	NO("{kind: dll}");
	facts.kind = NXP_KIND_EFI;
	YES("{kind: efi}");
	NO("{kind: [exe, dll, driver]}");
}

Test(policy_match, imports_case_insensitive)
{
	YES("{imports: ATL71.DLL}");
	YES("{imports: [kernel32.DLL]}");
	YES("{imports: user32.dll}");
	NO("{imports: atl71}");        /* whole names only */
	NO("{imports: atl71.dll.x}");
	NO("{imports: msvcrt.dll}");
	/* a name outside the buffer is never read */
	img->imports[1].name_offset = 1000;
	NO("{imports: ATL71.DLL}");
}

Test(policy_match, has_section)
{
	YES("{has_section: .thunk}");
	YES("{has_section: \".t*\"}");
	NO("{has_section: .rdata}");
	NO("{has_section: .THUNK}");
	img->nsections = 2; /* sections past nsections do not exist */
	NO("{has_section: .thunk}");
}

Test(policy_match, dll_characteristics_state)
{
	YES("{dll_characteristics: {set: [dynamic_base]}}");
	YES("{dll_characteristics: {clear: [nx_compat, high_entropy_va]}}");
	YES("{dll_characteristics: {set: dynamic_base, clear: nx_compat}}");
	NO("{dll_characteristics: {set: [dynamic_base, nx_compat]}}");
	NO("{dll_characteristics: {clear: dynamic_base}}");
}

Test(policy_match, signed_and_code_in_data)
{
	YES("{signed: false}");
	NO("{signed: true}");
	YES("{code_in_data: true}");
	NO("{code_in_data: false}");
	facts.is_signed = 1;
	facts.code_in_data = 0;
	YES("{signed: true, code_in_data: false}");
	NO("{signed: false}");
}

Test(policy_match, every_key_must_match)
{
	YES("{kind: exe, machine: i386, imports: atl71.dll, signed: false, has_section: .thunk}");
	NO("{kind: exe, machine: i386, imports: atl71.dll, signed: true, has_section: .thunk}");
	NO("{kind: exe, machine: amd64, imports: atl71.dll, signed: false}");
}

Test(policy_match, no_image_only_facts)
{
	facts.img = NULL;
	YES("{kind: exe, signed: false}");
	NO("{machine: i386}");
}

Test(policy_match, section_selected)
{
	nxp_section_action code = {.selector = NXP_SELECTOR_CODE_IN_DATA};
	cr_assert(!nxpi_section_selected(&code, &facts, 0));
	cr_assert(nxpi_section_selected(&code, &facts, 1));
	cr_assert(!nxpi_section_selected(&code, &facts, 2));

	nxp_section_action byname = {.selector = ".thunk"};
	cr_assert(!nxpi_section_selected(&byname, &facts, 0));
	cr_assert(nxpi_section_selected(&byname, &facts, 2));

	nxp_section_action glob = {.selector = ".[td]*"};
	cr_assert(nxpi_section_selected(&glob, &facts, 0));
	cr_assert(nxpi_section_selected(&glob, &facts, 1));
	cr_assert(nxpi_section_selected(&glob, &facts, 2));
	cr_assert(!nxpi_section_selected(&glob, &facts, 3)); /* past nsections */
	cr_assert(!nxpi_section_selected(&glob, &facts, 100000));
}

/* Section actions loaded from YAML select what they say. */
Test(policy_match, loaded_selectors)
{
	const char *y = "nxpatch: 1\nrules:\n  - id: r\n    actions:\n"
	                "      - {section: \"@code-in-data\", add: execute}\n"
	                "      - {section: \".th*\", add: execute, allow_wx: true}\n";
	nxp_policy *p = NULL;
	nxp_error err = {0};
	cr_assert_eq(nxp_policy_load_buffer(&p, "t", y, strlen(y), NULL, &err), NXP_OK, "%s",
	             err.msg);
	const nxp_rule *r = &p->rules[0];
	cr_assert_eq(r->nsections, 2);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(nxpi_section_selected(&r->sections[0], &facts, i), i == 1);
		cr_assert_eq(nxpi_section_selected(&r->sections[1], &facts, i), i == 2);
	}
	nxp_policy_free(p);
}

/* The default policy on an unsigned exe with code in .data: the code-in-data
 * rule matches, the nx_compat rule does not; signed images match nothing. */
Test(policy_match, default_policy)
{
	nxp_policy *p = NULL;
	nxp_error err = {0};
	cr_assert_eq(nxp_policy_load_default(&p, NULL, &err), NXP_OK, "%s", err.msg);
	int code_rule = -1, nx_rule = -1;
	for (size_t i = 0; i < p->nrules; i++) {
		if (p->rules[i].nsections)
			code_rule = (int)i;
		if (p->rules[i].set & NXP_DLL_NX_COMPAT)
			nx_rule = (int)i;
	}
	cr_assert_geq(code_rule, 0);
	cr_assert_geq(nx_rule, 0);
	cr_assert(nxpi_rule_matches(&p->rules[code_rule], &facts));
	cr_assert(!nxpi_rule_matches(&p->rules[nx_rule], &facts));
	facts.code_in_data = 0;
	cr_assert(nxpi_rule_matches(&p->rules[nx_rule], &facts));
	facts.is_signed = 1;
	for (size_t i = 0; i < p->nrules; i++)
		cr_assert(!nxpi_rule_matches(&p->rules[i], &facts));
	nxp_policy_free(p);
}
