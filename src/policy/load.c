/* SPDX-License-Identifier: Apache-2.0 */
/* The policy loader: libyaml builds a bounded node tree (ytree.c), then the
 * tree is validated through one schema table per mapping (top level,
 * settings, rule, when, dll_characteristics, action). Every problem is
 * collected, with its position, before the load fails. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/pe.h"
#include "policy/internal.h"
#include "util/bytes.h"
#include "util/suggest.h"

extern const char nxp_default_policy_yaml[];
extern const size_t nxp_default_policy_yaml_len;

#define NXP_POLICY_MAX_ID 128
#define NXP_POLICY_MAX_IMPORT_NAME 256

/* ---- the walk's state ---- */

typedef struct lctx {
	pctx *c;
	nxp_policy *p;
	nxp_loc *id_locs;              /* per rule: where its id is, line 0 if none */
	/* the rule being read */
	nxp_rule *rule;
	nxp_loc set_at[16], clear_at[16];
} lctx;

/* One action while it is read; checked as a whole afterwards. */
typedef struct action_tmp {
	int has_set, has_clear, has_section, has_add, has_remove, has_allow, has_pool, has_keep;
	uint32_t *keep;
	size_t nkeep;
	uint16_t set, clear;
	nxp_loc set_at[16], clear_at[16];
	nxp_section_action sec;
	nxp_loc add_loc, remove_loc;
} action_tmp;

typedef struct dllcond_tmp {
	uint16_t set, clear;
	nxp_loc set_at[16], clear_at[16];
} dllcond_tmp;

/* ---- messages ---- */

/* A user string fit for a message: at most 60 characters, control
 * characters shown as '?'. */
