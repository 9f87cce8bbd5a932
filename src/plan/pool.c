/* SPDX-License-Identifier: Apache-2.0 */
/* Planning `pool: nx` for drivers: every call site whose resolved pool type
 * is non-paged and executable asks for the NX form instead (the type OR
 * POOL_NX_ALLOCATION, 0x200), by rewriting the immediate that sets it where
 * the encoding is wide enough (`mov r32, imm32`, `mov [rsp+n], imm32`,
 * `push imm32`), and otherwise by routing the call through an NX wrapper
 * (include/nxpatch/driver.h) in a section appended to the image: x64
 * `call [rip+iat]` becomes `call rel32; nop`, `mov reg, [rip+iat]` (whose
 * register the call uses) `lea reg, [rip+wrapper]`, a call to an import
 * thunk a call to the wrapper; x86 `call [abs32]` becomes `call rel32; nop`
 * with its base relocation entry dropped, `mov reg, [abs32]` `nop; mov reg,
 * imm32` (the immediate where the address was, so its relocation still
 * applies). Everything else that could hand out executable pool, and
 * everything not understood, refuses the whole image with the reason:
 * never a partial migration. nxpi_plan_pool is pure; nxpi_plan_pool_changes
 * and nxpi_plan_pool_section turn its result into plan changes, refusals
 * and the appended section. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "analysis/driver_int.h"
#include "nxpatch/driver.h"
#include "plan/addsec.h"
#include "plan/internal.h"
#include "plan/pool.h"
#include "util/bytes.h"

static void refuse(nxpi_pool_plan *pp, const char *rule, uint32_t rva, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void refuse(nxpi_pool_plan *pp, const char *rule, uint32_t rva, const char *fmt, ...)
{
	if (pp->nrefusals >= NXPI_POOL_MAX_NOTES) {
		pp->refusals_dropped++;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pp->refusals[pp->nrefusals], sizeof(pp->refusals[0]), fmt, ap);
	va_end(ap);
	pp->refusal_rva[pp->nrefusals] = rva;
	pp->refusal_rule[pp->nrefusals++] = rule;
}

static void note(nxpi_pool_plan *pp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(nxpi_pool_plan *pp, const char *fmt, ...)
{
	if (pp->nwarnings >= NXPI_POOL_MAX_NOTES)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pp->warnings[pp->nwarnings++], sizeof(pp->warnings[0]), fmt, ap);
	va_end(ap);
}

static int kept(const nxp_rule *const *rules, size_t n, uint32_t rva)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < rules[i]->nkeep_exec; k++)
			if (rules[i]->keep_exec[k] == rva)
				return 1;
	return 0;
}

/* Record an edit; one edit feeding two calls is kept once, and edits that
 * overlap otherwise refuse the image. */
static void add_edit(nxpi_pool_plan *pp, const nxpi_pool_edit *e)
{
	for (size_t i = 0; i < pp->nedits; i++) {
		const nxpi_pool_edit *o = &pp->edits[i];
		if (o->offset == e->offset && o->size == e->size && o->new_value == e->new_value)
			return;
		if (o->offset < e->offset + e->size && e->offset < o->offset + o->size) {
			refuse(pp, e->rule, e->site_rva,
			       "%s call at 0x%x: its rewrite at file offset 0x%x overlaps another at 0x%x",
			       nxp_drv_apis[e->api].name, e->site_rva, e->offset, o->offset);
			return;
		}
	}
	if (pp->nedits >= NXP_MAX_POOL_EDITS) {
		refuse(pp, e->rule, 0, "more than %d pool-site edits", NXP_MAX_POOL_EDITS);
		return;
	}
	pp->edits[pp->nedits++] = *e;
}

/* Plan one executable site whose type the migration can change by its
 * immediate. */
