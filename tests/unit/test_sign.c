/* SPDX-License-Identifier: Apache-2.0 */
/* Authenticode on generated images: the digest against an independent
 * computation, the unsigned layout, strip, a sign/verify round trip with a
 * key made in the test, tampering, and malformed certificate tables (specific
 * errors, never a crash, under ASan/UBSan too). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "nxpatch/pe.h"
#include "nxpatch/sign.h"
#include "sign/internal.h"
#include "support.h"
#include "util/bytes.h"

#define CAP (1 << 20)
static uint8_t buf[CAP];
static nxp_image img, img2;

static size_t build(const nxt_pe_spec *spec, nxt_layout *lay)
{
	size_t n = nxt_build_pe(buf, CAP, spec, lay);
	cr_assert(n > 0);
	return n;
}

static void parse_ok(nxp_image *im, const uint8_t *data, size_t len)
{
	nxp_error err = {0};
	int rc = nxp_pe_parse(im, data, len, &err);
	cr_assert_eq(rc, NXP_OK, "parse: %s", err.msg);
}

/* The digest done the obvious way: copy the hashed bytes out, hash once. */
static void reference_digest(const uint8_t *d, size_t end, uint32_t cs, uint32_t dir,
                             const EVP_MD *md, uint8_t *out, unsigned *outlen)
{
	uint8_t *tmp = malloc(end);
	size_t n = 0;
	for (size_t i = 0; i < end; i++)
		if (!(i >= cs && i < cs + 4) && !(i >= dir && i < dir + 8))
			tmp[n++] = d[i];
	cr_assert(EVP_Digest(tmp, n, out, outlen, md, NULL));
	free(tmp);
}

Test(sign, digest_names)
{
	nxp_digest_alg a;
	cr_assert(nxp_digest_lookup("SHA256", &a) && a == NXP_DIGEST_SHA256);
	cr_assert(nxp_digest_lookup("sha-384", &a) && a == NXP_DIGEST_SHA384);
	cr_assert(nxp_digest_lookup("sha512", &a) && a == NXP_DIGEST_SHA512);
	cr_assert(nxp_digest_lookup("sha1", &a) && a == NXP_DIGEST_SHA1);
	cr_assert(!nxp_digest_lookup("md5", &a));
	cr_assert(!nxp_digest_lookup(NULL, &a));
	cr_assert_eq(nxp_digest_size(NXP_DIGEST_SHA384), 48);
	cr_assert_str_eq(nxp_digest_name(NXP_DIGEST_SHA1), "sha1");
	cr_assert_str_eq(nxp_digest_name(NXP_DIGEST_NONE), "unknown");
}

Test(sign, digest_matches_reference)
{
	static const struct {
		nxp_digest_alg alg;
		const char *name;
	} algs[] = {{NXP_DIGEST_SHA1, "SHA1"}, {NXP_DIGEST_SHA256, "SHA256"},
	            {NXP_DIGEST_SHA384, "SHA384"}, {NXP_DIGEST_SHA512, "SHA512"}};
	for (int plus = 0; plus < 2; plus++) {
		for (int cert = 0; cert < 2; cert++) {
			nxt_layout l;
			nxt_pe_spec spec = {.pe32plus = plus, .nsections = 3, .overlay = 77,
			                    .cert_size = cert ? 0x55 : 0};
			size_t n = build(&spec, &l);
			parse_ok(&img, buf, n);
			size_t end = cert ? l.cert_offset : n;
			for (size_t k = 0; k < NXP_ARRAY_LEN(algs); k++) {
				uint8_t got[NXP_DIGEST_MAX], want[EVP_MAX_MD_SIZE];
				size_t glen = 0;
				unsigned wlen = 0;
				nxp_error err = {0};
				cr_assert_eq(nxp_authenticode_digest(buf, n, &img, algs[k].alg, got,
				                                     &glen, &err), NXP_OK, "%s", err.msg);
				reference_digest(buf, end, img.checksum_offset, img.cert_dir_offset,
				                 EVP_get_digestbyname(algs[k].name), want, &wlen);
				cr_assert_eq(glen, wlen);
				cr_assert(!memcmp(got, want, glen), "%s digest differs (plus=%d cert=%d)",
				          algs[k].name, plus, cert);
			}
		}
	}
}

