/* SPDX-License-Identifier: Apache-2.0 */
/* x86_64: an ATL-style x64 thunk in .data: mov rcx, imm64 (replace the
 * first argument); mov rax, imm64 (the procedure's VA); jmp rax. */
#include "ev.h"

__attribute__((used, noinline)) int thunk_target(int a)
{
	return a;
}

__asm__(".data\n"
        ".globl x64_thunk\n"
        "x64_thunk:\n"
        "\tmovabsq $42, %rcx\n"
        "\tmovabsq $thunk_target, %rax\n"
        "\tjmp *%rax\n"
        ".text\n");

extern int x64_thunk(int);

int main(void)
{
	int (*volatile p)(int) = x64_thunk;
	return p(7);
}
