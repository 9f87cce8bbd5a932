/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

void nxt_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void nxt_put32(uint8_t *p, uint32_t v)
{
	nxt_put16(p, (uint16_t)v);
	nxt_put16(p + 2, (uint16_t)(v >> 16));
}

uint32_t nxt_ref_checksum(const uint8_t *buf, size_t len, size_t checksum_offset)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i += 2) {
		uint32_t lo = buf[i], hi = i + 1 < len ? buf[i + 1] : 0;
		if (i >= checksum_offset && i < checksum_offset + 4)
			lo = 0;
		if (i + 1 >= checksum_offset && i + 1 < checksum_offset + 4)
			hi = 0;
		sum += lo | hi << 8;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	sum = (sum & 0xffff) + (sum >> 16);
	return sum + (uint32_t)len;
}

static uint32_t align_up(uint32_t v, uint32_t a)
{
	return (v + a - 1) & ~(a - 1);
}

void nxt_put64(uint8_t *p, uint64_t v)
{
	nxt_put32(p, (uint32_t)v);
	nxt_put32(p + 4, (uint32_t)(v >> 32));
}

uint8_t *nxt_sec(uint8_t *buf, const nxt_layout *l, unsigned i)
{
	return buf + l->headers_size + l->raw_stride * i;
}

uint32_t nxt_sec_rva(const nxt_layout *l, unsigned i)
{
	return l->va_stride * (i + 1);
}

void nxt_set_dir(uint8_t *buf, const nxt_layout *l, unsigned idx, uint32_t rva, uint32_t size)
{
	nxt_put32(buf + l->dirs + 8 * idx, rva);
	nxt_put32(buf + l->dirs + 8 * idx + 4, size);
}

/* The optional header's fields from ImageBase on (the spec's overrides). */
static void put_opt_fields(uint8_t *o, const nxt_pe_spec *spec, uint32_t ndirs)
{
	if (spec->pe32plus) {
		nxt_put64(o + 24, spec->image_base ? spec->image_base : 0x140000000ull);
		nxt_put64(o + 72, spec->stack_reserve);
		nxt_put64(o + 80, spec->stack_commit);
		nxt_put64(o + 88, spec->heap_reserve);
		nxt_put64(o + 96, spec->heap_commit);
		nxt_put32(o + 108, ndirs);
	} else {
		nxt_put32(o + 28, spec->image_base ? (uint32_t)spec->image_base : 0x400000);
		nxt_put32(o + 72, (uint32_t)spec->stack_reserve);
		nxt_put32(o + 76, (uint32_t)spec->stack_commit);
		nxt_put32(o + 80, (uint32_t)spec->heap_reserve);
		nxt_put32(o + 84, (uint32_t)spec->heap_commit);
		nxt_put32(o + 92, ndirs);
	}
}

