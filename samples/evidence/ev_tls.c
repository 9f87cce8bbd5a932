/* SPDX-License-Identifier: Apache-2.0 */
/* A TLS callback whose body lives in a data section (.tcode). It sets
 * tls_flag before main runs; main returns 42 when it did. */
#include "ev.h"

volatile int tls_flag;

#ifdef _WIN64
__asm__(".section .tcode,\"dw\"\n"
        ".globl data_tls_cb\n"
        "data_tls_cb:\n"
        "\tmovl $1, tls_flag(%rip)\n"
        "\tret\n"
        ".text\n");
#else
__asm__(".section .tcode,\"dw\"\n"
        ".globl _data_tls_cb@12\n"
        "_data_tls_cb@12:\n"
        "\tmovl $1, _tls_flag\n"
        "\tret $12\n"
        ".text\n");
#endif

extern void NTAPI data_tls_cb(PVOID, DWORD, PVOID);
extern const IMAGE_TLS_DIRECTORY _tls_used;
const void *volatile tls_used_ref = &_tls_used;
__attribute__((section(".CRT$XLB"), used)) PIMAGE_TLS_CALLBACK tls_cb_ptr = data_tls_cb;

int main(void)
{
	return tls_flag ? 42 : 4;
}
