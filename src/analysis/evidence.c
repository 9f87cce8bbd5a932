/* SPDX-License-Identifier: Apache-2.0 */
/* long-file: the collectors driven from the image's tables (exports, TLS, exceptions, SafeSEH,
 * CFG) and their driver. */
/* Evidence of code in sections that lack IMAGE_SCN_MEM_EXECUTE.
 *
 * Collectors (docs/evidence.md): the entry point, exported functions, TLS
 * callbacks, x64/ARM64 exception table entries, SafeSEH handlers and the CFG
 * function table name code by address; a linear sweep of the executable
 * sections finds direct branches (evidence_disasm.c); byte shapes of known
 * thunks are found in non-executable data (evidence_shapes.c). Imports of old
 * ATL versions yield a warning: their thunks are made at run time. */
#include <stdlib.h>
#include <string.h>

#include "analysis/evidence_int.h"
#include "util/bytes.h"
#include "analysis/internal.h"

const char *nxp_evidence_kind_name(nxp_evidence_kind k)
{
	static const char *const names[] = {
		[NXP_EV_ENTRY_POINT] = "entry_point",
		[NXP_EV_EXPORT] = "export",
		[NXP_EV_TLS_CALLBACK] = "tls_callback",
		[NXP_EV_EXCEPTION] = "exception_handler",
		[NXP_EV_SAFESEH] = "safeseh_handler",
		[NXP_EV_CFG] = "cfg_target",
		[NXP_EV_CALL] = "call_target",
		[NXP_EV_JUMP] = "jump_target",
		[NXP_EV_ATL_THUNK] = "atl_thunk",
		[NXP_EV_X64_THUNK] = "x64_thunk",
		[NXP_EV_ABS_JUMP] = "absolute_jump",
		[NXP_EV_DEP_FAULT] = "dep_fault",
	};
	if ((unsigned)k >= NXP_EV__COUNT)
		return "unknown";
	return names[k];
}

/* ---- helpers shared by the collectors ---------------------------------- */

int nxpi_ev_nonexec_section(const nxp_image *img, uint64_t rva)
{
	int s = nxp_pe_section_of_rva(img, rva);
	if (s < 0 || (img->sections[s].characteristics & NXP_SCN_MEM_EXECUTE))
		return -1;
	return s;
}

int nxpi_ev_exec_section(const nxp_image *img, uint64_t rva)
{
	int s = nxp_pe_section_of_rva(img, rva);
	if (s < 0 || !(img->sections[s].characteristics & NXP_SCN_MEM_EXECUTE))
		return -1;
	return s;
}

int nxpi_ev_section_bytes(const nxp_image *img, int s, uint32_t *off, uint32_t *len)
{
	const nxp_section *sec = &img->sections[s];
	uint32_t n = sec->raw_size;
	if (sec->virtual_size && sec->virtual_size < n)
		n = sec->virtual_size;
	*off = sec->raw_start;
	*len = 0;
	if (!n || sec->raw_start >= img->len)
		return 1;
	if (!NXP_FITS(sec->raw_start, n, img->len))
		n = (uint32_t)(img->len - sec->raw_start);
	*len = n;
	return 1;
}

uint32_t nxpi_ev_bytes_at(const nxp_image *img, uint64_t rva, uint32_t *off)
{
	int s = nxp_pe_section_of_rva(img, rva);
	if (s < 0)
		return 0;
	uint32_t soff, slen;
	nxpi_ev_section_bytes(img, s, &soff, &slen);
	uint64_t rel = rva - img->sections[s].virtual_address;
	if (rel >= slen)
		return 0;
	*off = soff + (uint32_t)rel;
	return slen - (uint32_t)rel;
}

/* Map `want` entries of `stride` bytes at rva: returns how many lie inside
 * one section's file data (clamped to `limit`), with *off the first's. */
static uint32_t map_array(const nxp_image *img, uint64_t rva, uint32_t stride, uint64_t want,
                          uint32_t limit, uint32_t *off)
{
	if (!stride)
		return 0;
	uint32_t avail = nxpi_ev_bytes_at(img, rva, off);
	uint64_t n = avail / stride;
	if (n > want)
		n = want;
	if (n > limit)
		n = limit;
	return (uint32_t)n;
}

