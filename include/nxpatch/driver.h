/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: kernel-driver facts, the static counterpart of Driver Verifier's
 * code integrity checks (bug check 0xC4, Arg1 0x2000-0x2005).
 *
 * For an image of kind driver, nxp_analyze() sweeps the executable sections
 * with Capstone and finds every call to an ntoskrnl API that can hand out
 * executable memory: through `call [rip+iat]` / `call [abs32]`, and through a
 * register loaded from the IAT earlier in the block (`mov rsi, [iat]` ...
 * `call rsi`). The argument that decides (pool type, flags, protection, MDL
 * priority) is tracked back from the call within its basic block. The image
 * checks (W+X sections, SectionAlignment, the IAT in an executable section,
 * a Dynamic Value Relocation Table) are facts here too. docs/drivers.md
 * explains each. */
#ifndef NXPATCH_DRIVER_H
#define NXPATCH_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NXP_MAX_DRV_SITES 1024      /* call sites kept per image */
#define NXP_MAX_DRV_REFS 256        /* IAT references that are not calls, kept */

/* Driver Verifier's code integrity codes (bug check 0xC4 Arg1). */
#define NXP_CI_EXEC_POOL 0x2000     /* executable pool type requested */
#define NXP_CI_EXEC_PROTECT 0x2001  /* PAGE_EXECUTE* protection requested */
#define NXP_CI_MDL_EXEC 0x2002      /* MDL mapped without MdlMappingNoExecute */
#define NXP_CI_WX_SECTION 0x2003    /* a section both writable and executable */
#define NXP_CI_ALIGNMENT 0x2004     /* SectionAlignment below 0x1000 */
#define NXP_CI_IAT_EXEC 0x2005      /* the IAT in an executable section */
#define NXP_CI_NOT_FIXABLE 0        /* an API that always maps executable memory */

#define NXP_POOL_NX_ALLOCATION 0x200u
#define NXP_POOL_COLD_ALLOCATION 0x100u
#define NXP_POOL_FLAG_NON_PAGED_EXECUTE 0x80u
#define NXP_MDL_MAPPING_NO_EXECUTE 0x40000000u

/* What the tracked argument of an API means. */
typedef enum nxp_drv_arg {
	NXP_ARG_NONE = 0,           /* no argument decides: always executable */
	NXP_ARG_POOL_TYPE = 1,      /* POOL_TYPE: executable when non-paged without 0x200 */
	NXP_ARG_LOOKASIDE_FLAGS = 2,/* ExInitializeNPagedLookasideList Flags: needs 0x200 */
	NXP_ARG_POOL_FLAGS = 3,     /* POOL_FLAGS (ExAllocatePool2/3): 0x80 is executable */
	NXP_ARG_PROTECT = 4,        /* page protection: PAGE_EXECUTE* (0x10-0x80) */
	NXP_ARG_MDL_PRIORITY = 5    /* MM_PAGE_PRIORITY: needs MdlMappingNoExecute */
} nxp_drv_arg;

typedef struct nxp_drv_api {
	const char *name;           /* ntoskrnl export */
	int arg;                    /* index of the deciding argument, -1 none */
	nxp_drv_arg kind;
	unsigned code;              /* NXP_CI_* raised when the argument is executable */
	const char *fix;            /* for NXP_CI_NOT_FIXABLE: what to use instead */
} nxp_drv_api;

extern const nxp_drv_api nxp_drv_apis[];
extern const size_t nxp_drv_napis;

/* How the call reaches the import. */
typedef enum nxp_call_shape {
	NXP_CALL_IAT_RIP = 0,       /* FF 15 disp32: call [rip+iat] (x64) */
	NXP_CALL_IAT_ABS = 1,       /* FF 15 abs32: call [iat] (x86, base-relocated) */
	NXP_CALL_REG = 2,           /* call reg, reg loaded from the IAT in the block */
	NXP_CALL_JMP_IAT = 3,       /* FF 25: jmp [iat], a tail call */
	NXP_CALL_THUNK = 4,         /* E8 rel32 to an import thunk (a block that is jmp [iat]) */
	NXP_CALL_WRAPPER = 5        /* E8/E9 rel32 to nxpatch's NX wrapper for the import */
} nxp_call_shape;

/* How the argument was resolved. */
typedef enum nxp_arg_how {
	NXP_HOW_IMM32 = 0,          /* mov r32, imm32 / mov [rsp+n], imm32 (room for 0x200) */
	NXP_HOW_PUSH_IMM32 = 1,     /* push imm32 (68) */
	NXP_HOW_PUSH_IMM8 = 2,      /* push imm8 (6A), sign-extended */
	NXP_HOW_XOR = 3,            /* xor r, r / sub r, r: zero */
	NXP_HOW_IMM_SHORT = 4,      /* an immediate without room (imm8 forms) */
	NXP_HOW_MEMORY = 5,         /* loaded from memory: unknown */
	NXP_HOW_COMPUTED = 6,       /* computed in the block (and, add, sbb, ...): unknown */
	NXP_HOW_NOT_IN_BLOCK = 7,   /* not set between the block start and the call: unknown */
	NXP_HOW_STACK = 8,          /* the stack moved in a way not followed: unknown */
	NXP_HOW_NONE = 9            /* the API has no deciding argument */
} nxp_arg_how;

