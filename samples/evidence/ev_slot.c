/* SPDX-License-Identifier: Apache-2.0 */
/* A function in a data section (.qcode) reached through a global function
 * pointer: the pointer slot in .data holds its address (a base relocation
 * says so), and main loads the slot and calls through a register
 * (mov rax, [rip+slot]; call rax on x86_64; mov eax, [slot]; call eax on
 * i686). */
#include "ev.h"

__asm__(".section .qcode,\"dw\"\n"
        ".globl " SYM(data_fn) "\n"
        SYM(data_fn) ":\n"
        "\tmovl $42, %eax\n"
        "\tret\n"
        ".text\n");

extern int data_fn(void);
int (*volatile data_fn_ptr)(void) = data_fn;

int main(void)
{
	return data_fn_ptr();
}
