/* SPDX-License-Identifier: Apache-2.0 */
/* long-file: one test per evidence rule and shape. */
/* Evidence collectors on generated images: each way code in a
 * non-executable section is found, each near miss rejected, malformed
 * tables survived, and caps and time bounds held on hostile sizes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/evidence_cands.h"
#include "nxpatch/analysis.h"
#include "support.h"
#include "util/bytes.h"

#define CAP (4u << 20)
static uint8_t buf[CAP];
static nxp_image img;
static nxp_facts facts;
static nxt_layout lay;

#define BASE32 0x400000u
#define BASE64 0x140000000ull

/* mov eax, 42; ret */
static const uint8_t FUNC[] = {0xb8, 0x2a, 0, 0, 0, 0xc3};

static size_t build(const nxt_pe_spec *spec)
{
	size_t n = nxt_build_pe(buf, CAP, spec, &lay);
	cr_assert(n > 0);
	return n;
}

/* The image in buf (layout lay): a section's data and RVA, a directory entry. */
#define sec(i) nxt_sec(buf, &lay, (i))
#define rva_of(i) nxt_sec_rva(&lay, (i))
#define set_dir(idx, rva, size) nxt_set_dir(buf, &lay, (idx), (rva), (size))

static void set_entry(uint32_t rva)
{
	nxt_put32(buf + lay.opt + 16, rva);
}

static void analyze(size_t n)
{
	nxp_error err = {0};
	nxp_facts_free(&facts);
	cr_assert_eq(nxp_pe_parse(&img, buf, n, &err), NXP_OK, "parse: %s", err.msg);
	cr_assert_eq(nxp_analyze(&facts, &img, "t.exe", &err), NXP_OK, "analyze: %s", err.msg);
}

static size_t count(nxp_evidence_kind kind)
{
	size_t k = 0;
	for (size_t i = 0; i < facts.nevidence; i++)
		k += facts.evidence[i].kind == kind;
	return k;
}

static int has(nxp_evidence_kind kind, uint32_t rva, int section)
{
	for (size_t i = 0; i < facts.nevidence; i++)
		if (facts.evidence[i].kind == kind && facts.evidence[i].rva == rva &&
		    facts.evidence[i].section == section)
			return 1;
	return 0;
}

static void fini(void)
{
	nxp_facts_free(&facts);
}

TestSuite(evidence, .fini = fini);

Test(evidence, clean_image_has_none)
{
	for (int plus = 0; plus < 2; plus++) {
		nxt_pe_spec spec = {.pe32plus = plus, .nsections = 3};
		analyze(build(&spec));
		cr_assert_eq(facts.nevidence, 0);
		cr_assert_not(facts.code_in_data);
		cr_assert_eq(facts.nwarnings, 0);
	}
}

Test(evidence, entry_point_in_data)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 3};
	size_t n = build(&spec);
	memcpy(sec(1), FUNC, sizeof(FUNC));
	set_entry(rva_of(1));
	analyze(n);
	cr_assert(has(NXP_EV_ENTRY_POINT, rva_of(1), 1));
	cr_assert(facts.code_in_data);
	cr_assert_eq(facts.section_evidence[1], 1);
	cr_assert_eq(facts.section_evidence[0], 0);
	cr_assert_eq(facts.section_evidence[2], 0);
}

/* Export directory in section 2; EAT: code in data, a forwarder, a data
 * variable (zeros), a function in .text, an RVA outside the image. */
static size_t export_image(int plus, uint32_t nfuncs, uint32_t dir_size)
{
	nxt_pe_spec spec = {.pe32plus = plus, .nsections = 3, .section_size = 0x1000};
	size_t n = build(&spec);
	uint32_t d = rva_of(2);
	uint8_t *p = sec(2);
	nxt_put32(p + 20, nfuncs);
	nxt_put32(p + 28, d + 0x100);
	uint32_t eat[] = {rva_of(1), d + 0x40, rva_of(1) + 0x800, rva_of(0), 0x7fffff00};
	for (unsigned i = 0; i < 5; i++)
		nxt_put32(p + 0x100 + 4 * i, eat[i]);
	memcpy(p + 0x40, "OTHER.dll_fn\0", 13); /* the forwarder string */
	memcpy(sec(1), FUNC, sizeof(FUNC));
	set_dir(0, d, dir_size);
	return n;
}

