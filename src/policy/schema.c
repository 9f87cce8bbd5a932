/* SPDX-License-Identifier: Apache-2.0 */
/* The nxpatch policy schema, version 1 (docs/policy.md): one field table
 * per mapping (top level, settings, rule, when, dll_characteristics,
 * action), walked by the generic walker (walk.c), and the checks that span
 * a whole action, rule or policy. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/pe.h"
#include "policy/walk.h"
#include "util/bytes.h"

/* ---- the walk's state ---- */

typedef struct lctx {
	pctx *c;
	nxp_policy *p;
	nxp_loc *id_locs;              /* per rule: where its id is, line 0 if none */
	/* the rule being read */
	nxp_rule *rule;
	nxpi_flagset rule_set, rule_clear; /* its actions' DllCharacteristics, merged */
} lctx;

/* One action while it is read; checked as a whole afterwards. */
typedef struct action_tmp {
	int has_set, has_clear, has_section, has_add, has_remove, has_allow, has_pool, has_keep;
	uint32_t *keep;
	size_t nkeep;
	nxpi_flagset set, clear;    /* DllCharacteristics */
	nxp_section_action sec;
	nxp_loc add_loc, remove_loc;
} action_tmp;

typedef struct dllcond_tmp {
	nxpi_flagset set, clear;
} dllcond_tmp;

static const nxp_flag_name kind_names[] = {
	{"exe", NXP_KIND_EXE}, {"dll", NXP_KIND_DLL},
	{"driver", NXP_KIND_DRIVER}, {"efi", NXP_KIND_EFI}, {NULL, 0},
};
static const nxp_flag_name signature_names[] = {
	{"refuse", NXP_SIGMODE_REFUSE}, {"strip", NXP_SIGMODE_STRIP}, {"resign", NXP_SIGMODE_RESIGN},
	{"sign", NXP_SIGMODE_SIGN}, {NULL, 0},
};
static const nxp_flag_name checksum_names[] = {
	{"auto", NXP_CHECKSUM_AUTO}, {"always", NXP_CHECKSUM_ALWAYS}, {NULL, 0},
};

/* ---- settings ---- */

static void f_signature(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	uint32_t v = ((void)key, 0);
	if (nxpi_lookup_at(L->c, signature_names, val, "signature mode", &v,
	                   &((nxp_policy *)obj)->signature_from))
		((nxp_policy *)obj)->signature = (nxp_sig_mode)v;
}

static void f_checksum(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	uint32_t v = ((void)key, 0);
	if (nxpi_lookup_at(L->c, checksum_names, val, "checksum mode", &v,
	                   &((nxp_policy *)obj)->checksum_from))
		((nxp_policy *)obj)->checksum = (nxp_checksum_mode)v;
}

static const field settings_fields[] = {
	{"signature", V_STR, f_signature, 0},
	{"checksum", V_STR, f_checksum, 0},
};

/* ---- when ---- */

static void f_path(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	nxpi_str_list(L->c, key, val, &((nxp_rule *)obj)->path, 1);
}

static void f_has_section(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	nxpi_str_list(L->c, key, val, &((nxp_rule *)obj)->has_section, 1);
}

static void f_imports(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	nxpi_str_list(L->c, key, val, &((nxp_rule *)obj)->imports, 0);
}

static void f_machine(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	nxpi_u16_list(L->c, key, val, nxp_machine_names, "machine", &((nxp_rule *)obj)->machine);
}

static void f_subsystem(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	nxpi_u16_list(L->c, key, val, nxp_subsystem_names, "subsystem", &((nxp_rule *)obj)->subsystem);
}

static void f_kind(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	nxp_u16list kinds = {0};
	nxpi_u16_list(L->c, key, val, kind_names, "kind", &kinds);
	for (size_t i = 0; i < kinds.n; i++)
		((nxp_rule *)obj)->kind_mask |= 1u << kinds.items[i];
	free(kinds.items);
}

static void f_signed(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)L, (void)key;
	((nxp_rule *)obj)->signed_cond = nxpi_bool_value(val);
}

static void f_code_in_data(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)L, (void)key;
	((nxp_rule *)obj)->code_in_data_cond = nxpi_bool_value(val);
}