static const char *shown(const char *s, char *buf, size_t size)
{
	size_t n = 0, i = 0;
	for (; s[i] && n + 4 < size && i < 60; i++)
		buf[n++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (s[i]) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

static int is_decimal(const ynode *n)
{
	if (n->type != Y_SCALAR || !n->plain || n->len == 0 || n->len > 9)
		return 0;
	for (size_t i = 0; i < n->len; i++)
		if (!isdigit((unsigned char)n->str[i]))
			return 0;
	return 1;
}

static int bool_value(const ynode *n)
{
	static const char *const t[] = {"true", "True", "TRUE"};
	static const char *const f[] = {"false", "False", "FALSE"};
	if (n->type != Y_SCALAR || !n->plain)
		return -1;
	for (int i = 0; i < 3; i++) {
		if (!strcmp(n->str, t[i]))
			return 1;
		if (!strcmp(n->str, f[i]))
			return 0;
	}
	return -1;
}

/* "a mapping", "a list", "null", or the scalar itself in quotes. */
static const char *describe(const ynode *n, char *buf, size_t size)
{
	switch (n->type) {
	case Y_NULL:
		return "null";
	case Y_SEQ:
		return "a list";
	case Y_MAP:
		return "a mapping";
	case Y_BAD:
		return "an alias";
	case Y_SCALAR:
		break;
	}
	char tmp[80];
	/* A description for a message: truncation is acceptable (and checked,
	 * which also keeps -O2's -Wformat-truncation quiet). */
	if (snprintf(buf, size, "%s'%s'", n->plain ? "" : "the quoted string ",
	             shown(n->str, tmp, sizeof(tmp))) >= (int)size && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}

/* " (did you mean 'x'?)" for a close name, else ", expected one of: a, b". */
static void hint(char *out, size_t size, const char *got, const char *const *names, size_t n)
{
	const char *close = nxp_closest(got, names, n);
	if (close) {
		snprintf(out, size, " (did you mean '%s'?)", close);
		return;
	}
	size_t w = (size_t)snprintf(out, size, ", expected one of: ");
	for (size_t i = 0; i < n && w < size; i++)
		w += (size_t)snprintf(out + w, size - w, "%s%s", i ? ", " : "", names[i]);
}

static void flag_hint(char *out, size_t size, const char *got, const nxp_flag_name *table)
{
	const char *names[64];
	size_t n = 0;
	for (; table->name && n < 64; table++)
		names[n++] = table->name;
	hint(out, size, got, names, n);
}

/* Look a name up in table; report it as an unknown `what` when missing. */
static int lookup(lctx *L, const nxp_flag_name *table, const ynode *item, const char *what,
                  uint32_t *bit)
{
	if (nxp_flag_lookup(table, item->str, bit))
		return 1;
	if (pctx_full(L->c)) {
		pctx_count(L->c);
		return 0;
	}
	char h[512], q[80];
	flag_hint(h, sizeof(h), item->str, table);
	pctx_error(L->c, item->loc, "unknown %s '%s'%s", what, shown(item->str, q, sizeof(q)), h);
	return 0;
}

static const nxp_flag_name kind_names[] = {
	{"exe", NXP_KIND_EXE}, {"dll", NXP_KIND_DLL},
	{"driver", NXP_KIND_DRIVER}, {"efi", NXP_KIND_EFI}, {NULL, 0},
};
static const nxp_flag_name signature_names[] = {
	{"refuse", NXP_SIGMODE_REFUSE}, {"strip", NXP_SIGMODE_STRIP}, {"resign", NXP_SIGMODE_RESIGN},
	{NULL, 0},
};
static const nxp_flag_name checksum_names[] = {
	{"auto", NXP_CHECKSUM_AUTO}, {"always", NXP_CHECKSUM_ALWAYS}, {NULL, 0},
};

/* ---- the schema tables ---- */

enum vkind { V_STR, V_STRS, V_BOOL, V_INT, V_MAP, V_SEQ };

static const char *const vkind_text[] = {
	[V_STR] = "a string",
	[V_STRS] = "a list of strings",
	[V_BOOL] = "true or false",
	[V_INT] = "an integer",
	[V_MAP] = "a mapping",
	[V_SEQ] = "a list",
};

typedef void (*field_fn)(lctx *L, const ynode *key, const ynode *val, void *obj);

typedef struct field {
	const char *key;
	enum vkind kind;
	field_fn fn;
	int required;
} field;

static int kind_ok(const ynode *v, enum vkind k)
{
	switch (k) {
	case V_STR:
		return v->type == Y_SCALAR;
	case V_STRS:
		return v->type == Y_SCALAR || v->type == Y_SEQ;
	case V_BOOL:
		return bool_value(v) >= 0;
	case V_INT:
		return is_decimal(v);
	case V_MAP:
		return v->type == Y_MAP;
	case V_SEQ:
		return v->type == Y_SEQ;
	}
	return 0;
}

/* Walk mapping m through table (n fields). `what` names the mapping in
 * messages ("rule", "settings"). */
static void walk_map(lctx *L, const ynode *m, const field *table, size_t n, const char *what,
                     void *obj)
{
	uint32_t seen = 0;
	nxp_loc first_at[32];
	char q[80], d[96];
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const ynode *key = m->kids[i], *val = m->kids[i + 1];
		if (key->type == Y_BAD)
			continue;
		if (key->type != Y_SCALAR) {
			pctx_error(L->c, key->loc, "keys of %s must be strings, got %s", what,
			           describe(key, d, sizeof(d)));
			continue;
		}
		size_t f = 0;
		while (f < n && strcmp(table[f].key, key->str))
			f++;
		if (f < n && (seen & (1u << f))) {
			pctx_error(L->c, key->loc, "duplicate key '%s' (first at line %u)",
			           table[f].key, first_at[f].line);
			continue;
		}
		if (f == n && pctx_full(L->c)) {
			pctx_count(L->c);
			continue;
		}
		if (f == n) {
			/* an unknown key said twice is reported twice, as unknown:
			 * finding duplicates among unknown keys would take time
			 * quadratic in the size of the mapping */
			const char *names[32];
			char h[400];
			for (size_t k = 0; k < n && k < 32; k++)
				names[k] = table[k].key;
			hint(h, sizeof(h), key->str, names, n < 32 ? n : 32);
			pctx_error(L->c, key->loc, "unknown key '%s' in %s%s",
			           shown(key->str, q, sizeof(q)), what, h);
			continue;
		}
		seen |= 1u << f;
		first_at[f] = key->loc;
		if (val->type == Y_BAD)
			continue;
		if (!kind_ok(val, table[f].kind)) {
			pctx_error(L->c, val->loc, "%s: expected %s, got %s", table[f].key,
			           vkind_text[table[f].kind], describe(val, d, sizeof(d)));
			continue;
		}
		if (table[f].fn)
			table[f].fn(L, key, val, obj);
	}
	for (size_t f = 0; f < n; f++)
		if (table[f].required && !(seen & (1u << f)))
			pctx_error(L->c, m->loc, "missing required key '%s' in %s", table[f].key, what);
}

/* The items of a string-or-list value, checked to be non-empty strings.
 * Returns the count (items in *out point into the tree), or -1 after an
 * error. A scalar is a one-item list. */
static long str_items(lctx *L, const ynode *key, const ynode *val, const ynode ***out,
                      const ynode **one)
{
	char d[96];
	if (val->type == Y_SCALAR) {
		one[0] = val;
		*out = one;
	} else {
		if (val->n > NXP_POLICY_MAX_LIST) {
			pctx_error(L->c, val->loc, "%s: more than %d items", key->str,
			           NXP_POLICY_MAX_LIST);
			return -1;
		}
		*out = (const ynode **)val->kids;
	}
	long n = val->type == Y_SCALAR ? 1 : (long)val->n;
	int bad = 0;
	for (long i = 0; i < n; i++) {
		const ynode *it = (*out)[i];
		if (it->type == Y_BAD) {
			bad = 1;
		} else if (it->type != Y_SCALAR) {
			pctx_error(L->c, it->loc, "%s: expected a string as each item, got %s",
			           key->str, describe(it, d, sizeof(d)));
			bad = 1;
		} else if (it->len == 0 || strlen(it->str) != it->len) {
			pctx_error(L->c, it->loc, "%s: %s", key->str, it->len ? "a string holds a NUL "
			           "character" : "an empty string names nothing");
			bad = 1;
		}
	}
	return bad ? -1 : n;
}

/* Names from table, OR-ed into *bits; locs[bit index] remembers where. */
static void flag_bits(lctx *L, const ynode *key, const ynode *val, const nxp_flag_name *table,
                      const char *what, uint32_t *bits, nxp_loc *locs)
{
	const ynode **items, *one[1];
	long n = str_items(L, key, val, &items, one);
	for (long i = 0; i < n; i++) {
		uint32_t bit;
		if (!lookup(L, table, items[i], what, &bit))
			continue;
		*bits |= bit;
		if (locs) {
			for (int b = 0; b < 16; b++)
				if (bit & (1u << b))
					locs[b] = items[i]->loc;
		}
	}
}

static char *dup_str(lctx *L, const char *s)
{
	char *r = strdup(s);
	if (!r)
		L->c->nomem = 1;
	return r;
}

/* A list of globs or names into an nxp_strlist. */
static void str_list(lctx *L, const ynode *key, const ynode *val, nxp_strlist *out, int globs)
{
	const ynode **items, *one[1];
	char q[80];
	long n = str_items(L, key, val, &items, one);
	if (n < 0)
		return;
	if (n == 0) {
		pctx_error(L->c, val->loc, "%s: an empty list matches nothing", key->str);
		return;
	}
	int bad = 0;
	for (long i = 0; i < n; i++) {
		const char *why = NULL;
		if (globs)
			why = nxpi_glob_check(items[i]->str);
		else if (items[i]->len > NXP_POLICY_MAX_IMPORT_NAME)
			why = "name longer than 256 characters";
		if (why) {
			pctx_error(L->c, items[i]->loc, "%s: bad %s '%s': %s", key->str,
			           globs ? "glob" : "name", shown(items[i]->str, q, sizeof(q)), why);
			bad = 1;
		}
	}
	if (bad)
		return;
	out->items = calloc((size_t)n, sizeof(*out->items));
	out->locs = calloc((size_t)n, sizeof(*out->locs));
	if (!out->items || !out->locs) {
		L->c->nomem = 1;
		return;
	}
	for (long i = 0; i < n; i++) {
		out->items[i] = dup_str(L, items[i]->str);
		out->locs[i] = items[i]->loc;
		if (out->items[i])
			out->n++;
	}
}

static void u16_list(lctx *L, const ynode *key, const ynode *val, const nxp_flag_name *table,
                     const char *what, nxp_u16list *out)
{
	const ynode **items, *one[1];
	long n = str_items(L, key, val, &items, one);
	if (n < 0)
		return;
	if (n == 0) {
		pctx_error(L->c, val->loc, "%s: an empty list matches nothing", key->str);
		return;
	}
	out->items = calloc((size_t)n, sizeof(*out->items));
	if (!out->items) {
		L->c->nomem = 1;
		return;
	}
	for (long i = 0; i < n; i++) {
		uint32_t v;
		if (lookup(L, table, items[i], what, &v))
			out->items[out->n++] = (uint16_t)v;
	}
}

/* ---- settings ---- */

static void f_signature(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	uint32_t v;
	if (lookup(L, signature_names, val, "signature mode", &v))
		((nxp_policy *)obj)->signature = (nxp_sig_mode)v;
}

static void f_checksum(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	uint32_t v;
	if (lookup(L, checksum_names, val, "checksum mode", &v))
		((nxp_policy *)obj)->checksum = (nxp_checksum_mode)v;
}

static const field settings_fields[] = {
	{"signature", V_STR, f_signature, 0},
	{"checksum", V_STR, f_checksum, 0},
};

/* ---- when ---- */

static void f_path(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	str_list(L, key, val, &((nxp_rule *)obj)->path, 1);
}

static void f_has_section(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	str_list(L, key, val, &((nxp_rule *)obj)->has_section, 1);
}

static void f_imports(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	str_list(L, key, val, &((nxp_rule *)obj)->imports, 0);
}

static void f_machine(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	u16_list(L, key, val, nxp_machine_names, "machine", &((nxp_rule *)obj)->machine);
}

static void f_subsystem(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	u16_list(L, key, val, nxp_subsystem_names, "subsystem", &((nxp_rule *)obj)->subsystem);
}

static void f_kind(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	nxp_u16list kinds = {0};
	u16_list(L, key, val, kind_names, "kind", &kinds);
	for (size_t i = 0; i < kinds.n; i++)
		((nxp_rule *)obj)->kind_mask |= 1u << kinds.items[i];
	free(kinds.items);
}

static void f_signed(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)L, (void)key;
	((nxp_rule *)obj)->signed_cond = bool_value(val);
}

static void f_code_in_data(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)L, (void)key;
	((nxp_rule *)obj)->code_in_data_cond = bool_value(val);
}

