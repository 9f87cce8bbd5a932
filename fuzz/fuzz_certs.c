/* fuzz_certs: the certificate-table walk on arbitrary tables. The input is
 * the table itself: it is appended to a generated, valid image (one section,
 * every directory) whose certificate directory entry points at it with the
 * input's length. The reader must either list entries that all lie inside the
 * table or refuse with NXP_E_CERT_TABLE / NXP_E_CERT_ENTRY. When the
 * Authenticode module is built (NXP_FUZZ_HAVE_SIGN), its parser runs on the
 * same image. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nxpatch/pe.h"
#include "unit/support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TABLE (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t base[0x2000];
	static size_t base_len;
	static nxp_image img;
	if (size > MAX_TABLE)
		return 0;
	if (!base_len) {
		nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1};
		base_len = nxt_build_pe(base, sizeof(base), &spec, NULL);
		FUZZ_CHECK(base_len > 0 && base_len % 8 == 0, "base image %zu", base_len);
	}
	size_t len = base_len + size;
	uint8_t *buf = malloc(len ? len : 1); /* exact size: ASan sees overreads */
	if (!buf)
		return 0;
	memcpy(buf, base, base_len);
	if (size)
		memcpy(buf + base_len, data, size);

	nxp_error err = {0};
	int rc = nxp_pe_parse(&img, buf, base_len, &err);
	FUZZ_CHECK(rc == NXP_OK, "base image: %s", err.msg);
	uint32_t entry = img.cert_dir_offset;
	nxt_put32(buf + entry, size ? (uint32_t)base_len : 0);
	nxt_put32(buf + entry + 4, (uint32_t)size);

	rc = nxp_pe_parse(&img, buf, len, &err);
	if (rc) {
		fuzz_check_error(rc, &err);
		FUZZ_CHECK(rc == NXP_E_CERT_TABLE || rc == NXP_E_CERT_ENTRY,
		           "table content gave %s: %s", nxp_code_name(rc), err.msg);
	} else {
		fuzz_check_image(&img, len);
		FUZZ_CHECK(img.cert_size == size, "cert_size 0x%x for 0x%zx", img.cert_size, size);
		uint64_t end = base_len;
		for (unsigned i = 0; i < img.ncerts; i++) {
			const nxp_cert_entry *c = &img.certs[i];
			FUZZ_CHECK(c->offset >= end && c->offset % 8 == 0, "entry %u at 0x%x", i,
			           c->offset);
			FUZZ_CHECK(c->length > 8 && c->offset + (uint64_t)c->length <= len,
			           "entry %u length 0x%x", i, c->length);
			end = c->offset + (uint64_t)c->length;
		}
		FUZZ_CHECK(size == 0 || img.ncerts > 0, "a non-empty table with no entries");
	}
#ifdef NXP_FUZZ_HAVE_SIGN
	nxp_fuzz_sign_hook(&img, rc, buf, len);
#endif
	free(buf);
	return 0;
}
