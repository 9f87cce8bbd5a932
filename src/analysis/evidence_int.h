/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: shared state of the evidence collectors (evidence*.c).
 *
 * Every collector reports through nxpi_ev_add(), which keeps only targets in
 * a section WITHOUT IMAGE_SCN_MEM_EXECUTE and drops repeats of one
 * (kind, rva). Every table read from the file is clamped to a named limit
 * and to the file data of one section; disassembly is a linear sweep. */
#ifndef NXP_ANALYSIS_EVIDENCE_INT_H
#define NXP_ANALYSIS_EVIDENCE_INT_H

#include <capstone/capstone.h>
#include <stddef.h>
#include <stdint.h>

#include "nxpatch/analysis.h"

/* Named limits on tables read from the file. */
#define NXP_EV_MAX_EXPORTS 65536u       /* ordinals are 16-bit */
#define NXP_EV_MAX_TLS_CALLBACKS 1024u  /* NUL-terminated array, read at most this */
#define NXP_EV_MAX_TABLE (1u << 22)     /* SafeSEH / CFG entries read */
#define NXP_EV_SEEN_SLOTS 16384u        /* dedup set of (kind, rva), power of two */
#define NXP_EV_CODE_WINDOW 96u          /* bytes decoded by the looks-like-code check */
#define NXP_EV_PREFILTER_CHECKS 64u     /* looks-like-code checks before a sweep */
#define NXP_EV_CODE_INSNS 24u           /* instructions decoded by it, at most */
#define NXP_EV_MAX_EXPORT_NAME 4096u  /* bytes of an exported name read */
#define NXP_EV_MAX_RELOCS (1u << 22)    /* base relocation entries indexed */

typedef struct nxpi_ev_ctx {
	nxp_facts *f;
	const nxp_image *img;
	int arch;                   /* NXP_EV_ARCH_* */
	csh cs;                     /* detail off, for the sweep and checks; 0 if none */
	cs_insn *insn;
	csh csd;                    /* detail on, for confirming shapes (lazy) */
	cs_insn *insnd;
	uint64_t *seen;             /* open addressing, key+1, 0 empty */
	size_t nseen;
	uint64_t *relocs;           /* sorted, rva << 4 | width (evidence_relocs.c) */
	size_t nrelocs;
	int relocs_loaded;
	int rc;                     /* a failure inside a check, reported at the end */
} nxpi_ev_ctx;

/* An immediate or displacement of a decoded candidate: where a base
 * relocation is expected. */
typedef struct nxpi_ev_field {
	uint64_t rva;
	unsigned size;
} nxpi_ev_field;

enum { NXP_EV_ARCH_NONE = 0, NXP_EV_ARCH_X86 = 1, NXP_EV_ARCH_X64 = 2, NXP_EV_ARCH_ARM64 = 3 };

/* Report a target: kept when rva lies in a non-executable section. */
int nxpi_ev_add(nxpi_ev_ctx *c, nxp_evidence_kind kind, uint64_t rva);

/* Index of the section holding rva, when it lacks / has EXECUTE; else -1. */
int nxpi_ev_nonexec_section(const nxp_image *img, uint64_t rva);
int nxpi_ev_exec_section(const nxp_image *img, uint64_t rva);

/* The file-backed bytes of section s: returns 1 with *off and *len set
 * (len may be 0). */
int nxpi_ev_section_bytes(const nxp_image *img, int s, uint32_t *off, uint32_t *len);

/* File offset and number of bytes backed by file data from rva to the end
 * of its section's data (0 when rva is not file-backed). */
uint32_t nxpi_ev_bytes_at(const nxp_image *img, uint64_t rva, uint32_t *off);

/* 1 when the bytes at rva decode as the start of a function: in a
 * non-discardable section, not fill or padding, a straight run of
 * instructions without one compilers would not emit in user mode, ending in
 * a return, jump or call within NXP_EV_CODE_INSNS / NXP_EV_CODE_WINDOW, and
 * no base relocation in the run outside an instruction's operands. Used
 * for targets that may be data (exports) or come from a linear sweep. */
int nxpi_ev_looks_like_code(nxpi_ev_ctx *c, uint64_t rva, unsigned flags);
#define NXP_EV_LLC_BRANCH 1u /* rva is a branch target from executable code */

/* The capstone handle with detail on (opened on first use); 0 on failure. */
int nxpi_ev_detail_handle(nxpi_ev_ctx *c);

/* Base relocations (evidence_relocs.c), read on first use. */
/* 1 when the image has base relocations (so absolute addresses in it are
 * relocated). */
int nxpi_ev_relocatable(nxpi_ev_ctx *c);
/* 1 when a relocation of width bytes starts at rva. */
int nxpi_ev_reloc_at(nxpi_ev_ctx *c, uint64_t rva, unsigned width);
/* 1 when every relocation touching [lo, hi) is exactly one of the fields. */
int nxpi_ev_relocs_only(nxpi_ev_ctx *c, uint64_t lo, uint64_t hi, const nxpi_ev_field *fields,
                       unsigned nfields);
/* 1 when every relocation touching [lo, hi), a run of instructions ending at
 * lo + ends[0], lo + ends[1], ..., lies inside one instruction, past its
 * first byte (where an operand can be; detail-free decoding). */
int nxpi_ev_relocs_within_insns(nxpi_ev_ctx *c, uint64_t lo, uint64_t hi, const uint32_t *ends,
                               unsigned nends);
/* 1 when an exported name names data: C++ vtables and RTTI (MSVC and
 * Itanium mangling), MSVC string literals and mangled variables. */
int nxpi_ev_data_name(const char *s, size_t len);

/* Direct call/jmp/jcc targets from a linear sweep of executable sections
 * (evidence_disasm.c). */
int nxpi_ev_sweep(nxpi_ev_ctx *c);

/* Calls and jumps through registers and stack slots that hold the address
 * of a non-executable location, within a basic block (evidence_flow.c). */
int nxpi_ev_flows(nxpi_ev_ctx *c);

/* Known thunk shapes in non-executable sections (evidence_shapes.c). */
int nxpi_ev_shapes(nxpi_ev_ctx *c);

#endif
