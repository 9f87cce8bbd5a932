/* SPDX-License-Identifier: Apache-2.0 */
/* Signature verification: every Authenticode signature of an image
 * (nxp_sig_verify, nxp_sig_verify_own). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "sign/internal.h"
#include "util/bytes.h"

static const char *const status_names[] = {
	[NXP_SIGSTATUS_OK] = "ok",
	[NXP_SIGSTATUS_BAD_ENTRY] = "bad_entry",
	[NXP_SIGSTATUS_BAD_PKCS7] = "bad_pkcs7",
	[NXP_SIGSTATUS_BAD_CONTENT] = "bad_content",
	[NXP_SIGSTATUS_BAD_DIGEST_ALG] = "bad_digest_algorithm",
	[NXP_SIGSTATUS_DIGEST_MISMATCH] = "digest_mismatch",
	[NXP_SIGSTATUS_BAD_SIGNATURE] = "bad_signature",
	[NXP_SIGSTATUS_UNTRUSTED] = "untrusted",
	[NXP_SIGSTATUS_NO_CODE_SIGNING] = "no_code_signing_usage",
};

const char *nxp_sig_status_name(nxp_sig_status s)
{
	if ((size_t)s >= NXP_ARRAY_LEN(status_names) || !status_names[s])
		return "unknown";
	return status_names[s];
}

int nxp_trust_load(nxp_trust **out, const char *pem_path, nxp_error *err)
{
	*out = NULL;
	FILE *f = fopen(pem_path, "re");
	if (!f)
		return nxp_fail(err, NXP_E_IO, "cannot open trust anchors %s: %s", pem_path,
		                strerror(errno));
	fclose(f);
	nxp_trust *t = calloc(1, sizeof(*t));
	if (!t || !(t->store = X509_STORE_new())) {
		free(t);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	if (!X509_STORE_load_file(t->store, pem_path) ||
	    sk_X509_OBJECT_num(X509_STORE_get0_objects(t->store)) == 0) {
		ERR_clear_error();
		nxp_trust_free(t);
		return nxp_fail(err, NXP_E_USAGE, "no PEM certificate in trust anchors %s",
		                pem_path);
	}
	X509_STORE_set_purpose(t->store, X509_PURPOSE_ANY);
	*out = t;
	return NXP_OK;
}

int nxp_trust_from_signer(nxp_trust **out, const nxp_signer *s, nxp_error *err)
{
	*out = NULL;
	nxp_trust *t = calloc(1, sizeof(*t));
	if (!t || !(t->store = X509_STORE_new())) {
		free(t);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	int ok = X509_STORE_add_cert(t->store, s->leaf);
	for (int i = 0; ok && i < sk_X509_num(s->chain); i++)
		ok = X509_STORE_add_cert(t->store, sk_X509_value(s->chain, i));
	if (!ok) {
		ERR_clear_error();
		nxp_trust_free(t);
		return nxp_fail(err, NXP_E_NOMEM, "cannot build a trust store");
	}
	X509_STORE_set_flags(t->store, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_set_purpose(t->store, X509_PURPOSE_ANY);
	*out = t;
	return NXP_OK;
}

void nxp_trust_free(nxp_trust *t)
{
	if (!t)
		return;
	X509_STORE_free(t->store);
	free(t);
}

__attribute__((format(printf, 3, 4)))
static void set_status(nxp_sig_result *r, nxp_sig_status s, const char *fmt, ...)
{
	r->status = s;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static int attr_time(const ASN1_TYPE *t, int64_t *out)
{
	if (!t || (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME))
		return 0;
	return nxpi_asn1_time_unix(t->value.utctime, out);
}

/* Timestamps and nested signatures in the unsigned attributes. */
static void read_unsigned_attrs(PKCS7_SIGNER_INFO *si, nxp_sig_result *r)
{
	ASN1_OBJECT *nested = OBJ_txt2obj(NXP_OID_NESTED_SIGNATURE, 1);
	ASN1_OBJECT *rfc3161 = OBJ_txt2obj(NXP_OID_RFC3161_TOKEN, 1);
	STACK_OF(X509_ATTRIBUTE) *ua = si->unauth_attr;
	int i;
	if (nested && (i = X509at_get_attr_by_OBJ(ua, nested, -1)) >= 0)
		r->nested = (uint32_t)X509_ATTRIBUTE_count(X509at_get_attr(ua, i));
	if (rfc3161 && (i = X509at_get_attr_by_OBJ(ua, rfc3161, -1)) >= 0) {
		r->has_timestamp = 1;
		r->timestamp_rfc3161 = 1;
		ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(X509at_get_attr(ua, i), 0);
		if (v && v->type == V_ASN1_SEQUENCE) {
			const unsigned char *p = v->value.sequence->data;
			PKCS7 *tok = d2i_PKCS7(NULL, &p, v->value.sequence->length);
			TS_TST_INFO *info = tok ? PKCS7_to_TS_TST_INFO(tok) : NULL;
			if (info && nxpi_asn1_time_unix(TS_TST_INFO_get_time(info), &r->timestamp_time))
				r->has_timestamp_time = 1;
			TS_TST_INFO_free(info);
			PKCS7_free(tok);
		}
	} else if ((i = X509at_get_attr_by_NID(ua, NID_pkcs9_countersignature, -1)) >= 0) {
		r->has_timestamp = 1;
		ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(X509at_get_attr(ua, i), 0);
		if (v && v->type == V_ASN1_SEQUENCE) {
			const unsigned char *p = v->value.sequence->data;
			PKCS7_SIGNER_INFO *cs =
				d2i_PKCS7_SIGNER_INFO(NULL, &p, v->value.sequence->length);
			if (cs && attr_time(PKCS7_get_signed_attribute(cs, NID_pkcs9_signingTime),
			                    &r->timestamp_time))
				r->has_timestamp_time = 1;
			PKCS7_SIGNER_INFO_free(cs);
		}
	}
	ASN1_OBJECT_free(nested);
	ASN1_OBJECT_free(rfc3161);
	ERR_clear_error();
}

