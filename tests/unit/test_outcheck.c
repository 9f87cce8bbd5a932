/* SPDX-License-Identifier: Apache-2.0 */
/* The safety net: nxpi_check_output(), the check that decides whether a
 * written output may replace anything. Each test builds a correct output
 * for a plan, checks that it verifies, then mutates one field of one class
 * (COFF header, optional header, data directory, section header, bytes
 * outside the planned ranges, the length, the checksum, the certificate
 * table) and asserts the specific error. It calls the checker itself
 * (src/write/outcheck.h), not the writer, so src/write may change freely. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/input.h"
#include "nxpatch/plan.h"
#include "write/outcheck.h"
#include "support.h"

#define CAP (1 << 20)
static uint8_t buf[CAP], good[CAP], out[CAP];
static size_t inlen, goodlen;
static nxt_layout lay;
static nxp_input in;
static nxp_plan plan;
static nxp_policy *pol;

static const char data_exec_nx[] =
	"nxpatch: 1\n"
	"settings: {signature: %s}\n"
	"rules:\n"
	"  - id: data-exec\n"
	"    actions:\n"
	"      - section: \".data\"\n"
	"        add: [execute]\n"
	"        allow_wx: true\n"
	"      - set: [nx_compat]\n";

static void put_checksum(uint8_t *b, size_t n)
{
	nxt_put32(b + lay.opt + 64, nxp_pe_checksum(b, n, lay.opt + 64));
}

/* Input: PE32+ with .text, .data and .rdata, a valid checksum, and (signed)
 * one certificate entry. Plan: .data +execute, nx_compat, checksum. */
static void setup(const char *sigmode, int is_signed)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 3, .cert_size = is_signed ? 0x40 : 0};
	inlen = nxt_build_pe(buf, CAP, &spec, &lay);
	cr_assert(inlen > 0);
	put_checksum(buf, inlen);
	memset(&in, 0, sizeof(in));
	in.path = "in.exe";
	in.file.data = buf;
	in.file.len = inlen;
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(&in.img, buf, inlen, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_analyze(&in.facts, &in.img, in.path, &err), NXP_OK);
	char yaml[512];
	snprintf(yaml, sizeof(yaml), data_exec_nx, sigmode);
	nxp_diags d = {0};
	cr_assert_eq(nxp_policy_load_buffer(&pol, "t.yaml", yaml, strlen(yaml), &d, &err), NXP_OK,
	             "%s", err.msg);
	nxp_diags_free(&d);
	nxp_plan_options po = {.will_sign = 1};
	cr_assert_eq(nxp_plan_build(&plan, pol, &in.facts, &po, &err), NXP_OK);
	cr_assert_eq(plan.status, NXP_PLAN_CHANGES, "%s",
	             plan.nrefusals ? plan.refusals[0].reason : "");

	/* The correct output. */
	memcpy(good, buf, (size_t)plan.out_len);
	goodlen = (size_t)plan.out_len;
	for (size_t i = 0; i < plan.nchanges; i++) {
		const nxp_change *c = &plan.changes[i];
		if (plan.signature == NXP_SIGACT_RESIGN &&
		    (c->field == NXP_FIELD_CHECKSUM || c->field == NXP_FIELD_CERT_DIR))
			continue;
		for (uint32_t k = 0; k < c->size; k++)
			good[c->offset + k] = (uint8_t)(c->new_value >> (8 * k));
	}
	if (plan.signature == NXP_SIGACT_RESIGN) {
		/* A new certificate table of one entry, 8-aligned, at the end. */
		size_t at = (goodlen + 7) & ~(size_t)7;
		memset(good + goodlen, 0, at - goodlen);
		memset(good + at, 0x5a, 0x40);
		nxt_put32(good + at, 0x40);
		nxt_put16(good + at + 4, 0x0200);
		nxt_put16(good + at + 6, 2);
		goodlen = at + 0x40;
		nxt_put32(good + in.img.cert_dir_offset, (uint32_t)at);
		nxt_put32(good + in.img.cert_dir_offset + 4, 0x40);
		put_checksum(good, goodlen);
	}
}

static void teardown(void)
{
	nxp_facts_free(&in.facts);
	nxp_policy_free(pol);
	pol = NULL;
}

static size_t fresh(void)
{
	memcpy(out, good, goodlen);
	return goodlen;
}

static int verify(size_t n, nxp_error *err)
{
	static nxp_image o;
	memset(err, 0, sizeof(*err));
	return nxpi_check_output(&in, &plan, out, n, &o, err);
}

