/* SPDX-License-Identifier: Apache-2.0 */
/* thunkdll64.dll: exports `nxp_dll_thunk`, whose "body" is an x64 thunk
 * (`mov rax, imm64; jmp rax` to dll_answer) stored as data in the DLL's own
 * non-executable `.thunk` section. The imm64 needs a base relocation. It also
 * exports an ordinary function, nxp_dll_version, that lives in .text. */
#include <stdint.h>

static int dll_answer(void)
{
    return 42;
}

struct __attribute__((packed)) x64_jump {
    uint8_t mov_rax[2]; /* 48 B8 imm64 : mov rax, imm64 */
    const void *rax;
    uint8_t jmp_rax[2]; /* FF E0       : jmp rax */
};

__declspec(dllexport) __attribute__((section(".thunk"))) struct x64_jump nxp_dll_thunk = {
    {0x48, 0xB8}, (const void *)dll_answer, {0xFF, 0xE0}};

__declspec(dllexport) int nxp_dll_version(void)
{
    return 1;
}
