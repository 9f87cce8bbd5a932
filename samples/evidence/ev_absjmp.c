/* SPDX-License-Identifier: Apache-2.0 */
/* Absolute-jump stubs in .data. i686: jmp [abs32] through a pointer slot,
 * and push imm32; ret. x86_64: jmp [rip+disp32] through a pointer slot, and
 * mov rax, imm64; jmp rax. They reach target_a (20) and target_b (22). */
#include "ev.h"

__attribute__((used, noinline)) int target_a(void)
{
	return 20;
}

__attribute__((used, noinline)) int target_b(void)
{
	return 22;
}

#ifdef _WIN64
__asm__(".data\n"
        ".p2align 3\n"
        "abs_slot:\n"
        "\t.quad target_a\n"
        ".globl stub_a\n"
        "stub_a:\n"
        "\tjmp *abs_slot(%rip)\n"
        ".globl stub_b\n"
        "stub_b:\n"
        "\tmovabsq $target_b, %rax\n"
        "\tjmp *%rax\n"
        ".text\n");
#else
__asm__(".data\n"
        ".p2align 2\n"
        "_abs_slot:\n"
        "\t.long _target_a\n"
        ".globl _stub_a\n"
        "_stub_a:\n"
        "\tjmp *_abs_slot\n"
        ".globl _stub_b\n"
        "_stub_b:\n"
        "\tpush $_target_b\n"
        "\tret\n"
        ".text\n");
#endif

extern int stub_a(void), stub_b(void);

int main(void)
{
	return EV_CALL(stub_a) + EV_CALL(stub_b);
}