static void plan_imm(nxpi_pool_plan *pp, const nxp_image *img, const nxp_drv_site *s,
                     const char *rule)
{
	const char *api = nxp_drv_apis[s->api].name;
	uint32_t off;
	/* The immediate lies inside its setter, in an executable section, and
	 * holds what the resolver read: anything else is a resolver bug, and
	 * the edit would land on the wrong bytes. */
	int sec = nxp_pe_section_of_rva(img, s->imm_rva);
	if (!nxp_pe_rva_to_offset(img, s->imm_rva, 4, &off) || sec < 0 ||
	    !(img->sections[sec].characteristics & NXP_SCN_MEM_EXECUTE) ||
	    s->imm_rva <= s->setter_rva || s->imm_rva + 4 > s->setter_rva + s->setter_len ||
	    ((nxpi_le32(img->data + off) | s->or_bits) & 0xffffffffu) != (s->value & 0xffffffffu)) {
		refuse(pp, rule, s->rva,
		       "%s call at 0x%x: the immediate at 0x%x does not hold the resolved type", api,
		       s->rva, s->imm_rva);
		return;
	}
	uint32_t old = nxpi_le32(img->data + off);
	add_edit(pp, &(nxpi_pool_edit){NXP_FIELD_POOL_TYPE, off, 4, s->rva, s->imm_rva, 0, s->api, sec,
	                              old, old | NXP_POOL_NX_ALLOCATION, rule});
}

/* A base relocation entry whose bytes overlap a rewritten instruction. */
typedef struct reloc_hit {
	uint32_t entry_off;         /* file offset of the 2-byte entry */
	uint32_t rva;               /* the address it relocates */
	unsigned type;
} reloc_hit;

/* The base relocation entries (of any width) that touch [lo, hi); at most
 * max kept, the count returned. */
static size_t relocs_over(const nxp_image *img, uint32_t lo, uint32_t hi, reloc_hit *out,
                          size_t max)
{
	const nxp_located *d = &img->reloc;
	size_t n = 0;
	if (!d->present || img->relocs_stripped || !NXP_FITS(d->offset, d->size, img->len))
		return 0;
	const uint8_t *p = img->data + d->offset;
	uint32_t pos = 0;
	while (d->size - pos >= 8) {
		uint32_t page = nxpi_le32(p + pos), bsize = nxpi_le32(p + pos + 4);
		if (bsize < 8 || bsize > d->size - pos)
			break;
		for (uint32_t k = 8; k + 2 <= bsize; k += 2) {
			unsigned v = nxpi_le16(p + pos + k), type = v >> 12;
			unsigned width = type == 0 ? 0 : type == 10 ? 8 : (type == 1 || type == 2 || type == 4) ? 2 : 4;
			uint64_t at = (uint64_t)page + (v & 0xfff);
			if (width && at < hi && lo < at + width) {
				if (n < max)
					out[n] = (reloc_hit){d->offset + pos + k, (uint32_t)at, type};
				n++;
			}
			if (type == 4)
				k += 2; /* HIGHADJ: the next entry is its parameter */
		}
		pos += bsize;
	}
	return n;
}

/* The wrapper for s's API and slot, allocated on first use. */
static int wrapper_for(nxpi_pool_plan *pp, const nxp_image *img, const nxp_drv_site *s,
                       uint32_t *rva)
{
	for (size_t i = 0; i < pp->nwraps; i++)
		if (pp->wraps[i].api == s->api && pp->wraps[i].iat_rva == s->iat_rva) {
			*rva = pp->wraps[i].rva;
			return 0;
		}
	uint32_t base = nxpi_addsec_rva(img);
	if (!base || pp->nwraps >= NXPI_POOL_MAX_WRAPS)
		return -1;
	uint32_t at = base + (uint32_t)pp->nwraps * NXP_NXWRAP_SIZE;
	if (nxpi_nxwrap_encode(img->machine == NXP_MACHINE_AMD64, s->api, at, s->iat_rva,
	                      pp->code + pp->nwraps * NXP_NXWRAP_SIZE))
		return -1;
	pp->wraps[pp->nwraps++] = (nxpi_pool_wrap){s->api, s->iat_rva, at};
	*rva = at;
	return 0;
}

static uint64_t le_bytes(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;
	for (unsigned k = 0; k < n; k++)
		v |= (uint64_t)b[k] << (8 * k);
	return v;
}

/* The base relocation on a rewritten instruction's address operand: stays
 * (an x86 load: the immediate sits where the address was), is dropped (an
 * x86 call: rel32 needs none), or there is none. */
enum { RELOC_NONE, RELOC_KEEP, RELOC_DROP };

