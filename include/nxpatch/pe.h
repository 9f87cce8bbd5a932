/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: the strict PE reader.
 *
 * nxp_pe_parse() reads an image from one caller-owned buffer and fills a
 * caller-owned nxp_image. It allocates nothing: every table is a fixed array
 * clamped to a named limit, and names point into the caller's buffer, which
 * must outlive the image. Every read of file data goes through one
 * overflow-safe bounds check. A malformed structure yields its own code and a
 * message naming what is wrong and where. */
#ifndef NXPATCH_PE_H
#define NXPATCH_PE_H

#include <stddef.h>
#include <stdint.h>
#include "nxpatch/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Named limits. */
#define NXP_MAX_SECTIONS 96          /* the Windows loader's limit */
#define NXP_MAX_DATA_DIRS 16         /* IMAGE_NUMBEROF_DIRECTORY_ENTRIES */
#define NXP_MAX_CERT_ENTRIES 32      /* WIN_CERTIFICATE entries in one table */
#define NXP_MAX_IMPORTS 512          /* import descriptors read */
#define NXP_MAX_NAME 256             /* longest import DLL name read */
#define NXP_MAX_OPT_HEADER 4096      /* largest SizeOfOptionalHeader accepted */
#define NXP_MAX_FILE_SIZE ((uint64_t)4 << 30) /* PE images are < 4 GiB */
#define NXP_MAX_READ_WARNINGS 8      /* loader-leniency warnings kept per image */

/* Data directory indexes. */
enum {
	NXP_DIR_EXPORT = 0, NXP_DIR_IMPORT = 1, NXP_DIR_RESOURCE = 2,
	NXP_DIR_EXCEPTION = 3, NXP_DIR_SECURITY = 4, NXP_DIR_BASERELOC = 5,
	NXP_DIR_DEBUG = 6, NXP_DIR_ARCHITECTURE = 7, NXP_DIR_GLOBALPTR = 8,
	NXP_DIR_TLS = 9, NXP_DIR_LOAD_CONFIG = 10, NXP_DIR_BOUND_IMPORT = 11,
	NXP_DIR_IAT = 12, NXP_DIR_DELAY_IMPORT = 13, NXP_DIR_CLR = 14
};

/* COFF characteristics used here. */
#define NXP_FILE_RELOCS_STRIPPED 0x0001
#define NXP_FILE_EXECUTABLE 0x0002
#define NXP_FILE_DLL 0x2000

/* DllCharacteristics. */
#define NXP_DLL_HIGH_ENTROPY_VA 0x0020
#define NXP_DLL_DYNAMIC_BASE 0x0040
#define NXP_DLL_FORCE_INTEGRITY 0x0080
#define NXP_DLL_NX_COMPAT 0x0100
#define NXP_DLL_NO_ISOLATION 0x0200
#define NXP_DLL_NO_SEH 0x0400
#define NXP_DLL_NO_BIND 0x0800
#define NXP_DLL_APPCONTAINER 0x1000
#define NXP_DLL_WDM_DRIVER 0x2000
#define NXP_DLL_GUARD_CF 0x4000
#define NXP_DLL_TERMINAL_SERVER_AWARE 0x8000

/* Section characteristics. */
#define NXP_SCN_CNT_CODE 0x00000020u
#define NXP_SCN_CNT_INITIALIZED_DATA 0x00000040u
#define NXP_SCN_CNT_UNINITIALIZED_DATA 0x00000080u
#define NXP_SCN_MEM_DISCARDABLE 0x02000000u
#define NXP_SCN_MEM_NOT_CACHED 0x04000000u
#define NXP_SCN_MEM_NOT_PAGED 0x08000000u
#define NXP_SCN_MEM_SHARED 0x10000000u
#define NXP_SCN_MEM_EXECUTE 0x20000000u
#define NXP_SCN_MEM_READ 0x40000000u
#define NXP_SCN_MEM_WRITE 0x80000000u
#define NXP_SCN_WX (NXP_SCN_MEM_WRITE | NXP_SCN_MEM_EXECUTE)

