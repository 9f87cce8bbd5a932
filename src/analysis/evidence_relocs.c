/* SPDX-License-Identifier: Apache-2.0 */
/* What the image says about its own data: base relocations and exported
 * names (docs/evidence.md, "What the image says about data").
 *
 * A base relocation names a pointer-sized field the loader rewrites: a
 * pointer. Inside a candidate for code in data, a relocation is expected
 * exactly where the decoded instruction holds an absolute address (an
 * immediate or a displacement); one anywhere else covers bytes that are
 * pointer data, not an instruction's operand: a table of function
 * pointers or a vtable that happens to decode. The index is read once per
 * image, on first use (most images never need it), clamped to
 * NXP_EV_MAX_RELOCS entries, and sorted. */
#include <stdlib.h>
#include <string.h>

#include "analysis/evidence_int.h"
#include "util/bytes.h"
#include "analysis/internal.h"

/* Bytes a relocation of this type rewrites; 0 for padding, and for
 * HIGHADJ (4) the entry after it is its parameter. */
static unsigned reloc_width(unsigned type)
{
	switch (type) {
	case 0:
		return 0; /* IMAGE_REL_BASED_ABSOLUTE: padding */
	case 1: case 2: case 4:
		return 2; /* HIGH, LOW, HIGHADJ */
	case 10:
		return 8; /* DIR64 */
	default:
		return 4; /* HIGHLOW and the machine-specific forms */
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Key: rva << 4 | width (1..8), so that sorting orders by RVA. */
static int load(nxpi_ev_ctx *c)
{
	const nxp_image *img = c->img;
	const nxp_located *d = &img->reloc;
	c->relocs_loaded = 1;
	if (!d->present || img->relocs_stripped || !NXP_FITS(d->offset, d->size, img->len))
		return NXP_OK;
	size_t cap = d->size / 2;
	if (cap > NXP_EV_MAX_RELOCS)
		cap = NXP_EV_MAX_RELOCS;
	if (!cap || !(c->relocs = malloc(cap * sizeof(*c->relocs))))
		return cap ? NXP_E_NOMEM : NXP_OK;
	const uint8_t *p = img->data + d->offset;
	uint32_t pos = 0, size = d->size;
	int sorted = 1;
	uint64_t prev = 0;
	while (size - pos >= 8 && c->nrelocs < cap) {
		uint32_t page = nxpi_le32(p + pos), bsize = nxpi_le32(p + pos + 4);
		if (bsize < 8)
			break; /* malformed: the loader stops here too */
		if (bsize > size - pos)
			bsize = size - pos;
		for (uint32_t k = 8; k + 2 <= bsize && c->nrelocs < cap; k += 2) {
			uint16_t e = nxpi_le16(p + pos + k);
			unsigned type = e >> 12, w = reloc_width(type);
			if (type == 4)
				k += 2; /* HIGHADJ's parameter */
			if (!w)
				continue;
			uint64_t key = ((uint64_t)page + (e & 0xfffu)) << 4 | w;
			sorted &= key >= prev;
			prev = key;
			c->relocs[c->nrelocs++] = key;
		}
		pos += bsize;
	}
	if (!sorted)
		qsort(c->relocs, c->nrelocs, sizeof(*c->relocs), cmp_u64);
	return NXP_OK;
}

static int ensure(nxpi_ev_ctx *c)
{
	if (c->relocs_loaded)
		return 1;
	int rc = load(c);
	if (rc) {
		c->rc = rc; /* reported by nxpi_collect_evidence */
		return 0;
	}
	return 1;
}

int nxpi_ev_relocatable(nxpi_ev_ctx *c)
{
	return ensure(c) && c->nrelocs > 0;
}

/* Index of the first relocation that may touch bytes at or after lo. */
static size_t first_from(const nxpi_ev_ctx *c, uint64_t lo)
{
	uint64_t key = (lo > 7 ? lo - 7 : 0) << 4;
	size_t a = 0, b = c->nrelocs;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (c->relocs[m] < key)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

int nxpi_ev_reloc_at(nxpi_ev_ctx *c, uint64_t rva, unsigned width)
{
	if (!ensure(c) || !c->nrelocs)
		return 0;
	uint64_t key = rva << 4 | width;
	for (size_t i = first_from(c, rva); i < c->nrelocs && c->relocs[i] >> 4 <= rva; i++)
		if (c->relocs[i] == key)
			return 1;
	return 0;
}

/* The relocations touching [lo, hi), in turn: *i starts at first_from(c,
 * lo); 1 with *r and *w set, 0 when there are no more. */
static int next_touching(const nxpi_ev_ctx *c, size_t *i, uint64_t lo, uint64_t hi, uint64_t *r,
                         uint64_t *w)
{
	for (; *i < c->nrelocs; (*i)++) {
		*r = c->relocs[*i] >> 4;
		*w = c->relocs[*i] & 0xf;
		if (*r >= hi)
			return 0;
		if (*r + *w > lo) {
			(*i)++;
			return 1;
		}
	}
	return 0;
}

int nxpi_ev_relocs_only(nxpi_ev_ctx *c, uint64_t lo, uint64_t hi, const nxpi_ev_field *fields,
                       unsigned nfields)
{
	if (!ensure(c) || !c->nrelocs || hi <= lo)
		return 1;
	size_t i = first_from(c, lo);
	uint64_t r, w;
	while (next_touching(c, &i, lo, hi, &r, &w)) {
		unsigned k = 0;
		while (k < nfields && !(fields[k].rva == r && fields[k].size == w))
			k++;
		if (k == nfields)
			return 0; /* pointer data where the candidate has no operand */
	}
	return 1;
}

int nxpi_ev_relocs_within_insns(nxpi_ev_ctx *c, uint64_t lo, uint64_t hi, const uint32_t *ends,
                               unsigned nends)
{
	if (!ensure(c) || !c->nrelocs || hi <= lo)
		return 1;
	size_t i = first_from(c, lo);
	uint64_t r, w;
	while (next_touching(c, &i, lo, hi, &r, &w)) {
		/* The instruction holding the relocation's first byte: it must not
		 * be that instruction's first byte (an opcode), and the relocation
		 * must end within it. */
		uint64_t start = lo;
		unsigned k = 0;
		while (k < nends && lo + ends[k] <= r)
			start = lo + ends[k++];
		if (r < lo || k == nends || r == start || r + w > lo + ends[k])
			return 0; /* starts before the run, on an opcode, or spans two */
	}
	return 1;
}

/* ---- exported names that are data -------------------------------------- */

/* MSVC: vftable ??_7, vbtable ??_8, RTTI ??_R, string literals ??_C@,
 * local vftable ??_S; a variable ?name@scope@@<0-4><type> (class static
 * members 0-2, globals 3, local statics 4; functions use letters there).
 * Itanium (mingw g++): vtable _ZTV, VTT _ZTT, typeinfo _ZTI, its name _ZTS. */
int nxpi_ev_data_name(const char *s, size_t len)
{
	if (len >= 4 && s[0] == '?' && s[1] == '?' && s[2] == '_' &&
	    (s[3] == '7' || s[3] == '8' || s[3] == 'R' || s[3] == 'S' ||
	     (s[3] == 'C' && len >= 5 && s[4] == '@')))
		return 1;
	if (len >= 4 && s[0] == '_' && s[1] == 'Z' && s[2] == 'T' &&
	    (s[3] == 'V' || s[3] == 'T' || s[3] == 'I' || s[3] == 'S'))
		return 1;
	if (len >= 2 && s[0] == '?' && s[1] != '?' && s[1] != '$') {
		const char *at = memchr(s, '@', len);
		/* A plain name, one or more plain scopes, then "@@" and the kind. */
		while (at && (size_t)(at - s) + 2 < len) {
			size_t i = (size_t)(at - s);
			if (s[i + 1] == '@')
				return s[i + 2] >= '0' && s[i + 2] <= '4';
			if (s[i + 1] == '?' || s[i + 1] == '$')
				return 0; /* a template or nested name: not parsed */
			at = memchr(s + i + 1, '@', len - i - 1);
		}
	}
	return 0;
}
