/* SPDX-License-Identifier: Apache-2.0 */
/* Known thunk shapes in the raw data of non-executable sections.
 *
 * Candidates are found by byte pattern (one vector pass per section for
 * every shape at once, evidence_cands.c: linear in the section's bytes),
 * then CONFIRMED by decoding them with Capstone (detail on): the
 * instructions must be exactly the shape. Then they must be
 * plausible, because random data matches short patterns:
 *   atl_thunk      (i386)  C7 44 24 04 imm32 E9 rel32
 *                  mov dword [esp+4], imm32; jmp rel32 — target in an
 *                  executable section
 *   x64_thunk      (amd64) 48 B9 imm64 48 B8 imm64 FF E0
 *                  mov rcx, imm64; mov rax, imm64; jmp rax — the rax
 *                  value, a VA, in an executable section
 *   absolute_jump  mov rax, imm64; jmp rax (amd64) and push imm32; ret:
 *                  target VA in an executable section;
 *                  jmp [abs32] (i386) / jmp [rip+disp32] (amd64, also with
 *                  REX.W): the pointer slot inside the import address
 *                  table, or aligned and holding a VA in an executable
 *                  section.
 * Discardable sections (debug information, relocations) and data
 * directories that are known not to hold code (resources, base
 * relocations, debug, exception and import data) are skipped. */
#include <string.h>

#include "analysis/internal.h"
#include "analysis/evidence_cands.h"
#include "analysis/evidence_int.h"
#include "util/bytes.h"

#define ATL_LEN 13
#define X64_THUNK_LEN 22
#define MOVRAX_JMP_LEN 12
#define PUSH_RET_LEN 6

typedef struct span64 {
	uint64_t lo, hi; /* RVA range [lo, hi) */
} span64;

typedef struct shape_scan {
	nxpi_ev_ctx *c;
	const uint8_t *base; /* the section's bytes */
	uint32_t len;
	uint32_t rva;        /* RVA of base[0] */
	span64 skip[8];
	unsigned nskip;
	nxpi_ev_cands cands; /* candidates of every shape in this section */
} shape_scan;

/* Decode n instructions at base[i] with details; returns how many decoded
 * back to back (each into out[k], copied). */
static unsigned decode(shape_scan *s, uint32_t i, uint32_t maxlen, cs_insn out[], cs_detail det[],
                       unsigned n)
{
	nxpi_ev_ctx *c = s->c;
	if (!nxpi_ev_detail_handle(c))
		return 0;
	const uint8_t *code = s->base + i;
	size_t size = maxlen;
	uint64_t addr = (uint64_t)s->rva + i;
	unsigned k = 0;
	while (k < n && size > 0 && cs_disasm_iter(c->csd, &code, &size, &addr, c->insnd)) {
		out[k] = *c->insnd;
		det[k] = *c->insnd->detail;
		out[k].detail = &det[k];
		k++;
	}
	return k;
}

static int in_exec(const nxp_image *img, uint64_t va)
{
	return va >= img->image_base && nxpi_ev_exec_section(img, va - img->image_base) >= 0;
}

/* The pointer slot of jmp [slot]: inside the import address table, or an
 * aligned, file-backed pointer to an executable section. */
static int slot_ok(const nxp_image *img, uint64_t slot_rva)
{
	uint32_t ptr = img->pe32plus ? 8 : 4;
	if (NXP_DIR_IAT < img->ndirs_used) {
		const nxp_data_dir *iat = &img->dirs[NXP_DIR_IAT];
		if (iat->size && slot_rva >= iat->rva && slot_rva - iat->rva < iat->size)
			return 1;
	}
	uint32_t off;
	if (slot_rva % ptr || nxpi_ev_bytes_at(img, slot_rva, &off) < ptr)
		return 0;
	uint64_t v = ptr == 8 ? nxpi_le64(img->data + off) : nxpi_le32(img->data + off);
	return in_exec(img, v);
}

static int skipped(const shape_scan *s, uint32_t i, uint32_t n)
{
	uint64_t lo = (uint64_t)s->rva + i, hi = lo + n;
	for (unsigned k = 0; k < s->nskip; k++)
		if (lo < s->skip[k].hi && hi > s->skip[k].lo)
			return 1;
	return 0;
}