/* [REX.W] FF 15/25 disp32 -> E8/E9 rel32, or E8 rel32 (a call to an import
 * thunk) -> E8 rel32 to the wrapper: the bytes in nb, the displacement in
 * *rel. Returns NULL, or what the instruction is not. */
static const char *rewrite_call(const nxp_drv_site *s, const uint8_t *b, unsigned len, uint32_t at,
                                uint32_t wr, uint8_t *nb, int64_t *rel)
{
	*rel = (int64_t)wr - (int64_t)(at + 5);
	if (s->call == NXP_CALL_THUNK) {
		if (len != 5 || b[0] != 0xe8)
			return "a call to an import thunk";
		nb[0] = 0xe8;
	} else {
		unsigned p = len == 7 && b[0] == 0x48 ? 1 : 0;
		if (len != 6 + p || b[p] != 0xff || (b[p + 1] != 0x15 && b[p + 1] != 0x25))
			return "an indirect call or jump through the IAT";
		nb[0] = b[p + 1] == 0x15 ? 0xe8 : 0xe9;
	}
	nxpi_put_le32(nb + 1, (uint32_t)*rel);
	return NULL;
}

/* The load of the import's address into the register the call uses, made
 * to load the wrapper's: x64 mov r64, [rip+iat] -> lea r64, [rip+wrapper];
 * x86 mov r32, [iat] -> nop; mov r32, imm32 and mov eax, [iat] -> mov eax,
 * imm32 (the immediate where the address was, so its base relocation still
 * applies). Returns NULL, or what the instruction is not. */
static const char *rewrite_load(const nxp_image *img, const uint8_t *b, unsigned len, uint32_t at,
                                uint32_t wr, uint8_t *nb, int64_t *rel, int *reloc)
{
	int is64 = img->machine == NXP_MACHINE_AMD64;
	*rel = 0;
	if (is64 && len == 7 && (b[0] & 0xfb) == 0x48 && b[1] == 0x8b && (b[2] & 0xc7) == 0x05) {
		*rel = (int64_t)wr - (int64_t)(at + 7);
		nb[0] = b[0];
		nb[1] = 0x8d;
		nb[2] = b[2];
		nxpi_put_le32(nb + 3, (uint32_t)*rel);
		return NULL;
	}
	if (is64 || img->image_base + wr > UINT32_MAX)
		return "a load of the import's address into a register";
	if (len == 6 && b[0] == 0x8b && (b[1] & 0xc7) == 0x05) {
		nb[0] = 0x90;
		nb[1] = (uint8_t)(0xb8 + ((b[1] >> 3) & 7));
		nxpi_put_le32(nb + 2, (uint32_t)(img->image_base + wr));
	} else if (len == 5 && b[0] == 0xa1) {
		nb[0] = 0xb8;
		nxpi_put_le32(nb + 1, (uint32_t)(img->image_base + wr));
	} else {
		return "a load of the import's address into a register";
	}
	*reloc = RELOC_KEEP;
	return NULL;
}

/* The new bytes of the instruction b[0..len) at at, reaching the wrapper at
 * wr: in nb (nop padded), with what becomes of its base relocation in
 * *reloc. Returns NULL, or what the instruction is not (for the refusal). */
static const char *rewrite(const nxp_image *img, const nxp_drv_site *s, const uint8_t *b,
                           unsigned len, uint32_t at, uint32_t wr, uint8_t *nb, int64_t *rel,
                           int *reloc)
{
	const char *shape;
	*reloc = RELOC_NONE;
	*rel = 0;
	switch (s->call) {
	case NXP_CALL_IAT_RIP:
	case NXP_CALL_IAT_ABS:
	case NXP_CALL_JMP_IAT:
		shape = rewrite_call(s, b, len, at, wr, nb, rel);
		if (!shape && img->machine != NXP_MACHINE_AMD64)
			*reloc = RELOC_DROP;
		return shape;
	case NXP_CALL_THUNK:
		return rewrite_call(s, b, len, at, wr, nb, rel);
	case NXP_CALL_REG:
		return rewrite_load(img, b, len, at, wr, nb, rel, reloc);
	default:
		return nxp_call_shape_name(s->call);
	}
}