/* Image digests computed so far, one per algorithm. */
struct digest_cache {
	int have[NXP_DIGEST_SHA512 + 1];
	uint8_t d[NXP_DIGEST_SHA512 + 1][NXP_DIGEST_MAX];
	size_t len[NXP_DIGEST_SHA512 + 1];
};

/* long-function: the checks of one entry in order, each setting the entry's status. */
static void verify_entry(const uint8_t *data, const nxp_sign_layout *lay,
                         const nxp_cert_entry *wc, const nxp_trust *trust,
                         struct digest_cache *dc, nxp_sig_result *r)
{
	char why[160];
	PKCS7 *p7 = NULL;
	nxpi_SpcIndirectDataContent *idc = NULL;
	ASN1_OBJECT *spc = NULL, *peimg = NULL;
	STACK_OF(X509) *signers = NULL;
	BIO *in = NULL;
	X509_STORE_CTX *ctx = NULL;

	const unsigned char *p = data + wc->offset + NXP_WIN_CERT_HEADER;
	long n = (long)(wc->length - NXP_WIN_CERT_HEADER);
	p7 = d2i_PKCS7(NULL, &p, n);
	if (!p7) {
		set_status(r, NXP_SIGSTATUS_BAD_PKCS7, "entry is not a DER PKCS#7 structure (%s)",
		           nxpi_ossl_reason("malformed", why, sizeof(why)));
		goto out;
	}
	if (!PKCS7_type_is_signed(p7) || !p7->d.sign) {
		set_status(r, NXP_SIGSTATUS_BAD_PKCS7, "PKCS#7 content type is not signedData");
		goto out;
	}
	STACK_OF(PKCS7_SIGNER_INFO) *sis = PKCS7_get_signer_info(p7);
	if (sk_PKCS7_SIGNER_INFO_num(sis) != 1) {
		set_status(r, NXP_SIGSTATUS_BAD_PKCS7, "SignedData has %d signer infos, expected 1",
		           sk_PKCS7_SIGNER_INFO_num(sis));
		goto out;
	}
	PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(sis, 0);
	signers = PKCS7_get0_signers(p7, NULL, 0);
	X509 *leaf = signers && sk_X509_num(signers) > 0 ? sk_X509_value(signers, 0) : NULL;
	if (leaf) {
		nxpi_name_oneline(X509_get_subject_name(leaf), r->subject, sizeof(r->subject));
		nxpi_name_oneline(X509_get_issuer_name(leaf), r->issuer, sizeof(r->issuer));
	}
	ERR_clear_error();
	int64_t st;
	if (attr_time(PKCS7_get_signed_attribute(si, NID_pkcs9_signingTime), &st)) {
		r->has_signing_time = 1;
		r->signing_time = st;
	}
	read_unsigned_attrs(si, r);

