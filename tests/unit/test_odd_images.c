/* SPDX-License-Identifier: Apache-2.0 */
/* Odd but valid PE images (tests/tools/odd_images.h): each one parses, or is
 * refused with its own specific code and a message; every successful one
 * analyses and renders; every truncation of each is refused cleanly. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "nxpatch/analysis.h"
#include "nxpatch/pe.h"
#include "nxpatch/report.h"
#include "tools/odd_images.h"

#define CAP (1 << 20)
static uint8_t buf[CAP];
static nxp_image img;

static const nxt_odd *find(const char *name)
{
	for (size_t i = 0; i < NXT_ODD_COUNT; i++)
		if (!strcmp(nxt_odd_images[i].name, name))
			return &nxt_odd_images[i];
	cr_assert_fail("no odd image '%s'", name);
	return NULL;
}

/* Build, parse, check the expected outcome; on success analyse and render.
 * Returns the size. */
static size_t check_odd(const char *name)
{
	const nxt_odd *o = find(name);
	size_t n = o->build(buf, CAP);
	cr_assert(n > 0, "%s: generator failed", name);
	nxp_error err = {0};
	int rc = nxp_pe_parse(&img, buf, n, &err);
	cr_assert_eq(rc, o->expect, "%s: expected %s, got %s: %s", name, nxp_code_name(o->expect),
	             nxp_code_name(rc), err.msg);
	if (rc) {
		cr_assert_eq(err.code, rc);
		cr_assert(err.msg[0], "%s: %s without a message", name, nxp_code_name(rc));
		return n;
	}
	cr_assert_eq(img.checksum, nxp_pe_checksum(buf, n, img.checksum_offset),
	             "%s: the generator's checksum is not valid", name);
	nxp_facts f;
	cr_assert_eq(nxp_analyze(&f, &img, name, &err), NXP_OK, "%s: %s", name, err.msg);
	json_t *j = nxp_json_image(&f);
	cr_assert(j);
	cr_assert_eq(json_array_size(json_object_get(j, "sections")), img.nsections);
	json_decref(j);
	FILE *devnull = fopen("/dev/null", "w");
	cr_assert(devnull);
	nxp_text_image(devnull, &f);
	fclose(devnull);
	nxp_facts_free(&f);
	return n;
}

/* Every prefix of the image: a specific code and a message, never a crash. */
static void check_truncations(const char *name, size_t n)
{
	uint8_t *copy = malloc(n);
	cr_assert(copy);
	for (size_t len = 0; len < n; len++) {
		memcpy(copy, buf, len);
		static nxp_image t;
		nxp_error err = {0};
		int rc = nxp_pe_parse(&t, copy, len, &err);
		if (rc) {
			cr_assert_eq(err.code, rc, "%s[:%zu]", name, len);
			cr_assert(err.msg[0], "%s[:%zu]: no message", name, len);
			cr_assert_str_neq(nxp_code_name(rc), "unknown");
		}
	}
	free(copy);
}

Test(odd, no_sections)
{
	size_t n = check_odd("no_sections");
	cr_assert_eq(img.nsections, 0);
	cr_assert_eq(img.entry_section, -1);
	cr_assert_eq(img.overlay_size, 0);
	check_truncations("no_sections", n);
}

Test(odd, single_section)
{
	size_t n = check_odd("single_section");
	cr_assert_eq(img.nsections, 1);
	cr_assert_eq(img.entry_section, 0);
	check_truncations("single_section", n);
}

Test(odd, max_sections)
{
	check_odd("max_sections");
	cr_assert_eq(img.nsections, NXP_MAX_SECTIONS);
}

Test(odd, too_many_sections)
{
	check_odd("too_many_sections");
	nxp_error err = {0};
	const nxt_odd *o = find("too_many_sections");
	size_t n = o->build(buf, CAP);
	nxp_pe_parse(&img, buf, n, &err);
	cr_assert(strstr(err.msg, "NumberOfSections 97"), "%s", err.msg);
}