static void digest_of(const uint8_t *d, size_t n, const nxp_image *im, uint8_t *out)
{
	size_t len = 0;
	nxp_error err = {0};
	cr_assert_eq(nxp_authenticode_digest(d, n, im, NXP_DIGEST_SHA256, out, &len, &err), NXP_OK,
	             "%s", err.msg);
	cr_assert_eq(len, 32);
}

Test(sign, digest_skips_checksum_and_directory_only)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .overlay = 40};
	size_t n = build(&spec, &l);
	parse_ok(&img, buf, n);
	uint8_t d0[NXP_DIGEST_MAX], d1[NXP_DIGEST_MAX];
	digest_of(buf, n, &img, d0);
	/* The CheckSum and directory entry 4 are not hashed (img keeps the layout). */
	for (int i = 0; i < 4; i++)
		buf[img.checksum_offset + i] ^= 0xa5;
	for (int i = 0; i < 8; i++)
		buf[img.cert_dir_offset + i] ^= 0x5a;
	digest_of(buf, n, &img, d1);
	cr_assert(!memcmp(d0, d1, 32));
	/* Their neighbours, the overlay and the last byte are. */
	const size_t offs[] = {img.checksum_offset - 1, img.checksum_offset + 4,
	                       img.cert_dir_offset - 1, img.cert_dir_offset + 8, n - 20, n - 1, 0};
	for (size_t k = 0; k < NXP_ARRAY_LEN(offs); k++) {
		buf[offs[k]] ^= 1;
		digest_of(buf, n, &img, d1);
		cr_assert(memcmp(d0, d1, 32) != 0, "byte 0x%zx is not hashed", offs[k]);
		buf[offs[k]] ^= 1;
	}
}

Test(sign, unsigned_image_truncates_zeroes_and_pads)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 0, .nsections = 2, .overlay = 13, .cert_size = 0x31};
	size_t n = build(&spec, &l);
	parse_ok(&img, buf, n);
	nxp_sign_layout lay;
	nxp_error err = {0};
	cr_assert_eq(nxp_sign_layout_of(buf, n, &img, &lay, &err), NXP_OK, "%s", err.msg);
	cr_assert(lay.has_table);
	cr_assert_eq(lay.table_offset, l.cert_offset);
	cr_assert_eq(lay.content_len, l.cert_offset);
	uint8_t *u = NULL;
	size_t ulen = 0;
	cr_assert_eq(nxp_sign_unsigned_image(buf, n, &img, &u, &ulen, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(ulen % 8, 0);
	cr_assert_eq(ulen, lay.unsigned_len);
	cr_assert(ulen >= l.cert_offset && ulen < (size_t)l.cert_offset + 8);
	for (size_t i = 0; i < 8; i++)
		cr_assert_eq(u[img.cert_dir_offset + i], 0);
	for (size_t i = 0; i < l.cert_offset; i++)
		if (i < img.cert_dir_offset || i >= img.cert_dir_offset + 8)
			cr_assert_eq(u[i], buf[i], "byte 0x%zx changed", i);
	free(u);

	/* An odd-sized unsigned image is padded with zeros. */
	nxt_pe_spec odd = {.pe32plus = 1, .nsections = 1, .overlay = 5};
	n = build(&odd, &l);
	cr_assert(n % 8 != 0);
	parse_ok(&img, buf, n);
	cr_assert_eq(nxp_sign_unsigned_image(buf, n, &img, &u, &ulen, &err), NXP_OK);
	cr_assert_eq(ulen, (n + 7) / 8 * 8);
	cr_assert(!memcmp(u, buf, n));
	for (size_t i = n; i < ulen; i++)
		cr_assert_eq(u[i], 0);
	free(u);
}

Test(sign, strip_removes_the_table)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .overlay = 24, .cert_size = 0x40};
	size_t n = build(&spec, &l);
	parse_ok(&img, buf, n);
	uint8_t *o = NULL;
	size_t olen = 0;
	int stripped = -1;
	nxp_error err = {0};
	cr_assert_eq(nxp_sign_strip(buf, n, &img, &o, &olen, &stripped, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(stripped, 1);
	cr_assert_eq(olen, l.cert_offset);
	parse_ok(&img2, o, olen);
	cr_assert_eq(img2.cert_size, 0);
	cr_assert_eq(img2.cert_offset, 0);
	cr_assert_eq(img2.checksum, nxt_ref_checksum(o, olen, img2.checksum_offset));
	free(o);
	/* Stripping an unsigned image copies it. */
	nxt_pe_spec plain = {.pe32plus = 0, .nsections = 1};
	n = build(&plain, &l);
	parse_ok(&img, buf, n);
	cr_assert_eq(nxp_sign_strip(buf, n, &img, &o, &olen, &stripped, &err), NXP_OK);
	cr_assert_eq(stripped, 0);
	cr_assert_eq(olen, n);
	cr_assert(!memcmp(o, buf, n));
	free(o);
}

Test(sign, table_not_at_end_is_refused)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1, .cert_size = 0x40};
	size_t n = build(&spec, &l);
	memset(buf + n, 'T', 16); /* bytes after the table */
	n += 16;
	parse_ok(&img, buf, n);
	nxp_sign_layout lay;
	nxp_error err = {0};
	cr_assert_eq(nxp_sign_layout_of(buf, n, &img, &lay, &err), NXP_E_CERT_TABLE);
	cr_assert(strstr(err.msg, "not at the end of the file"), "%s", err.msg);
	uint8_t *o = NULL, d[NXP_DIGEST_MAX];
	size_t olen = 0, dlen;
	int stripped;
	cr_assert_eq(nxp_sign_strip(buf, n, &img, &o, &olen, &stripped, &err), NXP_E_CERT_TABLE);
	cr_assert_null(o);
	cr_assert_eq(nxp_authenticode_digest(buf, n, &img, NXP_DIGEST_SHA256, d, &dlen, &err),
	             NXP_E_CERT_TABLE);
	nxp_sig_result res[4];
	size_t nres = 9;
	cr_assert_eq(nxp_sig_verify(buf, n, &img, NULL, res, 4, &nres, &err), NXP_E_CERT_TABLE);
	cr_assert_eq(nres, 0);
}

