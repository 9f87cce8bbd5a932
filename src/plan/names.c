/* SPDX-License-Identifier: Apache-2.0 */
/* The names of plan fields, as reports and findings carry them. */
#include <stddef.h>

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
