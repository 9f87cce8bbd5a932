/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the plan stage (src/plan/): the planner's state and the
 * passes of nxp_plan_build (plan.c), each in its own file:
 *   rules.c      the rules in order -> one decision per flag bit -> changes
 *   pool.c       pool: nx (call-site edits, the NX wrappers' section)
 *   sigplan.c    the signature (refuse, strip, re-sign, sign)
 *   safety.c     the refusals that keep an output loadable and honest
 *   sanction.c   which W+X sections a rule sanctions
 *   checksum.c   the planned CheckSum
 *   addsec.c     appending a section */
#ifndef NXP_PLAN_INTERNAL_H
#define NXP_PLAN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nxpatch/analysis.h"
#include "nxpatch/plan.h"
#include "nxpatch/policy.h"

/* The decision on one flag bit: the last matching rule that names it wins. */
typedef struct nxpi_decision {
	int decided;
	int value;
	int rule;          /* index into the policy's rules */
	int allow_wx;      /* the deciding section action allows W+X */
	const nxp_section_action *act; /* the deciding section action, or NULL */
} nxpi_decision;

typedef struct nxpi_planner {
	nxp_plan *plan;    /* NULL while rules are evaluated on a counterfactual image */
	const nxp_policy *pol;
	const nxp_facts *f;
	const nxp_plan_options *opt;
	nxpi_decision dll[16];
	nxpi_decision sec[NXP_MAX_SECTIONS][32];
	const nxp_rule *pool_rules[32];  /* matching rules with pool: nx */
	size_t npool;
	uint8_t wrap_code[NXP_MAX_ADDSEC_DATA]; /* pool: nx's NX wrappers, for the new section */
	uint32_t wrap_len;
	unsigned nwraps;
	const char *wrap_rule;
} nxpi_planner;

/* Records (plan.c). A refusal or warning past the plan's limit is dropped. */
void nxpi_plan_refuse(nxp_plan *p, nxp_finding_id id, nxp_where where, const char *rule,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void nxpi_plan_warn(nxp_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A location naming a header field (field may be NULL) at a file offset. */
nxp_where nxpi_plan_where(const char *field, uint32_t offset, int section);
/* Append one change; bits (may be NULL) supplies the decisions behind it.
 * The caller has made sure there is room (NXP_MAX_CHANGES). */
void nxpi_plan_change(nxp_plan *p, nxp_field field, int section, uint32_t offset, uint32_t size,
                      uint64_t old, uint64_t val, const nxp_change *bits);
/* Append one whole-field change (no section, no bit list). */
static inline void nxpi_plan_add(nxp_plan *p, nxp_field field, uint32_t offset, uint32_t size,
                                 uint64_t old, uint64_t val)
{
	nxpi_plan_change(p, field, -1, offset, size, old, val, NULL);
}
/* An empty plan for img: every field as it is, nothing to change. */
void nxpi_plan_init(nxp_plan *plan, const nxp_image *img);

/* Rules (rules.c). */
/* Evaluate the policy's rules in order into pl's decisions (and, with a
 * plan, its matched rules and pool: nx rules). */
void nxpi_plan_rules(nxpi_planner *pl);
/* The DllCharacteristics and section changes the decisions make, with the
 * refusal of a section made W+X by an action that does not allow it. */
void nxpi_plan_flags(nxpi_planner *pl);
/* The deciding rule's id, or NULL when undecided. */
const char *nxpi_plan_rule_id(const nxpi_planner *pl, const nxpi_decision *d);
/* Every refusal decided by a rule from a file names where that rule is. */
void nxpi_plan_name_rules(nxp_plan *plan, const nxp_policy *pol);

/* pool: nx (pool.c): its edits become changes, its refusals and notes the
 * plan's; its wrappers go into pl for nxpi_plan_pool_section. */
void nxpi_plan_pool_changes(nxpi_planner *pl);
/* The NX wrappers' section, planned after the signature decided what is
 * kept; refused when it cannot be appended. */
void nxpi_plan_pool_section(nxpi_planner *pl);

/* The signature of a rule-based plan (sigplan.c); changed: the plan changes
 * the image. Returns whether the output will be signed. */
int nxpi_plan_sign(nxpi_planner *pl, int changed);

/* Safety refusals (safety.c). */
void nxpi_plan_check_dll(nxpi_planner *pl, int will_be_signed);
void nxpi_plan_check_nx(nxpi_planner *pl);
void nxpi_plan_check_traced(nxpi_planner *pl);
/* Sort the changes by offset, refuse overlapping ones and edits inside
 * structures the reader parses. */
void nxpi_plan_check_layout(nxp_plan *plan, const nxp_image *img);

/* W+X sections a rule sanctions: plan->wx_rule (sanction.c). */
void nxpi_plan_sanction_wx(const nxpi_planner *pl);

/* The CheckSum (checksum.c). nxpi_plan_checksum: the CheckSum of the output
 * plan describes (bytes [0, out_len) with the changes other than CheckSum,
 * then the appended section); f, when given, supplies the input's computed
 * CheckSum (or, under opt's checksum_from_stored, its stored one).
 * nxpi_plan_set_checksum: recompute it when anything changes
 * (changed) or the policy says always; a stored zero stays zero otherwise;
 * a re-signed output gets it after signing. */
uint32_t nxpi_plan_checksum(nxp_plan *p, const nxp_image *img, const nxp_facts *f,
                            const nxp_plan_options *opt);
void nxpi_plan_set_checksum(nxpi_planner *pl, int changed);

#endif
