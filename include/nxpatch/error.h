/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: error codes and the caller-owned error struct.
 *
 * Convention for the whole library: a function returns int, 0 (NXP_OK) on
 * success, otherwise one of the codes below, and fills the caller's
 * nxp_error with a specific, lowercase message that says what failed first
 * ("section table ends past end of file (0x1f8 + 0x140 > 0x300)").
 * Only the CLI prints messages and chooses exit codes. */
#ifndef NXPATCH_ERROR_H
#define NXPATCH_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Numbered explicitly: codes are part of the API and never renumbered. */
typedef enum nxp_code {
	NXP_OK = 0,

	/* environment */
	NXP_E_IO = 1,             /* open, read, write, rename, fsync failed */
	NXP_E_NOMEM = 2,          /* allocation failed */
	NXP_E_USAGE = 3,          /* a bad argument from the caller */
	NXP_E_INTERNAL = 4,       /* a broken invariant inside nxpatch */
	NXP_E_TOO_LARGE = 5,      /* input larger than NXP_MAX_FILE_SIZE */
	NXP_E_FILE_TYPE = 6,      /* not a regular file (device, FIFO, socket, directory, link) */
	NXP_E_LOCKED = 7,         /* another process holds the file's write lock */

	/* PE reader: one code per malformed structure */
	NXP_E_NOT_PE = 20,            /* too small for a DOS header, or no "MZ" */
	NXP_E_LFANEW = 21,            /* e_lfanew points outside the file */
	NXP_E_PE_SIGNATURE = 22,      /* no "PE\0\0" at e_lfanew */
	NXP_E_COFF_TRUNCATED = 23,    /* COFF file header past end of file */
	NXP_E_TOO_MANY_SECTIONS = 24, /* NumberOfSections above NXP_MAX_SECTIONS */
	NXP_E_OPTHDR_SIZE = 25,       /* SizeOfOptionalHeader too small or too large */
	NXP_E_OPTHDR_TRUNCATED = 26,  /* optional header past end of file */
	NXP_E_OPTHDR_MAGIC = 27,      /* Magic neither 0x10b nor 0x20b */
	NXP_E_DATA_DIRS = 28,         /* NumberOfRvaAndSizes inconsistent */
	NXP_E_SECTION_TABLE = 29,     /* section table past end of file / headers */
	NXP_E_SECTION_DATA = 30,      /* a section's raw data past end of file */
	NXP_E_CERT_TABLE = 31,        /* certificate table out of the file */
	NXP_E_CERT_ENTRY = 32,        /* a WIN_CERTIFICATE entry malformed */
	NXP_E_DIRECTORY = 33,         /* export/import/TLS/exception dir out of image */
	NXP_E_NO_SECTIONS = 34,       /* reserved: an operation needs sections */
	NXP_E_ALIGNMENT = 35,         /* FileAlignment/SectionAlignment invalid */
	NXP_E_HEADERS = 36,           /* SizeOfHeaders inconsistent */

	/* policy */
	NXP_E_POLICY = 60,            /* invalid policy (details in the message) */

	/* plan / apply / verify */
	NXP_E_REFUSED = 80,           /* the plan holds refused changes */
	NXP_E_VERIFY = 81,            /* the output failed verification */
	NXP_E_CROSS_CHECK = 82,       /* LIEF disagrees with the reader */
	NXP_E_LIEF = 83,              /* the LIEF child failed, crashed, timed out */
	NXP_E_CHANGED = 84,           /* the input changed while being processed */
	NXP_E_METADATA = 85,          /* owner, group, mode or xattrs cannot be kept */
	NXP_E_BACKUP = 86,            /* no backup could be made without replacing a file */
	NXP_E_JOURNAL = 87,           /* a journal line could not be made durable, or read */
	NXP_E_REVERT = 88,            /* a journal entry fails revert's checks */

	/* signing */
	NXP_E_SIGN = 100,             /* signing failed */
	NXP_E_SIGNATURE = 101,        /* a signature does not verify */
	NXP_E_KEY = 102               /* key material could not be loaded */
} nxp_code;

#define NXP_ERROR_MSG_MAX 512

typedef struct nxp_error {
	int code;                        /* an nxp_code; NXP_OK when clear */
	char msg[NXP_ERROR_MSG_MAX];     /* lowercase, no trailing period */
} nxp_error;

/* The symbolic name of a code ("NXP_E_LFANEW"), never NULL. */
const char *nxp_code_name(int code);

/* Set err (if not NULL) and return code: `return nxp_fail(err, NXP_E_IO, "...")`. */
int nxp_fail(nxp_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the existing message: "context: old message". Returns err->code. */
int nxp_error_prefix(nxp_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Clear err (if not NULL): code NXP_OK, empty message. */
void nxp_error_clear(nxp_error *err);

#ifdef __cplusplus
}
#endif
#endif
