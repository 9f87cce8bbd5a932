/* SPDX-License-Identifier: Apache-2.0 */
/* hello64.exe: a plain 64-bit program linked with mingw-w64's default PE flags
 * (NX_COMPAT, DYNAMIC_BASE, HIGH_ENTROPY_VA in binutils 2.40), for comparison. */
#include <stdio.h>

int main(void)
{
    puts("hello64: ok");
    return 0;
}
