/* SPDX-License-Identifier: Apache-2.0 */
/* A direct call (E8 rel32) from .text into a function in a data section
 * (.ccode). */
#include "ev.h"

__asm__(".section .ccode,\"dw\"\n"
        ".globl " SYM(data_fn) "\n"
        SYM(data_fn) ":\n"
        "\tmovl $42, %eax\n"
        "\tret\n"
        ".text\n");

extern int data_fn(void);

int main(void)
{
	return data_fn();
}
