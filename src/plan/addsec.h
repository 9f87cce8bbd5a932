/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: planning an appended section (addsec.c), used by nxp_plan_build
 * for pool: nx's NX wrappers. */
#ifndef NXPI_PLAN_ADDSEC_H
#define NXPI_PLAN_ADDSEC_H

#include <stddef.h>
#include <stdint.h>

#include "nxpatch/pe.h"
#include "nxpatch/plan.h"

/* The RVA a section appended to img gets: SizeOfImage (or the end of the
 * last section, if later) rounded up to SectionAlignment. */
uint32_t nxpi_addsec_rva(const nxp_image *img);

/* Plan appending a section named name holding data[0..len) with the given
 * characteristics after plan->out_len (decided before: a stripped
 * signature shortens it): fills plan->add and appends its header changes
 * (the 40-byte header in 8-byte pieces, NumberOfSections, SizeOfCode for a
 * code section, SizeOfImage) to plan->changes. Returns 0, or -1 with the
 * reason in why when the image has no room for one more section header,
 * data after its last section would be displaced (an overlay, a COFF symbol
 * table, debug data), its sections are not page aligned, or the section
 * would be writable and executable. */
int nxpi_addsec_plan(nxp_plan *plan, const nxp_image *img, const char *name, const uint8_t *data,
                    uint32_t len, uint32_t characteristics, char *why, size_t whylen);

#endif
