/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch: Authenticode for PE images: the image digest, signing, stripping
 * and verifying signatures.
 *
 * Every function takes the image bytes and the nxp_image that nxp_pe_parse()
 * made of them (or of a buffer with the same layout: header edits that keep
 * every offset may be made after parsing). OpenSSL types stay hidden behind
 * the opaque nxp_signer and nxp_trust. Convention: 0 (NXP_OK) on success,
 * otherwise an nxp_code with err filled. Key material and passphrases never
 * appear in messages. */
#ifndef NXPATCH_SIGN_H
#define NXPATCH_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include "nxpatch/error.h"
#include "nxpatch/pe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Digest algorithms ------------------------------------------------- */

typedef enum nxp_digest_alg {
	NXP_DIGEST_NONE = 0,
	NXP_DIGEST_SHA1 = 1,
	NXP_DIGEST_SHA256 = 2,      /* the default */
	NXP_DIGEST_SHA384 = 3,
	NXP_DIGEST_SHA512 = 4
} nxp_digest_alg;

#define NXP_DIGEST_MAX 64           /* bytes in the largest digest */

/* "sha1", "sha256", "sha384", "sha512" (also "sha-256" etc., any case).
 * Returns 1 and sets *alg when known. */
int nxp_digest_lookup(const char *name, nxp_digest_alg *alg);
const char *nxp_digest_name(nxp_digest_alg alg);   /* "sha256", or "unknown" */
size_t nxp_digest_size(nxp_digest_alg alg);        /* 0 when unknown */

/* ---- Layout ------------------------------------------------------------ */

/* Where the parts Authenticode treats specially lie in an image. */
typedef struct nxp_sign_layout {
	uint32_t checksum_offset;   /* file offset of CheckSum */
	uint32_t cert_dir_offset;   /* file offset of directory entry 4, 0 = none */
	int has_table;              /* a certificate table is present (size > 0) */
	uint32_t table_offset;      /* where it starts (== content_len) */
	uint32_t table_size;
	size_t content_len;         /* bytes before the table: what is hashed, less
	                               the CheckSum and directory entry */
	size_t unsigned_len;        /* content_len padded to 8: the length of the
	                               image prepared for signing */
} nxp_sign_layout;

/* Compute the layout of data/len, parsed as img. Fails with NXP_E_CERT_TABLE
 * when the certificate table is not at the very end of the file or lies
 * over the headers. */
int nxp_sign_layout_of(const uint8_t *data, size_t len, const nxp_image *img,
                       nxp_sign_layout *lay, nxp_error *err);

/* The image prepared for signing, malloc'd into *out: truncated at the
 * certificate table, directory entry 4 zeroed, zero-padded to a multiple of 8.
 * The CheckSum is left as it is (the digest skips it). */
int nxp_sign_unsigned_image(const uint8_t *data, size_t len, const nxp_image *img,
                            uint8_t **out, size_t *outlen, nxp_error *err);

/* ---- Digest ------------------------------------------------------------ */

/* The Authenticode digest of data/len: the whole file but CheckSum, directory
 * entry 4 and the certificate table (which must be at the end). One pass
 * through OpenSSL EVP. out must hold NXP_DIGEST_MAX bytes; *outlen gets the
 * digest size. */
int nxp_authenticode_digest(const uint8_t *data, size_t len, const nxp_image *img,
                            nxp_digest_alg alg, uint8_t *out, size_t *outlen,
                            nxp_error *err);

/* ---- Certificate table ------------------------------------------------- */

#define NXP_WIN_CERT_REVISION 0x0200
#define NXP_WIN_CERT_TYPE_PKCS 0x0002
#define NXP_WIN_CERT_HEADER 8

/* Walk the certificate table of data/len (as located by img) into certs
 * (at most max entries), with the reader's walker (the same structural rules
 * as img->certs), then check each entry is one signature code reads. A
 * malformed entry yields NXP_E_CERT_ENTRY naming it (dwLength of 8 or less
 * or past the table, a revision other than 0x0200, a type other than 2, more
 * than max entries); a table out of the file NXP_E_CERT_TABLE. *n is the
 * number of good entries before the first error. An image without a table
 * gives *n = 0. */
