/* SPDX-License-Identifier: Apache-2.0 */
/* Inline edits: the EDITBIN-style options of plan, apply and verify
 * (--set, --clear, --section, --signature, --checksum, --allow-wx) compiled
 * into the policy structure a file gives, so that one planner, one set of
 * safety checks and one judge serve both. A rule made here has no
 * conditions and carries its option (nxp_rule.option), which messages name
 * where a file's rule has its file:line:col. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/pe.h"
#include "policy/internal.h"
#include "util/bytes.h"
#include "util/suggest.h"

#define MAX_ITEMS 64        /* names in one --set, --clear or --section value */
#define MAX_VALUE 4096      /* bytes in one value */

static const char *const option_names[] = {
	[NXP_EDIT_SET] = "--set",
	[NXP_EDIT_CLEAR] = "--clear",
	[NXP_EDIT_SECTION] = "--section",
	[NXP_EDIT_SIGNATURE] = "--signature",
	[NXP_EDIT_CHECKSUM] = "--checksum",
	[NXP_EDIT_ALLOW_WX] = "--allow-wx",
};

/* A message into why: truncation is fine (and the buffers are large). */
static void say(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
}

const char *nxp_edit_option(nxp_edit_kind kind)
{
	return (size_t)kind < NXP_ARRAY_LEN(option_names) ? option_names[kind] : "--?";
}

void nxp_rule_origin(const nxp_policy *p, const nxp_rule *r, char *out, size_t outlen)
{
	if (r->option)
		snprintf(out, outlen, "%s", r->option);
	else
		snprintf(out, outlen, "%s:%u:%u", p && p->source ? p->source : "<policy>", r->loc.line,
		         r->loc.col);
}

/* The edit as messages show it: "--set nx_compat". */
static void edit_text(const nxp_edit *e, char *out, size_t size)
{
	if (e->value)
		snprintf(out, size, "%s %s", nxp_edit_option(e->kind), e->value);
	else
		snprintf(out, size, "%s", nxp_edit_option(e->kind));
}

/* Split s at commas into trimmed items (pointers into buf). Returns the
 * count, or -1 with a message in why. */
static int split_items(char *buf, char **items, const char *what, char *why, size_t whylen)
{
	int n = 0;
	for (char *p = buf;;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		char *end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*p) {
			say(why, whylen, "an empty %s (give names separated by commas)", what);
			return -1;
		}
		if (n == MAX_ITEMS) {
			say(why, whylen, "more than %d %ss", MAX_ITEMS, what);
			return -1;
		}
		items[n++] = p;
		if (!comma)
			return n;
		p = comma + 1;
	}
}

/* Flag names into bits. Returns 0, or -1 with a message. */
static int flags_of(const char *value, uint16_t *bits, char *why, size_t whylen)
{
	char buf[MAX_VALUE + 1], *items[MAX_ITEMS];
	snprintf(buf, sizeof(buf), "%s", value);
	int n = split_items(buf, items, "flag name", why, whylen);
	if (n < 0)
		return -1;
	*bits = 0;
	for (int i = 0; i < n; i++) {
		uint32_t bit;
		if (!nxp_flag_lookup(nxp_dll_flag_names, items[i], &bit)) {
			char h[512];
			nxpi_suggest_flag_hint(h, sizeof(h), items[i], nxp_dll_flag_names);
			say(why, whylen, "unknown dll characteristics flag '%s'%s", items[i], h);
			return -1;
		}
		*bits |= (uint16_t)bit;
	}
	return 0;
}

static const char *attr_name(uint32_t bit)
{
	for (const nxp_flag_name *t = nxp_section_attr_names; t->name; t++)
		if (t->bit == bit)
			return t->name;
	return "unknown";
}

/* "SELECTOR:+attr,-attr" into a section action. Returns 0, or -1 with a
 * message. */