static uint64_t hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return k;
}

/* 1 when (kind, rva) was reported before; records it otherwise. The set is
 * fixed-size: once 3/4 full, later targets are passed on unrecorded (the
 * facts layer still folds near repeats). */
static int seen_before(nxpi_ev_ctx *c, nxp_evidence_kind kind, uint32_t rva)
{
	if (!c->seen)
		return 0;
	uint64_t key = ((uint64_t)rva << 8 | (uint64_t)kind) + 1;
	size_t mask = NXP_EV_SEEN_SLOTS - 1;
	for (size_t i = hash64(key) & mask;; i = (i + 1) & mask) {
		if (c->seen[i] == key)
			return 1;
		if (!c->seen[i]) {
			if (c->nseen >= NXP_EV_SEEN_SLOTS / 4 * 3)
				return 0;
			c->seen[i] = key;
			c->nseen++;
			return 0;
		}
	}
}

int nxpi_ev_add(nxpi_ev_ctx *c, nxp_evidence_kind kind, uint64_t rva)
{
	if (rva > UINT32_MAX)
		return NXP_OK;
	int s = nxpi_ev_nonexec_section(c->img, rva);
	if (s < 0 || seen_before(c, kind, (uint32_t)rva))
		return NXP_OK;
	return nxpi_facts_add_evidence(c->f, kind, (uint32_t)rva, s);
}

int nxpi_ev_detail_handle(nxpi_ev_ctx *c)
{
	if (c->csd)
		return 1;
	cs_mode mode = c->arch == NXP_EV_ARCH_X86   ? CS_MODE_32
	               : c->arch == NXP_EV_ARCH_X64 ? CS_MODE_64
	                                            : CS_MODE_ARM;
	cs_arch arch = c->arch == NXP_EV_ARCH_ARM64 ? CS_ARCH_ARM64 : CS_ARCH_X86;
	if (c->arch == NXP_EV_ARCH_NONE || cs_open(arch, mode, &c->csd) != CS_ERR_OK) {
		c->csd = 0;
		return 0;
	}
	cs_option(c->csd, CS_OPT_DETAIL, CS_OPT_ON);
	if (!(c->insnd = cs_malloc(c->csd))) {
		cs_close(&c->csd);
		c->csd = 0;
		return 0;
	}
	return 1;
}

/* Instructions compilers do not emit in user-mode function bodies (I/O,
 * privileged, legacy BCD and segment forms, far transfers): data decoded as
 * x86 hits them quickly, strings especially (ins/outs are 'l'..'o'). */
static int x86_unlikely(unsigned id)
{
	switch (id) {
	case X86_INS_AAA: case X86_INS_AAD: case X86_INS_AAM: case X86_INS_AAS:
	case X86_INS_DAA: case X86_INS_DAS: case X86_INS_ARPL: case X86_INS_BOUND:
	case X86_INS_CLI: case X86_INS_STI: case X86_INS_CLTS: case X86_INS_HLT:
	case X86_INS_IN: case X86_INS_OUT: case X86_INS_INSB: case X86_INS_INSW:
	case X86_INS_INSD: case X86_INS_OUTSB: case X86_INS_OUTSW: case X86_INS_OUTSD:
	case X86_INS_INT: case X86_INS_INT1: case X86_INS_INTO: case X86_INS_IRET:
	case X86_INS_IRETD: case X86_INS_IRETQ: case X86_INS_LDS: case X86_INS_LES:
	case X86_INS_LFS: case X86_INS_LGS: case X86_INS_LSS: case X86_INS_LCALL:
	case X86_INS_LJMP: case X86_INS_RETF: case X86_INS_RETFQ: case X86_INS_INVD:
	case X86_INS_WBINVD: case X86_INS_RDMSR: case X86_INS_WRMSR: case X86_INS_SALC:
	case X86_INS_XLATB: case X86_INS_SYSENTER: case X86_INS_SYSEXIT: case X86_INS_SYSRET:
	case X86_INS_SYSCALL: case X86_INS_UD0: case X86_INS_UD2: case X86_INS_UD2B:
	case X86_INS_WAIT: case X86_INS_LOOP: case X86_INS_LOOPE: case X86_INS_LOOPNE:
	case X86_INS_ENTER: case X86_INS_POPAL: case X86_INS_PUSHAL:
		return 1;
	default:
		return 0;
	}
}

