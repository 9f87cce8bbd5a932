/* SPDX-License-Identifier: Apache-2.0 */
/* A thunk template in .data whose immediates are zero in the file and are
 * filled in at run time, as ATL's thunks are: x86_64 mov rcx, 0; mov rax,
 * 0; jmp rax (rcx gets the object, rax the procedure); i686 mov dword
 * [esp+4], 0; jmp rel32 0 (the object, the displacement to the procedure). */
#include <stdint.h>
#include <string.h>

#include "ev.h"

struct obj {
	int value;
};
static struct obj the_obj = {42};

#ifdef _WIN64
__asm__(".data\n"
        ".globl zero_thunk\n"
        "zero_thunk:\n"
        "\t.byte 0x48, 0xb9\n\t.quad 0\n"  /* mov rcx, imm64 */
        "\t.byte 0x48, 0xb8\n\t.quad 0\n"  /* mov rax, imm64 */
        "\t.byte 0xff, 0xe0\n"             /* jmp rax */
        ".text\n");
#else
__asm__(".data\n"
        ".globl _zero_thunk\n"
        "_zero_thunk:\n"
        "\t.byte 0xc7, 0x44, 0x24, 0x04\n\t.long 0\n" /* mov dword [esp+4], imm32 */
        "\t.byte 0xe9\n\t.long 0\n"                   /* jmp rel32 */
        ".text\n");
#endif

extern unsigned char zero_thunk[];

static int __stdcall proc(struct obj *o, int unused)
{
	(void)unused;
	return o->value;
}

int main(void)
{
	uintptr_t self = (uintptr_t)&the_obj, fn = (uintptr_t)proc;
#ifdef _WIN64
	memcpy(zero_thunk + 2, &self, 8);
	memcpy(zero_thunk + 12, &fn, 8);
#else
	uint32_t self32 = (uint32_t)self;
	int32_t rel = (int32_t)(fn - ((uintptr_t)zero_thunk + 13));
	memcpy(zero_thunk + 4, &self32, 4);
	memcpy(zero_thunk + 9, &rel, 4);
#endif
	int(__stdcall *volatile p)(void *, int) = (int(__stdcall *)(void *, int))(void *)zero_thunk;
	return p((void *)0x1234, 0); /* the thunk replaces the first argument */
}
