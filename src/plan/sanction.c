/* SPDX-License-Identifier: Apache-2.0 */
/* W+X sanctions: which rule allows each writable and executable section of
 * the planned output (plan->wx_rule), from the plan's own decisions or, for
 * a section already W+X, from the image before the plan that made it. */
#include <stdlib.h>
#include <string.h>

#include "analysis/internal.h"
#include "plan/internal.h"

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
static const char *own_sanction(const nxpi_planner *pl, unsigned i)
{
	static const unsigned bits[] = {29, 31}; /* execute, write */
	for (unsigned k = 0; k < 2; k++) {
		const nxpi_decision *d = &pl->sec[i][bits[k]];
		if (d->decided && d->value && d->allow_wx)
			return pl->pol->rules[d->rule].id;
	}
	return NULL;
}

/* The rules evaluated on the counterfactual image pre (facts pf) in its four
 * variants (signed or not, nx_compat set or clear, as far as the image
 * allows) sanction the W+X sections they add execute to with allow_wx and
 * leave writable. */
static void sanction_variants(const nxpi_planner *pl, nxp_plan *plan, nxp_image *pre,
                              nxp_facts *pf, nxpi_planner *sub)
{
	const nxp_image *img = pl->f->img;
	const uint16_t dll = img->dll_characteristics;
	for (unsigned v = 0; v < 4; v++) {
		int unsign = v & 1, clear_nx = (v >> 1) & 1;
		if ((unsign && !pl->f->is_signed) || (clear_nx && !(dll & NXP_DLL_NX_COMPAT)))
			continue;
		pre->dll_characteristics = clear_nx ? (uint16_t)(dll & ~NXP_DLL_NX_COMPAT) : dll;
		pf->is_signed = unsign ? 0 : pl->f->is_signed;
		memset(sub, 0, sizeof(*sub));
		sub->pol = pl->pol;
		sub->f = pf;
		nxpi_plan_rules(sub);
		for (unsigned i = 0; i < img->nsections; i++) {
			if (plan->wx_rule[i] || (plan->section_new[i] & NXP_SCN_WX) != NXP_SCN_WX)
				continue;
			const nxpi_decision *x = &sub->sec[i][29], *w = &sub->sec[i][31];
			if (x->decided && x->value && x->allow_wx && !(w->decided && !w->value))
				plan->wx_rule[i] = pl->pol->rules[x->rule].id;
		}
	}
}

/* The image before the plan that made it: the same bytes with execute
 * cleared on every W+X section (where the policy found the code that made it
 * add execute), tried as it is, with nx_compat clear and unsigned (a plan's
 * output may have been opted in and signed since). A W+X section is
 * sanctioned when the rules, evaluated on one of those, add execute to it
 * with allow_wx and leave it writable. Sections already sanctioned keep
 * their rule. Best effort: when the analysis fails, nothing more is
 * sanctioned. */
static void counterfactual_sanctions(const nxpi_planner *pl, nxp_plan *plan)
{
	const nxp_image *img = pl->f->img;
	nxp_image *pre = malloc(sizeof(*pre));
	nxpi_planner *sub = malloc(sizeof(*sub));
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
	sanction_variants(pl, plan, pre, &pf, sub);
out:
	if (analyzed)
		nxp_facts_free(&pf);
	free(pre);
	free(sub);
}

void nxpi_plan_sanction_wx(const nxpi_planner *pl)
{
	nxp_plan *plan = pl->plan;
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