/* Encodings that are valid but that compilers emit rarely or never in a
 * function body, which table data decodes to: system instructions (0F 00,
 * 0F 01), xchg with the stack pointer, pop esp, inc/dec esp and segment
 * register push/pop (i386), rcl/rcr on memory, immediate moves into
 * ah/ch/dh/bh, and on amd64 moves with a 64-bit absolute address. */
static int x86_unlikely_bytes(const nxpi_ev_ctx *c, const cs_insn *in)
{
	const uint8_t *b = in->bytes;
	unsigned i = 0, n = in->size;
	while (i < n && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf2 || b[i] == 0xf3 ||
	                 b[i] == 0x64 || b[i] == 0x65 ||
	                 (c->arch == NXP_EV_ARCH_X64 && (b[i] & 0xf0) == 0x40)))
		i++;
	if (i >= n)
		return 1;
	uint8_t op = b[i], next = i + 1 < n ? b[i + 1] : 0;
	int rex = i > 0 && c->arch == NXP_EV_ARCH_X64 && (b[i - 1] & 0xf0) == 0x40;
	if (op == 0x0f && (next == 0x00 || next == 0x01))
		return 1;
	if (op == 0x94 || (op == 0x87 && ((next & 0x38) == 0x20 || (next & 0xc7) == 0xc4)))
		return 1; /* xchg eax, esp / xchg r, esp */
	if (op >= 0xb4 && op <= 0xb7 && !rex)
		return 1; /* mov ah/ch/dh/bh, imm8 */
	if (op == 0xc6 && next >= 0xc4 && next <= 0xc7 && !rex)
		return 1;
	if (c->arch == NXP_EV_ARCH_X64 && (op & 0xfc) == 0xa0)
		return 1;
	if (c->arch == NXP_EV_ARCH_X86 &&
	    (op == 0x06 || op == 0x07 || op == 0x0e || op == 0x16 || op == 0x17 || op == 0x1e ||
	     op == 0x1f || op == 0x44 || op == 0x4c))
		return 1; /* push/pop segment register, inc/dec esp */
	if (op == 0x5c)
		return 1; /* pop esp */
	if (op >= 0xd0 && op <= 0xd3 && ((next >> 3) & 7) >= 2 && ((next >> 3) & 7) <= 3 &&
	    (next & 0xc0) != 0xc0)
		return 1; /* rcl/rcr on memory */
	return 0;
}

/* 1 for the indirect jumps stubs end in: jmp reg (FF E0+r) and jmp
 * [rip+disp32] / [abs32] (FF 25), a REX prefix allowed. Other memory forms
 * (jmp [reg+disp]) are what data decodes to more often than stubs. */
static int indirect_jmp(const nxpi_ev_ctx *c, const cs_insn *in)
{
	unsigned i = 0;
	if (c->arch == NXP_EV_ARCH_X64 && in->size > 2 && (in->bytes[0] & 0xf0) == 0x40)
		i = 1;
	if (i + 2 > in->size || in->bytes[i] != 0xff)
		return 0;
	uint8_t m = in->bytes[i + 1];
	return (m & 0xf8) == 0xe0 || m == 0x25;
}

/* 1 when `in` ends a straight run of a function body: a return, or a
 * direct jump or call to an executable section (data decoded as code jumps
 * anywhere). Indirect transfers and forward branches within the run's
 * section do not end it. -1 when it is a transfer that rules the run out: a
 * jump elsewhere,
 * a ret as the first instruction, ret imm16 on amd64 or with an odd count.
 * n is the instruction's index in the run. With NXP_EV_LLC_BRANCH (the
 * run is the target of a direct branch from executable code) an indirect
 * jmp ends the run too: stubs and thunks end in jmp rax / jmp [rip+x]. */