/* An immediate or displacement of a decoded candidate. need: it holds a
 * non-zero absolute address of code (or of a pointer to code), which the
 * loader fixes only where a base relocation says so. */
typedef struct abs_field {
	uint64_t rva;
	unsigned size;
	int need;
} abs_field;

/* What the base relocations say about a candidate [i, i+n): every one
 * touching it must be one of its fields (else the bytes are pointer data
 * that happen to decode, such as a table of function pointers), and in an
 * image with relocations every needed field must have one. */
static int relocs_agree(shape_scan *s, uint32_t i, uint32_t n, const abs_field *f, unsigned nf)
{
	nxpi_ev_field fields[4] = {{0, 0}};
	for (unsigned k = 0; k < nf && k < 4; k++)
		fields[k] = (nxpi_ev_field){f[k].rva, f[k].size};
	uint64_t lo = (uint64_t)s->rva + i;
	if (!nxpi_ev_relocs_only(s->c, lo, lo + n, fields, nf < 4 ? nf : 4))
		return 0;
	for (unsigned k = 0; k < nf; k++)
		if (f[k].need && nxpi_ev_relocatable(s->c) && !nxpi_ev_reloc_at(s->c, f[k].rva, f[k].size))
			return 0;
	return 1;
}

/* Printable text: ASCII and tab/newline/return. */
static int text_char(uint8_t b)
{
	return (b >= 0x20 && b < 0x7f) || b == '\t' || b == '\n' || b == '\r';
}

/* 1 when a NUL-terminated string of at least two UTF-16LE or four ASCII
 * characters starts inside the candidate [i, i+n) (past its first byte)
 * and its terminator lies past the candidate's end: the candidate runs
 * into a string, so its bytes are the tail of a table and the string's
 * start, not an instruction. */
static int runs_into_text(const shape_scan *s, uint32_t i, uint32_t n)
{
	for (uint32_t j = i + 1; j < i + n; j++) {
		uint32_t k = j, m = 0;
		while (k + 1 < s->len && text_char(s->base[k]) && s->base[k + 1] == 0)
			k += 2, m++;
		if (m >= 2 && k + 1 < s->len && s->base[k] == 0 && s->base[k + 1] == 0 && k + 1 >= i + n)
			return 1;
		k = j, m = 0;
		while (k < s->len && text_char(s->base[k]))
			k++, m++;
		if (m >= 4 && k < s->len && s->base[k] == 0 && k >= i + n)
			return 1;
	}
	return 0;
}

static int is_reg_imm_mov(const cs_insn *in, x86_reg reg)
{
	const cs_x86 *x = &in->detail->x86;
	return (in->id == X86_INS_MOVABS || in->id == X86_INS_MOV) && in->size == 10 &&
	       x->op_count == 2 && x->operands[0].type == X86_OP_REG && x->operands[0].reg == reg &&
	       x->operands[1].type == X86_OP_IMM;
}

static int is_jmp_reg(const cs_insn *in, x86_reg reg)
{
	const cs_x86 *x = &in->detail->x86;
	return in->id == X86_INS_JMP && in->size == 2 && x->op_count == 1 &&
	       x->operands[0].type == X86_OP_REG && x->operands[0].reg == reg;
}

/* C7 44 24 04 imm32 E9 rel32 */
static int confirm_atl(shape_scan *s, uint32_t i)
{
	if (s->base[i + 8] != 0xe9)
		return 0;
	cs_insn in[2];
	cs_detail d[2];
	if (decode(s, i, ATL_LEN, in, d, 2) != 2)
		return 0;
	const cs_x86 *a = &d[0].x86, *b = &d[1].x86;
	if (in[0].id != X86_INS_MOV || in[0].size != 8 || a->op_count != 2 ||
	    a->operands[0].type != X86_OP_MEM || a->operands[0].size != 4 ||
	    a->operands[0].mem.base != X86_REG_ESP || a->operands[0].mem.index != X86_REG_INVALID ||
	    a->operands[0].mem.segment != X86_REG_INVALID || a->operands[0].mem.disp != 4 ||
	    a->operands[1].type != X86_OP_IMM)
		return 0;
	if (in[1].id != X86_INS_JMP || in[1].size != 5 || b->op_count != 1 ||
	    b->operands[0].type != X86_OP_IMM)
		return 0;
	abs_field f[] = {{(uint64_t)s->rva + i + 4, 4, 0}};
	if (!relocs_agree(s, i, ATL_LEN, f, 1))
		return 0;
	/* A template filled at run time (ATL's CWndProcThunk): both zero. */
	if (nxpi_le32(s->base + i + 4) == 0 && nxpi_le32(s->base + i + 9) == 0)
		return 1;
	uint64_t target = (uint64_t)b->operands[0].imm & 0xffffffffu; /* an RVA: addr was */
	return nxpi_ev_exec_section(s->c->img, target) >= 0;
}

