/* SPDX-License-Identifier: Apache-2.0 */
/* The precision and recall rules of the evidence collectors
 * (docs/evidence.md), each on hand-assembled bytes in a generated image:
 * every accept rule with its positive case, every reject rule with the
 * case it rejects and the near twin it still accepts. */
#include <criterion/criterion.h>
#include <string.h>

#include "nxpatch/analysis.h"
#include "support.h"

#define CAP (1u << 20)
static uint8_t buf[CAP];
static nxp_image img;
static nxp_facts facts;
static nxt_layout lay;

#define BASE32 0x400000u
#define BASE64 0x140000000ull

static size_t build(int plus, uint32_t section_size)
{
	nxt_pe_spec spec = {.pe32plus = plus, .nsections = 3, .section_size = section_size};
	size_t n = nxt_build_pe(buf, CAP, &spec, &lay);
	cr_assert(n > 0);
	return n;
}

/* The image in buf (layout lay): a section's data and RVA, a directory entry. */
#define sec(i) nxt_sec(buf, &lay, (i))
#define rva_of(i) nxt_sec_rva(&lay, (i))
#define set_dir(idx, rva, size) nxt_set_dir(buf, &lay, (idx), (rva), (size))

/* A base relocation directory at the end of section 2 (its last 0x100
 * bytes): one block per entry, HIGHLOW (3) or DIR64 (10). */
static void put_relocs(const uint32_t *rvas, unsigned n, unsigned type)
{
	uint32_t at = lay.va_stride - 0x100; /* inside section 2's file data */
	uint8_t *p = sec(2) + at;
	memset(p, 0, 0x100);
	for (unsigned k = 0; k < n; k++) {
		nxt_put32(p + 12 * k, rvas[k] & ~0xfffu);
		nxt_put32(p + 12 * k + 4, 12);
		nxt_put16(p + 12 * k + 8, (uint16_t)(type << 12 | (rvas[k] & 0xfff)));
		nxt_put16(p + 12 * k + 10, 0); /* padding */
	}
	set_dir(5, rva_of(2) + at, 12 * n);
}

static void analyze(size_t n)
{
	nxp_error err = {0};
	nxp_facts_free(&facts);
	cr_assert_eq(nxp_pe_parse(&img, buf, n, &err), NXP_OK, "parse: %s", err.msg);
	cr_assert_eq(nxp_analyze(&facts, &img, "t.exe", &err), NXP_OK, "analyze: %s", err.msg);
}

static int has(nxp_evidence_kind kind, uint32_t rva)
{
	for (size_t i = 0; i < facts.nevidence; i++)
		if (facts.evidence[i].kind == kind && facts.evidence[i].rva == rva)
			return 1;
	return 0;
}

static void fini(void)
{
	nxp_facts_free(&facts);
}

TestSuite(evidence_rules, .fini = fini);

static void put_call(uint8_t *at, uint32_t at_rva, uint8_t op, uint32_t target)
{
	at[0] = op;
	nxt_put32(at + 1, target - (at_rva + 5));
}

/* ---- precision: base relocations -------------------------------------- */

/* push imm32; ret spanning a table of relocated pointers (wine i386
 * dxgi.dll): relocations cover the imm32 and the dword holding the ret. */
Test(evidence_rules, push_ret_across_relocated_pointers_rejected)
{
	size_t n = build(0, 0x1000);
	uint8_t *d = sec(1);
	uint32_t r = rva_of(1);
	/* The table: 68 | imm32 | c3 ...: dwords at +0x1 and +0x5 relocated. */
	d[0x100] = 0x68, nxt_put32(d + 0x101, BASE32 + rva_of(0)), d[0x105] = 0xc3;
	uint32_t both[] = {r + 0x101, r + 0x105};
	put_relocs(both, 2, 3);
	analyze(n);
	cr_assert_not(facts.code_in_data, "a relocation on the ret byte: pointer data");
	/* Only the imm32 relocated: a real push/ret stub. */
	put_relocs(both, 1, 3);
	analyze(n);
	cr_assert(has(NXP_EV_ABS_JUMP, r + 0x100));
	/* The image has relocations, but not on the imm32: the loader would not
	 * fix that address, so it is not one. */
	uint32_t other[] = {r + 0x800};
	put_relocs(other, 1, 3);
	analyze(n);
	cr_assert_not(facts.code_in_data, "an unrelocated absolute address");
}

/* jmp [abs32] in a relocatable image whose disp32 has no relocation
 * (efitools HashTool.efi, shim fbia32.efi). */
