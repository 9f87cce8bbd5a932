/* SPDX-License-Identifier: Apache-2.0 */
/* Shared invariant checks for the fuzz targets. A broken invariant aborts,
 * which libFuzzer (and the replay main, through the exit status) reports as a
 * crash with the message printed first. */
#ifndef NXP_FUZZ_CHECK_H
#define NXP_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/error.h"
#include "nxpatch/pe.h"

#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz invariant failed: %s (%s:%d): ", \
			        #cond, __FILE__, __LINE__);                    \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			abort();                                               \
		}                                                              \
	} while (0)

/* A failed call names a known code and says something. */
static inline void fuzz_check_error(int rc, const nxp_error *err)
{
	FUZZ_CHECK(err->code == rc, "rc %d but err.code %d (%s)", rc, err->code, err->msg);
	FUZZ_CHECK(strncmp(nxp_code_name(rc), "NXP_", 4) == 0, "unnamed code %d", rc);
	FUZZ_CHECK(err->msg[0] != '\0', "%s without a message", nxp_code_name(rc));
	FUZZ_CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL, "message not terminated");
}

/* What a successful parse promises: every span it hands out is in the file. */
static inline void fuzz_check_image(const nxp_image *img, size_t len)
{
	FUZZ_CHECK(img->nsections <= NXP_MAX_SECTIONS, "nsections %u", img->nsections);
	FUZZ_CHECK(img->ndirs_used <= NXP_MAX_DATA_DIRS, "ndirs_used %u", img->ndirs_used);
	FUZZ_CHECK(img->ncerts <= NXP_MAX_CERT_ENTRIES, "ncerts %u", img->ncerts);
	FUZZ_CHECK(img->nimports <= NXP_MAX_IMPORTS, "nimports %u", img->nimports);
	FUZZ_CHECK(img->checksum_offset + 4 <= len, "checksum field outside the file");
	FUZZ_CHECK(img->dll_characteristics_offset + 2 <= len, "dll chars outside the file");
	FUZZ_CHECK((uint64_t)img->section_table_offset + 40ull * img->nsections <= len,
	           "section table outside the file");
	for (unsigned i = 0; i < img->nsections; i++) {
		const nxp_section *s = &img->sections[i];
		FUZZ_CHECK(s->characteristics_offset + 4 <= len, "section %u header", i);
		if (s->raw_size)
			FUZZ_CHECK((uint64_t)s->raw_start + s->raw_size <= len, "section %u data", i);
	}
	FUZZ_CHECK(img->sections_end <= len, "sections_end 0x%x > 0x%zx", img->sections_end, len);
	FUZZ_CHECK((uint64_t)img->overlay_offset + img->overlay_size <= len, "overlay");
	FUZZ_CHECK((uint64_t)img->cert_offset + img->cert_size <= len, "cert table");
	for (unsigned i = 0; i < img->ncerts; i++)
		FUZZ_CHECK((uint64_t)img->certs[i].offset + img->certs[i].length <= len,
		           "cert entry %u", i);
	const nxp_located *locs[] = {&img->exports, &img->imports_dir, &img->tls,
	                             &img->exception, &img->load_config, &img->reloc};
	/* The import directory is located as the loader maps it: it may run on
	 * into its section's zero fill past the file (its descriptors are read
	 * through the bounded mapped reader), so only its start must be in the
	 * file; every other directory lies within the file. */
	for (size_t i = 0; i < sizeof(locs) / sizeof(locs[0]); i++)
		if (locs[i]->present)
			FUZZ_CHECK(locs[i] == &img->imports_dir
			                   ? (uint64_t)locs[i]->offset <= len
			                   : (uint64_t)locs[i]->offset + locs[i]->size <= len,
			           "directory %zu", i);
	for (unsigned i = 0; i < img->nimports; i++)
		FUZZ_CHECK((uint64_t)img->imports[i].name_offset + img->imports[i].name_len < len,
		           "import name %u", i);
	FUZZ_CHECK(img->entry_section < (int)img->nsections, "entry section %d", img->entry_section);
}

#endif
