/* SPDX-License-Identifier: Apache-2.0 */
/* The planner's safety refusals: a flag the image cannot support, code that
 * DEP would make fault (evidence, traced faults, an unsanctioned W+X
 * section), and edits that would change how the image reads (overlapping
 * fields, fields inside parsed structures, a strip that cuts one off). */
#include <stdio.h>
#include <stdlib.h>

#include "analysis/internal.h"
#include "plan/internal.h"

void nxpi_plan_check_dll(nxpi_planner *pl, int will_be_signed)
{
	const nxp_image *img = pl->f->img;
	uint16_t old = img->dll_characteristics, val = pl->plan->dll_new;
	if (val == old)
		return;
	const nxp_where dllw = nxpi_plan_where("dll_characteristics", img->dll_characteristics_offset, -1);
	uint16_t added = (uint16_t)(val & ~old);
	const nxpi_decision *d = pl->dll;
#define BY(flag) nxpi_plan_rule_id(pl, &d[__builtin_ctz(flag)])
	if ((added & NXP_DLL_DYNAMIC_BASE) && (img->relocs_stripped || !img->has_relocs))
		nxpi_plan_refuse(pl->plan, NXP_F_REFUSED_DYNAMIC_BASE, dllw, BY(NXP_DLL_DYNAMIC_BASE),
		                 "dynamic_base needs base relocations, and this image has %s",
		                 img->relocs_stripped ? "its relocations stripped"
		                                      : "no relocation directory");
	if ((added & NXP_DLL_HIGH_ENTROPY_VA) && !img->pe32plus)
		nxpi_plan_refuse(pl->plan, NXP_F_REFUSED_HIGH_ENTROPY, dllw, BY(NXP_DLL_HIGH_ENTROPY_VA),
		                 "high_entropy_va applies only to PE32+ images, and this one is PE32");
	else if ((added & NXP_DLL_HIGH_ENTROPY_VA) && !(val & NXP_DLL_DYNAMIC_BASE))
		nxpi_plan_refuse(pl->plan, NXP_F_REFUSED_HIGH_ENTROPY, dllw, BY(NXP_DLL_HIGH_ENTROPY_VA),
		                 "high_entropy_va needs dynamic_base, which the image would not have");
	if ((added & NXP_DLL_GUARD_CF) && !img->has_guard_tables)
		nxpi_plan_refuse(pl->plan, NXP_F_REFUSED_GUARD_CF, dllw, BY(NXP_DLL_GUARD_CF),
		                 "guard_cf needs a load configuration with guard tables, and this image "
		                 "has %s",
		                 img->load_config.present ? "none in its load configuration"
		                                          : "no load configuration");
	if ((added & NXP_DLL_FORCE_INTEGRITY) && !will_be_signed)
		nxpi_plan_refuse(pl->plan, NXP_F_REFUSED_FORCE_INTEGRITY, dllw, BY(NXP_DLL_FORCE_INTEGRITY),
		                 "force_integrity makes Windows refuse an unsigned image, and the output "
		                 "would not be signed; --signature sign (signature: sign in the policy's "
		                 "settings) with --cert and --key signs every output");
#undef BY
}

/* Faults a trace observed (--evidence): a section where code ran under DEP
 * must end up executable, and code that ran outside every image (generated
 * at run time) means the image must not be, or stay, opted in to DEP. */
void nxpi_plan_check_traced(nxpi_planner *pl)
{
	nxp_plan *plan = pl->plan;
	const nxp_image *img = pl->f->img;
	const nxpi_decision *nx = &pl->dll[__builtin_ctz(NXP_DLL_NX_COMPAT)];
	if (pl->f->heap_faults && (plan->dll_new & NXP_DLL_NX_COMPAT))
		nxpi_plan_refuse(plan, NXP_F_REFUSED_NX_RUNTIME_CODE,
		                 nxpi_plan_where("dll_characteristics", img->dll_characteristics_offset, -1),
		                 nxpi_plan_rule_id(pl, nx),
		                 "nx_compat %s while a trace saw code run outside every image (generated "
		                 "at run time), which no section flag can make executable: %u fault "
		                 "site%s, first at %s",
		                 img->dll_characteristics & NXP_DLL_NX_COMPAT ? "would stay set"
		                                                              : "would be set",
		                 pl->f->heap_faults, pl->f->heap_faults == 1 ? "" : "s",
		                 pl->f->heap_fault);
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
		nxp_where w = nxpi_plan_where("section_characteristics",
		                              img->sections[i].characteristics_offset, (int)i);
		w.has_rva = 1;
		w.rva = first;
		nxpi_plan_refuse(plan, NXP_F_REFUSED_TRACED_FAULT, w, NULL,
		                 "a trace saw code run in section %s (rva 0x%x%s), and the plan leaves "
		                 "it non-executable: the program faults there under DEP (--section "
		                 "'@code-in-data:+execute', or a rule with section: \"@code-in-data\", "
		                 "add: [execute], fixes it)",
		                 img->sections[i].name, first, n > 1 ? " and more" : "");
	}
}

