/* SPDX-License-Identifier: Apache-2.0 */
/* The policy loader: fields filled from YAML, every error collected, limits,
 * the built-in default and the shipped rules. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/pe.h"
#include "nxpatch/policy.h"
#include "policy/internal.h"

static nxp_policy *load_ok(const char *yaml)
{
	nxp_policy *p = NULL;
	nxp_diags d = {0};
	nxp_error err = {0};
	int rc = nxp_policy_load_buffer(&p, "t.yaml", yaml, strlen(yaml), &d, &err);
	cr_assert_eq(rc, NXP_OK, "load failed: %s", err.msg);
	cr_assert_eq(d.n, 0);
	cr_assert_not_null(p);
	nxp_diags_free(&d);
	return p;
}

/* Load yaml expecting failure; returns the diagnostics. */
static nxp_diags load_bad(const char *yaml, size_t len, nxp_error *err)
{
	nxp_policy *p = (nxp_policy *)1;
	nxp_diags d = {0};
	int rc = nxp_policy_load_buffer(&p, "t.yaml", yaml, len, &d, err);
	cr_assert_eq(rc, NXP_E_POLICY, "rc %d: %s", rc, err->msg);
	cr_assert_null(p);
	cr_assert_gt(d.n, 0);
	return d;
}

static const char full[] =
	"nxpatch: 1\n"
	"settings:\n"
	"  signature: resign\n"
	"  checksum: always\n"
	"rules:\n"
	"  - id: legacy-thunks\n"
	"    description: Mark the thunk section executable\n"
	"    when:\n"
	"      path: [\"**/legacy/**\", \"*.exe\"]\n"
	"      machine: [i386, amd64]\n"
	"      kind: [exe, dll]\n"
	"      subsystem: [windows_gui, windows_cui]\n"
	"      imports: [\"ATL71.DLL\"]\n"
	"      has_section: [\".thunk\"]\n"
	"      dll_characteristics: {set: [dynamic_base], clear: [nx_compat]}\n"
	"      signed: false\n"
	"      code_in_data: true\n"
	"    actions:\n"
	"      - set: [nx_compat]\n"
	"      - clear: [no_seh]\n"
	"      - set: dynamic_base\n"
	"      - section: \".thunk\"\n"
	"        add: [execute]\n"
	"        remove: [discardable]\n"
	"        allow_wx: true\n"
	"      - section: \"@code-in-data\"\n"
	"        add: execute\n"
	"  - id: plain\n"
	"    actions: [{clear: [nx_compat]}]\n";

Test(policy_load, every_field)
{
	nxp_policy *p = load_ok(full);
	cr_assert_str_eq(p->source, "t.yaml");
	cr_assert_eq(p->version, 1);
	cr_assert_eq(p->signature, NXP_SIGMODE_RESIGN);
	cr_assert_eq(p->checksum, NXP_CHECKSUM_ALWAYS);
	cr_assert_eq(p->nrules, 2);

	const nxp_rule *r = &p->rules[0];
	cr_assert_str_eq(r->id, "legacy-thunks");
	cr_assert_str_eq(r->description, "Mark the thunk section executable");
	cr_assert_eq(r->loc.line, 6);
	cr_assert_eq(r->loc.col, 5);
	cr_assert_eq(r->path.n, 2);
	cr_assert_str_eq(r->path.items[0], "**/legacy/**");
	cr_assert_str_eq(r->path.items[1], "*.exe");
	cr_assert_eq(r->path.locs[1].line, 9);
	cr_assert_eq(r->path.locs[1].col, 30);
	cr_assert_eq(r->machine.n, 2);
	cr_assert_eq(r->machine.items[0], NXP_MACHINE_I386);
	cr_assert_eq(r->machine.items[1], NXP_MACHINE_AMD64);
	cr_assert_eq(r->kind_mask, (1u << NXP_KIND_EXE) | (1u << NXP_KIND_DLL));
	cr_assert_eq(r->subsystem.n, 2);
	cr_assert_eq(r->subsystem.items[0], 2);
	cr_assert_eq(r->subsystem.items[1], 3);
	cr_assert_eq(r->imports.n, 1);
	cr_assert_str_eq(r->imports.items[0], "ATL71.DLL");
	cr_assert_eq(r->has_section.n, 1);
	cr_assert_str_eq(r->has_section.items[0], ".thunk");
	cr_assert_eq(r->has_dll_cond, 1);
	cr_assert_eq(r->dll_cond_set, NXP_DLL_DYNAMIC_BASE);
	cr_assert_eq(r->dll_cond_clear, NXP_DLL_NX_COMPAT);
	cr_assert_eq(r->signed_cond, 0);
	cr_assert_eq(r->code_in_data_cond, 1);

	/* set/clear accumulate over actions */
	cr_assert_eq(r->set, NXP_DLL_NX_COMPAT | NXP_DLL_DYNAMIC_BASE);
	cr_assert_eq(r->clear, NXP_DLL_NO_SEH);
	cr_assert_eq(r->set_loc.line, 19);
	cr_assert_eq(r->clear_loc.line, 20);
	cr_assert_eq(r->nsections, 2);
	cr_assert_str_eq(r->sections[0].selector, ".thunk");
	cr_assert_eq(r->sections[0].add, NXP_SCN_MEM_EXECUTE);
	cr_assert_eq(r->sections[0].remove, NXP_SCN_MEM_DISCARDABLE);
	cr_assert_eq(r->sections[0].allow_wx, 1);
	cr_assert_eq(r->sections[0].loc.line, 22);
	cr_assert_str_eq(r->sections[1].selector, NXP_SELECTOR_CODE_IN_DATA);
	cr_assert_eq(r->sections[1].add, NXP_SCN_MEM_EXECUTE);
	cr_assert_eq(r->sections[1].remove, 0);
	cr_assert_eq(r->sections[1].allow_wx, 0);

	const nxp_rule *q = &p->rules[1];
	cr_assert_str_eq(q->id, "plain");
	cr_assert_null(q->description);
	cr_assert_eq(q->path.n, 0);
	cr_assert_eq(q->machine.n, 0);
	cr_assert_eq(q->kind_mask, 0);
	cr_assert_eq(q->has_dll_cond, 0);
	cr_assert_eq(q->signed_cond, -1);
	cr_assert_eq(q->code_in_data_cond, -1);
	cr_assert_eq(q->set, 0);
	cr_assert_eq(q->clear, NXP_DLL_NX_COMPAT);
	cr_assert_eq(q->nsections, 0);
	nxp_policy_free(p);
}