static int section_of(const char *value, int allow_wx, nxp_section_action *a, char *why,
                      size_t whylen)
{
	const char *colon = strrchr(value, ':');
	if (!colon || colon == value) {
		say(why, whylen, "expected SECTION:+attribute,-attribute (a name, a glob or %s "
		         "before the colon), for example '.thunk:+execute,-write'",
		         NXP_SELECTOR_CODE_IN_DATA);
		return -1;
	}
	char sel[MAX_VALUE + 1], buf[MAX_VALUE + 1], *items[MAX_ITEMS];
	snprintf(sel, sizeof(sel), "%.*s", (int)(colon - value), value);
	if (sel[0] == '@') {
		if (strcmp(sel, NXP_SELECTOR_CODE_IN_DATA)) {
			const char *names[] = {NXP_SELECTOR_CODE_IN_DATA};
			char h[128];
			nxpi_suggest_hint(h, sizeof(h), sel, names, 1);
			say(why, whylen, "unknown selector '%s'%s", sel, h);
			return -1;
		}
	} else {
		const char *bad = nxpi_glob_check(sel);
		if (bad) {
			say(why, whylen, "bad glob '%s': %s", sel, bad);
			return -1;
		}
	}
	snprintf(buf, sizeof(buf), "%s", colon + 1);
	int n = split_items(buf, items, "attribute", why, whylen);
	if (n < 0)
		return -1;
	uint32_t add = 0, remove = 0;
	for (int i = 0; i < n; i++) {
		const char *name = items[i];
		int plus = name[0] == '+';
		if (name[0] != '+' && name[0] != '-') {
			say(why, whylen, "say '+%s' to add the attribute or '-%s' to remove it", name,
			         name);
			return -1;
		}
		name++;
		uint32_t bit;
		if (!nxp_flag_lookup(nxp_section_attr_names, name, &bit)) {
			char h[512];
			nxpi_suggest_flag_hint(h, sizeof(h), name, nxp_section_attr_names);
			say(why, whylen, "unknown section attribute '%s'%s", name, h);
			return -1;
		}
		if ((plus ? remove : add) & bit) {
			say(why, whylen, "both adds and removes '%s'", attr_name(bit));
			return -1;
		}
		*(plus ? &add : &remove) |= bit;
	}
	if ((add & NXP_SCN_WX) == NXP_SCN_WX && !allow_wx) {
		say(why, whylen, "adding both write and execute makes the section writable and "
		         "executable: add --allow-wx to allow it");
		return -1;
	}
	a->selector = strdup(sel);
	if (!a->selector) {
		say(why, whylen, "out of memory");
		return -1;
	}
	a->add = add;
	a->remove = remove;
	a->allow_wx = allow_wx;
	return 0;
}

static int mode_of(const nxp_flag_name *table, const char *what, const char *value,
                   uint32_t *v, char *why, size_t whylen)
{
	if (nxp_flag_lookup(table, value, v))
		return 0;
	char h[256];
	nxpi_suggest_flag_hint(h, sizeof(h), value, table);
	say(why, whylen, "unknown %s '%s'%s", what, value, h);
	return -1;
}

static const nxp_flag_name signature_modes[] = {
	{"refuse", NXP_SIGMODE_REFUSE}, {"strip", NXP_SIGMODE_STRIP},
	{"resign", NXP_SIGMODE_RESIGN}, {"sign", NXP_SIGMODE_SIGN}, {NULL, 0},
};
static const nxp_flag_name checksum_modes[] = {
	{"auto", NXP_CHECKSUM_AUTO}, {"always", NXP_CHECKSUM_ALWAYS}, {NULL, 0},
};

static void free_rule(nxp_rule *r)
{
	for (size_t j = 0; j < r->nsections; j++)
		free(r->sections[j].selector);
	free(r->sections);
	free(r->id);
	free(r->option);
}

static const char *dll_flag_name(uint16_t bit)
{
	for (const nxp_flag_name *t = nxp_dll_flag_names; t->name; t++)
		if (t->bit == bit)
			return t->name;
	return "?";
}

