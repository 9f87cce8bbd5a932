/* SPDX-License-Identifier: Apache-2.0 */
/* Building the Authenticode PKCS#7 SignedData and the signed image. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "sign/internal.h"
#include "util/bytes.h"
#include "pe/internal.h"

#define FAIL_OSSL(err, code, what)                                                       \
	do {                                                                             \
		char r_[128];                                                            \
		rc = nxp_fail(err, code, "%s: %s", what,                                 \
		              nxpi_ossl_reason("openssl error", r_, sizeof(r_)));         \
		goto out;                                                                \
	} while (0)

/* i2d into a malloc'd buffer (OpenSSL allocates; we copy to plain malloc so
 * callers free with free()). */
static int der_of(int len, unsigned char **pp, uint8_t **der, size_t *derlen)
{
	unsigned char *p = *pp;
	*pp = NULL;
	if (len <= 0 || !p) {
		OPENSSL_free(p);
		return 0;
	}
	*der = malloc((size_t)len);
	if (!*der) {
		OPENSSL_free(p);
		return 0;
	}
	memcpy(*der, p, (size_t)len);
	*derlen = (size_t)len;
	OPENSSL_free(p);
	return 1;
}

/* A SpcString holding UTF-8 text as a BMPString (the "unicode" choice). */
static nxpi_SpcString *spc_string_unicode(const char *utf8, size_t n)
{
	nxpi_SpcString *s = nxpi_SpcString_new();
	if (!s)
		return NULL;
	s->type = 0;
	s->value.unicode = NULL;
	if (ASN1_mbstring_copy(&s->value.unicode, (const unsigned char *)utf8, (int)n,
	                       MBSTRING_UTF8, B_ASN1_BMPSTRING) < 0) {
		nxpi_SpcString_free(s);
		return NULL;
	}
	return s;
}

/* The DER of SpcIndirectDataContent for a digest. */
static int indirect_data_der(const uint8_t *digest, nxp_digest_alg alg, uint8_t **der,
                             size_t *derlen, nxp_error *err)
{
	int rc = NXP_OK;
	unsigned char *p = NULL;
	uint8_t *pedata = NULL;
	size_t pelen = 0;
	ASN1_STRING *seq = NULL;
	nxpi_SpcIndirectDataContent *idc = NULL;
	nxpi_SpcPeImageData *pe = nxpi_SpcPeImageData_new();
	if (!pe)
		FAIL_OSSL(err, NXP_E_NOMEM, "cannot build SpcPeImageData");
	/* flags: an empty BIT STRING; file: the "<<<Obsolete>>>" link. */
	pe->file = nxpi_SpcLink_new();
	if (!pe->file)
		FAIL_OSSL(err, NXP_E_NOMEM, "cannot build SpcLink");
	pe->file->type = 2;
	pe->file->value.file = spc_string_unicode("<<<Obsolete>>>", 14);
	if (!pe->file->value.file)
		FAIL_OSSL(err, NXP_E_NOMEM, "cannot build SpcString");
	if (!der_of(i2d_nxpi_SpcPeImageData(pe, &p), &p, &pedata, &pelen))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot encode SpcPeImageData");
	p = NULL;

	idc = nxpi_SpcIndirectDataContent_new();
	seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	if (!idc || !seq || !ASN1_STRING_set(seq, pedata, (int)pelen))
		FAIL_OSSL(err, NXP_E_NOMEM, "cannot build SpcIndirectDataContent");
	idc->data->type = OBJ_txt2obj(NXP_OID_SPC_PE_IMAGE_DATA, 1);
	idc->data->value = ASN1_TYPE_new();
	if (!idc->data->type || !idc->data->value)
		FAIL_OSSL(err, NXP_E_NOMEM, "cannot build SpcAttributeTypeAndOptionalValue");
	ASN1_TYPE_set(idc->data->value, V_ASN1_SEQUENCE, seq);
	seq = NULL;
	const EVP_MD *md = nxpi_sign_md(alg);
	if (!X509_ALGOR_set0(idc->messageDigest->digestAlgorithm, OBJ_nid2obj(EVP_MD_get_type(md)),
	                     V_ASN1_NULL, NULL) ||
	    !ASN1_OCTET_STRING_set(idc->messageDigest->digest, digest,
	                           (int)nxp_digest_size(alg)))
		FAIL_OSSL(err, NXP_E_NOMEM, "cannot build DigestInfo");
	if (!der_of(i2d_nxpi_SpcIndirectDataContent(idc, &p), &p, der, derlen))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot encode SpcIndirectDataContent");
out:
	free(pedata);
	ASN1_STRING_free(seq);
	nxpi_SpcIndirectDataContent_free(idc);
	nxpi_SpcPeImageData_free(pe);
	return rc;
}