	spc = OBJ_txt2obj(NXP_OID_SPC_INDIRECT_DATA, 1);
	peimg = OBJ_txt2obj(NXP_OID_SPC_PE_IMAGE_DATA, 1);
	PKCS7 *c = p7->d.sign->contents;
	if (!c || !c->type || OBJ_cmp(c->type, spc) != 0 || !c->d.other ||
	    c->d.other->type != V_ASN1_SEQUENCE) {
		set_status(r, NXP_SIGSTATUS_BAD_CONTENT,
		           "signed content is not SPC_INDIRECT_DATA (1.3.6.1.4.1.311.2.1.4)");
		goto out;
	}
	ASN1_STRING *seq = c->d.other->value.sequence;
	const unsigned char *q = seq->data;
	idc = d2i_nxpi_SpcIndirectDataContent(NULL, &q, seq->length);
	if (!idc || q != seq->data + seq->length) {
		set_status(r, NXP_SIGSTATUS_BAD_CONTENT, "SpcIndirectDataContent is malformed");
		goto out;
	}
	if (!idc->data->type || OBJ_cmp(idc->data->type, peimg) != 0) {
		set_status(r, NXP_SIGSTATUS_BAD_CONTENT,
		           "signed data is not SpcPeImageData (1.3.6.1.4.1.311.2.1.15)");
		goto out;
	}
	const ASN1_OBJECT *aobj = NULL;
	X509_ALGOR_get0(&aobj, NULL, NULL, idc->messageDigest->digestAlgorithm);
	r->digest = nxpi_sign_alg_of_nid(OBJ_obj2nid(aobj));
	if (r->digest == NXP_DIGEST_NONE) {
		char oid[80];
		OBJ_obj2txt(oid, sizeof(oid), aobj, 1);
		set_status(r, NXP_SIGSTATUS_BAD_DIGEST_ALG, "unsupported image digest algorithm %s", oid);
		goto out;
	}

	/* The image digest. */
	if (!dc->have[r->digest]) {
		nxp_error e;
		if (nxpi_digest_ranges(data, lay->content_len, lay->checksum_offset,
		                      lay->cert_dir_offset, r->digest, dc->d[r->digest],
		                      &dc->len[r->digest], &e)) {
			set_status(r, NXP_SIGSTATUS_DIGEST_MISMATCH, "cannot compute the image digest: %s",
			           e.msg);
			goto out;
		}
		dc->have[r->digest] = 1;
	}
	const ASN1_OCTET_STRING *sd = idc->messageDigest->digest;
	if ((size_t)ASN1_STRING_length(sd) != dc->len[r->digest] ||
	    memcmp(ASN1_STRING_get0_data(sd), dc->d[r->digest], dc->len[r->digest]) != 0) {
		set_status(r, NXP_SIGSTATUS_DIGEST_MISMATCH,
		           "image %s digest does not match the signed digest: the image was "
		           "changed after signing", nxp_digest_name(r->digest));
		goto out;
	}

