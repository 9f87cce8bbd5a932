/* SPDX-License-Identifier: Apache-2.0 */
/* A direct jump (E9 rel32) from .text into a function in a data section
 * (.jcode); main reaches the jump through a pointer. */
#include "ev.h"

__asm__(".section .jcode,\"dw\"\n"
        ".globl " SYM(data_target) "\n"
        SYM(data_target) ":\n"
        "\tmovl $42, %eax\n"
        "\tret\n"
        ".text\n"
        ".globl " SYM(jump_to_data) "\n"
        SYM(jump_to_data) ":\n"
        "\tjmp " SYM(data_target) "\n");

extern int jump_to_data(void);

int main(void)
{
	return EV_CALL(jump_to_data);
}
