/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the one way names from the file system or an image (paths,
 * section names, rule ids, messages that hold them) are shown, in text and
 * in JSON alike:
 *
 *   every byte that is a control character (0x00-0x1f, 0x7f), a backslash,
 *   part of a C1 control (U+0080-U+009F, as UTF-8), or not part of valid
 *   UTF-8 is written \xNN (two lowercase hex digits); all else is kept.
 *
 * So a newline in a file name cannot start a line of a report, a terminal
 * never receives an escape sequence from a name, every JSON string is valid
 * UTF-8, and the encoding is lossless: nxpi_unescape() (or replacing each
 * \xNN by its byte) gives the original bytes back, since a literal
 * backslash is itself always written \x5c. Used by every text printer of
 * the CLI and the report module, by JSON path fields, and by the journal. */
#ifndef NXP_UTIL_ESCAPE_H
#define NXP_UTIL_ESCAPE_H

#include <stddef.h>

#include <jansson.h>

/* Escape s[0..n) into out (cap bytes, NUL-terminated when cap > 0, cut at
 * a whole escape). Returns the length the full escape needs (without the
 * NUL), as snprintf does. */
size_t nxpi_escape(char *out, size_t cap, const char *s, size_t n);

/* 1 when s needs no escaping (the common case: then shown as is). */
int nxpi_escape_clean(const char *s, size_t n);

/* s as text printers show it: s itself when clean, else its escape in one
 * of 8 per-thread buffers used in turn (so up to 8 nxpi_shown() results can
 * be live in one printf). A name longer than 4096 bytes is cut. */
const char *nxpi_shown(const char *s);

/* A JSON string of the escape of s (NULL only when out of memory). */
json_t *nxpi_json_name(const char *s);

/* Undo nxpi_escape() into out (cap bytes, NUL-terminated): each \xNN becomes
 * its byte, everything else is copied. Returns the decoded length, or
 * (size_t)-1 when it does not fit or a \x is not followed by two hex
 * digits. */
size_t nxpi_unescape(char *out, size_t cap, const char *s);

#endif