	/* The signature over the content octets (OpenSSL 3.0 needs them as data). */
	const unsigned char *hp = seq->data;
	long clen;
	int tag, cls;
	if (ASN1_get_object(&hp, &clen, &tag, &cls, seq->length) & 0x80) {
		set_status(r, NXP_SIGSTATUS_BAD_CONTENT, "SpcIndirectDataContent header is malformed");
		goto out;
	}
	/* OpenSSL 3.0's PKCS7_verify copies a memory BIO into a temporary one and
	 * leaks the copy when PKCS7_dataInit fails (an unknown digest algorithm
	 * in the SignedData): give it a buffer filter over the memory BIO. */
	BIO *mem = BIO_new_mem_buf(hp, (int)(seq->length - (hp - seq->data)));
	in = mem ? BIO_push(BIO_new(BIO_f_buffer()), mem) : NULL;
	if (!in || PKCS7_verify(p7, NULL, trust->store, in, NULL, PKCS7_NOVERIFY) != 1) {
		set_status(r, NXP_SIGSTATUS_BAD_SIGNATURE, "the PKCS#7 signature does not verify (%s)",
		           nxpi_ossl_reason("verification failed", why, sizeof(why)));
		goto out;
	}
	if (!leaf) {
		set_status(r, NXP_SIGSTATUS_BAD_PKCS7, "the signer certificate is not embedded");
		goto out;
	}

	/* The chain, to the caller's anchors, for any purpose; then code signing. */
	ctx = X509_STORE_CTX_new();
	if (!ctx || !X509_STORE_CTX_init(ctx, trust->store, leaf, p7->d.sign->cert)) {
		set_status(r, NXP_SIGSTATUS_UNTRUSTED, "cannot set up chain verification");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		int e = X509_STORE_CTX_get_error(ctx);
		set_status(r, NXP_SIGSTATUS_UNTRUSTED, "certificate chain does not verify: %s",
		           X509_verify_cert_error_string(e));
		goto out;
	}
	if (!(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) ||
	    !(X509_get_extended_key_usage(leaf) & XKU_CODE_SIGN)) {
		set_status(r, NXP_SIGSTATUS_NO_CODE_SIGNING,
		           "signer certificate lacks the codeSigning extended key usage");
		goto out;
	}
	r->status = NXP_SIGSTATUS_OK;
	r->reason[0] = '\0';
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	BIO_free_all(in);
	sk_X509_free(signers);
	ASN1_OBJECT_free(spc);
	ASN1_OBJECT_free(peimg);
	nxpi_SpcIndirectDataContent_free(idc);
	PKCS7_free(p7);
}

int nxp_sig_verify(const uint8_t *data, size_t len, const nxp_image *img,
                   const nxp_trust *trust, nxp_sig_result *res, size_t max,
                   size_t *nres, nxp_error *err)
{
	*nres = 0;
	nxp_sign_layout lay;
	int rc = nxp_sign_layout_of(data, len, img, &lay, err);
	if (rc)
		return rc;
	if (!lay.has_table)
		return nxp_fail(err, NXP_E_SIGNATURE, "image is not signed (no certificate table)");
	nxp_cert_entry certs[NXP_MAX_CERT_ENTRIES];
	size_t n = 0;
	nxp_error terr;
	nxp_error_clear(&terr);
	int trc = nxp_cert_table_read(data, len, img, certs, NXP_ARRAY_LEN(certs), &n, &terr);
	struct digest_cache *dc = calloc(1, sizeof(*dc));
	if (!dc)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	int first_bad = -1;
	for (size_t i = 0; i < n && *nres < max; i++) {
		nxp_sig_result *r = &res[(*nres)++];
		memset(r, 0, sizeof(*r));
		r->index = (uint32_t)i;
		r->offset = certs[i].offset;
		r->length = certs[i].length;
		verify_entry(data, &lay, &certs[i], trust, dc, r);
		if (r->status != NXP_SIGSTATUS_OK && first_bad < 0)
			first_bad = (int)(*nres - 1);
	}
	free(dc);
	/* A malformed entry after the good ones is reported as an entry of its own. */
	if (trc && *nres < max) {
		nxp_sig_result *r = &res[(*nres)++];
		memset(r, 0, sizeof(*r));
		r->index = (uint32_t)n;
		set_status(r, NXP_SIGSTATUS_BAD_ENTRY, "%s", terr.msg);
		if (first_bad < 0)
			first_bad = (int)(*nres - 1);
	}
	if (first_bad >= 0)
		return nxp_fail(err, NXP_E_SIGNATURE, "signature %u: %s", res[first_bad].index,
		                res[first_bad].reason);
	if (*nres == 0)
		return nxp_fail(err, NXP_E_SIGNATURE, "image is not signed (empty certificate "
		                "table)");
	return NXP_OK;
}
