/* SPDX-License-Identifier: Apache-2.0 */
/* long-file: the one call-site sweep: decoding, slot tracking and argument resolution share the
 * sweep's state. */
/* Driver call sites: a linear sweep of one code buffer with Capstone (detail
 * on), finding calls to the APIs of nxp_drv_apis and tracking the deciding
 * argument back from each call within its basic block.
 *
 * Blocks: a new block starts at every direct branch or call target found in
 * the buffer (a first pass collects them) and after every instruction that
 * does not fall through (jmp, ret, int3, ud2, hlt). A conditional branch
 * does not end the block: the instruction after it has one predecessor
 * unless something branches to it, and then it is a target. A call is no
 * boundary either, but it clobbers the volatile registers (x64 rax, rcx, rdx,
 * r8-r11; x86 eax, ecx, edx), and an argument tracked back to one stops
 * there; pushes are not counted across it.
 *
 * Arguments: x64 registers rcx, rdx, r8, r9, then [rsp+0x20+8*(n-4)];
 * x86 stdcall the (n+1)th push back from the call. Followed through
 * `mov r, r2`, `push r` and `or r, imm`; ended by `mov r, imm`, `xor r, r`,
 * `sub r, r`, `and [rsp+n], 0`, a load from memory (unknown), or any other
 * write (computed: unknown). Register calls: `call reg` whose register was
 * last written, in the block, by `mov reg, [iat]`. Every other reference to
 * an interesting IAT slot, and every such register load whose calls are not
 * found in its block, is recorded as a reference: the caller cannot see
 * every call through it. */
#include <capstone/capstone.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/driver_int.h"
#include "analysis/x86.h"
#include "nxpatch/error.h"

/* One decoded instruction, as much as the resolver needs. */
typedef struct dins {
	uint32_t rva;
	uint8_t size;
	unsigned id;
	uint8_t b0;                 /* first opcode byte after prefixes */
	uint8_t nops;
	cs_x86_op op[2];
	uint8_t imm_offset, imm_size;
	uint32_t wmask;             /* GPRs written (bit = canonical index), bit 16 = rsp */
} dins;

#define RSP_BIT (1u << 4)

typedef struct sweep {
	nxpi_drv_scan *s;
	csh cs;
	cs_insn *insn;
	uint32_t *targets;          /* sorted */
	size_t ntargets;
	dins win[NXP_DRV_WINDOW];   /* ring */
	size_t nwin;                /* entries in the current block (may exceed the ring) */
	size_t head;                /* next slot */
	struct thunk {
		uint32_t rva, iat_rva;
		uint16_t api;
	} thunks[NXP_DRV_MAX_LOADS];
	size_t nthunks;
	struct load {
		uint32_t rva, iat_rva;
		uint16_t api;
		int used;
		int wrapped;        /* lea/mov of an NX wrapper's address, not an IAT load */
	} loads[NXP_DRV_MAX_LOADS];
	size_t nloads;
} sweep;

static int slot_api(const nxpi_drv_code *c, uint64_t rva)
{
	size_t lo = 0, hi = c->nslots;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->slots[mid].rva == rva)
			return c->slots[mid].api;
		if (c->slots[mid].rva < rva)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The RVA a memory operand names when it is a global: [rip+disp] (x64) or
 * [disp32] (x86, without base or index); 0 otherwise. */
static uint64_t mem_global(const sweep *w, const dins *in, const x86_op_mem *m)
{
	const nxpi_drv_code *c = w->s->code;
	if (m->index != X86_REG_INVALID)
		return 0;
	if (c->is64 && m->base == X86_REG_RIP)
		return (uint32_t)(in->rva + in->size + (uint64_t)m->disp);
	if (!c->is64 && m->base == X86_REG_INVALID) {
		uint64_t va = (uint32_t)m->disp;
		return va >= c->image_base ? va - c->image_base : 0;
	}
	return 0;
}

