/* SPDX-License-Identifier: Apache-2.0 */
/* long-file: the planner's passes over one state; pool.c and sigplan.c are split out. */
/* Planning: evaluate the rules in order against one image's facts, resolve
 * every bit (the later rule wins), apply the safety checks, and produce the
 * list of field edits that apply will write. Nothing here touches a file. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/driver.h"
#include "nxpatch/plan.h"
#include "nxpatch/sign.h"
#include "plan/addsec.h"
#include "plan/pool.h"
#include "util/bytes.h"
#include "analysis/internal.h"
#include "pe/internal.h"
#include "policy/internal.h"

/* Every matching rule fits in plan->matched: none is dropped from the JSON
 * or the journal. */
_Static_assert(NXP_POLICY_MAX_RULES <= NXP_MAX_MATCHED, "plan->matched holds every rule");

typedef struct bit_decision {
	int decided;
	int value;
	int rule;          /* index into the policy's rules */
	int allow_wx;      /* the deciding section action allows W+X */
	const nxp_section_action *act; /* the deciding section action, or NULL */
} bit_decision;

typedef struct planner {
	nxp_plan *plan;
	const nxp_policy *pol;
	const nxp_facts *f;
	bit_decision dll[16];
	bit_decision sec[NXP_MAX_SECTIONS][32];
	const nxp_rule *pool_rules[32];  /* matching rules with pool: nx */
	size_t npool;
	uint8_t wrap_code[NXP_MAX_ADDSEC_DATA]; /* pool: nx's NX wrappers, for the new section */
	uint32_t wrap_len;
	unsigned nwraps;
	const char *wrap_rule;
} planner;

