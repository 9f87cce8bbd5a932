/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: facts about one image, derived once from the parsed image and
 * used by matching, planning and reports. */
#ifndef NXPATCH_ANALYSIS_H
#define NXPATCH_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>
#include "nxpatch/pe.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NXP_MAX_EVIDENCE 4096   /* evidence records kept per image */

typedef enum nxp_evidence_kind {
	NXP_EV_ENTRY_POINT = 0,
	NXP_EV_EXPORT = 1,
	NXP_EV_TLS_CALLBACK = 2,
	NXP_EV_EXCEPTION = 3,       /* .pdata function start */
	NXP_EV_SAFESEH = 4,
	NXP_EV_CFG = 5,
	NXP_EV_CALL = 6,            /* direct call target */
	NXP_EV_JUMP = 7,            /* direct jump target */
	NXP_EV_ATL_THUNK = 8,       /* mov [esp+4], imm32; jmp rel32 */
	NXP_EV_X64_THUNK = 9,       /* mov rcx, imm64; mov rax, imm64; jmp rax */
	NXP_EV_ABS_JUMP = 10,       /* absolute-jump stub */
	NXP_EV_DEP_FAULT = 11,      /* observed: an execute fault under DEP (nxpatch trace) */
	NXP_EV__COUNT
} nxp_evidence_kind;

const char *nxp_evidence_kind_name(nxp_evidence_kind k); /* "entry_point", ... */

typedef struct nxp_evidence {
	nxp_evidence_kind kind;
	uint32_t rva;
	int section;                /* index into img->sections */
} nxp_evidence;

/* What judging facts derived on demand needed that they do not hold yet:
 * sections to search for code, and the checksum (see nxp_facts.unsearched).
 * The judge marks it; nxp_input_plan() derives it and judges again. */
typedef struct nxp_demand {
	uint8_t section[NXP_MAX_SECTIONS];
	int checksum;
	int any;
} nxp_demand;

typedef struct nxp_facts {
	const nxp_image *img;
	const char *path;           /* as given on the command line */
	nxp_kind kind;
	int is_signed;              /* a certificate table is present */
	uint32_t checksum_computed; /* nxp_pe_checksum of the whole file */

	/* Code found in sections without IMAGE_SCN_MEM_EXECUTE. */
	nxp_evidence *evidence;     /* malloc'd, at most NXP_MAX_EVIDENCE */
	size_t nevidence;
	size_t evidence_dropped;    /* found beyond the cap */
	uint32_t section_evidence[NXP_MAX_SECTIONS]; /* count per section */
	int code_in_data;           /* any section has evidence */

	/* Kind driver: pool call sites and the code integrity checks
	 * (nxpatch/driver.h); NULL for other kinds. */
	struct nxp_driver_facts *driver;

	/* Traced faults outside every image (run-time code in allocated memory),
	 * merged from an --evidence file: no section flag can fix them. */
	uint32_t heap_faults;
	char heap_fault[256];       /* the first, described */

	/* Facts derived on demand (nxp_input_open_flags with NXP_INPUT_LAZY).
	 * A section marked in unsearched was not searched for code by byte
	 * pattern: its count above is a lower bound. checksum_unread: the
	 * checksum_computed above was not computed. The judge never decides on
	 * either: it marks what it needs in *demand, and nxp_input_plan()
	 * derives it and judges again. All zero after nxp_analyze(). */
	uint8_t unsearched[NXP_MAX_SECTIONS];
	int checksum_unread;
	nxp_demand *demand;

	/* Warnings (static strings or malloc'd in warnings_owned). */
	char **warnings;
	size_t nwarnings;
} nxp_facts;

/* Derive the facts of img. f must be freed with nxp_facts_free. */
int nxp_analyze(nxp_facts *f, const nxp_image *img, const char *path, nxp_error *err);
void nxp_facts_free(nxp_facts *f);

#ifdef __cplusplus
}
#endif
#endif
