/* SPDX-License-Identifier: Apache-2.0 */
/* pool: nx's wrapper route: the NX wrapper's bytes (checked against
 * Capstone's reading of them), the planned section append and call-site
 * rewrites on the sample drivers drv_short64.sys / drv_short32.sys (built by
 * samples/drivers/ with mingw-w64; pool types set by `xor ecx, ecx` and
 * `push 0`, too short for 0x200), the refusals of the append (no header
 * room, an overlay, a COFF symbol table, unaligned sections), output
 * verification of a wrapped driver (the planned section added, everything
 * else identical: one mutated byte anywhere else fails), and the analysis
 * of the written driver (its sites reach the wrapper: nothing left to do). */
#include <capstone/capstone.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/driver_int.h"
#include "nxpatch/driver.h"
#include "nxpatch/input.h"
#include "nxpatch/plan.h"
#include "support.h"
#include "write/outcheck.h"

#define DRV64 NXP_BINARY_DIR "/samples/drivers/drv_short64.sys"
#define DRV32 NXP_BINARY_DIR "/samples/drivers/drv_short32.sys"
#define CAP (1 << 20)

static const char *POOL = "nxpatch: 1\n"
                          "settings: {checksum: always}\n"
                          "rules:\n"
                          "  - id: nx-pool\n"
                          "    when: {kind: driver}\n"
                          "    actions:\n"
                          "      - pool: nx\n";

static unsigned api_index(const char *name)
{
	int i = nxpi_drv_api_index(name, strlen(name));
	cr_assert(i >= 0, "%s", name);
	return (unsigned)i;
}

/* Capstone's text of the instructions in p[0..n) at rva, "; "-separated. */
static void disasm(int is64, const uint8_t *p, size_t n, uint64_t rva, char *out, size_t len)
{
	csh cs;
	cr_assert_eq(cs_open(CS_ARCH_X86, is64 ? CS_MODE_64 : CS_MODE_32, &cs), CS_ERR_OK);
	cs_insn *insn;
	size_t count = cs_disasm(cs, p, n, rva, 0, &insn);
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < count && k < len; i++)
		k += (size_t)snprintf(out + k, len - k, "%s%s %s", i ? "; " : "", insn[i].mnemonic,
		                      insn[i].op_str);
	cs_free(insn, count);
	cs_close(&cs);
}

Test(nxwrap, x64_wrapper_is_test_jnz_or_jmp_through_the_slot)
{
	uint8_t w[NXP_NXWRAP_SIZE];
	unsigned tag = api_index("ExAllocatePoolWithTag");
	cr_assert_eq(nxpi_nxwrap_encode(1, tag, 0x7000, 0x6040, w), 0);
	char text[512];
	disasm(1, w, 17, 0x7000, text, sizeof(text));
	cr_expect_str_eq(text, "test cl, 1; jne 0x700b; or ecx, 0x200; jmp qword ptr [rip - 0xfd1]");
	cr_expect_eq(0x7011 - 0xfd1, 0x6040, "rip after the jmp, less 0xfd1: the slot");
	for (unsigned k = 17; k < NXP_NXWRAP_SIZE; k++)
		cr_expect_eq(w[k], 0xcc, "int3 padding at %u", k);
	uint32_t iat = 0;
	cr_expect(nxpi_nxwrap_match(1, tag, w, 0x7000, &iat));
	cr_expect_eq(iat, 0x6040);
	/* ExInitializeNPagedLookasideList's Flags (r9): or only, no test. */
	unsigned la = api_index("ExInitializeNPagedLookasideList");
	cr_assert_eq(nxpi_nxwrap_encode(1, la, 0x7020, 0x6050, w), 0);
	disasm(1, w, 13, 0x7020, text, sizeof(text));
	cr_expect(strncmp(text, "or r9d, 0x200; jmp qword ptr [rip", 33) == 0, "%s", text);
	/* An API whose argument is not a pool type has no wrapper. */
	cr_expect_eq(nxpi_nxwrap_encode(1, api_index("MmMapIoSpace"), 0x7000, 0x6040, w), -1);
	cr_expect_eq(nxpi_nxwrap_encode(1, api_index("ZwAllocateVirtualMemory"), 0x7000, 0x6040, w),
	             -1);
}