/* Machines. */
#define NXP_MACHINE_I386 0x014c
#define NXP_MACHINE_AMD64 0x8664
#define NXP_MACHINE_ARM 0x01c0
#define NXP_MACHINE_ARMNT 0x01c4
#define NXP_MACHINE_ARM64 0xaa64
#define NXP_MACHINE_IA64 0x0200

typedef enum nxp_kind {
	NXP_KIND_EXE = 0,
	NXP_KIND_DLL = 1,
	NXP_KIND_DRIVER = 2,
	NXP_KIND_EFI = 3
} nxp_kind;

/* A span of the file: data[offset .. offset+size), always inside the file. */
typedef struct nxp_span {
	uint32_t offset;
	uint32_t size;
} nxp_span;

typedef struct nxp_section {
	char name[9];               /* the 8 header bytes, NUL-terminated */
	uint32_t virtual_size;
	uint32_t virtual_address;
	uint32_t raw_size;          /* SizeOfRawData */
	uint32_t raw_offset;        /* PointerToRawData, as stored */
	uint32_t raw_start;         /* where the loader reads it from: raw_offset rounded
	                               down to 0x200 when FileAlignment >= 0x200 */
	uint32_t characteristics;
	uint32_t header_offset;     /* file offset of the 40-byte header */
	uint32_t characteristics_offset; /* header_offset + 36 */
} nxp_section;

typedef struct nxp_data_dir {
	uint32_t rva;               /* a file offset for NXP_DIR_SECURITY */
	uint32_t size;
	uint32_t entry_offset;      /* file offset of the 8-byte entry */
} nxp_data_dir;

typedef struct nxp_cert_entry {
	uint32_t offset;            /* file offset of the WIN_CERTIFICATE */
	uint32_t length;            /* dwLength (header included) */
	uint16_t revision;          /* wRevision, 0x0200 expected */
	uint16_t type;              /* wCertificateType, 2 = PKCS_SIGNED_DATA */
} nxp_cert_entry;

typedef struct nxp_import {
	uint32_t name_offset;       /* file offset of the DLL name */
	uint32_t name_len;          /* without the NUL, at most NXP_MAX_NAME */
} nxp_import;

/* A directory located in the file: present when size > 0 and it was mapped. */
typedef struct nxp_located {
	int present;                /* the directory entry is non-empty */
	uint32_t rva;
	uint32_t size;
	uint32_t offset;            /* file offset of its first byte */
	int section;                /* index of the containing section, -1 headers */
} nxp_located;

