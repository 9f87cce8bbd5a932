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

#define NXP_MAX_POOL_EDITS 256  /* pool-type immediates, call sites and relocations per driver */
#define NXP_MAX_ADDSEC_CHANGES 8 /* an appended section: its header (5 x 8 bytes) and 3 fields */
#define NXP_MAX_CHANGES (NXP_MAX_SECTIONS + 4 + NXP_MAX_ADDSEC_CHANGES + NXP_MAX_POOL_EDITS)
#define NXP_MAX_ADDSEC_DATA 2048 /* bytes of code an appended section holds */
#define NXP_MAX_REFUSALS 64
#define NXP_MAX_PLAN_WARNINGS 32
#define NXP_MAX_MATCHED 10000    /* matching rules named: as many as a policy may hold */

typedef enum nxp_field {
	NXP_FIELD_DLL_CHARACTERISTICS = 0,
	NXP_FIELD_SECTION_CHARACTERISTICS = 1,
	NXP_FIELD_CHECKSUM = 2,
	NXP_FIELD_CERT_DIR = 3,      /* the certificate-table directory entry */
	NXP_FIELD_POOL_TYPE = 4,     /* a call site's pool-type immediate in code (pool: nx) */
	NXP_FIELD_CALL_SITE = 5,     /* a call (or the load of its target) now reaching the NX
	                              * wrapper in the appended section (pool: nx) */
	NXP_FIELD_RELOC_ENTRY = 6,   /* a base relocation entry dropped (type 0) for a rewritten
	                              * x86 call site */
	NXP_FIELD_SECTION_COUNT = 7, /* NumberOfSections: one more (appended section) */
	NXP_FIELD_SIZE_OF_CODE = 8,  /* SizeOfCode: grows by the appended code section */
	NXP_FIELD_SIZE_OF_IMAGE = 9, /* SizeOfImage: grows by the appended section */
	NXP_FIELD_SECTION_HEADER = 10 /* 8 bytes of the appended section's header, written into
	                              * the zero slack after the section table */
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
	uint32_t site_rva;           /* POOL_TYPE, CALL_SITE, RELOC_ENTRY: the call instruction */
	int api;                     /* POOL_TYPE, CALL_SITE, RELOC_ENTRY: index into nxp_drv_apis */
	uint32_t rva;                /* CALL_SITE: the rewritten instruction; RELOC_ENTRY: the
	                              * address the dropped entry relocated */
	uint32_t target_rva;         /* CALL_SITE: the wrapper it now reaches */
} nxp_change;

/* A section appended to the image (pool: nx's NX wrappers): read-execute
 * code, not paged, not discardable, never writable. Its header goes into
 * the zero slack after the section table; its raw data follows the kept
 * bytes of the input (out_len), aligned to FileAlignment; NumberOfSections,
 * SizeOfCode and SizeOfImage grow (planned changes); the CheckSum covers it.
 * A new signature, if any, follows it. */
typedef struct nxp_added_section {
	int present;
	char name[9];
	uint32_t header_offset;      /* file offset of its 40-byte header */
	uint32_t rva, virtual_size;
	uint32_t raw_offset, raw_size;
	uint32_t characteristics;
	uint32_t size_of_code, size_of_image; /* the headers' new values */
	uint8_t data[NXP_MAX_ADDSEC_DATA];    /* the first data_len raw bytes; the rest zero */
	uint32_t data_len;
	unsigned nwrappers;          /* NX wrappers in data (pool: nx) */
} nxp_added_section;

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
	uint32_t checksum_base;      /* the input's checksum checksum_new follows from */
	int checksum_from_stored;    /* checksum_base is the stored CheckSum, taken as
	                              * correct, not computed (nxp_plan_options) */
	uint64_t out_len;            /* bytes kept from the input (the output's length before an
	                              * appended section and any new signature) */
	nxp_added_section add;       /* a section appended after out_len, when add.present */
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
	/* Facts derived on demand without the checksum (nxp_input_plan): take
	 * a nonzero stored CheckSum as the input's correct checksum and update
	 * it by the bytes that change, instead of reading the whole file
	 * (apply --trust-checksum). The plan says so (checksum_from_stored). */
	int checksum_from_stored;
} nxp_plan_options;

/* Build the plan of f under pol. Always fills plan; returns NXP_OK (a
 * refusal is a plan status, not an error). */
int nxp_plan_build(nxp_plan *plan, const nxp_policy *pol, const nxp_facts *f,
                   const nxp_plan_options *opt, nxp_error *err);

struct nxp_input;
/* nxp_plan_build() of an input opened with NXP_INPUT_LAZY: facts the
 * judgement needs and the input does not hold yet (sections to search for
 * code, the checksum) are derived, and the plan is built again, until it
 * needs nothing more. The plan is the one nxp_plan_build() gives on fully
 * derived facts (checksum_from_stored aside). Returns NXP_OK or an error
 * deriving facts. */
int nxp_input_plan(nxp_plan *plan, const nxp_policy *pol, struct nxp_input *in,
                   const nxp_plan_options *opt, nxp_error *err);

/* A plan that only strips (`unsign`) or replaces (`sign`) the signature of
 * img: out_len is the image cut at its certificate table, directory entry 4
 * is planned zero, and under strip the CheckSum is recomputed. An unsigned
 * image under strip gives NXP_PLAN_NOTHING. Fails (NXP_E_CERT_TABLE) when
 * the table is not at the end of the file. */
int nxp_plan_signature(nxp_plan *plan, const nxp_image *img, nxp_sig_action action,
                       nxp_error *err);

/* The name of a changed field as reports carry it ("dll_characteristics",
 * "checksum", ...: docs/json.md); "unknown" for a value outside nxp_field. */
const char *nxp_field_name(nxp_field f);

/* The output's length before any new signature: out_len, or the end of the
 * appended section. */
uint64_t nxp_plan_body_end(const nxp_plan *plan);
/* The raw bytes of the appended section at file offset off (0 when off is
 * not inside its data). */
uint8_t nxp_plan_added_byte(const nxp_plan *plan, uint64_t off);

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
