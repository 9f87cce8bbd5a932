/* SPDX-License-Identifier: Apache-2.0 */
/* The generic schema walker (walk.h) and the readers of values it shares
 * with the schema: messages, scalars, lists of names and flag sets. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/walk.h"
#include "util/suggest.h"

/* ---- messages ---- */

/* A user string fit for a message: at most 60 characters, control
 * characters shown as '?'. */
const char *nxpi_clip(const char *s, char *buf, size_t size)
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

int nxpi_is_decimal(const ynode *n)
{
	if (n->type != Y_SCALAR || !n->plain || n->len == 0 || n->len > 9)
		return 0;
	for (size_t i = 0; i < n->len; i++)
		if (!isdigit((unsigned char)n->str[i]))
			return 0;
	return 1;
}

int nxpi_bool_value(const ynode *n)
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
const char *nxpi_describe(const ynode *n, char *buf, size_t size)
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
	             nxpi_clip(n->str, tmp, sizeof(tmp))) >= (int)size && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}

/* " (did you mean 'x'?)" for a close name, else ", expected one of: a, b". */
void nxpi_hint(char *out, size_t size, const char *got, const char *const *names, size_t n)
{
	nxpi_suggest_hint(out, size, got, names, n);
}

int nxpi_lookup_at(pctx *c, const nxp_flag_name *table, const ynode *item, const char *what,
                   uint32_t *bit, char **origin)
{
	if (!nxpi_lookup(c, table, item, what, bit))
		return 0;
	nxpi_set_origin(c, origin, item->loc);
	return 1;
}

void nxpi_set_origin(pctx *c, char **slot, nxp_loc loc)
{
	char *s = NULL;
	int rc = strcmp(c->name, "<default>")
	                 ? asprintf(&s, "%s:%u:%u", c->name, loc.line, loc.col)
	                 : asprintf(&s, "the built-in default policy, line %u", loc.line);
	if (rc < 0) {
		c->nomem = 1;
		s = NULL;
	}
	free(*slot);
	*slot = s;
}

int nxpi_lookup(pctx *c, const nxp_flag_name *table, const ynode *item, const char *what,
                uint32_t *bit)
{
	if (nxp_flag_lookup(table, item->str, bit))
		return 1;
	if (pctx_full(c)) {
		pctx_count(c);
		return 0;
	}
	char h[512], q[80];
	nxpi_suggest_flag_hint(h, sizeof(h), item->str, table);
	pctx_error(c, item->loc, "unknown %s '%s'%s", what, nxpi_clip(item->str, q, sizeof(q)), h);
	return 0;
}

/* ---- the walker ---- */

static const char *const vkind_text[] = {
	[V_STR] = "a string",
	[V_STRS] = "a list of strings",
	[V_BOOL] = "true or false",
	[V_INT] = "an integer",
	[V_MAP] = "a mapping",
	[V_SEQ] = "a list",
};

static int kind_ok(const ynode *v, enum vkind k)
{
	switch (k) {
	case V_STR:
		return v->type == Y_SCALAR;
	case V_STRS:
		return v->type == Y_SCALAR || v->type == Y_SEQ;
	case V_BOOL:
		return nxpi_bool_value(v) >= 0;
	case V_INT:
		return nxpi_is_decimal(v);
	case V_MAP:
		return v->type == Y_MAP;
	case V_SEQ:
		return v->type == Y_SEQ;
	}
	return 0;
}

void nxpi_walk_map(pctx *c, lctx *L, const ynode *m, const field *table, size_t n,
                   const char *what, void *obj)
{
	uint32_t seen = 0;          /* bit f: table[f] was given */
	nxp_loc first_at[NXPI_SCHEMA_MAX_FIELDS];
	char q[80], d[96];
	_Static_assert(NXPI_SCHEMA_MAX_FIELDS <= 32, "seen is a 32-bit mask");
	if (n > NXPI_SCHEMA_MAX_FIELDS) {
		pctx_error(c, m->loc, "internal error: the schema of %s has %zu keys, more than "
		           "the walker's %d", what, n, NXPI_SCHEMA_MAX_FIELDS);
		return;
	}
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const ynode *key = m->kids[i], *val = m->kids[i + 1];
		if (key->type == Y_BAD)
			continue;
		if (key->type != Y_SCALAR) {
			pctx_error(c, key->loc, "keys of %s must be strings, got %s", what,
			           nxpi_describe(key, d, sizeof(d)));
			continue;
		}
		size_t f = 0;
		while (f < n && strcmp(table[f].key, key->str))
			f++;
		if (f < n && (seen & (1u << f))) {
			pctx_error(c, key->loc, "duplicate key '%s' (first at line %u)",
			           table[f].key, first_at[f].line);
			continue;
		}
		if (f == n && pctx_full(c)) {
			pctx_count(c);
			continue;
		}
		if (f == n) {
			/* an unknown key said twice is reported twice, as unknown:
			 * finding duplicates among unknown keys would take time
			 * quadratic in the size of the mapping */
			const char *names[NXPI_SCHEMA_MAX_FIELDS];
			char h[400];
			for (size_t k = 0; k < n; k++)
				names[k] = table[k].key;
			nxpi_hint(h, sizeof(h), key->str, names, n);
			pctx_error(c, key->loc, "unknown key '%s' in %s%s",
			           nxpi_clip(key->str, q, sizeof(q)), what, h);
			continue;
		}
		seen |= 1u << f;
		first_at[f] = key->loc;
		if (val->type == Y_BAD)
			continue;
		if (!kind_ok(val, table[f].kind)) {
			pctx_error(c, val->loc, "%s: expected %s, got %s", table[f].key,
			           vkind_text[table[f].kind], nxpi_describe(val, d, sizeof(d)));
			continue;
		}
		if (table[f].fn)
			table[f].fn(L, key, val, obj);
	}
	for (size_t f = 0; f < n; f++)
		if (table[f].required && !(seen & (1u << f)))
			pctx_error(c, m->loc, "missing required key '%s' in %s", table[f].key, what);
}

