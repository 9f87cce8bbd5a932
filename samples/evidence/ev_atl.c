/* SPDX-License-Identifier: Apache-2.0 */
/* i686: an ATL-style window thunk in .data, as ATL before 8.0 built them:
 * mov dword [esp+4], imm32 (replace the first argument); jmp rel32 (to the
 * real procedure in .text). */
#include "ev.h"

__attribute__((used, noinline)) int thunk_target(int a)
{
	return a;
}

__asm__(".data\n"
        ".globl _atl_thunk\n"
        "_atl_thunk:\n"
        "\tmovl $42, 4(%esp)\n"
        "\tjmp _thunk_target\n"
        ".text\n");

extern int atl_thunk(int);

int main(void)
{
	int (*volatile p)(int) = atl_thunk;
	return p(7);
}