/* long-function: an image built field by field. */
size_t nxt_build_pe(uint8_t *buf, size_t cap, const nxt_pe_spec *spec, nxt_layout *lay)
{
	nxt_layout l = {0};
	uint32_t ndirs = spec->ndirs_set ? spec->ndirs : (spec->ndirs ? spec->ndirs : 16);
	uint32_t used = ndirs < 16 ? ndirs : 16;
	l.e_lfanew = 0x80;
	l.coff = l.e_lfanew + 4;
	l.opt = l.coff + 20;
	l.opt_size = (spec->pe32plus ? 112 : 96) + 8 * used;
	l.section_table = l.opt + l.opt_size;
	l.headers_size = align_up(l.section_table + 40 * spec->nsections, 0x200);
	l.raw_stride = spec->section_size ? align_up(spec->section_size, 0x200) : 0x200;
	l.va_stride = spec->section_size ? align_up(spec->section_size, 0x1000) : 0x1000;
	l.dirs = l.opt + (spec->pe32plus ? 112 : 96);
	l.sections_end = l.headers_size + l.raw_stride * spec->nsections;
	uint32_t size = l.sections_end + spec->overlay;
	if (spec->cert_size > 8) {
		size = align_up(size, 8);
		l.cert_offset = size;
		size += align_up(spec->cert_size, 8);
	}
	l.file_size = size;
	if (lay)
		*lay = l;
	if (size > cap)
		return 0;
	memset(buf, 0, size);

	buf[0] = 'M';
	buf[1] = 'Z';
	nxt_put32(buf + 0x3c, l.e_lfanew);
	memcpy(buf + l.e_lfanew, "PE\0\0", 4);
	uint8_t *c = buf + l.coff;
	nxt_put16(c + 0, spec->pe32plus ? 0x8664 : 0x14c);
	nxt_put16(c + 2, (uint16_t)spec->nsections);
	nxt_put32(c + 4, 0x5f000000);
	nxt_put16(c + 16, (uint16_t)l.opt_size);
	nxt_put16(c + 18, spec->characteristics ? spec->characteristics : 0x0022);

	uint8_t *o = buf + l.opt;
	nxt_put16(o, spec->pe32plus ? 0x20b : 0x10b);
	o[2] = 2;
	o[3] = 40;
	nxt_put32(o + 4, spec->size_of_code ? spec->size_of_code : spec->nsections ? 0x200 : 0);
	nxt_put32(o + 16, spec->nsections ? 0x1000 : 0);
	nxt_put32(o + 32, 0x1000);
	nxt_put32(o + 36, 0x200);
	nxt_put16(o + 40, 6);
	nxt_put16(o + 48, 6);
	nxt_put32(o + 56, l.va_stride * (spec->nsections + 1));
	nxt_put32(o + 60, l.headers_size);
	nxt_put16(o + 68, 3);
	nxt_put16(o + 70, spec->dll_characteristics);
	put_opt_fields(o, spec, ndirs);

	uint32_t dirs = l.opt + (spec->pe32plus ? 112 : 96);
	for (unsigned i = 0; i < spec->nsections; i++) {
		uint8_t *s = buf + l.section_table + 40 * i;
		const char *name = i < 4 && spec->section_names[i] ? spec->section_names[i]
		                   : i == 0                         ? ".text"
		                                                    : ".data";
		memcpy(s, name, strlen(name) > 8 ? 8 : strlen(name));
		nxt_put32(s + 8, spec->virtual_size   ? spec->virtual_size
		                 : spec->section_size ? spec->section_size
		                                      : 0x100);
		nxt_put32(s + 12, l.va_stride * (i + 1));
		nxt_put32(s + 16, l.raw_stride);
		nxt_put32(s + 20, l.headers_size + l.raw_stride * i);
		uint32_t flags = i == 0 ? 0x60000020 : 0xc0000040;
		if (i < 4 && spec->section_flags[i])
			flags = spec->section_flags[i];
		nxt_put32(s + 36, flags);
		buf[l.headers_size + l.raw_stride * i] = 0xc3;
	}
	if (spec->with_imports && spec->nsections >= 2 && used > 1) {
		/* In section 1 (rva 0x2000 by default): two descriptors, a
		 * terminator, names. */
		uint32_t rva1 = l.va_stride * 2;
		uint8_t *d = buf + l.headers_size + l.raw_stride;
		memset(d, 0, 0x100);
		nxt_put32(d + 12, rva1 + 0x80);
		nxt_put32(d + 20 + 12, rva1 + 0x90);
		memcpy(d + 0x80, "KERNEL32.dll", 13);
		memcpy(d + 0x90, "ATL71.DLL", 10);
		nxt_put32(buf + dirs + 8, rva1);
		nxt_put32(buf + dirs + 12, 60);
	}
	if (spec->cert_size > 8 && used > 4) {
		uint8_t *w = buf + l.cert_offset;
		nxt_put32(w, spec->cert_size);
		nxt_put16(w + 4, 0x0200);
		nxt_put16(w + 6, 0x0002);
		nxt_put32(buf + dirs + 32, l.cert_offset);
		nxt_put32(buf + dirs + 36, align_up(spec->cert_size, 8));
	}
	for (unsigned i = 0; i < used; i++)
		if (spec->dirs[i].rva || spec->dirs[i].size) {
			nxt_put32(buf + dirs + 8 * i, spec->dirs[i].rva);
			nxt_put32(buf + dirs + 8 * i + 4, spec->dirs[i].size);
		}
	nxt_put32(o + 64, spec->checksum_set ? spec->checksum : nxt_ref_checksum(buf, size, l.opt + 64));
	return size;
}

uint8_t *nxt_build_pe_alloc(const nxt_pe_spec *spec, size_t *lenp)
{
	nxt_layout l;
	nxt_build_pe(NULL, 0, spec, &l);
	uint8_t *b = malloc(l.file_size);
	if (!b)
		return NULL;
	*lenp = nxt_build_pe(b, l.file_size, spec, NULL);
	return b;
}

void nxt_scratch_make(char *dir, const char *name)
{
	snprintf(dir, NXT_SCRATCH_MAX, "/tmp/%s-XXXXXX", name);
	if (!mkdtemp(dir))
		abort();
}

void nxt_scratch_remove(const char *dir)
{
	char cmd[NXT_SCRATCH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		abort();
}

const char *nxt_scratch_path(const char *dir, const char *name)
{
	static char p[8][256];
	static int k;
	k = (k + 1) % 8;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}
