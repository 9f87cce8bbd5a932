/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: policies (YAML, schema version 1) and rule matching.
 * The language is documented in docs/policy.md. */
#ifndef NXPATCH_POLICY_H
#define NXPATCH_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include "nxpatch/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct nxp_facts;

typedef enum nxp_sig_mode {
	NXP_SIGMODE_REFUSE = 0,  /* never change a signed image (default) */
	NXP_SIGMODE_STRIP = 1,   /* drop the signature of a patched image */
	NXP_SIGMODE_RESIGN = 2,  /* re-sign with the key given on the command line */
	NXP_SIGMODE_SIGN = 3     /* sign every output, whether or not the input was signed */
} nxp_sig_mode;

typedef enum nxp_checksum_mode {
	NXP_CHECKSUM_AUTO = 0,   /* recompute, but a stored 0 stays 0 (default) */
	NXP_CHECKSUM_ALWAYS = 1  /* always write the correct checksum */
} nxp_checksum_mode;

/* Where a node was in the source: 1-based line and column. */
typedef struct nxp_loc {
	uint32_t line;
	uint32_t col;
} nxp_loc;

typedef struct nxp_strlist {
	char **items;
	nxp_loc *locs;
	size_t n;
} nxp_strlist;

typedef struct nxp_u16list {
	uint16_t *items;
	size_t n;
} nxp_u16list;

#define NXP_SELECTOR_CODE_IN_DATA "@code-in-data"

typedef struct nxp_section_action {
	char *selector;         /* a name, a glob, or "@code-in-data" */
	uint32_t add;           /* section attribute bits to set */
	uint32_t remove;        /* section attribute bits to clear */
	int allow_wx;           /* the result may be writable and executable */
	nxp_loc loc;
} nxp_section_action;

typedef struct nxp_rule {
	char *id;
	char *description;      /* may be NULL */
	nxp_loc loc;

	/* when: every key given must match; a list matches any item. A list
	 * with n == 0 means the key was not given. */
	nxp_strlist path;        /* globs against the path as given */
	nxp_u16list machine;     /* machine values (names mapped) */
	uint32_t kind_mask;      /* 1u << nxp_kind; 0 = not given */
	nxp_u16list subsystem;
	nxp_strlist imports;     /* DLL names, case-insensitive */
	nxp_strlist has_section; /* names or globs */
	int has_dll_cond;
	uint16_t dll_cond_set;   /* these flags must be set now */
	uint16_t dll_cond_clear; /* these flags must be clear now */
	int signed_cond;         /* -1 not given, 0 or 1 */
	int code_in_data_cond;   /* -1 not given, 0 or 1 */

	/* actions */
	uint16_t set;            /* DllCharacteristics flags to set */
	uint16_t clear;          /* DllCharacteristics flags to clear */
	nxp_loc set_loc, clear_loc;
	nxp_section_action *sections;
	size_t nsections;
	/* `pool: nx` (drivers): non-paged executable allocations ask for the NX
	 * form of their type; keep_executable lists call-site RVAs left alone
	 * (JITs, hook engines that execute from pool on purpose). */
	int pool_nx;
	nxp_loc pool_loc;
	uint32_t *keep_exec;
	size_t nkeep_exec;
	/* An inline edit (nxp_policy_add_edits): the command-line option this
	 * rule was compiled from, as messages name it ("--set nx_compat"); NULL
	 * for a rule read from a file (its place is loc in the policy's source). */
	char *option;
} nxp_rule;

typedef struct nxp_policy {
	char *source;            /* file name for messages, "<default>" built in */
	int version;             /* 1 */
	nxp_sig_mode signature;
	nxp_checksum_mode checksum;
	nxp_rule *rules;
	size_t nrules;
	/* Where signature and checksum were decided, for messages: the option
	 * ("--signature strip") or "file:line:col"; NULL while they are defaults. */
	char *signature_from;
	char *checksum_from;
} nxp_policy;

/* One diagnostic from loading a policy. */
typedef struct nxp_diag {
	char *file;
	uint32_t line, col;      /* 1-based; 0 when unknown */
	char *message;           /* lowercase, no trailing period */
	char *source_line;       /* the line of the source, may be NULL */
} nxp_diag;

typedef struct nxp_diags {
	nxp_diag *items;
	size_t n;
} nxp_diags;

/* Load and validate. On error returns NXP_E_POLICY, *out is NULL, and every
 * problem found is in diags (which the caller frees); err holds the first. */
int nxp_policy_load_file(nxp_policy **out, const char *path, nxp_diags *diags, nxp_error *err);
int nxp_policy_load_buffer(nxp_policy **out, const char *name, const char *buf, size_t len,
                           nxp_diags *diags, nxp_error *err);
/* The built-in policy (rules/default.yaml, compiled in). */
int nxp_policy_load_default(nxp_policy **out, nxp_diags *diags, nxp_error *err);
void nxp_policy_free(nxp_policy *p);
void nxp_diags_free(nxp_diags *d);

/* Inline edits: EDITBIN-style options of plan, apply and verify, compiled
 * into the same structure a policy file gives (docs/policy.md "Inline
 * edits"). Each --set, --clear and --section becomes one rule without
 * conditions, appended in command-line order after the rules already in the
 * policy (a later rule wins); --signature and --checksum replace the
 * settings; --allow-wx lets every --section edit make a section writable and
 * executable. */
typedef enum nxp_edit_kind {
	NXP_EDIT_SET = 0,        /* "nx_compat,dynamic_base": DllCharacteristics flags to set */
	NXP_EDIT_CLEAR = 1,      /* "force_integrity": flags to clear */
	NXP_EDIT_SECTION = 2,    /* "SELECTOR:+attr,-attr": a name, glob or @code-in-data */
	NXP_EDIT_SIGNATURE = 3,  /* "refuse", "strip", "resign" or "sign" */
	NXP_EDIT_CHECKSUM = 4,   /* "auto" or "always" */
	NXP_EDIT_ALLOW_WX = 5    /* no value */
} nxp_edit_kind;

typedef struct nxp_edit {
	nxp_edit_kind kind;
	const char *value;       /* NULL for NXP_EDIT_ALLOW_WX */
} nxp_edit;

/* "--set", "--clear", "--section", "--signature", "--checksum", "--allow-wx". */
const char *nxp_edit_option(nxp_edit_kind kind);

/* Compile edits[0..n) into *p. When *p is NULL an empty policy named
 * "<command line>" is created. On a bad edit returns NXP_E_USAGE with a
 * message that starts with the option ("--set nx_compt: unknown dll
 * characteristics flag 'nx_compt' (did you mean 'nx_compat'?)") and leaves
 * *p as it was. */
int nxp_policy_add_edits(nxp_policy **p, const nxp_edit *edits, size_t n, nxp_error *err);

/* Where rule r was written, for messages: its option ("--set nx_compat"),
 * or "source:line:col" for a rule from a file. */
void nxp_rule_origin(const nxp_policy *p, const nxp_rule *r, char *out, size_t outlen);

/* "file:line:col: message\n<source line>\n<spaces>^\n", malloc'd. */
char *nxp_diag_render(const nxp_diag *d);

#ifdef __cplusplus
}
#endif
#endif