Test(nxwrap, x86_wrapper_is_position_independent)
{
	uint8_t w[NXP_NXWRAP_SIZE];
	unsigned tag = api_index("ExAllocatePoolWithTag");
	cr_assert_eq(nxpi_nxwrap_encode(0, tag, 0x7000, 0x6040, w), 0);
	char text[512];
	disasm(0, w, 27, 0x7000, text, sizeof(text));
	cr_expect_str_eq(text, "test byte ptr [esp + 4], 1; jne 0x700f; or dword ptr [esp + 4], "
	                       "0x200; call 0x7014; pop eax; jmp dword ptr [eax - 0xfd4]");
	/* eax holds 0x7014 (the pop) at run time: 0x7014 - 0xfd4 = the slot,
	 * whatever the image base: no absolute address, no relocation. */
	cr_expect_eq(0x7014 - 0xfd4, 0x6040);
	uint32_t iat = 0;
	cr_expect(nxpi_nxwrap_match(0, tag, w, 0x7000, &iat));
	cr_expect_eq(iat, 0x6040);
}

Test(nxwrap, match_refuses_any_other_byte)
{
	uint8_t w[NXP_NXWRAP_SIZE];
	unsigned tag = api_index("ExAllocatePoolWithTag");
	for (int is64 = 0; is64 < 2; is64++) {
		cr_assert_eq(nxpi_nxwrap_encode(is64, tag, 0x7000, 0x6040, w), 0);
		uint32_t iat;
		cr_expect(!nxpi_nxwrap_match(is64, tag, w, 0x7020, &iat) || iat != 0x6040,
		          "the displacement is relative to where the wrapper is");
		for (unsigned k = 0; k < NXP_NXWRAP_SIZE; k++) {
			unsigned disp_lo = is64 ? 13 : 23;
			if (k >= disp_lo && k < disp_lo + 4)
				continue; /* the displacement names another slot */
			w[k] ^= 0x01;
			cr_expect(!nxpi_nxwrap_match(is64, tag, w, 0x7000, &iat), "byte %u (is64 %d)", k,
			          is64);
			w[k] ^= 0x01;
		}
	}
}

/* A sample driver, its facts and its plan under POOL. */
static uint8_t *buf, *out;
static size_t len;
static nxp_input in;
static nxp_plan plan;
static nxp_policy *pol;

static int load(const char *path, void (*mutate)(void))
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		if (getenv("CI"))
			cr_assert_fail("%s not built (mingw-w64 missing?)", path);
		cr_skip_test("%s not built (needs gcc-mingw-w64)", path);
		return 0;
	}
	buf = calloc(1, CAP);
	out = calloc(1, CAP);
	cr_assert(buf && out);
	len = fread(buf, 1, CAP / 2, fp);
	fclose(fp);
	if (mutate)
		mutate();
	memset(&in, 0, sizeof(in));
	in.path = "drv.sys";
	in.file.data = buf;
	in.file.len = len;
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(&in.img, buf, len, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_analyze(&in.facts, &in.img, in.path, &err), NXP_OK, "%s", err.msg);
	nxp_diags d = {0};
	cr_assert_eq(nxp_policy_load_buffer(&pol, "t.yaml", POOL, strlen(POOL), &d, &err), NXP_OK,
	             "%s", err.msg);
	nxp_diags_free(&d);
	cr_assert_eq(nxp_plan_build(&plan, pol, &in.facts, NULL, &err), NXP_OK);
	return 1;
}

static void done(void)
{
	nxp_facts_free(&in.facts);
	nxp_policy_free(pol);
	pol = NULL;
	free(buf);
	free(out);
	buf = out = NULL;
}

static int refused_with(const char *text)
{
	for (size_t i = 0; i < plan.nrefusals; i++)
		if (strstr(plan.refusals[i].reason, text))
			return 1;
	return 0;
}

static size_t count(nxp_field f)
{
	size_t n = 0;
	for (size_t i = 0; i < plan.nchanges; i++)
		n += plan.changes[i].field == f;
	return n;
}

static const nxp_change *find(nxp_field f, size_t nth)
{
	for (size_t i = 0; i < plan.nchanges; i++)
		if (plan.changes[i].field == f && !nth--)
			return &plan.changes[i];
	return NULL;
}

/* The output the plan describes, built here independently of src/write. */
static size_t build_output(void)
{
	size_t n = (size_t)nxp_plan_body_end(&plan);
	cr_assert(n < CAP);
	memset(out, 0, n);
	memcpy(out, buf, (size_t)plan.out_len);
	for (size_t i = 0; i < plan.nchanges; i++) {
		const nxp_change *c = &plan.changes[i];
		for (uint32_t k = 0; k < c->size; k++)
			out[c->offset + k] = (uint8_t)(c->new_value >> (8 * k));
	}
	memcpy(out + plan.add.raw_offset, plan.add.data, plan.add.data_len);
	return n;
}

static int verify(size_t n, nxp_error *err)
{
	static nxp_image o;
	memset(err, 0, sizeof(*err));
	return nxpi_check_output(&in, &plan, out, n, &o, err);
}