/* The edits compiled so far: new rules (k used, each freed on failure),
 * the modes, and who set or cleared each DllCharacteristics bit (for the
 * contradiction of --set and --clear across edits). */
typedef struct compiled {
	nxp_rule *rules;
	size_t k;
	int allow_wx;
	int sig, sum;          /* -1: not given */
	const char *sig_text, *sum_text;
	uint16_t set_all, clear_all;
	const nxp_edit *set_by[16], *clear_by[16];
} compiled;

/* The edits are well formed; counts the rules they make. */
static int check_edits(const nxp_edit *edits, size_t n, size_t *nrules, int *allow_wx,
                       nxp_error *err)
{
	int nsections = 0;
	*nrules = 0;
	*allow_wx = 0;
	for (size_t i = 0; i < n; i++) {
		if (edits[i].kind > NXP_EDIT_ALLOW_WX ||
		    (!edits[i].value != (edits[i].kind == NXP_EDIT_ALLOW_WX)))
			return nxp_fail(err, NXP_E_USAGE, "inline edit %zu: bad kind or value", i);
		if (edits[i].value && strlen(edits[i].value) > MAX_VALUE)
			return nxp_fail(err, NXP_E_USAGE, "%s: value longer than %d bytes",
			                nxp_edit_option(edits[i].kind), MAX_VALUE);
		*allow_wx |= edits[i].kind == NXP_EDIT_ALLOW_WX;
		nsections += edits[i].kind == NXP_EDIT_SECTION;
		*nrules += edits[i].kind <= NXP_EDIT_SECTION;
	}
	if (*allow_wx && !nsections)
		return nxp_fail(err, NXP_E_USAGE, "--allow-wx lets --section edits make a section "
		                "writable and executable, and no --section was given");
	return NXP_OK;
}

/* --set or --clear e into rule r; a bit the other one names is a
 * contradiction. */
static int flag_rule(compiled *c, nxp_rule *r, const nxp_edit *e, char *why, size_t whylen)
{
	uint16_t bits;
	if (flags_of(e->value, &bits, why, whylen))
		return -1;
	int set = e->kind == NXP_EDIT_SET;
	uint16_t other = set ? c->clear_all : c->set_all;
	if (bits & other) {
		uint16_t b = (uint16_t)(bits & other & (0u - (bits & other)));
		char o[NXP_ERROR_MSG_MAX / 2];
		edit_text((set ? c->clear_by : c->set_by)[__builtin_ctz(b)], o, sizeof(o));
		say(why, whylen, "%s contradicts %s: give one", dll_flag_name(b), o);
		return -1;
	}
	for (int b = 0; b < 16; b++)
		if (bits & (1u << b))
			(set ? c->set_by : c->clear_by)[b] = e;
	*(set ? &c->set_all : &c->clear_all) |= bits;
	*(set ? &r->set : &r->clear) = bits;
	return 0;
}

static int section_rule(const compiled *c, nxp_rule *r, const nxp_edit *e, char *why,
                        size_t whylen)
{
	r->sections = calloc(1, sizeof(*r->sections));
	if (!r->sections) {
		say(why, whylen, "out of memory");
		return -1;
	}
	if (section_of(e->value, c->allow_wx, &r->sections[0], why, whylen))
		return -1;
	r->nsections = 1;
	return 0;
}

/* Compile edit e (as messages show it: text) into c: a mode, or one more
 * rule. Returns NXP_OK or fails with the reason. */
