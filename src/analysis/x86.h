/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to src/analysis: x86 register facts shared by the evidence flow
 * analysis (evidence_flow.c) and the driver call-site sweep
 * (driver_sweep.c). */
#ifndef NXP_ANALYSIS_X86_H
#define NXP_ANALYSIS_X86_H

#include <capstone/capstone.h>

/* The general-purpose register family 0..15 (rax, rcx, rdx, rbx, rsp, rbp,
 * rsi, rdi, r8..r15) of a register of any width, the high bytes included
 * (ah, ch, dh, bh belong to rax, rcx, rdx, rbx: writing one changes that
 * register), or -1 for anything else (rip, segment, vector registers). */
int nxpi_x86_gpr(x86_reg r);

#endif