Test(evidence, export_in_data_not_forwarder_not_variable)
{
	for (int plus = 0; plus < 2; plus++) {
		analyze(export_image(plus, 5, 0x80));
		cr_assert(has(NXP_EV_EXPORT, rva_of(1), 1), "pe32plus=%d", plus);
		cr_assert_eq(count(NXP_EV_EXPORT), 1, "forwarder, variable or .text counted");
		cr_assert_eq(facts.nevidence, 1);
	}
}

Test(evidence, export_table_malformed)
{
	/* A huge count: clamped to what lies in the section. */
	analyze(export_image(1, 0xffffffffu, 0x80));
	cr_assert(has(NXP_EV_EXPORT, rva_of(1), 1));
	/* A directory shorter than its 40-byte header: ignored. */
	analyze(export_image(1, 5, 39));
	cr_assert_eq(facts.nevidence, 0);
	/* The address table outside the image. */
	size_t n = export_image(1, 5, 0x80);
	nxt_put32(sec(2) + 28, 0xfffffff0u);
	analyze(n);
	cr_assert_eq(facts.nevidence, 0);
	/* The address table running off the end of its section. */
	n = export_image(0, 0x10000, 0x80);
	nxt_put32(sec(2) + 28, rva_of(2) + 0xffc);
	nxt_put32(sec(2) + 0xffc, rva_of(1));
	analyze(n);
	cr_assert_eq(count(NXP_EV_EXPORT), 1);
}

/* TLS directory at section 2; callbacks array at +0x100, which
 * AddressOfCallBacks names when array_va is 0. */
static size_t tls_image(int plus, uint64_t array_va, int terminate)
{
	nxt_pe_spec spec = {.pe32plus = plus, .nsections = 3, .section_size = 0x1000};
	size_t n = build(&spec);
	uint64_t base = plus ? BASE64 : BASE32;
	if (!array_va)
		array_va = base + rva_of(2) + 0x100;
	uint8_t *t = sec(2);
	uint32_t ptr = plus ? 8 : 4;
	if (plus)
		nxt_put64(t + 24, array_va);
	else
		nxt_put32(t + 12, (uint32_t)array_va);
	uint64_t cbs[] = {base + rva_of(1), base + rva_of(0), base + rva_of(1) + 0x10};
	for (unsigned i = 0; i < 3; i++) {
		if (plus)
			nxt_put64(t + 0x100 + ptr * i, cbs[i]);
		else
			nxt_put32(t + 0x100 + ptr * i, (uint32_t)cbs[i]);
	}
	if (!terminate) /* fill the rest of the section with callbacks */
		for (uint32_t o = 0x100 + 3 * ptr; o + ptr <= 0x1000; o += ptr) {
			if (plus)
				nxt_put64(t + o, base + rva_of(1) + 0x20);
			else
				nxt_put32(t + o, (uint32_t)(base + rva_of(1) + 0x20));
		}
	set_dir(9, rva_of(2), plus ? 40 : 24);
	return n;
}

Test(evidence, tls_callbacks)
{
	for (int plus = 0; plus < 2; plus++) {
		analyze(tls_image(plus, 0, 1));
		cr_assert(has(NXP_EV_TLS_CALLBACK, rva_of(1), 1), "pe32plus=%d", plus);
		cr_assert(has(NXP_EV_TLS_CALLBACK, rva_of(1) + 0x10, 1));
		cr_assert_eq(count(NXP_EV_TLS_CALLBACK), 2, "the .text callback is not evidence");
	}
}

Test(evidence, tls_malformed)
{
	for (int plus = 0; plus < 2; plus++) {
		uint64_t base = plus ? BASE64 : BASE32;
		/* Array VA below the image base, past the image, and unterminated. */
		analyze(tls_image(plus, base - 0x1000, 1));
		cr_assert_eq(facts.nevidence, 0);
		analyze(tls_image(plus, base + 0x7ffffff0u, 1));
		cr_assert_eq(facts.nevidence, 0);
		analyze(tls_image(plus, 0, 0));
		cr_assert_eq(count(NXP_EV_TLS_CALLBACK), 3);
		/* A directory too short for AddressOfCallBacks. */
		size_t n = tls_image(plus, 0, 1);
		set_dir(9, rva_of(2), plus ? 31 : 15);
		analyze(n);
		cr_assert_eq(facts.nevidence, 0);
	}
}

