/* SPDX-License-Identifier: Apache-2.0 */
/* Direct branch targets from a linear sweep of the executable sections.
 *
 * Capstone decodes each executable section's file-backed bytes once, front
 * to back (cs_disasm_iter, one instruction buffer); on a decode failure it
 * skips one byte (x86) or one word (ARM64). Time is linear in the executable
 * bytes, memory constant.
 *
 * Detail mode is off: the instruction id says whether it is a call, jmp or
 * jcc, and the target is read from the encoding, which is faster than
 * asking Capstone for operand details (docs/evidence.md has the numbers).
 *
 * Only near forms count on x86 (E8/E9/0F 8x with a 32-bit displacement):
 * linkers emit those between sections, while a short jump out of a section
 * is what a desynchronised sweep through data in .text produces. A target
 * must land in a non-executable section and look like code there. */
#include <string.h>

#include "analysis/evidence_int.h"
#include "util/bytes.h"

/* x86/x64: the target of a near call/jmp/jcc with a rel32 operand. */
static int x86_target(const cs_insn *in, int is64, uint64_t *target, nxp_evidence_kind *kind)
{
	switch (in->id) {
	case X86_INS_CALL:
		*kind = NXP_EV_CALL;
		break;
	case X86_INS_JMP:
	case X86_INS_JAE: case X86_INS_JA: case X86_INS_JBE: case X86_INS_JB:
	case X86_INS_JE: case X86_INS_JGE: case X86_INS_JG: case X86_INS_JLE:
	case X86_INS_JL: case X86_INS_JNE: case X86_INS_JNO: case X86_INS_JNP:
	case X86_INS_JNS: case X86_INS_JO: case X86_INS_JP: case X86_INS_JS:
		*kind = NXP_EV_JUMP;
		break;
	default:
		return 0;
	}
	unsigned sz = in->size;
	if (sz < 5 || sz > sizeof(in->bytes))
		return 0;
	const uint8_t *b = in->bytes;
	unsigned op = b[sz - 5], nprefix;
	if (op == 0xe8 || op == 0xe9)
		nprefix = sz - 5;
	else if (sz >= 6 && b[sz - 6] == 0x0f && (op & 0xf0) == 0x80)
		nprefix = sz - 6;
	else
		return 0; /* indirect, or a short form */
	for (unsigned i = 0; i < nprefix; i++)
		if (b[i] == 0x66)
			return 0; /* operand-size prefix: a 16-bit displacement */
	int32_t rel = (int32_t)nxpi_le32(b + sz - 4);
	uint64_t t = in->address + sz + (uint64_t)(int64_t)rel;
	*target = is64 ? t : (t & 0xffffffffu);
	return 1;
}

static int64_t sext(uint64_t v, unsigned bits)
{
	uint64_t m = 1ull << (bits - 1);
	v &= (1ull << bits) - 1;
	return (int64_t)((v ^ m) - m);
}

/* ARM64: B, BL, B.cond, CBZ/CBNZ, TBZ/TBNZ (PC-relative immediates). */
static int arm64_target(const cs_insn *in, uint64_t *target, nxp_evidence_kind *kind)
{
	if (in->size != 4)
		return 0;
	uint32_t w = nxpi_le32(in->bytes);
	int64_t off;
	if ((w & 0xfc000000u) == 0x94000000u) {
		*kind = NXP_EV_CALL;
		off = sext(w, 26) * 4;
	} else if ((w & 0xfc000000u) == 0x14000000u) {
		*kind = NXP_EV_JUMP;
		off = sext(w, 26) * 4;
	} else if ((w & 0xff000010u) == 0x54000000u || (w & 0x7e000000u) == 0x34000000u) {
		*kind = NXP_EV_JUMP;
		off = sext(w >> 5, 19) * 4;
	} else if ((w & 0x7e000000u) == 0x36000000u) {
		*kind = NXP_EV_JUMP;
		off = sext(w >> 5, 14) * 4;
	} else {
		return 0;
	}
	*target = in->address + (uint64_t)off;
	return 1;
}

/* One branch target seen by worth_sweeping(): 1 when it settles that the
 * sweep is worth running (it may name code in data, or the check budget is
 * spent). Targets inside the section itself, or equal to the last one, are
 * passed over. */
static int candidate(nxpi_ev_ctx *c, uint64_t t, uint64_t lo, uint64_t span, uint64_t *last,
                     uint32_t *checks, uint32_t max_checks)
{
	if ((t >= lo && t - lo < span) || t == *last)
		return 0;
	*last = t;
	if (nxpi_ev_nonexec_section(c->img, t) < 0)
		return 0;
	return ++*checks > max_checks || nxpi_ev_looks_like_code(c, t, NXP_EV_LLC_BRANCH);
}