/* 48 B9 imm64 48 B8 imm64 FF E0 */
static int confirm_x64_thunk(shape_scan *s, uint32_t i)
{
	const uint8_t *p = s->base + i;
	if (p[10] != 0x48 || p[11] != 0xb8 || p[20] != 0xff || p[21] != 0xe0)
		return 0;
	cs_insn in[3];
	cs_detail d[3];
	if (decode(s, i, X64_THUNK_LEN, in, d, 3) != 3)
		return 0;
	if (!is_reg_imm_mov(&in[0], X86_REG_RCX) || !is_reg_imm_mov(&in[1], X86_REG_RAX) ||
	    !is_jmp_reg(&in[2], X86_REG_RAX))
		return 0;
	uint64_t rcx = (uint64_t)d[0].x86.operands[1].imm, rax = (uint64_t)d[1].x86.operands[1].imm;
	uint64_t at = (uint64_t)s->rva + i;
	abs_field f[] = {{at + 2, 8, 0}, {at + 12, 8, rax != 0}};
	if (!relocs_agree(s, i, X64_THUNK_LEN, f, 2))
		return 0;
	if (rcx == 0 && rax == 0)
		return 1; /* filled at run time */
	return in_exec(s->c->img, rax);
}

/* 48 B8 imm64 FF E0 */
static int confirm_movrax_jmp(shape_scan *s, uint32_t i)
{
	const uint8_t *p = s->base + i;
	if (p[10] != 0xff || p[11] != 0xe0)
		return 0;
	/* The tail of an x64 thunk is reported as that thunk. */
	if (i >= 10 && p[-10] == 0x48 && p[-9] == 0xb9)
		return 0;
	cs_insn in[2];
	cs_detail d[2];
	if (decode(s, i, MOVRAX_JMP_LEN, in, d, 2) != 2)
		return 0;
	if (!is_reg_imm_mov(&in[0], X86_REG_RAX) || !is_jmp_reg(&in[1], X86_REG_RAX))
		return 0;
	/* Not with a zero immediate: that is also unlinked code (object files
	 * embedded as data, such as GRUB's modules), which runs elsewhere. */
	uint64_t rax = (uint64_t)d[0].x86.operands[1].imm;
	abs_field f[] = {{(uint64_t)s->rva + i + 2, 8, 1}};
	return in_exec(s->c->img, rax) && relocs_agree(s, i, MOVRAX_JMP_LEN, f, 1);
}

/* 68 imm32 C3 */
static int confirm_push_ret(shape_scan *s, uint32_t i)
{
	if (s->base[i + 5] != 0xc3)
		return 0;
	cs_insn in[2];
	cs_detail d[2];
	if (decode(s, i, PUSH_RET_LEN, in, d, 2) != 2)
		return 0;
	const cs_x86 *a = &d[0].x86;
	if (in[0].id != X86_INS_PUSH || in[0].size != 5 || a->op_count != 1 ||
	    a->operands[0].type != X86_OP_IMM || in[1].id != X86_INS_RET || in[1].size != 1)
		return 0;
	uint64_t v = (uint64_t)a->operands[0].imm;
	if (s->c->arch == NXP_EV_ARCH_X86)
		v &= 0xffffffffu;
	abs_field f[] = {{(uint64_t)s->rva + i + 1, 4, 1}};
	return in_exec(s->c->img, v) && relocs_agree(s, i, PUSH_RET_LEN, f, 1);
}