Test(evidence_rules, jmp_abs_unrelocated_rejected)
{
	size_t n = build(0, 0x1000);
	uint8_t *d = sec(1);
	uint32_t r = rva_of(1);
	nxt_put32(d + 0x800, BASE32 + rva_of(0));
	d[0x20] = 0xff, d[0x21] = 0x25, nxt_put32(d + 0x22, BASE32 + r + 0x800);
	uint32_t yes[] = {r + 0x22}, no[] = {r + 0x400};
	put_relocs(yes, 1, 3);
	analyze(n);
	cr_assert(has(NXP_EV_ABS_JUMP, r + 0x20));
	put_relocs(no, 1, 3);
	analyze(n);
	cr_assert_not(facts.code_in_data);
}

/* An x64 thunk whose imm64s are relocated is accepted; a relocation on
 * its mov opcode bytes is not an operand: rejected. */
Test(evidence_rules, x64_thunk_relocations_on_operands_only)
{
	size_t n = build(1, 0x1000);
	uint8_t *d = sec(1);
	uint32_t r = rva_of(1);
	d[0] = 0x48, d[1] = 0xb9, nxt_put64(d + 2, BASE64 + rva_of(2));
	d[10] = 0x48, d[11] = 0xb8, nxt_put64(d + 12, BASE64 + rva_of(0));
	d[20] = 0xff, d[21] = 0xe0;
	uint32_t ok[] = {r + 2, r + 12};
	put_relocs(ok, 2, 10);
	analyze(n);
	cr_assert(has(NXP_EV_X64_THUNK, r));
	uint32_t bad[] = {r + 2, r + 12, r + 18}; /* +18..+26 covers FF E0 */
	put_relocs(bad, 3, 10);
	analyze(n);
	cr_assert_not(facts.code_in_data);
}

/* A direct call into bytes that decode as code but are a table of
 * relocated pointers (an exported vtable in wine i386 msvcp71.dll:
 * 70 b9 34 6e = jo; xor al, 0x6e, then 50 c3 = push eax; ret). */
Test(evidence_rules, branch_target_across_relocations_rejected)
{
	size_t n = build(0, 0x1000);
	uint8_t *d = sec(1);
	uint32_t r = rva_of(1);
	static const uint8_t vt[] = {0x70, 0xb9, 0x34, 0x6e, 0x50, 0xc3, 0x34, 0x6e};
	memcpy(d + 0x40, vt, sizeof(vt));
	memset(sec(0), 0x90, 0x40);
	put_call(sec(0) + 0x10, rva_of(0) + 0x10, 0xe8, r + 0x40);
	sec(0)[0x15] = 0xc3;
	analyze(n);
	cr_assert(has(NXP_EV_CALL, r + 0x40), "without relocations it looks like code");
	uint32_t rel[] = {r + 0x40, r + 0x44};
	put_relocs(rel, 2, 3);
	analyze(n);
	cr_assert_not(facts.code_in_data, "relocations across instruction boundaries");
	/* A relocation inside one instruction's operand is fine: mov eax,
	 * imm32 (relocated); ret. */
	static const uint8_t mov[] = {0xb8, 0, 0, 0, 0, 0xc3};
	memcpy(d + 0x40, mov, sizeof(mov));
	nxt_put32(d + 0x41, BASE32 + r);
	uint32_t in_op[] = {r + 0x41};
	put_relocs(in_op, 1, 3);
	analyze(n);
	cr_assert(has(NXP_EV_CALL, r + 0x40));
	/* A pointer that starts before the target and covers its first bytes:
	 * the target is inside data. */
	uint32_t before[] = {r + 0x3e};
	put_relocs(before, 1, 3);
	analyze(n);
	cr_assert_not(facts.code_in_data, "relocation starting before the run");
}

/* ---- precision: exported data names ----------------------------------- */

/* An export in data that looks like code: one name for it. */
static size_t named_export(const char *name)
{
	size_t n = build(0, 0x1000);
	uint32_t d = rva_of(2);
	uint8_t *p = sec(2);
	static const uint8_t FUNC[] = {0xb8, 0x2a, 0, 0, 0, 0xc3};
	memcpy(sec(1) + 0x10, FUNC, sizeof(FUNC));
	nxt_put32(p + 20, 1);             /* NumberOfFunctions */
	nxt_put32(p + 24, 1);             /* NumberOfNames */
	nxt_put32(p + 28, d + 0x100);     /* AddressOfFunctions */
	nxt_put32(p + 32, d + 0x110);     /* AddressOfNames */
	nxt_put32(p + 36, d + 0x120);     /* AddressOfNameOrdinals */
	nxt_put32(p + 0x100, rva_of(1) + 0x10);
	nxt_put32(p + 0x110, d + 0x140);
	nxt_put16(p + 0x120, 0);
	memset(p + 0x140, 0, 0x80);
	memcpy(p + 0x140, name, strlen(name));
	set_dir(0, d, 0x200);
	return n;
}

