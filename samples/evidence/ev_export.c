/* SPDX-License-Identifier: Apache-2.0 */
/* An exported function whose body lives in a data section (.xcode); main
 * finds it with GetProcAddress, so no direct call names it. */
#include "ev.h"

__asm__(".section .xcode,\"dw\"\n"
        ".globl " SYM(data_export) "\n"
        SYM(data_export) ":\n"
        "\tmovl $42, %eax\n"
        "\tret\n"
        ".section .drectve\n"
        "\t.ascii \" -export:data_export\"\n"
        ".text\n");

int main(void)
{
	FARPROC p = GetProcAddress(GetModuleHandleA(NULL), "data_export");
	if (!p)
		return 3;
	return EV_CALL(p);
}