/* Malformed WIN_CERTIFICATE headers: the walker names each problem. The
 * image is parsed while valid, then the entry is damaged (the reader
 * rejects some of these itself). */
static void expect_entry_error(uint32_t field_off, uint32_t value, int width, const char *text)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 1, .cert_size = 0x40};
	size_t n = build(&spec, &l);
	parse_ok(&img, buf, n);
	if (width == 4)
		nxt_put32(buf + l.cert_offset + field_off, value);
	else
		nxt_put16(buf + l.cert_offset + field_off, (uint16_t)value);
	nxp_cert_entry certs[4];
	size_t nc = 9;
	nxp_error err = {0};
	cr_assert_eq(nxp_cert_table_read(buf, n, &img, certs, 4, &nc, &err), NXP_E_CERT_ENTRY,
	             "%s: got %s", text, err.msg);
	cr_assert(strstr(err.msg, text), "message '%s' lacks '%s'", err.msg, text);
	cr_assert_eq(nc, 0);
	/* verify reports it as a failed entry, and never crashes */
	nxp_sig_result res[4];
	size_t nres = 0;
	cr_assert_eq(nxp_sig_verify(buf, n, &img, NULL, res, 4, &nres, &err), NXP_E_SIGNATURE);
	cr_assert_eq(nres, 1);
	cr_assert_eq(res[0].status, NXP_SIGSTATUS_BAD_ENTRY);
	cr_assert(strstr(res[0].reason, text), "%s", res[0].reason);
}

Test(sign, bad_entry_revision) { expect_entry_error(4, 0x0100, 2, "revision 0x0100"); }
Test(sign, bad_entry_type) { expect_entry_error(6, 1, 2, "type 1"); }
Test(sign, bad_entry_short_length) { expect_entry_error(0, 4, 4, "shorter than its 8-byte header"); }
Test(sign, bad_entry_length_past_end) { expect_entry_error(0, 0x1000, 4, "runs past the end"); }

Test(sign, reader_rejects_bad_lengths)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 0, .nsections = 1, .cert_size = 0x40};
	size_t n = build(&spec, &l);
	nxt_put32(buf + l.cert_offset, 0xffffffffu);
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(&img, buf, n, &err), NXP_E_CERT_ENTRY);
	n = build(&spec, &l);
	nxt_put32(buf + l.opt + 96 + 36, 0x100000); /* PE32: directory 4 size past the end */
	cr_assert_eq(nxp_pe_parse(&img, buf, n, &err), NXP_OK); /* ignored: unsigned */
	cr_assert_eq(img.ncerts, 0);
}

/* ---- a key and certificate made in the test ---- */

