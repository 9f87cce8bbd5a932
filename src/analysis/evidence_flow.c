/* SPDX-License-Identifier: Apache-2.0 */
/* Function-pointer flows within a basic block (x86, x64): the address of a
 * non-executable location is loaded into a register or a stack slot, and a
 * few instructions later the code calls or jumps through it:
 *
 *     lea rax, [rip+thunk]           mov dword [esp+0x1c], offset thunk
 *     mov [rsp+0x28], rax            mov eax, [esp+0x1c]
 *     mov rax, [rsp+0x28]            call eax
 *     call rax
 *
 * and calls through a pointer slot the image relocates (call [rip+fp],
 * mov rax, [rip+fp]; call rax) whose pointer names a non-executable
 * location. The target must still look like code (nxpi_ev_looks_like_code).
 *
 * Finding them costs no sweep: a vector pass finds each FF /2 and FF /4
 * (call/jmp r/m) of an executable section, and those through a register, a
 * stack slot or [rip/abs32] are the sites. For a site the
 * NXP_EV_FLOW_WINDOW bytes before it are searched for the exact encodings
 * that load an address (lea/mov with a RIP-relative or absolute operand,
 * mov reg/stack slot with an immediate, movabs) whose location (or, for a
 * load from a slot, the relocated pointer in it) lies in a non-executable
 * section and looks like code. Only then is the block decoded with
 * Capstone (detail on), from the load to the call, tracking registers and
 * stack slots; any branch on the way, or a decode that does not land on
 * the call, ends the flow. Looks-like-code checks are budgeted per section
 * (NXP_EV_FLOW_CHECKS + 1 per 256 bytes), so hostile input stays linear.
 * Evidence kinds are call_target / jump_target. */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "analysis/evidence_int.h"
#include "analysis/x86.h"
#include "util/bytes.h"

#define NXP_EV_FLOW_WINDOW 48u  /* bytes searched before a call through a register */
#define NXP_EV_FLOW_INSNS 12u   /* instructions decoded from the load to the call */
#define NXP_EV_FLOW_CHECKS 64u  /* block decodes per section, plus 1 per 256 bytes */
#define NXP_EV_FLOW_SLOTS 8u    /* stack slots tracked */

typedef struct flow_slot {
	int base;     /* register index of rsp/rbp/esp/ebp */
	int64_t disp;
	uint64_t val;
} flow_slot;

typedef struct flow_state {
	uint64_t val[16]; /* RVA held by each general register */
	uint32_t known;   /* bit per register */
	flow_slot slot[NXP_EV_FLOW_SLOTS];
	unsigned nslots;
} flow_state;

/* A full-width register: 64-bit on x64, 32-bit on x86 (a pointer fits). */
static int full_gpr(const nxpi_ev_ctx *c, x86_reg r)
{
	int g = nxpi_x86_gpr(r);
	if (g < 0)
		return -1;
	if (c->arch == NXP_EV_ARCH_X64)
		return r == X86_REG_RAX || r == X86_REG_RCX || r == X86_REG_RDX || r == X86_REG_RBX ||
		               r == X86_REG_RSP || r == X86_REG_RBP || r == X86_REG_RSI ||
		               r == X86_REG_RDI || (r >= X86_REG_R8 && r <= X86_REG_R15)
		           ? g
		           : -1;
	return r == X86_REG_EAX || r == X86_REG_ECX || r == X86_REG_EDX || r == X86_REG_EBX ||
	               r == X86_REG_ESP || r == X86_REG_EBP || r == X86_REG_ESI || r == X86_REG_EDI
	           ? g
	           : -1;
}

/* A stack slot operand: [rsp/rbp/esp/ebp + disp], no index. */
static int stack_slot(const cs_x86_op *op, int *base, int64_t *disp)
{
	if (op->type != X86_OP_MEM || op->mem.index != X86_REG_INVALID ||
	    op->mem.segment != X86_REG_INVALID)
		return 0;
	int b = nxpi_x86_gpr(op->mem.base);
	if (b != 4 && b != 5)
		return 0;
	*base = b;
	*disp = op->mem.disp;
	return 1;
}

