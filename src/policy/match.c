/* SPDX-License-Identifier: Apache-2.0 */
/* Rule matching against the facts of one image. */
#include <string.h>
#include <strings.h>

#include "nxpatch/analysis.h"
#include "nxpatch/policy.h"
#include "util/bytes.h"
#include "analysis/internal.h"
#include "policy/internal.h"

static int u16_in(const nxp_u16list *l, uint16_t v)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i] == v)
			return 1;
	return 0;
}

/* The name of import i, bounds-checked against the image buffer. */
static int import_is(const nxp_image *img, uint32_t i, const char *name)
{
	const nxp_import *imp = &img->imports[i];
	if (!img->data || !NXP_FITS(imp->name_offset, imp->name_len, img->len))
		return 0;
	size_t len = strlen(name);
	return len == imp->name_len &&
	       strncasecmp((const char *)img->data + imp->name_offset, name, len) == 0;
}

static int imports_match(const nxp_strlist *l, const nxp_image *img)
{
	uint32_t n = img->nimports < NXP_MAX_IMPORTS ? img->nimports : NXP_MAX_IMPORTS;
	for (uint32_t i = 0; i < n; i++)
		for (size_t k = 0; k < l->n; k++)
			if (import_is(img, i, l->items[k]))
				return 1;
	return 0;
}

static int has_section_match(const nxp_strlist *l, const nxp_image *img)
{
	unsigned n = img->nsections < NXP_MAX_SECTIONS ? img->nsections : NXP_MAX_SECTIONS;
	for (unsigned i = 0; i < n; i++)
		for (size_t k = 0; k < l->n; k++)
			if (nxpi_glob_match(l->items[k], img->sections[i].name))
				return 1;
	return 0;
}

int nxpi_rule_matches(const nxp_rule *r, const nxp_facts *f)
{
	const nxp_image *img = f->img;

	if (r->path.n) {
		int hit = 0;
		for (size_t k = 0; f->path && k < r->path.n && !hit; k++)
			hit = nxpi_glob_match(r->path.items[k], f->path);
		if (!hit)
			return 0;
	}
	if (r->kind_mask && ((unsigned)f->kind >= 32 || !(r->kind_mask & (1u << f->kind))))
		return 0;
	if (r->signed_cond >= 0 && !r->signed_cond != !f->is_signed)
		return 0;
	if (r->code_in_data_cond >= 0 && !r->code_in_data_cond != !f->code_in_data)
		return 0;

	int needs_img = r->machine.n || r->subsystem.n || r->imports.n || r->has_section.n ||
	                r->has_dll_cond;
	if (!needs_img)
		return 1;
	if (!img)
		return 0;
	if (r->machine.n && !u16_in(&r->machine, img->machine))
		return 0;
	if (r->subsystem.n && !u16_in(&r->subsystem, img->subsystem))
		return 0;
	if (r->has_dll_cond) {
		if ((img->dll_characteristics & r->dll_cond_set) != r->dll_cond_set)
			return 0;
		if (img->dll_characteristics & r->dll_cond_clear)
			return 0;
	}
	if (r->imports.n && !imports_match(&r->imports, img))
		return 0;
	if (r->has_section.n && !has_section_match(&r->has_section, img))
		return 0;
	return 1;
}

int nxpi_section_selected(const nxp_section_action *a, const nxp_facts *f, unsigned idx)
{
	if (!a->selector || !f->img || idx >= f->img->nsections || idx >= NXP_MAX_SECTIONS)
		return 0;
	if (strcmp(a->selector, NXP_SELECTOR_CODE_IN_DATA) == 0)
		return nxpi_section_evidence(f, idx) > 0;
	return nxpi_glob_match(a->selector, f->img->sections[idx].name);
}
