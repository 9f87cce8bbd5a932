/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: LIEF as an independent second reader, run in a guarded worker.
 *
 * LIEF 0.9 aborts the process on malformed input (uncaught C++ exceptions)
 * and can allocate gigabytes on crafted files, so nxp_lief_read() never calls
 * it in the caller's process. The separate executable nxpatch-lief-worker,
 * started with posix_spawn (a fresh address space: it holds nothing of the
 * caller's memory, keys included, and only a few variables of its
 * environment), parses the file with LIEF's C API under an address-space
 * limit, a CPU limit and a timer, and sends back only header and
 * section-header fields in a fixed-size record. Whatever happens to the
 * worker (abort, signal, exhausted memory, timeout, short record), the
 * caller gets NXP_E_LIEF with a message naming it.
 *
 * The executable is found through $NXP_LIEF_WORKER (when set, it must be
 * executable: no fallback), else next to the running program
 * (/proc/self/exe: the build tree), else in the NXP_LIBEXECDIR it was built
 * with (the install). When none is there every request fails with
 * NXP_E_LIEF saying so: the cross-check is never skipped silently.
 *
 * The worker is persistent: it is started by the first request and serves
 * the following ones over a socket, setting its limits afresh for each
 * (relative to its size and CPU time at that moment), so a request costs a
 * parse rather than a process start. A worker that failed is reaped and the
 * next request starts a new one; a worker is also replaced after
 * NXP_LIEF_WORKER_MAX_REQUESTS requests or once it has grown by more than
 * NXP_LIEF_WORKER_MAX_GROWTH. It dies with the thread that started it. It is
 * an ordinary child process: a caller that reaps every child (wait(-1)) may
 * reap it, which fails the request in flight with a message saying so and
 * starts a fresh worker for the next (it is never signalled by a reused
 * pid). A process forked while a worker runs (e.g. a batch worker) starts
 * its own on first use and leaves its parent's alone. nxp_lief_shutdown()
 * ends and reaps the worker: call it before exiting, so its CPU time is
 * accounted to the caller.
 *
 * nxp_lief_begin()/nxp_lief_end() split a read so the caller can work while
 * LIEF parses; one request may be in flight at a time.
 *
 * These functions keep process-wide state: call them from one thread at a
 * time. Other threads in the process are fine. */
#ifndef NXPATCH_CROSSCHECK_H
#define NXPATCH_CROSSCHECK_H

#include <stddef.h>
#include <stdint.h>
#include "nxpatch/error.h"
#include "nxpatch/pe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* LIEF 0.9 always lists 15 data directories, whatever NumberOfRvaAndSizes. */
#define NXP_LIEF_NDIRS 15

/* Defaults for nxp_lief_limits fields left 0. */
#define NXP_LIEF_DEFAULT_TIMEOUT_MS 10000u
#define NXP_LIEF_MIN_MEMORY ((uint64_t)256 << 20)  /* at least 256 MiB */
#define NXP_LIEF_MEMORY_PER_BYTE 8                 /* or 8x the file size */
#define NXP_LIEF_MAX_MEMORY ((uint64_t)8 << 30)    /* default capped at 8 GiB */

/* The worker is replaced after this many requests, or when after a request
 * its resident or virtual size has grown by more than this since it started
 * (heap fragmentation, LIEF's caches, a sanitizer's quarantine). */
#define NXP_LIEF_WORKER_MAX_REQUESTS 512u
#define NXP_LIEF_WORKER_MAX_GROWTH ((uint64_t)64 << 20)

typedef struct nxp_lief_limits {
	/* Address space the worker may add, for this request, to what it has
	 * when the request starts, in bytes. 0: max(NXP_LIEF_MIN_MEMORY, 8 x
	 * file size), capped at NXP_LIEF_MAX_MEMORY. Measured from the worker's
	 * own VmSize, so it also works under AddressSanitizer, whose address
	 * space is already huge. */
	uint64_t memory;
	/* Wall-clock limit in milliseconds, from nxp_lief_begin() (also a
	 * CPU-time limit on the request, rounded up to whole seconds).
	 * 0: NXP_LIEF_DEFAULT_TIMEOUT_MS. */
	uint32_t timeout_ms;
} nxp_lief_limits;

typedef struct nxp_lief_section {
	char name[9];               /* the first 8 bytes of LIEF's name, NUL-padded */
	uint32_t virtual_size;
	uint64_t virtual_address;
	uint64_t raw_size;          /* LIEF's `size`: SizeOfRawData */
	uint64_t raw_offset;        /* LIEF's `offset`: PointerToRawData */
	uint32_t characteristics;
} nxp_lief_section;

typedef struct nxp_lief_dir {
	uint32_t rva;
	uint32_t size;
} nxp_lief_dir;

