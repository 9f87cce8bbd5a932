/* SPDX-License-Identifier: Apache-2.0 */
/* Loading key material: PEM certificate chain + PEM key, or PKCS#12.
 * Passphrases come from an environment variable or a file, never from the
 * command line, and never appear in messages.
 *
 * While a signer is loaded the process is not dumpable (no core dump, no
 * ptrace by other processes of the user: PR_SET_DUMPABLE 0), from before
 * the passphrase is read until the last signer is freed. The passphrase
 * variable is overwritten and removed from the environment once read. Key
 * files are read into a buffer of our own that is cleansed afterwards (not
 * through stdio, whose buffer is freed as it is), and a private key file
 * readable by group or others gets a warning (nxp_signer_warning()). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "sign/internal.h"

#define PASS_MAX 1024
#define KEY_FILE_MAX (1 << 20)   /* a PEM key or PKCS#12 file larger is refused */

/* Signers alive, and whether the process was dumpable before the first. */
static int signers_alive;
static int was_dumpable = -1;

static void keys_loading(void)
{
	if (signers_alive++ == 0) {
		was_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
}

static void keys_gone(void)
{
	if (signers_alive > 0 && --signers_alive == 0 && was_dumpable > 0)
		prctl(PR_SET_DUMPABLE, was_dumpable, 0, 0, 0);
}

/* Read the passphrase into pass (NUL-terminated). *have = 0 when no source. */
static int read_pass(const nxp_key_source *src, char *pass, size_t cap, int *have,
                     nxp_error *err)
{
	*have = 0;
	pass[0] = '\0';
	if (src->pass_env && src->pass_file)
		return nxp_fail(err, NXP_E_USAGE, "give the passphrase by environment or by file, "
		                "not both");
	if (src->pass_env) {
		const char *v = getenv(src->pass_env);
		if (!v)
			return nxp_fail(err, NXP_E_KEY, "passphrase variable %s is not set",
			                src->pass_env);
		size_t n = strlen(v);
		if (n >= cap)
			return nxp_fail(err, NXP_E_KEY, "passphrase in %s is too long (limit %zu)",
			                src->pass_env, cap - 1);
		memcpy(pass, v, n + 1);
		/* Gone from the environment (children, /proc/PID/environ): the
		 * value is overwritten where it lies, then the variable removed. */
		OPENSSL_cleanse((char *)v, n);
		unsetenv(src->pass_env);
		*have = 1;
		return NXP_OK;
	}
	if (src->pass_file) {
		FILE *f = fopen(src->pass_file, "re");
		if (!f)
			return nxp_fail(err, NXP_E_KEY, "cannot open passphrase file %s: %s",
			                src->pass_file, strerror(errno));
		size_t n = fread(pass, 1, cap - 1, f);
		int bad = ferror(f);
		int more = !bad && n == cap - 1 && fgetc(f) != EOF;
		fclose(f);
		if (bad) {
			OPENSSL_cleanse(pass, cap);
			return nxp_fail(err, NXP_E_KEY, "cannot read passphrase file %s",
			                src->pass_file);
		}
		pass[n] = '\0';
		char *nl = strpbrk(pass, "\r\n");
		if (nl)
			*nl = '\0';
		else if (more) {
			OPENSSL_cleanse(pass, cap);
			return nxp_fail(err, NXP_E_KEY, "passphrase in %s is too long (limit %zu)",
			                src->pass_file, cap - 1);
		}
		*have = 1;
	}
	return NXP_OK;
}

struct pass_cb_data {
	const char *pass;
	int have;
	int asked;
};

/* Never prompts: without a passphrase source an encrypted key fails. */
static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	(void)rwflag;
	struct pass_cb_data *d = u;
	d->asked = 1;
	if (!d->have)
		return -1;
	size_t n = strlen(d->pass);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, d->pass, n);
	return (int)n;
}