static void slot_kill(flow_state *st, int base, int64_t disp, int all_of_base)
{
	for (unsigned k = 0; k < st->nslots;) {
		if (st->slot[k].base == base && (all_of_base || st->slot[k].disp == disp))
			st->slot[k] = st->slot[--st->nslots];
		else
			k++;
	}
}

static void slot_set(flow_state *st, int base, int64_t disp, int have, uint64_t val)
{
	slot_kill(st, base, disp, 0);
	if (have && st->nslots < NXP_EV_FLOW_SLOTS)
		st->slot[st->nslots++] = (flow_slot){base, disp, val};
}

static int slot_get(const flow_state *st, int base, int64_t disp, uint64_t *val)
{
	for (unsigned k = 0; k < st->nslots; k++)
		if (st->slot[k].base == base && st->slot[k].disp == disp) {
			*val = st->slot[k].val;
			return 1;
		}
	return 0;
}

/* The RVA an absolute or RIP-relative memory operand names; 0 when it is
 * neither. */
static int mem_address(const nxpi_ev_ctx *c, const cs_insn *in, const cs_x86_op *op, uint64_t *rva)
{
	if (op->type != X86_OP_MEM || op->mem.index != X86_REG_INVALID ||
	    op->mem.segment != X86_REG_INVALID)
		return 0;
	if (c->arch == NXP_EV_ARCH_X64 && op->mem.base == X86_REG_RIP) {
		*rva = in->address + in->size + (uint64_t)op->mem.disp;
		return 1;
	}
	if (c->arch == NXP_EV_ARCH_X86 && op->mem.base == X86_REG_INVALID) {
		uint64_t va = (uint64_t)op->mem.disp & 0xffffffffu;
		if (va < c->img->image_base)
			return 0;
		*rva = va - c->img->image_base;
		return 1;
	}
	return 0;
}

static int in_iat(const nxp_image *img, uint64_t rva)
{
	if (NXP_DIR_IAT >= img->ndirs_used)
		return 0;
	const nxp_data_dir *iat = &img->dirs[NXP_DIR_IAT];
	return iat->size && rva >= iat->rva && rva - iat->rva < iat->size;
}

/* The pointer in a slot the image relocates (or, without relocations, any
 * aligned file-backed slot), as an RVA into a non-executable section. The
 * import address table is not such a slot: its entries are filled by the
 * loader. */
static int relocated_pointer(nxpi_ev_ctx *c, uint64_t slot, uint64_t *rva)
{
	const nxp_image *img = c->img;
	uint32_t ptr = img->pe32plus ? 8 : 4, off;
	if (in_iat(img, slot))
		return 0;
	if (slot % ptr || nxpi_ev_bytes_at(img, slot, &off) < ptr)
		return 0;
	if (nxpi_ev_relocatable(c) && !nxpi_ev_reloc_at(c, slot, ptr))
		return 0;
	uint64_t va = ptr == 8 ? nxpi_le64(img->data + off) : nxpi_le32(img->data + off);
	if (va < img->image_base || nxpi_ev_nonexec_section(img, va - img->image_base) < 0)
		return 0;
	*rva = va - img->image_base;
	return 1;
}

/* An absolute address as an immediate (x86 mov imm32, x64 movabs): as an
 * RVA, relocated where the image has relocations. */
static int imm_address(nxpi_ev_ctx *c, const cs_insn *in, int64_t imm, uint64_t *rva)
{
	const nxp_image *img = c->img;
	uint64_t va = (uint64_t)imm;
	if (c->arch == NXP_EV_ARCH_X86)
		va &= 0xffffffffu;
	const cs_x86 *x = &in->detail->x86;
	if (va < img->image_base || !x->encoding.imm_offset)
		return 0;
	if (nxpi_ev_relocatable(c) &&
	    !nxpi_ev_reloc_at(c, in->address + x->encoding.imm_offset, x->encoding.imm_size))
		return 0;
	*rva = va - img->image_base;
	return 1;
}