/* 1 when a direct branch at some byte (x86) or word (ARM64) offset of the
 * section could name code in a non-executable section. A branch the sweep
 * finds sits at one of these offsets with the same target (prefixes do not
 * move the end of the instruction), so when none could, the sweep would
 * find nothing and is skipped: this byte scan is far cheaper than a
 * Capstone sweep (docs/evidence.md, "The sweep"). After NXP_EV_PREFILTER_CHECKS (+1 per 64 bytes)
 * candidate targets that needed the looks-like-code check it stops and lets
 * the sweep decide, so hostile input costs about two sweeps at most. */
static int worth_sweeping(nxpi_ev_ctx *c, const uint8_t *p, uint32_t len, uint64_t lo, uint64_t span)
{
	uint64_t last = UINT64_MAX;
	/* At most one check (<= NXP_EV_CODE_INSNS instructions) per 64 bytes:
	 * less work than the sweep it may save. */
	uint32_t checks = 0, max_checks = NXP_EV_PREFILTER_CHECKS + len / 64;
	if (c->arch == NXP_EV_ARCH_ARM64) {
		for (uint32_t i = 0; len >= 4 && i <= len - 4; i += 4) {
			cs_insn in;
			in.size = 4;
			in.address = lo + i;
			memcpy(in.bytes, p + i, 4);
			uint64_t t;
			nxp_evidence_kind kind;
			if (arm64_target(&in, &t, &kind) && candidate(c, t, lo, span, &last, &checks, max_checks))
				return 1;
		}
		return 0;
	}
	for (uint32_t i = 0; len >= 5 && i <= len - 5; i++) {
		uint32_t end;
		if (p[i] == 0xe8 || p[i] == 0xe9)
			end = i + 5;
		else if (p[i] == 0x0f && (p[i + 1] & 0xf0) == 0x80 && i + 6 <= len)
			end = i + 6;
		else
			continue;
		uint64_t t = lo + end + (uint64_t)(int64_t)(int32_t)nxpi_le32(p + end - 4);
		if (c->arch == NXP_EV_ARCH_X86)
			t &= 0xffffffffu;
		if (candidate(c, t, lo, span, &last, &checks, max_checks))
			return 1;
	}
	return 0;
}

static int sweep_section(nxpi_ev_ctx *c, int s)
{
	const nxp_image *img = c->img;
	const nxp_section *sec = &img->sections[s];
	uint32_t off, len;
	nxpi_ev_section_bytes(img, s, &off, &len);
	const uint8_t *code = img->data + off;
	size_t size = len;
	uint64_t addr = sec->virtual_address;
	uint64_t lo = sec->virtual_address;
	uint64_t span = sec->virtual_size ? sec->virtual_size : sec->raw_size;
	int is64 = c->arch == NXP_EV_ARCH_X64;
	size_t skip = c->arch == NXP_EV_ARCH_ARM64 ? 4 : 1;
	if (!worth_sweeping(c, code, len, lo, span))
		return NXP_OK;
	while (size > 0) {
		if (!cs_disasm_iter(c->cs, &code, &size, &addr, c->insn)) {
			size_t k = size < skip ? size : skip;
			code += k;
			size -= k;
			addr += k;
			continue;
		}
		uint64_t t;
		nxp_evidence_kind kind;
		int found = c->arch == NXP_EV_ARCH_ARM64 ? arm64_target(c->insn, &t, &kind)
		                                         : x86_target(c->insn, is64, &t, &kind);
		if (!found || (t >= lo && t - lo < span))
			continue; /* not a direct branch, or within this section */
		if (nxpi_ev_nonexec_section(img, t) < 0 || !nxpi_ev_looks_like_code(c, t, NXP_EV_LLC_BRANCH))
			continue;
		int rc = nxpi_ev_add(c, kind, t);
		if (rc)
			return rc;
	}
	return NXP_OK;
}

int nxpi_ev_sweep(nxpi_ev_ctx *c)
{
	if (!c->cs)
		return NXP_OK;
	for (unsigned s = 0; s < c->img->nsections; s++) {
		if (!(c->img->sections[s].characteristics & NXP_SCN_MEM_EXECUTE))
			continue;
		int rc = sweep_section(c, (int)s);
		if (rc)
			return rc;
	}
	return NXP_OK;
}
