/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: plans (policy x facts -> a list of field edits).
 *
 * A plan is the dry-run diff: every field that apply would change, with its
 * file offset, old and new value and the rule that decided it, plus refused
 * changes with reasons. nxp_apply() (nxpatch/write.h) writes exactly the
 * plan, verifies the output and only then replaces the target. */
#ifndef NXPATCH_PLAN_H
#define NXPATCH_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "nxpatch/analysis.h"
#include "nxpatch/check.h"
#include "nxpatch/error.h"
#include "nxpatch/input.h"
#include "nxpatch/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NXP_MAX_POOL_EDITS 256  /* pool-type immediates rewritten per driver */
#define NXP_MAX_CHANGES (NXP_MAX_SECTIONS + 4 + NXP_MAX_POOL_EDITS)
#define NXP_MAX_REFUSALS 64
#define NXP_MAX_PLAN_WARNINGS 32
#define NXP_MAX_MATCHED 10000    /* matching rules named: as many as a policy may hold */

typedef enum nxp_field {
	NXP_FIELD_DLL_CHARACTERISTICS = 0,
	NXP_FIELD_SECTION_CHARACTERISTICS = 1,
	NXP_FIELD_CHECKSUM = 2,
	NXP_FIELD_CERT_DIR = 3,      /* the certificate-table directory entry */
	NXP_FIELD_POOL_TYPE = 4      /* a call site's pool-type immediate in code (pool: nx) */
} nxp_field;

/* One bit decision: which rule set or cleared which bit. */
/* Rule ids in a plan point into the policy it was built from, which must
 * outlive the plan. */
typedef struct nxp_bit_change {
	uint32_t bit;
	int set;                     /* 1 set, 0 cleared */
	const char *rule;            /* the deciding rule's id */
} nxp_bit_change;

typedef struct nxp_change {
	nxp_field field;
	int section;                 /* section index for section changes, else -1 */
	uint32_t offset;             /* file offset of the field */
	uint32_t size;               /* 2, 4 or 8 bytes */
	uint64_t old_value;
	uint64_t new_value;
	nxp_bit_change bits[32];     /* flag fields: the decisions behind it */
	unsigned nbits;
	uint32_t site_rva;           /* NXP_FIELD_POOL_TYPE: the call instruction */
	int api;                     /* NXP_FIELD_POOL_TYPE: index into nxp_drv_apis */
} nxp_change;

typedef struct nxp_refusal {
	nxp_finding_id id;           /* which safety check (include/nxpatch/findings.def) */
	nxp_where where;             /* the section, evidence RVA or field it is about */
	const char *rule;            /* NULL when no single rule asked */
	char reason[640];
} nxp_refusal;

typedef enum nxp_sig_action {
	NXP_SIGACT_NONE = 0,         /* unsigned image, or signed and untouched */
	NXP_SIGACT_STRIP = 1,        /* the signature is removed */
	NXP_SIGACT_RESIGN = 2        /* the signature is replaced by a new one */
} nxp_sig_action;

typedef enum nxp_plan_status {
	NXP_PLAN_NOTHING = 0,        /* nothing to do */
	NXP_PLAN_CHANGES = 1,        /* changes pending */
	NXP_PLAN_REFUSED = 2         /* at least one change refused: nothing is written */
} nxp_plan_status;

typedef struct nxp_plan {
	nxp_plan_status status;
	nxp_change changes[NXP_MAX_CHANGES];   /* sorted by offset */
	size_t nchanges;
	nxp_refusal refusals[NXP_MAX_REFUSALS];
	size_t nrefusals;
	char warnings[NXP_MAX_PLAN_WARNINGS][320];
	size_t nwarnings;
	const char *matched[NXP_MAX_MATCHED]; /* ids of every matching rule, in order */
	size_t nmatched;
	nxp_sig_action signature;
	uint32_t signature_entries;  /* entries dropped by strip/resign */
	uint32_t checksum_old;
	uint32_t checksum_new;       /* for resign: recomputed after signing */
	uint64_t out_len;            /* output length before any new signature */
	uint16_t dll_new;            /* DllCharacteristics after the plan */
	uint32_t section_new[NXP_MAX_SECTIONS]; /* section characteristics after */
	/* For each section writable and executable after the plan: the rule
	 * with allow_wx that sanctions it, or NULL. A rule sanctions W+X when
	 * it decides the section's execute (or write) bit with allow_wx, in
	 * this plan or in the plan of the image before it (the same image with
	 * execute cleared on its W+X sections, nx_compat clear, unsigned): so a
	 * section made W+X under allow_wx stays sanctioned when its output is
	 * judged again from the file alone. */
	const char *wx_rule[NXP_MAX_SECTIONS];
} nxp_plan;

typedef struct nxp_plan_options {
	int will_sign;               /* a signer is available (resign) */
} nxp_plan_options;

/* Build the plan of f under pol. Always fills plan; returns NXP_OK (a
 * refusal is a plan status, not an error). */
int nxp_plan_build(nxp_plan *plan, const nxp_policy *pol, const nxp_facts *f,
                   const nxp_plan_options *opt, nxp_error *err);

/* A plan that only strips (`unsign`) or replaces (`sign`) the signature of
 * img: out_len is the image cut at its certificate table, directory entry 4
 * is planned zero, and under strip the CheckSum is recomputed. An unsigned
 * image under strip gives NXP_PLAN_NOTHING. Fails (NXP_E_CERT_TABLE) when
 * the table is not at the end of the file. */
int nxp_plan_signature(nxp_plan *plan, const nxp_image *img, nxp_sig_action action,
                       nxp_error *err);

/* "section .thunk characteristics" / "dll_characteristics" / "checksum". */
void nxp_change_label(const nxp_change *c, const nxp_image *img, char *out, size_t outlen);
/* "(+execute, -discardable)" / "" for non-flag fields. */
void nxp_change_bits(const nxp_change *c, char *out, size_t outlen);
/* The rules behind a change, "a, b" (distinct, in order), or "". */
void nxp_change_rules(const nxp_change *c, char *out, size_t outlen);

#ifdef __cplusplus
}
#endif
#endif