/* FF 25 disp32 (or 48 FF 25 on amd64): jmp [abs32] / jmp [rip+disp32].
 * Returns the stub's length, 0 when rejected. */
static uint32_t confirm_jmp_mem(shape_scan *s, uint32_t i)
{
	const nxp_image *img = s->c->img;
	cs_insn in[1];
	cs_detail d[1];
	uint32_t n = 6;
	if (s->c->arch == NXP_EV_ARCH_X64 && s->base[i] == 0x48)
		n = 7;
	if (decode(s, i, n, in, d, 1) != 1 || in[0].size != n || in[0].id != X86_INS_JMP)
		return 0;
	const cs_x86 *x = &d[0].x86;
	if (x->op_count != 1 || x->operands[0].type != X86_OP_MEM ||
	    x->operands[0].mem.index != X86_REG_INVALID ||
	    x->operands[0].mem.segment != X86_REG_INVALID)
		return 0;
	uint64_t slot;
	abs_field f[] = {{(uint64_t)s->rva + i + n - 4, 4, 1}};
	unsigned nf = 1;
	if (s->c->arch == NXP_EV_ARCH_X64) {
		if (x->operands[0].mem.base != X86_REG_RIP)
			return 0;
		slot = in[0].address + n + (uint64_t)x->operands[0].mem.disp; /* an RVA */
		nf = 0; /* RIP-relative: nothing to relocate */
	} else {
		if (x->operands[0].mem.base != X86_REG_INVALID)
			return 0;
		uint64_t va = (uint64_t)x->operands[0].mem.disp & 0xffffffffu;
		if (va < img->image_base)
			return 0;
		slot = va - img->image_base;
	}
	return slot_ok(img, slot) && relocs_agree(s, i, n, f, nf) ? n : 0;
}

typedef int (*confirm_fn)(shape_scan *s, uint32_t i);

/* Every candidate of shape k (pattern bytes with room for the shape), front
 * to back; after a confirmed one, the search goes on past its end. */
static int scan_pattern(shape_scan *s, unsigned k, confirm_fn ok, nxp_evidence_kind kind)
{
	uint32_t n = s->cands.pat[k].room, pos = 0, i;
	while ((i = nxpi_ev_cand_next(&s->cands, k, pos)) != NXP_EV_CAND_NONE) {
		if (!skipped(s, i, n) && ok(s, i) && !runs_into_text(s, i, n)) {
			int rc = nxpi_ev_add(s->c, kind, (uint64_t)s->rva + i);
			if (rc)
				return rc;
			pos = i + n;
			continue;
		}
		pos = i + 1;
	}
	return NXP_OK;
}

/* FF 25 candidates (room for 6 bytes), on amd64 widened to a REX.W prefix
 * before them. */
static int scan_jmp_mem(shape_scan *s, unsigned k)
{
	uint32_t pos = 0, q;
	while ((q = nxpi_ev_cand_next(&s->cands, k, pos)) != NXP_EV_CAND_NONE) {
		uint32_t i = q;
		if (s->c->arch == NXP_EV_ARCH_X64 && i > 0 && s->base[i - 1] == 0x48)
			i--;
		uint32_t n;
		if (!skipped(s, i, 6) && (n = confirm_jmp_mem(s, i)) != 0 && !runs_into_text(s, i, n)) {
			int rc = nxpi_ev_add(s->c, NXP_EV_ABS_JUMP, (uint64_t)s->rva + i);
			if (rc)
				return rc;
			pos = i + n;
			continue;
		}
		pos = q + 1;
	}
	return NXP_OK;
}

/* The shapes of each architecture, in the order their evidence is
 * reported within a section: {pattern, probe offset, probe byte, room}
 * (evidence_cands.h), confirmation, kind. The pattern is the shape's first
 * bytes, room its length; the probe is the pattern's second byte, or for
 * push imm32; ret the C3 that confirm_push_ret requires at +5 (a 1-byte
 * pattern alone would match every 256 bytes of random data). */
typedef struct shape {
	nxpi_ev_pattern pat;
	confirm_fn ok; /* NULL: jmp [mem], scan_jmp_mem */
	nxp_evidence_kind kind;
} shape;