Test(evidence_rules, exported_data_names_rejected)
{
	const char *data[] = {"??_7?$ctype@D@std@@6B@", "??_R4type_info@@6B@", "??_8C@@7B@",
	                      "??_C@_05ABCD@hello?$AA@", "_ZTV5Shape", "_ZTI5Shape", "_ZTS5Shape",
	                      "?g_table@@3PAHA", "?count@ns@@3HA", "?m@C@@2HA"};
	const char *code[] = {"thunk_fn", "?f@@YAXXZ", "?m@C@@QAEXXZ", "_ZN5Shape4areaEv", "??0C@@QAE@XZ"};
	for (unsigned i = 0; i < sizeof(data) / sizeof(*data); i++) {
		analyze(named_export(data[i]));
		cr_assert_not(facts.code_in_data, "%s names data", data[i]);
	}
	for (unsigned i = 0; i < sizeof(code) / sizeof(*code); i++) {
		analyze(named_export(code[i]));
		cr_assert(has(NXP_EV_EXPORT, rva_of(1) + 0x10), "%s names a function", code[i]);
	}
}

/* ---- precision: a candidate that runs into a string ------------------- */

/* FF 25 24 00 41 00 00 00: jmp [0x410024], or the tail of a table and the
 * UTF-16 string L"$A" (efitools HashTool.efi: FF 25 00 61 00 00). */
Test(evidence_rules, jmp_mem_running_into_utf16_rejected)
{
	size_t n = build(0, 0x8000); /* .data at 0x10000: the slot 0x410024 lies in it */
	cr_assert_eq(rva_of(1), 0x10000);
	uint8_t *d = sec(1);
	nxt_put32(d + 0x24, BASE32 + rva_of(0));
	static const uint8_t str[] = {0xff, 0x25, 0x24, 0x00, 0x41, 0x00, 0x00, 0x00};
	memcpy(d + 0x100, str, sizeof(str));
	memcpy(d + 0x200, str, 6);
	d[0x206] = 0x90, d[0x207] = 0x90; /* no terminator: not a string */
	analyze(n);
	cr_assert_not(has(NXP_EV_ABS_JUMP, rva_of(1) + 0x100), "ran into L\"$A\"");
	cr_assert(has(NXP_EV_ABS_JUMP, rva_of(1) + 0x200));
}

/* ---- recall: branch targets ending in an indirect jump ----------------- */

Test(evidence_rules, call_into_stub_ending_in_indirect_jmp)
{
	for (int plus = 0; plus < 2; plus++) {
		size_t n = build(plus, 0x1000);
		uint8_t *d = sec(1);
		uint32_t r = rva_of(1);
		/* mov eax, 42; jmp rax / jmp eax */
		static const uint8_t jreg[] = {0xb8, 0x2a, 0, 0, 0, 0xff, 0xe0};
		/* mov ecx, 1; jmp [rip+0x100] / jmp [abs32] */
		uint8_t jmem[] = {0xb9, 1, 0, 0, 0, 0xff, 0x25, 0, 0, 0, 0};
		nxt_put32(jmem + 7, plus ? 0x100 : BASE32 + r + 0x200);
		memcpy(d + 0x40, jreg, sizeof(jreg));
		memcpy(d + 0x80, jmem, sizeof(jmem));
		memset(sec(0), 0x90, 0x40);
		put_call(sec(0) + 0x10, rva_of(0) + 0x10, 0xe8, r + 0x40);
		put_call(sec(0) + 0x20, rva_of(0) + 0x20, 0xe9, r + 0x80);
		sec(0)[0x30] = 0xc3;
		analyze(n);
		cr_assert(has(NXP_EV_CALL, r + 0x40), "pe32plus=%d: jmp reg", plus);
		cr_assert(has(NXP_EV_JUMP, r + 0x80), "pe32plus=%d: jmp [mem]", plus);
	}
}

/* The same stub reached only as an export is not a branch target: an
 * indirect jmp does not end its run (exported data stays data). */
