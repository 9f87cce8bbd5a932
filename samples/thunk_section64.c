/* SPDX-License-Identifier: Apache-2.0 */
/* thunk_section64.exe: an x64 thunk, `mov rcx, imm64; mov rax, imm64; jmp rax`,
 * stored as initialized data in its own section `.thunk` (readable, writable, NOT
 * executable) and called through a function pointer. The two imm64 operands are
 * absolute addresses, so the image carries base relocations into `.thunk`.
 * Under DEP the call faults; once `.thunk` has IMAGE_SCN_MEM_EXECUTE it prints
 * "thunk_section64: ok". */
#include <stdint.h>
#include <stdio.h>

static const char tag[] = "thunk-target";

/* The thunk passes `tag` in rcx whatever the caller passed. */
static int target(const char *t)
{
    return t == tag ? 42 : -1;
}

struct __attribute__((packed)) x64_thunk {
    uint8_t mov_rcx[2]; /* 48 B9 imm64 : mov rcx, imm64 */
    const void *rcx;
    uint8_t mov_rax[2]; /* 48 B8 imm64 : mov rax, imm64 */
    const void *rax;
    uint8_t jmp_rax[2]; /* FF E0       : jmp rax */
};

__attribute__((section(".thunk"), used)) static struct x64_thunk thunk = {
    {0x48, 0xB9}, tag, {0x48, 0xB8}, (const void *)target, {0xFF, 0xE0}};

int main(void)
{
    int (*volatile fn)(const char *) = (int (*)(const char *))(void *)&thunk;
    int r = fn(NULL);
    if (r != 42) {
        printf("thunk_section64: wrong result %d\n", r);
        return 1;
    }
    puts("thunk_section64: ok");
    return 0;
}
