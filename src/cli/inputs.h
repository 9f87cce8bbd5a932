/* SPDX-License-Identifier: Apache-2.0 */
/* A batch run's inputs (batch.c calls it; commands see only batch_item). */
#ifndef NXP_CLI_INPUTS_H
#define NXP_CLI_INPUTS_H

#include "cli/batch.h"

typedef struct batch_items {
	batch_item *v;
	size_t n, cap;
	size_t skipped;         /* not PE-candidates: symlinks, temporaries, specials, links */
} batch_items;

/* Collect the inputs of paths[0..n) and o->from (standard input claimed and
 * spooled for "-"), keep each (dev, ino) once, find --out-dir clashes, number
 * them (seq) and keep this shard's. Errors that do not stop the run (a
 * directory that cannot be read) set *input_errors. Returns 0 or the exit
 * status to stop with (a message printed); free l either way. */
int batch_inputs(batch_items *l, const batch_opts *o, const char *cmd, char **paths, int n,
                 int *input_errors);
/* The items, and the spooled standard input. */
void batch_items_free(batch_items *l);

#endif
