/* SPDX-License-Identifier: Apache-2.0 */
/* Appending a section (the writer's "append a section" capability, planned
 * here, written by src/write/apply.c, checked by src/write/outcheck.c).
 *
 * The new header goes into the slack after the section table, which must be
 * zero, inside SizeOfHeaders, before every section's raw data, and named by
 * no data directory (a bound import directory often lives there). Its raw
 * data follow the input's kept bytes, aligned to FileAlignment, so every
 * byte of the input stays where it was: anything after the last section
 * (an overlay, a COFF symbol table, debug data outside the sections) would
 * end up inside or before the new section and is refused, except zero
 * padding. Its RVA follows the last section at SectionAlignment, which must
 * be page aligned. Never writable and executable. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plan/addsec.h"
#include "plan/internal.h"
#include "util/bytes.h"

static uint64_t align_up(uint64_t v, uint32_t a)
{
	return a ? (v + a - 1) / a * a : v;
}

uint32_t nxpi_addsec_rva(const nxp_image *img)
{
	uint64_t end = img->size_of_image;
	for (unsigned i = 0; i < img->nsections; i++) {
		const nxp_section *s = &img->sections[i];
		uint64_t vs = s->virtual_size ? s->virtual_size : s->raw_size;
		uint64_t e = (uint64_t)s->virtual_address + align_up(vs, img->section_alignment);
		if (e > end)
			end = e;
	}
	end = align_up(end, img->section_alignment);
	return end > UINT32_MAX ? 0 : (uint32_t)end;
}

static int no(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int no(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}


static int power_of_two(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* The image can take one more section of len bytes at all: not W+X, its
 * data within the limit, fewer sections than the loader's limit, page-aligned
 * sections, room in the plan. */
static int can_append(const nxp_plan *plan, const nxp_image *img, uint32_t len,
                      uint32_t characteristics, char *why, size_t whylen)
{
	const char *what = "appending a section";
	if ((characteristics & NXP_SCN_WX) == NXP_SCN_WX)
		return no(why, whylen, "%s: it would be writable and executable", what);
	if (!len || len > NXP_MAX_ADDSEC_DATA)
		return no(why, whylen, "%s: %u bytes of data (at most %u)", what, len,
		          NXP_MAX_ADDSEC_DATA);
	if (img->nsections >= NXP_MAX_SECTIONS)
		return no(why, whylen, "%s: the image already has %u sections, the loader's limit",
		          what, img->nsections);
	if (img->section_alignment < 0x1000 || !power_of_two(img->section_alignment) ||
	    !power_of_two(img->file_alignment))
		return no(why, whylen,
		          "%s: SectionAlignment 0x%x / FileAlignment 0x%x: the sections are not page "
		          "aligned (Driver Verifier 0x2004), and a new section could not be",
		          what, img->section_alignment, img->file_alignment);
	if (plan->nchanges + NXP_MAX_ADDSEC_CHANGES > NXP_MAX_CHANGES)
		return no(why, whylen, "%s: too many planned changes", what);
	return 0;
}

/* Room for one more header after the section table, at *hdr: inside the
 * headers' space, before every section's data, zero, and named by no data
 * directory. */
static int header_room(const nxp_image *img, uint64_t *hdr, char *why, size_t whylen)
{
	const char *what = "appending a section";
	uint64_t h = (uint64_t)img->section_table_offset + 40ull * img->nsections;
	uint64_t room = img->size_of_headers;
	for (unsigned i = 0; i < img->nsections; i++)
		if (img->sections[i].raw_size && img->sections[i].raw_start < room)
			room = img->sections[i].raw_start; /* where the loader reads it from */
	if (h + 40 > room || h + 40 > img->len)
		return no(why, whylen,
		          "%s: no room for one more section header (the section table ends at 0x%llx, "
		          "the headers' space at 0x%llx); relinking is needed",
		          what, (unsigned long long)h, (unsigned long long)room);
	for (unsigned k = 0; k < 40; k++)
		if (img->data[h + k])
			return no(why, whylen,
			          "%s: the 40 bytes after the section table (0x%llx) are not free: they "
			          "hold data (byte 0x%llx is 0x%02x)",
			          what, (unsigned long long)h, (unsigned long long)(h + k),
			          img->data[h + k]);
	for (unsigned i = 0; i < img->ndirs_used; i++) {
		const nxp_data_dir *d = &img->dirs[i];
		if (d->size && d->rva < h + 40 && h < (uint64_t)d->rva + d->size)
			return no(why, whylen,
			          "%s: data directory %u (0x%x + 0x%x) lies in the free space after the "
			          "section table, where the new header would go",
			          what, i, d->rva, d->size);
	}
	*hdr = h;
	return 0;
}

