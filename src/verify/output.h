/* SPDX-License-Identifier: Apache-2.0 */
/* Library-internal: output verification for callers that own mappings. */
#ifndef NXPATCH_SRC_VERIFY_OUTPUT_H
#define NXPATCH_SRC_VERIFY_OUTPUT_H

#include "nxpatch/plan.h"

/* Verify that out (len bytes) is exactly in with plan applied: the reader's
 * view of every header and section field equals the input's except the
 * planned fields, which hold their new values; the bytes differ only inside
 * planned ranges; the checksum is valid (or planned zero). Under re-signing
 * the new certificate table, its directory entry and the checksum are checked
 * for shape here and the signature by the caller. out_img receives the parse
 * of out. */
int nxpi_verify_output(const nxp_input *in, const nxp_plan *plan, const uint8_t *out,
                       size_t len, nxp_image *out_img, nxp_error *err);

/* nxpi_verify_output() for out = a read-only mmap of the written file, with
 * in->file.data an mmap too when in->file.mapped: the one pass drops each
 * chunk of both from the resident set behind it (MADV_DONTNEED), so the
 * pass adds a chunk, not the file size, to peak memory. The data stay
 * readable (a later access faults pages back in from the page cache).
 * sha256 (32 bytes, or NULL): the SHA-256 of out, from the same pass. */
int nxpi_verify_output_mapped(const nxp_input *in, const nxp_plan *plan, const uint8_t *out,
                              size_t len, nxp_image *out_img, uint8_t *sha256,
                              nxp_error *err);

#endif