Test(policy_load, defaults)
{
	nxp_policy *p = load_ok("nxpatch: 1\n");
	cr_assert_eq(p->signature, NXP_SIGMODE_REFUSE);
	cr_assert_eq(p->checksum, NXP_CHECKSUM_AUTO);
	cr_assert_eq(p->nrules, 0);
	nxp_policy_free(p);
}

Test(policy_load, scalar_is_one_item_list)
{
	nxp_policy *p = load_ok("nxpatch: 1\nrules:\n - id: a\n   when: {kind: driver, "
	                        "machine: arm64, path: x}\n   actions: [{set: nx_compat}]\n");
	cr_assert_eq(p->rules[0].kind_mask, 1u << NXP_KIND_DRIVER);
	cr_assert_eq(p->rules[0].machine.n, 1);
	cr_assert_eq(p->rules[0].machine.items[0], NXP_MACHINE_ARM64);
	cr_assert_eq(p->rules[0].path.n, 1);
	cr_assert_str_eq(p->rules[0].path.items[0], "x");
	cr_assert_eq(p->rules[0].set, NXP_DLL_NX_COMPAT);
	nxp_policy_free(p);
}

Test(policy_load, all_errors_collected_in_order)
{
	const char *y = "nxpatch: 1\n"
	                "settings: {signature: nope, checksum: never}\n"
	                "rules:\n"
	                "  - id: a\n"
	                "    when: {kind: sys}\n"
	                "    actions: [{set: [bogus]}]\n";
	nxp_error err = {0};
	nxp_diags d = load_bad(y, strlen(y), &err);
	cr_assert_eq(d.n, 4);
	uint32_t want[4][2] = {{2, 23}, {2, 39}, {5, 18}, {6, 22}};
	for (size_t i = 0; i < 4; i++) {
		cr_assert_str_eq(d.items[i].file, "t.yaml");
		cr_assert_eq(d.items[i].line, want[i][0], "diag %zu line %u", i, d.items[i].line);
		cr_assert_eq(d.items[i].col, want[i][1], "diag %zu col %u", i, d.items[i].col);
		cr_assert_not_null(d.items[i].source_line);
	}
	cr_assert_str_eq(d.items[0].message,
	                 "unknown signature mode 'nope', expected one of: refuse, strip, resign, sign");
	cr_assert_str_eq(d.items[2].source_line, "    when: {kind: sys}");
	/* err holds the first, with its position */
	cr_assert_eq(err.code, NXP_E_POLICY);
	cr_assert_str_eq(err.msg, "t.yaml:2:23: unknown signature mode 'nope', expected one of: "
	                          "refuse, strip, resign, sign");
	nxp_diags_free(&d);
	cr_assert_eq(d.n, 0);
}