Test(evidence, pdata_function_starts)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 3, .section_size = 0x1000};
	size_t n = build(&spec);
	uint32_t rf[][3] = {{rva_of(0), rva_of(0) + 1, rva_of(2) + 0x800},
	                    {rva_of(1), rva_of(1) + 6, rva_of(2) + 0x800},
	                    {0, 0, 0}};
	for (unsigned i = 0; i < 3; i++)
		for (unsigned k = 0; k < 3; k++)
			nxt_put32(sec(2) + 12 * i + 4 * k, rf[i][k]);
	set_dir(3, rva_of(2), 36 + 5); /* a ragged tail is ignored */
	analyze(n);
	cr_assert(has(NXP_EV_EXCEPTION, rva_of(1), 1));
	cr_assert_eq(facts.nevidence, 1);
}

Test(evidence, safeseh_and_cfg_tables)
{
	nxt_pe_spec spec = {.pe32plus = 0, .nsections = 3, .section_size = 0x1000};
	size_t n = build(&spec);
	uint8_t *lc = sec(2);
	nxt_put32(lc, 0x5c);
	nxt_put32(lc + 0x40, BASE32 + rva_of(2) + 0x100);
	nxt_put32(lc + 0x44, 2);
	nxt_put32(lc + 0x50, BASE32 + rva_of(2) + 0x200);
	nxt_put32(lc + 0x54, 2);
	nxt_put32(lc + 0x58, 1u << 28 | 0x400); /* one extra byte per entry */
	nxt_put32(lc + 0x100, rva_of(0));
	nxt_put32(lc + 0x104, rva_of(1));
	nxt_put32(lc + 0x200, rva_of(1) + 0x10);
	lc[0x204] = 1;
	nxt_put32(lc + 0x205, rva_of(0));
	lc[0x209] = 2;
	set_dir(10, rva_of(2), 0x5c);
	analyze(n);
	cr_assert(has(NXP_EV_SAFESEH, rva_of(1), 1));
	cr_assert(has(NXP_EV_CFG, rva_of(1) + 0x10, 1));
	cr_assert_eq(facts.nevidence, 2);
	/* Counts far past the file: clamped, no crash. */
	nxt_put32(lc + 0x44, 0xffffffffu);
	nxt_put32(lc + 0x54, 0xffffffffu);
	analyze(n);
	cr_assert(has(NXP_EV_SAFESEH, rva_of(1), 1));
}

/* Direct branches: .text holds E8/E9 rel32 to a function in section 1,
 * and near misses. */
static void put_branch(uint8_t *at, uint32_t at_rva, uint8_t op, uint32_t target)
{
	at[0] = op;
	nxt_put32(at + 1, target - (at_rva + 5));
}

Test(evidence, direct_call_and_jump)
{
	for (int plus = 0; plus < 2; plus++) {
		nxt_pe_spec spec = {.pe32plus = plus, .nsections = 3, .section_size = 0x1000};
		size_t n = build(&spec);
		uint8_t *t = sec(0);
		memset(t, 0x90, 0x100);
		memcpy(sec(1), FUNC, sizeof(FUNC));
		memcpy(sec(1) + 0x20, FUNC, sizeof(FUNC));
		put_branch(t + 0x10, rva_of(0) + 0x10, 0xe8, rva_of(1));
		put_branch(t + 0x20, rva_of(0) + 0x20, 0xe9, rva_of(1) + 0x20);
		/* jne rel32 to zeros in data: not code there */
		t[0x30] = 0x0f;
		t[0x31] = 0x85;
		nxt_put32(t + 0x32, rva_of(1) + 0x400 - (rva_of(0) + 0x36));
		put_branch(t + 0x40, rva_of(0) + 0x40, 0xe8, rva_of(0) + 0x80); /* in .text */
		put_branch(t + 0x50, rva_of(0) + 0x50, 0xe8, 0x7ffff000u);      /* outside */
		t[0x60] = 0xc3;
		analyze(n);
		cr_assert(has(NXP_EV_CALL, rva_of(1), 1), "pe32plus=%d", plus);
		cr_assert(has(NXP_EV_JUMP, rva_of(1) + 0x20, 1));
		cr_assert_eq(facts.nevidence, 2);
	}
}

