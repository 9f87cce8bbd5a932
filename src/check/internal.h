/* SPDX-License-Identifier: Apache-2.0 */
/* Library-internal: building a list of findings (src/check/findings.c). */
#ifndef NXPATCH_SRC_CHECK_INTERNAL_H
#define NXPATCH_SRC_CHECK_INTERNAL_H

#include "nxpatch/check.h"

/* Append a finding (message printf-style); beyond NXP_MAX_FINDINGS it is
 * counted in fs->dropped. Returns NXP_OK or NXP_E_NOMEM. */
int nxpi_findings_add(nxp_findings *fs, nxp_finding_id id, nxp_where where, const char *rule,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