Test(policy_load, version_checked_first)
{
	const char *y = "nxpatch: 2\nrules: {this: is, not: valid}\nwhatever: 1\n";
	nxp_error err = {0};
	nxp_diags d = load_bad(y, strlen(y), &err);
	cr_assert_eq(d.n, 1);
	cr_assert_str_eq(d.items[0].message,
	                 "unsupported schema version 2 (this nxpatch reads version 1)");
	nxp_diags_free(&d);
}

Test(policy_load, too_large)
{
	size_t len = (1u << 20) + 1;
	char *y = malloc(len);
	memset(y, '#', len);
	nxp_error err = {0};
	nxp_diags d = load_bad(y, len, &err);
	cr_assert_eq(d.n, 1);
	cr_assert_eq(d.items[0].line, 0);
	cr_assert(strstr(d.items[0].message, "larger than 1 MiB"));
	nxp_diags_free(&d);
	free(y);
}

Test(policy_load, too_many_rules)
{
	size_t n = 10001;
	size_t cap = 16 + n * 8;
	char *y = malloc(cap);
	size_t w = (size_t)snprintf(y, cap, "nxpatch: 1\nrules:\n");
	for (size_t i = 0; i < n; i++)
		w += (size_t)snprintf(y + w, cap - w, "- {}\n");
	nxp_error err = {0};
	nxp_diags d = load_bad(y, w, &err);
	cr_assert_eq(d.n, 1);
	cr_assert_str_eq(d.items[0].message, "rules: more than 10000 rules");
	nxp_diags_free(&d);
	free(y);
}

/* A billion-laughs file is refused at its first alias, without expanding. */
Test(policy_load, alias_bomb, .timeout = 10)
{
	char y[4096];
	size_t w = (size_t)snprintf(y, sizeof(y), "nxpatch: 1\na0: &a0 [x,x,x,x,x,x,x,x,x,x]\n");
	for (int i = 1; i < 10; i++)
		w += (size_t)snprintf(y + w, sizeof(y) - w,
		                      "a%d: &a%d [*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d]\n",
		                      i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
		                      i - 1, i - 1);
	nxp_error err = {0};
	nxp_diags d = load_bad(y, w, &err);
	int aliases = 0;
	for (size_t i = 0; i < d.n; i++)
		aliases += !strcmp(d.items[i].message, "yaml aliases are not allowed in a policy");
	cr_assert_gt(aliases, 0);
	cr_assert_leq(d.n, 201); /* the list of diagnostics is capped too */
	nxp_diags_free(&d);
}

Test(policy_load, diagnostics_capped)
{
	size_t cap = 64 + 1000 * 24;
	char *y = malloc(cap);
	size_t w = (size_t)snprintf(y, cap, "nxpatch: 1\n");
	for (int i = 0; i < 1000; i++)
		w += (size_t)snprintf(y + w, cap - w, "bad%d: 1\n", i);
	nxp_error err = {0};
	nxp_diags d = load_bad(y, w, &err);
	cr_assert_eq(d.n, 201);
	cr_assert_str_eq(d.items[200].message, "too many errors, stopped after 200");
	nxp_diags_free(&d);
	free(y);
}

Test(policy_load, deep_nesting_bounded)
{
	char y[4096];
	size_t w = (size_t)snprintf(y, sizeof(y), "nxpatch: 1\nx: ");
	for (int i = 0; i < 1000; i++)
		y[w++] = '[';
	y[w] = '\0';
	nxp_error err = {0};
	nxp_diags d = load_bad(y, w, &err);
	cr_assert_eq(d.n, 1);
	cr_assert_str_eq(d.items[0].message, "nesting deeper than 32 levels");
	nxp_diags_free(&d);
}

Test(policy_load, diags_may_be_null)
{
	nxp_policy *p = NULL;
	nxp_error err = {0};
	const char *y = "nxpatch: 1\nrules: 3\n";
	cr_assert_eq(nxp_policy_load_buffer(&p, "t.yaml", y, strlen(y), NULL, &err), NXP_E_POLICY);
	cr_assert_str_eq(err.msg, "t.yaml:2:8: rules: expected a list, got '3'");
	cr_assert_eq(nxp_policy_load_buffer(&p, "t.yaml", y, strlen(y), NULL, NULL), NXP_E_POLICY);
}

