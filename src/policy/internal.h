/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to src/policy: the YAML node tree and the diagnostics list. */
#ifndef NXP_POLICY_INTERNAL_H
#define NXP_POLICY_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "nxpatch/policy.h"

/* Limits that keep a hostile policy file from exhausting memory or time. */
#define NXP_POLICY_MAX_BYTES (1u << 20)  /* 1 MiB */
#define NXP_POLICY_MAX_DEPTH 32          /* nesting of lists and mappings */
#define NXP_POLICY_MAX_NODES 200000      /* nodes in the whole document */
#define NXP_POLICY_MAX_RULES 10000
#define NXP_POLICY_MAX_LIST 1024         /* items in one list of names/globs */
#define NXP_POLICY_MAX_ACTIONS 256       /* actions in one rule */
#define NXP_POLICY_MAX_DIAGS 200         /* diagnostics kept; then one "too many" */
#define NXP_POLICY_MAX_SCALAR 4096       /* bytes in one string */
#define NXP_POLICY_MAX_SHOWN_LINE 1024   /* longer source lines are not quoted */
#define NXP_POLICY_MAX_ID 128            /* bytes in a rule id */
#define NXP_POLICY_MAX_IMPORT_NAME 256   /* bytes in an imported DLL name */

enum ynode_type { Y_NULL, Y_SCALAR, Y_SEQ, Y_MAP, Y_BAD };

/* A node of the document. Mappings hold key, value, key, value... in kids. */
typedef struct ynode {
	enum ynode_type type;
	nxp_loc loc;
	char *str;              /* scalars: the value, NUL-terminated */
	size_t len;             /* bytes in str (may hold a NUL: then invalid) */
	int plain;              /* a plain (unquoted) scalar */
	struct ynode **kids;
	size_t n, cap;
} ynode;

/* The diagnostic sink shared by the parser and the schema walker. */
typedef struct pctx {
	const char *name;       /* file name for messages */
	const char *buf;
	size_t len;
	nxp_diags *diags;
	size_t nerrors;         /* errors found, including ones not kept */
	int nomem;
	nxp_error first;        /* the first error, for the caller's err */
} pctx;

void pctx_error(pctx *c, nxp_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 1 once no more diagnostics are kept: callers may then skip building a
 * costly message and only count the error with pctx_count. */
int pctx_full(const pctx *c);
void pctx_count(pctx *c);

/* Parse buf into *root (NULL when the stream has no document). Returns 0, or
 * -1 after reporting a syntax error or an exceeded limit. */
int ytree_parse(pctx *c, ynode **root);
void ytree_free(ynode *n);

/* Sort c->diags by position, keeping the order of equal positions. */
void pctx_sort_diags(pctx *c);

/* A set of flag bits, each with where it was given: the one bookkeeping
 * for set/clear pairs (DllCharacteristics conditions and actions, a rule's
 * merged actions, inline edits given on the command line). */
typedef struct nxpi_flagset {
	uint32_t bits;
	nxp_loc at[32];         /* at[b]: where bit b was given (line 0: unknown) */
} nxpi_flagset;

/* Add bits, located at `at` (replacing their locations). */
void nxpi_flagset_add(nxpi_flagset *fs, uint32_t bits, nxp_loc at);
/* into |= add; a bit already in `into` keeps its first location. */
void nxpi_flagset_merge(nxpi_flagset *into, const nxpi_flagset *add);
/* The lowest bit at or above `from` that is in both set and clear, or -1;
 * *at is the later of its two locations (where the contradiction shows).
 * Loop: for (b = -1; (b = nxpi_flagset_conflict(s, c, b + 1, &at)) >= 0;). */
int nxpi_flagset_conflict(const nxpi_flagset *set, const nxpi_flagset *clear, int from,
                          nxp_loc *at);

/* Library-internal: matching against the facts of one image (match.c),
 * used by the planner. 1 when rule r's match: block holds for f; 1 when
 * section idx is one that action a selects. */
struct nxp_facts;
int nxpi_rule_matches(const nxp_rule *r, const struct nxp_facts *f);
int nxpi_section_selected(const nxp_section_action *a, const struct nxp_facts *f, unsigned idx);

/* Glob with *, ?, [...] and ** (any number of path components). */
int nxpi_glob_match(const char *pattern, const char *text);
/* 0 when the glob is well-formed, else a static reason ("unterminated '['"). */
const char *nxpi_glob_check(const char *pattern);

#endif
