/* SPDX-License-Identifier: Apache-2.0 */
/* bench/big.c: a PE32+ image with a large blob in .rdata. The blob (BLOB, a
 * path) is pulled in with .incbin, so compiling costs the assembler's copy
 * of the bytes, not a 200M-element initializer:
 *   x86_64-w64-mingw32-gcc -O1 -s -DBLOB='"big.blob"' -o big.exe big.c */
__asm__(".section .rdata,\"dr\"\n"
        ".globl big_blob\n"
        ".p2align 4\n"
        "big_blob:\n"
        ".incbin \"" BLOB "\"\n"
        ".text\n");
extern const unsigned char big_blob[];

int main(void)
{
	volatile const unsigned char *p = big_blob;
	return p[12345] == 0x42;
}
