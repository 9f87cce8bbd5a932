/* SPDX-License-Identifier: Apache-2.0 */
/* "Did you mean": the closest of a set of names, for policy keys and values
 * (src/policy) and commands, options and rule-set names (src/cli). */
#ifndef NXP_UTIL_SUGGEST_H
#define NXP_UTIL_SUGGEST_H

#include <stddef.h>

/* Levenshtein distance, ignoring case; 1000 for strings over 64 bytes. */
size_t nxpi_edit_distance(const char *a, const char *b);
/* The name closest to got when it is close enough to be a typo (distance at
 * most 1 for names of up to 3 characters, else 2, and less than the name's
 * length), else NULL. */
const char *nxpi_closest(const char *got, const char *const *names, size_t n);
/* " (did you mean 'x'?)" for a close name, else ", expected one of: a, b". */
void nxpi_suggest_hint(char *out, size_t size, const char *got, const char *const *names,
                      size_t n);
/* The same over the names of a flag table (nxpatch/pe.h), at most 64. */
struct nxp_flag_name;
void nxpi_suggest_flag_hint(char *out, size_t size, const char *got,
                           const struct nxp_flag_name *table);

#endif