/* The NX wrapper at rva, or NULL. */
static const nxpi_drv_wrap *find_wrap(const nxpi_drv_code *c, uint64_t rva)
{
	for (size_t i = 0; i < c->nwraps; i++)
		if (c->wraps[i].rva == rva)
			return &c->wraps[i];
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int is_target(const sweep *w, uint32_t rva)
{
	return w->ntargets && bsearch(&rva, w->targets, w->ntargets, sizeof(*w->targets), cmp_u32);
}

/* Pass 1: direct branch and call targets (rel8/rel32) inside the buffer. */
static int collect_targets(sweep *w, const uint8_t *code, size_t len, uint32_t rva)
{
	size_t cap = 0;
	const uint8_t *p = code;
	size_t size = len;
	uint64_t addr = rva;
	while (size > 0) {
		if (!cs_disasm_iter(w->cs, &p, &size, &addr, w->insn)) {
			p++, size--, addr++;
			continue;
		}
		const cs_insn *in = w->insn;
		const cs_x86 *x = &in->detail->x86;
		if (in->id == X86_INS_JMP && x->op_count == 1 && x->operands[0].type == X86_OP_MEM &&
		    w->nthunks < NXP_DRV_MAX_LOADS) {
			/* jmp [iat]: an import thunk when it starts a block (checked in pass 2). */
			const x86_op_mem *m = &x->operands[0].mem;
			uint64_t g = 0;
			if (m->index == X86_REG_INVALID && m->base == X86_REG_RIP)
				g = (uint32_t)(in->address + in->size + (uint64_t)m->disp);
			else if (m->index == X86_REG_INVALID && m->base == X86_REG_INVALID &&
			         !w->s->code->is64 && (uint32_t)m->disp >= w->s->code->image_base)
				g = (uint32_t)m->disp - w->s->code->image_base;
			int api = g ? slot_api(w->s->code, g) : -1;
			if (api >= 0)
				w->thunks[w->nthunks++] =
					(struct thunk){(uint32_t)in->address, (uint32_t)g, (uint16_t)api};
			continue;
		}
		if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
			continue;
		int branch = in->id == X86_INS_CALL || in->id == X86_INS_JMP ||
		             cs_insn_group(w->cs, in, X86_GRP_JUMP);
		if (!branch)
			continue;
		uint64_t t = (uint64_t)x->operands[0].imm;
		if (t < rva || t - rva >= len)
			continue;
		if (w->ntargets == cap) {
			if (cap >= NXP_DRV_MAX_TARGETS)
				break;
			size_t ncap = cap ? cap * 2 : 256;
			uint32_t *nt = realloc(w->targets, ncap * sizeof(*nt));
			if (!nt)
				return NXP_E_NOMEM;
			w->targets = nt;
			cap = ncap;
		}
		w->targets[w->ntargets++] = (uint32_t)t;
	}
	if (w->ntargets > 1)
		qsort(w->targets, w->ntargets, sizeof(*w->targets), cmp_u32);
	return NXP_OK;
}

/* The i-th instruction back from the newest (0 = newest), or NULL past the
 * block start or the ring. */
static const dins *back(const sweep *w, size_t i)
{
	if (i >= w->nwin || i >= NXP_DRV_WINDOW)
		return NULL;
	return &w->win[(w->head + NXP_DRV_WINDOW - 1 - i) % NXP_DRV_WINDOW];
}

static int mov_like(unsigned id)
{
	return id == X86_INS_MOV || id == X86_INS_MOVABS;
}

/* Resolve the value of register `reg` (canonical) as of just before the
 * instruction `from` back (exclusive); fills the site. */
static void resolve_reg(const sweep *w, size_t from, int reg, nxp_drv_site *site)
{
	for (size_t i = from;; i++) {
		const dins *in = back(w, i);
		if (!in) {
			site->how = NXP_HOW_NOT_IN_BLOCK;
			return;
		}
		if (!(in->wmask & (1u << reg)))
			continue;
		site->setter_rva = in->rva;
		site->setter_len = in->size;
		if (in->id == X86_INS_CALL) {
			site->how = NXP_HOW_NOT_IN_BLOCK; /* clobbered by an earlier call */
			return;
		}
		const cs_x86_op *d = &in->op[0], *s = &in->op[1];
		int full = in->nops == 2 && d->type == X86_OP_REG && nxpi_x86_gpr(d->reg) == reg &&
		           (d->size == 4 || d->size == 8);
		if (full && mov_like(in->id) && s->type == X86_OP_IMM) {
			site->known = 1;
			site->value = d->size == 4 ? (uint32_t)s->imm : (uint64_t)s->imm;
			site->value |= site->or_bits;
			if (in->imm_size >= 4) {
				site->how = NXP_HOW_IMM32;
				site->imm_rva = in->rva + in->imm_offset;
				site->imm_size = in->imm_size;
			} else {
				site->how = NXP_HOW_IMM_SHORT;
			}
			return;
		}
		if (full && mov_like(in->id) && s->type == X86_OP_REG && nxpi_x86_gpr(s->reg) >= 0 &&
		    (s->size == 4 || s->size == 8)) {
			reg = nxpi_x86_gpr(s->reg);
			continue;
		}
		if (full && (in->id == X86_INS_XOR || in->id == X86_INS_SUB) &&
		    s->type == X86_OP_REG && s->reg == d->reg) {
			site->known = 1;
			site->value = site->or_bits;
			site->how = NXP_HOW_XOR;
			return;
		}
		if (full && in->id == X86_INS_OR && s->type == X86_OP_IMM) {
			site->or_bits |= (uint32_t)s->imm;
			continue;
		}
		if (full && mov_like(in->id) && s->type == X86_OP_MEM) {
			site->how = NXP_HOW_MEMORY;
			site->global_rva = (uint32_t)mem_global(w, in, &s->mem);
			return;
		}
		site->how = NXP_HOW_COMPUTED;
		return;
	}
}

/* The stack moved at instruction in in a way not followed: the argument is
 * unknown (NXP_HOW_STACK), in named as its setter. */
static void stack_moved(nxp_drv_site *site, const dins *in)
{
	site->how = NXP_HOW_STACK;
	site->setter_rva = in->rva;
	site->setter_len = in->size;
}

/* A stack argument at [rsp+disp] (x64) / [esp+disp] (x86, gcc's `mov
 * [esp+n], ...` before a call instead of pushes) as of before instruction
 * `from` back. */
static void resolve_stack(const sweep *w, size_t from, int64_t disp, nxp_drv_site *site)
{
	x86_reg sp = w->s->code->is64 ? X86_REG_RSP : X86_REG_ESP;
	for (size_t i = from;; i++) {
		const dins *in = back(w, i);
		if (!in) {
			site->how = NXP_HOW_NOT_IN_BLOCK;
			return;
		}
		if (in->id == X86_INS_CALL) {
			site->how = NXP_HOW_NOT_IN_BLOCK;
			return;
		}
		if (in->wmask & RSP_BIT) {
			stack_moved(site, in);
			return;
		}
		const cs_x86_op *d = &in->op[0], *s = &in->op[1];
		if (in->nops < 1 || d->type != X86_OP_MEM || !(d->access & CS_AC_WRITE))
			continue;
		if (d->mem.base != sp || d->mem.index != X86_REG_INVALID)
			continue;
		if (d->mem.disp + d->size <= disp || d->mem.disp >= disp + 4)
			continue; /* another slot */
		site->setter_rva = in->rva;
		site->setter_len = in->size;
		if (d->mem.disp != disp || (d->size != 4 && d->size != 8) || in->nops != 2) {
			site->how = NXP_HOW_COMPUTED;
			return;
		}
		if (mov_like(in->id) && s->type == X86_OP_IMM) {
			site->known = 1;
			site->value = d->size == 4 ? (uint32_t)s->imm : (uint64_t)s->imm;
			site->how = in->imm_size >= 4 ? NXP_HOW_IMM32 : NXP_HOW_IMM_SHORT;
			if (in->imm_size >= 4) {
				site->imm_rva = in->rva + in->imm_offset;
				site->imm_size = in->imm_size;
			}
			return;
		}
		if (in->id == X86_INS_AND && s->type == X86_OP_IMM && s->imm == 0) {
			site->known = 1;
			site->value = 0;
			site->how = NXP_HOW_IMM_SHORT;
			return;
		}
		if (mov_like(in->id) && s->type == X86_OP_REG && nxpi_x86_gpr(s->reg) >= 0) {
			resolve_reg(w, i + 1, nxpi_x86_gpr(s->reg), site);
			return;
		}
		site->how = NXP_HOW_COMPUTED;
		return;
	}
}

/* x86 stdcall argument n: the (n+1)th push back from the call. */
static void resolve_push(const sweep *w, int n, nxp_drv_site *site)
{
	int seen = 0;
	for (size_t i = 1;; i++) {
		const dins *in = back(w, i);
		if (!in || in->id == X86_INS_CALL) {
			if (!seen) {
				resolve_stack(w, 1, 4 * n, site);
				return;
			}
			site->how = NXP_HOW_NOT_IN_BLOCK;
			return;
		}
		if (in->id != X86_INS_PUSH) {
			if ((in->wmask & RSP_BIT) && !seen) {
				/* No pushes: the arguments were stored to the stack. */
				resolve_stack(w, 1, 4 * n, site);
				return;
			}
			if (in->wmask & RSP_BIT) {
				stack_moved(site, in);
				return;
			}
			continue;
		}
		if (seen++ < n)
			continue;
		site->setter_rva = in->rva;
		site->setter_len = in->size;
		const cs_x86_op *o = &in->op[0];
		if (o->type == X86_OP_IMM) {
			site->known = 1;
			site->value = (uint32_t)o->imm;
			if (in->b0 == 0x68) {
				site->how = NXP_HOW_PUSH_IMM32;
				site->imm_rva = in->rva + in->imm_offset;
				site->imm_size = 4;
			} else {
				site->how = NXP_HOW_PUSH_IMM8;
			}
		} else if (o->type == X86_OP_REG && nxpi_x86_gpr(o->reg) >= 0) {
			resolve_reg(w, i + 1, nxpi_x86_gpr(o->reg), site);
		} else if (o->type == X86_OP_MEM) {
			site->how = NXP_HOW_MEMORY;
			site->global_rva = (uint32_t)mem_global(w, in, &o->mem);
		} else {
			site->how = NXP_HOW_COMPUTED;
		}
		return;
	}
}

static int add_ref(nxp_driver_facts *d, uint32_t rva, uint32_t iat, int api, const char *what)
{
	if (d->nrefs >= NXP_MAX_DRV_REFS) {
		d->refs_dropped++;
		return NXP_OK;
	}
	d->refs[d->nrefs++] = (nxp_drv_ref){rva, iat, (uint16_t)api, what};
	return NXP_OK;
}

static int add_site(sweep *w, const nxp_drv_site *site)
{
	nxp_driver_facts *d = w->s->d;
	if (d->nsites >= NXP_MAX_DRV_SITES) {
		d->sites_dropped++;
		return NXP_OK;
	}
	if (!d->sites && !(d->sites = malloc(NXP_MAX_DRV_SITES * sizeof(*d->sites))))
		return NXP_E_NOMEM;
	d->sites[d->nsites++] = *site;
	return NXP_OK;
}

/* The call just decoded (newest in the window) reaches API `api` through
 * slot `iat`: resolve its argument and record the site. */
static int record_call(sweep *w, int api, uint32_t iat, nxp_call_shape shape, const struct load *ld,
                       uint32_t thunk, int wrapped)
{
	const dins *call = back(w, 0);
	const nxp_drv_api *a = &nxp_drv_apis[api];
	nxp_drv_site site = {0};
	site.rva = call->rva;
	site.call_len = call->size;
	site.call = shape;
	site.iat_rva = iat;
	site.api = (uint16_t)api;
	site.code = a->code;
	if (ld) {
		site.load_rva = ld->rva;
		site.load_len = 0;
		for (size_t i = 1; back(w, i); i++)
			if (back(w, i)->rva == ld->rva)
				site.load_len = back(w, i)->size;
	}
	if (shape == NXP_CALL_THUNK)
		site.load_rva = thunk;
	if (a->arg < 0) {
		site.how = NXP_HOW_NONE;
		site.verdict = NXP_SITE_NOT_FIXABLE;
		return add_site(w, &site);
	}
	if (shape == NXP_CALL_JMP_IAT && !w->s->code->is64) {
		site.how = NXP_HOW_STACK; /* a tail call: the caller pushed the arguments */
	} else if (w->s->code->is64) {
		static const int regs[4] = {1, 2, 8, 9}; /* rcx, rdx, r8, r9 */
		if (a->arg < 4)
			resolve_reg(w, 1, regs[a->arg], &site);
		else
			resolve_stack(w, 1, 0x20 + 8 * (a->arg - 4), &site);
	} else {
		resolve_push(w, a->arg, &site);
	}
	site.verdict = site.known ? nxpi_drv_judge(a->kind, site.value) : NXP_SITE_UNKNOWN;
	if (wrapped && site.verdict != NXP_SITE_OK)
		site.verdict = NXP_SITE_WRAPPED; /* the wrapper asks for NX whatever the type */
	return add_site(w, &site);
}

static const struct thunk *find_thunk(const sweep *w, uint64_t rva)
{
	for (size_t i = 0; i < w->nthunks; i++)
		if (w->thunks[i].rva == rva)
			return &w->thunks[i];
	return NULL;
}

/* The last write to register reg in the block, when it is a load from an
 * interesting IAT slot recorded in w->loads. */
static struct load *reg_load(sweep *w, int reg)
{
	for (size_t i = 1;; i++) {
		const dins *in = back(w, i);
		if (!in)
			return NULL;
		if (!(in->wmask & (1u << reg)))
			continue;
		for (size_t k = w->nloads; k-- > 0;)
			if (w->loads[k].rva == in->rva)
				return &w->loads[k];
		return NULL;
	}
}

static void push_insn(sweep *w, const cs_insn *in, uint32_t rva)
{
	const cs_x86 *x = &in->detail->x86;
	dins *d = &w->win[w->head];
	w->head = (w->head + 1) % NXP_DRV_WINDOW;
	w->nwin++;
	memset(d, 0, sizeof(*d));
	d->rva = rva;
	d->size = (uint8_t)in->size;
	d->id = in->id;
	d->b0 = x->opcode[0];
	d->nops = x->op_count > 2 ? 2 : x->op_count;
	for (unsigned i = 0; i < d->nops; i++)
		d->op[i] = x->operands[i];
	d->imm_offset = x->encoding.imm_offset;
	d->imm_size = x->encoding.imm_size;
	cs_regs rr, ww;
	uint8_t nr = 0, nw = 0;
	if (cs_regs_access(w->cs, in, rr, &nr, ww, &nw) == CS_ERR_OK)
		for (unsigned i = 0; i < nw; i++) {
			int c = nxpi_x86_gpr((x86_reg)ww[i]);
			if (c >= 0)
				d->wmask |= 1u << c;
		}
	if (in->id == X86_INS_CALL)
		d->wmask |= w->s->code->is64 ? 0x0f07u : 0x07u; /* the volatile registers */
}

static int no_fallthrough(unsigned id)
{
	return id == X86_INS_JMP || id == X86_INS_RET || id == X86_INS_RETF ||
	       id == X86_INS_INT3 || id == X86_INS_UD2 || id == X86_INS_HLT || id == X86_INS_IRET ||
	       id == X86_INS_IRETQ;
}

/* A call or jump with one operand: through an interesting IAT slot, through
 * a register loaded from one, to an NX wrapper or to an import thunk. */
static int classify_call(sweep *w, const dins *in)
{
	const nxpi_drv_code *c = w->s->code;
	const cs_x86_op *o0 = &in->op[0];
	if (in->id == X86_INS_JMP && w->nwin == 1 && find_thunk(w, in->rva))
		return NXP_OK; /* an import thunk: its callers are the sites */
	if (o0->type == X86_OP_MEM) {
		uint64_t g = mem_global(w, in, &o0->mem);
		int api = g ? slot_api(c, g) : -1;
		if (api >= 0)
			return record_call(w, api, (uint32_t)g,
			                   in->id == X86_INS_JMP ? NXP_CALL_JMP_IAT
			                   : c->is64             ? NXP_CALL_IAT_RIP
			                                         : NXP_CALL_IAT_ABS,
			                   NULL, 0, 0);
	} else if (o0->type == X86_OP_REG && in->id == X86_INS_CALL && nxpi_x86_gpr(o0->reg) >= 0) {
		struct load *ld = reg_load(w, nxpi_x86_gpr(o0->reg));
		if (ld) {
			ld->used = 1;
			return record_call(w, ld->api, ld->iat_rva, NXP_CALL_REG, ld, 0, ld->wrapped);
		}
	} else if (o0->type == X86_OP_IMM) {
		const nxpi_drv_wrap *wr = find_wrap(c, (uint64_t)o0->imm);
		const struct thunk *t = find_thunk(w, (uint64_t)o0->imm);
		if (wr)
			return record_call(w, wr->api, wr->iat_rva, NXP_CALL_WRAPPER, NULL, 0, 1);
		if (t && in->id == X86_INS_CALL)
			return record_call(w, t->api, t->iat_rva, NXP_CALL_THUNK, NULL, t->rva, 0);
	}
	return NXP_OK;
}

/* mov dword [global], 0x200 (or a type with the NX bit): POOL_NX_OPTIN's
 * store, recorded. Returns whether in is one. */
static int optin_store(sweep *w, const dins *in)
{
	nxpi_drv_scan *s = w->s;
	const cs_x86_op *o0 = &in->op[0], *o1 = &in->op[1];
	if (!mov_like(in->id) || in->nops != 2 || o0->type != X86_OP_MEM || o0->size != 4 ||
	    o1->type != X86_OP_IMM || !((uint32_t)o1->imm & NXP_POOL_NX_ALLOCATION) ||
	    ((uint32_t)o1->imm & 1))
		return 0;
	uint64_t g = mem_global(w, in, &o0->mem);
	if (g && s->nstores < NXP_DRV_MAX_STORES) {
		s->stores[s->nstores][0] = (uint32_t)g;
		s->stores[s->nstores][1] = in->rva;
		s->nstores++;
	}
	return 1;
}

/* The address of an NX wrapper into a register (a migrated `mov reg, [iat]`):
 * x64 `lea reg, [rip+wrapper]`, x86 `mov reg, imm32`, recorded as a load.
 * Returns whether in is one. */
static int wrapper_load(sweep *w, const dins *in)
{
	const nxpi_drv_code *c = w->s->code;
	const cs_x86_op *o0 = &in->op[0], *o1 = &in->op[1];
	if (!c->nwraps || in->nops != 2 || o0->type != X86_OP_REG || o0->size != (c->is64 ? 8 : 4) ||
	    w->nloads >= NXP_DRV_MAX_LOADS)
		return 0;
	uint64_t t = 0;
	if (c->is64 && in->id == X86_INS_LEA && o1->type == X86_OP_MEM)
		t = mem_global(w, in, &o1->mem);
	else if (!c->is64 && in->id == X86_INS_MOV && o1->type == X86_OP_IMM &&
	         (uint32_t)o1->imm >= c->image_base)
		t = (uint32_t)o1->imm - c->image_base;
	const nxpi_drv_wrap *wr = t ? find_wrap(c, t) : NULL;
	if (!wr)
		return 0;
	w->loads[w->nloads++] = (struct load){in->rva, wr->iat_rva, wr->api, 0, 1};
	return 1;
}

/* Any other operand naming an interesting slot: a register load to follow,
 * or a reference that is not a call. */
static int slot_ref(sweep *w, const dins *in)
{
	nxpi_drv_scan *s = w->s;
	const nxpi_drv_code *c = s->code;
	const cs_x86_op *o0 = &in->op[0];
	for (unsigned i = 0; i < in->nops; i++) {
		if (in->op[i].type != X86_OP_MEM)
			continue;
		uint64_t g = mem_global(w, in, &in->op[i].mem);
		int api = g ? slot_api(c, g) : -1;
		if (api < 0)
			continue;
		int load = mov_like(in->id) && i == 1 && o0->type == X86_OP_REG &&
		           o0->size == (c->is64 ? 8 : 4);
		if (load && w->nloads < NXP_DRV_MAX_LOADS) {
			w->loads[w->nloads++] = (struct load){in->rva, (uint32_t)g, (uint16_t)api, 0, 0};
			return NXP_OK;
		}
		return add_ref(s->d, in->rva, (uint32_t)g, api,
		               load ? "loaded into a register (too many loads to follow)"
		                    : "IAT slot referenced by an instruction that is not a call");
	}
	return NXP_OK;
}

/* One instruction, newest in the window: a call site, a store of
 * NonPagedPoolNx to a global, a register load of an NX wrapper's address,
 * or another reference to an interesting slot, tried in that order. */
static int classify(sweep *w)
{
	const dins *in = back(w, 0);
	if ((in->id == X86_INS_CALL || in->id == X86_INS_JMP) && in->nops == 1)
		return classify_call(w, in);
	if (optin_store(w, in) || wrapper_load(w, in))
		return NXP_OK;
	return slot_ref(w, in);
}

int nxpi_drv_scan_code(nxpi_drv_scan *s, const uint8_t *code, size_t len, uint32_t rva)
{
	sweep *w = calloc(1, sizeof(*w));
	if (!w)
		return NXP_E_NOMEM;
	w->s = s;
	int rc = NXP_OK;
	if (cs_open(CS_ARCH_X86, s->code->is64 ? CS_MODE_64 : CS_MODE_32, &w->cs) != CS_ERR_OK) {
		free(w);
		s->d->disasm_failed = 1;
		return NXP_OK;
	}
	cs_option(w->cs, CS_OPT_DETAIL, CS_OPT_ON);
	if (!(w->insn = cs_malloc(w->cs))) {
		rc = NXP_E_NOMEM;
		goto out;
	}
	if ((rc = collect_targets(w, code, len, rva)))
		goto out;

	const uint8_t *p = code;
	size_t size = len;
	uint64_t addr = rva;
	while (size > 0 && !rc) {
		uint32_t at = (uint32_t)addr;
		if (is_target(w, at))
			w->nwin = 0;
		if (!cs_disasm_iter(w->cs, &p, &size, &addr, w->insn)) {
			p++, size--, addr++;
			w->nwin = 0;
			continue;
		}
		if (w->nwin == 0 && (w->insn->id == X86_INS_NOP || w->insn->id == X86_INS_INT3))
			continue; /* padding between functions starts no block */
		push_insn(w, w->insn, at);
		rc = classify(w);
		if (no_fallthrough(w->insn->id))
			w->nwin = 0;
	}
	for (size_t k = 0; !rc && k < w->nloads; k++)
		if (!w->loads[k].used && !w->loads[k].wrapped)
			rc = add_ref(s->d, w->loads[k].rva, w->loads[k].iat_rva, w->loads[k].api,
			             "loaded into a register; the calls through it are not in the block");
out:
	if (w->insn)
		cs_free(w->insn, 1);
	cs_close(&w->cs);
	free(w->targets);
	free(w);
	return rc;
}

void nxpi_drv_scan_finish(nxpi_drv_scan *s)
{
	nxp_driver_facts *d = s->d;
	for (size_t i = 0; i < d->nsites; i++) {
		nxp_drv_site *site = &d->sites[i];
		if (site->how != NXP_HOW_MEMORY || !site->global_rva ||
		    nxp_drv_apis[site->api].kind != NXP_ARG_POOL_TYPE)
			continue;
		for (size_t k = 0; k < s->nstores; k++)
			if (s->stores[k][0] == site->global_rva) {
				site->verdict = NXP_SITE_OPTIN;
				site->optin_store_rva = s->stores[k][1];
				if (!d->optin_global) {
					d->optin_global = site->global_rva;
					d->optin_store_rva = s->stores[k][1];
				}
				break;
			}
	}
}