/* What LIEF read: a plain record, no pointers. */
typedef struct nxp_lief_view {
	/* DOS header */
	uint32_t pe_offset;         /* addressof_new_exeheader (e_lfanew) */

	/* COFF header */
	uint16_t machine;
	uint16_t nsections;         /* NumberOfSections as LIEF read it */
	uint32_t timestamp;
	uint32_t symtab_offset;
	uint32_t nsymbols;
	uint16_t opt_header_size;
	uint16_t file_characteristics;

	/* optional header */
	uint16_t magic;
	uint16_t subsystem;
	uint32_t size_of_code;
	uint32_t entry_rva;
	uint64_t image_base;
	uint32_t section_alignment;
	uint32_t file_alignment;
	uint32_t size_of_image;
	uint32_t size_of_headers;
	uint32_t checksum;
	uint32_t dll_characteristics;
	uint64_t stack_reserve, stack_commit, heap_reserve, heap_commit;
	uint32_t ndirs;             /* numberof_rva_and_size */

	uint32_t ndirs_seen;        /* entries LIEF listed (15 in 0.9) */
	nxp_lief_dir dirs[NXP_LIEF_NDIRS];

	uint32_t nsections_seen;    /* sections LIEF listed, possibly > copied */
	uint32_t nsections_copied;  /* min(nsections_seen, NXP_MAX_SECTIONS) */
	nxp_lief_section sections[NXP_MAX_SECTIONS];
} nxp_lief_view;

/* Parse the file at `path` with LIEF in the guarded worker and fill `out`.
 * `lim` may be NULL for the defaults. Returns NXP_OK, NXP_E_USAGE for bad
 * arguments, NXP_E_IO when the worker cannot be set up (socket/pipe), or
 * NXP_E_LIEF when the worker is not found or failed: "lief child aborted (signal 6):
 * LIEF::bad_format: ...: malformed image?", "lief child timed out after
 * 10 s", "lief child ran out of memory (limit 256 MiB)", ...
 * Same as nxp_lief_begin() then nxp_lief_end(). */
int nxp_lief_read(const char *path, nxp_lief_view *out, const nxp_lief_limits *lim,
                  nxp_error *err);

/* Send the request for `path` to the worker (starting one if needed) and
 * return at once; the timeout runs from here. On NXP_OK the request is in
 * flight and nxp_lief_end() must collect it; on an error nothing is in
 * flight. NXP_E_USAGE when a request is already in flight. */
int nxp_lief_begin(const char *path, const nxp_lief_limits *lim, nxp_error *err);

/* Wait for the request in flight and fill `out` (NULL: collect and drop the
 * answer). Returns as nxp_lief_read(); NXP_E_USAGE when none is in flight. */
int nxp_lief_end(nxp_lief_view *out, nxp_error *err);

/* End the worker, if this process started one, and reap it; drop any
 * request in flight. Descriptors inherited from a parent's worker are only
 * closed. The next request starts a new worker. */
void nxp_lief_shutdown(void);

/* One field on which the reader and LIEF disagree. */
#define NXP_MISMATCH_FIELD_MAX 48
#define NXP_MISMATCH_VALUE_MAX 24
typedef struct nxp_mismatch {
	char field[NXP_MISMATCH_FIELD_MAX];   /* "optional_header.checksum",
	                                       * "section[2].characteristics" */
	char reader[NXP_MISMATCH_VALUE_MAX];  /* "0x1f2e3", or a section name */
	char lief[NXP_MISMATCH_VALUE_MAX];
	uint64_t reader_value;                /* numeric fields; 0 for names */
	uint64_t lief_value;
} nxp_mismatch;

/* Compare every field of `v` with the reader's `img`. Stores up to `max`
 * mismatches in `out` (which may be NULL when max is 0) and sets *n to the
 * total number found (which may exceed max). Returns NXP_OK when they agree,
 * NXP_E_CROSS_CHECK otherwise. Field names are stable (CLI/JSON output). */
int nxp_crosscheck(const nxp_image *img, const nxp_lief_view *v, nxp_mismatch *out,
                   size_t max, size_t *n);

/* nxp_lief_read(path) with default limits, then nxp_crosscheck(). Returns
 * NXP_OK when LIEF agrees, NXP_E_LIEF when the child failed (*n = 0), or
 * NXP_E_CROSS_CHECK with err naming the first mismatch and `out`/`*n`
 * filled as by nxp_crosscheck(). `img` must be the reader's parse of the
 * same file. */
int nxp_crosscheck_file(const char *path, const nxp_image *img, nxp_mismatch *out,
                        size_t max, size_t *n, nxp_error *err);

/* nxp_crosscheck_file() in two halves, so LIEF parses while the caller
 * works: _begin() is nxp_lief_begin(path) with default limits; after it
 * succeeds, _end() must be called. _end() collects LIEF's view and compares
 * it with `img` as nxp_crosscheck_file() does; with `img` NULL it only
 * collects the answer (for a caller that no longer needs it) and returns
 * NXP_OK or LIEF's error. */
int nxp_crosscheck_file_begin(const char *path, nxp_error *err);
int nxp_crosscheck_file_end(const nxp_image *img, nxp_mismatch *out, size_t max, size_t *n,
                            nxp_error *err);

#ifdef __cplusplus
}
#endif
#endif