/* The length of the DER header (tag + length) at der: the content octets of
 * a SEQUENCE start there. 0 on malformed input. */
static size_t der_header_len(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	long clen;
	int tag, cls;
	int r = ASN1_get_object(&p, &clen, &tag, &cls, (long)len);
	if (r & 0x80)
		return 0;
	size_t h = (size_t)(p - der);
	if (clen < 0 || (size_t)clen != len - h)
		return 0;
	return h;
}

static int add_signed_seq(PKCS7_SIGNER_INFO *si, const char *oid, const uint8_t *der,
                          size_t len)
{
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	if (!o)
		return 0;
	int ok = X509at_add1_attr_by_OBJ(&si->auth_attr, o, V_ASN1_SEQUENCE, der, (int)len) !=
	         NULL;
	ASN1_OBJECT_free(o);
	return ok;
}

/* The DER PKCS#7 ContentInfo for an image digest. *der is malloc'd. */
/* long-function: the OpenSSL calls that build a SignedData, in order, each checked, with one
 * cleanup path. */
static int sign_pkcs7(const uint8_t *digest, nxp_digest_alg alg, const nxp_signer *signer,
                      const nxp_sign_opts *opts, uint8_t **der, size_t *derlen,
                      nxp_error *err)
{
	int rc = NXP_OK;
	uint8_t *idc = NULL, *tmp = NULL;
	size_t idclen = 0, tmplen = 0;
	unsigned char *p = NULL;
	PKCS7 *p7 = NULL, *inner = NULL;
	BIO *bio = NULL;
	nxpi_SpcStatementType *st = NULL;
	nxpi_SpcSpOpusInfo *opus = NULL;
	ASN1_TIME *when = NULL;
	ASN1_STRING *seq = NULL;
	const EVP_MD *md = nxpi_sign_md(alg);

	*der = NULL;
	*derlen = 0;
	if (!md)
		return nxp_fail(err, NXP_E_USAGE, "unsupported digest algorithm %d", (int)alg);
	rc = indirect_data_der(digest, alg, &idc, &idclen, err);
	if (rc)
		goto out;
	size_t hlen = der_header_len(idc, idclen);
	if (!hlen) {
		rc = nxp_fail(err, NXP_E_INTERNAL, "SpcIndirectDataContent encoding is malformed");
		goto out;
	}

	p7 = PKCS7_new();
	if (!p7 || !PKCS7_set_type(p7, NID_pkcs7_signed))
		FAIL_OSSL(err, NXP_E_NOMEM, "cannot create PKCS#7 SignedData");
	PKCS7_SIGNER_INFO *si = PKCS7_add_signature(p7, signer->leaf, signer->key, md);
	if (!si)
		FAIL_OSSL(err, NXP_E_SIGN, "cannot add the signer");

	/* Signed attributes: contentType, SpcStatementType, SpcSpOpusInfo,
	 * signingTime; PKCS7_dataFinal adds messageDigest and signs. */
	if (!PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
	                                OBJ_txt2obj(NXP_OID_SPC_INDIRECT_DATA, 1)))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot add the contentType attribute");

	st = nxpi_SpcStatementType_new();
	if (!st)
		FAIL_OSSL(err, NXP_E_NOMEM, "cannot build SpcStatementType");
	ASN1_OBJECT_free(st->type);
	st->type = OBJ_txt2obj(opts && opts->commercial ? NXP_OID_SPC_COMMERCIAL
	                                                : NXP_OID_SPC_INDIVIDUAL, 1);
	if (!st->type || !der_of(i2d_nxpi_SpcStatementType(st, &p), &p, &tmp, &tmplen))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot encode SpcStatementType");
	p = NULL;
	if (!add_signed_seq(si, NXP_OID_SPC_STATEMENT_TYPE, tmp, tmplen))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot add the SpcStatementType attribute");
	free(tmp);
	tmp = NULL;

	opus = nxpi_SpcSpOpusInfo_new();
	if (!opus)
		FAIL_OSSL(err, NXP_E_NOMEM, "cannot build SpcSpOpusInfo");
	if (opts && opts->program_name) {
		opus->programName = spc_string_unicode(opts->program_name,
		                                       strlen(opts->program_name));
		if (!opus->programName) {
			rc = nxp_fail(err, NXP_E_USAGE, "program name is not valid UTF-8 text");
			goto out;
		}
	}
	if (opts && opts->url) {
		for (const char *c = opts->url; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) {
				rc = nxp_fail(err, NXP_E_USAGE, "url must be printable ASCII");
				goto out;
			}
		opus->moreInfo = nxpi_SpcLink_new();
		if (!opus->moreInfo || !(opus->moreInfo->value.url = ASN1_IA5STRING_new()) ||
		    !ASN1_STRING_set(opus->moreInfo->value.url, opts->url, (int)strlen(opts->url)))
			FAIL_OSSL(err, NXP_E_NOMEM, "cannot build the url link");
		opus->moreInfo->type = 0;
	}
	if (!der_of(i2d_nxpi_SpcSpOpusInfo(opus, &p), &p, &tmp, &tmplen))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot encode SpcSpOpusInfo");
	p = NULL;
	if (!add_signed_seq(si, NXP_OID_SPC_SP_OPUS_INFO, tmp, tmplen))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot add the SpcSpOpusInfo attribute");

	time_t t = opts && opts->fixed_time ? (time_t)opts->signing_time : time(NULL);
	when = ASN1_TIME_set(NULL, t);
	if (!when)
		FAIL_OSSL(err, NXP_E_USAGE, "cannot represent the signing time");
	if (!PKCS7_add_signed_attribute(si, NID_pkcs9_signingTime, when->type, when))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot add the signingTime attribute");
	when = NULL; /* owned by the attribute now */

	if (!PKCS7_content_new(p7, NID_pkcs7_data))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot set the PKCS#7 content");
	if (!PKCS7_add_certificate(p7, signer->leaf))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot embed the certificate");
	for (int i = 0; i < sk_X509_num(signer->chain); i++)
		if (!PKCS7_add_certificate(p7, sk_X509_value(signer->chain, i)))
			FAIL_OSSL(err, NXP_E_SIGN, "cannot embed the certificate chain");

	/* Sign the content octets of SpcIndirectDataContent. */
	bio = PKCS7_dataInit(p7, NULL);
	if (!bio)
		FAIL_OSSL(err, NXP_E_SIGN, "cannot start signing");
	if (BIO_write(bio, idc + hlen, (int)(idclen - hlen)) != (int)(idclen - hlen))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot hash the signed content");
	(void)BIO_flush(bio);
	if (!PKCS7_dataFinal(p7, bio))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot sign");

	/* The content: SPC_INDIRECT_DATA holding the whole SpcIndirectDataContent. */
	inner = PKCS7_new();
	seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	if (!inner || !seq || !ASN1_STRING_set(seq, idc, (int)idclen))
		FAIL_OSSL(err, NXP_E_NOMEM, "cannot build the signed content");
	inner->type = OBJ_txt2obj(NXP_OID_SPC_INDIRECT_DATA, 1);
	inner->d.other = ASN1_TYPE_new();
	if (!inner->type || !inner->d.other)
		FAIL_OSSL(err, NXP_E_NOMEM, "cannot build the signed content");
	ASN1_TYPE_set(inner->d.other, V_ASN1_SEQUENCE, seq);
	seq = NULL;
	if (!PKCS7_set_content(p7, inner))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot set the signed content");
	inner = NULL;

	if (opts && opts->timestamp_url) {
		rc = nxpi_timestamp_add(si, alg, opts->timestamp_url,
		                       opts->timestamp_timeout_ms ? opts->timestamp_timeout_ms
		                                                  : 30000, err);
		if (rc)
			goto out;
	}

	if (!der_of(i2d_PKCS7(p7, &p), &p, der, derlen))
		FAIL_OSSL(err, NXP_E_SIGN, "cannot encode the PKCS#7 signature");
	p = NULL;
