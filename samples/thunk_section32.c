/* SPDX-License-Identifier: Apache-2.0 */
/* thunk_section32.exe: an ATL-style 32-bit window-procedure thunk,
 *     C7 44 24 04 imm32   mov dword [esp+4], this
 *     E9 rel32            jmp target
 * kept in a non-executable, writable `.thunk` section and filled in at run time
 * (as ATL's CWndProcThunk does), then called through a __stdcall pointer. The
 * thunk replaces the first argument (the HWND slot) by the object pointer.
 * Linked without NX_COMPAT, like the legacy ATL programs it stands for.
 * Under DEP the call faults; once `.thunk` is executable it prints
 * "thunk_section32: ok". */
#include <stdint.h>
#include <stdio.h>

struct __attribute__((packed)) atl_thunk {
    uint8_t mov[4]; /* C7 44 24 04 : mov dword [esp+4], imm32 */
    uint32_t self;
    uint8_t jmp;    /* E9          : jmp rel32 */
    int32_t rel;
};

__attribute__((section(".thunk"), used)) static struct atl_thunk thunk = {
    {0xC7, 0x44, 0x24, 0x04}, 0, 0xE9, 0};

struct window { int id; };
static struct window the_window = {6};

static int __stdcall wndproc(void *self, unsigned msg, uintptr_t wparam, intptr_t lparam)
{
    struct window *w = self;
    if (w != &the_window)
        return -1;
    return w->id * (int)msg + (int)wparam + (int)lparam;
}

int main(void)
{
    typedef int(__stdcall * wndproc_fn)(void *, unsigned, uintptr_t, intptr_t);
    thunk.self = (uint32_t)(uintptr_t)&the_window;
    thunk.rel = (int32_t)((uintptr_t)wndproc - ((uintptr_t)&thunk + sizeof thunk));
    wndproc_fn volatile fn = (wndproc_fn)(void *)&thunk;
    int r = fn((void *)0x1234, 7, 0, 0); /* a fake HWND the thunk overwrites */
    if (r != 42) {
        printf("thunk_section32: wrong result %d\n", r);
        return 1;
    }
    puts("thunk_section32: ok");
    return 0;
}