Test(evidence_rules, indirect_jmp_ends_runs_of_branch_targets_only)
{
	size_t n = build(0, 0x1000);
	static const uint8_t jreg[] = {0xb8, 0x2a, 0, 0, 0, 0xff, 0xe0};
	uint8_t *p = sec(2);
	uint32_t d = rva_of(2);
	memcpy(sec(1) + 0x10, jreg, sizeof(jreg));
	memset(sec(1) + 0x10 + sizeof(jreg), 0, 0x100);
	nxt_put32(p + 20, 1);
	nxt_put32(p + 28, d + 0x100);
	nxt_put32(p + 0x100, rva_of(1) + 0x10);
	set_dir(0, d, 0x200);
	analyze(n);
	cr_assert_not(facts.code_in_data);
}

/* ---- recall: thunk templates filled at run time ------------------------ */

Test(evidence_rules, zero_filled_thunk_templates)
{
	/* ATL's CWndProcThunk template (i386): C7 44 24 04 0 E9 0. */
	size_t n = build(0, 0x1000);
	static const uint8_t atl[] = {0xc7, 0x44, 0x24, 0x04, 0, 0, 0, 0, 0xe9, 0, 0, 0, 0};
	memcpy(sec(1) + 0x20, atl, sizeof(atl));
	analyze(n);
	cr_assert(has(NXP_EV_ATL_THUNK, rva_of(1) + 0x20));
	/* Only the imm32 zero, the jmp into data: still not accepted. */
	nxt_put32(sec(1) + 0x29, 0x100);
	analyze(n);
	cr_assert_not(facts.code_in_data);

	/* The x64 thunk template: mov rcx, 0; mov rax, 0; jmp rax. */
	n = build(1, 0x1000);
	uint8_t *d = sec(1);
	d[0] = 0x48, d[1] = 0xb9, nxt_put64(d + 2, 0);
	d[10] = 0x48, d[11] = 0xb8, nxt_put64(d + 12, 0);
	d[20] = 0xff, d[21] = 0xe0;
	/* mov rax, 0; jmp rax alone is unlinked object code (GRUB's modules):
	 * not accepted. */
	d[0x40] = 0x48, d[0x41] = 0xb8, nxt_put64(d + 0x42, 0), d[0x4a] = 0xff, d[0x4b] = 0xe0;
	analyze(n);
	cr_assert(has(NXP_EV_X64_THUNK, rva_of(1)));
	cr_assert_eq(facts.nevidence, 1, "mov rax, 0; jmp rax counted");
}

/* ---- recall: function-pointer flows ------------------------------------ */

static const uint8_t FUNC[] = {0xb8, 0x2a, 0, 0, 0, 0xc3};

/* x64: lea rax, [rip+thunk]; mov [rsp+0x28], rax; mov rax, [rsp+0x28];
 * call rax (samples/thunk_data64.exe). */
static size_t x64_flow(const uint8_t *between, unsigned nbetween, uint8_t call_modrm)
{
	size_t n = build(1, 0x1000);
	memcpy(sec(1) + 0x10, FUNC, sizeof(FUNC));
	uint8_t *t = sec(0);
	memset(t, 0x90, 0x100);
	uint32_t at = 0x20;
	t[at] = 0x48, t[at + 1] = 0x8d, t[at + 2] = 0x05;
	nxt_put32(t + at + 3, rva_of(1) + 0x10 - (rva_of(0) + at + 7));
	at += 7;
	if (nbetween)
		memcpy(t + at, between, nbetween);
	at += nbetween;
	t[at] = 0xff, t[at + 1] = call_modrm;
	t[at + 2] = 0xc3;
	return n;
}

Test(evidence_rules, flow_x64_lea_stack_slot_call)
{
	static const uint8_t via_stack[] = {0x48, 0x89, 0x44, 0x24, 0x28, 0x48, 0x8b, 0x44, 0x24, 0x28};
	analyze(x64_flow(via_stack, sizeof(via_stack), 0xd0));
	cr_assert(has(NXP_EV_CALL, rva_of(1) + 0x10));
	/* Straight: lea rax; jmp rax. */
	analyze(x64_flow(NULL, 0, 0xe0));
	cr_assert(has(NXP_EV_JUMP, rva_of(1) + 0x10));
	/* Copied: lea rax; mov rdx, rax; call rdx. */
	static const uint8_t copy[] = {0x48, 0x89, 0xc2};
	analyze(x64_flow(copy, sizeof(copy), 0xd2));
	cr_assert(has(NXP_EV_CALL, rva_of(1) + 0x10));
}