Test(evidence, atl_thunk_confirmed_and_near_misses)
{
	nxt_pe_spec spec = {.pe32plus = 0, .nsections = 3, .section_size = 0x1000};
	size_t n = build(&spec);
	static const uint8_t atl[] = {0xc7, 0x44, 0x24, 0x04, 0x2a, 0, 0, 0, 0xe9};
	uint8_t *d = sec(1);
	struct { uint32_t at, target; int want; } c[] = {
		{0x000, rva_of(0), 1},              /* into .text */
		{0x100, 0x7ffff000u, 0},            /* outside the image */
		{0x200, rva_of(2), 0},              /* into a data section */
	};
	for (unsigned i = 0; i < 3; i++) {
		memcpy(d + c[i].at, atl, sizeof(atl));
		nxt_put32(d + c[i].at + 9, c[i].target - (rva_of(1) + c[i].at + 13));
	}
	/* The shape's bytes with a short jmp: not the shape. */
	memcpy(d + 0x300, atl, 8);
	d[0x308] = 0xeb;
	analyze(n);
	cr_assert(has(NXP_EV_ATL_THUNK, rva_of(1), 1));
	cr_assert_eq(facts.nevidence, 1);

	/* The same bytes in an amd64 image are not an ATL thunk there. */
	nxt_pe_spec s64 = {.pe32plus = 1, .nsections = 3, .section_size = 0x1000};
	n = build(&s64);
	memcpy(sec(1), atl, sizeof(atl));
	nxt_put32(sec(1) + 9, rva_of(0) - (rva_of(1) + 13));
	analyze(n);
	cr_assert_eq(count(NXP_EV_ATL_THUNK), 0);
}

static void put_x64_thunk(uint8_t *p, uint64_t rcx, uint64_t rax, uint8_t last)
{
	p[0] = 0x48, p[1] = 0xb9;
	nxt_put64(p + 2, rcx);
	p[10] = 0x48, p[11] = 0xb8;
	nxt_put64(p + 12, rax);
	p[20] = 0xff, p[21] = last;
}

Test(evidence, x64_thunk_and_mov_rax_jmp)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 3, .section_size = 0x1000};
	size_t n = build(&spec);
	uint8_t *d = sec(1);
	put_x64_thunk(d, 42, BASE64 + rva_of(0), 0xe0);          /* yes */
	put_x64_thunk(d + 0x40, 42, BASE64 + 0x7fff0000u, 0xe0); /* outside */
	put_x64_thunk(d + 0x80, 42, BASE64 + rva_of(0), 0xe1);   /* jmp rcx */
	put_x64_thunk(d + 0xc0, 42, BASE64 + rva_of(2), 0xe0);   /* into data */
	/* mov rax, imm64; jmp rax alone */
	d[0x100] = 0x48, d[0x101] = 0xb8;
	nxt_put64(d + 0x102, BASE64 + rva_of(0) + 4);
	d[0x10a] = 0xff, d[0x10b] = 0xe0;
	analyze(n);
	cr_assert(has(NXP_EV_X64_THUNK, rva_of(1), 1));
	cr_assert(has(NXP_EV_ABS_JUMP, rva_of(1) + 0x100, 1));
	cr_assert_eq(facts.nevidence, 2, "the thunk's tail or a near miss was counted");
}

Test(evidence, push_ret_and_jmp_mem_i386)
{
	nxt_pe_spec spec = {.pe32plus = 0, .nsections = 3, .section_size = 0x1000};
	size_t n = build(&spec);
	uint8_t *d = sec(1);
	/* push imm32; ret: to .text (yes), to data (no) */
	d[0] = 0x68, nxt_put32(d + 1, BASE32 + rva_of(0)), d[5] = 0xc3;
	d[0x10] = 0x68, nxt_put32(d + 0x11, BASE32 + rva_of(2)), d[0x15] = 0xc3;
	/* jmp [slot]: a slot holding a .text VA (yes), a zero slot (no), an
	 * unaligned slot (no) */
	nxt_put32(d + 0x800, BASE32 + rva_of(0));
	nxt_put32(d + 0x811, BASE32 + rva_of(0));
	d[0x20] = 0xff, d[0x21] = 0x25, nxt_put32(d + 0x22, BASE32 + rva_of(1) + 0x800);
	d[0x30] = 0xff, d[0x31] = 0x25, nxt_put32(d + 0x32, BASE32 + rva_of(1) + 0x900);
	d[0x40] = 0xff, d[0x41] = 0x25, nxt_put32(d + 0x42, BASE32 + rva_of(1) + 0x811);
	analyze(n);
	cr_assert(has(NXP_EV_ABS_JUMP, rva_of(1), 1));
	cr_assert(has(NXP_EV_ABS_JUMP, rva_of(1) + 0x20, 1));
	cr_assert_eq(facts.nevidence, 2);
}

