/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: directories beneath a root, never leaving it.
 *
 * An output directory may be writable by someone else, who can plant a
 * symbolic link (or swap a directory for one) at any moment. Resolving
 * "DIR/a/b/x.dll" by name would follow it out of DIR. Here each component
 * is opened relative to the one before with O_NOFOLLOW | O_DIRECTORY, so the
 * descriptor returned names a directory that really is beneath the root,
 * whatever the path's names point at later. */
#ifndef NXP_UTIL_BENEATH_H
#define NXP_UTIL_BENEATH_H

#include "nxpatch/error.h"

/* The directory holding rel's last component, beneath the directory root
 * (a descriptor). rel is relative ("a/b/x.dll"); every component but the
 * last must be a real directory (a symbolic link, ".", ".." or an empty
 * component is refused), created with mode 0777 & ~umask when missing and
 * create is set. root_display names root in messages. Returns a descriptor
 * (O_CLOEXEC, the caller closes it) and sets *leaf to rel's last component,
 * or returns -1 with err set. */
int nxpi_open_parent_beneath(int root, const char *root_display, const char *rel, int create,
                            const char **leaf, nxp_error *err);

#ifdef NXP_TEST_HOOKS
/* Test builds only: called right after each directory is made, before it
 * is opened (the window in which another user can swap it for a link). */
extern void (*nxpi_beneath_test_after_mkdir)(int dirfd, const char *name);
#endif

#endif
