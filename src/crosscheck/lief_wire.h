/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: what the LIEF worker (src/lief/lief_worker.c) sends back for one
 * request, whose payload is a path. Shared by the worker and its client
 * (src/crosscheck/lief.c). No <stdbool.h> here: the worker includes LIEF. */
#ifndef NXP_VERIFY_LIEF_WIRE_H
#define NXP_VERIFY_LIEF_WIRE_H

#include <stdint.h>

#include "nxpatch/crosscheck.h"

#define NXP_LIEF_WORKER_PROGRAM "nxpatch-lief-worker"
#define NXP_LIEF_WORKER_ENV "NXP_LIEF_WORKER"

typedef struct nxp_lief_reply {
	int32_t open_errno;         /* non-zero: the file could not be opened */
	uint32_t reserved;
	nxp_lief_view view;
} nxp_lief_reply;

#endif