Test(evidence, jmp_rip_slot_amd64)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 3, .section_size = 0x1000};
	size_t n = build(&spec);
	uint8_t *d = sec(1);
	nxt_put64(d + 0x800, BASE64 + rva_of(0));
	d[0x20] = 0xff, d[0x21] = 0x25, nxt_put32(d + 0x22, 0x800 - 0x26);        /* yes */
	d[0x30] = 0x48, d[0x31] = 0xff, d[0x32] = 0x25, nxt_put32(d + 0x33, 0x800 - 0x37); /* yes */
	d[0x40] = 0xff, d[0x41] = 0x25, nxt_put32(d + 0x42, 0x900 - 0x46);        /* zero slot */
	d[0x50] = 0xff, d[0x51] = 0x25, nxt_put32(d + 0x52, 0x7fff0000u);         /* outside */
	analyze(n);
	cr_assert(has(NXP_EV_ABS_JUMP, rva_of(1) + 0x20, 1));
	cr_assert(has(NXP_EV_ABS_JUMP, rva_of(1) + 0x30, 1));
	cr_assert_eq(facts.nevidence, 2);
}

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

Test(evidence, cap_on_a_megabyte_of_thunks)
{
	nxt_pe_spec spec = {.pe32plus = 0, .nsections = 2, .section_size = 0x100000};
	size_t n = build(&spec);
	uint8_t *d = sec(1);
	static const uint8_t atl[] = {0xc7, 0x44, 0x24, 0x04, 0x2a, 0, 0, 0, 0xe9};
	uint32_t k = 0;
	for (uint32_t o = 0; o + 13 <= 0x100000; o += 13, k++) {
		memcpy(d + o, atl, sizeof(atl));
		nxt_put32(d + o + 9, rva_of(0) - (rva_of(1) + o + 13));
	}
	double t0 = seconds();
	analyze(n);
	double dt = seconds() - t0;
	cr_assert_eq(facts.nevidence, NXP_MAX_EVIDENCE);
	cr_assert_eq(facts.evidence_dropped, k - NXP_MAX_EVIDENCE, "dropped %zu of %u",
	             facts.evidence_dropped, k);
	cr_assert_eq(facts.section_evidence[1], k);
	cr_assert(dt < 10.0, "%u thunks took %.2f s", k, dt);
	cr_log_info("%u ATL thunks in 1 MB: %.3f s", k, dt);
}

Test(evidence, cap_on_a_megabyte_of_calls_into_data)
{
	/* .text: 1 MB of calls, each to a different function in data. */
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .section_size = 0x100000};
	size_t n = build(&spec);
	uint8_t *t = sec(0), *d = sec(1);
	for (uint32_t o = 0; o + 6 <= 0x100000; o += 6)
		memcpy(d + o, FUNC, sizeof(FUNC));
	uint32_t k = 0;
	for (uint32_t o = 0; o + 5 <= 0x100000; o += 5, k++)
		put_branch(t + o, rva_of(0) + o, 0xe8, rva_of(1) + (k % (0x100000 / 6)) * 6);
	double t0 = seconds();
	analyze(n);
	double dt = seconds() - t0;
	cr_assert_eq(facts.nevidence, NXP_MAX_EVIDENCE);
	cr_assert_gt(facts.evidence_dropped, 100000);
	cr_assert(dt < 20.0, "%u calls took %.2f s", k, dt);
	cr_log_info("%u calls into data in 1 MB: %.3f s", k, dt);
}

Test(evidence, random_data_no_crash)
{
	/* Random bytes everywhere (fixed seed) in both archs: bounded, no crash. */
	uint32_t x = 12345;
	for (int plus = 0; plus < 2; plus++) {
		nxt_pe_spec spec = {.pe32plus = plus, .nsections = 3, .section_size = 0x10000};
		size_t n = build(&spec);
		for (unsigned s = 0; s < 3; s++)
			for (uint32_t o = 0; o < 0x10000; o++) {
				x = x * 1103515245u + 12345u;
				sec(s)[o] = (uint8_t)(x >> 16);
			}
		analyze(n);
		cr_assert_leq(facts.nevidence, NXP_MAX_EVIDENCE);
	}
}

/* ---- the one-pass candidate search (evidence_cands.c) ----
 *
 * Each search (scalar, SSE2, AVX2 where the CPU has it) against a plain
 * per-position loop, on random bytes with every shape's pattern planted at
 * section starts and ends, next to and overlapping one another. Sections
 * are heap blocks of exactly their length, so a vector load past the end
 * is an ASan error. */

/* The shapes' patterns (evidence_shapes.c), and one with the farthest
 * probe. */
