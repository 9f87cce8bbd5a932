/* SPDX-License-Identifier: Apache-2.0 */
/* The rules in policy order: each matching rule decides the flag bits it
 * names (the later rule wins), and the decisions become the DllCharacteristics
 * and section-characteristics changes, each bit with its deciding rule. */
#include <stdio.h>
#include <string.h>

#include "analysis/internal.h"
#include "plan/internal.h"
#include "policy/internal.h"

/* Every matching rule fits in plan->matched: none is dropped from the JSON
 * or the journal. */
_Static_assert(NXP_POLICY_MAX_RULES <= NXP_MAX_MATCHED, "plan->matched holds every rule");

static void decide(nxpi_decision *d, unsigned nbits, uint32_t mask, int value, int rule,
                   const nxp_section_action *act)
{
	for (unsigned b = 0; b < nbits; b++)
		if (mask & (1u << b))
			d[b] = (nxpi_decision){1, value, rule, act ? act->allow_wx : 0, act};
}

/* Evidence still unresolved after the decisions so far: a section with
 * evidence that the plan does not (yet) make executable. */
static int unresolved_code_in_data(const nxpi_planner *pl)
{
	const nxp_image *img = pl->f->img;
	const unsigned x = __builtin_ctz(NXP_SCN_MEM_EXECUTE);
	for (unsigned i = 0; i < img->nsections; i++) {
		const nxpi_decision *d = &pl->sec[i][x];
		int exec = d->decided ? d->value : !!(img->sections[i].characteristics & NXP_SCN_MEM_EXECUTE);
		if (!exec && nxpi_section_evidence(pl->f, i))
			return 1;
	}
	return 0;
}

void nxpi_plan_rules(nxpi_planner *pl)
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

/* Resolve decisions on one flag word into c's bit list; returns the new
 * value. */
static uint32_t resolve(const nxpi_planner *pl, nxp_change *c, const nxpi_decision *d,
                        unsigned nbits, uint32_t old)
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

const char *nxpi_plan_rule_id(const nxpi_planner *pl, const nxpi_decision *d)
{
	return d->decided ? pl->pol->rules[d->rule].id : NULL;
}

/* What would allow decision d to make a section W+X: --allow-wx for an
 * inline edit, allow_wx: true in the file's action (named by position). */
static void allow_wx_hint(const nxpi_planner *pl, const nxpi_decision *d, char *out, size_t size)
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

/* Section i becomes val from old: a section made W+X needs the bit that made
 * it so to come from an action allowing it. */
static void check_made_wx(const nxpi_planner *pl, unsigned i, uint32_t val)
{
	const nxp_section *s = &pl->f->img->sections[i];
	if ((val & NXP_SCN_WX) != NXP_SCN_WX || (s->characteristics & NXP_SCN_WX) == NXP_SCN_WX)
		return;
	for (unsigned b = 29; b <= 31; b += 2) { /* execute, write */
		const nxpi_decision *d = &pl->sec[i][b];
		if ((s->characteristics & (1u << b)) || !d->decided || d->allow_wx)
			continue;
		char how[300];
		allow_wx_hint(pl, d, how, sizeof(how));
		nxpi_plan_refuse(pl->plan, NXP_F_REFUSED_WX,
		                 nxpi_plan_where("section_characteristics", s->characteristics_offset,
		                                 (int)i),
		                 nxpi_plan_rule_id(pl, d),
		                 "section %s would become writable and executable (0x%08X -> 0x%08X); "
		                 "%s",
		                 s->name, s->characteristics, val, how);
	}
}

void nxpi_plan_flags(nxpi_planner *pl)
{
	nxp_plan *plan = pl->plan;
	const nxp_image *img = pl->f->img;
	nxp_change tmp;
	uint16_t dll = (uint16_t)resolve(pl, &tmp, pl->dll, 16, img->dll_characteristics);
	if (dll != img->dll_characteristics) {
		nxpi_plan_change(plan, NXP_FIELD_DLL_CHARACTERISTICS, -1, img->dll_characteristics_offset,
		                 2, img->dll_characteristics, dll, &tmp);
		plan->dll_new = dll;
	}
	for (unsigned i = 0; i < img->nsections; i++) {
		const nxp_section *s = &img->sections[i];
		uint32_t val = resolve(pl, &tmp, pl->sec[i], 32, s->characteristics);
		if (val == s->characteristics)
			continue;
		nxpi_plan_change(plan, NXP_FIELD_SECTION_CHARACTERISTICS, (int)i,
		                 s->characteristics_offset, 4, s->characteristics, val, &tmp);
		plan->section_new[i] = val;
		check_made_wx(pl, i, val);
	}
}

/* A refusal decided by a rule from a file names where that rule is (an
 * inline edit's rule id is already its option). */
void nxpi_plan_name_rules(nxp_plan *plan, const nxp_policy *pol)
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