Test(evidence_rules, flow_x64_rejects)
{
	/* rax overwritten before the call: xor eax, eax. */
	static const uint8_t clobber[] = {0x31, 0xc0};
	analyze(x64_flow(clobber, sizeof(clobber), 0xd0));
	cr_assert_not(facts.code_in_data, "clobbered register");
	/* A branch between the load and the call: another block. */
	static const uint8_t branch[] = {0x74, 0x00};
	analyze(x64_flow(branch, sizeof(branch), 0xd0));
	cr_assert_not(facts.code_in_data, "crossed a branch");
	/* Another register is called. */
	analyze(x64_flow(NULL, 0, 0xd1));
	cr_assert_not(facts.code_in_data, "call rcx");
	/* The stack slot stored is not the one loaded. */
	static const uint8_t slots[] = {0x48, 0x89, 0x44, 0x24, 0x28, 0x48, 0x8b, 0x44, 0x24, 0x30};
	analyze(x64_flow(slots, sizeof(slots), 0xd0));
	cr_assert_not(facts.code_in_data, "different slot");
	/* The target is data, not code. */
	size_t n = x64_flow(NULL, 0, 0xd0);
	memset(sec(1) + 0x10, 0, sizeof(FUNC));
	analyze(n);
	cr_assert_not(facts.code_in_data, "zeros are not code");
}

/* i386: mov dword [esp+0x1c], offset thunk; mov eax, [esp+0x1c]; call eax,
 * and mov eax, offset thunk; call eax; with and without relocations. */
Test(evidence_rules, flow_i386_imm_and_stack_slot)
{
	size_t n = build(0, 0x1000);
	uint32_t thunk = rva_of(1) + 0x10;
	memcpy(sec(1) + 0x10, FUNC, sizeof(FUNC));
	uint8_t *t = sec(0);
	memset(t, 0x90, 0x100);
	static const uint8_t a[] = {0xc7, 0x44, 0x24, 0x1c, 0, 0, 0, 0, 0x8b, 0x44, 0x24, 0x1c, 0xff, 0xd0, 0xc3};
	memcpy(t + 0x20, a, sizeof(a));
	nxt_put32(t + 0x24, BASE32 + thunk);
	analyze(n);
	cr_assert(has(NXP_EV_CALL, thunk), "via [esp+0x1c]");

	memset(t, 0x90, 0x100);
	static const uint8_t b[] = {0xb8, 0, 0, 0, 0, 0xff, 0xe0};
	memcpy(t + 0x20, b, sizeof(b));
	nxt_put32(t + 0x21, BASE32 + thunk);
	analyze(n);
	cr_assert(has(NXP_EV_JUMP, thunk), "mov eax, imm32; jmp eax");
	/* In an image with relocations, the imm32 must be relocated. */
	uint32_t other[] = {rva_of(0) + 0x80};
	put_relocs(other, 1, 3);
	analyze(n);
	cr_assert_not(facts.code_in_data, "unrelocated imm32");
	uint32_t imm[] = {rva_of(0) + 0x21};
	put_relocs(imm, 1, 3);
	analyze(n);
	cr_assert(has(NXP_EV_JUMP, thunk), "relocated imm32");
}

/* call [rip+slot]: the slot holds a pointer to code in data; a slot in the
 * import address table does not count. */
Test(evidence_rules, call_through_pointer_slot)
{
	size_t n = build(1, 0x1000);
	uint32_t thunk = rva_of(1) + 0x10, slot = rva_of(2) + 0x40;
	memcpy(sec(1) + 0x10, FUNC, sizeof(FUNC));
	nxt_put64(sec(2) + 0x40, BASE64 + thunk);
	uint8_t *t = sec(0);
	memset(t, 0x90, 0x100);
	t[0x20] = 0xff, t[0x21] = 0x15, nxt_put32(t + 0x22, slot - (rva_of(0) + 0x26));
	t[0x26] = 0xc3;
	analyze(n);
	cr_assert(has(NXP_EV_CALL, thunk));
	set_dir(12, rva_of(2), 0x100); /* the slot is an IAT entry */
	analyze(n);
	cr_assert_not(facts.code_in_data, "IAT slot");
	set_dir(12, 0, 0);
	/* mov rax, [rip+slot]; call rax: the same. */
	t[0x20] = 0x48, t[0x21] = 0x8b, t[0x22] = 0x05;
	nxt_put32(t + 0x23, slot - (rva_of(0) + 0x27));
	t[0x27] = 0xff, t[0x28] = 0xd0, t[0x29] = 0xc3;
	analyze(n);
	cr_assert(has(NXP_EV_CALL, thunk), "mov rax, [rip+slot]; call rax");
}
