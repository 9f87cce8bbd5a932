/* SPDX-License-Identifier: Apache-2.0 */
/* Comparing the reader's nxp_image with LIEF's view of the same file.
 * No LIEF headers here: LIEF runs only in nxpatch-lief-worker (src/lief/).
 *
 * Every field LIEF's record carries is compared, with these rules:
 * - data directories: only the first min(NumberOfRvaAndSizes, 15) entries.
 *   LIEF 0.9 always lists 15 entries (zero past what the image declares),
 *   and never the 16th (reserved) one;
 * - section names: the 8 raw header bytes up to the first NUL. LIEF's C API
 *   hands a C string, so bytes after an embedded NUL are not comparable.
 *   LIEF 0.9 does not resolve "/4"-style long names (checked on mingw DLLs),
 *   so both sides hold the raw bytes;
 * - the section count: the reader's NumberOfSections against both LIEF's
 *   header value and the number of sections LIEF listed.
 * No field is excluded (docs/hardening.md, "LIEF as the second reader"). */
#include <stdio.h>
#include <string.h>

#include "nxpatch/crosscheck.h"

typedef struct cmp_ctx {
	nxp_mismatch *out;
	size_t max;
	size_t n;
} cmp_ctx;

static nxp_mismatch *next_slot(cmp_ctx *c)
{
	nxp_mismatch *m = c->n < c->max && c->out ? &c->out[c->n] : NULL;
	c->n++;
	if (m)
		memset(m, 0, sizeof(*m));
	return m;
}

static void num(cmp_ctx *c, const char *field, uint64_t reader, uint64_t lief)
{
	if (reader == lief)
		return;
	nxp_mismatch *m = next_slot(c);
	if (!m)
		return;
	snprintf(m->field, sizeof(m->field), "%s", field);
	snprintf(m->reader, sizeof(m->reader), "0x%llx", (unsigned long long)reader);
	snprintf(m->lief, sizeof(m->lief), "0x%llx", (unsigned long long)lief);
	m->reader_value = reader;
	m->lief_value = lief;
}

/* "<group>[idx].<leaf>", e.g. "section[2].characteristics". */
static void numf(cmp_ctx *c, const char *group, unsigned idx, const char *leaf, uint64_t reader,
                 uint64_t lief)
{
	if (reader == lief)
		return;
	char field[NXP_MISMATCH_FIELD_MAX];
	snprintf(field, sizeof(field), "%s[%u].%s", group, idx, leaf);
	num(c, field, reader, lief);
}

/* A section name, up to 8 bytes or the first NUL, as printable text. */
static void name_text(char *out, size_t outlen, const char *name)
{
	size_t j = 0;
	for (size_t i = 0; i < 8 && name[i] && j + 4 < outlen; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			out[j++] = (char)ch;
		else
			j += (size_t)snprintf(out + j, outlen - j, "\\x%02x", ch);
	}
	out[j] = '\0';
}

static void name_cmp(cmp_ctx *c, unsigned idx, const char *reader, const char *lief)
{
	if (strncmp(reader, lief, 8) == 0)
		return;
	nxp_mismatch *m = next_slot(c);
	if (!m)
		return;
	snprintf(m->field, sizeof(m->field), "section[%u].name", idx);
	name_text(m->reader, sizeof(m->reader), reader);
	name_text(m->lief, sizeof(m->lief), lief);
}