static const nxpi_ev_pattern X86_PATS[] = {
	{{0xc7, 0x44, 0x24, 0x04}, 4, 1, 0x44, 13},
	{{0x68}, 1, 5, 0xc3, 6},
	{{0xff, 0x25}, 2, 1, 0x25, 6},
};
static const nxpi_ev_pattern X64_PATS[] = {
	{{0x48, 0xb9}, 2, 1, 0xb9, 22},
	{{0x48, 0xb8}, 2, 1, 0xb8, 12},
	{{0x68}, 1, 5, 0xc3, 6},
	{{0xff, 0x25}, 2, 1, 0x25, 6},
};
static const nxpi_ev_pattern FAR_PATS[] = {
	{{0xe8}, 1, NXP_EV_PROBE_MAX, 0xc3, NXP_EV_PROBE_MAX + 1},
	{{0x48, 0xb8}, 2, 1, 0xb8, 2},
};

static int ref_cand(const uint8_t *b, uint32_t len, const nxpi_ev_pattern *p, uint32_t i)
{
	if (len - i < p->room)
		return 0;
	for (unsigned j = 0; j < p->nbytes; j++)
		if (b[i + j] != p->bytes[j])
			return 0;
	return b[i + p->probe_off] == p->probe;
}

static uint32_t xs32;
static uint32_t rnd32(void)
{
	xs32 ^= xs32 << 13, xs32 ^= xs32 >> 17, xs32 ^= xs32 << 5;
	return xs32;
}

/* Write pattern p's bytes and probe at i, as far as the section goes. */
static void plant_pat(uint8_t *b, uint32_t len, const nxpi_ev_pattern *p, uint32_t i)
{
	for (unsigned j = 0; j < p->nbytes && i + j < len; j++)
		b[i + j] = p->bytes[j];
	if (i + p->probe_off < len)
		b[i + p->probe_off] = p->probe;
}

/* Random bytes, then every pattern at the start, at the last offsets with
 * and without room, back to back, overlapping (one byte on) and at random
 * offsets; dense sections draw only from the patterns' own bytes. */
static void fill_section(uint8_t *b, uint32_t len, const nxpi_ev_pattern *pat, unsigned npat,
                         int dense)
{
	static const uint8_t alphabet[] = {0x48, 0xb8, 0xb9, 0x68, 0xc3, 0xff, 0x25,
	                                   0xc7, 0x44, 0x24, 0x04, 0xe8};
	for (uint32_t i = 0; i < len; i++)
		b[i] = dense ? alphabet[rnd32() % sizeof(alphabet)] : (uint8_t)rnd32();
	if (dense || !len)
		return;
	for (unsigned k = 0; k < npat; k++) {
		const nxpi_ev_pattern *p = &pat[k];
		uint32_t at[] = {0, 1, len - 1, len - p->room, len - p->room + 1, len - p->room - 1,
		                 len / 2, len / 2 + p->room, len / 2 + 1, rnd32() % len};
		for (unsigned j = 0; j < NXP_ARRAY_LEN(at); j++)
			if (at[j] < len)
				plant_pat(b, len, p, at[j]);
	}
	for (unsigned n = len / 64; n > 0; n--) {
		uint32_t i = rnd32() % len;
		for (unsigned r = rnd32() % 4; r < 4 && i < len; r++) {
			const nxpi_ev_pattern *p = &pat[rnd32() % npat];
			plant_pat(b, len, p, i);
			i += rnd32() % 2 ? p->room : 1 + rnd32() % 3;
		}
	}
}

/* Hand out every candidate as the shape scan does (from = after the last,
 * or past its room every third time), pattern after pattern or round robin,
 * and compare each with the reference loop's next candidate. */
static void check_stream(int scan, const nxpi_ev_pattern *pat, unsigned npat, const uint8_t *b,
                         uint32_t len, int round_robin)
{
	nxpi_ev_cands c;
	cr_assert_eq(nxpi_ev_cands_init(&c, pat, npat, scan), NXP_OK);
	nxpi_ev_cands_section(&c, b, len);
	uint32_t pos[NXP_EV_MAX_PATTERNS] = {0}, ref[NXP_EV_MAX_PATTERNS] = {0};
	unsigned done = 0, hits = 0;
	for (unsigned k = 0; done != (1u << npat) - 1; k = round_robin ? (k + 1) % npat : k) {
		if (done >> k & 1)
			continue;
		const nxpi_ev_pattern *p = &pat[k];
		uint32_t want = ref[k];
		while (want < len && !ref_cand(b, len, p, want))
			want++;
		uint32_t got = nxpi_ev_cand_next(&c, k, pos[k]);
		if (want >= len) {
			cr_assert_eq(got, NXP_EV_CAND_NONE, "scan %d len %u pattern %u: extra candidate %u",
			             scan, len, k, got);
			done |= 1u << k;
			k = round_robin ? k : k + 1;
			continue;
		}
		cr_assert_eq(got, want, "scan %d len %u pattern %u from %u: got %u, want %u", scan, len,
		             k, pos[k], got, want);
		pos[k] = ref[k] = got + (++hits % 3 ? 1 : p->room);
	}
	nxpi_ev_cands_free(&c);
}