static const shape X86_SHAPES[] = {
	{{{0xc7, 0x44, 0x24, 0x04}, 4, 1, 0x44, ATL_LEN}, confirm_atl, NXP_EV_ATL_THUNK},
	{{{0x68}, 1, 5, 0xc3, PUSH_RET_LEN}, confirm_push_ret, NXP_EV_ABS_JUMP},
	{{{0xff, 0x25}, 2, 1, 0x25, 6}, NULL, NXP_EV_ABS_JUMP},
};

static const shape X64_SHAPES[] = {
	{{{0x48, 0xb9}, 2, 1, 0xb9, X64_THUNK_LEN}, confirm_x64_thunk, NXP_EV_X64_THUNK},
	{{{0x48, 0xb8}, 2, 1, 0xb8, MOVRAX_JMP_LEN}, confirm_movrax_jmp, NXP_EV_ABS_JUMP},
	{{{0x68}, 1, 5, 0xc3, PUSH_RET_LEN}, confirm_push_ret, NXP_EV_ABS_JUMP},
	{{{0xff, 0x25}, 2, 1, 0x25, 6}, NULL, NXP_EV_ABS_JUMP},
};

static int scan_section(shape_scan *s, const shape *sh, unsigned nsh)
{
	for (unsigned k = 0; k < nsh; k++) {
		int rc = sh[k].ok ? scan_pattern(s, k, sh[k].ok, sh[k].kind) : scan_jmp_mem(s, k);
		if (rc)
			return rc;
	}
	return NXP_OK;
}

static void add_skip(shape_scan *s, const nxp_located *d)
{
	if (d->present && s->nskip < NXP_ARRAY_LEN(s->skip))
		s->skip[s->nskip++] = (span64){d->rva, (uint64_t)d->rva + d->size};
}

static void add_skip_dir(shape_scan *s, const nxp_image *img, unsigned idx)
{
	if (idx < img->ndirs_used && img->dirs[idx].size && s->nskip < NXP_ARRAY_LEN(s->skip))
		s->skip[s->nskip++] =
			(span64){img->dirs[idx].rva, (uint64_t)img->dirs[idx].rva + img->dirs[idx].size};
}

int nxpi_ev_pattern_section(const nxp_section *s)
{
	/* Code is not data; discardable data is debug information or
	 * relocations. */
	return !(s->characteristics & (NXP_SCN_MEM_EXECUTE | NXP_SCN_MEM_DISCARDABLE));
}

int nxpi_ev_shapes(nxpi_ev_ctx *c)
{
	const nxp_image *img = c->img;
	if (c->arch != NXP_EV_ARCH_X86 && c->arch != NXP_EV_ARCH_X64)
		return NXP_OK;
	int x86 = c->arch == NXP_EV_ARCH_X86;
	const shape *sh = x86 ? X86_SHAPES : X64_SHAPES;
	unsigned nsh = x86 ? NXP_ARRAY_LEN(X86_SHAPES) : NXP_ARRAY_LEN(X64_SHAPES);
	nxpi_ev_pattern pat[NXP_EV_MAX_PATTERNS];
	for (unsigned k = 0; k < nsh; k++)
		pat[k] = sh[k].pat;
	shape_scan s = {.c = c};
	int rc = nxpi_ev_cands_init(&s.cands, pat, nsh, NXP_EV_SCAN_AUTO);
	add_skip(&s, &img->exception);
	add_skip(&s, &img->imports_dir);
	add_skip(&s, &img->reloc);
	add_skip_dir(&s, img, NXP_DIR_RESOURCE);
	add_skip_dir(&s, img, NXP_DIR_DEBUG);
	for (unsigned k = 0; !rc && k < img->nsections; k++) {
		const nxp_section *sec = &img->sections[k];
		if (!nxpi_ev_pattern_section(sec))
			continue;
		if (c->f->unsearched[k]) /* derived on demand (analysis/internal.h) */
			continue;
		uint32_t off;
		nxpi_ev_section_bytes(img, (int)k, &off, &s.len);
		s.base = img->data + off;
		s.rva = sec->virtual_address;
		nxpi_ev_cands_section(&s.cands, s.base, s.len);
		rc = scan_section(&s, sh, nsh);
	}
	nxpi_ev_cands_free(&s.cands);
	return rc;
}
