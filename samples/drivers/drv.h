/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the sample drivers (samples/drivers/README.md).
 *
 * The allocation call sites are written in assembly (naked functions), so
 * the instruction shape of each one is exactly the one named, whatever the
 * compiler would pick: `mov ecx, imm32` is B9 imm32, `xor ecx, ecx` 31 C9,
 * `call [rip+iat]` FF 15 disp32, `push imm32` 68 imm32, `push 0` 6A 00. The
 * checks around them are C. Each driver returns STATUS_SUCCESS only when
 * every allocation succeeded and its memory held what was written to it. */
#ifndef NXP_SAMPLE_DRV_H
#define NXP_SAMPLE_DRV_H

#define POOL_TAGGING 1 /* else mingw's wdm.h maps ExAllocatePoolWithTag to ExAllocatePool */
#include <ddk/wdm.h>

/* What mingw-w64's wdm.h lacks (values from the WDK's wdm.h). */
#ifndef POOL_NX_ALLOCATION
#define POOL_NX_ALLOCATION 512
#endif
#ifndef POOL_COLD_ALLOCATION
#define POOL_COLD_ALLOCATION 256
#endif
#ifndef MdlMappingNoExecute
#define MdlMappingNoExecute 0x40000000
#endif
#ifndef NTDDI_WIN8
#define NTDDI_WIN8 0x06020000
#endif
#define DrvRtPoolNxOptIn 0x00000001

/* The tag every sample allocates with: 'Nxps' as the bytes N x p s. */
#define NXS_TAG 0x7370784e
#define NXS_TAG_S "0x7370784e"
#define NXS_SIZE 64

/* Fill, check and free one allocation; 1 when it was usable. Plain loops
 * over volatile bytes, so the compiler emits no memset/memcmp (there is no
 * C runtime in a driver). */
static inline int nxs_use(void *p)
{
	if (!p)
		return 0;
	volatile unsigned char *b = p;
	for (unsigned i = 0; i < NXS_SIZE; i++)
		b[i] = (unsigned char)(i * 7 + 1);
	int ok = 1;
	for (unsigned i = 0; i < NXS_SIZE; i++)
		ok &= b[i] == (unsigned char)(i * 7 + 1);
	ExFreePoolWithTag(p, NXS_TAG);
	return ok;
}

#ifdef _WIN64
/* x64: type in ecx, size in edx, tag in r8d, then the call; 40 bytes of
 * stack keep rsp 16-aligned with the 32-byte home area. */
#define NXS_SITE(name, set_type)                                                     \
	__attribute__((naked, noinline)) void *name(void)                            \
	{                                                                            \
		__asm__("sub $40, %rsp\n\t" set_type "\n\t"                          \
		        "mov $64, %edx\n\t"                                                                 \
		        "mov $" NXS_TAG_S ", %r8d\n\t"                               \
		        "call *__imp_ExAllocatePoolWithTag(%rip)\n\t"                \
		        "add $40, %rsp\n\t"                                          \
		        "ret\n\t");                                                  \
	}
/* The import loaded into a register first (gcc -O2 and MSVC do this when
 * one function calls it more than once). */
#define NXS_SITE_REG(name, set_type)                                                 \
	__attribute__((naked, noinline)) void *name(void)                            \
	{                                                                            \
		__asm__("push %rsi\n\t"                                              \
		        "sub $32, %rsp\n\t"                                          \
		        "mov __imp_ExAllocatePoolWithTag(%rip), %rsi\n\t" set_type   \
		        "\n\t"                                                       \
		        "mov $64, %edx\n\t"                                                                 \
		        "mov $" NXS_TAG_S ", %r8d\n\t"                               \
		        "call *%rsi\n\t"                                             \
		        "add $32, %rsp\n\t"                                          \
		        "pop %rsi\n\t"                                               \
		        "ret\n\t");                                                  \
	}
#else
/* x86 stdcall: push tag, size, type; the callee pops its 12 bytes. */
#define NXS_SITE(name, push_type)                                                    \
	__attribute__((naked, noinline)) void *name(void)                            \
	{                                                                            \
		__asm__("push $" NXS_TAG_S "\n\t"                                    \
		        "push $64\n\t" push_type "\n\t"                              \
		        "call *__imp__ExAllocatePoolWithTag@12\n\t"                  \
		        "ret\n\t");                                                  \
	}
#define NXS_SITE_REG(name, push_type)                                                \
	__attribute__((naked, noinline)) void *name(void)                            \
	{                                                                            \
		__asm__("push %esi\n\t"                                              \
		        "mov __imp__ExAllocatePoolWithTag@12, %esi\n\t"              \
		        "push $" NXS_TAG_S "\n\t"                                    \
		        "push $64\n\t" push_type "\n\t"                              \
		        "call *%esi\n\t"                                             \
		        "pop %esi\n\t"                                               \
		        "ret\n\t");                                                  \
	}
/* `push imm32` even for small values (gas would pick the 2-byte 6A imm8). */
#define NXS_PUSH32(v) ".byte 0x68\n\t.long " #v
#endif

#endif
