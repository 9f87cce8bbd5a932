/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to src/sign: the Authenticode ASN.1 types (OpenSSL templates),
 * the signer and trust objects, and shared helpers. */
#ifndef NXP_SIGN_INTERNAL_H
#define NXP_SIGN_INTERNAL_H

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "nxpatch/sign.h"

/* OIDs. */
#define NXP_OID_SPC_INDIRECT_DATA "1.3.6.1.4.1.311.2.1.4"
#define NXP_OID_SPC_PE_IMAGE_DATA "1.3.6.1.4.1.311.2.1.15"
#define NXP_OID_SPC_STATEMENT_TYPE "1.3.6.1.4.1.311.2.1.11"
#define NXP_OID_SPC_SP_OPUS_INFO "1.3.6.1.4.1.311.2.1.12"
#define NXP_OID_SPC_INDIVIDUAL "1.3.6.1.4.1.311.2.1.21"
#define NXP_OID_SPC_COMMERCIAL "1.3.6.1.4.1.311.2.1.22"
#define NXP_OID_NESTED_SIGNATURE "1.3.6.1.4.1.311.2.4.1"
#define NXP_OID_RFC3161_TOKEN "1.3.6.1.4.1.311.3.3.1"

/* SpcString ::= CHOICE { unicode [0] IMPLICIT BMPString, ascii [1] IMPLICIT IA5String } */
typedef struct {
	int type;
	union {
		ASN1_BMPSTRING *unicode;
		ASN1_IA5STRING *ascii;
	} value;
} nxpi_SpcString;
DECLARE_ASN1_FUNCTIONS(nxpi_SpcString)

/* SpcSerializedObject ::= SEQUENCE { classId OCTET STRING, serializedData OCTET STRING } */
typedef struct {
	ASN1_OCTET_STRING *classId;
	ASN1_OCTET_STRING *serializedData;
} nxpi_SpcSerializedObject;
DECLARE_ASN1_FUNCTIONS(nxpi_SpcSerializedObject)

/* SpcLink ::= CHOICE { url [0] IMPLICIT IA5String, moniker [1] IMPLICIT
 * SpcSerializedObject, file [2] EXPLICIT SpcString } */
typedef struct {
	int type;
	union {
		ASN1_IA5STRING *url;
		nxpi_SpcSerializedObject *moniker;
		nxpi_SpcString *file;
	} value;
} nxpi_SpcLink;
DECLARE_ASN1_FUNCTIONS(nxpi_SpcLink)

/* SpcPeImageData ::= SEQUENCE { flags BIT STRING, file [0] EXPLICIT SpcLink OPTIONAL } */
typedef struct {
	ASN1_BIT_STRING *flags;
	nxpi_SpcLink *file;
} nxpi_SpcPeImageData;
DECLARE_ASN1_FUNCTIONS(nxpi_SpcPeImageData)

/* SpcAttributeTypeAndOptionalValue ::= SEQUENCE { type OID, value ANY OPTIONAL } */
typedef struct {
	ASN1_OBJECT *type;
	ASN1_TYPE *value;
} nxpi_SpcAttributeTypeAndOptionalValue;
DECLARE_ASN1_FUNCTIONS(nxpi_SpcAttributeTypeAndOptionalValue)

/* DigestInfo ::= SEQUENCE { digestAlgorithm AlgorithmIdentifier, digest OCTET STRING } */
typedef struct {
	X509_ALGOR *digestAlgorithm;
	ASN1_OCTET_STRING *digest;
} nxpi_DigestInfo;
DECLARE_ASN1_FUNCTIONS(nxpi_DigestInfo)

/* SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue,
 * messageDigest DigestInfo } */
typedef struct {
	nxpi_SpcAttributeTypeAndOptionalValue *data;
	nxpi_DigestInfo *messageDigest;
} nxpi_SpcIndirectDataContent;
DECLARE_ASN1_FUNCTIONS(nxpi_SpcIndirectDataContent)

/* SpcSpOpusInfo ::= SEQUENCE { programName [0] EXPLICIT SpcString OPTIONAL,
 * moreInfo [1] EXPLICIT SpcLink OPTIONAL } */
typedef struct {
	nxpi_SpcString *programName;
	nxpi_SpcLink *moreInfo;
} nxpi_SpcSpOpusInfo;
DECLARE_ASN1_FUNCTIONS(nxpi_SpcSpOpusInfo)

/* SpcStatementType ::= SEQUENCE OF OBJECT IDENTIFIER (we write one) */
typedef struct {
	ASN1_OBJECT *type;
} nxpi_SpcStatementType;
DECLARE_ASN1_FUNCTIONS(nxpi_SpcStatementType)

/* The loaded key material. */
struct nxp_signer {
	EVP_PKEY *key;
	X509 *leaf;
	STACK_OF(X509) *chain;      /* intermediates (and root) after the leaf */
	char subject[NXP_SIG_TEXT_MAX];
	char warning[NXP_ERROR_MSG_MAX]; /* "" or why the key file is at risk */
};

struct nxp_trust {
	X509_STORE *store;
};

/* Internal helpers. */
const EVP_MD *nxpi_sign_md(nxp_digest_alg alg);
nxp_digest_alg nxpi_sign_alg_of_nid(int nid);
/* The first OpenSSL error reason (or fallback), and the queue cleared. */
const char *nxpi_ossl_reason(const char *fallback, char *buf, size_t buflen);
/* One-line RFC 2253 name into buf. */
void nxpi_name_oneline(const X509_NAME *name, char *buf, size_t buflen);
/* ASN1_TIME to unix seconds: 1 on success. */
int nxpi_asn1_time_unix(const ASN1_TIME *t, int64_t *out);

/* Digest of an image given explicit ranges (internal: also used on buffers
 * built by the signer, whose layout is known without parsing). */
int nxpi_digest_ranges(const uint8_t *data, size_t content_len, uint32_t checksum_offset,
                      uint32_t cert_dir_offset, nxp_digest_alg alg, uint8_t *out,
                      size_t *outlen, nxp_error *err);

/* url with any user:password@ replaced by "***@", for messages. */
void nxpi_url_redact(const char *url, char *out, size_t outlen);

/* RFC 3161: fetch a token over http for the signature value of si and add it
 * as the unsigned attribute 1.3.6.1.4.1.311.3.3.1. Credentials in the url
 * (http://user:password@host/) are sent as HTTP Basic authentication. */
int nxpi_timestamp_add(PKCS7_SIGNER_INFO *si, nxp_digest_alg alg, const char *url,
                      int timeout_ms, nxp_error *err);

#endif
