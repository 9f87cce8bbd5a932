/* SPDX-License-Identifier: Apache-2.0 */
/* The driver call-site resolver on hand-assembled sequences: every shape it
 * resolves, and the shapes it must refuse to resolve (an unknown is never
 * reported as a value). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/driver_int.h"
#include "analysis/x86.h"
#include "nxpatch/driver.h"

#define BASE 0x1000u
#define SLOT_TAG 0x3000u   /* ExAllocatePoolWithTag */
#define SLOT_ZW 0x3008u    /* ZwAllocateVirtualMemory */
#define SLOT_LA 0x3010u    /* ExInitializeNPagedLookasideList */
#define GLOBAL 0x5004u
#define IB64 0x140000000ull
#define IB32 0x10000ull

typedef struct code {
	uint8_t b[512];
	size_t n;
} code;

static void hex(code *c, const char *h)
{
	for (; h[0] && h[1]; h += 2) {
		if (h[0] == ' ') {
			h--;
			continue;
		}
		char t[3] = {h[0], h[1], 0};
		c->b[c->n++] = (uint8_t)strtoul(t, NULL, 16);
	}
}

static void le32(code *c, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		c->b[c->n++] = (uint8_t)(v >> (8 * i));
}

static uint32_t here(const code *c)
{
	return BASE + (uint32_t)c->n;
}

/* x64 FF 15 / FF 25 / 8B 35 (mov esi) / 8B 0D (mov ecx) with a RIP-relative
 * displacement to target; `prefix` is the opcode bytes before the disp32. */
static void riprel(code *c, const char *prefix, uint32_t target, unsigned tail)
{
	hex(c, prefix);
	le32(c, target - (here(c) + 4 + tail));
}

static void abs32(code *c, const char *prefix, uint32_t rva)
{
	hex(c, prefix);
	le32(c, (uint32_t)(IB32 + rva));
}

static nxp_driver_facts *scan(const code *c, int is64)
{
	static nxpi_drv_slot slots[3];
	slots[0] = (nxpi_drv_slot){SLOT_TAG, (uint16_t)nxpi_drv_api_index("ExAllocatePoolWithTag", 21)};
	slots[1] = (nxpi_drv_slot){SLOT_ZW, (uint16_t)nxpi_drv_api_index("ZwAllocateVirtualMemory", 23)};
	slots[2] = (nxpi_drv_slot){SLOT_LA,
	                          (uint16_t)nxpi_drv_api_index("ExInitializeNPagedLookasideList", 31)};
	static nxpi_drv_code cc;
	cc = (nxpi_drv_code){is64, is64 ? IB64 : IB32, slots, 3, NULL, 0};
	nxp_driver_facts *d = calloc(1, sizeof(*d));
	cr_assert(d);
	nxpi_drv_scan s = {.d = d, .code = &cc};
	cr_assert_eq(nxpi_drv_scan_code(&s, c->b, c->n, BASE), NXP_OK);
	nxpi_drv_scan_finish(&s);
	return d;
}

static void drop(nxp_driver_facts *d)
{
	free(d->sites);
	free(d);
}

static const nxp_drv_site *only_site(const nxp_driver_facts *d)
{
	cr_assert_eq(d->nsites, 1, "want one site, got %zu", d->nsites);
	return &d->sites[0];
}

/* mov edx, 64; mov r8d, 'Nxps' */
#define X64_SIZE_TAG "ba40000000 41b84e787073"

Test(driver, x64_mov_imm32_call_rip_iat)
{
	code c = {0};
	hex(&c, "4883ec28 b900000000" X64_SIZE_TAG);
	uint32_t call = here(&c);
	riprel(&c, "ff15", SLOT_TAG, 0);
	hex(&c, "4883c428 c3");
	nxp_driver_facts *d = scan(&c, 1);
	const nxp_drv_site *s = only_site(d);
	cr_expect_eq(s->rva, call);
	cr_expect_eq(s->call_len, 6);
	cr_expect_eq(s->call, NXP_CALL_IAT_RIP);
	cr_expect_eq(s->iat_rva, SLOT_TAG);
	cr_expect_eq(s->how, NXP_HOW_IMM32);
	cr_expect(s->known);
	cr_expect_eq(s->value, 0);
	cr_expect_eq(s->verdict, NXP_SITE_EXEC);
	cr_expect_eq(s->code, NXP_CI_EXEC_POOL);
	cr_expect_eq(s->setter_rva, BASE + 4);
	cr_expect_eq(s->imm_rva, BASE + 5, "the immediate follows the B9 opcode");
	cr_expect_eq(s->imm_size, 4);
	drop(d);
}