int nxp_crosscheck(const nxp_image *img, const nxp_lief_view *v, nxp_mismatch *out,
                   size_t max, size_t *n)
{
	cmp_ctx c = { out, out ? max : 0, 0 };

	num(&c, "dos_header.e_lfanew", img->pe_offset, v->pe_offset);

	num(&c, "header.machine", img->machine, v->machine);
	num(&c, "header.numberof_sections", img->nsections, v->nsections);
	num(&c, "header.time_date_stamp", img->timestamp, v->timestamp);
	num(&c, "header.pointerto_symbol_table", img->symtab_offset, v->symtab_offset);
	num(&c, "header.numberof_symbols", img->nsymbols, v->nsymbols);
	num(&c, "header.sizeof_optional_header", img->opt_header_size, v->opt_header_size);
	num(&c, "header.characteristics", img->file_characteristics, v->file_characteristics);

	num(&c, "optional_header.magic", img->magic, v->magic);
	num(&c, "optional_header.sizeof_code", img->size_of_code, v->size_of_code);
	num(&c, "optional_header.addressof_entrypoint", img->entry_rva, v->entry_rva);
	num(&c, "optional_header.imagebase", img->image_base, v->image_base);
	num(&c, "optional_header.section_alignment", img->section_alignment, v->section_alignment);
	num(&c, "optional_header.file_alignment", img->file_alignment, v->file_alignment);
	num(&c, "optional_header.sizeof_image", img->size_of_image, v->size_of_image);
	num(&c, "optional_header.sizeof_headers", img->size_of_headers, v->size_of_headers);
	num(&c, "optional_header.checksum", img->checksum, v->checksum);
	num(&c, "optional_header.subsystem", img->subsystem, v->subsystem);
	num(&c, "optional_header.dll_characteristics", img->dll_characteristics,
	    v->dll_characteristics);
	num(&c, "optional_header.sizeof_stack_reserve", img->stack_reserve, v->stack_reserve);
	num(&c, "optional_header.sizeof_stack_commit", img->stack_commit, v->stack_commit);
	num(&c, "optional_header.sizeof_heap_reserve", img->heap_reserve, v->heap_reserve);
	num(&c, "optional_header.sizeof_heap_commit", img->heap_commit, v->heap_commit);
	num(&c, "optional_header.numberof_rva_and_size", img->ndirs, v->ndirs);

	/* Only the directories the image declares (LIEF lists 15 regardless);
	 * a 16th, reserved entry is not in LIEF's list. */
	uint32_t nd = img->ndirs < NXP_LIEF_NDIRS ? img->ndirs : NXP_LIEF_NDIRS;
	if (v->ndirs_seen < nd)
		num(&c, "data_directories.count", nd, v->ndirs_seen);
	for (uint32_t i = 0; i < nd && i < v->ndirs_seen; i++) {
		numf(&c, "data_directory", i, "rva", img->dirs[i].rva, v->dirs[i].rva);
		numf(&c, "data_directory", i, "size", img->dirs[i].size, v->dirs[i].size);
	}

	num(&c, "sections.count", img->nsections, v->nsections_seen);
	uint32_t ns = img->nsections < v->nsections_copied ? img->nsections : v->nsections_copied;
	if (ns > NXP_MAX_SECTIONS)
		ns = NXP_MAX_SECTIONS;
	for (uint32_t i = 0; i < ns; i++) {
		const nxp_section *r = &img->sections[i];
		const nxp_lief_section *l = &v->sections[i];
		name_cmp(&c, i, r->name, l->name);
		numf(&c, "section", i, "virtual_size", r->virtual_size, l->virtual_size);
		numf(&c, "section", i, "virtual_address", r->virtual_address,
		     l->virtual_address);
		numf(&c, "section", i, "sizeof_raw_data", r->raw_size, l->raw_size);
		numf(&c, "section", i, "pointerto_raw_data", r->raw_offset, l->raw_offset);
		numf(&c, "section", i, "characteristics", r->characteristics,
		     l->characteristics);
	}

	if (n)
		*n = c.n;
	return c.n ? NXP_E_CROSS_CHECK : NXP_OK;
}

int nxp_crosscheck_file_begin(const char *path, nxp_error *err)
{
	return nxp_lief_begin(path, NULL, err);
}

int nxp_crosscheck_file_end(const nxp_image *img, nxp_mismatch *out, size_t max, size_t *n,
                            nxp_error *err)
{
	if (n)
		*n = 0;
	nxp_lief_view v;
	int rc = nxp_lief_end(img ? &v : NULL, err);
	if (rc != NXP_OK || !img)
		return rc;

	nxp_mismatch first;
	size_t total = 0;
	nxp_crosscheck(img, &v, &first, 1, &total);
	if (out && max)
		nxp_crosscheck(img, &v, out, max, NULL);
	if (n)
		*n = total;
	if (total == 0)
		return NXP_OK;
	return nxp_fail(err, NXP_E_CROSS_CHECK,
	                "lief disagrees with the reader on %zu field%s, first %s (reader %s, lief %s)",
	                total, total == 1 ? "" : "s", first.field, first.reader, first.lief);
}

int nxp_crosscheck_file(const char *path, const nxp_image *img, nxp_mismatch *out,
                        size_t max, size_t *n, nxp_error *err)
{
	if (n)
		*n = 0;
	if (!img)
		return nxp_fail(err, NXP_E_USAGE, "nxp_crosscheck_file: missing image");
	int rc = nxp_crosscheck_file_begin(path, err);
	return rc ? rc : nxp_crosscheck_file_end(img, out, max, n, err);
}
