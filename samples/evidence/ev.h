/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the evidence samples: code placed in sections WITHOUT
 * IMAGE_SCN_MEM_EXECUTE, written in top-level asm so the bytes are exact.
 * `.section NAME,"dw"` makes an initialized, writable data section.
 * Every sample exits 42 when its code in data ran, and faults under DEP
 * before it is patched. */
#ifndef EV_H
#define EV_H
#include <windows.h>

#define EV_STR2(x) #x
#define EV_STR(x) EV_STR2(x)
/* An assembler symbol for a C name: "_name" on i686, "name" on x86_64. */
#define SYM(n) EV_STR(__USER_LABEL_PREFIX__) #n

/* A call through a pointer the compiler cannot see through. */
#define EV_CALL(fn) (((int (*volatile)(void))(fn))())
#endif