Test(driver, x64_values_and_verdicts)
{
	static const struct {
		const char *set;
		uint64_t value;
		nxp_site_verdict v;
	} cases[] = {
		{"b901000000", 1, NXP_SITE_OK},        /* PagedPool */
		{"b904000000", 4, NXP_SITE_EXEC},      /* NonPagedPoolCacheAligned */
		{"b900020000", 0x200, NXP_SITE_OK},    /* NonPagedPoolNx */
		{"b920000000", 0x20, NXP_SITE_EXEC},   /* NonPagedPoolSession */
		{"b921000000", 0x21, NXP_SITE_OK},     /* PagedPoolSession */
		{"c7c100000000", 0, NXP_SITE_EXEC},    /* mov ecx, imm32 (C7 /0) */
		{"48c7c104020000", 0x204, NXP_SITE_OK} /* mov rcx, imm32 sign-extended */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		code c = {0};
		hex(&c, cases[i].set);
		riprel(&c, "ff15", SLOT_TAG, 0);
		hex(&c, "c3");
		nxp_driver_facts *d = scan(&c, 1);
		const nxp_drv_site *s = only_site(d);
		cr_expect(s->known, "case %zu", i);
		cr_expect_eq(s->value, cases[i].value, "case %zu: 0x%llx", i, (unsigned long long)s->value);
		cr_expect_eq(s->verdict, cases[i].v, "case %zu", i);
		cr_expect_eq(s->how, NXP_HOW_IMM32, "case %zu", i);
		drop(d);
	}
}

Test(driver, x64_xor_is_zero_without_room)
{
	code c = {0};
	hex(&c, "31c9" X64_SIZE_TAG);
	riprel(&c, "ff15", SLOT_TAG, 0);
	hex(&c, "c3");
	nxp_driver_facts *d = scan(&c, 1);
	const nxp_drv_site *s = only_site(d);
	cr_expect_eq(s->how, NXP_HOW_XOR);
	cr_expect(s->known);
	cr_expect_eq(s->value, 0);
	cr_expect_eq(s->verdict, NXP_SITE_EXEC);
	cr_expect_eq(s->imm_size, 0, "xor has no immediate to rewrite");
	drop(d);
}

Test(driver, x64_register_moves_and_or)
{
	/* mov eax, 4; mov ecx, eax; or ecx, 0x200 (81 C9 imm32) */
	code c = {0};
	hex(&c, "b804000000 89c1 81c900020000");
	riprel(&c, "ff15", SLOT_TAG, 0);
	hex(&c, "c3");
	nxp_driver_facts *d = scan(&c, 1);
	const nxp_drv_site *s = only_site(d);
	cr_expect(s->known);
	cr_expect_eq(s->value, 0x204);
	cr_expect_eq(s->verdict, NXP_SITE_OK);
	cr_expect_eq(s->setter_rva, BASE, "the value comes from the mov eax");
	drop(d);
}

Test(driver, x64_call_register_loaded_from_iat)
{
	code c = {0};
	hex(&c, "56 4883ec20");
	uint32_t load = here(&c);
	riprel(&c, "488b35", SLOT_TAG, 0); /* mov rsi, [rip+iat] */
	hex(&c, "b900000000" X64_SIZE_TAG);
	uint32_t call = here(&c);
	hex(&c, "ffd6");                   /* call rsi */
	hex(&c, "b904000000");
	uint32_t call2 = here(&c);
	hex(&c, "ffd6 4883c420 5e c3");   /* rsi survives the first call */
	nxp_driver_facts *d = scan(&c, 1);
	cr_assert_eq(d->nsites, 2);
	cr_expect_eq(d->sites[0].rva, call);
	cr_expect_eq(d->sites[0].call, NXP_CALL_REG);
	cr_expect_eq(d->sites[0].load_rva, load);
	cr_expect_eq(d->sites[0].load_len, 7);
	cr_expect_eq(d->sites[0].value, 0);
	cr_expect_eq(d->sites[1].rva, call2);
	cr_expect_eq(d->sites[1].value, 4);
	cr_expect_eq(d->sites[1].load_rva, load);
	cr_expect_eq(d->nrefs, 0);
	drop(d);
}

