/* SPDX-License-Identifier: Apache-2.0 */
/* A function in a data section (.pcode) reached only through a function
 * pointer: its address is loaded (lea reg, [rip+fn] on x86_64; mov with an
 * imm32 the image relocates on i686), kept in a volatile local (a stack
 * slot) and called through a register. No direct branch names it, no
 * export, no thunk shape: only the flow within main's basic block does. */
#include "ev.h"

__asm__(".section .pcode,\"dw\"\n"
        ".globl " SYM(data_fn) "\n"
        SYM(data_fn) ":\n"
        "\tmovl $42, %eax\n"
        "\tret\n"
        ".text\n");

extern int data_fn(void);

int main(void)
{
	int (*volatile fp)(void) = data_fn;
	return fp();
}
