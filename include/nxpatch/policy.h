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
	NXP_SIGMODE_RESIGN = 2   /* re-sign with the key given on the command line */
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
} nxp_rule;

typedef struct nxp_policy {
	char *source;            /* file name for messages, "<default>" built in */
	int version;             /* 1 */
	nxp_sig_mode signature;
	nxp_checksum_mode checksum;
	nxp_rule *rules;
	size_t nrules;
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

/* "file:line:col: message\n<source line>\n<spaces>^\n", malloc'd. */
char *nxp_diag_render(const nxp_diag *d);

#ifdef __cplusplus
}
#endif
#endif