static int ends_run(const nxpi_ev_ctx *c, const cs_insn *in, int sec, uint64_t start, unsigned n,
                    unsigned flags)
{
	uint64_t t;
	if (c->arch == NXP_EV_ARCH_ARM64) {
		uint32_t w = nxpi_le32(in->bytes);
		if (in->id == ARM64_INS_RET)
			return w == 0xd65f03c0u; /* ret (x30) */
		if ((w & 0x7c000000u) != 0x14000000u)
			return 0; /* not B or BL */
		int64_t off = (int64_t)((uint64_t)(w & 0x03ffffffu) << 38) >> 36;
		t = in->address + (uint64_t)off;
	} else {
		if (in->id == X86_INS_RET) {
			/* Not a lone ret; ret imm16 only as stdcall uses it (i386). */
			if (n == 0)
				return -1;
			if (in->bytes[in->size - 1] == 0xc3)
				return 1;
			uint16_t pop = nxpi_le16(in->bytes + in->size - 2);
			return c->arch == NXP_EV_ARCH_X86 && pop % 4 == 0 && pop <= 64 ? 1 : -1;
		}
		if (in->id != X86_INS_JMP && in->id != X86_INS_CALL)
			return 0;
		unsigned sz = in->size;
		if (in->id == X86_INS_JMP && (flags & NXP_EV_LLC_BRANCH) &&
		    indirect_jmp(c, in))
			return 1; /* a branch target's stub may end in jmp reg / jmp [mem] */
		if (sz != 5 || (in->bytes[0] != 0xe8 && in->bytes[0] != 0xe9))
			return 0; /* indirect or short: not an end */
		t = in->address + 5 + (uint64_t)(int64_t)(int32_t)nxpi_le32(in->bytes + 1);
		if (c->arch == NXP_EV_ARCH_X86)
			t &= 0xffffffffu;
	}
	int ts = nxp_pe_section_of_rva(c->img, t);
	if (ts >= 0 && (c->img->sections[ts].characteristics & NXP_SCN_MEM_EXECUTE))
		return 1;
	if (ts == sec && t > start)
		return 0; /* forward, within the run's section: go on */
	return -1;
}

int nxpi_ev_looks_like_code(nxpi_ev_ctx *c, uint64_t rva, unsigned flags)
{
	uint32_t off;
	uint32_t avail = nxpi_ev_bytes_at(c->img, rva, &off);
	int s = nxp_pe_section_of_rva(c->img, rva);
	if (!c->cs || avail < 1 || s < 0 ||
	    (c->img->sections[s].characteristics & NXP_SCN_MEM_DISCARDABLE))
		return 0;
	const uint8_t *p = c->img->data + off;
	/* Zero fill, 0xff fill and int3 padding are not function starts. */
	if (p[0] == 0xcc || (avail >= 2 && ((p[0] == 0 && p[1] == 0) || (p[0] == 0xff && p[1] == 0xff))))
		return 0;
	size_t size = avail < NXP_EV_CODE_WINDOW ? avail : NXP_EV_CODE_WINDOW;
	const uint8_t *code = p;
	uint64_t addr = rva;
	uint32_t ends[NXP_EV_CODE_INSNS];
	for (unsigned n = 0; n < NXP_EV_CODE_INSNS && size > 0; n++) {
		if (!cs_disasm_iter(c->cs, &code, &size, &addr, c->insn))
			return 0;
		const cs_insn *in = c->insn;
		if (c->arch == NXP_EV_ARCH_ARM64) {
			if (nxpi_le32(in->bytes) == 0)
				return 0;
		} else {
			if (in->size == 2 && in->bytes[0] == 0 && in->bytes[1] == 0)
				return 0; /* add [eax], al: zeros */
			if (x86_unlikely(in->id))
				return 0;
			if (x86_unlikely_bytes(c, in))
				return 0;
			for (unsigned k = 0; k < in->size && k < 4; k++) {
				uint8_t b = in->bytes[k];
				if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e)
					return 0; /* es/cs/ss/ds override */
				if (b != 0x64 && b != 0x65 && b != 0x66 && b != 0x67 && b != 0xf2 &&
				    b != 0xf3 && b != 0xf0 && (c->arch != NXP_EV_ARCH_X64 || (b & 0xf0) != 0x40))
					break; /* past the prefixes */
			}
		}
		ends[n] = (uint32_t)(addr - rva);
		int e = ends_run(c, in, s, rva, n, flags);
		if (e < 0)
			return 0;
		/* A base relocation inside the run that is not an instruction's
		 * operand: the run crossed pointer data (a vtable, a table). */
		if (e > 0)
			return nxpi_ev_relocs_within_insns(c, rva, addr, ends, n + 1);
	}
	return 0; /* no return, jump or call within the window */
}