static void dll_flags(lctx *L, const ynode *key, const ynode *val, nxpi_flagset *fs)
{
	nxpi_flagset_read(L->c, key, val, nxp_dll_flag_names, "dll characteristics flag", fs);
}

static void f_cond_set(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	dll_flags(L, key, val, &((dllcond_tmp *)obj)->set);
}

static void f_cond_clear(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	dll_flags(L, key, val, &((dllcond_tmp *)obj)->clear);
}

static const field dllcond_fields[] = {
	{"set", V_STRS, f_cond_set, 0},
	{"clear", V_STRS, f_cond_clear, 0},
};

static const char *dll_flag_name(int b)
{
	for (const nxp_flag_name *t = nxp_dll_flag_names; t->name; t++)
		if (t->bit == (1u << b))
			return t->name;
	return "unknown";
}

static const char *attr_name(uint32_t bit)
{
	for (const nxp_flag_name *t = nxp_section_attr_names; t->name; t++)
		if (t->bit == bit)
			return t->name;
	return "unknown";
}

static void f_dll_cond(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	nxp_rule *r = obj;
	dllcond_tmp t;
	memset(&t, 0, sizeof(t));
	NXPI_WALK_MAP(L->c, L, val, dllcond_fields, "dll_characteristics", &t);
	nxp_loc at;
	for (int b = -1; (b = nxpi_flagset_conflict(&t.set, &t.clear, b + 1, &at)) >= 0;)
		pctx_error(L->c, at, "dll_characteristics: %s cannot be both set and clear",
		           dll_flag_name(b));
	r->has_dll_cond = 1;
	r->dll_cond_set = (uint16_t)t.set.bits;
	r->dll_cond_clear = (uint16_t)t.clear.bits;
}

static const field when_fields[] = {
	{"path", V_STRS, f_path, 0},
	{"machine", V_STRS, f_machine, 0},
	{"kind", V_STRS, f_kind, 0},
	{"subsystem", V_STRS, f_subsystem, 0},
	{"imports", V_STRS, f_imports, 0},
	{"has_section", V_STRS, f_has_section, 0},
	{"dll_characteristics", V_MAP, f_dll_cond, 0},
	{"signed", V_BOOL, f_signed, 0},
	{"code_in_data", V_BOOL, f_code_in_data, 0},
};

/* ---- actions ---- */

static void f_act_set(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	action_tmp *a = obj;
	a->has_set = 1;
	dll_flags(L, key, val, &a->set);
}

static void f_act_clear(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	action_tmp *a = obj;
	a->has_clear = 1;
	dll_flags(L, key, val, &a->clear);
}

static void f_act_section(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	action_tmp *a = obj;
	char q[80];
	a->has_section = 1;
	const char *s = val->str;
	if (val->len == 0 || strlen(s) != val->len) {
		pctx_error(L->c, val->loc, "section: expected a section name, a glob or '%s'",
		           NXP_SELECTOR_CODE_IN_DATA);
		return;
	}
	if (s[0] == '@') {
		if (strcmp(s, NXP_SELECTOR_CODE_IN_DATA)) {
			const char *names[] = {NXP_SELECTOR_CODE_IN_DATA};
			char h[128];
			nxpi_hint(h, sizeof(h), s, names, 1);
			pctx_error(L->c, val->loc, "section: unknown selector '%s'%s",
			           nxpi_clip(s, q, sizeof(q)), h);
			return;
		}
	} else {
		const char *why = nxpi_glob_check(s);
		if (why) {
			pctx_error(L->c, val->loc, "section: bad glob '%s': %s", nxpi_clip(s, q, sizeof(q)),
			           why);
			return;
		}
	}
	a->sec.selector = nxpi_dup_str(L->c, s);
}

/* add/remove: section attributes into *bits, *given set, *at their place. */
static void attr_list(lctx *L, const ynode *key, const ynode *val, uint32_t *bits, int *given,
                      nxp_loc *at)
{
	nxpi_flagset fs = {0};
	*given = 1;
	*at = val->loc;
	nxpi_flagset_read(L->c, key, val, nxp_section_attr_names, "section attribute", &fs);
	*bits |= fs.bits;
}