static void refuse(nxp_plan *p, nxp_finding_id id, nxp_where where, const char *rule,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void refuse(nxp_plan *p, nxp_finding_id id, nxp_where where, const char *rule,
                   const char *fmt, ...)
{
	if (p->nrefusals >= NXP_MAX_REFUSALS)
		return;
	nxp_refusal *r = &p->refusals[p->nrefusals++];
	r->id = id;
	r->where = where;
	r->rule = rule;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static nxp_where where_field(const char *field, uint32_t offset, int section)
{
	nxp_where w = NXP_WHERE_NONE;
	w.field = field;
	w.has_offset = 1;
	w.offset = offset;
	w.section = section;
	return w;
}

static void warn(nxp_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(nxp_plan *p, const char *fmt, ...)
{
	if (p->nwarnings >= NXP_MAX_PLAN_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->warnings[p->nwarnings++], sizeof(p->warnings[0]), fmt, ap);
	va_end(ap);
}

static void decide(bit_decision *d, unsigned nbits, uint32_t mask, int value, int rule,
                   const nxp_section_action *act)
{
	for (unsigned b = 0; b < nbits; b++)
		if (mask & (1u << b))
			d[b] = (bit_decision){1, value, rule, act ? act->allow_wx : 0, act};
}

/* Evidence still unresolved after the decisions so far: a section with
 * evidence that the plan does not (yet) make executable. */
static int unresolved_code_in_data(const planner *pl)
{
	const nxp_image *img = pl->f->img;
	const unsigned x = __builtin_ctz(NXP_SCN_MEM_EXECUTE);
	for (unsigned i = 0; i < img->nsections; i++) {
		const bit_decision *d = &pl->sec[i][x];
		int exec = d->decided ? d->value : !!(img->sections[i].characteristics & NXP_SCN_MEM_EXECUTE);
		if (!exec && nxpi_section_evidence(pl->f, i))
			return 1;
	}
	return 0;
}

static void evaluate_rules(planner *pl)
{
	const nxp_image *img = pl->f->img;
	/* `code_in_data` is judged on the image as the earlier rules leave it,
	 * so "make the thunk sections executable, then opt in to DEP" plans in
	 * one pass, and applying the policy to its own output does nothing. */
	nxp_facts view = *pl->f;
	for (size_t ri = 0; ri < pl->pol->nrules; ri++) {
		const nxp_rule *r = &pl->pol->rules[ri];
		/* Judged only for a rule that asks (it reads the sections' evidence). */
		view.code_in_data = r->code_in_data_cond >= 0 && unresolved_code_in_data(pl);
		if (!nxpi_rule_matches(r, &view))
			continue;
		if (pl->plan && pl->plan->nmatched < NXP_MAX_MATCHED)
			pl->plan->matched[pl->plan->nmatched++] = r->id;
		if (r->pool_nx && pl->npool < sizeof(pl->pool_rules) / sizeof(pl->pool_rules[0]))
			pl->pool_rules[pl->npool++] = r;
		decide(pl->dll, 16, r->set, 1, (int)ri, NULL);
		decide(pl->dll, 16, r->clear, 0, (int)ri, NULL);
		for (size_t ai = 0; ai < r->nsections; ai++) {
			const nxp_section_action *a = &r->sections[ai];
			for (unsigned si = 0; si < img->nsections; si++) {
				if (!nxpi_section_selected(a, &view, si))
					continue;
				decide(pl->sec[si], 32, a->add, 1, (int)ri, a);
				decide(pl->sec[si], 32, a->remove, 0, (int)ri, a);
			}
		}
	}
}

/* Resolve decisions on one flag word into a change; returns the new value. */
static uint32_t resolve(planner *pl, nxp_change *c, const bit_decision *d, unsigned nbits,
                        uint32_t old)
{
	uint32_t val = old;
	c->nbits = 0;
	for (unsigned b = 0; b < nbits; b++) {
		if (!d[b].decided)
			continue;
		uint32_t bit = 1u << b;
		uint32_t want = d[b].value ? bit : 0;
		if ((old & bit) == want)
			continue;
		val = (val & ~bit) | want;
		nxp_bit_change *bc = &c->bits[c->nbits++];
		bc->bit = bit;
		bc->set = d[b].value;
		bc->rule = pl->pol->rules[d[b].rule].id;
	}
	return val;
}

static const char *rule_id(const planner *pl, const bit_decision *d)
{
	return d->decided ? pl->pol->rules[d->rule].id : NULL;
}

/* What would allow decision d to make a section W+X: --allow-wx for an
 * inline edit, allow_wx: true in the file's action (named by position). */
static void allow_wx_hint(const planner *pl, const bit_decision *d, char *out, size_t size)
{
	const nxp_rule *r = &pl->pol->rules[d->rule];
	if (r->option)
		snprintf(out, size, "--allow-wx allows it");
	else if (d->act)
		snprintf(out, size, "allow_wx: true in the action at %s:%u:%u allows it",
		         pl->pol->source, d->act->loc.line, d->act->loc.col);
	else
		snprintf(out, size, "the rule must say allow_wx: true");
}

static void check_dll_safety(planner *pl, uint16_t old, uint16_t val, int will_be_signed)
{
	const nxp_image *img = pl->f->img;
	const nxp_where dllw = where_field("dll_characteristics", img->dll_characteristics_offset, -1);
	uint16_t added = (uint16_t)(val & ~old);
	const bit_decision *d = pl->dll;
#define BITNO(flag) (__builtin_ctz(flag))
	if ((added & NXP_DLL_DYNAMIC_BASE) && (img->relocs_stripped || !img->has_relocs))
		refuse(pl->plan, NXP_F_REFUSED_DYNAMIC_BASE, dllw, rule_id(pl, &d[BITNO(NXP_DLL_DYNAMIC_BASE)]),
		       "dynamic_base needs base relocations, and this image has %s",
		       img->relocs_stripped ? "its relocations stripped" : "no relocation directory");
	if ((added & NXP_DLL_HIGH_ENTROPY_VA) && !img->pe32plus)
		refuse(pl->plan, NXP_F_REFUSED_HIGH_ENTROPY, dllw,
		       rule_id(pl, &d[BITNO(NXP_DLL_HIGH_ENTROPY_VA)]),
		       "high_entropy_va applies only to PE32+ images, and this one is PE32");
	else if ((added & NXP_DLL_HIGH_ENTROPY_VA) && !(val & NXP_DLL_DYNAMIC_BASE))
		refuse(pl->plan, NXP_F_REFUSED_HIGH_ENTROPY, dllw,
		       rule_id(pl, &d[BITNO(NXP_DLL_HIGH_ENTROPY_VA)]),
		       "high_entropy_va needs dynamic_base, which the image would not have");
	if ((added & NXP_DLL_GUARD_CF) && !img->has_guard_tables)
		refuse(pl->plan, NXP_F_REFUSED_GUARD_CF, dllw, rule_id(pl, &d[BITNO(NXP_DLL_GUARD_CF)]),
		       "guard_cf needs a load configuration with guard tables, and this image "
		       "has %s",
		       img->load_config.present ? "none in its load configuration"
		                                : "no load configuration");
	if ((added & NXP_DLL_FORCE_INTEGRITY) && !will_be_signed)
		refuse(pl->plan, NXP_F_REFUSED_FORCE_INTEGRITY, dllw,
		       rule_id(pl, &d[BITNO(NXP_DLL_FORCE_INTEGRITY)]),
		       "force_integrity makes Windows refuse an unsigned image, and the output "
		       "would not be signed; --signature sign (signature: sign in the policy's "
		       "settings) with --cert and --key signs every output");
#undef BITNO
}

static void add_change(nxp_plan *p, nxp_field field, int section, uint32_t offset,
                       uint32_t size, uint64_t old, uint64_t val, const nxp_change *bits)
{
	nxp_change *c = &p->changes[p->nchanges++];
	if (bits)
		*c = *bits;
	else
		c->nbits = 0;
	c->field = field;
	c->section = section;
	c->offset = offset;
	c->size = size;
	c->old_value = old;
	c->new_value = val;
}

/* pool: nx (src/plan/pool.c): its edits become changes, its refusals and
 * notes the plan's. */
static void plan_pool(planner *pl)
{
	nxp_plan *plan = pl->plan;
	nxp_pool_plan pp;
	nxp_plan_pool(&pp, pl->f, pl->pool_rules, pl->npool);
	for (size_t i = 0; i < pp.nedits; i++) {
		const nxp_pool_edit *e = &pp.edits[i];
		add_change(plan, e->field, e->section, e->offset, e->size, e->old_value, e->new_value,
		           NULL);
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
		refuse(plan, NXP_F_REFUSED_POOL, w, pp.refusal_rule[i], "%s", pp.refusals[i]);
	}
	if (pp.refusals_dropped)
		refuse(plan, NXP_F_REFUSED_POOL, NXP_WHERE_NONE, NULL,
		       "and %zu more pool call sites refused", pp.refusals_dropped);
	for (size_t i = 0; i < pp.nwarnings; i++)
		warn(plan, "%s", pp.warnings[i]);
}

/* The input's checksum the plan's starts from: computed, or (opt's
 * checksum_from_stored, facts derived on demand) the stored nonzero value,
 * taken as correct and recorded so in the plan. 0 when it must be derived
 * first (marked in the demand). */
static int checksum_base(nxp_plan *p, const nxp_facts *f, const nxp_plan_options *opt,
                         uint32_t *base)
{
	if (f->checksum_unread && opt->checksum_from_stored && f->img->checksum) {
		p->checksum_from_stored = 1;
		*base = f->img->checksum;
		return 1;
	}
	if (!nxpi_checksum_read(f))
		return 0;
	*base = f->checksum_computed;
	return 1;
}

static uint32_t planned_checksum(nxp_plan *p, const nxp_facts *f, uint64_t out_len,
                                 const nxp_plan_options *opt)
{
	const nxp_image *img = f->img;
	uint32_t sum, base = 0;
	if (out_len == img->len) {
		if (!checksum_base(p, f, opt, &base))
			return 0;
		p->checksum_base = base;
		sum = base - (uint32_t)img->len;
	} else
		sum = nxp_pe_checksum(img->data, (size_t)out_len, img->checksum_offset) -
		      (uint32_t)out_len;
	sum = nxpi_pe_sum_residue(sum);
	for (size_t i = 0; i < p->nchanges; i++) {
		const nxp_change *c = &p->changes[i];
		if (c->field == NXP_FIELD_CHECKSUM)
			continue;
		for (uint32_t k = 0; k < c->size; k++)
			sum = nxpi_pe_sum_swap_byte(sum, c->offset + k, img->data[c->offset + k],
			                           (uint8_t)(c->new_value >> (8 * k)));
	}
	/* An appended section: its data start at an even (aligned) offset. */
	if (p->add.present)
		sum = nxpi_pe_sum_residue((uint64_t)sum + nxpi_pe_sum16(p->add.data, p->add.data_len, 0));
	return nxpi_pe_sum_finish(sum, nxp_plan_body_end(p));
}

static int cmp_change(const void *a, const void *b)
{
	const nxp_change *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* A planned edit must not change how the image reads: a field inside a
 * structure the reader parses (crafted images overlap import descriptors with
 * the data directories, for instance), or a truncation (signature strip) that
 * cuts one off, would make the output differ beyond the plan. */
static void check_parsed_range(nxp_plan *plan, const char *what, unsigned idx, uint64_t off,
                               uint64_t len)
{
	for (size_t i = 0; i < plan->nchanges; i++) {
		const nxp_change *c = &plan->changes[i];
		if (c->offset < off + len && off < (uint64_t)c->offset + c->size) {
			refuse(plan, NXP_F_REFUSED_OVERLAP, where_field(NULL, c->offset, -1), NULL,
			       "planned field at file offset 0x%x lies inside %s %u (0x%llx + 0x%llx); "
			       "the structures overlap and the edit would change how the image reads",
			       c->offset, what, idx, (unsigned long long)off, (unsigned long long)len);
			return;
		}
	}
	if (off + len > plan->out_len)
		refuse(plan, NXP_F_REFUSED_CERT_LAYOUT, NXP_WHERE_NONE, NULL,
		       "removing the certificate table would cut off %s %u (0x%llx + 0x%llx)", what,
		       idx, (unsigned long long)off, (unsigned long long)len);
}

static void check_parsed_structures(nxp_plan *plan, const nxp_image *img)
{
	if (img->imports_dir.present) {
		uint32_t n = img->imports_truncated ? NXP_MAX_IMPORTS + 1 : img->nimports + 1;
		for (uint32_t i = 0; i < n && !plan->nrefusals; i++) {
			uint32_t off;
			if (nxp_pe_rva_to_offset(img, (uint64_t)img->imports_dir.rva + 20ull * i, 20, &off))
				check_parsed_range(plan, "import descriptor", i, off, 20);
		}
		for (uint32_t i = 0; i < img->nimports && !plan->nrefusals; i++)
			check_parsed_range(plan, "import name", i, img->imports[i].name_offset,
			                   (uint64_t)img->imports[i].name_len + 1);
	}
	if (img->load_config.present && !plan->nrefusals)
		check_parsed_range(plan, "load configuration", 0, img->load_config.offset,
		                   img->load_config.size);
}

static int policy_allows_wx(const nxp_policy *pol)
{
	for (size_t r = 0; r < pol->nrules; r++)
		for (size_t a = 0; a < pol->rules[r].nsections; a++)
			if (pol->rules[r].sections[a].allow_wx)
				return 1;
	return 0;
}

/* A rule sanctions W+X on section i when it decides the section's execute
 * or write bit to 1 with allow_wx. */
static const char *own_sanction(const planner *pl, unsigned i)
{
	static const unsigned bits[] = {29, 31}; /* execute, write */
	for (unsigned k = 0; k < 2; k++) {
		const bit_decision *d = &pl->sec[i][bits[k]];
		if (d->decided && d->value && d->allow_wx)
			return pl->pol->rules[d->rule].id;
	}
	return NULL;
}

/* The image before the plan that made it: the same bytes with execute
 * cleared on every W+X section (where the policy found the code that made it
 * add execute), tried as it is, with nx_compat clear and unsigned (a plan's
 * output may have been opted in and signed since). A W+X section is
 * sanctioned when the rules, evaluated on one of those, add execute to it
 * with allow_wx and leave it writable. Sections already sanctioned keep
 * their rule. Best effort: when the analysis fails, nothing more is
 * sanctioned. */
static void counterfactual_sanctions(const planner *pl, nxp_plan *plan)
{
	const nxp_image *img = pl->f->img;
	nxp_image *pre = malloc(sizeof(*pre));
	planner *sub = malloc(sizeof(*sub));
	nxp_facts pf;
	int analyzed = 0;
	if (!pre || !sub)
		goto out;
	*pre = *img;
	for (unsigned i = 0; i < img->nsections; i++)
		if ((img->sections[i].characteristics & NXP_SCN_WX) == NXP_SCN_WX)
			pre->sections[i].characteristics &= ~NXP_SCN_MEM_EXECUTE;
	/* Fully derived facts of pre, whatever pl->f leaves to be derived on
	 * demand: this sub-judgement reads them directly. */
	if (nxp_analyze(&pf, pre, pl->f->path, NULL)) {
		nxp_facts_free(&pf);
		goto out;
	}
	analyzed = 1;
	/* Evidence from a trace (--evidence) is not in the image: carry it over. */
	for (size_t k = 0; k < pl->f->nevidence; k++)
		if (pl->f->evidence[k].kind == NXP_EV_DEP_FAULT &&
		    nxpi_facts_add_evidence(&pf, NXP_EV_DEP_FAULT, pl->f->evidence[k].rva,
		                           pl->f->evidence[k].section))
			goto out;
	pf.heap_faults = pl->f->heap_faults;
	const uint16_t dll = img->dll_characteristics;
	for (unsigned v = 0; v < 4; v++) {
		int unsign = v & 1, clear_nx = (v >> 1) & 1;
		if ((unsign && !pl->f->is_signed) || (clear_nx && !(dll & NXP_DLL_NX_COMPAT)))
			continue;
		pre->dll_characteristics = clear_nx ? (uint16_t)(dll & ~NXP_DLL_NX_COMPAT) : dll;
		pf.is_signed = unsign ? 0 : pl->f->is_signed;
		memset(sub, 0, sizeof(*sub));
		sub->pol = pl->pol;
		sub->f = &pf;
		evaluate_rules(sub);
		for (unsigned i = 0; i < img->nsections; i++) {
			if (plan->wx_rule[i] || (plan->section_new[i] & NXP_SCN_WX) != NXP_SCN_WX)
				continue;
			const bit_decision *x = &sub->sec[i][29], *w = &sub->sec[i][31];
			if (x->decided && x->value && x->allow_wx && !(w->decided && !w->value))
				plan->wx_rule[i] = pl->pol->rules[x->rule].id;
		}
	}
out:
	if (analyzed)
		nxp_facts_free(&pf);
	free(pre);
	free(sub);
}

static void sanction_wx(const planner *pl, nxp_plan *plan)
{
	const nxp_image *img = pl->f->img;
	int unsanctioned = 0;
	for (unsigned i = 0; i < img->nsections; i++) {
		if ((plan->section_new[i] & NXP_SCN_WX) != NXP_SCN_WX)
			continue;
		plan->wx_rule[i] = own_sanction(pl, i);
		unsanctioned |= !plan->wx_rule[i];
	}
	if (unsanctioned && policy_allows_wx(pl->pol))
		counterfactual_sanctions(pl, plan);
}

/* Faults a trace observed (--evidence): a section where code ran under DEP
 * must end up executable, and code that ran outside every image (generated
 * at run time) means the image must not be, or stay, opted in to DEP. */
static void check_traced_faults(planner *pl)
{
	nxp_plan *plan = pl->plan;
	const nxp_image *img = pl->f->img;
	const bit_decision *nx = &pl->dll[__builtin_ctz(NXP_DLL_NX_COMPAT)];
	if (pl->f->heap_faults && (plan->dll_new & NXP_DLL_NX_COMPAT))
		refuse(plan, NXP_F_REFUSED_NX_RUNTIME_CODE,
		       where_field("dll_characteristics", img->dll_characteristics_offset, -1),
		       rule_id(pl, nx),
		       "nx_compat %s while a trace saw code run outside every image (generated at "
		       "run time), which no section flag can make executable: %u fault site%s, "
		       "first at %s",
		       img->dll_characteristics & NXP_DLL_NX_COMPAT ? "would stay set" : "would be set",
		       pl->f->heap_faults, pl->f->heap_faults == 1 ? "" : "s", pl->f->heap_fault);
	for (unsigned i = 0; i < img->nsections; i++) {
		if (plan->section_new[i] & NXP_SCN_MEM_EXECUTE)
			continue;
		size_t n = 0;
		uint32_t first = 0;
		for (size_t k = 0; k < pl->f->nevidence; k++)
			if (pl->f->evidence[k].kind == NXP_EV_DEP_FAULT && pl->f->evidence[k].section == (int)i &&
			    !n++)
				first = pl->f->evidence[k].rva;
		if (!n)
			continue;
		nxp_where w = where_field("section_characteristics",
		                          img->sections[i].characteristics_offset, (int)i);
		w.has_rva = 1;
		w.rva = first;
		refuse(plan, NXP_F_REFUSED_TRACED_FAULT, w, NULL,
		       "a trace saw code run in section %s (rva 0x%x%s), and the plan leaves it "
		       "non-executable: the program faults there under DEP (--section "
		       "'@code-in-data:+execute', or a rule with section: \"@code-in-data\", add: "
		       "[execute], fixes it)",
		       img->sections[i].name, first, n > 1 ? " and more" : "");
	}
}

/* Safety refusals for opting in to DEP: code outside executable sections
 * that the plan leaves there faults at once (an entry point in a writable
 * packer section, a TLS callback, an export, a thunk), and a W+X section
 * that no rule sanctions is refused rather than silently kept. */
static void check_nx_safety(planner *pl)
{
	nxp_plan *plan = pl->plan;
	const nxp_image *img = pl->f->img;
	if (!(plan->dll_new & NXP_DLL_NX_COMPAT) || (img->dll_characteristics & NXP_DLL_NX_COMPAT))
		return;
	const char *by = rule_id(pl, &pl->dll[__builtin_ctz(NXP_DLL_NX_COMPAT)]);
	const unsigned x = __builtin_ctz(NXP_SCN_MEM_EXECUTE);
	char list[200];
	size_t n = 0, shown = 0, total = 0;
	nxp_where first = NXP_WHERE_NONE;
	list[0] = '\0';
	/* The records below must be complete for every section left
	 * non-executable. */
	for (unsigned i = 0; i < img->nsections; i++) {
		const bit_decision *d = &pl->sec[i][x];
		if (!(d->decided ? d->value : !!(img->sections[i].characteristics & NXP_SCN_MEM_EXECUTE)))
			nxpi_section_searched(pl->f, i);
	}
	for (size_t k = 0; k < pl->f->nevidence; k++) {
		const nxp_evidence *e = &pl->f->evidence[k];
		if (e->section < 0 || e->section >= (int)img->nsections)
			continue;
		const bit_decision *d = &pl->sec[e->section][x];
		int exec = d->decided ? d->value
		                      : !!(img->sections[e->section].characteristics & NXP_SCN_MEM_EXECUTE);
		if (exec)
			continue;
		if (!total++) {
			first.section = e->section;
			first.has_rva = 1;
			first.rva = e->rva;
		}
		if (shown < 3 && n < sizeof(list)) {
			int w = snprintf(list + n, sizeof(list) - n, "%s%s at 0x%x in %s", shown ? ", " : "",
			                 nxp_evidence_kind_name(e->kind), e->rva,
			                 img->sections[e->section].name);
			if (w > 0)
				n += (size_t)w;
			shown++;
		}
	}
	if (total)
		refuse(plan, NXP_F_REFUSED_CODE_OUTSIDE_EXEC, first, by,
		       "nx_compat would make code outside executable sections fault: %s%s "
		       "(%zu evidence record%s in sections the plan leaves non-executable); "
		       "--section '@code-in-data:+execute' (or a rule with section: "
		       "'@code-in-data', add: [execute]) makes them executable",
		       list, total > shown ? ", ..." : "", total, total == 1 ? "" : "s");
	for (unsigned i = 0; i < img->nsections; i++) {
		const nxp_section *s = &img->sections[i];
		if ((plan->section_new[i] & NXP_SCN_WX) != NXP_SCN_WX || plan->wx_rule[i])
			continue;
		if ((s->characteristics & NXP_SCN_WX) != NXP_SCN_WX)
			continue; /* made W+X by this plan: refused-wx names it */
		refuse(plan, NXP_F_REFUSED_WX_REMAINS,
		       where_field("section_characteristics", s->characteristics_offset, (int)i), by,
		       "nx_compat would be set while section %s stays writable and executable "
		       "(0x%08X), and no rule allows it (allow_wx: true); --section '%s:+execute' "
		       "--allow-wx (or allow_wx: true in a section action for it) allows it, "
		       "--section '%s:-write' removes write",
		       s->name, plan->section_new[i], s->name, s->name);
	}
}

/* signature: sign on an unsigned image: the output gets a signature whether
 * or not anything else changes (a garbage certificate-table entry the
 * reader ignored is replaced). */
static void sign_unsigned(nxp_plan *plan, const nxp_image *img, const nxp_plan_options *opt)
{
	nxp_sign_layout lay;
	nxp_error e = {0};
	if (nxp_sign_layout_of(img->data, img->len, img, &lay, &e)) {
		refuse(plan, NXP_F_REFUSED_CERT_LAYOUT,
		       where_field("certificate_table_entry", img->cert_dir_offset, -1), NULL,
		       "signature: sign cannot sign this image: %s", e.msg);
		return;
	}
	plan->signature = NXP_SIGACT_RESIGN;
	plan->signature_entries = 0;
	plan->out_len = lay.content_len;
	if (lay.has_table)
		add_change(plan, NXP_FIELD_CERT_DIR, -1, lay.cert_dir_offset, 8,
		           (uint64_t)img->cert_size << 32 | img->cert_offset, 0, NULL);
	if (!opt->will_sign)
		warn(plan, "signing needs key material at apply time (--cert and --key, or "
		           "--pkcs12)");
}

/* A refusal decided by a rule from a file names where that rule is (an
 * inline edit's rule id is already its option). */
static void name_rule_places(nxp_plan *plan, const nxp_policy *pol)
{
	for (size_t i = 0; i < plan->nrefusals; i++) {
		nxp_refusal *r = &plan->refusals[i];
		for (size_t k = 0; r->rule && k < pol->nrules; k++) {
			const nxp_rule *rule = &pol->rules[k];
			if (rule->id != r->rule || rule->option)
				continue;
			char where[300];
			nxp_rule_origin(pol, rule, where, sizeof(where));
			size_t n = strlen(r->reason);
			snprintf(r->reason + n, sizeof(r->reason) - n, " (rule %s at %s)", rule->id, where);
			break;
		}
	}
}

/* long-function: the planner's passes in order over one state (rules, sections, safety checks,
 * checksum, signature). */
int nxp_plan_build(nxp_plan *plan, const nxp_policy *pol, const nxp_facts *f,
                   const nxp_plan_options *opt, nxp_error *err)
{
	(void)err;
	static const nxp_plan_options defaults = {0};
	if (!opt)
		opt = &defaults;
	const nxp_image *img = f->img;
	planner *pl = &(planner){0};
	memset(plan, 0, sizeof(*plan));
	pl->plan = plan;
	pl->pol = pol;
	pl->f = f;
	plan->checksum_old = img->checksum;
	plan->out_len = img->len;
	plan->dll_new = img->dll_characteristics;
	for (unsigned i = 0; i < img->nsections; i++)
		plan->section_new[i] = img->sections[i].characteristics;

	for (size_t i = 0; i < f->nwarnings; i++)
		warn(plan, "%s", f->warnings[i]);
	evaluate_rules(pl);

	/* DllCharacteristics. */
	nxp_change tmp;
	uint16_t dll = (uint16_t)resolve(pl, &tmp, pl->dll, 16, img->dll_characteristics);
	if (dll != img->dll_characteristics) {
		add_change(plan, NXP_FIELD_DLL_CHARACTERISTICS, -1, img->dll_characteristics_offset, 2,
		           img->dll_characteristics, dll, &tmp);
		plan->dll_new = dll;
	}

	/* Section characteristics, with the W+X check. */
	for (unsigned i = 0; i < img->nsections; i++) {
		const nxp_section *s = &img->sections[i];
		uint32_t val = resolve(pl, &tmp, pl->sec[i], 32, s->characteristics);
		if (val == s->characteristics)
			continue;
		add_change(plan, NXP_FIELD_SECTION_CHARACTERISTICS, (int)i, s->characteristics_offset,
		           4, s->characteristics, val, &tmp);
		plan->section_new[i] = val;
		if ((val & NXP_SCN_WX) == NXP_SCN_WX && (s->characteristics & NXP_SCN_WX) != NXP_SCN_WX) {
			/* The bit that made it W+X must come from an action allowing it. */
			for (unsigned b = 29; b <= 31; b += 2) {
				const bit_decision *d = &pl->sec[i][b];
				if (!(s->characteristics & (1u << b)) && d->decided && !d->allow_wx) {
					char how[300];
					allow_wx_hint(pl, d, how, sizeof(how));
					refuse(plan, NXP_F_REFUSED_WX,
					       where_field("section_characteristics",
					                   s->characteristics_offset, (int)i),
					       rule_id(pl, d),
					       "section %s would become writable and executable (0x%08X -> "
					       "0x%08X); %s",
					       s->name, s->characteristics, val, how);
				}
			}
		}
	}

	if (pl->npool)
		plan_pool(pl);

	int changed = plan->nchanges > 0;
	/* The signature. */
	int will_be_signed = 0;
	if (changed && f->is_signed) {
		const char *by = plan->changes[0].nbits ? plan->changes[0].bits[0].rule : NULL;
		plan->signature_entries = img->ncerts;
		switch (pol->signature) {
		case NXP_SIGMODE_REFUSE:
			refuse(plan, NXP_F_REFUSED_SIGNED, NXP_WHERE_NONE, by,
			       "image is signed (%u entr%s) and the policy says signature: refuse (%s); "
			       "patching would invalidate the signature; --signature strip, resign or "
			       "sign (or signature: in the policy's settings) allows it",
			       img->ncerts, img->ncerts == 1 ? "y" : "ies",
			       pol->signature_from ? pol->signature_from : "the default");
			break;
		case NXP_SIGMODE_STRIP:
		case NXP_SIGMODE_RESIGN:
		case NXP_SIGMODE_SIGN:
			if (!NXP_FITS(img->cert_offset, img->cert_size, img->len) ||
			    img->cert_offset + img->cert_size != img->len) {
				refuse(plan, NXP_F_REFUSED_CERT_LAYOUT,
				       where_field("certificate_table_entry", img->cert_dir_offset, -1), by,
				       "certificate table (0x%x + 0x%x) is not at the end of the file "
				       "(0x%zx); it cannot be removed without moving data",
				       img->cert_offset, img->cert_size, img->len);
				break;
			}
			plan->signature = pol->signature == NXP_SIGMODE_STRIP ? NXP_SIGACT_STRIP
			                                                  : NXP_SIGACT_RESIGN;
			plan->out_len = img->cert_offset;
			add_change(plan, NXP_FIELD_CERT_DIR, -1, img->cert_dir_offset, 8,
			           (uint64_t)img->cert_size << 32 | img->cert_offset, 0, NULL);
			if (plan->signature == NXP_SIGACT_RESIGN) {
				will_be_signed = 1;
				if (!opt->will_sign)
					warn(plan, "re-signing needs key material at apply time (--cert "
					           "and --key, or --pkcs12)");
			}
			break;
		}
	} else if (pol->signature == NXP_SIGMODE_SIGN && !f->is_signed) {
		sign_unsigned(plan, img, opt);
		will_be_signed = plan->signature == NXP_SIGACT_RESIGN;
	} else if (f->is_signed && (img->dll_characteristics & NXP_DLL_FORCE_INTEGRITY)) {
		will_be_signed = 1;
	}
	if (plan->dll_new != img->dll_characteristics)
		check_dll_safety(pl, img->dll_characteristics, plan->dll_new, will_be_signed);
	/* The NX wrappers' section, after the signature decided what is kept. */
	if (pl->nwraps && !plan->nrefusals) {
		char why[320];
		if (nxp_addsec_plan(plan, img, NXP_NXWRAP_SECTION, pl->wrap_code, pl->wrap_len,
		                    NXP_NXWRAP_CHARACTERISTICS, why, sizeof(why)))
			refuse(plan, NXP_F_REFUSED_ADD_SECTION, NXP_WHERE_NONE, pl->wrap_rule,
			       "pool: nx needs a section of %u NX wrapper%s for the call sites whose "
			       "pool type is set too short to hold 0x200; %s",
			       pl->nwraps, pl->nwraps == 1 ? "" : "s", why);
		else
			plan->add.nwrappers = pl->nwraps;
	}
	sanction_wx(pl, plan);
	check_nx_safety(pl);
	check_traced_faults(pl);

	/* The checksum: recomputed when anything changes, except that a stored
	 * zero stays zero unless the policy asks for it always. Re-signing
	 * recomputes it after the signature is appended. */
	int want_sum = pol->checksum == NXP_CHECKSUM_ALWAYS || (changed && img->checksum != 0);
	if (plan->signature != NXP_SIGACT_RESIGN && want_sum) {
		uint32_t sum = planned_checksum(plan, f, plan->out_len, opt);
		if (sum != img->checksum)
			add_change(plan, NXP_FIELD_CHECKSUM, -1, img->checksum_offset, 4, img->checksum,
			           sum, NULL);
		plan->checksum_new = sum;
	} else {
		plan->checksum_new = img->checksum;
	}

	qsort(plan->changes, plan->nchanges, sizeof(plan->changes[0]), cmp_change);
	/* Crafted images can overlap header fields; two edits to one byte would
	 * make the plan a lie. */
	for (size_t i = 1; i < plan->nchanges; i++) {
		const nxp_change *a = &plan->changes[i - 1], *b = &plan->changes[i];
		if (b->offset < (uint64_t)a->offset + a->size)
			refuse(plan, NXP_F_REFUSED_OVERLAP, where_field(NULL, b->offset, -1), NULL,
			       "planned fields overlap at file offset 0x%x (the headers overlap "
			       "each other)",
			       b->offset);
	}

	if (plan->nchanges && !plan->nrefusals)
		check_parsed_structures(plan, img);
	name_rule_places(plan, pol);

	if (plan->nrefusals)
		plan->status = NXP_PLAN_REFUSED;
	else if (plan->nchanges || plan->signature)
		plan->status = NXP_PLAN_CHANGES;
	else
		plan->status = NXP_PLAN_NOTHING;
	return NXP_OK;
}

void nxp_change_label(const nxp_change *c, const nxp_image *img, char *out, size_t outlen)
{
	switch (c->field) {
	case NXP_FIELD_DLL_CHARACTERISTICS:
		snprintf(out, outlen, "dll_characteristics");
		break;
	case NXP_FIELD_SECTION_CHARACTERISTICS:
		snprintf(out, outlen, "section %s characteristics",
		         c->section >= 0 ? img->sections[c->section].name : "?");
		break;
	case NXP_FIELD_CHECKSUM:
		snprintf(out, outlen, "checksum");
		break;
	case NXP_FIELD_CERT_DIR:
		snprintf(out, outlen, "certificate table entry");
		break;
	case NXP_FIELD_POOL_TYPE:
		snprintf(out, outlen, "pool type of the %s call at 0x%x",
		         c->api >= 0 && (size_t)c->api < nxp_drv_napis ? nxp_drv_apis[c->api].name : "?",
		         c->site_rva);
		break;
	case NXP_FIELD_CALL_SITE:
		if (c->rva == c->site_rva)
			snprintf(out, outlen, "%s call at 0x%x -> NX wrapper at 0x%x",
			         c->api >= 0 && (size_t)c->api < nxp_drv_napis ? nxp_drv_apis[c->api].name
			                                                       : "?",
			         c->site_rva, c->target_rva);
		else
			snprintf(out, outlen, "load at 0x%x for the %s call at 0x%x -> NX wrapper at 0x%x",
			         c->rva,
			         c->api >= 0 && (size_t)c->api < nxp_drv_napis ? nxp_drv_apis[c->api].name
			                                                       : "?",
			         c->site_rva, c->target_rva);
		break;
	case NXP_FIELD_RELOC_ENTRY:
		snprintf(out, outlen, "base relocation of 0x%x dropped (call at 0x%x)", c->rva,
		         c->site_rva);
		break;
	case NXP_FIELD_SECTION_COUNT:
		snprintf(out, outlen, "number of sections");
		break;
	case NXP_FIELD_SIZE_OF_CODE:
		snprintf(out, outlen, "size of code");
		break;
	case NXP_FIELD_SIZE_OF_IMAGE:
		snprintf(out, outlen, "size of image");
		break;
	case NXP_FIELD_SECTION_HEADER:
		snprintf(out, outlen, "new section header, bytes %u-%u",
		         img->nsections ? (unsigned)(c->offset - img->section_table_offset -
		                                     40u * img->nsections)
		                        : 0,
		         img->nsections ? (unsigned)(c->offset - img->section_table_offset -
		                                     40u * img->nsections + 7)
		                        : 7);
		break;
	}
}

void nxp_change_bits(const nxp_change *c, char *out, size_t outlen)
{
	const nxp_flag_name *t = c->field == NXP_FIELD_DLL_CHARACTERISTICS ? nxp_dll_flag_names
	                                                                    : nxp_section_attr_names;
	size_t n = 0;
	out[0] = '\0';
	if (c->field == NXP_FIELD_POOL_TYPE) {
		snprintf(out, outlen, "+POOL_NX_ALLOCATION");
		return;
	}
	if (c->field != NXP_FIELD_DLL_CHARACTERISTICS &&
	    c->field != NXP_FIELD_SECTION_CHARACTERISTICS)
		return;
	for (unsigned i = 0; i < c->nbits && n < outlen; i++) {
		const char *name = NULL;
		for (const nxp_flag_name *e = t; e->name; e++)
			if (e->bit == c->bits[i].bit)
				name = e->name;
		char hex[16];
		if (!name) {
			snprintf(hex, sizeof(hex), "0x%x", c->bits[i].bit);
			name = hex;
		}
		int w = snprintf(out + n, outlen - n, "%s%c%s", i ? ", " : "",
		                 c->bits[i].set ? '+' : '-', name);
		if (w > 0)
			n += (size_t)w;
	}
}

void nxp_change_rules(const nxp_change *c, char *out, size_t outlen)
{
	size_t n = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < c->nbits && n < outlen; i++) {
		int seen = 0;
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(c->bits[j].rule, c->bits[i].rule))
				seen = 1;
		if (seen)
			continue;
		int w = snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", c->bits[i].rule);
		if (w > 0)
			n += (size_t)w;
	}
}