#define EXPECT_FAIL(n, text)                                                              \
	do {                                                                              \
		nxp_error e_;                                                             \
		int rc_ = verify((n), &e_);                                               \
		cr_expect_eq(rc_, NXP_E_VERIFY, "expected NXP_E_VERIFY (%s), got %d: %s", (text), \
		             rc_, e_.msg);                                                \
		cr_expect(strstr(e_.msg, (text)), "message '%s' lacks '%s'", e_.msg, (text));  \
	} while (0)

static void expect_section_plan(int is64)
{
	cr_assert_eq(plan.status, NXP_PLAN_CHANGES, "%s",
	             plan.nrefusals ? plan.refusals[0].reason : "");
	const nxp_added_section *a = &plan.add;
	cr_assert(a->present);
	cr_expect_str_eq(a->name, NXP_NXWRAP_SECTION);
	cr_expect_eq(a->characteristics, NXP_NXWRAP_CHARACTERISTICS);
	cr_expect_eq(a->characteristics & NXP_SCN_MEM_WRITE, 0u, "never writable");
	cr_expect_eq(a->characteristics & 0x02000000u, 0u, "not discardable");
	cr_expect_eq(a->rva % 0x1000, 0u, "page aligned");
	cr_expect_eq(a->rva, in.img.size_of_image, "right after the last section");
	cr_expect_eq(a->raw_offset, in.img.len, "after the last byte of the input");
	cr_expect_eq(a->raw_offset % in.img.file_alignment, 0u);
	cr_expect_eq(a->raw_size, in.img.file_alignment);
	cr_expect_eq(a->nwrappers, 1u, "one wrapper: one API, one slot");
	cr_expect_eq(a->data_len, NXP_NXWRAP_SIZE);
	cr_expect_eq(a->size_of_image, a->rva + 0x1000);
	cr_expect_eq(a->size_of_code, in.img.size_of_code + a->raw_size);
	cr_expect_eq(a->header_offset, in.img.section_table_offset + 40u * in.img.nsections);
	cr_expect_eq(count(NXP_FIELD_SECTION_HEADER), 5u);
	cr_expect_eq(find(NXP_FIELD_SECTION_COUNT, 0)->new_value, in.img.nsections + 1u);
	cr_expect_eq(find(NXP_FIELD_SIZE_OF_IMAGE, 0)->new_value, a->size_of_image);
	cr_expect(find(NXP_FIELD_CHECKSUM, 0));
	/* The wrapper's bytes are the encoder's for the slot. */
	uint32_t iat = 0;
	cr_expect(nxpi_nxwrap_match(is64, api_index("ExAllocatePoolWithTag"), a->data, a->rva, &iat));
	cr_expect_eq(iat, in.facts.driver->sites[0].iat_rva);
	cr_expect_eq(count(NXP_FIELD_CALL_SITE), 2u, "the call and the register load");
}

Test(nxwrap, x64_plan_appends_the_section_and_rewrites_both_shapes, .fini = done)
{
	if (!load(DRV64, NULL))
		return;
	expect_section_plan(1);
	const nxp_drv_site *s = in.facts.driver->sites;
	cr_assert_eq(in.facts.driver->nsites, 2);
	/* call [rip+iat] -> call rel32; nop */
	const nxp_change *c = find(NXP_FIELD_CALL_SITE, 0);
	cr_expect_eq(c->size, 6);
	cr_expect_eq(c->rva, s[0].rva);
	cr_expect_eq(c->old_value & 0xffff, 0x15ff);
	cr_expect_eq(c->new_value & 0xff, 0xe8);
	cr_expect_eq((c->new_value >> 40) & 0xff, 0x90);
	cr_expect_eq((uint32_t)(c->new_value >> 8) + s[0].rva + 5, plan.add.rva, "rel32 to the wrapper");
	/* mov rsi, [rip+iat] -> lea rsi, [rip+wrapper] */
	c = find(NXP_FIELD_CALL_SITE, 1);
	cr_expect_eq(c->size, 7);
	cr_expect_eq(c->rva, s[1].load_rva);
	cr_expect_eq(c->old_value & 0xffffff, 0x358b48);
	cr_expect_eq(c->new_value & 0xffffff, 0x358d48);
	cr_expect_eq((uint32_t)(c->new_value >> 24) + c->rva + 7, plan.add.rva);
	cr_expect_eq(count(NXP_FIELD_RELOC_ENTRY), 0u, "x64: RIP-relative, no relocation");
}

