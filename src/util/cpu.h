/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the vector code paths the build and the CPU allow.
 *
 * The library is compiled for the baseline ISA; an AVX2 routine is one
 * function with NXP_TARGET_AVX2, called only when nxpi_cpu_avx2() says the
 * CPU has it. __builtin_cpu_supports reads the feature word libgcc (or
 * compiler-rt) fills in before main, and reports AVX2 only when the OS
 * saves the YMM registers too, so the check is one load and a test. */
#ifndef NXP_UTIL_CPU_H
#define NXP_UTIL_CPU_H

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define NXP_HAVE_AVX2 1
#define NXP_TARGET_AVX2 __attribute__((target("avx2")))
static inline int nxpi_cpu_avx2(void)
{
	return __builtin_cpu_supports("avx2");
}
#else
static inline int nxpi_cpu_avx2(void)
{
	return 0;
}
#endif

#endif