static void f_act_add(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	action_tmp *a = obj;
	attr_list(L, key, val, &a->sec.add, &a->has_add, &a->add_loc);
}

static void f_act_remove(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	action_tmp *a = obj;
	attr_list(L, key, val, &a->sec.remove, &a->has_remove, &a->remove_loc);
}

static void f_act_allow_wx(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)L, (void)key;
	action_tmp *a = obj;
	a->has_allow = 1;
	a->sec.allow_wx = nxpi_bool_value(val);
}

static void f_act_pool(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	action_tmp *a = obj;
	char q[80];
	a->has_pool = 1;
	if (strcmp(val->str, "nx") || strlen(val->str) != val->len)
		pctx_error(L->c, val->loc, "pool: unknown value '%s' (the only one is 'nx')",
		           nxpi_clip(val->str, q, sizeof(q)));
}

/* keep_executable: call-site RVAs, 0x... or decimal. */
static void f_act_keep(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	action_tmp *a = obj;
	const ynode **items, *one[1];
	char q[80];
	a->has_keep = 1;
	long n = nxpi_str_items(L->c, key, val, &items, one);
	if (n <= 0)
		return;
	uint32_t *k = calloc((size_t)n, sizeof(*k));
	if (!k) {
		L->c->nomem = 1;
		return;
	}
	for (long i = 0; i < n; i++) {
		const char *s = items[i]->str;
		char *end = NULL;
		errno = 0;
		unsigned long long v = strtoull(s, &end, 0);
		if (!s[0] || s[0] == '-' || s[0] == '+' || *end || errno || v > 0xffffffffull ||
		    strlen(s) != items[i]->len) {
			pctx_error(L->c, items[i]->loc,
			           "keep_executable: '%s' is not a call-site RVA (0x... or decimal)",
			           nxpi_clip(s, q, sizeof(q)));
			continue;
		}
		k[a->nkeep++] = (uint32_t)v;
	}
	free(a->keep);
	a->keep = k;
}

static const field action_fields[] = {
	{"set", V_STRS, f_act_set, 0},
	{"clear", V_STRS, f_act_clear, 0},
	{"section", V_STR, f_act_section, 0},
	{"add", V_STRS, f_act_add, 0},
	{"remove", V_STRS, f_act_remove, 0},
	{"allow_wx", V_BOOL, f_act_allow_wx, 0},
	{"pool", V_STR, f_act_pool, 0},
	{"keep_executable", V_STRS, f_act_keep, 0},
};

static void one_action(lctx *L, const ynode *item)
{
	nxp_rule *r = L->rule;
	action_tmp a;
	memset(&a, 0, sizeof(a));
	a.sec.loc = item->loc;
	if (item->n == 0) {
		pctx_error(L->c, item->loc, "empty action: give set, clear or section");
		return;
	}
	size_t before = L->c->nerrors;
	NXPI_WALK_MAP(L->c, L, item, action_fields, "action", &a);

	if (a.has_pool || a.has_keep) {
		if (!a.has_pool)
			pctx_error(L->c, item->loc, "'keep_executable' needs 'pool: nx' in the same action");
		else if (a.has_set || a.has_clear || a.has_section)
			pctx_error(L->c, item->loc, "a pool action takes only 'pool' and "
			           "'keep_executable'; give set, clear or section in another action");
		if (L->c->nerrors == before) {
			r->pool_nx = 1;
			if (!r->pool_loc.line)
				r->pool_loc = item->loc;
			if (a.nkeep) {
				uint32_t *k = realloc(r->keep_exec, (r->nkeep_exec + a.nkeep) * sizeof(*k));
				if (!k) {
					L->c->nomem = 1;
				} else {
					memcpy(k + r->nkeep_exec, a.keep, a.nkeep * sizeof(*k));
					r->keep_exec = k;
					r->nkeep_exec += a.nkeep;
				}
			}
		}
		free(a.keep);
		free(a.sec.selector);
		return;
	}
	if (a.has_section && (a.has_set || a.has_clear)) {
		pctx_error(L->c, item->loc, "an action changes either dll characteristics "
		           "(set, clear) or a section (section), not both");
	} else if (!a.has_section && (a.has_add || a.has_remove || a.has_allow)) {
		pctx_error(L->c, item->loc, "%s needs a 'section' in the same action",
		           a.has_add ? "'add'" : a.has_remove ? "'remove'" : "'allow_wx'");
	} else if (a.has_section) {
		if (!a.has_add && !a.has_remove) {
			pctx_error(L->c, item->loc, "section action needs 'add' or 'remove'");
		} else if (a.sec.add & a.sec.remove) {
			uint32_t both = a.sec.add & a.sec.remove;
			pctx_error(L->c, a.remove_loc, "section action both adds and removes '%s'",
			           attr_name(both & (0u - both)));
		} else if ((a.sec.add & NXP_SCN_WX) == NXP_SCN_WX && !a.sec.allow_wx) {
			pctx_error(L->c, a.add_loc, "adding both write and execute makes the section "
			           "writable and executable: set allow_wx: true to allow it");
		}
		if (L->c->nerrors == before && a.sec.selector) {
			nxp_section_action *s = realloc(r->sections,
			                                (r->nsections + 1) * sizeof(*s));
			if (!s) {
				L->c->nomem = 1;
			} else {
				r->sections = s;
				r->sections[r->nsections++] = a.sec;
				return;
			}
		}
	} else {
		if (a.has_set && !r->set_loc.line)
			r->set_loc = item->loc;
		if (a.has_clear && !r->clear_loc.line)
			r->clear_loc = item->loc;
		nxpi_flagset_merge(&L->rule_set, &a.set);
		nxpi_flagset_merge(&L->rule_clear, &a.clear);
		r->set = (uint16_t)L->rule_set.bits;
		r->clear = (uint16_t)L->rule_clear.bits;
	}
	free(a.sec.selector);
}