Test(nxwrap, x86_plan_drops_the_call_relocation_and_keeps_the_load_one, .fini = done)
{
	if (!load(DRV32, NULL))
		return;
	expect_section_plan(0);
	const nxp_drv_site *s = in.facts.driver->sites;
	const nxp_change *c = find(NXP_FIELD_CALL_SITE, 0);
	cr_expect_eq(c->rva, s[0].rva);
	cr_expect_eq(c->new_value & 0xff, 0xe8);
	cr_expect_eq((uint32_t)(c->new_value >> 8) + s[0].rva + 5, plan.add.rva);
	/* The call's address operand loses its relocation: one entry set to 0. */
	cr_assert_eq(count(NXP_FIELD_RELOC_ENTRY), 1u);
	const nxp_change *r = find(NXP_FIELD_RELOC_ENTRY, 0);
	cr_expect_eq(r->rva, s[0].rva + 2);
	cr_expect_eq(r->size, 2);
	cr_expect_eq(r->old_value >> 12, 3u, "a HIGHLOW entry");
	cr_expect_eq(r->new_value, 0u, "now IMAGE_REL_BASED_ABSOLUTE padding");
	/* mov esi, [iat] -> nop; mov esi, wrapper VA: the immediate where the
	 * address was, so the kept relocation rebases it. */
	c = find(NXP_FIELD_CALL_SITE, 1);
	cr_expect_eq(c->size, 6);
	cr_expect_eq(c->new_value & 0xffff, 0xbe90);
	cr_expect_eq((uint32_t)(c->new_value >> 16), (uint32_t)(in.img.image_base + plan.add.rva));
}

Test(nxwrap, output_verification_accepts_the_plan_and_nothing_else, .fini = done)
{
	if (!load(DRV64, NULL))
		return;
	cr_assert(plan.add.present);
	size_t n = build_output();
	nxp_error e;
	cr_assert_eq(verify(n, &e), NXP_OK, "the planned output fails: %s", e.msg);
	const nxp_change *c = find(NXP_FIELD_CALL_SITE, 0);
	/* One byte outside the plan in .text, in the input's headers, and in
	 * the new section's data and padding. */
	out[c->offset + c->size] ^= 0x01;
	EXPECT_FAIL(n, "outside the planned fields");
	build_output();
	out[in.img.sections[0].raw_offset + 1] ^= 0x01;
	EXPECT_FAIL(n, "outside the planned fields");
	build_output();
	out[plan.add.raw_offset + 3] ^= 0x01;
	EXPECT_FAIL(n, "appended section differs");
	build_output();
	out[plan.add.raw_offset + plan.add.raw_size - 1] = 0x01;
	EXPECT_FAIL(n, "appended section differs");
	/* The new header: writable too, another RVA. */
	build_output();
	out[plan.add.header_offset + 39] |= 0x80;
	EXPECT_FAIL(n, "is not the planned");
	build_output();
	out[plan.add.header_offset + 8] ^= 0x10; /* VirtualSize */
	EXPECT_FAIL(n, "is not the planned");
	/* SizeOfImage left as it was; one byte too many or too few. */
	build_output();
	nxt_put32(out + in.img.pe_offset + 24 + 56, in.img.size_of_image);
	EXPECT_FAIL(n, "size_of_image");
	build_output();
	EXPECT_FAIL(n + 1, "bytes, expected");
	/* The call site left as it was: a planned field without its value. */
	build_output();
	for (uint32_t k = 0; k < c->size; k++)
		out[c->offset + k] = (uint8_t)(c->old_value >> (8 * k));
	EXPECT_FAIL(n, "does not hold its new value");
}