#define EXPECT_OK(n)                                                               \
	do {                                                                       \
		nxp_error e_;                                                      \
		cr_assert_eq(verify((n), &e_), NXP_OK, "a correct output fails: %s", e_.msg); \
	} while (0)

#define EXPECT_FAIL(n, text)                                                       \
	do {                                                                       \
		nxp_error e_;                                                      \
		int rc_ = verify((n), &e_);                                        \
		cr_assert_eq(rc_, NXP_E_VERIFY, "expected NXP_E_VERIFY (%s), got %s: %s", (text), \
		             nxp_code_name(rc_), e_.msg);                          \
		cr_assert(strstr(e_.msg, (text)), "message '%s' lacks '%s'", e_.msg, (text)); \
	} while (0)

/* Flip the bits of one byte of a correct output and expect text. */
static void flip(uint32_t off, const char *text)
{
	size_t n = fresh();
	out[off] ^= 0x5a;
	EXPECT_FAIL(n, text);
}

static void set32(uint32_t off, uint32_t v, const char *text)
{
	size_t n = fresh();
	nxt_put32(out + off, v);
	EXPECT_FAIL(n, text);
}

Test(outcheck, correct_output_verifies, .fini = teardown)
{
	setup("refuse", 0);
	EXPECT_OK(fresh());
	cr_assert_gt(plan.nchanges, 2); /* section, dll characteristics, checksum */
}

Test(outcheck, coff_header_fields, .fini = teardown)
{
	setup("refuse", 0);
	uint32_t c = lay.coff;
	flip(c + 0, "machine is 0x");
	set32(c + 4, 0x12345678, "timestamp is 0x12345678 in the output, expected 0x");
	set32(c + 8, 0x100, "symtab_offset is 0x100 in the output");
	set32(c + 12, 7, "nsymbols is 0x7 in the output");
	flip(c + 18, "file_characteristics is 0x");
}

Test(outcheck, optional_header_fields, .fini = teardown)
{
	setup("refuse", 0);
	uint32_t o = lay.opt;
	flip(o + 2, "linker_major is 0x");
	set32(o + 16, 0x1010, "entry_rva is 0x1010 in the output");
	flip(o + 24, "image_base is 0x");
	set32(o + 56, 0x100000, "size_of_image is 0x100000 in the output");
	flip(o + 68, "subsystem is 0x");
	flip(o + 72, "stack_reserve is 0x");
	flip(o + 96, "heap_commit is 0x");
	/* DllCharacteristics is planned: any other value is wrong. */
	size_t n = fresh();
	nxt_put16(out + in.img.dll_characteristics_offset, 0x8160);
	EXPECT_FAIL(n, "dll_characteristics is 0x8160 in the output, expected 0x");
}

Test(outcheck, data_directory_entries, .fini = teardown)
{
	setup("refuse", 0);
	/* The debug directory (6): not read, so the output parses. */
	uint32_t d6 = in.img.dirs[NXP_DIR_DEBUG].entry_offset;
	set32(d6, 0x1000, "data directory 6 is (0x1000, 0x0) in the output, expected (0x0, 0x0)");
	set32(d6 + 4, 0x1c, "data directory 6 is (0x0, 0x1c) in the output");
	/* The certificate entry of an unsigned image must stay empty. */
	set32(in.img.cert_dir_offset + 4, 0x40, "data directory 4 is");
}

Test(outcheck, section_header_fields, .fini = teardown)
{
	setup("refuse", 0);
	uint32_t s1 = lay.section_table + 40; /* .data */
	flip(s1 + 0, "section 1 (.data) header differs in the output");
	set32(s1 + 8, 0x180, "section 1 (.data) header differs in the output");
	flip(s1 + 13, "section 1 (.data) header differs in the output");
	set32(s1 + 16, 0x400, "section 1 (.data) header differs");
	set32(lay.section_table + 2 * 40 + 20, in.img.sections[2].raw_offset - 0x200,
	      "section 2 (.data) header differs");
	/* Characteristics: the planned value and nothing else. */
	set32(s1 + 36, 0xC0000040, "section 1 (.data) characteristics are 0xC0000040 in the output, "
	                           "expected 0xE0000040");
	set32(lay.section_table + 36, 0xE0000020,
	      "section 0 (.text) characteristics are 0xE0000020 in the output, expected 0x60000020");
}

