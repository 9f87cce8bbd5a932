/* SPDX-License-Identifier: Apache-2.0 */
/* The Authenticode image digest, the layout of signed and unsigned images,
 * the certificate table walk and stripping. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>

#include "sign/internal.h"
#include "util/bytes.h"
#include "pe/internal.h"

static const struct {
	const char *name;
	const char *alt;
	nxp_digest_alg alg;
	size_t size;
} algs[] = {
	{"sha1", "sha-1", NXP_DIGEST_SHA1, 20},
	{"sha256", "sha-256", NXP_DIGEST_SHA256, 32},
	{"sha384", "sha-384", NXP_DIGEST_SHA384, 48},
	{"sha512", "sha-512", NXP_DIGEST_SHA512, 64},
};

int nxp_digest_lookup(const char *name, nxp_digest_alg *alg)
{
	for (size_t i = 0; name && i < NXP_ARRAY_LEN(algs); i++)
		if (!strcasecmp(name, algs[i].name) || !strcasecmp(name, algs[i].alt)) {
			*alg = algs[i].alg;
			return 1;
		}
	return 0;
}

const char *nxp_digest_name(nxp_digest_alg alg)
{
	for (size_t i = 0; i < NXP_ARRAY_LEN(algs); i++)
		if (algs[i].alg == alg)
			return algs[i].name;
	return "unknown";
}

size_t nxp_digest_size(nxp_digest_alg alg)
{
	for (size_t i = 0; i < NXP_ARRAY_LEN(algs); i++)
		if (algs[i].alg == alg)
			return algs[i].size;
	return 0;
}

const EVP_MD *nxpi_sign_md(nxp_digest_alg alg)
{
	switch (alg) {
	case NXP_DIGEST_SHA1: return EVP_sha1();
	case NXP_DIGEST_SHA256: return EVP_sha256();
	case NXP_DIGEST_SHA384: return EVP_sha384();
	case NXP_DIGEST_SHA512: return EVP_sha512();
	default: return NULL;
	}
}

nxp_digest_alg nxpi_sign_alg_of_nid(int nid)
{
	switch (nid) {
	case NID_sha1: return NXP_DIGEST_SHA1;
	case NID_sha256: return NXP_DIGEST_SHA256;
	case NID_sha384: return NXP_DIGEST_SHA384;
	case NID_sha512: return NXP_DIGEST_SHA512;
	default: return NXP_DIGEST_NONE;
	}
}

const char *nxpi_ossl_reason(const char *fallback, char *buf, size_t buflen)
{
	unsigned long e = ERR_get_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	snprintf(buf, buflen, "%s", r ? r : fallback);
	ERR_clear_error();
	return buf;
}

void nxpi_name_oneline(const X509_NAME *name, char *buf, size_t buflen)
{
	buf[0] = '\0';
	if (!name || buflen == 0)
		return;
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		int n = BIO_read(b, buf, (int)(buflen - 1));
		buf[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
}

int nxpi_asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	*out = (int64_t)timegm(&tm);
	return 1;
}

int nxp_sign_layout_of(const uint8_t *data, size_t len, const nxp_image *img,
                       nxp_sign_layout *lay, nxp_error *err)
{
	(void)data;
	memset(lay, 0, sizeof(*lay));
	if (img->len != len)
		return nxp_fail(err, NXP_E_INTERNAL,
		                "image parsed from %zu bytes used with a buffer of %zu bytes",
		                img->len, len);
	lay->checksum_offset = img->checksum_offset;
	lay->cert_dir_offset = img->cert_dir_offset;
	if (!NXP_FITS(lay->checksum_offset, 4, len))
		return nxp_fail(err, NXP_E_INTERNAL, "checksum field at 0x%x outside the file",
		                lay->checksum_offset);
	uint64_t hdr_end = (uint64_t)lay->checksum_offset + 4;
	if (lay->cert_dir_offset) {
		if (!NXP_FITS(lay->cert_dir_offset, 8, len) || lay->cert_dir_offset < hdr_end)
			return nxp_fail(err, NXP_E_INTERNAL,
			                "certificate directory entry at 0x%x out of place",
			                lay->cert_dir_offset);
		hdr_end = (uint64_t)lay->cert_dir_offset + 8;
	}
	lay->content_len = len;
	if (lay->cert_dir_offset && img->cert_size > 0) {
		uint32_t off = img->cert_offset, size = img->cert_size;
		if (!NXP_FITS(off, size, len))
			return nxp_fail(err, NXP_E_CERT_TABLE,
			                "certificate table (offset 0x%x, size 0x%x) extends past the "
			                "end of the file (0x%zx bytes)", off, size, len);
		if (len - size != off)
			return nxp_fail(err, NXP_E_CERT_TABLE,
			                "certificate table (offset 0x%x, size 0x%x) is not at the end "
			                "of the file (0x%zx bytes)", off, size, len);
		if (off < hdr_end)
			return nxp_fail(err, NXP_E_CERT_TABLE,
			                "certificate table at 0x%x overlaps the headers", off);
		lay->has_table = 1;
		lay->table_offset = off;
		lay->table_size = size;
		lay->content_len = off;
	}
	lay->unsigned_len = lay->content_len + ((8 - (lay->content_len & 7)) & 7);
	return NXP_OK;
}

int nxpi_digest_ranges(const uint8_t *data, size_t content_len, uint32_t checksum_offset,
                      uint32_t cert_dir_offset, nxp_digest_alg alg, uint8_t *out,
                      size_t *outlen, nxp_error *err)
{
	const EVP_MD *md = nxpi_sign_md(alg);
	if (!md)
		return nxp_fail(err, NXP_E_USAGE, "unsupported digest algorithm %d", (int)alg);
	if (!NXP_FITS(checksum_offset, 4, content_len) ||
	    (cert_dir_offset && (!NXP_FITS(cert_dir_offset, 8, content_len) ||
	                         cert_dir_offset < (uint64_t)checksum_offset + 4)))
		return nxp_fail(err, NXP_E_INTERNAL, "digest ranges out of the image");
	/* The hashed ranges, in file order. */
	size_t starts[3], ends[3], n = 0;
	starts[n] = 0;
	ends[n++] = checksum_offset;
	if (cert_dir_offset) {
		starts[n] = (size_t)checksum_offset + 4;
		ends[n++] = cert_dir_offset;
		starts[n] = (size_t)cert_dir_offset + 8;
		ends[n++] = content_len;
	} else {
		starts[n] = (size_t)checksum_offset + 4;
		ends[n++] = content_len;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	int ok = EVP_DigestInit_ex(ctx, md, NULL);
	for (size_t i = 0; ok && i < n; i++) {
		/* EVP_DigestUpdate takes size_t; feed in 1 GiB pieces all the same. */
		size_t pos = starts[i];
		while (ok && pos < ends[i]) {
			size_t chunk = ends[i] - pos;
			if (chunk > ((size_t)1 << 30))
				chunk = (size_t)1 << 30;
			ok = EVP_DigestUpdate(ctx, data + pos, chunk);
			pos += chunk;
		}
	}
	unsigned int dlen = 0;
	ok = ok && EVP_DigestFinal_ex(ctx, out, &dlen);
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		char r[128];
		return nxp_fail(err, NXP_E_INTERNAL, "image digest failed: %s",
		                nxpi_ossl_reason("digest error", r, sizeof(r)));
	}
	*outlen = dlen;
	return NXP_OK;
}

