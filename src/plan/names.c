/* SPDX-License-Identifier: Apache-2.0 */
/* Plans in words: the names of plan fields, as reports and findings carry
 * them, and the text form of one change (its label, bits and rules). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "nxpatch/driver.h"
#include "nxpatch/plan.h"

const char *nxp_field_name(nxp_field f)
{
	static const char *const names[] = {
		[NXP_FIELD_DLL_CHARACTERISTICS] = "dll_characteristics",
		[NXP_FIELD_SECTION_CHARACTERISTICS] = "section_characteristics",
		[NXP_FIELD_CHECKSUM] = "checksum",
		[NXP_FIELD_CERT_DIR] = "certificate_table_entry",
		[NXP_FIELD_POOL_TYPE] = "pool_type",
		[NXP_FIELD_CALL_SITE] = "call_site",
		[NXP_FIELD_RELOC_ENTRY] = "base_relocation_entry",
		[NXP_FIELD_SECTION_COUNT] = "number_of_sections",
		[NXP_FIELD_SIZE_OF_CODE] = "size_of_code",
		[NXP_FIELD_SIZE_OF_IMAGE] = "size_of_image",
		[NXP_FIELD_SECTION_HEADER] = "section_header",
	};
	if ((unsigned)f >= sizeof(names) / sizeof(names[0]) || !names[f])
		return "unknown";
	return names[f];
}

/* The driver API of a pool change, "?" when out of the table. */
static const char *api_name(const nxp_change *c)
{
	return c->api >= 0 && (size_t)c->api < nxp_drv_napis ? nxp_drv_apis[c->api].name : "?";
}

void nxp_change_label(const nxp_change *c, const nxp_image *img, char *out, size_t outlen)
{
	/* An appended section's header is planned in 8-byte pieces. */
	unsigned hdr = img->nsections ? (unsigned)(c->offset - img->section_table_offset -
	                                           40u * img->nsections)
	                              : 0;
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
		snprintf(out, outlen, "pool type of the %s call at 0x%x", api_name(c), c->site_rva);
		break;
	case NXP_FIELD_CALL_SITE:
		if (c->rva == c->site_rva)
			snprintf(out, outlen, "%s call at 0x%x -> NX wrapper at 0x%x", api_name(c),
			         c->site_rva, c->target_rva);
		else
			snprintf(out, outlen, "load at 0x%x for the %s call at 0x%x -> NX wrapper at 0x%x",
			         c->rva, api_name(c), c->site_rva, c->target_rva);
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
		snprintf(out, outlen, "new section header, bytes %u-%u", hdr, hdr + 7);
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