static int is_branch(unsigned id)
{
	return id == X86_INS_CALL || id == X86_INS_JMP || id == X86_INS_RET || id == X86_INS_RETF ||
	       (id >= X86_INS_JAE && id <= X86_INS_JS) || id == X86_INS_JCXZ || id == X86_INS_JECXZ ||
	       id == X86_INS_JRCXZ || id == X86_INS_LOOP || id == X86_INS_INT3 || id == X86_INS_INT ||
	       id == X86_INS_SYSCALL || id == X86_INS_LJMP || id == X86_INS_LCALL;
}

/* One instruction of the block: update what registers and slots hold. */
static void step(nxpi_ev_ctx *c, const cs_insn *in, flow_state *st)
{
	const cs_x86 *x = &in->detail->x86;
	int dst = x->op_count == 2 && x->operands[0].type == X86_OP_REG
	              ? full_gpr(c, x->operands[0].reg)
	              : -1;
	uint64_t v = 0;
	int have = 0, base;
	int64_t disp;
	if (dst >= 0 && (in->id == X86_INS_LEA || in->id == X86_INS_MOV || in->id == X86_INS_MOVABS)) {
		const cs_x86_op *src = &x->operands[1];
		uint64_t a;
		if (in->id == X86_INS_LEA)
			have = mem_address(c, in, src, &v);
		else if (src->type == X86_OP_IMM)
			have = imm_address(c, in, src->imm, &v);
		else if (src->type == X86_OP_REG && full_gpr(c, src->reg) >= 0) {
			int s = full_gpr(c, src->reg);
			have = (st->known >> s) & 1;
			v = st->val[s];
		} else if (stack_slot(src, &base, &disp))
			have = slot_get(st, base, disp, &v);
		else if (mem_address(c, in, src, &a))
			have = relocated_pointer(c, a, &v);
		if (dst == 4)
			slot_kill(st, 4, 0, 1);
		st->known = have ? st->known | 1u << dst : st->known & ~(1u << dst);
		st->val[dst] = v;
		return;
	}
	if (in->id == X86_INS_MOV && x->op_count == 2 && stack_slot(&x->operands[0], &base, &disp)) {
		const cs_x86_op *src = &x->operands[1];
		if (src->type == X86_OP_REG && full_gpr(c, src->reg) >= 0) {
			int s = full_gpr(c, src->reg);
			have = (st->known >> s) & 1;
			v = st->val[s];
		} else if (src->type == X86_OP_IMM && x->operands[0].size == (c->arch == NXP_EV_ARCH_X64 ? 8 : 4)) {
			have = imm_address(c, in, src->imm, &v);
		}
		slot_set(st, base, disp, have, v);
		return;
	}
	/* Anything else: forget what it writes. */
	cs_regs rr, ww;
	uint8_t nr = 0, nw = 0;
	if (cs_regs_access(c->csd, in, rr, &nr, ww, &nw) == CS_ERR_OK) {
		for (unsigned k = 0; k < nw; k++) {
			int g = nxpi_x86_gpr(ww[k]);
			if (g >= 0)
				st->known &= ~(1u << g);
			if (g == 4)
				slot_kill(st, 4, 0, 1); /* rsp moved */
			if (g == 5)
				slot_kill(st, 5, 0, 1);
		}
	} else {
		st->known = 0;
		st->nslots = 0;
	}
	for (unsigned k = 0; k < x->op_count; k++)
		if (x->operands[k].type == X86_OP_MEM && (x->operands[k].access & CS_AC_WRITE)) {
			if (stack_slot(&x->operands[k], &base, &disp))
				slot_kill(st, base, disp, 0);
			else
				st->nslots = 0; /* could alias */
		}
}

/* Decode the block from the load at rva `from` to the call/jmp at `site`:
 * returns 1 with *target set when it calls through what holds the address
 * of a non-executable location, and *kind. `site` is the offset of the
 * call/jmp's FF byte. */