int nxp_authenticode_digest(const uint8_t *data, size_t len, const nxp_image *img,
                            nxp_digest_alg alg, uint8_t *out, size_t *outlen,
                            nxp_error *err)
{
	nxp_sign_layout lay;
	int rc = nxp_sign_layout_of(data, len, img, &lay, err);
	if (rc)
		return rc;
	return nxpi_digest_ranges(data, lay.content_len, lay.checksum_offset, lay.cert_dir_offset,
	                         alg, out, outlen, err);
}

int nxp_sign_unsigned_image(const uint8_t *data, size_t len, const nxp_image *img,
                            uint8_t **out, size_t *outlen, nxp_error *err)
{
	nxp_sign_layout lay;
	int rc = nxp_sign_layout_of(data, len, img, &lay, err);
	if (rc)
		return rc;
	uint8_t *buf = malloc(lay.unsigned_len ? lay.unsigned_len : 1);
	if (!buf)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory (%zu bytes)", lay.unsigned_len);
	memcpy(buf, data, lay.content_len);
	memset(buf + lay.content_len, 0, lay.unsigned_len - lay.content_len);
	if (lay.cert_dir_offset)
		memset(buf + lay.cert_dir_offset, 0, 8);
	*out = buf;
	*outlen = lay.unsigned_len;
	return NXP_OK;
}

int nxp_cert_table_read(const uint8_t *data, size_t len, const nxp_image *img,
                        nxp_cert_entry *certs, size_t max, size_t *n, nxp_error *err)
{
	*n = 0;
	nxp_sign_layout lay;
	int rc = nxp_sign_layout_of(data, len, img, &lay, err);
	if (rc)
		return rc;
	if (!lay.has_table)
		return NXP_OK;
	nxp_error werr;
	nxp_error_clear(&werr);
	size_t walked = 0;
	int wrc = nxpi_cert_walk(data + lay.table_offset, lay.table_offset, lay.table_size, certs,
	                         max, &walked, &werr);
	/* The first problem in table order: a bad revision or type of an entry
	 * the walk read comes before the walk's own error. */
	for (size_t i = 0; i < walked; i++, (*n)++) {
		if (certs[i].revision != NXP_WIN_CERT_REVISION)
			return nxp_fail(err, NXP_E_CERT_ENTRY,
			                "certificate entry %zu at 0x%x: revision 0x%04x, expected "
			                "0x0200", i, certs[i].offset, certs[i].revision);
		if (certs[i].type != NXP_WIN_CERT_TYPE_PKCS)
			return nxp_fail(err, NXP_E_CERT_ENTRY,
			                "certificate entry %zu at 0x%x: type %u, expected 2 "
			                "(PKCS_SIGNED_DATA)", i, certs[i].offset, certs[i].type);
	}
	if (wrc && err)
		*err = werr;
	return wrc;
}

int nxp_sign_strip(const uint8_t *data, size_t len, const nxp_image *img,
                   uint8_t **out, size_t *outlen, int *stripped, nxp_error *err)
{
	nxp_sign_layout lay;
	int rc = nxp_sign_layout_of(data, len, img, &lay, err);
	if (rc)
		return rc;
	*stripped = lay.has_table;
	uint8_t *buf = malloc(lay.content_len ? lay.content_len : 1);
	if (!buf)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory (%zu bytes)", lay.content_len);
	memcpy(buf, data, lay.content_len);
	if (lay.has_table) {
		memset(buf + lay.cert_dir_offset, 0, 8);
		nxpi_put_le32(buf + lay.checksum_offset,
		             nxp_pe_checksum(buf, lay.content_len, lay.checksum_offset));
	}
	*out = buf;
	*outlen = lay.content_len;
	return NXP_OK;
}
