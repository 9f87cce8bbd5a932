/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: one input image through the shared front of every command:
 * bytes (read once) -> image (strict parse) -> facts (analysis). */
#ifndef NXPATCH_INPUT_H
#define NXPATCH_INPUT_H

#include "nxpatch/analysis.h"
#include "nxpatch/file.h"
#include "nxpatch/pe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nxp_input {
	const char *path;           /* as given; not owned */
	nxp_file file;
	nxp_image img;
	nxp_facts facts;
	int stage;                  /* internal: what to release */
} nxp_input;

/* Allocates *out. On failure *out is NULL and err names the problem. */
int nxp_input_open(nxp_input **out, const char *path, nxp_error *err);

/* nxp_input_open_flags() flags. */
#define NXP_INPUT_LOCK 1u       /* the input is about to be replaced in place:
                                   nxp_file_load_flags(NXP_FILE_LOCK) */
#define NXP_INPUT_NO_FACTS 2u   /* bytes and image only (sign, unsign): in->facts is
                                   left zeroed */
#define NXP_INPUT_LAZY 4u       /* facts derived on demand (nxp_facts.unsearched):
                                   plan with nxp_input_plan() */
int nxp_input_open_flags(nxp_input **out, const char *path, unsigned flags, nxp_error *err);
void nxp_input_close(nxp_input *in);

#ifdef __cplusplus
}
#endif
#endif
