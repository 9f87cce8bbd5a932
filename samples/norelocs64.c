/* SPDX-License-Identifier: Apache-2.0 */
/* norelocs64.exe: a 64-bit image without base relocations (no .reloc section,
 * IMAGE_FILE_RELOCS_STRIPPED set, no DYNAMIC_BASE), so it must load at its
 * preferred base. Prints "norelocs64: ok". */
#include <stdio.h>
#include <windows.h>

int main(void)
{
    void *base = GetModuleHandleA(NULL);
    if (base != (void *)0x140000000ULL) {
        printf("norelocs64: loaded at %p, not at its preferred base\n", base);
        return 1;
    }
    puts("norelocs64: ok");
    return 0;
}