static void f_cond_set(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	dllcond_tmp *t = obj;
	uint32_t bits = 0;
	flag_bits(L, key, val, nxp_dll_flag_names, "dll characteristics flag", &bits, t->set_at);
	t->set |= (uint16_t)bits;
}

static void f_cond_clear(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	dllcond_tmp *t = obj;
	uint32_t bits = 0;
	flag_bits(L, key, val, nxp_dll_flag_names, "dll characteristics flag", &bits, t->clear_at);
	t->clear |= (uint16_t)bits;
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

static nxp_loc later(nxp_loc a, nxp_loc b)
{
	return (a.line > b.line || (a.line == b.line && a.col > b.col)) ? a : b;
}

static void f_dll_cond(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	nxp_rule *r = obj;
	dllcond_tmp t;
	memset(&t, 0, sizeof(t));
	walk_map(L, val, dllcond_fields, NXP_ARRAY_LEN(dllcond_fields),
	         "dll_characteristics", &t);
	for (int b = 0; b < 16; b++)
		if ((t.set & t.clear) & (1u << b))
			pctx_error(L->c, later(t.set_at[b], t.clear_at[b]),
			           "dll_characteristics: %s cannot be both set and clear",
			           dll_flag_name(b));
	r->has_dll_cond = 1;
	r->dll_cond_set = t.set;
	r->dll_cond_clear = t.clear;
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
	uint32_t bits = 0;
	a->has_set = 1;
	flag_bits(L, key, val, nxp_dll_flag_names, "dll characteristics flag", &bits, a->set_at);
	a->set |= (uint16_t)bits;
}

static void f_act_clear(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	action_tmp *a = obj;
	uint32_t bits = 0;
	a->has_clear = 1;
	flag_bits(L, key, val, nxp_dll_flag_names, "dll characteristics flag", &bits, a->clear_at);
	a->clear |= (uint16_t)bits;
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
			hint(h, sizeof(h), s, names, 1);
			pctx_error(L->c, val->loc, "section: unknown selector '%s'%s",
			           shown(s, q, sizeof(q)), h);
			return;
		}
	} else {
		const char *why = nxpi_glob_check(s);
		if (why) {
			pctx_error(L->c, val->loc, "section: bad glob '%s': %s", shown(s, q, sizeof(q)),
			           why);
			return;
		}
	}
	a->sec.selector = dup_str(L, s);
}

