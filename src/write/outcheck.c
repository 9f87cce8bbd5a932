/* SPDX-License-Identifier: Apache-2.0 */
/* The output check: a written output against its input and plan, run by the
 * writer before the output replaces anything (the `verify` command is the
 * compliance judge, src/check/; signatures are src/sign/sigverify.c): re-parse it strictly, compare every header and
 * section field, compare the bytes outside the planned ranges, and check the
 * checksum. Bytes are compared and summed in one pass, chunk by chunk. */
#include <openssl/evp.h>
#include <string.h>
#include <sys/mman.h>

#include "nxpatch/plan.h"
#include "util/bytes.h"
#include "write/outcheck.h"
#include "pe/internal.h"

#define CHUNK (1u << 20) /* even, so every chunk starts at an even offset */

static int field_eq(nxp_error *err, const char *name, uint64_t want, uint64_t got)
{
	if (want == got)
		return NXP_OK;
	return nxp_fail(err, NXP_E_VERIFY, "%s is 0x%llx in the output, expected 0x%llx", name,
	                (unsigned long long)got, (unsigned long long)want);
}

/* long-function: one comparison per header field, in the order of the PE layout. */
static int compare_headers(const nxp_image *a, const nxp_image *b, const nxp_plan *plan,
                           nxp_error *err)
{
	int rc;
#define EQ(field)                                                                  \
	do {                                                                       \
		if ((rc = field_eq(err, #field, (uint64_t)a->field, (uint64_t)b->field))) \
			return rc;                                                 \
	} while (0)
	const nxp_added_section *add = &plan->add;
	if ((rc = field_eq(err, "nsections", a->nsections + (add->present ? 1u : 0u), b->nsections)))
		return rc;
	if ((rc = field_eq(err, "size_of_code", add->present ? add->size_of_code : a->size_of_code,
	                   b->size_of_code)) ||
	    (rc = field_eq(err, "size_of_image",
	                   add->present ? add->size_of_image : a->size_of_image, b->size_of_image)))
		return rc;
	EQ(pe_offset);
	EQ(machine);
	EQ(timestamp);
	EQ(symtab_offset);
	EQ(nsymbols);
	EQ(opt_header_size);
	EQ(file_characteristics);
	EQ(magic);
	EQ(linker_major);
	EQ(linker_minor);
	EQ(entry_rva);
	EQ(image_base);
	EQ(section_alignment);
	EQ(file_alignment);
	EQ(os_major);
	EQ(os_minor);
	EQ(subsystem_major);
	EQ(subsystem_minor);
	EQ(size_of_headers);
	EQ(subsystem);
	EQ(stack_reserve);
	EQ(stack_commit);
	EQ(heap_reserve);
	EQ(heap_commit);
	EQ(ndirs);
	EQ(nimports);
#undef EQ
	if ((rc = field_eq(err, "dll_characteristics", plan->dll_new, b->dll_characteristics)))
		return rc;
	for (unsigned i = 0; i < a->ndirs_used; i++) {
		if (i == NXP_DIR_SECURITY && plan->signature != NXP_SIGACT_NONE)
			continue;
		if (a->dirs[i].rva != b->dirs[i].rva || a->dirs[i].size != b->dirs[i].size)
			return nxp_fail(err, NXP_E_VERIFY,
			                "data directory %u is (0x%x, 0x%x) in the output, expected "
			                "(0x%x, 0x%x)",
			                i, b->dirs[i].rva, b->dirs[i].size, a->dirs[i].rva,
			                a->dirs[i].size);
	}
	for (unsigned i = 0; i < a->nsections; i++) {
		const nxp_section *x = &a->sections[i], *y = &b->sections[i];
		if (memcmp(x->name, y->name, sizeof(x->name)) || x->virtual_size != y->virtual_size ||
		    x->virtual_address != y->virtual_address || x->raw_size != y->raw_size ||
		    x->raw_offset != y->raw_offset)
			return nxp_fail(err, NXP_E_VERIFY, "section %u (%s) header differs in the output",
			                i, x->name);
		if (y->characteristics != plan->section_new[i])
			return nxp_fail(err, NXP_E_VERIFY,
			                "section %u (%s) characteristics are 0x%08X in the output, "
			                "expected 0x%08X",
			                i, x->name, y->characteristics, plan->section_new[i]);
	}
	if (add->present) {
		/* The appended section, exactly as planned. */
		const nxp_section *y = &b->sections[a->nsections];
		char name[9] = {0};
		memcpy(name, y->name, 8);
		if (strncmp(name, add->name, 8) || y->virtual_size != add->virtual_size ||
		    y->virtual_address != add->rva || y->raw_size != add->raw_size ||
		    y->raw_offset != add->raw_offset || y->characteristics != add->characteristics)
			return nxp_fail(err, NXP_E_VERIFY,
			                "the appended section %u (%s) is not the planned %s (rva 0x%x, "
			                "raw 0x%x + 0x%x, 0x%08X)",
			                a->nsections, y->name, add->name, add->rva, add->raw_offset,
			                add->raw_size, add->characteristics);
		if ((y->characteristics & NXP_SCN_WX) == NXP_SCN_WX)
			return nxp_fail(err, NXP_E_VERIFY, "the appended section is writable and executable");
	}
	if (plan->signature == NXP_SIGACT_STRIP && (b->ncerts || b->dirs[NXP_DIR_SECURITY].size))
		return nxp_fail(err, NXP_E_VERIFY, "the output still has a certificate table");
	if (plan->signature == NXP_SIGACT_RESIGN && b->ncerts != 1)
		return nxp_fail(err, NXP_E_VERIFY, "the re-signed output has %u signature entries",
		                b->ncerts);
	return NXP_OK;
}

/* The ranges the plan may change, sorted: the planned fields and, when
 * re-signing, the checksum and the certificate directory entry. */
typedef struct range {
	uint32_t off, size;
} range;

static size_t planned_ranges(const nxp_input *in, const nxp_plan *plan, range *r)
{
	size_t n = 0;
	int have_sum = 0, have_dir = 0;
	for (size_t i = 0; i < plan->nchanges; i++) {
		r[n++] = (range){plan->changes[i].offset, plan->changes[i].size};
		have_sum |= plan->changes[i].field == NXP_FIELD_CHECKSUM;
		have_dir |= plan->changes[i].field == NXP_FIELD_CERT_DIR;
	}
	if (plan->signature == NXP_SIGACT_RESIGN) {
		if (!have_sum)
			r[n++] = (range){in->img.checksum_offset, 4};
		if (!have_dir)
			r[n++] = (range){in->img.cert_dir_offset, 8};
	}
	/* insertion sort: n is small */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && r[j].off < r[j - 1].off; j--) {
			range t = r[j];
			r[j] = r[j - 1];
			r[j - 1] = t;
		}
	return n;
}

/* The first offset in [lo, hi) where a and b differ (memcmp said they do). */
static uint64_t first_difference(const uint8_t *a, const uint8_t *b, uint64_t lo, uint64_t hi)
{
	while (lo < hi && a[lo] == b[lo])
		lo++;
	return lo;
}

/* Compare a[lo, hi) with b, skipping the ranges; 0 when equal, else *where
 * is the first differing byte. */
static int differs_outside(const uint8_t *a, const uint8_t *b, uint64_t lo, uint64_t hi,
                           const range *r, size_t nr, uint64_t *where)
{
	uint64_t pos = lo;
	for (size_t i = 0; i < nr && pos < hi; i++) {
		uint64_t s = r[i].off, e = (uint64_t)r[i].off + r[i].size;
		if (e <= pos || s >= hi)
			continue;
		if (s > hi)
			s = hi;
		if (s > pos && memcmp(a + pos, b + pos, s - pos)) {
			*where = first_difference(a, b, pos, s);
			return 1;
		}
		if (e > pos)
			pos = e;
	}
	if (pos < hi && memcmp(a + pos, b + pos, hi - pos)) {
		*where = first_difference(a, b, pos, hi);
		return 1;
	}
	return 0;
}

/* Release the pages of [p, p+n) from this process's resident set once the
 * pass is done with them (the page cache keeps them; a later access faults
 * them back in). Only for read-only file mappings: p and n are
 * page-aligned chunk bounds, except that the last chunk may end mid-page. */
static void drop_behind(const uint8_t *base, uint64_t pos, uint64_t end)
{
	madvise((void *)(base + pos), (size_t)(end - pos), MADV_DONTNEED);
}

/* long-function: parse, headers, length and appended section, then every byte outside the
 * planned ranges, in one pass that also hashes the output; one error path. */
static int check_output(const nxp_input *in, const nxp_plan *plan, const uint8_t *out,
                         size_t len, nxp_image *o, int out_mapped, EVP_MD_CTX *md,
                         nxp_error *err)
{
	int rc = nxp_pe_parse(o, out, len, err);
	if (rc)
		return nxp_error_prefix(err, "the output does not parse");
	if ((rc = compare_headers(&in->img, o, plan, err)))
		return rc;

	uint64_t body = plan->out_len; /* bytes that come from the input */
	uint64_t body_end = nxp_plan_body_end(plan); /* ... and the appended section */
	if (plan->signature == NXP_SIGACT_RESIGN) {
		if (o->cert_offset < body_end || o->cert_offset + (uint64_t)o->cert_size != len)
			return nxp_fail(err, NXP_E_VERIFY,
			                "the new certificate table (0x%x + 0x%x) is not at the end of "
			                "the patched image",
			                o->cert_offset, o->cert_size);
		for (uint64_t i = body_end; i < o->cert_offset; i++)
			if (out[i])
				return nxp_fail(err, NXP_E_VERIFY,
				                "padding before the certificate table is not zero at 0x%llx",
				                (unsigned long long)i);
	} else if (len != body_end) {
		return nxp_fail(err, NXP_E_VERIFY, "the output is 0x%zx bytes, expected 0x%llx", len,
		                (unsigned long long)body_end);
	}
	/* The appended section's bytes: its data, zeros around them. */
	for (uint64_t i = body; i < body_end; i++)
		if (out[i] != nxp_plan_added_byte(plan, i))
			return nxp_fail(err, NXP_E_VERIFY,
			                "the appended section differs from the plan at 0x%llx",
			                (unsigned long long)i);

	/* The planned fields hold their new values. */
	for (size_t i = 0; i < plan->nchanges; i++) {
		const nxp_change *c = &plan->changes[i];
		if (plan->signature == NXP_SIGACT_RESIGN &&
		    (c->field == NXP_FIELD_CHECKSUM || c->field == NXP_FIELD_CERT_DIR))
			continue;
		for (uint32_t k = 0; k < c->size; k++)
			if (out[c->offset + k] != (uint8_t)(c->new_value >> (8 * k)))
				return nxp_fail(err, NXP_E_VERIFY,
				                "planned field at 0x%x does not hold its new value",
				                c->offset);
	}

	/* One pass: bytes outside the planned ranges equal the input's, and the
	 * checksum sum of the whole output. */
	range r[NXP_MAX_CHANGES + 2];
	size_t nr = planned_ranges(in, plan, r);
	uint32_t sum = 0;
	for (uint64_t pos = 0; pos < len; pos += CHUNK) {
		uint64_t end = len - pos > CHUNK ? pos + CHUNK : len;
		uint64_t cmp_end = end < body ? end : body;
		uint64_t where;
		if (pos < cmp_end &&
		    differs_outside(in->file.data, out, pos, cmp_end, r, nr, &where))
			return nxp_fail(err, NXP_E_VERIFY,
			                "the output differs from the input at 0x%llx, outside the "
			                "planned fields",
			                (unsigned long long)where);
		sum = nxpi_pe_sum16(out + pos, (size_t)(end - pos), sum);
		if (md && !EVP_DigestUpdate(md, out + pos, (size_t)(end - pos)))
			return nxp_fail(err, NXP_E_INTERNAL, "sha-256 of the output failed");
		if (out_mapped)
			drop_behind(out, pos, end);
		if (out_mapped && in->file.mapped && pos < cmp_end)
			drop_behind(in->file.data, pos, cmp_end);
	}
	/* Take the stored CheckSum's bytes back out of the sum. */
	uint32_t s = nxpi_pe_sum_residue(sum);
	for (uint32_t k = 0; k < 4; k++)
		s = nxpi_pe_sum_swap_byte(s, o->checksum_offset + k, out[o->checksum_offset + k], 0);
	uint32_t computed = nxpi_pe_sum_finish(s, len);
	if (o->checksum == 0 && plan->checksum_new == 0 && plan->signature != NXP_SIGACT_RESIGN)
		return NXP_OK;
	/* An exact copy (unsign of an unsigned image to another name) keeps
	 * the input's CheckSum, valid or not: every byte was compared above. */
	if (!plan->nchanges && plan->signature == NXP_SIGACT_NONE)
		return NXP_OK;
	if (o->checksum != computed)
		return nxp_fail(err, NXP_E_VERIFY,
		                "the output's checksum 0x%08x is not valid (computed 0x%08x)",
		                o->checksum, computed);
	if (plan->signature != NXP_SIGACT_RESIGN && o->checksum != plan->checksum_new)
		return nxp_fail(err, NXP_E_VERIFY, "the output's checksum 0x%08x is not the planned 0x%08x",
		                o->checksum, plan->checksum_new);
	return NXP_OK;
}

int nxpi_check_output(const nxp_input *in, const nxp_plan *plan, const uint8_t *out,
                      size_t len, nxp_image *o, nxp_error *err)
{
	return check_output(in, plan, out, len, o, 0, NULL, err);
}

int nxpi_check_output_mapped(const nxp_input *in, const nxp_plan *plan, const uint8_t *out,
                             size_t len, nxp_image *o, uint8_t *sha256, nxp_error *err)
{
	if (!sha256)
		return check_output(in, plan, out, len, o, 1, NULL, err);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	int rc = check_output(in, plan, out, len, o, 1, md, err);
	unsigned int n = 0;
	if (!rc && (!EVP_DigestFinal_ex(md, sha256, &n) || n != 32))
		rc = nxp_fail(err, NXP_E_INTERNAL, "sha-256 of the output failed");
	EVP_MD_CTX_free(md);
	return rc;
}

/* The bounds of the page around [off, off + size), clamped to len. */
static void page_span(uint64_t off, uint32_t size, size_t len, uint64_t *lo, uint64_t *hi)
{
	const uint64_t pg = 4096;
	*lo = off / pg * pg;
	*hi = ((uint64_t)off + size + pg - 1) / pg * pg;
	if (*hi > len)
		*hi = len;
}

int nxpi_check_patch_view(const nxp_input *in, const nxp_plan *plan, const uint8_t *view,
                          size_t len, nxp_image *o, nxp_error *err)
{
	if (plan->signature != NXP_SIGACT_NONE || len != in->file.len || plan->out_len != len)
		return nxp_fail(err, NXP_E_INTERNAL, "a byte patch must keep the file's length");
	int rc = nxp_pe_parse(o, view, len, err);
	if (rc)
		return nxp_error_prefix(err, "the patched image does not parse");
	if ((rc = compare_headers(&in->img, o, plan, err)))
		return rc;
	range r[NXP_MAX_CHANGES + 2];
	size_t nr = planned_ranges(in, plan, r);
	/* The planned fields hold their new values, the rest of each page
	 * they are on is the input's (the other pages are the file's own,
	 * shared with the input mapping), and the CheckSum follows from the
	 * input's checksum (computed, or the stored one taken as correct:
	 * plan->checksum_from_stored) and the bytes that changed. */
	uint32_t base = plan->checksum_from_stored ? plan->checksum_base : in->facts.checksum_computed;
	if (!plan->checksum_from_stored && in->facts.checksum_unread &&
	    (plan->checksum_new || in->img.checksum))
		return nxp_fail(err, NXP_E_INTERNAL, "the input's checksum was not computed");
	uint32_t s = nxpi_pe_sum_residue((uint32_t)(base - (uint32_t)len));
	for (size_t i = 0; i < plan->nchanges; i++) {
		const nxp_change *c = &plan->changes[i];
		if (!NXP_FITS(c->offset, c->size, len))
			return nxp_fail(err, NXP_E_INTERNAL, "planned field at 0x%x outside the file",
			                c->offset);
		for (uint32_t k = 0; k < c->size; k++)
			if (view[c->offset + k] != (uint8_t)(c->new_value >> (8 * k)))
				return nxp_fail(err, NXP_E_VERIFY,
				                "planned field at 0x%x does not hold its new value",
				                c->offset);
		uint64_t lo, hi, where;
		page_span(c->offset, c->size, len, &lo, &hi);
		if (differs_outside(in->file.data, view, lo, hi, r, nr, &where))
			return nxp_fail(err, NXP_E_VERIFY,
			                "the patched image differs from the input at 0x%llx, outside "
			                "the planned fields",
			                (unsigned long long)where);
		if (c->field == NXP_FIELD_CHECKSUM)
			continue;
		for (uint32_t k = 0; k < c->size; k++) {
			uint64_t at = (uint64_t)c->offset + k;
			if (at >= o->checksum_offset && at < (uint64_t)o->checksum_offset + 4)
				return nxp_fail(err, NXP_E_INTERNAL,
				                "planned field at 0x%x overlaps the CheckSum", c->offset);
			s = nxpi_pe_sum_swap_byte(s, at, in->file.data[at], view[at]);
		}
	}
	uint32_t computed = nxpi_pe_sum_finish(s, len);
	if (o->checksum == 0 && plan->checksum_new == 0)
		return NXP_OK;
	if (o->checksum != computed)
		return nxp_fail(err, NXP_E_VERIFY,
		                "the patched image's checksum 0x%08x is not valid (computed "
		                "incrementally: 0x%08x)",
		                o->checksum, computed);
	if (o->checksum != plan->checksum_new)
		return nxp_fail(err, NXP_E_VERIFY,
		                "the patched image's checksum 0x%08x is not the planned 0x%08x",
		                o->checksum, plan->checksum_new);
	return NXP_OK;
}