typedef struct nxp_image {
	const uint8_t *data;        /* the caller's buffer */
	size_t len;

	uint32_t pe_offset;         /* e_lfanew */
	uint16_t machine;
	uint16_t nsections;
	uint32_t timestamp;
	uint32_t symtab_offset;     /* PointerToSymbolTable */
	uint32_t nsymbols;
	uint16_t opt_header_size;
	uint16_t file_characteristics;

	uint16_t magic;             /* 0x10b or 0x20b */
	int pe32plus;
	uint8_t linker_major, linker_minor;
	uint32_t size_of_code;
	uint32_t entry_rva;
	uint64_t image_base;
	uint32_t section_alignment;
	uint32_t file_alignment;
	uint16_t os_major, os_minor, subsystem_major, subsystem_minor;
	uint32_t size_of_image;
	uint32_t size_of_headers;
	uint32_t checksum;
	uint16_t subsystem;
	uint16_t dll_characteristics;
	uint64_t stack_reserve, stack_commit, heap_reserve, heap_commit;
	uint32_t ndirs;             /* NumberOfRvaAndSizes as stored */
	nxp_data_dir dirs[NXP_MAX_DATA_DIRS]; /* entries past min(ndirs,16) zero */
	uint32_t ndirs_used;        /* min(ndirs, NXP_MAX_DATA_DIRS) */

	/* File offsets of every field a patch may touch. */
	uint32_t checksum_offset;
	uint32_t dll_characteristics_offset;
	uint32_t cert_dir_offset;   /* 0 when the image has fewer than 5 dirs */
	uint32_t section_table_offset;

	nxp_section sections[NXP_MAX_SECTIONS];
	int entry_section;          /* index, or -1 (outside every section) */

	/* Certificate table (directory 4: a file offset, not an RVA). */
	uint32_t cert_offset, cert_size;
	uint32_t ncerts;
	nxp_cert_entry certs[NXP_MAX_CERT_ENTRIES];

	/* Relocations. */
	int relocs_stripped;        /* COFF flag IMAGE_FILE_RELOCS_STRIPPED */
	int has_relocs;             /* base relocation directory non-empty */

	/* End of the last section's raw data; overlay is what follows, less the
	 * certificate table when it sits there. */
	uint32_t sections_end;
	uint32_t overlay_offset;
	uint32_t overlay_size;

	nxp_located exports, imports_dir, tls, exception, load_config, reloc;

	uint32_t nimports;
	int imports_truncated;      /* more than NXP_MAX_IMPORTS descriptors */
	nxp_import imports[NXP_MAX_IMPORTS];

	/* Load configuration (where present and long enough). */
	int has_guard_tables;       /* GuardCFFunctionTable and Count non-zero */
	uint64_t guard_cf_table_va;
	uint64_t guard_cf_count;
	uint32_t guard_flags;
	uint64_t seh_table_va;      /* PE32 only */
	uint64_t seh_count;

	/* What the reader accepted because the Windows loader does, where
	 * patching the headers stays safe (a misaligned PointerToRawData, a
	 * directory in a section's zero-filled tail, a stale or garbage entry
	 * the loader ignores). One lowercase sentence each. */
	unsigned nread_warnings;
	char read_warnings[NXP_MAX_READ_WARNINGS][200];
} nxp_image;

/* Parse `len` bytes at `data` into `img`. Returns NXP_OK or an NXP_E_* code
 * with err set. `img` is fully overwritten. */
int nxp_pe_parse(nxp_image *img, const uint8_t *data, size_t len, nxp_error *err);

/* Map an RVA range to a file offset. Returns 1 and sets *off when
 * [rva, rva+size) lies within one section's raw data (or the headers), else 0. */
int nxp_pe_rva_to_offset(const nxp_image *img, uint64_t rva, uint32_t size, uint32_t *off);

/* Index of the section whose virtual range holds rva, or -1. */
int nxp_pe_section_of_rva(const nxp_image *img, uint64_t rva);

/* What the image is (exe, dll, driver, efi, ...), from its Characteristics,
 * Subsystem and imports: the `kind` policies match and reports show. */
nxp_kind nxp_pe_kind(const nxp_image *img);

/* The PE checksum of buf with the 4 bytes at checksum_offset counted as zero
 * (pass SIZE_MAX for "no field"). Equals pefile's generate_checksum(). */
uint32_t nxp_pe_checksum(const uint8_t *buf, size_t len, size_t checksum_offset);

/* Names, stable and part of the CLI/JSON/policy interface. */
const char *nxp_machine_name(uint16_t machine);     /* "amd64", or NULL */
const char *nxp_subsystem_name(uint16_t subsystem); /* "windows_cui", or NULL */
const char *nxp_kind_name(nxp_kind kind);

/* A named bit of a flag word. Tables end with {NULL, 0}. */
typedef struct nxp_flag_name {
	const char *name;
	uint32_t bit;
} nxp_flag_name;

extern const nxp_flag_name nxp_dll_flag_names[];      /* nx_compat, ... */
extern const nxp_flag_name nxp_section_attr_names[];  /* read, write, ... */
extern const nxp_flag_name nxp_machine_names[];
extern const nxp_flag_name nxp_subsystem_names[];

/* Look a name up in a table: returns 1 and sets *bit when found. */
int nxp_flag_lookup(const nxp_flag_name *table, const char *name, uint32_t *bit);

/* Write "a,b,c"-style names of the set bits; unknown bits as 0x... */
size_t nxp_flag_format(const nxp_flag_name *table, uint32_t value,
                       const char *sep, char *out, size_t outlen);

#ifdef __cplusplus
}
#endif
#endif
