/* SPDX-License-Identifier: Apache-2.0 */
/* nonx32.exe: a 32-bit program linked WITHOUT NX_COMPAT (--disable-nxcompat),
 * the legacy default that nxpatch is meant to migrate. Prints "nonx32: ok". */
#include <stdio.h>

int main(void)
{
    puts("nonx32: ok");
    return 0;
}
