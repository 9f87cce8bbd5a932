/* SPDX-License-Identifier: Apache-2.0 */
/* calldll64.exe: imports nxp_dll_thunk from thunkdll64.dll and calls it as a
 * function. Under DEP the call faults inside the DLL's non-executable `.thunk`;
 * once that section of thunkdll64.dll is executable it prints "calldll64: ok". */
#include <stdio.h>

__declspec(dllimport) extern unsigned char nxp_dll_thunk[];
__declspec(dllimport) int nxp_dll_version(void);

int main(void)
{
    int (*volatile fn)(void) = (int (*)(void))(void *)nxp_dll_thunk;
    if (nxp_dll_version() != 1) {
        puts("calldll64: wrong DLL");
        return 1;
    }
    int r = fn();
    if (r != 42) {
        printf("calldll64: wrong result %d\n", r);
        return 1;
    }
    puts("calldll64: ok");
    return 0;
}