static int follow(nxpi_ev_ctx *c, const uint8_t *sec, uint32_t seclen, uint64_t lo, uint32_t from,
                  uint32_t site, uint64_t *target, nxp_evidence_kind *kind)
{
	if (!nxpi_ev_detail_handle(c))
		return 0;
	flow_state st;
	memset(&st, 0, sizeof(st));
	const uint8_t *code = sec + from;
	size_t size = seclen - from;
	uint64_t addr = lo + from;
	for (unsigned n = 0; n < NXP_EV_FLOW_INSNS && size > 0; n++) {
		if (!cs_disasm_iter(c->csd, &code, &size, &addr, c->insnd))
			return 0;
		const cs_insn *in = c->insnd;
		uint64_t end = in->address + in->size, at = lo + site;
		/* The call/jmp's FF byte is at `at`; a prefix may start it earlier. */
		int is_site = in->address <= at && end > at && at - in->address <= 1;
		if (!is_site && end <= at) {
			if (is_branch(in->id))
				return 0; /* the block ends before the call */
			step(c, in, &st);
			continue;
		}
		if (!is_site)
			return 0; /* decoded across the call: not this block */
		if (in->id != X86_INS_CALL && in->id != X86_INS_JMP)
			return 0;
		const cs_x86 *x = &in->detail->x86;
		if (x->op_count != 1)
			return 0;
		const cs_x86_op *op = &x->operands[0];
		int base, have = 0;
		int64_t disp;
		uint64_t v = 0, a;
		if (op->type == X86_OP_REG && full_gpr(c, op->reg) >= 0) {
			int g = full_gpr(c, op->reg);
			have = (st.known >> g) & 1;
			v = st.val[g];
		} else if (stack_slot(op, &base, &disp)) {
			have = slot_get(&st, base, disp, &v);
		} else if (mem_address(c, in, op, &a)) {
			have = relocated_pointer(c, a, &v);
		}
		if (!have || nxpi_ev_nonexec_section(c->img, v) < 0)
			return 0;
		*target = v;
		*kind = in->id == X86_INS_CALL ? NXP_EV_CALL : NXP_EV_JUMP;
		return 1;
	}
	return 0;
}

/* The first offset at or after i of an FF byte whose next byte has
 * ModRM.reg 2 or 4 (call/jmp r/m), or len: 16 positions at a time with SSE2
 * (code is full of FF bytes; most are displacements). */
static uint32_t next_site(const uint8_t *p, uint32_t i, uint32_t len)
{
#ifdef __SSE2__
	const __m128i ff = _mm_set1_epi8((char)0xff), reg = _mm_set1_epi8(0x38);
	const __m128i r2 = _mm_set1_epi8(0x10), r4 = _mm_set1_epi8(0x20);
	for (; len >= 17 && i <= len - 17; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		__m128i b = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(p + i + 1)), reg);
		__m128i m = _mm_and_si128(_mm_cmpeq_epi8(a, ff),
		                          _mm_or_si128(_mm_cmpeq_epi8(b, r2), _mm_cmpeq_epi8(b, r4)));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);
		if (bits)
			return i + (uint32_t)__builtin_ctz(bits);
	}
#endif
	for (; i + 1 < len; i++)
		if (p[i] == 0xff && ((p[i + 1] & 0x38) == 0x10 || (p[i + 1] & 0x38) == 0x20))
			return i;
	return len;
}

/* Byte offset of a call/jmp through a register or a stack slot ending the
 * flow at p[i] (FF with /2 or /4): its ModRM length, 0 when not one.
 * Through memory only as [rsp/rbp + disp8/disp32] or [rip/abs32]. */
static unsigned site_len(const uint8_t *p, uint32_t i, uint32_t len)
{
	if (p[i] != 0xff || i + 2 > len)
		return 0;
	uint8_t m = p[i + 1], r = (m >> 3) & 7, mod = m >> 6, rm = m & 7;
	if (r != 2 && r != 4)
		return 0;
	if (mod == 3)
		return 2; /* call/jmp reg */
	if (mod == 0 && rm == 5)
		return 6; /* [rip+disp32] / [abs32] */
	if (rm == 4)
		return i + 3 <= len && p[i + 2] == 0x24 ? (mod == 1 ? 4 : mod == 2 ? 7 : 0) : 0;
		/* [rsp + disp] (SIB 24) */
	if (rm == 5)
		return mod == 1 ? 3 : mod == 2 ? 6 : 0; /* [rbp + disp] */
	return 0;
}

