/* SPDX-License-Identifier: Apache-2.0 */
/* The strict PE reader. One pass over the headers and the directories that
 * nxpatch needs; no allocation; every read is proven with NXP_FITS first.
 * Field offsets: the PE/COFF specification (Microsoft, "PE Format"). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nxpatch/pe.h"
#include "util/bytes.h"
#include "pe/internal.h"

#define DOS_HEADER_SIZE 64
#define COFF_HEADER_SIZE 20
#define SECTION_HEADER_SIZE 40
#define OPT_DIRS_OFFSET_PE32 96     /* data directories start here in PE32 */
#define OPT_DIRS_OFFSET_PE32PLUS 112
#define IMPORT_DESCRIPTOR_SIZE 20
#define MIN_DIRS 5                  /* through the certificate table entry */

static int is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* A loader-leniency warning (kept up to NXP_MAX_READ_WARNINGS). */
static void read_warning(nxp_image *img, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void read_warning(nxp_image *img, const char *fmt, ...)
{
	if (img->nread_warnings >= NXP_MAX_READ_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(img->read_warnings[img->nread_warnings++], sizeof(img->read_warnings[0]), fmt,
	          ap);
	va_end(ap);
}

/* The part of a section backed by file data, from its start. */
static uint32_t section_backed(const nxp_section *s)
{
	if (s->virtual_size && s->virtual_size < s->raw_size)
		return s->virtual_size;
	return s->raw_size;
}

int nxp_pe_section_of_rva(const nxp_image *img, uint64_t rva)
{
	for (unsigned i = 0; i < img->nsections; i++) {
		const nxp_section *s = &img->sections[i];
		uint32_t span = s->virtual_size ? s->virtual_size : s->raw_size;
		if (rva >= s->virtual_address && rva - s->virtual_address < span)
			return (int)i;
	}
	return -1;
}

int nxp_pe_rva_to_offset(const nxp_image *img, uint64_t rva, uint32_t size, uint32_t *off)
{
	/* Headers are mapped at RVA 0 up to SizeOfHeaders (and below the first
	 * section). */
	uint64_t hdr_end = img->size_of_headers;
	for (unsigned i = 0; i < img->nsections; i++)
		if (img->sections[i].virtual_address < hdr_end)
			hdr_end = img->sections[i].virtual_address;
	if (NXP_FITS(rva, size, hdr_end) && NXP_FITS(rva, size, img->len)) {
		*off = (uint32_t)rva;
		return 1;
	}
	int i = nxp_pe_section_of_rva(img, rva);
	if (i < 0)
		return 0;
	const nxp_section *s = &img->sections[i];
	uint64_t rel = rva - s->virtual_address;
	if (!NXP_FITS(rel, size, section_backed(s)))
		return 0;
	uint64_t o = (uint64_t)s->raw_start + rel;
	if (!NXP_FITS(o, size, img->len))
		return 0;
	*off = (uint32_t)o;
	return 1;
}

nxp_kind nxp_pe_kind(const nxp_image *img)
{
	switch (img->subsystem) {
	case 10: case 11: case 12: case 13:
		return NXP_KIND_EFI;
	case 1:
		return NXP_KIND_DRIVER;
	default:
		break;
	}
	if (img->dll_characteristics & NXP_DLL_WDM_DRIVER)
		return NXP_KIND_DRIVER;
	if (img->file_characteristics & NXP_FILE_DLL)
		return NXP_KIND_DLL;
	return NXP_KIND_EXE;
}

static const char *dir_name(unsigned i)
{
	static const char *const names[] = {
		[NXP_DIR_EXPORT] = "export", [NXP_DIR_IMPORT] = "import",
		[NXP_DIR_RESOURCE] = "resource", [NXP_DIR_EXCEPTION] = "exception",
		[NXP_DIR_SECURITY] = "certificate", [NXP_DIR_BASERELOC] = "base relocation",
		[NXP_DIR_DEBUG] = "debug", [NXP_DIR_ARCHITECTURE] = "architecture",
		[NXP_DIR_GLOBALPTR] = "global pointer", [NXP_DIR_TLS] = "tls",
		[NXP_DIR_LOAD_CONFIG] = "load configuration", [NXP_DIR_BOUND_IMPORT] = "bound import",
		[NXP_DIR_IAT] = "import address table", [NXP_DIR_DELAY_IMPORT] = "delay import",
		[NXP_DIR_CLR] = "clr runtime header", [15] = "reserved",
	};
	return i < NXP_ARRAY_LEN(names) ? names[i] : "unknown";
}

/* The section whose virtual span (what the loader maps: VirtualSize, or
 * SizeOfRawData when that is 0) holds all of [rva, rva+size), or -1. */
static int section_spanning(const nxp_image *img, uint64_t rva, uint64_t size)
{
	int i = nxp_pe_section_of_rva(img, rva);
	if (i < 0)
		return -1;
	const nxp_section *s = &img->sections[i];
	uint32_t span = s->virtual_size ? s->virtual_size : s->raw_size;
	return NXP_FITS(rva - s->virtual_address, size, span) ? i : -1;
}

/* The leading bytes of [rva, rva+size) in section i that come from the file
 * (the rest of the loader's view is the section's zero fill). */
static uint32_t backed_prefix(const nxp_image *img, int i, uint64_t rva, uint32_t size)
{
	const nxp_section *s = &img->sections[i];
	uint64_t rel = rva - s->virtual_address;
	uint64_t backed = section_backed(s);
	if ((uint64_t)s->raw_start + backed > img->len)
		backed = img->len > s->raw_start ? img->len - s->raw_start : 0;
	if (rel >= backed)
		return 0;
	return backed - rel < size ? (uint32_t)(backed - rel) : size;
}

/* Locate a data directory that nxpatch reads. It must lie inside the
 * headers or one section's virtual span. Where the loader reads zeros (the
 * part past the section's file data), so does nxpatch: the directory is
 * clamped to its file-backed prefix, or absent when it has none, with a
 * warning. Directories the loader ignores are absent when they point
 * nowhere: the exception directory of an i386 image, base relocations
 * (which nxpatch then treats as missing, so dynamic_base is refused). */
static int locate(nxp_image *img, unsigned idx, nxp_located *loc, nxp_error *err)
{
	memset(loc, 0, sizeof(*loc));
	loc->section = -1;
	if (idx >= img->ndirs_used)
		return NXP_OK;
	const nxp_data_dir *d = &img->dirs[idx];
	if (d->rva == 0 && d->size == 0)
		return NXP_OK;
	int ignorable = idx == NXP_DIR_BASERELOC ||
	                (idx == NXP_DIR_EXCEPTION && img->machine == NXP_MACHINE_I386);
	if (d->rva == 0 || d->size == 0) {
		if (ignorable) {
			read_warning(img, "%s directory is half empty (rva 0x%x, size 0x%x); ignored, "
			             "as the loader does", dir_name(idx), d->rva, d->size);
			return NXP_OK;
		}
		return nxp_fail(err, NXP_E_DIRECTORY,
		                "%s directory is half empty (rva 0x%x, size 0x%x)", dir_name(idx),
		                d->rva, d->size);
	}
	uint32_t off;
	if (nxp_pe_rva_to_offset(img, d->rva, d->size, &off)) {
		loc->present = 1;
		loc->rva = d->rva;
		loc->size = d->size;
		loc->offset = off;
		loc->section = nxp_pe_section_of_rva(img, d->rva);
		return NXP_OK;
	}
	int i = section_spanning(img, d->rva, d->size);
	if (i >= 0) {
		uint32_t n = backed_prefix(img, i, d->rva, d->size);
		if (idx == NXP_DIR_IMPORT) {
			/* parse_imports reads descriptors as the loader maps them. */
			loc->present = 1;
			loc->rva = d->rva;
			loc->size = d->size;
			loc->offset = n ? img->sections[i].raw_start + (d->rva - img->sections[i].virtual_address) : 0;
			loc->section = i;
			return NXP_OK;
		}
		if (n)
			read_warning(img, "%s directory (rva 0x%x, size 0x%x) runs into the zero-filled "
			             "part of section %s past its file data; read as the loader maps it "
			             "(0x%x bytes from the file, then zeros)",
			             dir_name(idx), d->rva, d->size, img->sections[i].name, n);
		else
			read_warning(img, "%s directory (rva 0x%x, size 0x%x) lies in the zero-filled "
			             "part of section %s past its file data: the loader reads zeros, so "
			             "it is empty%s",
			             dir_name(idx), d->rva, d->size, img->sections[i].name,
			             idx == NXP_DIR_BASERELOC ? " and the image counts as having no "
			                                        "relocations"
			                                      : "");
		if (!n)
			return NXP_OK;
		loc->present = 1;
		loc->rva = d->rva;
		loc->size = n;
		loc->offset = img->sections[i].raw_start + (d->rva - img->sections[i].virtual_address);
		loc->section = i;
		return NXP_OK;
	}
	if (ignorable) {
		read_warning(img, "%s directory (rva 0x%x, size 0x%x) points outside every section "
		             "(a stale entry); ignored, as the loader does%s",
		             dir_name(idx), d->rva, d->size,
		             idx == NXP_DIR_BASERELOC ? ": the image counts as having no relocations"
		                                      : "");
		return NXP_OK;
	}
	return nxp_fail(err, NXP_E_DIRECTORY,
	                "%s directory (rva 0x%x, size 0x%x) is not inside the file data of one "
	                "section",
	                dir_name(idx), d->rva, d->size);
}

/* A NUL-terminated name at an RVA, within one section's data. */
static int read_name(const nxp_image *img, uint32_t rva, uint32_t *off, uint32_t *nlen)
{
	if (!nxp_pe_rva_to_offset(img, rva, 1, off))
		return 0;
	/* The name must end, NUL included, inside the same mapped run. */
	for (uint32_t n = 0; n <= NXP_MAX_NAME; n++) {
		uint32_t o;
		if (!nxp_pe_rva_to_offset(img, (uint64_t)rva + n, 1, &o))
			return 0;
		if (img->data[o] == 0) {
			*nlen = n;
			return 1;
		}
	}
	return 0;
}

/* Copy [rva, rva+size) as the loader maps it: file bytes, then the
 * section's zero fill. 0 when the range is not inside one section's
 * virtual span (or the headers); *tail is set when zero fill was used. */
static int read_mapped(const nxp_image *img, uint64_t rva, uint32_t size, uint8_t *out,
                       int *tail)
{
	uint32_t off;
	*tail = 0;
	if (nxp_pe_rva_to_offset(img, rva, size, &off)) {
		memcpy(out, img->data + off, size);
		return 1;
	}
	int i = section_spanning(img, rva, size);
	if (i < 0)
		return 0;
	uint32_t n = backed_prefix(img, i, rva, size);
	memset(out, 0, size);
	if (n)
		memcpy(out, img->data + img->sections[i].raw_start + (rva - img->sections[i].virtual_address), n);
	*tail = 1;
	return 1;
}

static int parse_imports(nxp_image *img, nxp_error *err)
{
	if (!img->imports_dir.present)
		return NXP_OK;
	for (uint32_t i = 0;; i++) {
		uint64_t rva = (uint64_t)img->imports_dir.rva + (uint64_t)i * IMPORT_DESCRIPTOR_SIZE;
		uint8_t p[IMPORT_DESCRIPTOR_SIZE];
		int tail;
		if (!read_mapped(img, rva, IMPORT_DESCRIPTOR_SIZE, p, &tail))
			return nxp_fail(err, NXP_E_DIRECTORY,
			                "import descriptor %u (rva 0x%llx) runs past its section "
			                "without a terminating entry",
			                i, (unsigned long long)rva);
		static const uint8_t zero[IMPORT_DESCRIPTOR_SIZE];
		if (memcmp(p, zero, sizeof(zero)) == 0) {
			if (tail)
				read_warning(img, "import descriptor %u (rva 0x%llx), the terminator, lies "
				             "in the zero-filled part of section %s past its file data; "
				             "the loader reads zeros there too",
				             i, (unsigned long long)rva,
				             img->sections[nxp_pe_section_of_rva(img, rva)].name);
			return NXP_OK;
		}
		if (i >= NXP_MAX_IMPORTS) {
			img->imports_truncated = 1;
			return NXP_OK;
		}
		uint32_t name_rva = nxpi_le32(p + 12);
		nxp_import *imp = &img->imports[img->nimports];
		if (!read_name(img, name_rva, &imp->name_offset, &imp->name_len))
			return nxp_fail(err, NXP_E_DIRECTORY,
			                "import descriptor %u: dll name (rva 0x%x) is not a string of "
			                "at most %d bytes inside the image",
			                i, name_rva, NXP_MAX_NAME);
		img->nimports++;
	}
}

static void parse_load_config(nxp_image *img)
{
	if (!img->load_config.present)
		return;
	const uint8_t *p = img->data + img->load_config.offset;
	uint32_t avail = img->load_config.size;
	uint32_t self = nxpi_le32(p); /* the structure's own Size field, when readable */
	if (avail >= 4 && self < avail)
		avail = self;
#define LC_FIELD(off, width, dst)                                                  \
	do {                                                                       \
		if (NXP_FITS(off, width, avail))                                   \
			(dst) = (width) == 8 ? nxpi_le64(p + (off)) : nxpi_le32(p + (off)); \
	} while (0)
	if (avail < 4)
		return;
	if (img->pe32plus) {
		LC_FIELD(0x60, 8, img->seh_table_va);
		LC_FIELD(0x68, 8, img->seh_count);
		LC_FIELD(0x80, 8, img->guard_cf_table_va);
		LC_FIELD(0x88, 8, img->guard_cf_count);
		LC_FIELD(0x90, 4, img->guard_flags);
	} else {
		LC_FIELD(0x40, 4, img->seh_table_va);
		LC_FIELD(0x44, 4, img->seh_count);
		LC_FIELD(0x50, 4, img->guard_cf_table_va);
		LC_FIELD(0x54, 4, img->guard_cf_count);
		LC_FIELD(0x58, 4, img->guard_flags);
	}
#undef LC_FIELD
	img->has_guard_tables = img->guard_cf_table_va != 0 && img->guard_cf_count != 0;
}

static int parse_certificates(nxp_image *img, nxp_error *err)
{
	if (img->ndirs_used <= NXP_DIR_SECURITY)
		return NXP_OK;
	const nxp_data_dir *d = &img->dirs[NXP_DIR_SECURITY];
	if (d->rva == 0 && d->size == 0)
		return NXP_OK;
	/* The loader never reads the certificate table; only signature checks
	 * do. An entry that cannot be a table (garbage left by a packer) is
	 * ignored with a warning: the image counts as unsigned, and patching
	 * its headers is as safe as for any unsigned image. */
	const char *why = NULL;
	if (d->rva == 0 || d->size == 0)
		why = "is half empty";
	else if (!NXP_FITS(d->rva, d->size, img->len))
		why = "ends past end of file";
	else if (d->rva < img->sections_end)
		why = "overlaps section data";
	if (why) {
		read_warning(img, "certificate table entry (offset 0x%x, size 0x%x) %s; ignored, as "
		             "the loader does: the image counts as unsigned",
		             d->rva, d->size, why);
		return NXP_OK;
	}
	img->cert_offset = d->rva;
	img->cert_size = d->size;
	size_t n = 0;
	int rc = nxpi_cert_walk(img->data + d->rva, d->rva, d->size, img->certs,
	                        NXP_MAX_CERT_ENTRIES, &n, err);
	img->ncerts = (uint32_t)n;
	return rc;
}

/* long-function: the headers in file order, each read proven before the next; pieces would pass
 * the half-built image around without making a check clearer. */
int nxp_pe_parse(nxp_image *img, const uint8_t *data, size_t len, nxp_error *err)
{
	memset(img, 0, sizeof(*img));
	img->data = data;
	img->len = len;
	img->entry_section = -1;
	nxp_error_clear(err);

	if ((uint64_t)len > NXP_MAX_FILE_SIZE)
		return nxp_fail(err, NXP_E_TOO_LARGE, "file too large (0x%zx bytes)", len);
	if (len < DOS_HEADER_SIZE)
		return nxp_fail(err, NXP_E_NOT_PE,
		                "not a PE image: file too small for a DOS header (%zu < 64 bytes)",
		                len);
	if (data[0] != 'M' || data[1] != 'Z')
		return nxp_fail(err, NXP_E_NOT_PE, "not a PE image: no MZ signature");

	/* e_lfanew and the PE signature. */
	uint32_t e = nxpi_le32(data + 0x3c);
	img->pe_offset = e;
	if (!NXP_FITS(e, 4, len))
		return nxp_fail(err, NXP_E_LFANEW,
		                "e_lfanew 0x%x points past end of file (0x%zx bytes)", e, len);
	if (memcmp(data + e, "PE\0\0", 4) != 0)
		return nxp_fail(err, NXP_E_PE_SIGNATURE,
		                "no PE signature at e_lfanew 0x%x", e);

	/* COFF file header. */
	uint64_t coff = (uint64_t)e + 4;
	if (!NXP_FITS(coff, COFF_HEADER_SIZE, len))
		return nxp_fail(err, NXP_E_COFF_TRUNCATED,
		                "coff header ends past end of file (0x%llx + 0x%x > 0x%zx)",
		                (unsigned long long)coff, COFF_HEADER_SIZE, len);
	const uint8_t *c = data + coff;
	img->machine = nxpi_le16(c + 0);
	img->nsections = nxpi_le16(c + 2);
	img->timestamp = nxpi_le32(c + 4);
	img->symtab_offset = nxpi_le32(c + 8);
	img->nsymbols = nxpi_le32(c + 12);
	img->opt_header_size = nxpi_le16(c + 16);
	img->file_characteristics = nxpi_le16(c + 18);
	if (img->nsections > NXP_MAX_SECTIONS) {
		uint16_t n = img->nsections;
		img->nsections = 0;
		return nxp_fail(err, NXP_E_TOO_MANY_SECTIONS,
		                "NumberOfSections %u exceeds the limit of %d", n, NXP_MAX_SECTIONS);
	}

	/* Optional header. */
	uint64_t opt = coff + COFF_HEADER_SIZE;
	uint32_t osz = img->opt_header_size;
	if (osz < 2)
		return nxp_fail(err, NXP_E_OPTHDR_SIZE,
		                "SizeOfOptionalHeader 0x%x is too small for an image", osz);
	if (!NXP_FITS(opt, 2, len))
		return nxp_fail(err, NXP_E_OPTHDR_TRUNCATED,
		                "optional header ends past end of file (0x%llx + 0x%x > 0x%zx)",
		                (unsigned long long)opt, osz, len);
	const uint8_t *o = data + opt;
	img->magic = nxpi_le16(o);
	if (img->magic == 0x20b)
		img->pe32plus = 1;
	else if (img->magic != 0x10b)
		return nxp_fail(err, NXP_E_OPTHDR_MAGIC,
		                "optional header magic 0x%x is neither PE32 (0x10b) nor PE32+ (0x20b)",
		                img->magic);
	uint32_t dirs_at = img->pe32plus ? OPT_DIRS_OFFSET_PE32PLUS : OPT_DIRS_OFFSET_PE32;
	if (osz < dirs_at)
		return nxp_fail(err, NXP_E_OPTHDR_SIZE,
		                "SizeOfOptionalHeader 0x%x is too small for a %s optional header "
		                "(at least 0x%x)",
		                osz, img->pe32plus ? "PE32+" : "PE32", dirs_at);
	if (osz > NXP_MAX_OPT_HEADER)
		return nxp_fail(err, NXP_E_OPTHDR_SIZE,
		                "SizeOfOptionalHeader 0x%x is too large (limit 0x%x)", osz,
		                NXP_MAX_OPT_HEADER);
	if (!NXP_FITS(opt, osz, len))
		return nxp_fail(err, NXP_E_OPTHDR_TRUNCATED,
		                "optional header ends past end of file (0x%llx + 0x%x > 0x%zx)",
		                (unsigned long long)opt, osz, len);
	img->linker_major = o[2];
	img->linker_minor = o[3];
	img->size_of_code = nxpi_le32(o + 4);
	img->entry_rva = nxpi_le32(o + 16);
	if (img->pe32plus) {
		img->image_base = nxpi_le64(o + 24);
	} else {
		img->image_base = nxpi_le32(o + 28);
	}
	img->section_alignment = nxpi_le32(o + 32);
	img->file_alignment = nxpi_le32(o + 36);
	img->os_major = nxpi_le16(o + 40);
	img->os_minor = nxpi_le16(o + 42);
	img->subsystem_major = nxpi_le16(o + 48);
	img->subsystem_minor = nxpi_le16(o + 50);
	img->size_of_image = nxpi_le32(o + 56);
	img->size_of_headers = nxpi_le32(o + 60);
	img->checksum = nxpi_le32(o + 64);
	img->subsystem = nxpi_le16(o + 68);
	img->dll_characteristics = nxpi_le16(o + 70);
	img->checksum_offset = (uint32_t)(opt + 64);
	img->dll_characteristics_offset = (uint32_t)(opt + 70);
	if (img->pe32plus) {
		img->stack_reserve = nxpi_le64(o + 72);
		img->stack_commit = nxpi_le64(o + 80);
		img->heap_reserve = nxpi_le64(o + 88);
		img->heap_commit = nxpi_le64(o + 96);
		img->ndirs = nxpi_le32(o + 108);
	} else {
		img->stack_reserve = nxpi_le32(o + 72);
		img->stack_commit = nxpi_le32(o + 76);
		img->heap_reserve = nxpi_le32(o + 80);
		img->heap_commit = nxpi_le32(o + 84);
		img->ndirs = nxpi_le32(o + 92);
	}
	if (!is_pow2(img->file_alignment) || !is_pow2(img->section_alignment))
		return nxp_fail(err, NXP_E_ALIGNMENT,
		                "alignment is not a power of two (FileAlignment 0x%x, "
		                "SectionAlignment 0x%x)",
		                img->file_alignment, img->section_alignment);

	/* Data directories, honouring NumberOfRvaAndSizes. */
	if (img->ndirs < MIN_DIRS)
		return nxp_fail(err, NXP_E_DATA_DIRS,
		                "NumberOfRvaAndSizes %u is below 5: the image has no certificate "
		                "table entry",
		                img->ndirs);
	img->ndirs_used = img->ndirs < NXP_MAX_DATA_DIRS ? img->ndirs : NXP_MAX_DATA_DIRS;
	if ((uint64_t)dirs_at + 8ull * img->ndirs_used > osz)
		return nxp_fail(err, NXP_E_DATA_DIRS,
		                "%u data directories do not fit in SizeOfOptionalHeader 0x%x",
		                img->ndirs_used, osz);
	for (uint32_t i = 0; i < img->ndirs_used; i++) {
		const uint8_t *dp = o + dirs_at + 8 * i;
		img->dirs[i].rva = nxpi_le32(dp);
		img->dirs[i].size = nxpi_le32(dp + 4);
		img->dirs[i].entry_offset = (uint32_t)(opt + dirs_at + 8 * i);
	}
	img->cert_dir_offset = img->dirs[NXP_DIR_SECURITY].entry_offset;

	/* Section table. */
	uint64_t st = opt + osz;
	uint64_t st_size = (uint64_t)img->nsections * SECTION_HEADER_SIZE;
	img->section_table_offset = (uint32_t)st;
	if (!NXP_FITS(st, st_size, len))
		return nxp_fail(err, NXP_E_SECTION_TABLE,
		                "section table ends past end of file (0x%llx + 0x%llx > 0x%zx)",
		                (unsigned long long)st, (unsigned long long)st_size, len);
	for (unsigned i = 0; i < img->nsections; i++) {
		const uint8_t *sp = data + st + (uint64_t)i * SECTION_HEADER_SIZE;
		nxp_section *s = &img->sections[i];
		memcpy(s->name, sp, 8);
		s->name[8] = '\0';
		s->virtual_size = nxpi_le32(sp + 8);
		s->virtual_address = nxpi_le32(sp + 12);
		s->raw_size = nxpi_le32(sp + 16);
		s->raw_offset = nxpi_le32(sp + 20);
		s->raw_start = s->raw_offset;
		s->characteristics = nxpi_le32(sp + 36);
		s->header_offset = (uint32_t)(st + (uint64_t)i * SECTION_HEADER_SIZE);
		s->characteristics_offset = s->header_offset + 36;
		if (s->raw_size == 0)
			continue;
		/* The loader reads section data from PointerToRawData rounded down
		 * to 0x200 (pefile does the same when FileAlignment >= 0x200). */
		if (img->file_alignment >= 0x200 && (s->raw_offset & 0x1ff)) {
			s->raw_start = s->raw_offset & ~0x1ffu;
			read_warning(img, "section %u (%s): PointerToRawData 0x%x is not a multiple of "
			             "0x200; read from 0x%x, as the loader does",
			             i, s->name, s->raw_offset, s->raw_start);
		}
		if (!NXP_FITS(s->raw_start, s->raw_size, len))
			return nxp_fail(err, NXP_E_SECTION_DATA,
			                "section %u (%s) data ends past end of file (0x%x + 0x%x > "
			                "0x%zx)",
			                i, s->name, s->raw_start, s->raw_size, len);
		uint32_t end = s->raw_start + s->raw_size; /* proven <= len */
		if (end > img->sections_end)
			img->sections_end = end;
	}
	if (img->sections_end == 0) {
		/* No section data: everything after the headers (and the section
		 * table, wherever it sits) is overlay. */
		uint64_t hdr = img->size_of_headers < len ? img->size_of_headers : len;
		img->sections_end = (uint32_t)(st + st_size > hdr ? st + st_size : hdr);
	}

	img->entry_section = img->entry_rva ? nxp_pe_section_of_rva(img, img->entry_rva) : -1;

	/* Certificate table and overlay. */
	int rc = parse_certificates(img, err);
	if (rc)
		return rc;
	img->overlay_offset = img->sections_end;
	uint32_t tail = (uint32_t)len - img->sections_end;
	if (img->cert_size && tail >= img->cert_size)
		tail -= img->cert_size;
	img->overlay_size = tail;

	/* Relocations. */
	img->relocs_stripped = (img->file_characteristics & NXP_FILE_RELOCS_STRIPPED) != 0;

	/* Directories nxpatch reads. */
	if ((rc = locate(img, NXP_DIR_EXPORT, &img->exports, err)) ||
	    (rc = locate(img, NXP_DIR_IMPORT, &img->imports_dir, err)) ||
	    (rc = locate(img, NXP_DIR_TLS, &img->tls, err)) ||
	    (rc = locate(img, NXP_DIR_EXCEPTION, &img->exception, err)) ||
	    (rc = locate(img, NXP_DIR_LOAD_CONFIG, &img->load_config, err)) ||
	    (rc = locate(img, NXP_DIR_BASERELOC, &img->reloc, err)))
		return rc;
	img->has_relocs = img->reloc.present;
	if ((rc = parse_imports(img, err)))
		return rc;
	parse_load_config(img);
	return NXP_OK;
}