typedef enum nxp_site_verdict {
	NXP_SITE_OK = 0,            /* resolved, not executable */
	NXP_SITE_EXEC = 1,          /* resolved and executable: a finding */
	NXP_SITE_UNKNOWN = 2,       /* not resolved */
	NXP_SITE_OPTIN = 3,         /* read from a global the driver sets to NX (POOL_NX_OPTIN) */
	NXP_SITE_NOT_FIXABLE = 4,   /* an API that cannot be made NX by patching */
	NXP_SITE_WRAPPED = 5        /* reaches the import through nxpatch's NX wrapper, which
	                             * asks for the NX form of every non-paged type */
} nxp_site_verdict;

typedef struct nxp_drv_site {
	uint32_t rva;               /* the call instruction */
	uint8_t call_len;
	nxp_call_shape call;
	uint32_t iat_rva;           /* the IAT slot */
	uint32_t load_rva;          /* NXP_CALL_REG: the mov reg, [iat] (or the lea of the
	                             * wrapper); NXP_CALL_THUNK: the thunk */
	uint8_t load_len;
	uint16_t api;               /* index into nxp_drv_apis */
	nxp_arg_how how;
	int known;                  /* value is known */
	uint64_t value;
	uint32_t setter_rva;        /* the instruction that set the value (known or not) */
	uint8_t setter_len;
	uint32_t imm_rva;           /* where the immediate is (HOW_IMM32 / PUSH_IMM32 / or) */
	uint8_t imm_size;
	uint32_t or_bits;           /* `or` applied after the setter */
	uint32_t global_rva;        /* HOW_MEMORY: the global read, 0 when not a global */
	uint32_t optin_store_rva;   /* NXP_SITE_OPTIN: the store of 0x200 to the global */
	nxp_site_verdict verdict;
	unsigned code;              /* NXP_CI_* for the API */
} nxp_drv_site;

/* A reference to an interesting IAT slot that is not a recognised call or
 * register load (lea, push [iat], a load whose calls are out of the block). */
typedef struct nxp_drv_ref {
	uint32_t rva;
	uint32_t iat_rva;
	uint16_t api;
	const char *what;           /* static text */
} nxp_drv_ref;

typedef struct nxp_driver_facts {
	nxp_drv_site *sites;        /* malloc'd, at most NXP_MAX_DRV_SITES */
	size_t nsites;
	size_t sites_dropped;
	nxp_drv_ref refs[NXP_MAX_DRV_REFS];
	size_t nrefs;
	size_t refs_dropped;

	int wx_sections[8];         /* indexes of W+X sections (first 8) */
	unsigned nwx;
	int misaligned;             /* SectionAlignment < 0x1000 */
	int iat_section;            /* section holding the IAT, -1 unknown */
	int iat_exec;               /* that section is executable */
	int has_dvrt;               /* the load config names a Dynamic Value Relocation Table */
	uint32_t optin_global;      /* POOL_NX_OPTIN global (0: none seen) */
	uint32_t optin_store_rva;
	int disasm_failed;          /* Capstone could not be opened: sites unknown */
	int wrap_section;           /* the section of NX wrappers nxpatch appended, -1 none */
	unsigned nwraps;            /* wrappers recognised in it */
} nxp_driver_facts;

/* The NX wrapper (pool: nx, docs/drivers.md "The wrapper route"): for an API
 * whose deciding argument is a POOL_TYPE, `if (!(type & 1)) type |= 0x200`
 * (non-paged types only: paged types are already NX), for
 * ExInitializeNPagedLookasideList's Flags `flags |= 0x200`, then a jump to
 * the import through its IAT slot. x64: `test r8, 1; jnz; or r32, 0x200;
 * jmp [rip+iat]`. x86 (stdcall, arguments on the stack): `test byte
 * [esp+n], 1; jnz; or dword [esp+n], 0x200; call $+5; pop eax; jmp
 * [eax+iat-here]`, position-independent, so the wrapper needs no base
 * relocation (eax is not an argument of a stdcall API). Each wrapper takes
 * NXP_NXWRAP_SIZE bytes (int3 padding) in a section named
 * NXP_NXWRAP_SECTION (src/analysis/driver_wrap.c writes and recognises
 * them). */
#define NXP_NXWRAP_SIZE 32u
#define NXP_NXWRAP_SECTION ".nxwrap"
#define NXP_NXWRAP_CHARACTERISTICS 0x68000020u /* code, not paged, execute, read */


/* "NonPagedPool", "NonPagedPoolNxCacheAligned", "PagedPool | POOL_COLD_ALLOCATION",
 * or "0x..." into buf. */
const char *nxp_pool_type_name(uint64_t v, char *buf, size_t len);
/* "imm32", "push imm32", "xor", ... and the verdict's name. */
const char *nxp_arg_how_name(nxp_arg_how h);
const char *nxp_site_verdict_name(nxp_site_verdict v);
const char *nxp_call_shape_name(nxp_call_shape s);
/* One line describing the value of s: "NonPagedPool (0x0)", "unknown: loaded from memory". */
void nxp_drv_site_value(const nxp_drv_site *s, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