/* Loads of an address that end at byte e of the window (the address is the
 * dword, or for movabs the qword, before e). Returns the instruction's
 * start offset, or -1. *addr is the RVA it names (for a load from memory:
 * the slot's; the block decode reads the pointer); *reg the register it
 * loads, -1 for a store to a stack slot. */
static int64_t load_at(nxpi_ev_ctx *c, const uint8_t *p, uint32_t e, uint64_t lo, uint64_t *addr,
                       int *reg)
{
	const nxp_image *img = c->img;
	if (e < 4)
		return -1;
	uint32_t d = e - 4;
	if (c->arch == NXP_EV_ARCH_X64 && (d < 1 || (p[d - 1] & 0xc7) != 0x05) && (e < 10 || (p[e - 9] & 0xf8) != 0xb8))
		return -1; /* neither ModRM 00 reg 101 nor B8+r: the common case first */
	uint32_t v32 = nxpi_le32(p + d);
	if (c->arch == NXP_EV_ARCH_X64) {
		/* REX.W 8D/8B ModRM(00 reg 101) disp32: lea/mov r64, [rip+disp32] */
		if (d >= 3 && (p[d - 3] & 0xfb) == 0x48 && (p[d - 2] == 0x8d || p[d - 2] == 0x8b) &&
		    (p[d - 1] & 0xc7) == 0x05) {
			*addr = lo + e + (uint64_t)(int64_t)(int32_t)v32;
			*reg = ((p[d - 1] >> 3) & 7) | (p[d - 3] & 4 ? 8 : 0);
			return d - 3;
		}
		/* REX.W B8+r imm64 (the qword ends at e) */
		if (e >= 10 && (p[e - 10] & 0xfe) == 0x48 && (p[e - 9] & 0xf8) == 0xb8) {
			uint64_t va = nxpi_le64(p + e - 8);
			if (va < img->image_base)
				return -1;
			*addr = va - img->image_base;
			*reg = (p[e - 9] & 7) | (p[e - 10] & 1 ? 8 : 0);
			return e - 10;
		}
		return -1;
	}
	if (v32 < img->image_base)
		return -1;
	*addr = v32 - img->image_base;
	*reg = -1;
	if (d >= 1 && (p[d - 1] & 0xf8) == 0xb8) {
		*reg = p[d - 1] & 7;
		return d - 1; /* mov r32, imm32 */
	}
	if (d >= 1 && p[d - 1] == 0xa1) {
		*reg = 0;
		return d - 1; /* mov eax, [abs32] */
	}
	if (d >= 2 && (p[d - 2] == 0x8d || p[d - 2] == 0x8b) && (p[d - 1] & 0xc7) == 0x05) {
		*reg = (p[d - 1] >> 3) & 7;
		return d - 2; /* lea/mov r32, [abs32] */
	}
	if (d >= 4 && p[d - 4] == 0xc7 && p[d - 3] == 0x44 && p[d - 2] == 0x24)
		return d - 4; /* mov dword [esp+disp8], imm32 */
	if (d >= 3 && p[d - 3] == 0xc7 && (p[d - 2] == 0x45 || (p[d - 2] == 0x04 && p[d - 1] == 0x24)))
		return d - 3; /* mov dword [ebp+disp8] / [esp], imm32 */
	return -1;
}

/* The register a call/jmp reg at p[i] goes through (REX.B before it on
 * x64), -1 for a memory operand. */
static int site_reg(const nxpi_ev_ctx *c, const uint8_t *p, uint32_t i)
{
	if (p[i + 1] >> 6 != 3)
		return -1;
	int rexb = c->arch == NXP_EV_ARCH_X64 && i > 0 && (p[i - 1] & 0xf1) == 0x41;
	return (p[i + 1] & 7) | (rexb ? 8 : 0);
}

/* A cheap gate before any decoding: the loaded register is the one called
 * through, or the bytes between the load (ending at e) and the call hold a
 * mov (89 / 8B) with that register in ModRM.reg, a store to a stack slot
 * or a copy; stores to a stack slot and calls through memory always pass. */