/* Evidence of code in sections the plan leaves non-executable: the first
 * three named in list, the count returned, the first record's place in
 * first. */
static size_t code_left_outside(const nxpi_planner *pl, char *list, size_t size, size_t *shown,
                                nxp_where *first)
{
	const nxp_image *img = pl->f->img;
	const unsigned x = __builtin_ctz(NXP_SCN_MEM_EXECUTE);
	size_t n = 0, total = 0;
	list[0] = '\0';
	*shown = 0;
	/* The records below must be complete for every section left
	 * non-executable (facts derived on demand: analysis/internal.h). */
	for (unsigned i = 0; i < img->nsections; i++) {
		const nxpi_decision *d = &pl->sec[i][x];
		if (!(d->decided ? d->value : !!(img->sections[i].characteristics & NXP_SCN_MEM_EXECUTE)))
			nxpi_section_searched(pl->f, i);
	}
	for (size_t k = 0; k < pl->f->nevidence; k++) {
		const nxp_evidence *e = &pl->f->evidence[k];
		if (e->section < 0 || e->section >= (int)img->nsections)
			continue;
		const nxpi_decision *d = &pl->sec[e->section][x];
		int exec = d->decided ? d->value
		                      : !!(img->sections[e->section].characteristics & NXP_SCN_MEM_EXECUTE);
		if (exec)
			continue;
		if (!total++) {
			first->section = e->section;
			first->has_rva = 1;
			first->rva = e->rva;
		}
		if (*shown < 3 && n < size) {
			int w = snprintf(list + n, size - n, "%s%s at 0x%x in %s", *shown ? ", " : "",
			                 nxp_evidence_kind_name(e->kind), e->rva,
			                 img->sections[e->section].name);
			if (w > 0)
				n += (size_t)w;
			(*shown)++;
		}
	}
	return total;
}

/* Safety refusals for opting in to DEP: code outside executable sections
 * that the plan leaves there faults at once (an entry point in a writable
 * packer section, a TLS callback, an export, a thunk), and a W+X section
 * that no rule sanctions is refused rather than silently kept. */
void nxpi_plan_check_nx(nxpi_planner *pl)
{
	nxp_plan *plan = pl->plan;
	const nxp_image *img = pl->f->img;
	if (!(plan->dll_new & NXP_DLL_NX_COMPAT) || (img->dll_characteristics & NXP_DLL_NX_COMPAT))
		return;
	const char *by = nxpi_plan_rule_id(pl, &pl->dll[__builtin_ctz(NXP_DLL_NX_COMPAT)]);
	char list[200];
	size_t shown;
	nxp_where first = NXP_WHERE_NONE;
	size_t total = code_left_outside(pl, list, sizeof(list), &shown, &first);
	if (total)
		nxpi_plan_refuse(plan, NXP_F_REFUSED_CODE_OUTSIDE_EXEC, first, by,
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
		nxpi_plan_refuse(plan, NXP_F_REFUSED_WX_REMAINS,
		                 nxpi_plan_where("section_characteristics", s->characteristics_offset,
		                                 (int)i),
		                 by,
		                 "nx_compat would be set while section %s stays writable and executable "
		                 "(0x%08X), and no rule allows it (allow_wx: true); --section "
		                 "'%s:+execute' --allow-wx (or allow_wx: true in a section action for "
		                 "it) allows it, --section '%s:-write' removes write",
		                 s->name, plan->section_new[i], s->name, s->name);
	}
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
			nxpi_plan_refuse(plan, NXP_F_REFUSED_OVERLAP, nxpi_plan_where(NULL, c->offset, -1),
			                 NULL,
			                 "planned field at file offset 0x%x lies inside %s %u (0x%llx + "
			                 "0x%llx); the structures overlap and the edit would change how the "
			                 "image reads",
			                 c->offset, what, idx, (unsigned long long)off,
			                 (unsigned long long)len);
			return;
		}
	}
	if (off + len > plan->out_len)
		nxpi_plan_refuse(plan, NXP_F_REFUSED_CERT_LAYOUT, NXP_WHERE_NONE, NULL,
		                 "removing the certificate table would cut off %s %u (0x%llx + 0x%llx)",
		                 what, idx, (unsigned long long)off, (unsigned long long)len);
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

void nxpi_plan_check_layout(nxp_plan *plan, const nxp_image *img)
{
	qsort(plan->changes, plan->nchanges, sizeof(plan->changes[0]), cmp_change);
	/* Crafted images can overlap header fields; two edits to one byte would
	 * make the plan a lie. */
	for (size_t i = 1; i < plan->nchanges; i++) {
		const nxp_change *a = &plan->changes[i - 1], *b = &plan->changes[i];
		if (b->offset < (uint64_t)a->offset + a->size)
			nxpi_plan_refuse(plan, NXP_F_REFUSED_OVERLAP, nxpi_plan_where(NULL, b->offset, -1),
			                 NULL,
			                 "planned fields overlap at file offset 0x%x (the headers overlap "
			                 "each other)",
			                 b->offset);
	}
	if (plan->nchanges && !plan->nrefusals)
		check_parsed_structures(plan, img);
}