Test(odd, headers_in_section)
{
	size_t n = check_odd("headers_in_section");
	cr_assert_eq(img.sections[0].raw_offset, 0);
	cr_assert_eq(img.sections[0].virtual_address, 0);
	cr_assert_eq(img.entry_section, 0);
	uint32_t off;
	cr_assert(nxp_pe_rva_to_offset(&img, img.entry_rva, 1, &off));
	cr_assert_eq(buf[off], 0xc3);
	check_truncations("headers_in_section", n);
}

Test(odd, section_alignment_0x200)
{
	size_t n = check_odd("align_200");
	cr_assert_eq(img.section_alignment, 0x200);
	cr_assert_eq(img.file_alignment, 0x200);
	cr_assert_eq(img.sections[1].virtual_address, img.sections[1].raw_offset);
	cr_assert_eq(img.entry_section, 0);
	check_truncations("align_200", n);
}

Test(odd, section_alignment_4)
{
	check_odd("align_4");
	cr_assert_eq(img.section_alignment, 4);
	cr_assert_eq(img.file_alignment, 4);
	cr_assert_eq(img.entry_section, 0);
}

Test(odd, tiny_pe_without_directories)
{
	check_odd("tiny_no_dirs");
	nxp_error err = {0};
	size_t n = find("tiny_no_dirs")->build(buf, CAP);
	cr_assert_eq(n, 268);
	cr_assert_eq(nxp_pe_parse(&img, buf, n, &err), NXP_E_DATA_DIRS);
	cr_assert(strstr(err.msg, "NumberOfRvaAndSizes 0"), "%s", err.msg);
}

Test(odd, tiny_pe_with_5_directories)
{
	size_t n = check_odd("tiny_5_dirs");
	cr_assert_eq(n, 268);
	cr_assert_eq(img.pe_offset, 4);
	cr_assert_eq(img.nsections, 0);
	cr_assert_eq(img.section_alignment, 4);
	cr_assert_eq(img.entry_section, -1);
	check_truncations("tiny_5_dirs", n);
}

Test(odd, overlapping_headers)
{
	size_t n = check_odd("overlapping_headers");
	cr_assert_eq(img.pe_offset, 0x10);
	cr_assert_eq(img.nsections, 2);
	cr_assert_eq(img.entry_section, 0);
	check_truncations("overlapping_headers", n);
}

Test(odd, sections_sharing_raw_data)
{
	check_odd("shared_raw_data");
	cr_assert_eq(img.sections[2].raw_offset, img.sections[0].raw_offset);
}

Test(odd, bss_section_and_rva_gap)
{
	check_odd("bss_and_gap");
	cr_assert_eq(img.ndirs, 6);
	cr_assert_eq(img.sections[1].raw_size, 0);
	cr_assert_eq(nxp_pe_section_of_rva(&img, 0x5000), 1);
	cr_assert_eq(nxp_pe_section_of_rva(&img, 0x8000), -1);
}

Test(odd, two_certificates)
{
	size_t n = check_odd("two_certificates");
	cr_assert_eq(img.ncerts, 2);
	cr_assert_eq(img.certs[1].length, 0x2c);
	cr_assert_eq(img.certs[1].offset, img.certs[0].offset + 0x40);
	check_truncations("two_certificates", n);
}

Test(odd, wx_and_code_in_data)
{
	nxp_error err = {0};
	size_t n = check_odd("wx_and_code_in_data");
	nxp_facts f;
	cr_assert_eq(nxp_pe_parse(&img, buf, n, &err), NXP_OK);
	cr_assert_eq(nxp_analyze(&f, &img, "x", &err), NXP_OK);
	cr_assert(f.code_in_data);
	cr_assert_eq(f.section_evidence[1], 1);
	nxp_facts_free(&f);
}

Test(odd, many_rva_and_sizes)
{
	check_odd("many_rva_and_sizes");
	cr_assert_eq(img.ndirs, 0x7fffffff);
	cr_assert_eq(img.ndirs_used, NXP_MAX_DATA_DIRS);
}