Test(driver, x64_pool_nx_optin_global)
{
	code c = {0};
	riprel(&c, "c705", GLOBAL, 4); /* mov dword [rip+g], 0x200 */
	le32(&c, 0x200);
	hex(&c, "c3");
	uint32_t load = here(&c);
	riprel(&c, "8b0d", GLOBAL, 0); /* mov ecx, [rip+g] */
	riprel(&c, "ff15", SLOT_TAG, 0);
	hex(&c, "c3");
	nxp_driver_facts *d = scan(&c, 1);
	const nxp_drv_site *s = only_site(d);
	cr_expect_eq(s->how, NXP_HOW_MEMORY);
	cr_expect(!s->known, "a value loaded from memory is never a value");
	cr_expect_eq(s->global_rva, GLOBAL);
	cr_expect_eq(s->setter_rva, load);
	cr_expect_eq(s->verdict, NXP_SITE_OPTIN);
	cr_expect_eq(s->optin_store_rva, BASE);
	cr_expect_eq(d->optin_global, GLOBAL);
	drop(d);
}

Test(driver, x64_global_without_nx_store_is_unknown)
{
	code c = {0};
	riprel(&c, "c705", GLOBAL, 4); /* mov dword [rip+g], 1: not NX */
	le32(&c, 1);
	hex(&c, "c3");
	riprel(&c, "8b0d", GLOBAL, 0);
	riprel(&c, "ff15", SLOT_TAG, 0);
	hex(&c, "c3");
	nxp_driver_facts *d = scan(&c, 1);
	cr_expect_eq(only_site(d)->verdict, NXP_SITE_UNKNOWN);
	cr_expect_eq(d->optin_global, 0);
	drop(d);
}

/* The shapes that must stay unknown. */
Test(driver, x64_refused_shapes)
{
	static const struct {
		const char *before;
		nxp_arg_how how;
	} cases[] = {
		{"b900000000 e800100000", NXP_HOW_NOT_IN_BLOCK}, /* ecx clobbered by a call */
		{"83e101", NXP_HOW_COMPUTED},                    /* and ecx, 1 */
		{"b100", NXP_HOW_COMPUTED},                      /* mov cl, 0: partial */
		{"0f44c8", NXP_HOW_COMPUTED},                    /* cmove ecx, eax */
		{"8b0b", NXP_HOW_MEMORY},                        /* mov ecx, [rbx] */
		{"", NXP_HOW_NOT_IN_BLOCK},                      /* never set */
		{"83c901", NXP_HOW_NOT_IN_BLOCK},                /* or ecx, 1 on an unset ecx */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		code c = {0};
		hex(&c, "c3"); /* block start after a ret */
		hex(&c, cases[i].before);
		riprel(&c, "ff15", SLOT_TAG, 0);
		hex(&c, "c3");
		nxp_driver_facts *d = scan(&c, 1);
		const nxp_drv_site *s = only_site(d);
		cr_expect_eq(s->how, cases[i].how, "case %zu: how %d", i, s->how);
		cr_expect(!s->known, "case %zu", i);
		cr_expect_eq(s->verdict, NXP_SITE_UNKNOWN, "case %zu", i);
		drop(d);
	}
}

Test(driver, x64_branch_target_starts_a_block)
{
	/* mov ecx, 0; L: call [iat]; ...; jmp L: ecx at L is not known. */
	code c = {0};
	hex(&c, "b900000000");
	uint32_t l = here(&c);
	riprel(&c, "ff15", SLOT_TAG, 0);
	hex(&c, "e9");
	le32(&c, l - (here(&c) + 4));
	nxp_driver_facts *d = scan(&c, 1);
	cr_expect_eq(only_site(d)->how, NXP_HOW_NOT_IN_BLOCK);
	drop(d);
	/* A conditional branch before the call does not end the block. */
	code k = {0};
	hex(&k, "b900000000 85c0 7402");
	riprel(&k, "ff15", SLOT_TAG, 0);
	hex(&k, "c3 c3");
	d = scan(&k, 1);
	cr_assert_eq(d->nsites, 1);
	cr_expect_eq(d->sites[0].how, NXP_HOW_IMM32);
	drop(d);
}

Test(driver, x64_stack_argument)
{
	/* ZwAllocateVirtualMemory(..., Protect = [rsp+0x28]) */
	code c = {0};
	hex(&c, "c744242840000000 c744242000100000");
	riprel(&c, "ff15", SLOT_ZW, 0);
	hex(&c, "c3");
	nxp_driver_facts *d = scan(&c, 1);
	const nxp_drv_site *s = only_site(d);
	cr_expect_eq(s->value, 0x40);
	cr_expect_eq(s->verdict, NXP_SITE_EXEC);
	cr_expect_eq(s->code, NXP_CI_EXEC_PROTECT);
	cr_expect_eq(s->imm_rva, BASE + 4);
	drop(d);
	/* MSVC's `and dword [rsp+0x28], 0` zeroes a slot; a push moves them. */
	code k = {0};
	hex(&k, "8364242800");
	riprel(&k, "ff15", SLOT_ZW, 0);
	hex(&k, "c3 c744242840000000 50");
	riprel(&k, "ff15", SLOT_ZW, 0);
	hex(&k, "c3");
	d = scan(&k, 1);
	cr_assert_eq(d->nsites, 2);
	cr_expect(d->sites[0].known);
	cr_expect_eq(d->sites[0].value, 0);
	cr_expect_eq(d->sites[0].verdict, NXP_SITE_OK);
	cr_expect_eq(d->sites[1].how, NXP_HOW_STACK);
	cr_expect(!d->sites[1].known);
	drop(d);
}

