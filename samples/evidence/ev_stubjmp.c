/* SPDX-License-Identifier: Apache-2.0 */
/* A direct call from .text into a stub in a data section (.scode) that
 * ends in an indirect jump, as import and trampoline stubs do: it loads
 * the target's address (lea rax, [rip+target] on x86_64; mov eax, imm32 on
 * i686) and jumps through the register. The target, in .text, returns 42. */
#include "ev.h"

__attribute__((used, noinline)) int stub_target(void)
{
	return 42;
}

#ifdef _WIN64
__asm__(".section .scode,\"dw\"\n"
        ".globl data_stub\n"
        "data_stub:\n"
        "\tleaq stub_target(%rip), %rax\n"
        "\tjmp *%rax\n"
        ".text\n");
#else
__asm__(".section .scode,\"dw\"\n"
        ".globl _data_stub\n"
        "_data_stub:\n"
        "\tmovl $_stub_target, %eax\n"
        "\tjmp *%eax\n"
        ".text\n");
#endif

extern int data_stub(void);

int main(void)
{
	return data_stub();
}
