/* Internal: the two implementations behind nxp_pe_sum16(), exposed so the
 * tests cover both whatever CPU runs them. Both return exactly what
 * nxp_pe_sum16() returns. */
#ifndef NXP_PE_CHECKSUM_INT_H
#define NXP_PE_CHECKSUM_INT_H

#include <stddef.h>
#include <stdint.h>

/* Plain C, for every CPU. */
uint32_t nxp_pe_sum16_portable(const uint8_t *buf, size_t len, uint32_t sum);

/* AVX2. Call it only when nxp_pe_sum16_avx2_usable() is 1 (the build
 * targets x86 and the CPU has AVX2). */
int nxp_pe_sum16_avx2_usable(void);
uint32_t nxp_pe_sum16_avx2(const uint8_t *buf, size_t len, uint32_t sum);

#endif