/* Base relocations on the rewritten bytes [at, at+len): x86 keeps (a load)
 * or drops (a call) the one HIGHLOW on the address operand; any other is not
 * understood. Returns the count (0 or 1, the entry in *hit), or -1 after
 * refusing. */
static int relocs_expected(nxpi_pool_plan *pp, const nxp_image *img, const nxp_drv_site *s,
                           const char *rule, uint32_t at, unsigned len, int reloc, reloc_hit *hit)
{
	reloc_hit hits[4];
	size_t nhits = relocs_over(img, at, at + len, hits, 4);
	int want = reloc != RELOC_NONE;
	int ok = nhits == (size_t)(want && img->has_relocs && !img->relocs_stripped);
	if (ok && nhits)
		ok = hits[0].rva == at + len - 4 && hits[0].type == 3;
	if (!ok) {
		refuse(pp, rule, s->rva,
		       "%s call at 0x%x: %zu base relocation%s touch the instruction at 0x%x, "
		       "expected %s",
		       nxp_drv_apis[s->api].name, s->rva, nhits, nhits == 1 ? "" : "s", at,
		       want && img->has_relocs ? "one HIGHLOW on its address operand" : "none");
		return -1;
	}
	if (nhits)
		*hit = hits[0];
	return (int)nhits;
}

/* Route s through the NX wrapper: rewrite the call, or the load of its
 * target, to reach the wrapper (docs/drivers.md "The wrapper route"). */
static void plan_wrapped(nxpi_pool_plan *pp, const nxp_image *img, const nxp_drv_site *s,
                         const char *rule)
{
	const char *api = nxp_drv_apis[s->api].name;
	uint32_t wr;
	if (wrapper_for(pp, img, s, &wr)) {
		refuse(pp, rule, s->rva,
		       "%s call at 0x%x: the pool type is set by %s at 0x%x, too short to hold 0x200, "
		       "and no NX wrapper can take its place (%s)",
		       api, s->rva, nxp_arg_how_name(s->how), s->setter_rva,
		       pp->nwraps >= NXPI_POOL_MAX_WRAPS ? "too many wrappers"
		                                         : "its argument is not where a wrapper reaches it");
		return;
	}
	uint32_t at = s->call == NXP_CALL_REG ? s->load_rva : s->rva;
	unsigned len = s->call == NXP_CALL_REG ? s->load_len : s->call_len;
	uint32_t off;
	int sec = nxp_pe_section_of_rva(img, at);
	if (len < 5 || len > 8 || sec < 0 || !nxp_pe_rva_to_offset(img, at, len, &off) ||
	    !(img->sections[sec].characteristics & NXP_SCN_MEM_EXECUTE)) {
		refuse(pp, rule, s->rva, "%s call at 0x%x: the instruction at 0x%x (%u bytes) cannot "
		                         "be rewritten", api, s->rva, at, len);
		return;
	}
	const uint8_t *b = img->data + off;
	uint8_t nb[8];
	memset(nb, 0x90, sizeof(nb));
	int reloc;
	int64_t rel;
	const char *shape = rewrite(img, s, b, len, at, wr, nb, &rel, &reloc);
	if (shape) {
		refuse(pp, rule, s->rva,
		       "%s call at 0x%x: the instruction at 0x%x is not %s in a form the wrapper route "
		       "rewrites", api, s->rva, at, shape);
		return;
	}
	if (rel < INT32_MIN || rel > INT32_MAX) {
		refuse(pp, rule, s->rva, "%s call at 0x%x: the wrapper is out of a rel32's reach", api,
		       s->rva);
		return;
	}
	reloc_hit hit = {0};
	int nhits = relocs_expected(pp, img, s, rule, at, len, reloc, &hit);
	if (nhits < 0)
		return;
	add_edit(pp, &(nxpi_pool_edit){NXP_FIELD_CALL_SITE, off, len, s->rva, at, wr, s->api, sec,
	                               le_bytes(b, len), le_bytes(nb, len), rule});
	if (reloc == RELOC_DROP && nhits)
		add_edit(pp, &(nxpi_pool_edit){NXP_FIELD_RELOC_ENTRY, hit.entry_off, 2, s->rva, hit.rva, 0,
		                               s->api, nxp_pe_section_of_rva(img, img->reloc.rva),
		                               nxpi_le16(img->data + hit.entry_off), 0, rule});
}

