/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: DEP-fault traces, the ground truth of code in data.
 *
 * nxp_trace_run runs a Windows program under the nxpatch-trace.exe helper
 * (a small debugger on the Windows debug API, run under wine64 on Linux),
 * which records every execute-access fault and lets the program go on. The
 * faults are written as JSONL (nxp_trace_fault_json, one record per fault
 * site) and read back as evidence (nxp_evset_load) by plan, apply and
 * verify --evidence, which merge them into an image's facts as evidence of
 * kind dep_fault (nxp_facts_merge_trace). docs/evidence.md describes it. */
#ifndef NXPATCH_TRACE_H
#define NXPATCH_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "nxpatch/analysis.h"
#include "nxpatch/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* jansson's JSON value (include <jansson.h> to use one): the library
 * returns and takes them, and its users need not include jansson. */
typedef struct json_t json_t;

#define NXP_TRACE_MAX_SITES 4096       /* fault sites kept (the helper's cap too) */
#define NXP_TRACE_MAX_MODULES 1024
#define NXP_EVFILE_MAX_BYTES (64u << 20) /* an --evidence file larger than this is refused */
#define NXP_EVFILE_MAX_LINE 65536      /* longest accepted JSONL line */
#define NXP_EVFILE_MAX_RECORDS 100000

typedef struct nxp_trace_module {
	uint64_t base;
	uint32_t size_of_image, timestamp;
	uint16_t machine;
	char *winpath;               /* as Windows names it (UTF-8), or NULL */
	char *path;                  /* the Unix path under wine, or NULL */
} nxp_trace_module;

typedef struct nxp_trace_fault {
	int module;                  /* index into modules, -1 outside every image */
	int first_chance;
	uint64_t address;            /* the faulting instruction */
	uint64_t count;              /* faults on this page (same chance) */
	uint32_t rva;                /* in the module */
	char section[9];             /* the loaded section's name, "" if none */
	uint32_t section_characteristics;
	/* VirtualQueryEx of the address */
	uint64_t region_base, allocation_base, region_size;
	uint32_t protect, allocation_protect, type, state;
} nxp_trace_fault;

typedef enum nxp_trace_end {
	NXP_TRACE_EXITED = 0,        /* the program exited: exit_code */
	NXP_TRACE_TIMEOUT = 1,       /* still running at the timeout: ended by the helper */
	NXP_TRACE_NOT_STARTED = 2    /* the helper could not start it: message */
} nxp_trace_end;

typedef struct nxp_trace {
	nxp_trace_module *modules;
	size_t nmodules;
	nxp_trace_fault *faults;
	size_t nfaults;
	uint64_t dropped;            /* faults on pages beyond the site cap */
	nxp_trace_end end;
	uint32_t exit_code;
	uint32_t timeout_ms;
	char message[512];
} nxp_trace;

typedef struct nxp_trace_opts {
	const char *program;         /* the program to run (a Unix path under wine) */
	char *const *args;           /* its arguments */
	size_t nargs;
	const char *cwd;             /* its working directory, or NULL: the current one */
	unsigned timeout_s;          /* 0: none */
	const char *helper;          /* nxpatch-trace.exe, or NULL: nxp_trace_find_helper */
	const char *wine;            /* the wine64 loader, or NULL: $NXPATCH_WINE, /usr/lib/wine/wine64 */
	int program_stdout_fd;       /* where the program's stdout goes (-1: inherited) */
} nxp_trace_opts;

/* Where nxpatch-trace.exe is: $NXPATCH_TRACE_HELPER, else next to the
 * running executable (/proc/self/exe), else NXP_LIBEXECDIR. Returns a
 * malloc'd path or NULL with err naming the places looked at. */
char *nxp_trace_find_helper(nxp_error *err);

/* Run opt->program under the helper and fill t (free with nxp_trace_free).
 * Under wine the prefix is $WINEPREFIX when set, else a private one in
 * $XDG_CACHE_HOME/nxpatch/wine (or ~/.cache/nxpatch/wine), created on first
 * use. Returns NXP_OK when the helper ran (t->end says how the program
 * ended), else an error (no wine, no helper, the helper failed). */
int nxp_trace_run(const nxp_trace_opts *opt, nxp_trace *t, nxp_error *err);

/* Parse the helper's output (the "nxtrace 1" line protocol). */
int nxp_trace_parse(const char *buf, size_t len, nxp_trace *t, nxp_error *err);
void nxp_trace_free(nxp_trace *t);

/* The JSONL record of fault i: {"kind":"dep_fault", "module", "module_name",
 * "image":{...}, "rva", "section", ..., "chance", "count", "region":{...},
 * "program":{...}} (docs/evidence.md). */
json_t *nxp_trace_fault_json(const nxp_trace *t, size_t i);

/* "PAGE_READWRITE" for a Windows page protection. */
const char *nxp_page_protect_name(uint32_t protect);

/* ------------------------------------------------------- evidence files */

typedef struct nxp_evrec {
	char *module_name;           /* base name of the faulting image; NULL: outside every image */
	uint32_t size_of_image, timestamp;
	char *program_name;          /* base name of the traced program */
	uint32_t program_size, program_timestamp;
	uint32_t rva;
	char section[9];
	int first_chance;
	uint64_t count;
	uint64_t address;
	uint32_t protect, allocation_protect, type;
	uint64_t allocation_base;
	const char *region_type;     /* "private", "mapped", "image", "unknown" or NULL (static) */
	unsigned line;               /* in the file */
} nxp_evrec;

typedef struct nxp_evset {
	char *path;
	nxp_evrec *recs;
	size_t nrecs;
} nxp_evset;

/* Read an --evidence file: JSONL, one dep_fault record a line (blank lines
 * ignored). Any malformed line is an error naming path:line. */
int nxp_evset_load(nxp_evset **out, const char *path, nxp_error *err);
int nxp_evset_parse(nxp_evset **out, const char *name, const char *buf, size_t len,
                    nxp_error *err);
void nxp_evset_free(nxp_evset *s);

/* Merge the records that concern f's image (its file name, SizeOfImage and
 * TimeDateStamp) into f: a fault in a section is evidence of kind dep_fault
 * there (also when the section is executable by now, in a patched copy: it
 * must stay so), and a fault outside every image in a program f is, sets
 * f->heap_faults. A record naming f's file but another build, or an RVA or
 * section name that does not match f's sections, is a warning. */
int nxp_facts_merge_trace(nxp_facts *f, const nxp_evset *s, nxp_error *err);

#ifdef __cplusplus
}
#endif
#endif