int nxp_cert_table_read(const uint8_t *data, size_t len, const nxp_image *img,
                        nxp_cert_entry *certs, size_t max, size_t *n, nxp_error *err);

/* ---- Strip ------------------------------------------------------------- */

/* Remove the certificate table: truncate at it, zero directory entry 4 and
 * recompute CheckSum. *out is malloc'd. Refuses with NXP_E_CERT_TABLE when
 * the table is not at the end of the file. An image without a table is
 * copied unchanged (*stripped = 0). */
int nxp_sign_strip(const uint8_t *data, size_t len, const nxp_image *img,
                   uint8_t **out, size_t *outlen, int *stripped, nxp_error *err);

/* ---- Key material ------------------------------------------------------ */

typedef struct nxp_signer nxp_signer;

typedef struct nxp_key_source {
	const char *cert_path;      /* PEM: leaf first, then intermediates */
	const char *key_path;       /* PEM private key, possibly encrypted */
	const char *pkcs12_path;    /* instead of cert_path + key_path */
	const char *pass_env;       /* name of an environment variable ... */
	const char *pass_file;      /* ... or a file whose first line is the passphrase */
} nxp_key_source;

/* Load a signer. NXP_E_KEY for every key-material problem (missing or
 * unreadable file, no certificate, encrypted key without passphrase, wrong
 * passphrase, key not matching the leaf certificate, leaf without the
 * codeSigning extended key usage); NXP_E_USAGE for an inconsistent source.
 * Key hygiene: from the call until the last signer is freed the process is
 * not dumpable (prctl(PR_SET_DUMPABLE, 0): no core dumps, no ptrace by other
 * processes of the user); the variable pass_env names is overwritten and
 * unset once read (so a child never inherits it); key files and the
 * passphrase pass only through buffers that are cleansed. */
int nxp_signer_load(nxp_signer **out, const nxp_key_source *src, nxp_error *err);
void nxp_signer_free(nxp_signer *s);
/* NULL, or a warning to show about the loaded key material: "key file K
 * is readable by group and others (mode 0644): chmod 600 it". */
const char *nxp_signer_warning(const nxp_signer *s);
/* The leaf certificate's subject, one line (RFC 2253). */
const char *nxp_signer_subject(const nxp_signer *s);

/* ---- Signing ----------------------------------------------------------- */

typedef struct nxp_sign_opts {
	nxp_digest_alg digest;      /* NXP_DIGEST_NONE means sha256 */
	const char *program_name;   /* SpcSpOpusInfo programName, optional */
	const char *url;            /* SpcSpOpusInfo moreInfo, optional */
	int fixed_time;             /* use signing_time instead of the clock */
	int64_t signing_time;       /* unix seconds */
	int commercial;             /* statement type commercial, else individual */
	const char *timestamp_url;  /* RFC 3161 TSA, http:// only; NULL = none */
	int timestamp_timeout_ms;   /* 0 means 30000 */
} nxp_sign_opts;

/* Sign data/len (parsed as img): any existing certificate table is dropped,
 * the image padded to 8, hashed, a PKCS#7 SignedData (SpcIndirectDataContent)
 * built and appended as one WIN_CERTIFICATE (revision 0x0200, type 2, padded
 * to 8), directory entry 4 set, and CheckSum recomputed last. *out is
 * malloc'd. Errors: NXP_E_SIGN (including images with fewer than 5 data
 * directories), NXP_E_CERT_TABLE, NXP_E_NOMEM. */
int nxp_sign_image(const uint8_t *data, size_t len, const nxp_image *img,
                   const nxp_signer *signer, const nxp_sign_opts *opts,
                   uint8_t **out, size_t *outlen, nxp_error *err);

/* The signed image as parts, for a writer that copies the unchanged bytes
 * itself: data[0, content_len) with CheckSum (at img->checksum_offset) and
 * directory entry 4 (at img->cert_dir_offset) replaced by the values below,
 * followed by tail (the zero padding to 8 and the certificate table). The
 * same bytes as nxp_sign_image() produces, without a copy of the image: the
 * digest and the checksum are computed in one pass over data. tail is
 * malloc'd; free it with free(). */