/* ---- collectors by address --------------------------------------------- */

static int collect_entry_point(nxpi_ev_ctx *c)
{
	if (!c->img->entry_rva)
		return NXP_OK;
	return nxpi_ev_add(c, NXP_EV_ENTRY_POINT, c->img->entry_rva);
}

/* One flag per export address table entry (n of them): 1 when one of the
 * names exported for it names data (nxpi_ev_data_name). NULL when out of
 * memory. */
static uint8_t *export_data_names(const nxp_image *img, const uint8_t *dir, uint32_t n)
{
	uint8_t *flag = calloc(n ? n : 1, 1);
	if (!flag)
		return NULL;
	uint32_t nnames = nxpi_le32(dir + 24), names_rva = nxpi_le32(dir + 32),
	         ords_rva = nxpi_le32(dir + 36);
	uint32_t noff, ooff;
	uint32_t k = map_array(img, names_rva, 4, nnames, NXP_EV_MAX_EXPORTS, &noff);
	uint32_t ko = map_array(img, ords_rva, 2, nnames, NXP_EV_MAX_EXPORTS, &ooff);
	if (ko < k)
		k = ko;
	for (uint32_t j = 0; j < k; j++) {
		uint16_t ord = nxpi_le16(img->data + ooff + 2 * (size_t)j);
		uint32_t soff;
		if (ord >= n || flag[ord])
			continue;
		uint32_t avail = nxpi_ev_bytes_at(img, nxpi_le32(img->data + noff + 4 * (size_t)j), &soff);
		if (avail > NXP_EV_MAX_EXPORT_NAME)
			avail = NXP_EV_MAX_EXPORT_NAME; /* a prefix decides */
		const char *s = (const char *)img->data + soff;
		const char *end = avail ? memchr(s, 0, avail) : NULL;
		flag[ord] = (uint8_t)nxpi_ev_data_name(s, end ? (size_t)(end - s) : avail);
	}
	return flag;
}

/* Exported functions: the export address table, less forwarders (an RVA
 * inside the export directory names a forwarder string). A data section may
 * hold exported variables, so a target there must also look like code and
 * no name exported for it may be a data name (a vtable, RTTI, a mangled
 * variable). */
static int collect_exports(nxpi_ev_ctx *c)
{
	const nxp_image *img = c->img;
	const nxp_located *d = &img->exports;
	if (!d->present || d->size < 40 || !NXP_FITS(d->offset, 40, img->len))
		return NXP_OK;
	const uint8_t *p = img->data + d->offset;
	uint32_t nfuncs = nxpi_le32(p + 20), eat_rva = nxpi_le32(p + 28);
	uint32_t off;
	uint32_t n = map_array(img, eat_rva, 4, nfuncs, NXP_EV_MAX_EXPORTS, &off);
	uint8_t *data_named = NULL; /* lazily: which EAT entries a data name names */
	int rc = NXP_OK;
	for (uint32_t i = 0; i < n && !rc; i++) {
		uint32_t rva = nxpi_le32(img->data + off + 4 * (size_t)i);
		if (!rva || (rva >= d->rva && rva - d->rva < d->size))
			continue;
		if (nxpi_ev_nonexec_section(img, rva) < 0)
			continue;
		if (!data_named && !(data_named = export_data_names(img, p, n)))
			return NXP_E_NOMEM;
		if (data_named[i] || !nxpi_ev_looks_like_code(c, rva, 0))
			continue;
		rc = nxpi_ev_add(c, NXP_EV_EXPORT, rva);
	}
	free(data_named);
	return rc;
}