Test(driver, x64_references_that_are_not_calls)
{
	code c = {0};
	riprel(&c, "488d05", SLOT_TAG, 0); /* lea rax, [rip+iat] */
	hex(&c, "c3");
	riprel(&c, "488b35", SLOT_TAG, 0); /* mov rsi, [rip+iat], no call through it */
	hex(&c, "c3");
	nxp_driver_facts *d = scan(&c, 1);
	cr_expect_eq(d->nsites, 0);
	cr_assert_eq(d->nrefs, 2);
	cr_expect_eq(d->refs[0].rva, BASE);
	cr_expect_eq(d->refs[1].rva, BASE + 8);
	drop(d);
}

Test(driver, x64_import_thunk)
{
	/* call thunk; ...; thunk: jmp [rip+iat] */
	code c = {0};
	hex(&c, "b904000000");
	uint32_t call = here(&c);
	hex(&c, "e8");
	uint32_t fix = (uint32_t)c.n;
	le32(&c, 0);
	hex(&c, "c3 90 90");
	uint32_t thunk = here(&c);
	riprel(&c, "ff25", SLOT_TAG, 0);
	uint32_t rel = thunk - (call + 5);
	memcpy(c.b + fix, &rel, 4);
	nxp_driver_facts *d = scan(&c, 1);
	const nxp_drv_site *s = only_site(d);
	cr_expect_eq(s->call, NXP_CALL_THUNK);
	cr_expect_eq(s->rva, call);
	cr_expect_eq(s->load_rva, thunk);
	cr_expect_eq(s->value, 4);
	drop(d);
}

/* push 'Nxps'; push 64 */
#define X86_SIZE_TAG "684e787073 6a40"

Test(driver, x86_stdcall_pushes)
{
	static const struct {
		const char *push;
		nxp_arg_how how;
		uint64_t value;
		unsigned imm_size;
	} cases[] = {
		{"6800000000", NXP_HOW_PUSH_IMM32, 0, 4},
		{"6a00", NXP_HOW_PUSH_IMM8, 0, 0},
		{"6a01", NXP_HOW_PUSH_IMM8, 1, 0},
		{"6800020000", NXP_HOW_PUSH_IMM32, 0x200, 4},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		code c = {0};
		hex(&c, X86_SIZE_TAG);
		hex(&c, cases[i].push);
		uint32_t call = here(&c);
		abs32(&c, "ff15", SLOT_TAG);
		hex(&c, "c3");
		nxp_driver_facts *d = scan(&c, 0);
		const nxp_drv_site *s = only_site(d);
		cr_expect_eq(s->rva, call, "case %zu", i);
		cr_expect_eq(s->call, NXP_CALL_IAT_ABS, "case %zu", i);
		cr_expect_eq(s->how, cases[i].how, "case %zu", i);
		cr_expect_eq(s->value, cases[i].value, "case %zu", i);
		cr_expect_eq(s->imm_size, cases[i].imm_size, "case %zu", i);
		if (cases[i].imm_size)
			cr_expect_eq(s->imm_rva, BASE + 7 + 1, "case %zu", i);
		drop(d);
	}
}

Test(driver, x86_push_register_and_call_register)
{
	code c = {0};
	hex(&c, "56");
	uint32_t load = here(&c);
	abs32(&c, "8b35", SLOT_TAG);       /* mov esi, [iat] */
	hex(&c, "b804000000" X86_SIZE_TAG "50"); /* mov eax, 4; ...; push eax */
	uint32_t call = here(&c);
	hex(&c, "ffd6 5e c3");
	nxp_driver_facts *d = scan(&c, 0);
	const nxp_drv_site *s = only_site(d);
	cr_expect_eq(s->rva, call);
	cr_expect_eq(s->call, NXP_CALL_REG);
	cr_expect_eq(s->load_rva, load);
	cr_expect_eq(s->how, NXP_HOW_IMM32);
	cr_expect_eq(s->value, 4);
	cr_expect_eq(s->verdict, NXP_SITE_EXEC);
	drop(d);
}