static void f_act_add(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	action_tmp *a = obj;
	a->has_add = 1;
	a->add_loc = val->loc;
	flag_bits(L, key, val, nxp_section_attr_names, "section attribute", &a->sec.add, NULL);
}

static void f_act_remove(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	action_tmp *a = obj;
	a->has_remove = 1;
	a->remove_loc = val->loc;
	flag_bits(L, key, val, nxp_section_attr_names, "section attribute", &a->sec.remove, NULL);
}

static void f_act_allow_wx(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)L, (void)key;
	action_tmp *a = obj;
	a->has_allow = 1;
	a->sec.allow_wx = bool_value(val);
}

static void f_act_pool(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	action_tmp *a = obj;
	char q[80];
	a->has_pool = 1;
	if (strcmp(val->str, "nx") || strlen(val->str) != val->len)
		pctx_error(L->c, val->loc, "pool: unknown value '%s' (the only one is 'nx')",
		           shown(val->str, q, sizeof(q)));
}

/* keep_executable: call-site RVAs, 0x... or decimal. */
static void f_act_keep(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	action_tmp *a = obj;
	const ynode **items, *one[1];
	char q[80];
	a->has_keep = 1;
	long n = str_items(L, key, val, &items, one);
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
			           shown(s, q, sizeof(q)));
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
	walk_map(L, item, action_fields, NXP_ARRAY_LEN(action_fields), "action", &a);

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
		r->set |= a.set;
		r->clear |= a.clear;
		for (int b = 0; b < 16; b++) {
			if ((a.set & (1u << b)) && !L->set_at[b].line)
				L->set_at[b] = a.set_at[b];
			if ((a.clear & (1u << b)) && !L->clear_at[b].line)
				L->clear_at[b] = a.clear_at[b];
		}
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
			           describe(it, d, sizeof(d)));
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
		           "digits, '-', '_', '.' or ':')", shown(val->str, q, sizeof(q)),
		           NXP_POLICY_MAX_ID);
		return;
	}
	r->id = dup_str(L, val->str);
	L->id_locs[r - L->p->rules] = val->loc;
}