static void f_actions(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key, (void)obj;
	char d[96];
	if (val->n == 0) {
		pctx_error(L->c, val->loc, "actions: empty list, a rule needs at least one action");
		return;
	}
	if (val->n > NXP_POLICY_MAX_ACTIONS) {
		pctx_error(L->c, val->loc, "actions: more than %d actions", NXP_POLICY_MAX_ACTIONS);
		return;
	}
	for (size_t i = 0; i < val->n; i++) {
		const ynode *it = val->kids[i];
		if (it->type == Y_BAD)
			continue;
		if (it->type != Y_MAP) {
			pctx_error(L->c, it->loc, "action: expected a mapping, got %s",
			           nxpi_describe(it, d, sizeof(d)));
			continue;
		}
		one_action(L, it);
	}
}

/* ---- rules ---- */

static void f_id(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	nxp_rule *r = obj;
	char q[80];
	int ok = val->len > 0 && val->len <= NXP_POLICY_MAX_ID && strlen(val->str) == val->len;
	for (size_t i = 0; ok && i < val->len; i++) {
		unsigned char ch = (unsigned char)val->str[i];
		ok = isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == ':';
	}
	if (!ok) {
		pctx_error(L->c, val->loc, "id: '%s' is not a valid rule id (1 to %d letters, "
		           "digits, '-', '_', '.' or ':')", nxpi_clip(val->str, q, sizeof(q)),
		           NXP_POLICY_MAX_ID);
		return;
	}
	r->id = nxpi_dup_str(L->c, val->str);
	L->id_locs[r - L->p->rules] = val->loc;
}

static void f_description(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	((nxp_rule *)obj)->description = nxpi_dup_str(L->c, val->str);
}

static void f_when(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	NXPI_WALK_MAP(L->c, L, val, when_fields, "when", obj);
}

static const field rule_fields[] = {
	{"id", V_STR, f_id, 1},
	{"description", V_STR, f_description, 0},
	{"when", V_MAP, f_when, 0},
	{"actions", V_SEQ, f_actions, 1},
};

static int id_cmp(const void *a, const void *b, void *arg)
{
	const nxp_rule *rules = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(rules[x].id, rules[y].id);
	return c ? c : (x < y ? -1 : x > y);
}