static void check_all_scans(const nxpi_ev_pattern *pat, unsigned npat, uint32_t len, int dense)
{
	uint8_t *b = malloc(len ? len : 1);
	cr_assert(b);
	fill_section(b, len, pat, npat, dense);
	for (int scan = NXP_EV_SCAN_SCALAR; scan <= NXP_EV_SCAN_AVX2; scan++)
		if (nxpi_ev_cands_usable(scan))
			for (int rr = 0; rr < 2; rr++)
				check_stream(scan, pat, npat, b, len, rr);
	free(b);
}

Test(evidence, candidates_match_per_position_loop)
{
	xs32 = 2463534242u;
	const struct { const nxpi_ev_pattern *p; unsigned n; } sets[] = {
		{X86_PATS, NXP_ARRAY_LEN(X86_PATS)},
		{X64_PATS, NXP_ARRAY_LEN(X64_PATS)},
		{FAR_PATS, NXP_ARRAY_LEN(FAR_PATS)},
		{X64_PATS + 2, 1},
	};
	static const uint32_t big[] = {255, 256, 257, 1000, 4099, 65536 + 7, 300000};
	for (unsigned s = 0; s < NXP_ARRAY_LEN(sets); s++) {
		for (uint32_t len = 0; len <= 160; len++)
			check_all_scans(sets[s].p, sets[s].n, len, 0);
		for (unsigned j = 0; j < NXP_ARRAY_LEN(big); j++)
			check_all_scans(sets[s].p, sets[s].n, big[j], 0);
	}
}

/* More candidates than a batch holds: the first pass stops when a batch is
 * full, and each pattern goes on alone from where it stopped. */
Test(evidence, candidates_past_a_full_batch)
{
	xs32 = 88675123u;
	uint32_t len = 6 * NXP_EV_CAND_BATCH * 12 + 5;
	check_all_scans(X64_PATS, NXP_ARRAY_LEN(X64_PATS), len, 1);
	check_all_scans(X86_PATS, NXP_ARRAY_LEN(X86_PATS), len, 1);
	/* push imm32; ret at every even offset but 0: 15 in the first block and
	 * 16 in each after, so a batch fills up in the middle of a block (and,
	 * with the pattern alone, its last slot is the end of the allocation) */
	uint8_t *b = malloc(len);
	cr_assert(b);
	memset(b, 0x68, len);
	for (uint32_t i = 5; i < len; i += 2)
		b[i] = 0xc3;
	b[0] = 0;
	for (int scan = NXP_EV_SCAN_SCALAR; scan <= NXP_EV_SCAN_AVX2; scan++)
		if (nxpi_ev_cands_usable(scan)) {
			check_stream(scan, X64_PATS, NXP_ARRAY_LEN(X64_PATS), b, len, 0);
			check_stream(scan, X64_PATS + 2, 1, b, len, 0);
		}
	free(b);
}

/* End to end: valid shapes in random data at the first and last offsets of
 * a section whose length is not a multiple of anything, back to back, in
 * the scan's order; and a jmp [slot] whose last byte lies just past its
 * section's end (in the file, but not in the section): not found. */
typedef struct planted {
	uint32_t at;
	nxp_evidence_kind kind;
} planted;

static void put_jmp_slot(uint8_t *d, uint32_t sec_rva, uint32_t at, int plus, uint64_t base,
                         uint32_t slot_rva)
{
	d[at] = 0xff, d[at + 1] = 0x25;
	nxt_put32(d + at + 2, plus ? slot_rva - (sec_rva + at + 6) : (uint32_t)(base + slot_rva));
}

