/* SPDX-License-Identifier: Apache-2.0 */
/* Planning `pool: nx` for drivers: every call site whose resolved pool type
 * is non-paged and executable asks for the NX form instead (the type OR
 * POOL_NX_ALLOCATION, 0x200), by rewriting the immediate that sets it where
 * the encoding is wide enough (`mov r32, imm32`, `mov [rsp+n], imm32`,
 * `push imm32`). Everything else that could hand out executable pool, and
 * everything not understood, refuses the whole image with the reason:
 * never a partial migration. Pure: the caller turns the result into plan
 * changes and refusals. */
#include <stdio.h>
#include <string.h>

#include "nxpatch/driver.h"
#include "plan/pool.h"
#include "util/bytes.h"

static void refuse(nxp_pool_plan *pp, const char *rule, uint32_t rva, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void refuse(nxp_pool_plan *pp, const char *rule, uint32_t rva, const char *fmt, ...)
{
	if (pp->nrefusals >= NXP_POOL_MAX_NOTES) {
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

static void note(nxp_pool_plan *pp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(nxp_pool_plan *pp, const char *fmt, ...)
{
	if (pp->nwarnings >= NXP_POOL_MAX_NOTES)
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

/* Plan one executable site whose type the migration can change. */
static void plan_site(nxp_pool_plan *pp, const nxp_image *img, const nxp_drv_site *s,
                      const char *rule)
{
	const char *api = nxp_drv_apis[s->api].name;
	uint32_t off;
	int wide = (s->how == NXP_HOW_IMM32 || s->how == NXP_HOW_PUSH_IMM32) && s->imm_size == 4;
	if (!wide) {
		refuse(pp, rule, s->rva,
		       "%s call at 0x%x: the pool type is set by %s at 0x%x, too short to hold "
		       "0x200; such a site needs the call routed through an NX wrapper in an "
		       "appended section, which this version does not write",
		       api, s->rva, nxp_arg_how_name(s->how), s->setter_rva);
		return;
	}
	/* The immediate lies inside its setter, in an executable section, and
	 * holds what the resolver read: anything else is a resolver bug, and
	 * the edit would land on the wrong bytes. */
	int sec = nxp_pe_section_of_rva(img, s->imm_rva);
	if (!nxp_pe_rva_to_offset(img, s->imm_rva, 4, &off) || sec < 0 ||
	    !(img->sections[sec].characteristics & NXP_SCN_MEM_EXECUTE) ||
	    s->imm_rva <= s->setter_rva || s->imm_rva + 4 > s->setter_rva + s->setter_len ||
	    ((nxp_le32(img->data + off) | s->or_bits) & 0xffffffffu) != (s->value & 0xffffffffu)) {
		refuse(pp, rule, s->rva,
		       "%s call at 0x%x: the immediate at 0x%x does not hold the resolved type", api,
		       s->rva, s->imm_rva);
		return;
	}
	for (size_t i = 0; i < pp->nedits; i++)
		if (pp->edits[i].offset == off)
			return; /* one immediate feeding two calls */
	if (pp->nedits >= NXP_MAX_POOL_EDITS) {
		refuse(pp, rule, 0, "more than %d pool-type immediates to rewrite", NXP_MAX_POOL_EDITS);
		return;
	}
	uint32_t old = nxp_le32(img->data + off);
	pp->edits[pp->nedits++] = (nxp_pool_edit){off, s->rva, (uint16_t)s->api, sec, old,
	                                          old | NXP_POOL_NX_ALLOCATION, rule};
}

void nxp_plan_pool(nxp_pool_plan *pp, const nxp_facts *f, const nxp_rule *const *rules,
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
			if (s->verdict != NXP_SITE_OK && s->verdict != NXP_SITE_OPTIN)
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
		case NXP_SITE_EXEC:
			plan_site(pp, img, s, rule);
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
