/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_certs: the certificate-table walk on arbitrary tables. The input is
 * the table itself: it is appended to a generated, valid image (one section,
 * every directory) whose certificate directory entry points at it with the
 * input's length. The reader must either list entries that all lie inside the
 * table or refuse with NXP_E_CERT_TABLE / NXP_E_CERT_ENTRY. Then the
 * Authenticode module (include/nxpatch/sign.h) walks the same table, parses
 * every entry's PKCS#7 and checks it against a throw-away trust anchor (made
 * once, in memory), computes the digest and strips the table. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include "check.h"
#include "nxpatch/sign.h"
#include "nxpatch/pe.h"
#include "unit/support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TABLE (1u << 20)

/* A self-signed certificate written to a temporary PEM file and loaded as
 * the trust anchors: nothing on disk is needed or left behind. */
static nxp_trust *make_trust(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FUZZ_CHECK(key && x, "openssl key/cert");
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1, 0);
	X509_set_issuer_name(x, n);
	FUZZ_CHECK(X509_sign(x, key, EVP_sha256()) > 0, "X509_sign");
	char path[] = "/tmp/nxp-fuzz-trust.XXXXXX";
	int fd = mkstemp(path);
	FUZZ_CHECK(fd >= 0, "mkstemp");
	FILE *f = fdopen(fd, "w");
	FUZZ_CHECK(f && PEM_write_X509(f, x) == 1, "PEM_write_X509");
	fclose(f);
	nxp_trust *t = NULL;
	nxp_error err = {0};
	int rc = nxp_trust_load(&t, path, &err);
	unlink(path);
	FUZZ_CHECK(rc == NXP_OK, "nxp_trust_load: %s", err.msg);
	X509_free(x);
	EVP_PKEY_free(key);
	return t;
}

static void fuzz_sign(const nxp_image *img, int parse_rc, const uint8_t *buf, size_t len)
{
	static nxp_trust *trust;
	if (!trust)
		trust = make_trust();
	nxp_error err = {0};
	if (parse_rc)
		return; /* the sign module takes only images the reader accepted */
	nxp_cert_entry certs[NXP_MAX_CERT_ENTRIES];
	size_t n = 0;
	int rc = nxp_cert_table_read(buf, len, img, certs, NXP_MAX_CERT_ENTRIES, &n, &err);
	if (rc)
		fuzz_check_error(rc, &err);
	FUZZ_CHECK(n <= NXP_MAX_CERT_ENTRIES, "%zu entries", n);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((uint64_t)certs[i].offset + certs[i].length <= len, "entry %zu", i);

	nxp_sign_layout lay;
	if ((rc = nxp_sign_layout_of(buf, len, img, &lay, &err)))
		fuzz_check_error(rc, &err);
	else
		FUZZ_CHECK(lay.content_len <= len, "content_len %zu", lay.content_len);

	uint8_t digest[NXP_DIGEST_MAX];
	size_t dlen = 0;
	if ((rc = nxp_authenticode_digest(buf, len, img, NXP_DIGEST_SHA256, digest, &dlen, &err)))
		fuzz_check_error(rc, &err);
	else
		FUZZ_CHECK(dlen == 32, "sha256 digest of %zu bytes", dlen);

	nxp_sig_result res[NXP_MAX_CERT_ENTRIES + 1];
	size_t nres = 0;
	rc = nxp_sig_verify(buf, len, img, trust, res, NXP_MAX_CERT_ENTRIES + 1, &nres, &err);
	if (rc)
		fuzz_check_error(rc, &err);
	FUZZ_CHECK(nres <= NXP_MAX_CERT_ENTRIES + 1, "%zu results", nres);
	for (size_t i = 0; i < nres; i++) {
		FUZZ_CHECK(memchr(res[i].reason, 0, sizeof(res[i].reason)), "reason %zu", i);
		FUZZ_CHECK(memchr(res[i].subject, 0, sizeof(res[i].subject)), "subject %zu", i);
		FUZZ_CHECK(res[i].status == NXP_SIGSTATUS_OK || res[i].reason[0], "result %zu (%s) without a reason",
		           i, nxp_sig_status_name(res[i].status));
	}

	uint8_t *out = NULL;
	size_t outlen = 0;
	int stripped = 0;
	if ((rc = nxp_sign_strip(buf, len, img, &out, &outlen, &stripped, &err))) {
		fuzz_check_error(rc, &err);
	} else {
		FUZZ_CHECK(out && outlen <= len, "strip grew the image");
		static nxp_image again;
		nxp_error e2 = {0};
		FUZZ_CHECK(nxp_pe_parse(&again, out, outlen, &e2) == NXP_OK,
		           "stripped image does not parse: %s", e2.msg);
		FUZZ_CHECK(again.ncerts == 0, "stripped image still has %u entries", again.ncerts);
	}
	free(out);
}

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
	fuzz_sign(&img, rc, buf, len);
	free(buf);
	return 0;
}
