/* SPDX-License-Identifier: Apache-2.0 */
/* The entry point is code in a data section (.ecode): linked with
 * -e data_entry, it returns 42, which becomes the exit code. */
#include "ev.h"

__asm__(".section .ecode,\"dw\"\n"
        ".globl " SYM(data_entry) "\n"
        SYM(data_entry) ":\n"
        "\tmovl $42, %eax\n"
        "\tret\n"
        ".text\n");

int main(void)
{
	return 1; /* not reached: the entry point is data_entry */
}
