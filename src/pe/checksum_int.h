/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the two implementations behind nxp_pe_sum16(), exposed so the
 * tests cover both whatever CPU runs them. Both return exactly what
 * nxp_pe_sum16() returns. */
#ifndef NXP_PE_CHECKSUM_INT_H
#define NXP_PE_CHECKSUM_INT_H

#include <stddef.h>
#include <stdint.h>

/* Plain C, for every CPU. */
uint32_t nxp_pe_sum16_portable(const uint8_t *buf, size_t len, uint32_t sum);

/* AVX2. Call it only when nxp_cpu_avx2() (util/cpu.h) is 1; in builds
 * for other CPUs it is the plain C loop. */
uint32_t nxp_pe_sum16_avx2(const uint8_t *buf, size_t len, uint32_t sum);

#endif