Test(outcheck, bytes_outside_the_planned_ranges, .fini = teardown)
{
	setup("refuse", 0);
	char want[128];
	/* In the DOS stub, in section data, the last byte of the file, and a
	 * header field the reader does not keep (Win32VersionValue). */
	const uint32_t offs[] = {0x40, in.img.sections[1].raw_offset + 3, (uint32_t)goodlen - 1,
	                         lay.opt + 52};
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		snprintf(want, sizeof(want),
		         "the output differs from the input at 0x%x, outside the planned fields", offs[i]);
		flip(offs[i], want);
	}
}

Test(outcheck, length, .fini = teardown)
{
	setup("refuse", 0);
	size_t n = fresh();
	out[n] = 0;
	char want[128];
	snprintf(want, sizeof(want), "the output is 0x%zx bytes, expected 0x%zx", n + 1, n);
	EXPECT_FAIL(n + 1, want);
	/* One even word of zeros keeps the checksum; the length still counts. */
	out[n + 1] = 0;
	snprintf(want, sizeof(want), "the output is 0x%zx bytes, expected 0x%zx", n + 2, n);
	EXPECT_FAIL(n + 2, want);
	/* Shorter: the last section's data is cut, and the output does not parse. */
	nxp_error e;
	cr_assert_eq(verify(n - 1, &e), NXP_E_SECTION_DATA, "%s", e.msg);
	cr_assert(strstr(e.msg, "the output does not parse: section 2 (.data) data ends past end"),
	          "%s", e.msg);
}

Test(outcheck, planned_fields_hold_their_new_values, .fini = teardown)
{
	setup("refuse", 0);
	/* The checksum field is planned: an old or other value is caught. */
	char want[96];
	snprintf(want, sizeof(want), "planned field at 0x%x does not hold its new value",
	         in.img.checksum_offset);
	flip(in.img.checksum_offset, want);
}

/* The two checksum checks, reached by a plan whose checksum is wrong: the
 * output holds what the plan says, and the plan must not be trusted. */
Test(outcheck, checksum_must_be_valid_and_planned, .fini = teardown)
{
	setup("refuse", 0);
	nxp_change *sum = NULL;
	for (size_t i = 0; i < plan.nchanges; i++)
		if (plan.changes[i].field == NXP_FIELD_CHECKSUM)
			sum = &plan.changes[i];
	cr_assert(sum);
	uint32_t right = (uint32_t)sum->new_value;
	/* A planned checksum that is not the output's checksum. */
	sum->new_value = right ^ 0x100;
	plan.checksum_new = right ^ 0x100;
	size_t n = fresh();
	nxt_put32(out + in.img.checksum_offset, right ^ 0x100);
	char want[96];
	snprintf(want, sizeof(want), "the output's checksum 0x%08x is not valid (computed 0x%08x)",
	         right ^ 0x100, right);
	EXPECT_FAIL(n, want);
	/* A valid checksum that is not the planned one. */
	sum->new_value = right;
	plan.checksum_new = right ^ 0x100;
	n = fresh();
	snprintf(want, sizeof(want), "the output's checksum 0x%08x is not the planned 0x%08x", right,
	         right ^ 0x100);
	EXPECT_FAIL(n, want);
}

/* Under resign the checksum is recomputed after signing: the output's own
 * checksum must be valid, the new table at the end and alone. */
Test(outcheck, resigned_output_checksum_and_table, .fini = teardown)
{
	setup("resign", 1);
	cr_assert_eq(plan.signature, NXP_SIGACT_RESIGN);
	size_t n = fresh();
	EXPECT_OK(n);
	/* Checksum: stale after signing. */
	n = fresh();
	uint32_t right = in.img.checksum_offset;
	uint32_t v = (uint32_t)out[right] | (uint32_t)out[right + 1] << 8 |
	             (uint32_t)out[right + 2] << 16 | (uint32_t)out[right + 3] << 24;
	nxt_put32(out + right, v + 1);
	char want[96];
	snprintf(want, sizeof(want), "the output's checksum 0x%08x is not valid (computed 0x%08x)",
	         v + 1, v);
	EXPECT_FAIL(n, want);
	/* Certificate table: not at the end (a byte follows it). */
	n = fresh();
	out[n] = 0;
	put_checksum(out, n + 1);
	EXPECT_FAIL(n + 1, "is not at the end of the patched image");
	/* Certificate table: two entries. */
	n = fresh();
	uint32_t at = (uint32_t)(n - 0x40);
	nxt_put32(out + at, 0x20);
	nxt_put32(out + at + 0x20, 0x20);
	nxt_put16(out + at + 0x24, 0x0200);
	nxt_put16(out + at + 0x26, 2);
	put_checksum(out, n);
	EXPECT_FAIL(n, "the re-signed output has 2 signature entries");
	/* Padding before the table is not zero. */
	if (at > plan.out_len) {
		n = fresh();
		out[plan.out_len] = 1;
		put_checksum(out, n);
		EXPECT_FAIL(n, "padding before the certificate table is not zero");
	}
}

