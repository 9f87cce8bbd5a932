/* SPDX-License-Identifier: Apache-2.0 */
/* Library-internal: the PE checksum's pieces (src/pe/checksum.c), for
 * writers that update a checksum incrementally, and the certificate-table
 * walker (src/pe/certs.c). */
#ifndef NXPATCH_SRC_PE_INTERNAL_H
#define NXPATCH_SRC_PE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nxpatch/error.h"
#include "nxpatch/pe.h"

/* Partial one's-complement sum for incremental use: the 16-bit words of
 * buf as if it started at an even file offset, folded to 32 bits. */
uint32_t nxpi_pe_sum16(const uint8_t *buf, size_t len, uint32_t sum);

/* Incremental checksums. A residue is a file's 16-bit word sum (CheckSum
 * bytes counted as they are) reduced modulo 0xffff; edits to single bytes
 * move it without another pass over the file. */
uint32_t nxpi_pe_sum_residue(uint64_t sum);
/* The residue after the byte at file offset off changes from oldb to newb. */
uint32_t nxpi_pe_sum_swap_byte(uint32_t residue, uint64_t off, uint8_t oldb, uint8_t newb);
/* The CheckSum value for a residue (of a file that is not all zeros). */
uint32_t nxpi_pe_sum_finish(uint32_t residue, uint64_t len);

/* The two implementations behind nxpi_pe_sum16(), exposed so the tests
 * cover both whatever CPU runs them. Both return exactly what
 * nxpi_pe_sum16() returns. */

/* Plain C, for every CPU. */
uint32_t nxpi_pe_sum16_portable(const uint8_t *buf, size_t len, uint32_t sum);

/* AVX2. Call it only when nxpi_cpu_avx2() (util/cpu.h) is 1; in builds
 * for other CPUs it is the plain C loop. */
uint32_t nxpi_pe_sum16_avx2(const uint8_t *buf, size_t len, uint32_t sum);

/* Walk the WIN_CERTIFICATE entries of the certificate table at table
 * (table_size bytes, at file offset table_offset) into out (at most max).
 * Checks the structure only: each entry's dwLength covers its 8-byte header
 * and something more and stays inside the table; entries are 8-byte
 * aligned. A malformed entry, or more than max, is NXP_E_CERT_ENTRY naming
 * it; *n is the number of good entries before it. */
int nxpi_cert_walk(const uint8_t *table, uint32_t table_offset, uint32_t table_size,
                   nxp_cert_entry *out, size_t max, size_t *n, nxp_error *err);

#endif