Test(policy_load, missing_file_is_io_error)
{
	nxp_policy *p = NULL;
	nxp_diags d = {0};
	nxp_error err = {0};
	cr_assert_eq(nxp_policy_load_file(&p, "/nonexistent/p.yaml", &d, &err), NXP_E_IO);
	cr_assert_null(p);
	cr_assert_eq(d.n, 0);
	cr_assert(strstr(err.msg, "/nonexistent/p.yaml: cannot open"));
}

Test(policy_load, default_policy)
{
	nxp_policy *p = NULL;
	nxp_diags d = {0};
	nxp_error err = {0};
	cr_assert_eq(nxp_policy_load_default(&p, &d, &err), NXP_OK, "%s", err.msg);
	cr_assert_str_eq(p->source, "<default>");
	cr_assert_eq(p->signature, NXP_SIGMODE_REFUSE);
	cr_assert_gt(p->nrules, 0);
	/* conservative: never W+X on its own, never a signed image */
	for (size_t i = 0; i < p->nrules; i++) {
		const nxp_rule *r = &p->rules[i];
		cr_assert_eq(r->signed_cond, 0, "rule %s must require signed: false", r->id);
		for (size_t k = 0; k < r->nsections; k++)
			cr_assert_eq(r->sections[k].allow_wx, 0, "rule %s allows W+X", r->id);
		if (r->set & NXP_DLL_NX_COMPAT)
			cr_assert_eq(r->code_in_data_cond, 0,
			             "rule %s sets nx_compat despite code in data", r->id);
	}
	nxp_policy_free(p);
	nxp_diags_free(&d);
}

/* Every shipped policy under rules/ loads cleanly. */
Test(policy_load, shipped_rules)
{
	DIR *dir = opendir(NXP_SOURCE_DIR "/rules");
	cr_assert_not_null(dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(dir))) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 5, ".yaml"))
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/rules/%s", NXP_SOURCE_DIR, e->d_name);
		nxp_policy *p = NULL;
		nxp_diags d = {0};
		nxp_error err = {0};
		int rc = nxp_policy_load_file(&p, path, &d, &err);
		cr_assert_eq(rc, NXP_OK, "%s: %s", e->d_name, err.msg);
		cr_assert_gt(p->nrules, 0, "%s has no rules", e->d_name);
		nxp_policy_free(p);
		nxp_diags_free(&d);
		n++;
	}
	closedir(dir);
	cr_assert_geq(n, 5);
}

/* The compiled-in default is rules/default.yaml, byte for byte. */
extern const char nxpi_default_policy_yaml[];
extern const size_t nxpi_default_policy_yaml_len;

Test(policy_load, default_is_rules_default_yaml)
{
	FILE *f = fopen(NXP_SOURCE_DIR "/rules/default.yaml", "rb");
	cr_assert_not_null(f);
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cr_assert_eq(n, nxpi_default_policy_yaml_len);
	cr_assert_eq(memcmp(buf, nxpi_default_policy_yaml, n), 0);
}

/* The one set-and-clear bookkeeping (also used for inline edits): a merge
 * keeps each bit's first location, a conflict points at the later one. */
Test(policy_load, flagset_merge_and_conflict)
{
	nxpi_flagset set = {0}, clear = {0}, more = {0};
	nxpi_flagset_add(&set, NXP_DLL_NX_COMPAT, (nxp_loc){3, 5});
	nxpi_flagset_add(&more, NXP_DLL_NX_COMPAT | NXP_DLL_DYNAMIC_BASE, (nxp_loc){9, 1});
	nxpi_flagset_merge(&set, &more);
	cr_assert_eq(set.bits, NXP_DLL_NX_COMPAT | NXP_DLL_DYNAMIC_BASE);
	cr_assert_eq(set.at[8].line, 3, "the first location of nx_compat is kept");
	cr_assert_eq(set.at[6].line, 9);

	nxp_loc at = {0, 0};
	cr_assert_eq(nxpi_flagset_conflict(&set, &clear, 0, &at), -1);
	nxpi_flagset_add(&clear, NXP_DLL_NX_COMPAT, (nxp_loc){2, 7});
	nxpi_flagset_add(&clear, NXP_DLL_DYNAMIC_BASE, (nxp_loc){12, 2});
	cr_assert_eq(nxpi_flagset_conflict(&set, &clear, 0, &at), 6);
	cr_assert(at.line == 12 && at.col == 2, "the later of the two: %u:%u", at.line, at.col);
	cr_assert_eq(nxpi_flagset_conflict(&set, &clear, 7, &at), 8);
	cr_assert(at.line == 3 && at.col == 5, "%u:%u", at.line, at.col);
	cr_assert_eq(nxpi_flagset_conflict(&set, &clear, 9, &at), -1);
}