/* Under strip the certificate table must be gone. */
Test(outcheck, stripped_output_has_no_certificate_table, .fini = teardown)
{
	setup("strip", 1);
	cr_assert_eq(plan.signature, NXP_SIGACT_STRIP);
	size_t n = fresh();
	EXPECT_OK(n);
	n = fresh();
	nxt_put32(out + in.img.cert_dir_offset, in.img.cert_offset);
	nxt_put32(out + in.img.cert_dir_offset + 4, in.img.cert_size);
	put_checksum(out, n);
	EXPECT_FAIL(n, "the output still has a certificate table");
}

Test(outcheck, output_that_does_not_parse, .fini = teardown)
{
	setup("refuse", 0);
	size_t n = fresh();
	out[0] = 'X';
	nxp_error e;
	cr_assert_eq(verify(n, &e), NXP_E_NOT_PE, "%s", e.msg);
	cr_assert(strstr(e.msg, "the output does not parse: not a PE image"), "%s", e.msg);
}

/* --in-place=bytes verifies the image the file will become from a view of
 * the input with the planned bytes (src/write/outcheck.h), from the headers
 * and the changed pages only, with the CheckSum computed incrementally. */
#include "write/outcheck.h"

static int verify_view(nxp_error *err)
{
	static nxp_image o;
	memset(err, 0, sizeof(*err));
	return nxpi_check_patch_view(&in, &plan, out, goodlen, &o, err);
}

#define EXPECT_VIEW_FAIL(text)                                                     \
	do {                                                                       \
		nxp_error e_;                                                      \
		int rc_ = verify_view(&e_);                                        \
		cr_assert_eq(rc_, NXP_E_VERIFY, "expected NXP_E_VERIFY (%s), got %s: %s", (text), \
		             nxp_code_name(rc_), e_.msg);                          \
		cr_assert(strstr(e_.msg, (text)), "message '%s' lacks '%s'", e_.msg, (text)); \
	} while (0)

Test(verify_output, patch_view_checks_headers_pages_and_checksum, .fini = teardown)
{
	setup("refuse", 0);
	nxp_error e;
	fresh();
	cr_assert_eq(verify_view(&e), NXP_OK, "a correct view fails: %s", e.msg);
	/* A header field the plan does not change. */
	fresh();
	nxt_put32(out + lay.coff + 4, 0x12345678);
	EXPECT_VIEW_FAIL("timestamp is 0x12345678 in the output");
	/* A byte beside the planned fields, on their page. */
	fresh();
	uint32_t pad = 2; /* e_cblp: no reader looks at it */
	out[pad] ^= 0x5a;
	EXPECT_VIEW_FAIL("differs from the input at 0x");
	/* A planned field without its new value. */
	fresh();
	out[in.img.checksum_offset] ^= 0x5a;
	EXPECT_VIEW_FAIL("does not hold its new value");
	/* A plan whose CheckSum is wrong: the incremental sum catches it, and
	 * a valid CheckSum that is not the planned one. */
	nxp_change *sum = NULL;
	for (size_t i = 0; i < plan.nchanges; i++)
		if (plan.changes[i].field == NXP_FIELD_CHECKSUM)
			sum = &plan.changes[i];
	cr_assert(sum);
	uint32_t right = (uint32_t)sum->new_value;
	sum->new_value = right ^ 0x100;
	plan.checksum_new = right ^ 0x100;
	fresh();
	nxt_put32(out + in.img.checksum_offset, right ^ 0x100);
	char want[128];
	snprintf(want, sizeof(want), "checksum 0x%08x is not valid (computed incrementally: 0x%08x)",
	         right ^ 0x100, right);
	EXPECT_VIEW_FAIL(want);
	sum->new_value = right;
	fresh();
	snprintf(want, sizeof(want), "checksum 0x%08x is not the planned 0x%08x", right,
	         right ^ 0x100);
	EXPECT_VIEW_FAIL(want);
}
