/* SPDX-License-Identifier: Apache-2.0 */
/* Colour for text reports: see color.c. */
#ifndef NXP_CLI_COLOR_H
#define NXP_CLI_COLOR_H

#include <stddef.h>

/* One image's text report with colour added: its first line's verdict
 * after "shown_path: " coloured by the summary class cls, labelled detail
 * lines by their label. A new buffer (its length in *outlen), or NULL when
 * out of memory. */
char *cli_colorize(const char *text, size_t len, const char *shown_path, const char *cls,
                   size_t *outlen);

#endif