/* Plan one executable site: its immediate when wide enough, else the
 * wrapper route. */
static void plan_site(nxpi_pool_plan *pp, const nxp_image *img, const nxp_driver_facts *d,
                      const nxp_rule *const *rules, size_t nrules, const nxp_drv_site *s,
                      const char *rule)
{
	if ((s->how == NXP_HOW_IMM32 || s->how == NXP_HOW_PUSH_IMM32) && s->imm_size == 4) {
		plan_imm(pp, img, s, rule);
		return;
	}
	if (s->call == NXP_CALL_REG)
		for (size_t i = 0; i < d->nsites; i++) {
			const nxp_drv_site *o = &d->sites[i];
			if (o != s && o->call == NXP_CALL_REG && o->load_rva == s->load_rva &&
			    kept(rules, nrules, o->rva)) {
				refuse(pp, rule, s->rva,
				       "%s call at 0x%x: the register load at 0x%x that it calls through "
				       "also serves the call at 0x%x, which keep_executable keeps",
				       nxp_drv_apis[s->api].name, s->rva, s->load_rva, o->rva);
				return;
			}
		}
	plan_wrapped(pp, img, s, rule);
}

void nxpi_plan_pool(nxpi_pool_plan *pp, const nxp_facts *f, const nxp_rule *const *rules,
                   size_t nrules)
{
	memset(pp, 0, sizeof(*pp));
	const nxp_driver_facts *d = f->driver;
	const nxp_image *img = f->img;
	if (!nrules)
		return;
	const char *rule = rules[nrules - 1]->id;
	if (!d) {
		note(pp, "pool: nx applies to drivers only; this image is a %s",
		     nxp_kind_name(f->kind));
		return;
	}
	if (img->machine != NXP_MACHINE_AMD64 && img->machine != NXP_MACHINE_I386) {
		refuse(pp, rule, 0, "pool: nx understands x86 and x64 call sites only, and this driver "
		                 "is for machine 0x%04x", img->machine);
		return;
	}
	if (d->disasm_failed) {
		refuse(pp, rule, 0, "the call sites could not be disassembled");
		return;
	}
	if (d->sites_dropped)
		refuse(pp, rule, 0, "more than %d pool call sites: not every site can be planned",
		       NXP_MAX_DRV_SITES);
	for (size_t i = 0; i < d->nrefs; i++) {
		const nxp_drv_api *a = &nxp_drv_apis[d->refs[i].api];
		if (a->kind == NXP_ARG_POOL_TYPE || a->kind == NXP_ARG_LOOKASIDE_FLAGS)
			refuse(pp, rule, d->refs[i].rva,
			       "%s's IAT slot 0x%x is %s at 0x%x: not every call to it can be seen",
			       a->name, d->refs[i].iat_rva, d->refs[i].what, d->refs[i].rva);
	}
	for (size_t i = 0; i < d->nsites; i++) {
		const nxp_drv_site *s = &d->sites[i];
		const nxp_drv_api *a = &nxp_drv_apis[s->api];
		if (s->verdict == NXP_SITE_NOT_FIXABLE) {
			note(pp, "%s call at 0x%x is not fixable by patching: %s", a->name, s->rva, a->fix);
			continue;
		}
		if (a->kind != NXP_ARG_POOL_TYPE && a->kind != NXP_ARG_LOOKASIDE_FLAGS)
			continue; /* protections, MDL priorities and POOL_FLAGS: reported, not changed */
		if (kept(rules, nrules, s->rva)) {
			if (s->verdict != NXP_SITE_OK && s->verdict != NXP_SITE_OPTIN &&
			    s->verdict != NXP_SITE_WRAPPED)
				note(pp, "%s call at 0x%x keeps its pool type (keep_executable)", a->name,
				     s->rva);
			continue;
		}
		char value[320];
		switch (s->verdict) {
		case NXP_SITE_OK:
		case NXP_SITE_OPTIN:
		case NXP_SITE_NOT_FIXABLE:
			break;
		case NXP_SITE_UNKNOWN:
			nxp_drv_site_value(s, value, sizeof(value));
			refuse(pp, rule, s->rva,
			       "%s call at 0x%x: the pool type is %s; list the site in keep_executable "
			       "to leave it as it is",
			       a->name, s->rva, value);
			break;
		case NXP_SITE_WRAPPED:
			break;
		case NXP_SITE_EXEC:
			plan_site(pp, img, d, rules, nrules, s, rule);
			break;
		}
	}
	for (size_t r = 0; r < nrules; r++)
		for (size_t k = 0; k < rules[r]->nkeep_exec; k++) {
			int found = 0;
			for (size_t i = 0; i < d->nsites && !found; i++)
				found = d->sites[i].rva == rules[r]->keep_exec[k];
			if (!found)
				note(pp, "keep_executable 0x%x (rule %s) names no pool call site",
				     rules[r]->keep_exec[k], rules[r]->id);
		}
	if (pp->nedits && d->has_dvrt)
		refuse(pp, rule, 0,
		       "the driver has a Dynamic Value Relocation Table (import call optimisation or "
		       "retpoline): the kernel loader rewrites its import call sites, and patched "
		       "sites would not match what it expects");
}