static void check_unique_ids(lctx *L)
{
	nxp_policy *p = L->p;
	size_t n = 0;
	size_t *idx = malloc((p->nrules ? p->nrules : 1) * sizeof(*idx));
	if (!idx) {
		L->c->nomem = 1;
		return;
	}
	for (size_t i = 0; i < p->nrules; i++)
		if (p->rules[i].id)
			idx[n++] = i;
	qsort_r(idx, n, sizeof(*idx), id_cmp, p->rules);
	char q[80];
	for (size_t i = 1, first = 0; i < n; i++) {
		if (strcmp(p->rules[idx[i]].id, p->rules[idx[first]].id)) {
			first = i;
			continue;
		}
		pctx_error(L->c, L->id_locs[idx[i]], "duplicate rule id '%s' (first used at line %u)",
		           nxpi_clip(p->rules[idx[i]].id, q, sizeof(q)), L->id_locs[idx[first]].line);
	}
	free(idx);
}

static void f_rules(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	nxp_policy *p = obj;
	char d[96];
	if (val->n > NXP_POLICY_MAX_RULES) {
		pctx_error(L->c, val->loc, "rules: more than %d rules", NXP_POLICY_MAX_RULES);
		return;
	}
	if (val->n == 0)
		return;
	p->rules = calloc(val->n, sizeof(*p->rules));
	L->id_locs = calloc(val->n, sizeof(*L->id_locs));
	if (!p->rules || !L->id_locs) {
		L->c->nomem = 1;
		return;
	}
	p->nrules = val->n;
	for (size_t i = 0; i < val->n; i++) {
		const ynode *it = val->kids[i];
		nxp_rule *r = &p->rules[i];
		r->signed_cond = -1;
		r->code_in_data_cond = -1;
		r->loc = it->loc;
		if (it->type == Y_BAD)
			continue;
		if (it->type != Y_MAP) {
			pctx_error(L->c, it->loc, "rule: expected a mapping, got %s",
			           nxpi_describe(it, d, sizeof(d)));
			continue;
		}
		L->rule = r;
		memset(&L->rule_set, 0, sizeof(L->rule_set));
		memset(&L->rule_clear, 0, sizeof(L->rule_clear));
		NXPI_WALK_MAP(L->c, L, it, rule_fields, "rule", r);
		nxp_loc at;
		for (int b = -1;
		     (b = nxpi_flagset_conflict(&L->rule_set, &L->rule_clear, b + 1, &at)) >= 0;)
			pctx_error(L->c, at, "rule '%s' both sets and clears %s", r->id ? r->id : "?",
			           dll_flag_name(b));
		L->rule = NULL;
	}
	check_unique_ids(L);
}

/* ---- top level ---- */

static void f_version(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)L, (void)key, (void)val;
	((nxp_policy *)obj)->version = 1; /* checked before the walk */
}

static void f_settings(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	NXPI_WALK_MAP(L->c, L, val, settings_fields, "settings", obj);
}

static const field top_fields[] = {
	{"nxpatch", V_INT, f_version, 1},
	{"settings", V_MAP, f_settings, 0},
	{"rules", V_SEQ, f_rules, 0},
};

/* The version first: a file for another schema version is not checked
 * against this one. Returns 0 to go on. */
static int check_version(lctx *L, const ynode *root)
{
	char d[96];
	for (size_t i = 0; i + 1 < root->n; i += 2) {
		const ynode *k = root->kids[i], *v = root->kids[i + 1];
		if (k->type != Y_SCALAR || strcmp(k->str, "nxpatch"))
			continue;
		if (v->type == Y_BAD)
			return -1;
		if (!nxpi_is_decimal(v)) {
			pctx_error(L->c, v->loc, "nxpatch: expected the schema version, an integer, "
			           "got %s", nxpi_describe(v, d, sizeof(d)));
			return -1;
		}
		if (strtol(v->str, NULL, 10) != 1) {
			pctx_error(L->c, v->loc, "unsupported schema version %ld (this nxpatch reads "
			           "version 1)", strtol(v->str, NULL, 10));
			return -1;
		}
		return 0;
	}
	return 0; /* missing: reported by the walk */
}

void nxpi_policy_schema(pctx *c, nxp_policy *p, const ynode *root)
{
	lctx L;
	memset(&L, 0, sizeof(L));
	L.c = c;
	L.p = p;
	if (check_version(&L, root) == 0)
		NXPI_WALK_MAP(c, &L, root, top_fields, "the policy", p);
	free(L.id_locs);
}
