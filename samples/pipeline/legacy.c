/* SPDX-License-Identifier: Apache-2.0 */
/* legacy.exe, the pipeline example: an x64 thunk generated into its own
 * section `.thunk` (readable, writable, not executable as linked) and called
 * through a function pointer, as ATL-era code did. Without the patch it
 * faults under DEP; patched, it prints "legacy: ok". */
#include <stdint.h>
#include <stdio.h>

static const char tag[] = "legacy-target";

static int target(const char *t)
{
    return t == tag ? 7 : -1;
}

struct __attribute__((packed)) x64_thunk {
    uint8_t mov_rcx[2]; /* mov rcx, imm64 */
    const void *rcx;
    uint8_t mov_rax[2]; /* mov rax, imm64 */
    const void *rax;
    uint8_t jmp_rax[2]; /* jmp rax */
};

__attribute__((section(".thunk"), used)) static struct x64_thunk thunk = {
    {0x48, 0xB9}, tag, {0x48, 0xB8}, (const void *)target, {0xFF, 0xE0}};

int main(void)
{
    int (*volatile fn)(const char *) = (int (*)(const char *))(void *)&thunk;
    if (fn(NULL) != 7) {
        puts("legacy: wrong result");
        return 1;
    }
    puts("legacy: ok");
    return 0;
}