/* TLS callbacks: AddressOfCallBacks is a VA of a NUL-terminated array of
 * VAs (pointer-sized). */
static int collect_tls(nxpi_ev_ctx *c)
{
	const nxp_image *img = c->img;
	const nxp_located *d = &img->tls;
	uint32_t ptr = img->pe32plus ? 8 : 4;
	uint32_t field = img->pe32plus ? 24 : 12;
	if (!d->present || d->size < field + ptr || !NXP_FITS(d->offset, field + ptr, img->len))
		return NXP_OK;
	const uint8_t *p = img->data + d->offset + field;
	uint64_t va = ptr == 8 ? nxpi_le64(p) : nxpi_le32(p);
	if (va < img->image_base)
		return NXP_OK;
	uint32_t off;
	uint32_t n = map_array(img, va - img->image_base, ptr, NXP_EV_MAX_TLS_CALLBACKS,
	                       NXP_EV_MAX_TLS_CALLBACKS, &off);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *q = img->data + off + (size_t)i * ptr;
		uint64_t cb = ptr == 8 ? nxpi_le64(q) : nxpi_le32(q);
		if (!cb)
			break;
		if (cb < img->image_base)
			continue;
		int rc = nxpi_ev_add(c, NXP_EV_TLS_CALLBACK, cb - img->image_base);
		if (rc)
			return rc;
	}
	return NXP_OK;
}

/* The exception table: RUNTIME_FUNCTION entries (12 bytes on x64, 8 on
 * ARM64); BeginAddress is the RVA of a function. */
static int collect_pdata(nxpi_ev_ctx *c)
{
	const nxp_image *img = c->img;
	const nxp_located *d = &img->exception;
	uint32_t stride = img->machine == NXP_MACHINE_AMD64   ? 12
	                  : img->machine == NXP_MACHINE_ARM64 ? 8
	                                                      : 0;
	if (!d->present || !stride || !NXP_FITS(d->offset, d->size, img->len))
		return NXP_OK;
	uint32_t n = d->size / stride;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t begin = nxpi_le32(img->data + d->offset + (size_t)i * stride);
		if (!begin)
			continue;
		int rc = nxpi_ev_add(c, NXP_EV_EXCEPTION, begin);
		if (rc)
			return rc;
	}
	return NXP_OK;
}

/* An RVA table named by a VA and a count in the load configuration:
 * SafeSEH handlers (4-byte entries) and the CFG function table. */
static int collect_rva_table(nxpi_ev_ctx *c, nxp_evidence_kind kind, uint64_t va, uint64_t count,
                             uint32_t stride)
{
	const nxp_image *img = c->img;
	if (!va || !count || va < img->image_base)
		return NXP_OK;
	uint32_t off;
	uint32_t n = map_array(img, va - img->image_base, stride, count, NXP_EV_MAX_TABLE, &off);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t rva = nxpi_le32(img->data + off + (size_t)i * stride);
		int rc = nxpi_ev_add(c, kind, rva);
		if (rc)
			return rc;
	}
	return NXP_OK;
}

/* ATL before 8.0 (ATL.DLL, ATL70.DLL, ATL71.DLL, ...) builds window thunks
 * in heap memory at run time: nothing in the file to find or fix. */
static int old_atl_name(const char *s, uint32_t len)
{
	if (len < 7 || strncasecmp(s, "atl", 3) || strncasecmp(s + len - 4, ".dll", 4))
		return 0;
	uint32_t ndig = len - 7;
	if (ndig == 0)
		return 1; /* ATL.DLL: ATL 2.x and 3.0 */
	if (ndig > 3)
		return 0;
	unsigned v = 0;
	for (uint32_t i = 0; i < ndig; i++) {
		char ch = s[3 + i];
		if (ch < '0' || ch > '9')
			return 0;
		v = v * 10 + (unsigned)(ch - '0');
	}
	return v < 80;
}

