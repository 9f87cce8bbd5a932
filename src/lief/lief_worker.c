/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch-lief-worker: LIEF as a separate, limited process. The only
 * translation unit that includes LIEF headers, and the only program that
 * links LIEF. Started by src/crosscheck/lief.c through the limited-worker
 * supervisor (src/util/worker.h), which owns the process, its limits and its
 * lifetime; here is only what one request does: parse the path with LIEF's
 * C API and copy header and section-header fields into a plain record.
 *
 * LIEF/types.h defines `bool` as int for C, so nothing here may include
 * <stdbool.h> (directly or through another header). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <LIEF/PE.h>
#include <LIEF/logging.h>

#include "util/worker.h"
#include "crosscheck/lief_wire.h"

#ifdef bool
#error "lief_worker.c: <stdbool.h> must not be included here (LIEF/types.h defines bool)"
#endif

static void copy_view(const Pe_Binary_t *b, nxp_lief_view *v)
{
	memset(v, 0, sizeof(*v));
	v->pe_offset = b->dos_header.addressof_new_exeheader;

	const Pe_Header_t *h = &b->header;
	v->machine = (uint16_t)h->machine;
	v->nsections = h->numberof_sections;
	v->timestamp = h->time_date_stamp;
	v->symtab_offset = h->pointerto_symbol_table;
	v->nsymbols = h->numberof_symbols;
	v->opt_header_size = h->sizeof_optional_header;
	v->file_characteristics = h->characteristics;

	const Pe_OptionalHeader_t *o = &b->optional_header;
	v->magic = (uint16_t)o->magic;
	v->subsystem = (uint16_t)o->subsystem;
	v->size_of_code = o->sizeof_code;
	v->entry_rva = o->addressof_entrypoint;
	v->image_base = o->imagebase;
	v->section_alignment = o->section_alignment;
	v->file_alignment = o->file_alignment;
	v->size_of_image = o->sizeof_image;
	v->size_of_headers = o->sizeof_headers;
	v->checksum = o->checksum;
	v->dll_characteristics = o->dll_characteristics;
	v->stack_reserve = o->sizeof_stack_reserve;
	v->stack_commit = o->sizeof_stack_commit;
	v->heap_reserve = o->sizeof_heap_reserve;
	v->heap_commit = o->sizeof_heap_commit;
	v->ndirs = o->numberof_rva_and_size;

	uint32_t nd = 0;
	for (Pe_DataDirectory_t **d = b->data_directories; d && *d; d++, nd++) {
		if (nd < NXP_LIEF_NDIRS) {
			v->dirs[nd].rva = (*d)->rva;
			v->dirs[nd].size = (*d)->size;
		}
	}
	v->ndirs_seen = nd;

	/* Sections: only header fields (never `content`: it holds fewer bytes
	 * than `size` says). */
	uint32_t ns = 0;
	for (Pe_Section_t **s = b->sections; s && *s; s++, ns++) {
		if (ns >= NXP_MAX_SECTIONS)
			continue;
		nxp_lief_section *out = &v->sections[ns];
		if ((*s)->name)
			strncpy(out->name, (*s)->name, 8);
		out->virtual_size = (*s)->virtual_size;
		out->virtual_address = (*s)->virtual_address;
		out->raw_size = (*s)->size;
		out->raw_offset = (*s)->offset;
		out->characteristics = (*s)->characteristics;
	}
	v->nsections_seen = ns;
	v->nsections_copied = ns < NXP_MAX_SECTIONS ? ns : NXP_MAX_SECTIONS;
}

/* One request: the payload is a path. */
static size_t serve(const char *path, size_t len, void *rep, size_t cap)
{
	(void)len;
	(void)cap;
	static nxp_lief_reply r;
	memset(&r, 0, sizeof(r));
	/* LIEF throws (and so aborts) on a missing file: say so plainly. */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r.open_errno = errno ? errno : EIO;
	} else {
		close(fd);
		Pe_Binary_t *b = pe_parse(path);
		if (!b) {
			static const char msg[] = "nxpatch: pe_parse returned NULL\n";
			ssize_t w = write(2, msg, sizeof(msg) - 1);
			(void)w;
			_exit(NXPI_WORKER_EXIT_SETUP);
		}
		copy_view(b, &r.view);
		pe_binary_destroy(b);
	}
	memcpy(rep, &r, sizeof(r));
	return sizeof(r);
}

static void init(void)
{
	lief_logging_disable();
}

int main(int argc, char **argv)
{
	nxpi_worker_child_main(argc, argv, init, serve, sizeof(nxp_lief_reply));
}