static char tmpdir[64], cert_path[128], key_path[128];

static void make_key_material(void)
{
	strcpy(tmpdir, "/tmp/nxp-sign-unit.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
	EVP_PKEY *k = EVP_RSA_gen(2048);
	cr_assert_not_null(k);
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"unit signer",
	                           -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage, "codeSigning");
	cr_assert_not_null(ex);
	X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	cr_assert(X509_sign(x, k, EVP_sha256()));
	FILE *f = fopen(cert_path, "w");
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(key_path, "w");
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void remove_key_material(void)
{
	unlink(cert_path);
	unlink(key_path);
	rmdir(tmpdir);
}

static nxp_signer *signer;
static nxp_trust *trust;

static void setup_signer(void)
{
	make_key_material();
	nxp_key_source ks = {.cert_path = cert_path, .key_path = key_path};
	nxp_error err = {0};
	cr_assert_eq(nxp_signer_load(&signer, &ks, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_trust_load(&trust, cert_path, &err), NXP_OK, "%s", err.msg);
}

static void teardown_signer(void)
{
	nxp_signer_free(signer);
	nxp_trust_free(trust);
	remove_key_material();
}

static uint8_t *sign_buf(const uint8_t *d, size_t n, size_t *olen, int64_t t)
{
	parse_ok(&img, d, n);
	nxp_sign_opts so = {.digest = NXP_DIGEST_SHA256, .fixed_time = 1, .signing_time = t,
	                    .program_name = "unit", .url = "http://example.org/"};
	uint8_t *o = NULL;
	nxp_error err = {0};
	cr_assert_eq(nxp_sign_image(d, n, &img, signer, &so, &o, olen, &err), NXP_OK, "%s",
	             err.msg);
	return o;
}

static int verify_buf(const uint8_t *d, size_t n, nxp_sig_result *res, size_t *nres)
{
	nxp_error err = {0};
	int rc = nxp_pe_parse(&img2, d, n, &err);
	if (rc)
		return rc;
	return nxp_sig_verify(d, n, &img2, trust, res, 4, nres, &err);
}

Test(sign, round_trip, .init = setup_signer, .fini = teardown_signer)
{
	for (int plus = 0; plus < 2; plus++) {
		nxt_layout l;
		nxt_pe_spec spec = {.pe32plus = plus, .nsections = 2, .overlay = 13};
		size_t n = build(&spec, &l);
		size_t olen = 0;
		uint8_t *o = sign_buf(buf, n, &olen, 1700000000);
		cr_assert_eq(olen % 8, 0);
		nxp_sig_result res[4];
		size_t nres = 0;
		cr_assert_eq(verify_buf(o, olen, res, &nres), NXP_OK, "%s", res[0].reason);
		cr_assert_eq(nres, 1);
		cr_assert_eq(res[0].status, NXP_SIGSTATUS_OK);
		cr_assert(strstr(res[0].subject, "CN=unit signer"), "%s", res[0].subject);
		cr_assert_eq(res[0].digest, NXP_DIGEST_SHA256);
		cr_assert(res[0].has_signing_time);
		cr_assert_eq(res[0].signing_time, 1700000000);
		cr_assert(!res[0].has_timestamp);
		/* layout: table right after the padded input, checksum valid */
		cr_assert_eq(img2.cert_offset, (n + 7) / 8 * 8);
		cr_assert_eq((size_t)img2.cert_offset + img2.cert_size, olen);
		cr_assert_eq(img2.ncerts, 1);
		cr_assert_eq(img2.certs[0].revision, 0x0200);
		cr_assert_eq(img2.certs[0].type, 2);
		cr_assert_eq(img2.checksum, nxt_ref_checksum(o, olen, img2.checksum_offset));
		/* reproducible */
		size_t olen2 = 0;
		uint8_t *o2 = sign_buf(buf, n, &olen2, 1700000000);
		cr_assert(olen == olen2 && !memcmp(o, o2, olen));
		free(o2);
		/* re-signing the signed image replaces the signature */
		o2 = sign_buf(o, olen, &olen2, 1700000001);
		cr_assert_eq(olen2, olen);
		cr_assert_eq(verify_buf(o2, olen2, res, &nres), NXP_OK);
		cr_assert_eq(nres, 1);
		cr_assert_eq(res[0].signing_time, 1700000001);
		free(o2);
		/* stripping gives the padded input back (CheckSum recomputed) */
		uint8_t *s = NULL;
		size_t slen = 0;
		int stripped = 0;
		nxp_error err = {0};
		cr_assert_eq(nxp_sign_strip(o, olen, &img2, &s, &slen, &stripped, &err), NXP_OK);
		cr_assert_eq(slen, (n + 7) / 8 * 8);
		for (size_t i = 0; i < n; i++)
			if ((i < img2.checksum_offset || i >= img2.checksum_offset + 4))
				cr_assert_eq(s[i], buf[i], "byte 0x%zx", i);
		free(s);
		free(o);
	}
}

Test(sign, tampering_is_detected, .init = setup_signer, .fini = teardown_signer)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 3, .overlay = 64};
	size_t n = build(&spec, &l);
	size_t olen = 0;
	uint8_t *o = sign_buf(buf, n, &olen, 1700000000);
	parse_ok(&img2, o, olen);
	uint32_t cs = img2.checksum_offset, dir = img2.cert_dir_offset, table = img2.cert_offset;
	nxp_sig_result res[4];
	size_t nres;
	/* every 61st hashed byte */
	for (uint32_t i = 0; i < table; i += 61) {
		if ((i >= cs && i < cs + 4) || (i >= dir && i < dir + 8))
			continue;
		o[i] ^= 0x01;
		int rc = verify_buf(o, olen, res, &nres);
		if (rc == NXP_E_SIGNATURE) /* else the flip broke the headers: the reader refuses */
			cr_assert_eq(res[0].status, NXP_SIGSTATUS_DIGEST_MISMATCH, "byte 0x%x: %s", i,
			             res[0].reason);
		else
			cr_assert_neq(rc, NXP_OK, "byte 0x%x flipped, still verifies", i);
		o[i] ^= 0x01;
	}
	/* the CheckSum is not covered */
	o[cs] ^= 0xff;
	cr_assert_eq(verify_buf(o, olen, res, &nres), NXP_OK);
	o[cs] ^= 0xff;
	/* every byte of the PKCS#7: never a crash; the signature value never passes */
	uint32_t len = nxpi_le32(o + table);
	for (uint32_t i = table + 8; i < table + len; i++) {
		o[i] ^= 0xff;
		int rc = verify_buf(o, olen, res, &nres);
		if (i >= table + len - 256)
			cr_assert_neq(rc, NXP_OK, "signature byte 0x%x flipped, still verifies", i);
		o[i] ^= 0xff;
	}
	cr_assert_eq(verify_buf(o, olen, res, &nres), NXP_OK);
	free(o);
}