long nxpi_str_items(pctx *c, const ynode *key, const ynode *val, const ynode ***out,
                    const ynode **one)
{
	char d[96];
	if (val->type == Y_SCALAR) {
		one[0] = val;
		*out = one;
	} else {
		if (val->n > NXP_POLICY_MAX_LIST) {
			pctx_error(c, val->loc, "%s: more than %d items", key->str,
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
			pctx_error(c, it->loc, "%s: expected a string as each item, got %s",
			           key->str, nxpi_describe(it, d, sizeof(d)));
			bad = 1;
		} else if (it->len == 0 || strlen(it->str) != it->len) {
			pctx_error(c, it->loc, "%s: %s", key->str, it->len ? "a string holds a NUL "
			           "character" : "an empty string names nothing");
			bad = 1;
		}
	}
	return bad ? -1 : n;
}

void nxpi_flagset_read(pctx *c, const ynode *key, const ynode *val, const nxp_flag_name *table,
                       const char *what, nxpi_flagset *fs)
{
	const ynode **items, *one[1];
	long n = nxpi_str_items(c, key, val, &items, one);
	for (long i = 0; i < n; i++) {
		uint32_t bit;
		if (nxpi_lookup(c, table, items[i], what, &bit))
			nxpi_flagset_add(fs, bit, items[i]->loc);
	}
}

void nxpi_flagset_add(nxpi_flagset *fs, uint32_t bits, nxp_loc at)
{
	fs->bits |= bits;
	for (int b = 0; b < 32; b++)
		if (bits & (1u << b))
			fs->at[b] = at;
}

void nxpi_flagset_merge(nxpi_flagset *into, const nxpi_flagset *add)
{
	for (int b = 0; b < 32; b++)
		if ((add->bits & (1u << b)) && !(into->bits & (1u << b)))
			into->at[b] = add->at[b];
	into->bits |= add->bits;
}

int nxpi_flagset_conflict(const nxpi_flagset *set, const nxpi_flagset *clear, int from,
                          nxp_loc *at)
{
	uint32_t both = set->bits & clear->bits;
	for (int b = from < 0 ? 0 : from; b < 32; b++) {
		if (!(both & (1u << b)))
			continue;
		nxp_loc s = set->at[b], k = clear->at[b];
		*at = (s.line > k.line || (s.line == k.line && s.col > k.col)) ? s : k;
		return b;
	}
	return -1;
}

char *nxpi_dup_str(pctx *c, const char *s)
{
	char *r = strdup(s);
	if (!r)
		c->nomem = 1;
	return r;
}

/* nxpi_str_items() of a list that must name something: an empty one is an
 * error (-1). */
static long nonempty_items(pctx *c, const ynode *key, const ynode *val, const ynode ***items,
                           const ynode **one)
{
	long n = nxpi_str_items(c, key, val, items, one);
	if (n == 0) {
		pctx_error(c, val->loc, "%s: an empty list matches nothing", key->str);
		return -1;
	}
	return n;
}

/* A list of globs or names into an nxp_strlist. */
void nxpi_str_list(pctx *c, const ynode *key, const ynode *val, nxp_strlist *out, int globs)
{
	const ynode **items, *one[1];
	char q[80];
	long n = nonempty_items(c, key, val, &items, one);
	if (n < 0)
		return;
	int bad = 0;
	for (long i = 0; i < n; i++) {
		const char *why = NULL;
		if (globs)
			why = nxpi_glob_check(items[i]->str);
		else if (items[i]->len > NXP_POLICY_MAX_IMPORT_NAME)
			why = "name longer than 256 characters";
		if (why) {
			pctx_error(c, items[i]->loc, "%s: bad %s '%s': %s", key->str,
			           globs ? "glob" : "name", nxpi_clip(items[i]->str, q, sizeof(q)), why);
			bad = 1;
		}
	}
	if (bad)
		return;
	out->items = calloc((size_t)n, sizeof(*out->items));
	out->locs = calloc((size_t)n, sizeof(*out->locs));
	if (!out->items || !out->locs) {
		c->nomem = 1;
		return;
	}
	for (long i = 0; i < n; i++) {
		out->items[i] = nxpi_dup_str(c, items[i]->str);
		out->locs[i] = items[i]->loc;
		if (out->items[i])
			out->n++;
	}
}

void nxpi_u16_list(pctx *c, const ynode *key, const ynode *val, const nxp_flag_name *table,
                   const char *what, nxp_u16list *out)
{
	const ynode **items, *one[1];
	long n = nonempty_items(c, key, val, &items, one);
	if (n < 0)
		return;
	out->items = calloc((size_t)n, sizeof(*out->items));
	if (!out->items) {
		c->nomem = 1;
		return;
	}
	for (long i = 0; i < n; i++) {
		uint32_t v;
		if (nxpi_lookup(c, table, items[i], what, &v))
			out->items[out->n++] = (uint16_t)v;
	}
}

