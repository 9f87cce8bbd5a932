/* SPDX-License-Identifier: Apache-2.0 */
/* SIGBUS-safe reads of mapped files: see guard.h. The handler touches only
 * the slot table (lock-free: slots are claimed with a compare-and-swap) and
 * calls mmap(), a plain system call. */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/guard.h"

#define NSLOTS 64

typedef struct slot {
	int used;                   /* claimed (compare-and-swap) */
	uintptr_t start;            /* 0: not yet (or no longer) guarded */
	size_t len;
	volatile sig_atomic_t faulted;
} slot;

static slot slots[NSLOTS];
static struct sigaction previous;
static int installed;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	uintptr_t a = (uintptr_t)si->si_addr;
	long pg = sysconf(_SC_PAGESIZE);
	for (int i = 0; i < NSLOTS; i++) {
		uintptr_t s = __atomic_load_n(&slots[i].start, __ATOMIC_ACQUIRE);
		if (!s || a < s || a - s >= slots[i].len)
			continue;
		/* Zero pages from the faulting page to the end of the mapping: the
		 * file ended there, and the rest would fault one by one. */
		uintptr_t from = a & ~(uintptr_t)(pg - 1);
		uintptr_t end = (s + slots[i].len + (uintptr_t)pg - 1) & ~(uintptr_t)(pg - 1);
		slots[i].faulted = 1;
		if (mmap((void *)from, end - from, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		         -1, 0) != MAP_FAILED)
			return;
		break;
	}
	/* Not ours (or no zero page could be put there): the previous action. */
	sigaction(sig, &previous, NULL);
}

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &previous);
}

int nxpi_guard_add(const void *p, size_t len)
{
	if (!p || !len)
		return -1;
	if (!__atomic_exchange_n(&installed, 1, __ATOMIC_ACQ_REL))
		install();
	for (int i = 0; i < NSLOTS; i++) {
		int no = 0;
		if (!__atomic_compare_exchange_n(&slots[i].used, &no, 1, 0, __ATOMIC_ACQ_REL,
		                                 __ATOMIC_ACQUIRE))
			continue;
		slots[i].len = len;
		slots[i].faulted = 0;
		__atomic_store_n(&slots[i].start, (uintptr_t)p, __ATOMIC_RELEASE);
		return i;
	}
	return -1;
}

void nxpi_guard_remove(int i)
{
	if (i >= 0 && i < NSLOTS) {
		__atomic_store_n(&slots[i].start, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&slots[i].used, 0, __ATOMIC_RELEASE);
	}
}

int nxpi_guard_faulted(int i)
{
	return i >= 0 && i < NSLOTS && slots[i].faulted;
}
