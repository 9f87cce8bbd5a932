/* SPDX-License-Identifier: Apache-2.0 */
/* thunk_data64.exe: a thunk (`mov eax, 42; ret`) that is a plain byte array in
 * .data, called through a function pointer. Under DEP the call faults; once .data
 * has IMAGE_SCN_MEM_EXECUTE (RWX) it prints "thunk_data64: ok". */
#include <stdio.h>

static unsigned char thunk[] = {0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3}; /* mov eax, 42; ret */

int main(void)
{
    int (*volatile fn)(void) = (int (*)(void))(void *)thunk;
    int r = fn();
    if (r != 42) {
        printf("thunk_data64: wrong result %d\n", r);
        return 1;
    }
    puts("thunk_data64: ok");
    return 0;
}