static BIO *open_file(const char *path, const char *what, nxp_error *err)
{
	FILE *f = fopen(path, "rbe");
	if (!f) {
		nxp_fail(err, NXP_E_KEY, "cannot open %s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	BIO *b = BIO_new_fp(f, BIO_CLOSE);
	if (!b) {
		fclose(f);
		nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	return b;
}

/* A secret file (private key, PKCS#12) read whole into a buffer of ours,
 * to be given back to secret_free(), which cleanses it. Warns (in s) when
 * group or others may read it. */
typedef struct secret {
	unsigned char *data;
	size_t len;
} secret;

static void secret_free(secret *k)
{
	if (k->data) {
		OPENSSL_cleanse(k->data, k->len);
		free(k->data);
	}
	k->data = NULL;
	k->len = 0;
}

static int secret_read(nxp_signer *s, const char *path, const char *what, secret *k,
                       nxp_error *err)
{
	k->data = NULL;
	k->len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nxp_fail(err, NXP_E_KEY, "cannot open %s %s: %s", what, path, strerror(errno));
	struct stat st;
	const char *bad = NULL;
	if (fstat(fd, &st) != 0)
		bad = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		bad = "not a regular file";
	else if (st.st_size > KEY_FILE_MAX)
		bad = "larger than 1 MiB";
	if (bad) {
		close(fd);
		return nxp_fail(err, NXP_E_KEY, "cannot read %s %s: %s", what, path, bad);
	}
	if ((st.st_mode & (S_IRGRP | S_IROTH)) && !s->warning[0])
		snprintf(s->warning, sizeof(s->warning),
		         "%s %s is readable by %s (mode %04o): chmod 600 it", what, path,
		         (st.st_mode & S_IRGRP) && (st.st_mode & S_IROTH) ? "group and others"
		         : (st.st_mode & S_IRGRP)                         ? "its group"
		                                                          : "others",
		         (unsigned)(st.st_mode & 07777));
	size_t cap = (size_t)st.st_size + 1;
	k->data = malloc(cap);
	if (!k->data) {
		close(fd);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	for (;;) {
		if (k->len == cap) {
			secret_free(k);
			close(fd);
			return nxp_fail(err, NXP_E_KEY, "%s %s changed while it was read", what, path);
		}
		ssize_t r = read(fd, k->data + k->len, cap - k->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			secret_free(k);
			close(fd);
			return nxp_fail(err, NXP_E_KEY, "cannot read %s %s: %s", what, path,
			                strerror(e));
		}
		if (r == 0)
			break;
		k->len += (size_t)r;
	}
	close(fd);
	return NXP_OK;
}

static int load_pem_certs(nxp_signer *s, const char *path, nxp_error *err)
{
	BIO *b = open_file(path, "certificate file", err);
	if (!b)
		return err ? err->code : NXP_E_KEY;
	X509 *c;
	while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (!s->leaf)
			s->leaf = c;
		else if (!sk_X509_push(s->chain, c)) {
			X509_free(c);
			BIO_free(b);
			return nxp_fail(err, NXP_E_NOMEM, "out of memory");
		}
	}
	ERR_clear_error(); /* the end of the file reads as "no start line" */
	BIO_free(b);
	if (!s->leaf)
		return nxp_fail(err, NXP_E_KEY, "no PEM certificate in %s", path);
	return NXP_OK;
}

static int load_pem_key(nxp_signer *s, const char *path, struct pass_cb_data *pd,
                        nxp_error *err)
{
	secret k;
	int rc = secret_read(s, path, "key file", &k, err);
	if (rc)
		return rc;
	BIO *b = BIO_new_mem_buf(k.data, (int)k.len);
	if (!b) {
		secret_free(&k);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	s->key = PEM_read_bio_PrivateKey(b, NULL, pass_cb, pd);
	BIO_free(b);
	secret_free(&k);
	if (!s->key) {
		char r[128];
		nxpi_ossl_reason("unreadable", r, sizeof(r));
		if (pd->asked && !pd->have)
			return nxp_fail(err, NXP_E_KEY, "key %s is encrypted and no passphrase was "
			                "given (--pass-env or --pass-file)", path);
		if (pd->asked)
			return nxp_fail(err, NXP_E_KEY, "cannot decrypt key %s: wrong passphrase (%s)",
			                path, r);
		return nxp_fail(err, NXP_E_KEY, "no usable PEM private key in %s (%s)", path, r);
	}
	return NXP_OK;
}

static int load_pkcs12(nxp_signer *s, const char *path, struct pass_cb_data *pd,
                       nxp_error *err)
{
	secret k;
	int rc = secret_read(s, path, "PKCS#12 file", &k, err);
	if (rc)
		return rc;
	const unsigned char *kp = k.data;
	PKCS12 *p12 = d2i_PKCS12(NULL, &kp, (long)k.len);
	secret_free(&k);
	if (!p12) {
		ERR_clear_error();
		return nxp_fail(err, NXP_E_KEY, "%s is not a DER PKCS#12 file", path);
	}
	const char *pass = pd->have ? pd->pass : "";
	int macok = !PKCS12_mac_present(p12) || PKCS12_verify_mac(p12, pass, -1);
	if (!macok && !pd->have && PKCS12_verify_mac(p12, NULL, 0)) {
		macok = 1;
		pass = NULL;
	}
	if (!macok) {
		PKCS12_free(p12);
		ERR_clear_error();
		if (!pd->have)
			return nxp_fail(err, NXP_E_KEY, "PKCS#12 file %s needs a passphrase "
			                "(--pass-env or --pass-file)", path);
		return nxp_fail(err, NXP_E_KEY, "wrong passphrase for PKCS#12 file %s", path);
	}
	STACK_OF(X509) *ca = NULL;
	int ok = PKCS12_parse(p12, pass, &s->key, &s->leaf, &ca);
	PKCS12_free(p12);
	if (!ok) {
		char r[128];
		nxpi_ossl_reason("unreadable", r, sizeof(r));
		return nxp_fail(err, NXP_E_KEY, "cannot read PKCS#12 file %s (%s)", path, r);
	}
	for (int i = 0; ca && i < sk_X509_num(ca); i++) {
		X509 *c = sk_X509_value(ca, i);
		if (!sk_X509_push(s->chain, c)) {
			sk_X509_pop_free(ca, X509_free);
			return nxp_fail(err, NXP_E_NOMEM, "out of memory");
		}
		sk_X509_set(ca, i, NULL);
	}
	sk_X509_free(ca);
	if (!s->key || !s->leaf)
		return nxp_fail(err, NXP_E_KEY, "PKCS#12 file %s lacks a %s", path,
		                s->key ? "certificate" : "private key");
	return NXP_OK;
}

int nxp_signer_load(nxp_signer **out, const nxp_key_source *src, nxp_error *err)
{
	*out = NULL;
	int pem = src->cert_path || src->key_path;
	if (pem && src->pkcs12_path)
		return nxp_fail(err, NXP_E_USAGE, "give --cert and --key, or --pkcs12, not both");
	if (!src->pkcs12_path && (!src->cert_path || !src->key_path))
		return nxp_fail(err, NXP_E_USAGE, "key material needs --cert and --key, or --pkcs12");
	keys_loading(); /* from before the passphrase is read */
	char pass[PASS_MAX];
	int have = 0;
	int rc = read_pass(src, pass, sizeof(pass), &have, err);
	if (rc) {
		keys_gone();
		return rc;
	}
	nxp_signer *s = calloc(1, sizeof(*s));
	if (!s || !(s->chain = sk_X509_new_null())) {
		free(s);
		OPENSSL_cleanse(pass, sizeof(pass));
		keys_gone();
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	struct pass_cb_data pd = {pass, have, 0};
	if (src->pkcs12_path)
		rc = load_pkcs12(s, src->pkcs12_path, &pd, err);
	else {
		rc = load_pem_certs(s, src->cert_path, err);
		if (!rc)
			rc = load_pem_key(s, src->key_path, &pd, err);
	}
	OPENSSL_cleanse(pass, sizeof(pass));
	if (!rc && !X509_check_private_key(s->leaf, s->key)) {
		ERR_clear_error();
		rc = nxp_fail(err, NXP_E_KEY, "the private key does not match the leaf "
		              "certificate (the first certificate of %s)",
		              src->pkcs12_path ? src->pkcs12_path : src->cert_path);
	}
	if (!rc) {
		nxpi_name_oneline(X509_get_subject_name(s->leaf), s->subject, sizeof(s->subject));
		uint32_t xku = X509_get_extended_key_usage(s->leaf);
		if (!(X509_get_extension_flags(s->leaf) & EXFLAG_XKUSAGE) || !(xku & XKU_CODE_SIGN))
			rc = nxp_fail(err, NXP_E_KEY, "certificate %s lacks the codeSigning extended "
			              "key usage", s->subject);
	}
	ERR_clear_error();
	if (rc) {
		nxp_signer_free(s);
		return rc;
	}
	*out = s;
	return NXP_OK;
}

void nxp_signer_free(nxp_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->key); /* OpenSSL clears a private key's numbers as it frees them */
	X509_free(s->leaf);
	sk_X509_pop_free(s->chain, X509_free);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
	keys_gone();
}

const char *nxp_signer_warning(const nxp_signer *s)
{
	return s && s->warning[0] ? s->warning : NULL;
}

const char *nxp_signer_subject(const nxp_signer *s)
{
	return s ? s->subject : "";
}