void nxpi_plan_pool_changes(nxpi_planner *pl)
{
	nxp_plan *plan = pl->plan;
	nxpi_pool_plan pp;
	nxpi_plan_pool(&pp, pl->f, pl->pool_rules, pl->npool);
	for (size_t i = 0; i < pp.nedits; i++) {
		const nxpi_pool_edit *e = &pp.edits[i];
		nxpi_plan_change(plan, e->field, e->section, e->offset, e->size, e->old_value,
		                 e->new_value, NULL);
		nxp_change *c = &plan->changes[plan->nchanges - 1];
		c->bits[0] = (nxp_bit_change){NXP_POOL_NX_ALLOCATION, 1, e->rule};
		c->nbits = 1;
		c->site_rva = e->site_rva;
		c->api = e->api;
		c->rva = e->rva;
		c->target_rva = e->target_rva;
	}
	if (pp.nwraps) {
		pl->nwraps = (unsigned)pp.nwraps;
		pl->wrap_len = (uint32_t)pp.nwraps * NXP_NXWRAP_SIZE;
		memcpy(pl->wrap_code, pp.code, pl->wrap_len);
		pl->wrap_rule = pl->pool_rules[pl->npool - 1]->id;
	}
	for (size_t i = 0; i < pp.nrefusals; i++) {
		nxp_where w = NXP_WHERE_NONE;
		if (pp.refusal_rva[i]) {
			w.has_rva = 1;
			w.rva = pp.refusal_rva[i];
			w.section = nxp_pe_section_of_rva(pl->f->img, w.rva);
		}
		nxpi_plan_refuse(plan, NXP_F_REFUSED_POOL, w, pp.refusal_rule[i], "%s", pp.refusals[i]);
	}
	if (pp.refusals_dropped)
		nxpi_plan_refuse(plan, NXP_F_REFUSED_POOL, NXP_WHERE_NONE, NULL,
		                 "and %zu more pool call sites refused", pp.refusals_dropped);
	for (size_t i = 0; i < pp.nwarnings; i++)
		nxpi_plan_warn(plan, "%s", pp.warnings[i]);
}

void nxpi_plan_pool_section(nxpi_planner *pl)
{
	nxp_plan *plan = pl->plan;
	if (!pl->nwraps || plan->nrefusals)
		return;
	char why[320];
	if (nxpi_addsec_plan(plan, pl->f->img, NXP_NXWRAP_SECTION, pl->wrap_code, pl->wrap_len,
	                     NXP_NXWRAP_CHARACTERISTICS, why, sizeof(why)))
		nxpi_plan_refuse(plan, NXP_F_REFUSED_ADD_SECTION, NXP_WHERE_NONE, pl->wrap_rule,
		                 "pool: nx needs a section of %u NX wrapper%s for the call sites whose "
		                 "pool type is set too short to hold 0x200; %s",
		                 pl->nwraps, pl->nwraps == 1 ? "" : "s", why);
	else
		plan->add.nwrappers = pl->nwraps;
}