static void f_description(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	((nxp_rule *)obj)->description = dup_str(L, val->str);
}

static void f_when(lctx *L, const ynode *key, const ynode *val, void *obj)
{
	(void)key;
	walk_map(L, val, when_fields, NXP_ARRAY_LEN(when_fields), "when", obj);
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
		           shown(p->rules[idx[i]].id, q, sizeof(q)), L->id_locs[idx[first]].line);
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
			           describe(it, d, sizeof(d)));
			continue;
		}
		L->rule = r;
		memset(L->set_at, 0, sizeof(L->set_at));
		memset(L->clear_at, 0, sizeof(L->clear_at));
		walk_map(L, it, rule_fields, NXP_ARRAY_LEN(rule_fields), "rule", r);
		uint16_t both = r->set & r->clear;
		for (int b = 0; b < 16; b++)
			if (both & (1u << b))
				pctx_error(L->c, later(L->set_at[b], L->clear_at[b]),
				           "rule '%s' both sets and clears %s", r->id ? r->id : "?",
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
	walk_map(L, val, settings_fields, NXP_ARRAY_LEN(settings_fields), "settings", obj);
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
		if (!is_decimal(v)) {
			pctx_error(L->c, v->loc, "nxpatch: expected the schema version, an integer, "
			           "got %s", describe(v, d, sizeof(d)));
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

void nxp_policy_free(nxp_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nrules; i++) {
		nxp_rule *r = &p->rules[i];
		free(r->id);
		free(r->description);
		nxp_strlist *lists[] = {&r->path, &r->imports, &r->has_section};
		for (size_t k = 0; k < NXP_ARRAY_LEN(lists); k++) {
			for (size_t j = 0; j < lists[k]->n; j++)
				free(lists[k]->items[j]);
			free(lists[k]->items);
			free(lists[k]->locs);
		}
		free(r->machine.items);
		free(r->subsystem.items);
		for (size_t j = 0; j < r->nsections; j++)
			free(r->sections[j].selector);
		free(r->sections);
		free(r->keep_exec);
	}
	free(p->rules);
	free(p->source);
	free(p);
}

int nxp_policy_load_buffer(nxp_policy **out, const char *name, const char *buf, size_t len,
                           nxp_diags *diags, nxp_error *err)
{
	pctx c;
	memset(&c, 0, sizeof(c));
	c.name = name ? name : "<policy>";
	c.buf = buf;
	c.len = len;
	c.diags = diags;
	*out = NULL;

	nxp_policy *p = calloc(1, sizeof(*p));
	lctx L;
	memset(&L, 0, sizeof(L));
	L.c = &c;
	L.p = p;
	ynode *root = NULL;
	if (!p || !(p->source = strdup(c.name))) {
		c.nomem = 1;
		goto done;
	}
	p->signature = NXP_SIGMODE_REFUSE;
	p->checksum = NXP_CHECKSUM_AUTO;

	if (len > NXP_POLICY_MAX_BYTES) {
		nxp_loc none = {0, 0};
		pctx_error(&c, none, "policy file larger than 1 MiB (%zu bytes)", len);
		goto done;
	}
	if (ytree_parse(&c, &root) < 0)
		goto done;
	if (!root || root->type == Y_NULL) {
		nxp_loc first = {1, 1};
		pctx_error(&c, first, "policy file is empty, expected 'nxpatch: 1' and rules");
		goto done;
	}
	if (root->type != Y_MAP) {
		char d[96];
		pctx_error(&c, root->loc, "expected a mapping at the top level, got %s",
		           describe(root, d, sizeof(d)));
		goto done;
	}
	if (check_version(&L, root) < 0)
		goto done;
	walk_map(&L, root, top_fields, NXP_ARRAY_LEN(top_fields), "the policy", p);

done:
	ytree_free(root);
	free(L.id_locs);
	pctx_sort_diags(&c);
	if (c.nomem) {
		nxp_policy_free(p);
		return nxp_fail(err, NXP_E_NOMEM, "%s: out of memory loading the policy", c.name);
	}
	if (c.nerrors) {
		nxp_policy_free(p);
		if (err)
			*err = c.first;
		return NXP_E_POLICY;
	}
	*out = p;
	return NXP_OK;
}

int nxp_policy_load_file(nxp_policy **out, const char *path, nxp_diags *diags, nxp_error *err)
{
	*out = NULL;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return nxp_fail(err, NXP_E_IO, "%s: cannot open: %s", path, strerror(errno));
	/* Read at most one byte past the limit: enough to know it is too big. */
	size_t cap = NXP_POLICY_MAX_BYTES + 1, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(fp);
		return nxp_fail(err, NXP_E_NOMEM, "%s: out of memory reading the policy", path);
	}
	while (len < cap) {
		size_t got = fread(buf + len, 1, cap - len, fp);
		if (got == 0)
			break;
		len += got;
	}
	int rd_err = ferror(fp);
	int saved = errno;
	fclose(fp);
	if (rd_err) {
		free(buf);
		return nxp_fail(err, NXP_E_IO, "%s: cannot read: %s", path, strerror(saved));
	}
	int rc = nxp_policy_load_buffer(out, path, buf, len, diags, err);
	free(buf);
	return rc;
}

int nxp_policy_load_default(nxp_policy **out, nxp_diags *diags, nxp_error *err)
{
	return nxp_policy_load_buffer(out, "<default>", nxp_default_policy_yaml,
	                              nxp_default_policy_yaml_len, diags, err);
}