out:
	ERR_clear_error();
	BIO_free_all(bio);
	PKCS7_free(inner);
	PKCS7_free(p7);
	ASN1_STRING_free(seq);
	ASN1_TIME_free(when);
	nxpi_SpcStatementType_free(st);
	nxpi_SpcSpOpusInfo_free(opus);
	free(tmp);
	free(idc);
	return rc;
}

int nxp_sign_image(const uint8_t *data, size_t len, const nxp_image *img,
                   const nxp_signer *signer, const nxp_sign_opts *opts,
                   uint8_t **out, size_t *outlen, nxp_error *err)
{
	/* The whole file assembled from the parts: one layout, one digest and
	 * checksum pass, whichever way the caller writes. */
	*out = NULL;
	*outlen = 0;
	nxp_signed_parts sp;
	int rc = nxp_sign_image_parts(data, len, img, signer, opts, &sp, err);
	if (rc)
		return rc;
	size_t total = sp.content_len + sp.tail_len;
	uint8_t *buf = malloc(total);
	if (!buf) {
		free(sp.tail);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	memcpy(buf, data, sp.content_len);
	memcpy(buf + sp.content_len, sp.tail, sp.tail_len);
	free(sp.tail);
	nxpi_put_le32(buf + img->checksum_offset, sp.checksum);
	nxpi_put_le32(buf + img->cert_dir_offset, sp.cert_dir[0]);
	nxpi_put_le32(buf + img->cert_dir_offset + 4, sp.cert_dir[1]);
	*out = buf;
	*outlen = total;
	return NXP_OK;
}

#define PARTS_CHUNK ((size_t)1 << 20) /* even, so chunks start at even offsets */

/* long-function: layout, digest, PKCS#7, timestamp and tail in order, with one cleanup path. */
int nxp_sign_image_parts(const uint8_t *data, size_t len, const nxp_image *img,
                         const nxp_signer *signer, const nxp_sign_opts *opts,
                         nxp_signed_parts *out, nxp_error *err)
{
	memset(out, 0, sizeof(*out));
	nxp_digest_alg alg = opts && opts->digest ? opts->digest : NXP_DIGEST_SHA256;
	const EVP_MD *md = nxpi_sign_md(alg);
	if (!md)
		return nxp_fail(err, NXP_E_USAGE, "unsupported digest algorithm %d", (int)alg);
	if (!img->cert_dir_offset)
		return nxp_fail(err, NXP_E_SIGN, "image has %u data directories: no certificate "
		                "table entry (directory 4) to point at a signature", img->ndirs);
	nxp_sign_layout lay;
	int rc = nxp_sign_layout_of(data, len, img, &lay, err);
	if (rc)
		return rc;
	const uint64_t cs = lay.checksum_offset, cd = lay.cert_dir_offset;
	const size_t clen = lay.content_len, ulen = lay.unsigned_len;
	if (!NXP_FITS(cd, 8, clen) || cd < cs + 4)
		return nxp_fail(err, NXP_E_INTERNAL, "digest ranges out of the image");

	/* One pass over data[0, clen): the digest of the hashed ranges
	 * (everything but CheckSum and directory entry 4) and the 16-bit sum of
	 * the even-length prefix. */
	static const uint8_t zeros[8];
	const size_t even = clen & ~(size_t)1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	int ok = EVP_DigestInit_ex(ctx, md, NULL);
	uint32_t sum = 0;
	const uint64_t skip[2][2] = {{cs, cs + 4}, {cd, cd + 8}};
	for (size_t pos = 0; ok && pos < clen; pos += PARTS_CHUNK) {
		size_t end = clen - pos > PARTS_CHUNK ? pos + PARTS_CHUNK : clen;
		size_t p = pos;
		for (int k = 0; ok && k < 2; k++) {
			uint64_t s0 = skip[k][0], s1 = skip[k][1];
			if (s1 <= p || s0 >= end)
				continue;
			if (s0 > p)
				ok = EVP_DigestUpdate(ctx, data + p, (size_t)(s0 - p));
			p = s1 < end ? (size_t)s1 : end;
		}
		if (ok && p < end)
			ok = EVP_DigestUpdate(ctx, data + p, end - p);
		size_t se = end < even ? end : even;
		if (pos < se)
			sum = nxpi_pe_sum16(data + pos, se - pos, sum);
	}
	if (ok && ulen > clen)
		ok = EVP_DigestUpdate(ctx, zeros, ulen - clen);
	uint8_t digest[NXP_DIGEST_MAX];
	unsigned int dlen = 0;
	ok = ok && EVP_DigestFinal_ex(ctx, digest, &dlen);
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		char r[128];
		return nxp_fail(err, NXP_E_INTERNAL, "image digest failed: %s",
		                nxpi_ossl_reason("digest error", r, sizeof(r)));
	}

	uint8_t *p7 = NULL;
	size_t p7len = 0;
	if ((rc = sign_pkcs7(digest, alg, signer, opts, &p7, &p7len, err)))
		return rc;
	uint64_t entry = (uint64_t)NXP_WIN_CERT_HEADER + p7len;
	uint64_t padded = (entry + 7) & ~(uint64_t)7;
	if ((uint64_t)ulen + padded > UINT32_MAX) {
		free(p7);
		return nxp_fail(err, NXP_E_SIGN, "signed image would exceed 4 GiB");
	}
	/* tail = [the odd last byte of the content] + zero padding + the entry,
	 * built from an even offset so that it sums as whole words. */
	size_t lead = clen - even, tlen = (ulen - clen) + (size_t)padded;
	uint8_t *tail = malloc(lead + tlen);
	if (!tail) {
		free(p7);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	if (lead)
		tail[0] = data[even];
	uint8_t *t = tail + lead;
	memset(t, 0, tlen);
	uint8_t *w = t + (ulen - clen);
	nxpi_put_le32(w, (uint32_t)entry);
	nxpi_put_le16(w + 4, NXP_WIN_CERT_REVISION);
	nxpi_put_le16(w + 6, NXP_WIN_CERT_TYPE_PKCS);
	memcpy(w + NXP_WIN_CERT_HEADER, p7, p7len);
	free(p7);
	sum = nxpi_pe_sum16(tail, lead + tlen, sum);

	/* The fields: take the input's CheckSum and entry 4 bytes out of the
	 * sum, put the new entry in (the new CheckSum counts as zero). */
	uint8_t dir[8];
	nxpi_put_le32(dir, (uint32_t)ulen);
	nxpi_put_le32(dir + 4, (uint32_t)padded);
	uint32_t s = nxpi_pe_sum_residue(sum);
	for (uint64_t k = 0; k < 4; k++)
		s = nxpi_pe_sum_swap_byte(s, cs + k, data[cs + k], 0);
	for (uint64_t k = 0; k < 8; k++)
		s = nxpi_pe_sum_swap_byte(s, cd + k, data[cd + k], dir[k]);
	size_t total = ulen + (size_t)padded;
	if (lead)
		memmove(tail, tail + 1, tlen);
	out->content_len = clen;
	out->checksum = nxpi_pe_sum_finish(s, total);
	out->cert_dir[0] = (uint32_t)ulen;
	out->cert_dir[1] = (uint32_t)padded;
	out->tail = tail;
	out->tail_len = tlen;
	return NXP_OK;
}