typedef struct nxp_signed_parts {
	size_t content_len;         /* bytes of data that are kept */
	uint32_t checksum;          /* the new CheckSum */
	uint32_t cert_dir[2];       /* the new directory entry 4: offset, size */
	uint8_t *tail;              /* padding + WIN_CERTIFICATE, tail_len bytes */
	size_t tail_len;
} nxp_signed_parts;

/* Sign as nxp_sign_image() does, into *parts (above) instead of a copy. */
int nxp_sign_image_parts(const uint8_t *data, size_t len, const nxp_image *img,
                         const nxp_signer *signer, const nxp_sign_opts *opts,
                         nxp_signed_parts *out, nxp_error *err);


/* ---- Verification ------------------------------------------------------ */

typedef struct nxp_trust nxp_trust;

/* Trust anchors from a PEM file of certificates. NXP_E_IO / NXP_E_USAGE. */
int nxp_trust_load(nxp_trust **out, const char *pem_path, nxp_error *err);
/* Trust the signer's own certificates (leaf and chain), partial chains
 * allowed: for checking a signature just made. */
int nxp_trust_from_signer(nxp_trust **out, const nxp_signer *s, nxp_error *err);
void nxp_trust_free(nxp_trust *t);

typedef enum nxp_sig_status {
	NXP_SIGSTATUS_OK = 0,
	NXP_SIGSTATUS_BAD_ENTRY = 1,           /* WIN_CERTIFICATE header malformed */
	NXP_SIGSTATUS_BAD_PKCS7 = 2,           /* not DER PKCS#7 SignedData */
	NXP_SIGSTATUS_BAD_CONTENT = 3,         /* content not SpcIndirectDataContent */
	NXP_SIGSTATUS_BAD_DIGEST_ALG = 4,      /* DigestInfo names an unsupported algorithm */
	NXP_SIGSTATUS_DIGEST_MISMATCH = 5,     /* the image was changed after signing */
	NXP_SIGSTATUS_BAD_SIGNATURE = 6,       /* the PKCS#7 signature does not verify */
	NXP_SIGSTATUS_UNTRUSTED = 7,           /* the chain does not reach a trust anchor */
	NXP_SIGSTATUS_NO_CODE_SIGNING = 8      /* leaf lacks the codeSigning usage */
} nxp_sig_status;

const char *nxp_sig_status_name(nxp_sig_status s); /* "ok", "digest_mismatch", ... */

#define NXP_SIG_TEXT_MAX 256

typedef struct nxp_sig_result {
	uint32_t index;             /* entry number in the table */
	uint32_t offset, length;    /* the WIN_CERTIFICATE */
	nxp_sig_status status;
	char reason[NXP_SIG_TEXT_MAX];   /* "" when ok */
	char subject[NXP_SIG_TEXT_MAX];  /* signer subject, "" if unknown */
	char issuer[NXP_SIG_TEXT_MAX];
	nxp_digest_alg digest;      /* from the DigestInfo */
	int has_signing_time;
	int64_t signing_time;       /* unix seconds */
	int has_timestamp;          /* RFC 3161 token or legacy countersignature */
	int timestamp_rfc3161;      /* 1 RFC 3161, 0 legacy countersignature */
	int has_timestamp_time;
	int64_t timestamp_time;
	uint32_t nested;            /* nested signatures present (not verified) */
} nxp_sig_result;

/* Verify every WIN_CERTIFICATE of data/len (parsed as img) against trust,
 * filling res[0..*nres) (at most max). Returns NXP_OK when there is at least
 * one entry and every entry is ok; NXP_E_SIGNATURE when the image is unsigned
 * or any entry fails (the per-entry reason is in res, err names the first);
 * NXP_E_CERT_TABLE when the table is not at the end of the file. */
int nxp_sig_verify(const uint8_t *data, size_t len, const nxp_image *img,
                   const nxp_trust *trust, nxp_sig_result *res, size_t max,
                   size_t *nres, nxp_error *err);

/* Check a signature just made: data/len (parsed as img) must carry exactly
 * one signature entry, and it must verify against the signer's own chain.
 * NXP_E_VERIFY otherwise, with the reason. */
int nxp_sig_verify_own(const uint8_t *data, size_t len, const nxp_image *img,
                       const nxp_signer *signer, nxp_error *err);

#ifdef __cplusplus
}
#endif
#endif