static int warn_atl_imports(nxpi_ev_ctx *c)
{
	const nxp_image *img = c->img;
	for (uint32_t i = 0; i < img->nimports; i++) {
		const char *name = (const char *)img->data + img->imports[i].name_offset;
		uint32_t len = img->imports[i].name_len;
		if (!old_atl_name(name, len))
			continue;
		return nxpi_facts_add_warning(
			c->f,
			"imports %.*s: ATL before 8.0 may build window thunks in heap memory at run "
			"time, which static analysis cannot find and section flags cannot fix; "
			"setting nx_compat also turns off the ATL thunk emulation Windows applies to "
			"images without it. Rebuild against ATL 8.0 or later (which allocates thunks "
			"in executable memory), or leave nx_compat clear and keep the program out of "
			"DEP (system DEP policy opt-out list or an AppCompat shim such as DisableNX)",
			(int)len, name);
	}
	return NXP_OK;
}

static int open_ctx(nxpi_ev_ctx *c, nxp_facts *f)
{
	memset(c, 0, sizeof(*c));
	c->f = f;
	c->img = f->img;
	cs_arch arch = CS_ARCH_X86;
	cs_mode mode = CS_MODE_32;
	switch (c->img->machine) {
	case NXP_MACHINE_I386:
		c->arch = NXP_EV_ARCH_X86;
		mode = CS_MODE_32;
		break;
	case NXP_MACHINE_AMD64:
		c->arch = NXP_EV_ARCH_X64;
		mode = CS_MODE_64;
		break;
	case NXP_MACHINE_ARM64:
		c->arch = NXP_EV_ARCH_ARM64;
		arch = CS_ARCH_ARM64;
		mode = CS_MODE_ARM;
		break;
	default:
		c->arch = NXP_EV_ARCH_NONE;
		break;
	}
	if (!(c->seen = calloc(NXP_EV_SEEN_SLOTS, sizeof(*c->seen))))
		return NXP_E_NOMEM;
	if (c->arch != NXP_EV_ARCH_NONE) {
		if (cs_open(arch, mode, &c->cs) != CS_ERR_OK)
			return NXP_E_NOMEM;
		if (!(c->insn = cs_malloc(c->cs)))
			return NXP_E_NOMEM;
	}
	return NXP_OK;
}

static void close_ctx(nxpi_ev_ctx *c)
{
	if (c->insn)
		cs_free(c->insn, 1);
	if (c->cs)
		cs_close(&c->cs);
	if (c->insnd)
		cs_free(c->insnd, 1);
	if (c->csd)
		cs_close(&c->csd);
	free(c->seen);
	free(c->relocs);
	memset(c, 0, sizeof(*c));
}

int nxpi_collect_evidence(nxp_facts *f, nxp_error *err)
{
	nxpi_ev_ctx c;
	const nxp_image *img = f->img;
	int rc = open_ctx(&c, f);
	if (!rc)
		rc = collect_entry_point(&c);
	if (!rc)
		rc = collect_exports(&c);
	if (!rc)
		rc = collect_tls(&c);
	if (!rc)
		rc = collect_pdata(&c);
	if (!rc && !img->pe32plus)
		rc = collect_rva_table(&c, NXP_EV_SAFESEH, img->seh_table_va, img->seh_count, 4);
	if (!rc && img->has_guard_tables)
		rc = collect_rva_table(&c, NXP_EV_CFG, img->guard_cf_table_va, img->guard_cf_count,
		                       4 + ((img->guard_flags >> 28) & 0xf));
	if (!rc)
		rc = nxpi_ev_sweep(&c);
	if (!rc)
		rc = nxpi_ev_flows(&c);
	if (!rc)
		rc = nxpi_ev_shapes(&c);
	if (!rc)
		rc = warn_atl_imports(&c);
	if (!rc)
		rc = c.rc;
	close_ctx(&c);
	if (rc && err)
		nxp_fail(err, rc, "out of memory while collecting evidence");
	return rc;
}