Test(nxwrap, the_written_driver_reaches_the_wrapper_and_needs_nothing, .fini = done)
{
	if (!load(DRV64, NULL))
		return;
	size_t n = build_output();
	nxp_image o;
	nxp_facts f;
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(&o, out, n, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_analyze(&f, &o, "out.sys", &err), NXP_OK, "%s", err.msg);
	cr_assert(f.driver);
	cr_expect_eq(f.driver->nwraps, 1u);
	cr_expect_eq(f.driver->wrap_section, (int)in.img.nsections);
	cr_assert_eq(f.driver->nsites, 2);
	cr_expect_eq(f.driver->nrefs, 0, "the wrapper's own jmp [iat] is not a reference");
	for (size_t i = 0; i < f.driver->nsites; i++)
		cr_expect_eq(f.driver->sites[i].verdict, NXP_SITE_WRAPPED, "site %zu", i);
	cr_expect_eq(f.driver->sites[0].call, NXP_CALL_WRAPPER);
	cr_expect_eq(f.driver->sites[1].call, NXP_CALL_REG);
	nxp_plan again;
	cr_assert_eq(nxp_plan_build(&again, pol, &f, NULL, &err), NXP_OK);
	cr_expect_eq(again.status, NXP_PLAN_NOTHING, "%s",
	             again.nrefusals ? again.refusals[0].reason : "a change");
	nxp_facts_free(&f);

	/* A wrapper that does not OR the NX bit is not recognised: the sites
	 * reach unknown code, and its jmp [iat] is judged as any code. */
	out[plan.add.raw_offset + 8] = 0x01; /* or ecx, 0x100 */
	cr_assert_eq(nxp_pe_parse(&o, out, n, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_analyze(&f, &o, "out.sys", &err), NXP_OK, "%s", err.msg);
	cr_expect_eq(f.driver->nwraps, 0u);
	for (size_t i = 0; i < f.driver->nsites; i++)
		cr_expect_neq(f.driver->sites[i].verdict, NXP_SITE_WRAPPED, "site %zu", i);
	nxp_plan_build(&again, pol, &f, NULL, &err);
	cr_expect_neq(again.status, NXP_PLAN_NOTHING, "a broken wrapper is not compliant");
	nxp_facts_free(&f);
}

/* Refusals of the append: nothing planned but the refusal. */
static void fill_header_slack(void)
{
	nxp_image i;
	nxp_error err;
	cr_assert_eq(nxp_pe_parse(&i, buf, len, &err), NXP_OK);
	buf[i.section_table_offset + 40u * i.nsections + 20] = 0x42;
}

static void no_header_room(void)
{
	nxp_image i;
	nxp_error err;
	cr_assert_eq(nxp_pe_parse(&i, buf, len, &err), NXP_OK);
	/* SizeOfHeaders ends right after the section table */
	nxt_put32(buf + i.pe_offset + 24 + 60, i.section_table_offset + 40u * i.nsections);
}

static void overlay(void)
{
	memcpy(buf + len, "overlay", 7);
	len += 7;
}

static void symtab(void)
{
	nxp_image i;
	nxp_error err;
	cr_assert_eq(nxp_pe_parse(&i, buf, len, &err), NXP_OK);
	memset(buf + len, 0, 18);
	nxt_put32(buf + i.pe_offset + 12, (uint32_t)len); /* PointerToSymbolTable */
	nxt_put32(buf + i.pe_offset + 16, 1);
	len += 18 + 4;
}

static void expect_refused(const char *path, void (*mutate)(void), const char *text)
{
	if (!load(path, mutate))
		return;
	cr_expect_eq(plan.status, NXP_PLAN_REFUSED);
	cr_expect(refused_with(text), "no refusal with '%s': %s", text,
	          plan.nrefusals ? plan.refusals[0].reason : "none");
	cr_expect(!plan.add.present);
	cr_expect_eq(plan.refusals[0].id, NXP_F_REFUSED_ADD_SECTION);
}

Test(nxwrap, refuses_when_the_header_slack_holds_data, .fini = done)
{
	expect_refused(DRV64, fill_header_slack, "are not free");
}

Test(nxwrap, refuses_without_room_for_a_header, .fini = done)
{
	expect_refused(DRV32, no_header_room, "no room for one more section header");
}

Test(nxwrap, refuses_to_displace_an_overlay, .fini = done)
{
	expect_refused(DRV64, overlay, "would be displaced");
}

Test(nxwrap, refuses_to_displace_a_symbol_table, .fini = done)
{
	expect_refused(DRV64, symtab, "COFF symbol table");
}

Test(nxwrap, refuses_a_keep_executable_site_sharing_the_load, .fini = done)
{
	if (!load(DRV64, NULL))
		return;
	nxp_policy_free(pol);
	/* a second call through the same register load, kept */
	nxp_driver_facts *d = in.facts.driver;
	d->sites[d->nsites] = d->sites[1];
	d->sites[d->nsites].rva += 2;
	d->nsites++;
	char yaml[512];
	snprintf(yaml, sizeof(yaml), "%s        keep_executable: [0x%x]\n", POOL,
	         d->sites[2].rva);
	nxp_diags dg = {0};
	nxp_error err = {0};
	cr_assert_eq(nxp_policy_load_buffer(&pol, "t.yaml", yaml, strlen(yaml), &dg, &err), NXP_OK,
	             "%s", err.msg);
	nxp_diags_free(&dg);
	cr_assert_eq(nxp_plan_build(&plan, pol, &in.facts, NULL, &err), NXP_OK);
	cr_expect_eq(plan.status, NXP_PLAN_REFUSED);
	cr_expect(refused_with("which keep_executable keeps"));
}