static int may_reach(const uint8_t *p, uint32_t e, uint32_t site, int reg, int creg)
{
	if (reg < 0 || creg < 0 || reg == creg)
		return 1;
	for (uint32_t k = e; k + 1 < site; k++)
		if ((p[k] == 0x89 || p[k] == 0x8b) && ((p[k + 1] >> 3) & 7) == (reg & 7))
			return 1;
	return 0;
}

/* The location a load at `from` (load_at) hands on: for lea/mov imm the
 * address itself, for a load from a slot the relocated pointer in it. */
static int loaded_target(nxpi_ev_ctx *c, const uint8_t *p, int64_t from, uint64_t a, uint64_t *t)
{
	uint8_t op = p[from];
	if (c->arch == NXP_EV_ARCH_X64 && (op & 0xf0) == 0x40)
		op = p[from + 1];
	if (op == 0x8b || op == 0xa1)
		return relocated_pointer(c, a, t); /* mov r, [slot] */
	*t = a;
	return nxpi_ev_nonexec_section(c->img, a) >= 0;
}

static int flow_section(nxpi_ev_ctx *c, int s)
{
	const nxp_image *img = c->img;
	uint32_t off, len;
	nxpi_ev_section_bytes(img, s, &off, &len);
	const uint8_t *p = img->data + off;
	uint64_t lo = img->sections[s].virtual_address;
	uint32_t checks = 0, max_checks = NXP_EV_FLOW_CHECKS + len / 256;
	uint64_t last = UINT64_MAX;
	int last_ok = 0;
	for (uint32_t i = next_site(p, 0, len); i < len; i = next_site(p, i + 1, len)) {
		unsigned sl = site_len(p, i, len);
		if (!sl || i + sl > len)
			continue;
		uint64_t t = 0, a;
		nxp_evidence_kind kind = ((p[i + 1] >> 3) & 7) == 2 ? NXP_EV_CALL : NXP_EV_JUMP;
		int found = 0;
		if (sl == 6 && (p[i + 1] & 0xc7) == 0x05) {
			/* call/jmp [rip+disp32] / [abs32]: the slot's own pointer. */
			uint32_t v = nxpi_le32(p + i + 2);
			if (c->arch == NXP_EV_ARCH_X64)
				a = lo + i + 6 + (uint64_t)(int64_t)(int32_t)v;
			else if (v >= img->image_base)
				a = v - img->image_base;
			else
				continue;
			found = !in_iat(img, a) && nxpi_ev_nonexec_section(img, a) >= 0 &&
			        relocated_pointer(c, a, &t) && nxpi_ev_looks_like_code(c, t, NXP_EV_LLC_BRANCH);
		} else {
			/* The loads that end before the call, nearest first. */
			uint32_t w0 = i > NXP_EV_FLOW_WINDOW ? i - NXP_EV_FLOW_WINDOW : 0;
			int creg = site_reg(c, p, i);
			for (uint32_t e = i; e > w0 && !found; e--) {
				int reg;
				int64_t from = load_at(c, p, e, lo, &a, &reg);
				if (from < (int64_t)w0 || !may_reach(p, e, i, reg, creg) ||
				    !loaded_target(c, p, from, a, &t))
					continue;
				/* It must look like code before the block is decoded. */
				if (t != last) {
					if (++checks > max_checks)
						return NXP_OK; /* budget spent: hostile or unusual code */
					last = t;
					last_ok = nxpi_ev_looks_like_code(c, t, NXP_EV_LLC_BRANCH);
				}
				if (last_ok)
					found = follow(c, p, len, lo, (uint32_t)from, i, &t, &kind);
			}
		}
		if (!found)
			continue;
		int rc = nxpi_ev_add(c, kind, t);
		if (rc)
			return rc;
	}
	return NXP_OK;
}

int nxpi_ev_flows(nxpi_ev_ctx *c)
{
	if (c->arch != NXP_EV_ARCH_X86 && c->arch != NXP_EV_ARCH_X64)
		return NXP_OK;
	for (unsigned s = 0; s < c->img->nsections; s++) {
		if (!(c->img->sections[s].characteristics & NXP_SCN_MEM_EXECUTE))
			continue;
		int rc = flow_section(c, (int)s);
		if (rc)
			return rc;
	}
	return NXP_OK;
}
