/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: the judge. One function turns policy x facts (x trust) into
 * findings: what is pending, what is refused and why, what the image's
 * posture is, and (with trust) whether its signatures hold. plan, verify,
 * scan and every report take their verdicts from here; nothing else
 * evaluates rules.
 *
 * The findings are defined once, as data, in include/nxpatch/findings.def
 * (id, SARIF rule, level, verdict). Compliance is a property of the
 * verdicts: an image complies when no finding is PENDING, REFUSED or
 * SIGNATURE. PENDING findings are exactly the plan's changes and REFUSED
 * ones exactly its refusals, so `verify` (signatures aside) passes exactly
 * when `plan` has nothing to do. */
#ifndef NXPATCH_CHECK_H
#define NXPATCH_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "nxpatch/analysis.h"
#include "nxpatch/error.h"
#include "nxpatch/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nxp_finding_id {
#define NXP_FINDING(e, id, sarif, level, verdict, title) e,
#include "nxpatch/findings.def"
#undef NXP_FINDING
	NXP_F__COUNT
} nxp_finding_id;

typedef enum nxp_level {
	NXP_LEVEL_NOTE = 0,
	NXP_LEVEL_WARNING = 1,
	NXP_LEVEL_ERROR = 2
} nxp_level;

typedef enum nxp_verdict {
	NXP_VERDICT_POSTURE = 0,     /* reported; does not decide compliance */
	NXP_VERDICT_PENDING = 1,     /* a planned change not yet in the image */
	NXP_VERDICT_REFUSED = 2,     /* a change the policy asks for and the planner refuses */
	NXP_VERDICT_SIGNATURE = 3    /* a signature check (with trust) failed */
} nxp_verdict;

/* One row of findings.def. */
typedef struct nxp_finding_info {
	nxp_finding_id code;
	const char *id;              /* "wx-sanctioned" */
	const char *sarif_rule;      /* "BA2021" */
	nxp_level level;
	nxp_verdict verdict;
	const char *title;
} nxp_finding_info;

/* The row of id (never NULL for a valid id; NULL otherwise). */
const nxp_finding_info *nxp_finding_info_of(nxp_finding_id id);
/* The row whose "id" string is s, or NULL. */
const nxp_finding_info *nxp_finding_info_by_name(const char *s);
const char *nxp_level_name(nxp_level l);     /* "note", "warning", "error" */
const char *nxp_verdict_name(nxp_verdict v); /* "posture", "pending", "refused", "signature" */

#define NXP_FINDING_MSG_MAX 800
#define NXP_MAX_FINDINGS 256         /* per image; more are counted in dropped */

/* Where a finding points. Unknown parts are -1 / 0 with has_* clear. */
typedef struct nxp_where {
	int section;                 /* index into img->sections, or -1 */
	int has_rva;
	uint32_t rva;
	const char *field;           /* static: "dll_characteristics", "section_characteristics",
	                                "checksum", "certificate_table_entry", or NULL */
	int has_offset;
	uint32_t offset;             /* file offset of the field */
} nxp_where;

#define NXP_WHERE_NONE ((nxp_where){-1, 0, 0, NULL, 0, 0})

typedef struct nxp_finding {
	nxp_finding_id id;
	nxp_where where;
	const char *rule;            /* the policy rule that demands or sanctions it; points
	                                into the policy (which must outlive it), or NULL */
	char message[NXP_FINDING_MSG_MAX]; /* lowercase, complete, no trailing period */
} nxp_finding;

typedef struct nxp_findings {
	nxp_finding *items;          /* malloc'd */
	size_t n, cap;
	size_t dropped;              /* beyond NXP_MAX_FINDINGS */
} nxp_findings;

/* Frees what nxp_check_image() put in fs (items), leaving it empty. */
void nxp_findings_free(nxp_findings *fs);

struct nxp_plan;
struct nxp_trust;
struct nxp_sig_result;

typedef struct nxp_check_options {
	int will_sign;                   /* a signer is available (plan option) */
	const struct nxp_trust *trust;   /* check signatures against it, or NULL */
	int checksum_from_stored;        /* plan option (apply --trust-checksum) */
} nxp_check_options;

typedef struct nxp_check {
	struct nxp_plan *plan;       /* malloc'd; NULL in posture mode (no policy) */
	nxp_findings findings;
	struct nxp_sig_result *sigs; /* with trust: one per certificate entry (malloc'd) */
	size_t nsigs;
	int compliant;               /* no PENDING, REFUSED or SIGNATURE finding */
	int signatures_ok;           /* with trust: every entry verified (else 0) */
} nxp_check;

/* Judge f. With pol: the plan (as nxp_plan_build builds it) and its findings;
 * with pol NULL: the image's posture only (scan). Fills *c (free with
 * nxp_check_free) and returns NXP_OK, or NXP_E_NOMEM. */
int nxp_check_image(nxp_check *c, const nxp_policy *pol, const nxp_facts *f,
                    const nxp_check_options *opt, nxp_error *err);
void nxp_check_free(nxp_check *c);

/* The compliance verdict of a list of findings. */
int nxp_findings_compliant(const nxp_findings *fs);

#ifdef __cplusplus
}
#endif
#endif