Test(evidence, shapes_at_section_edges_in_random_data)
{
	for (int plus = 0; plus < 2; plus++) {
		nxt_pe_spec spec = {.pe32plus = plus, .nsections = 3, .section_size = 0x3000};
		size_t n = build(&spec);
		/* VirtualSize: the sections' bytes end there, before their raw size */
		uint32_t len = 0x2ffb, len2 = 0x2ffd;
		nxt_put32(buf + lay.section_table + 40 * 1 + 8, len);
		nxt_put32(buf + lay.section_table + 40 * 2 + 8, len2);
		uint8_t *d = sec(1);
		uint32_t r = rva_of(1);
		xs32 = 1234567u + (uint32_t)plus;
		for (uint32_t i = 0; i < len; i++)
			d[i] = (uint8_t)rnd32();
		uint64_t base = plus ? BASE64 : BASE32, text = base + rva_of(0);
		/* the slot of every jmp [slot]: a pointer to .text in section 2 */
		uint32_t slot_rva = rva_of(2) + 0x100;
		if (plus)
			nxt_put64(sec(2) + 0x100, text);
		else
			nxt_put32(sec(2) + 0x100, (uint32_t)text);
		planted want[4];
		uint32_t o;
		if (plus) {
			put_x64_thunk(d, 42, text, 0xe0);
			want[0] = (planted){0, NXP_EV_X64_THUNK};
			d[22] = 0x48, d[23] = 0xb8, nxt_put64(d + 24, text), d[32] = 0xff, d[33] = 0xe0;
			want[1] = (planted){22, NXP_EV_ABS_JUMP};
			o = 34;
		} else {
			static const uint8_t atl[] = {0xc7, 0x44, 0x24, 0x04, 0x2a, 0, 0, 0, 0xe9};
			memcpy(d, atl, sizeof(atl));
			nxt_put32(d + 9, rva_of(0) - (r + 13));
			want[0] = (planted){0, NXP_EV_ATL_THUNK};
			d[13] = 0x68, nxt_put32(d + 14, (uint32_t)text), d[18] = 0xc3;
			want[1] = (planted){13, NXP_EV_ABS_JUMP};
			o = 19;
		}
		put_jmp_slot(d, r, o, plus, base, slot_rva);
		want[2] = (planted){o, NXP_EV_ABS_JUMP};
		d[len - 7] = 0; /* no REX.W before the last one */
		put_jmp_slot(d, r, len - 6, plus, base, slot_rva);
		want[3] = (planted){len - 6, NXP_EV_ABS_JUMP};
		put_jmp_slot(sec(2), rva_of(2), len2 - 5, plus, base, slot_rva);
		analyze(n);
		cr_assert_eq(facts.nevidence, 4, "pe32plus=%d: %zu records", plus, facts.nevidence);
		for (unsigned j = 0; j < 4; j++) {
			cr_assert_eq(facts.evidence[j].kind, want[j].kind, "pe32plus=%d record %u", plus, j);
			cr_assert_eq(facts.evidence[j].rva, r + want[j].at, "pe32plus=%d record %u: 0x%x",
			             plus, j, facts.evidence[j].rva);
		}
	}
}

Test(evidence, old_atl_import_warns)
{
	nxt_pe_spec spec = {.pe32plus = 0, .nsections = 2, .with_imports = 1};
	size_t n = build(&spec);
	analyze(n);
	cr_assert_eq(facts.nwarnings, 1);
	cr_assert(strstr(facts.warnings[0], "ATL71.DLL"), "%s", facts.warnings[0]);
	cr_assert(strstr(facts.warnings[0], "run time"), "%s", facts.warnings[0]);
	cr_assert(strstr(facts.warnings[0], "ATL 8.0"), "%s", facts.warnings[0]);
	/* Case-insensitive, ATL.DLL too; ATL80.DLL and later do not warn. */
	const char *yes[] = {"atl.dll", "Atl70.Dll", "ATL30.DLL"};
	const char *no[] = {"ATL80.DLL", "atl100.dll", "ATLX.DLL", "MATL.DLL"};
	uint8_t *name = sec(1) + 0x90;
	for (unsigned i = 0; i < 3; i++) {
		memset(name, 0, 16);
		memcpy(name, yes[i], strlen(yes[i]));
		analyze(n);
		cr_assert_eq(facts.nwarnings, 1, "%s", yes[i]);
	}
	for (unsigned i = 0; i < 4; i++) {
		memset(name, 0, 16);
		memcpy(name, no[i], strlen(no[i]));
		analyze(n);
		cr_assert_eq(facts.nwarnings, 0, "%s", no[i]);
	}
}