Test(sign, untrusted_and_garbage, .init = setup_signer, .fini = teardown_signer)
{
	nxt_layout l;
	nxt_pe_spec spec = {.pe32plus = 0, .nsections = 1, .cert_size = 0x80};
	size_t n = build(&spec, &l);
	/* a well-formed entry holding zeros: not PKCS#7 */
	parse_ok(&img, buf, n);
	nxp_sig_result res[4];
	size_t nres = 0;
	nxp_error err = {0};
	cr_assert_eq(nxp_sig_verify(buf, n, &img, trust, res, 4, &nres, &err), NXP_E_SIGNATURE);
	cr_assert_eq(nres, 1);
	cr_assert_eq(res[0].status, NXP_SIGSTATUS_BAD_PKCS7, "%s", res[0].reason);
	/* an unsigned image */
	nxt_pe_spec plain = {.pe32plus = 0, .nsections = 1};
	n = build(&plain, &l);
	parse_ok(&img, buf, n);
	cr_assert_eq(nxp_sig_verify(buf, n, &img, trust, res, 4, &nres, &err), NXP_E_SIGNATURE);
	cr_assert(strstr(err.msg, "not signed"), "%s", err.msg);
	/* signed, checked against other anchors: untrusted */
	size_t olen = 0;
	uint8_t *o = sign_buf(buf, n, &olen, 1700000000);
	nxp_signer *s2 = signer;
	nxp_trust *t2 = trust;
	remove_key_material(); /* loaded already */
	make_key_material();   /* a second, unrelated self-signed certificate */
	nxp_trust *other = NULL;
	cr_assert_eq(nxp_trust_load(&other, cert_path, &err), NXP_OK);
	parse_ok(&img2, o, olen);
	cr_assert_eq(nxp_sig_verify(o, olen, &img2, other, res, 4, &nres, &err), NXP_E_SIGNATURE);
	cr_assert_eq(res[0].status, NXP_SIGSTATUS_UNTRUSTED, "%s", res[0].reason);
	nxp_trust_free(other);
	signer = s2;
	trust = t2;
	free(o);
}