Test(driver, x86_refused_shapes)
{
	static const struct {
		const char *code;
		nxp_arg_how how;
	} cases[] = {
		{X86_SIZE_TAG "ff35" "04500100", NXP_HOW_MEMORY},  /* push dword [0x15004] */
		{X86_SIZE_TAG "6a00 83ec04", NXP_HOW_STACK},       /* sub esp between */
		{"6a00 e800000000", NXP_HOW_NOT_IN_BLOCK},         /* pushed before another call */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		code c = {0};
		hex(&c, "c3");
		hex(&c, cases[i].code);
		abs32(&c, "ff15", SLOT_TAG);
		hex(&c, "c3");
		nxp_driver_facts *d = scan(&c, 0);
		const nxp_drv_site *s = only_site(d);
		cr_expect_eq(s->how, cases[i].how, "case %zu: how %d", i, s->how);
		cr_expect(!s->known, "case %zu", i);
		drop(d);
	}
}

Test(driver, x86_arguments_stored_to_the_stack)
{
	/* gcc: sub esp, 28; mov [esp+12], 0 (flags); ...; call [iat] */
	code c = {0};
	hex(&c, "83ec1c c744240c00000000 c7042400000000");
	abs32(&c, "ff15", SLOT_LA);
	hex(&c, "c3");
	nxp_driver_facts *d = scan(&c, 0);
	const nxp_drv_site *s = only_site(d);
	cr_expect(s->known);
	cr_expect_eq(s->value, 0);
	cr_expect_eq(s->how, NXP_HOW_IMM32);
	cr_expect_eq(s->verdict, NXP_SITE_EXEC, "lookaside flags without POOL_NX_ALLOCATION");
	cr_expect_eq(s->imm_rva, BASE + 3 + 4);
	drop(d);
}

Test(driver, pool_type_names)
{
	char b[96];
	cr_expect_str_eq(nxp_pool_type_name(0, b, sizeof(b)), "NonPagedPool");
	cr_expect_str_eq(nxp_pool_type_name(0x200, b, sizeof(b)), "NonPagedPoolNx");
	cr_expect_str_eq(nxp_pool_type_name(0x204, b, sizeof(b)), "NonPagedPoolNxCacheAligned");
	cr_expect_str_eq(nxp_pool_type_name(0x220, b, sizeof(b)), "NonPagedPoolSessionNx");
	cr_expect_str_eq(nxp_pool_type_name(1, b, sizeof(b)), "PagedPool");
	cr_expect_str_eq(nxp_pool_type_name(0x101, b, sizeof(b)), "PagedPool | POOL_COLD_ALLOCATION");
	cr_expect_str_eq(nxp_pool_type_name(0x206, b, sizeof(b)),
	                 "NonPagedPoolCacheAlignedMustS | POOL_NX_ALLOCATION");
	cr_expect_str_eq(nxp_pool_type_name(0x1234, b, sizeof(b)), "0x1234");
}

/* The one register-family map of the driver sweep and the evidence flow
 * analysis: every width of a register, the high bytes included, is its
 * family; anything else is -1. */
Test(driver, register_families)
{
	static const struct { x86_reg r; int family; } cases[] = {
		{X86_REG_RAX, 0}, {X86_REG_EAX, 0}, {X86_REG_AX, 0}, {X86_REG_AL, 0}, {X86_REG_AH, 0},
		{X86_REG_CH, 1}, {X86_REG_CL, 1}, {X86_REG_ECX, 1},
		{X86_REG_DH, 2}, {X86_REG_DX, 2}, {X86_REG_RDX, 2},
		{X86_REG_BH, 3}, {X86_REG_BL, 3}, {X86_REG_RBX, 3},
		{X86_REG_SPL, 4}, {X86_REG_ESP, 4}, {X86_REG_BPL, 5}, {X86_REG_RBP, 5},
		{X86_REG_SIL, 6}, {X86_REG_RSI, 6}, {X86_REG_DIL, 7}, {X86_REG_EDI, 7},
		{X86_REG_R8B, 8}, {X86_REG_R8, 8}, {X86_REG_R12W, 12}, {X86_REG_R15D, 15},
		{X86_REG_R15B, 15},
		{X86_REG_RIP, -1}, {X86_REG_EIP, -1}, {X86_REG_CS, -1}, {X86_REG_XMM0, -1},
		{X86_REG_INVALID, -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(nxpi_x86_gpr(cases[i].r), cases[i].family, "register %d",
		             (int)cases[i].r);
}
