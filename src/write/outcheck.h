/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the writer: the output check (outcheck.c). */
#ifndef NXPATCH_SRC_WRITE_OUTCHECK_H
#define NXPATCH_SRC_WRITE_OUTCHECK_H

#include "nxpatch/plan.h"

/* Verify that out (len bytes) is exactly in with plan applied: the reader's
 * view of every header and section field equals the input's except the
 * planned fields, which hold their new values; the bytes differ only inside
 * planned ranges; the checksum is valid (or planned zero). Under re-signing
 * the new certificate table, its directory entry and the checksum are checked
 * for shape here and the signature by the caller. out_img receives the parse
 * of out. */
int nxpi_check_output(const nxp_input *in, const nxp_plan *plan, const uint8_t *out,
                       size_t len, nxp_image *out_img, nxp_error *err);

/* nxpi_check_output() for out = a read-only mmap of the written file, with
 * in->file.data an mmap too when in->file.mapped: the one pass drops each
 * chunk of both from the resident set behind it (MADV_DONTNEED), so the
 * pass adds a chunk, not the file size, to peak memory. The data stay
 * readable (a later access faults pages back in from the page cache).
 * sha256 (32 bytes, or NULL): the SHA-256 of out, from the same pass. */
int nxpi_check_output_mapped(const nxp_input *in, const nxp_plan *plan, const uint8_t *out,
                              size_t len, nxp_image *out_img, uint8_t *sha256,
                              nxp_error *err);

/* --in-place=bytes, before anything is written: view is the input's
 * mapping with the plan's bytes written into private pages (MAP_PRIVATE),
 * the image the file is about to become. Checked from the headers, without
 * a pass over the file: re-parsed, every header and section field compared
 * with the input and the plan, each planned field's new value, the rest of
 * every page holding one equal to the input (the other pages are the
 * file's own), and the CheckSum recomputed incrementally from the input's
 * computed sum (in->facts) and the bytes that change. The plan must keep
 * the length (no signature action). */
int nxpi_check_patch_view(const nxp_input *in, const nxp_plan *plan, const uint8_t *view,
                          size_t len, nxp_image *out_img, nxp_error *err);

#endif