Test(sign, key_errors)
{
	nxp_signer *s = NULL;
	nxp_error err = {0};
	nxp_key_source none = {0};
	cr_assert_eq(nxp_signer_load(&s, &none, &err), NXP_E_USAGE);
	nxp_key_source missing = {.cert_path = "/nonexistent/c.pem", .key_path = "/nonexistent/k"};
	cr_assert_eq(nxp_signer_load(&s, &missing, &err), NXP_E_KEY);
	cr_assert(strstr(err.msg, "cannot open certificate file"), "%s", err.msg);
	nxp_key_source both = {.cert_path = "a", .key_path = "b", .pkcs12_path = "c"};
	cr_assert_eq(nxp_signer_load(&s, &both, &err), NXP_E_USAGE);
	nxp_key_source env = {.pkcs12_path = "c", .pass_env = "NXP_UNIT_SURELY_UNSET"};
	cr_assert_eq(nxp_signer_load(&s, &env, &err), NXP_E_KEY);
	cr_assert(strstr(err.msg, "is not set"), "%s", err.msg);
	cr_assert_null(s);
}

/* Key hygiene: while a signer is loaded the process is not dumpable (and
 * is again once the last one is freed); the passphrase variable is gone
 * from the environment once read; a key file readable by group or others
 * gets a warning, a 0600 one none. */
Test(sign, key_hygiene)
{
	make_key_material();
	cr_assert_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
	cr_assert_eq(chmod(key_path, 0640), 0);
	cr_assert_eq(setenv("NXP_UNIT_PASS", "unit-pass-phrase", 1), 0);
	nxp_key_source ks = {.cert_path = cert_path, .key_path = key_path,
	                     .pass_env = "NXP_UNIT_PASS"};
	nxp_error err = {0};
	nxp_signer *a = NULL, *b = NULL;
	cr_assert_eq(nxp_signer_load(&a, &ks, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0, "a loaded key leaves us dumpable");
	cr_assert_null(getenv("NXP_UNIT_PASS"), "the passphrase variable is still set");
	char want[600];
	snprintf(want, sizeof(want), "key file %s is readable by its group (mode 0640): chmod 600 it",
	         key_path);
	cr_assert_not_null(nxp_signer_warning(a));
	cr_assert_str_eq(nxp_signer_warning(a), want);

	/* A second signer, from a 0600 file: no warning; still not dumpable
	 * until both are gone. A failed load changes nothing. */
	cr_assert_eq(chmod(key_path, 0600), 0);
	ks.pass_env = NULL;
	cr_assert_eq(nxp_signer_load(&b, &ks, &err), NXP_OK, "%s", err.msg);
	cr_assert_null(nxp_signer_warning(b));
	nxp_signer_free(a);
	cr_assert_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0, "one signer is still loaded");
	nxp_signer *c = NULL;
	nxp_key_source gone = {.cert_path = cert_path, .key_path = "/nonexistent/k"};
	cr_assert_eq(nxp_signer_load(&c, &gone, &err), NXP_E_KEY);
	cr_assert_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	nxp_signer_free(b);
	cr_assert_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1, "dumpable again with no key loaded");
	cr_assert_eq(nxp_signer_load(&c, &gone, &err), NXP_E_KEY);
	cr_assert_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1, "a failed load left us undumpable");
	remove_key_material();
}

/* Messages show a timestamp URL without its credentials. */
Test(sign, url_redaction)
{
	static const char *const cases[][2] = {
		{"http://user:secret@tsa.example:8080/ts?x=1", "http://***@tsa.example:8080/ts?x=1"},
		{"http://user@tsa.example/", "http://***@tsa.example/"},
		{"http://a:b@c@tsa.example", "http://***@tsa.example"},
		{"http://tsa.example/path@notcreds", "http://tsa.example/path@notcreds"},
		{"https://u:p@h/", "https://***@h/"},
		{"u:p@h", "***@h"},
		{"http://tsa.example", "http://tsa.example"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[128];
		nxpi_url_redact(cases[i][0], out, sizeof(out));
		cr_assert_str_eq(out, cases[i][1], "case %zu", i);
	}
}
