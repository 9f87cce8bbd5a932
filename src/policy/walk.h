/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to src/policy: the generic schema walker. A schema is one table
 * of fields per mapping (key, expected kind, handler, required); the walker
 * reports unknown keys (with a did-you-mean), duplicates, wrong kinds and
 * missing required keys at their position, and hands each good value to its
 * handler. It knows nothing of nxpatch's schema (schema.c). Every problem
 * goes to the diagnostic sink (pctx) and the walk goes on. */
#ifndef NXP_POLICY_WALK_H
#define NXP_POLICY_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "nxpatch/pe.h"
#include "policy/internal.h"
#include "util/bytes.h"

/* Fields in one schema table. A longer table is a compile-time error
 * through NXPI_WALK_MAP (and a reported internal error at run time). */
#define NXPI_SCHEMA_MAX_FIELDS 32

/* The schema's own state, opaque to the walker (schema.c defines it). */
typedef struct lctx lctx;

enum vkind { V_STR, V_STRS, V_BOOL, V_INT, V_MAP, V_SEQ };

typedef void (*field_fn)(lctx *L, const ynode *key, const ynode *val, void *obj);

typedef struct field {
	const char *key;
	enum vkind kind;
	field_fn fn;                /* NULL: accepted, nothing to store */
	int required;
} field;

/* Walk mapping m through table (n fields); `what` names the mapping in
 * messages ("rule", "settings"). obj is passed to the handlers. */
void nxpi_walk_map(pctx *c, lctx *L, const ynode *m, const field *table, size_t n,
                   const char *what, void *obj);
#define NXPI_WALK_MAP(c, L, m, table, what, obj)                                         \
	do {                                                                              \
		_Static_assert(NXP_ARRAY_LEN(table) <= NXPI_SCHEMA_MAX_FIELDS,                \
		               "schema table longer than NXPI_SCHEMA_MAX_FIELDS");            \
		nxpi_walk_map((c), (L), (m), (table), NXP_ARRAY_LEN(table), (what), (obj));   \
	} while (0)

/* ---- values ---- */

/* A user string fit for a message: at most 60 characters, control
 * characters shown as '?'. */
const char *nxpi_clip(const char *s, char *buf, size_t size);
/* "a mapping", "a list", "null", or the scalar itself in quotes. */
const char *nxpi_describe(const ynode *n, char *buf, size_t size);
/* " (did you mean 'x'?)" for a close name, else ", expected one of: a, b". */
void nxpi_hint(char *out, size_t size, const char *got, const char *const *names, size_t n);
/* 1 for a plain scalar of at most 9 decimal digits. */
int nxpi_is_decimal(const ynode *n);
/* 1 / 0 for a plain true/false (any of three spellings), else -1. */
int nxpi_bool_value(const ynode *n);
/* strdup; out of memory sets c->nomem. */
char *nxpi_dup_str(pctx *c, const char *s);

/* Look item's name up in table; report it as an unknown `what` (with a
 * hint) when missing. Returns 1 and sets *bit when found. */
/* *slot (freed first) = where loc is, "file:line:col", for messages naming a
 * setting ("the built-in default policy, line N" for the default). */
void nxpi_set_origin(pctx *c, char **slot, nxp_loc loc);
/* nxpi_lookup, and on success *origin = where item is (nxpi_set_origin). */
int nxpi_lookup_at(pctx *c, const nxp_flag_name *table, const ynode *item, const char *what,
                   uint32_t *bit, char **origin);
int nxpi_lookup(pctx *c, const nxp_flag_name *table, const ynode *item, const char *what,
                uint32_t *bit);
/* The items of a string-or-list value, checked to be non-empty strings.
 * Returns the count (items in *out point into the tree, or to one[0] for a
 * scalar), or -1 after an error. */
long nxpi_str_items(pctx *c, const ynode *key, const ynode *val, const ynode ***out,
                    const ynode **one);
/* A list of globs (globs != 0) or names into out. */
void nxpi_str_list(pctx *c, const ynode *key, const ynode *val, nxp_strlist *out, int globs);
/* A list of names from table into out. */
void nxpi_u16_list(pctx *c, const ynode *key, const ynode *val, const nxp_flag_name *table,
                   const char *what, nxp_u16list *out);
/* Names from table OR-ed into fs, each bit located at the item naming it
 * (a name given twice in one list: the later item). */
void nxpi_flagset_read(pctx *c, const ynode *key, const ynode *val, const nxp_flag_name *table,
                       const char *what, nxpi_flagset *fs);

/* The nxpatch schema (schema.c): validate the document root (a mapping)
 * into p, reporting every problem to c. */
void nxpi_policy_schema(pctx *c, nxp_policy *p, const ynode *root);

#endif
