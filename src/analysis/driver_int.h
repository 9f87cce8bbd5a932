/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the driver call-site sweep (driver_sweep.c) and the image
 * facts around it (driver.c). The sweep works on a code buffer and a table
 * of IAT slots, so unit tests feed it hand-assembled sequences. */
#ifndef NXP_ANALYSIS_DRIVER_INT_H
#define NXP_ANALYSIS_DRIVER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "nxpatch/driver.h"
#include "nxpatch/pe.h"
#include "nxpatch/plan.h"

#define NXP_DRV_MAX_SLOTS 4096u       /* interesting IAT slots kept */
#define NXP_DRV_MAX_THUNKS 65536u     /* thunks read per import descriptor */
#define NXP_DRV_MAX_TARGETS (1u << 20) /* branch targets kept per section */
#define NXP_DRV_WINDOW 64u            /* instructions looked back from a call */
#define NXP_DRV_MAX_STORES 64u        /* stores of NonPagedPoolNx to globals kept */
#define NXP_DRV_MAX_LOADS 256u        /* register loads from the IAT kept per section */

/* One IAT slot of an API in nxp_drv_apis. */
typedef struct nxpi_drv_slot {
	uint32_t rva;
	uint16_t api;
} nxpi_drv_slot;

/* An NX wrapper nxpatch appended (include/nxpatch/driver.h). */
typedef struct nxpi_drv_wrap {
	uint32_t rva, iat_rva;
	uint16_t api;
} nxpi_drv_wrap;

#define NXP_DRV_MAX_WRAPS (NXP_MAX_ADDSEC_DATA / NXP_NXWRAP_SIZE)

typedef struct nxpi_drv_code {
	int is64;
	uint64_t image_base;
	const nxpi_drv_slot *slots;    /* sorted by rva */
	size_t nslots;
	const nxpi_drv_wrap *wraps;    /* recognised wrappers, by rva */
	size_t nwraps;
} nxpi_drv_code;

/* State carried across the sections of one image. */
typedef struct nxpi_drv_scan {
	nxp_driver_facts *d;
	const nxpi_drv_code *code;
	uint32_t stores[NXP_DRV_MAX_STORES][2]; /* (global rva, store insn rva) */
	size_t nstores;
} nxpi_drv_scan;

/* Sweep code[0..len) at rva: append call sites and references to s->d.
 * Returns NXP_OK, NXP_E_NOMEM, or NXP_E_INTERNAL when Capstone fails. */
int nxpi_drv_scan_code(nxpi_drv_scan *s, const uint8_t *code, size_t len, uint32_t rva);
/* After every section: sites reading a global the driver sets to
 * NonPagedPoolNx become NXP_SITE_OPTIN. */
void nxpi_drv_scan_finish(nxpi_drv_scan *s);

/* The index of name in nxp_drv_apis, or -1. */
int nxpi_drv_api_index(const char *name, size_t len);

/* The verdict for value v of an argument of kind k. */
nxp_site_verdict nxpi_drv_judge(nxp_drv_arg k, uint64_t v);

struct nxp_facts;
/* Fill f->driver (kind driver only; called by nxp_analyze) / free it. */
int nxpi_drv_analyze(struct nxp_facts *f);
void nxpi_drv_free(struct nxp_facts *f);

/* The NX wrapper's bytes (include/nxpatch/driver.h), driver_wrap.c. */
/* Encode the wrapper for nxp_drv_apis[api] at rva, reaching slot iat_rva,
 * into out. Returns 0, or -1 when the API has no wrapper form (its
 * argument is not a pool type or lookaside flags, or is passed where no
 * wrapper reaches it). */
int nxpi_nxwrap_encode(int is64, unsigned api, uint32_t rva, uint32_t iat_rva,
                       uint8_t out[NXP_NXWRAP_SIZE]);
/* Whether p (NXP_NXWRAP_SIZE bytes at rva) is exactly the wrapper
 * nxpi_nxwrap_encode writes for api and some IAT slot: 1 with *iat_rva set,
 * else 0. */
int nxpi_nxwrap_match(int is64, unsigned api, const uint8_t *p, uint32_t rva,
                      uint32_t *iat_rva);

#endif