static int compile_edit(compiled *c, const nxp_edit *e, const char *text, nxp_error *err)
{
	char why[NXP_ERROR_MSG_MAX];
	uint32_t v;
	why[0] = '\0';
	int bad = 0;
	switch (e->kind) {
	case NXP_EDIT_SIGNATURE:
	case NXP_EDIT_CHECKSUM: {
		int is_sig = e->kind == NXP_EDIT_SIGNATURE;
		if (mode_of(is_sig ? signature_modes : checksum_modes,
		            is_sig ? "signature mode" : "checksum mode", e->value, &v, why, sizeof(why)))
			break;
		*(is_sig ? &c->sig : &c->sum) = (int)v;
		*(is_sig ? &c->sig_text : &c->sum_text) = e->value;
		return NXP_OK;
	}
	case NXP_EDIT_ALLOW_WX:
		return NXP_OK;
	case NXP_EDIT_SET:
	case NXP_EDIT_CLEAR:
	case NXP_EDIT_SECTION: {
		nxp_rule *r = &c->rules[c->k++]; /* freed with the others, also on failure */
		bad = e->kind == NXP_EDIT_SECTION ? section_rule(c, r, e, why, sizeof(why))
		                                  : flag_rule(c, r, e, why, sizeof(why));
		if (bad)
			break;
		r->signed_cond = -1;
		r->code_in_data_cond = -1;
		r->id = strdup(text);
		r->option = strdup(text);
		if (!r->id || !r->option)
			return nxp_fail(err, NXP_E_NOMEM, "out of memory");
		return NXP_OK;
	}
	}
	return nxp_fail(err, strcmp(why, "out of memory") ? NXP_E_USAGE : NXP_E_NOMEM, "%s: %s",
	                text, why);
}

static void free_compiled(compiled *c)
{
	for (size_t i = 0; i < c->k; i++)
		free_rule(&c->rules[i]);
	free(c->rules);
}

/* Install c's rules and modes into *pp (a new policy when NULL): all of
 * them, or, on failure, none (c is freed either way). */
static int install(nxp_policy **pp, compiled *c, nxp_error *err)
{
	nxp_policy *p = *pp;
	int created = 0, rc = NXP_OK;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p || !(p->source = strdup("<command line>"))) {
			free(p);
			free_compiled(c);
			return nxp_fail(err, NXP_E_NOMEM, "out of memory");
		}
		p->version = 1;
		created = 1;
	}
	char *sig_from = NULL, *sum_from = NULL;
	if (c->sig >= 0 && asprintf(&sig_from, "--signature %s", c->sig_text) < 0)
		sig_from = NULL, rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
	if (!rc && c->sum >= 0 && asprintf(&sum_from, "--checksum %s", c->sum_text) < 0)
		sum_from = NULL, rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
	nxp_rule *all = NULL;
	if (!rc && c->k) {
		all = realloc(p->rules, (p->nrules + c->k) * sizeof(*all));
		if (!all)
			rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	if (rc) {
		free_compiled(c);
		free(sig_from);
		free(sum_from);
		if (created)
			nxp_policy_free(p);
		return rc;
	}
	if (c->k) {
		memcpy(all + p->nrules, c->rules, c->k * sizeof(*all));
		p->rules = all;
		p->nrules += c->k;
	}
	free(c->rules);
	if (c->sig >= 0) {
		p->signature = (nxp_sig_mode)c->sig;
		free(p->signature_from);
		p->signature_from = sig_from;
	}
	if (c->sum >= 0) {
		p->checksum = (nxp_checksum_mode)c->sum;
		free(p->checksum_from);
		p->checksum_from = sum_from;
	}
	*pp = p;
	return NXP_OK;
}

/* One pass compiles every edit into new rules, then one step installs them
 * (or, on any error, frees them and leaves *pp alone). */
int nxp_policy_add_edits(nxp_policy **pp, const nxp_edit *edits, size_t n, nxp_error *err)
{
	size_t nrules;
	compiled c = {.sig = -1, .sum = -1};
	int rc = check_edits(edits, n, &nrules, &c.allow_wx, err);
	if (rc)
		return rc;
	c.rules = calloc(nrules ? nrules : 1, sizeof(*c.rules));
	if (!c.rules)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n && !rc; i++) {
		char text[NXP_ERROR_MSG_MAX];
		edit_text(&edits[i], text, sizeof(text));
		rc = compile_edit(&c, &edits[i], text, err);
	}
	if (rc) {
		free_compiled(&c);
		return rc;
	}
	return install(pp, &c, err);
}
