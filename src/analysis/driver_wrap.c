/* SPDX-License-Identifier: Apache-2.0 */
/* The NX wrapper's bytes (include/nxpatch/driver.h): one encoder, used by
 * the planner to write wrappers and by the analysis to recognise them in a
 * migrated driver, so the two can never disagree. */
#include <string.h>

#include "analysis/driver_int.h"
#include "nxpatch/driver.h"
#include "util/bytes.h"

/* The wrapper for api into out; *disp_at is where its 32-bit displacement
 * to the IAT slot is, *disp_from the RVA it is relative to. */
static int encode(int is64, unsigned api, uint32_t rva, uint8_t out[NXP_NXWRAP_SIZE],
                  unsigned *disp_at, uint32_t *disp_from)
{
	if (api >= nxp_drv_napis)
		return -1;
	const nxp_drv_api *a = &nxp_drv_apis[api];
	if ((a->kind != NXP_ARG_POOL_TYPE && a->kind != NXP_ARG_LOOKASIDE_FLAGS) || a->arg < 0)
		return -1;
	int test = a->kind == NXP_ARG_POOL_TYPE; /* only non-paged types get the bit */
	unsigned n = 0;
	memset(out, 0xcc, NXP_NXWRAP_SIZE);
	if (is64) {
		/* rcx, rdx, r8, r9: the register's low three bits, REX.B for r8/r9. */
		static const uint8_t low[4] = {1, 2, 0, 1};
		if (a->arg > 3)
			return -1;
		int rex = a->arg >= 2;
		uint8_t r = low[a->arg];
		if (test) {
			if (rex)
				out[n++] = 0x41;
			out[n++] = 0xf6; /* test r8, 1 */
			out[n++] = (uint8_t)(0xc0 | r);
			out[n++] = 0x01;
			out[n++] = 0x75; /* jnz over the or */
			out[n++] = (uint8_t)(rex ? 7 : 6);
		}
		if (rex)
			out[n++] = 0x41;
		out[n++] = 0x81; /* or r32, 0x200 */
		out[n++] = (uint8_t)(0xc8 | r);
		nxpi_put_le32(out + n, NXP_POOL_NX_ALLOCATION);
		n += 4;
		out[n++] = 0xff; /* jmp [rip+iat] */
		out[n++] = 0x25;
		*disp_at = n;
		n += 4;
		*disp_from = rva + n;
	} else {
		uint8_t d = (uint8_t)(4 + 4 * a->arg); /* [esp+d]: the argument, stdcall */
		if (test) {
			const uint8_t t[] = {0xf6, 0x44, 0x24, d, 0x01, 0x75, 0x08};
			memcpy(out + n, t, sizeof(t));
			n += sizeof(t);
		}
		const uint8_t o[] = {0x81, 0x4c, 0x24, d, 0x00, 0x02, 0x00, 0x00, /* or [esp+d], 0x200 */
		                     0xe8, 0x00, 0x00, 0x00, 0x00,                   /* call $+5 */
		                     0x58,                                           /* pop eax */
		                     0xff, 0xa0};                                    /* jmp [eax+disp] */
		memcpy(out + n, o, sizeof(o));
		n += sizeof(o);
		*disp_at = n;
		*disp_from = rva + n - 3; /* the pop's address, which eax holds */
		n += 4;
	}
	return 0;
}

int nxpi_nxwrap_encode(int is64, unsigned api, uint32_t rva, uint32_t iat_rva,
                       uint8_t out[NXP_NXWRAP_SIZE])
{
	unsigned at;
	uint32_t from;
	if (encode(is64, api, rva, out, &at, &from))
		return -1;
	nxpi_put_le32(out + at, iat_rva - from);
	return 0;
}

int nxpi_nxwrap_match(int is64, unsigned api, const uint8_t *p, uint32_t rva,
                      uint32_t *iat_rva)
{
	uint8_t want[NXP_NXWRAP_SIZE];
	unsigned at;
	uint32_t from;
	if (encode(is64, api, rva, want, &at, &from))
		return 0;
	uint32_t iat = nxpi_le32(p + at) + from;
	nxpi_put_le32(want + at, iat - from);
	if (memcmp(want, p, NXP_NXWRAP_SIZE))
		return 0;
	*iat_rva = iat;
	return 1;
}