/* Nothing after the last section's data (up to the kept length body) would
 * be displaced: no COFF symbol table, no overlay, only zero padding. */
static int nothing_displaced(const nxp_image *img, uint64_t body, char *why, size_t whylen)
{
	const char *what = "appending a section";
	uint64_t raw_end = img->sections_end;
	if (img->symtab_offset)
		return no(why, whylen,
		          "%s: the image has a COFF symbol table (PointerToSymbolTable 0x%x) after "
		          "its sections, which the new section would displace",
		          what, img->symtab_offset);
	if (body < raw_end)
		return no(why, whylen, "%s: the file (0x%llx bytes kept) ends inside its sections "
		                       "(0x%llx)", what, (unsigned long long)body,
		          (unsigned long long)raw_end);
	for (uint64_t k = raw_end; k < body; k++)
		if (img->data[k])
			return no(why, whylen,
			          "%s: 0x%llx bytes follow the last section's data at 0x%llx (an overlay, "
			          "or debug data outside the sections); they would be displaced",
			          what, (unsigned long long)(body - raw_end), (unsigned long long)raw_end);
	return 0;
}

/* The header and size fields of the appended section a, planned in the
 * order they are written. */
static void plan_header(nxp_plan *plan, const nxp_image *img, const nxp_added_section *a)
{
	uint8_t h[40] = {0};
	memcpy(h, a->name, strlen(a->name) > 8 ? 8 : strlen(a->name));
	nxpi_put_le32(h + 8, a->virtual_size);
	nxpi_put_le32(h + 12, a->rva);
	nxpi_put_le32(h + 16, a->raw_size);
	nxpi_put_le32(h + 20, a->raw_offset);
	nxpi_put_le32(h + 36, a->characteristics);
	for (unsigned k = 0; k < 5; k++)
		nxpi_plan_add(plan, NXP_FIELD_SECTION_HEADER, a->header_offset + 8 * k, 8, 0,
		              nxpi_le64(h + 8 * k));
	uint32_t opt = img->pe_offset + 24;
	nxpi_plan_add(plan, NXP_FIELD_SECTION_COUNT, img->pe_offset + 6, 2, img->nsections,
	              img->nsections + 1u);
	if (a->size_of_code != img->size_of_code)
		nxpi_plan_add(plan, NXP_FIELD_SIZE_OF_CODE, opt + 4, 4, img->size_of_code,
		              a->size_of_code);
	nxpi_plan_add(plan, NXP_FIELD_SIZE_OF_IMAGE, opt + 56, 4, img->size_of_image,
	              a->size_of_image);
}

int nxpi_addsec_plan(nxp_plan *plan, const nxp_image *img, const char *name, const uint8_t *data,
                     uint32_t len, uint32_t characteristics, char *why, size_t whylen)
{
	uint64_t hdr = 0, body = plan->out_len;
	if (can_append(plan, img, len, characteristics, why, whylen) ||
	    header_room(img, &hdr, why, whylen) || nothing_displaced(img, body, why, whylen))
		return -1;
	uint64_t raw_off = align_up(body, img->file_alignment);
	uint64_t raw_size = align_up(len, img->file_alignment);
	uint32_t rva = nxpi_addsec_rva(img);
	uint64_t image_size = (uint64_t)rva + align_up(len, img->section_alignment);
	if (!rva || raw_off + raw_size > UINT32_MAX || image_size > UINT32_MAX)
		return no(why, whylen, "appending a section: the image would exceed 4 GiB");

	nxp_added_section *a = &plan->add;
	memset(a, 0, sizeof(*a));
	a->present = 1;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->header_offset = (uint32_t)hdr;
	a->rva = rva;
	a->virtual_size = len;
	a->raw_offset = (uint32_t)raw_off;
	a->raw_size = (uint32_t)raw_size;
	a->characteristics = characteristics;
	a->size_of_image = (uint32_t)image_size;
	a->size_of_code = img->size_of_code;
	if (characteristics & 0x20u) /* IMAGE_SCN_CNT_CODE */
		a->size_of_code = (uint32_t)(img->size_of_code + raw_size);
	memcpy(a->data, data, len);
	a->data_len = len;
	plan_header(plan, img, a);
	return 0;
}

uint64_t nxp_plan_body_end(const nxp_plan *plan)
{
	return plan->add.present ? (uint64_t)plan->add.raw_offset + plan->add.raw_size
	                         : plan->out_len;
}

uint8_t nxp_plan_added_byte(const nxp_plan *plan, uint64_t off)
{
	const nxp_added_section *a = &plan->add;
	if (!a->present || off < a->raw_offset || off - a->raw_offset >= a->data_len)
		return 0;
	return a->data[off - a->raw_offset];
}
