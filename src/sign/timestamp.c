/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 3161 timestamping over a minimal HTTP/1.0 client (plain sockets, no
 * TLS): the request imprints the SignerInfo's signature value, the reply's
 * status, nonce and imprint are checked, and the token is added as the
 * unsigned attribute 1.3.6.1.4.1.311.3.3.1. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ts.h>

#include "sign/internal.h"

#define TS_MAX_REPLY (1 << 20)

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The URL as messages show it: any user:password@ replaced by "***@", so
 * credentials never reach a terminal or a log. Works on URLs that do not
 * parse, too. */
void nxpi_url_redact(const char *url, char *out, size_t outlen)
{
	const char *auth = strstr(url, "://");
	auth = auth ? auth + 3 : url;
	size_t alen = strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *c = auth; c < auth + alen; c++)
		if (*c == '@')
			at = c;
	if (!at)
		snprintf(out, outlen, "%s", url);
	else
		snprintf(out, outlen, "%.*s***%s", (int)(auth - url), url, at);
}

/* Split http://[userinfo@]host[:port]/path; userinfo (NUL when none) is
 * still percent-encoded. */
static int parse_url(const char *url, char *user, size_t ulen, char *host, size_t hlen,
                     char *port, size_t plen, const char **path)
{
	if (strncmp(url, "http://", 7) != 0)
		return 0;
	const char *h = url + 7;
	size_t alen = strcspn(h, "/?#");
	const char *at = NULL;
	for (const char *c = h; c < h + alen; c++)
		if (*c == '@')
			at = c;
	user[0] = '\0';
	if (at) {
		if ((size_t)(at - h) >= ulen)
			return 0;
		memcpy(user, h, (size_t)(at - h));
		user[at - h] = '\0';
		h = at + 1;
	}
	const char *end = h + strcspn(h, ":/?#");
	if (end == h || (size_t)(end - h) >= hlen)
		return 0;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	snprintf(port, plen, "80");
	if (*end == ':') {
		const char *pe = end + 1 + strcspn(end + 1, "/?#");
		if (pe == end + 1 || (size_t)(pe - end - 1) >= plen)
			return 0;
		memcpy(port, end + 1, (size_t)(pe - end - 1));
		port[pe - end - 1] = '\0';
		end = pe;
	}
	*path = *end == '/' ? end : "/";
	return *end == '/' || !*end;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* "Authorization: Basic ...\r\n" for percent-encoded userinfo, into out.
 * Returns 0 when it does not fit or the encoding is bad. */
static int basic_auth(const char *user, char *out, size_t outlen)
{
	char dec[256];
	size_t n = 0;
	for (const char *c = user; *c; c++) {
		int ch = (unsigned char)*c;
		if (*c == '%') {
			int hi = hexval(c[1]), lo = hi < 0 ? -1 : hexval(c[2]);
			if (lo < 0) {
				OPENSSL_cleanse(dec, sizeof(dec));
				return 0;
			}
			ch = hi * 16 + lo;
			c += 2;
		}
		if (n + 1 >= sizeof(dec)) {
			OPENSSL_cleanse(dec, sizeof(dec));
			return 0;
		}
		dec[n++] = (char)ch;
	}
	static const char head[] = "Authorization: Basic ";
	size_t need = sizeof(head) - 1 + 4 * ((n + 2) / 3) + 3;
	if (need > outlen) {
		OPENSSL_cleanse(dec, sizeof(dec));
		return 0;
	}
	memcpy(out, head, sizeof(head) - 1);
	int b = EVP_EncodeBlock((unsigned char *)out + sizeof(head) - 1, (unsigned char *)dec,
	                        (int)n);
	OPENSSL_cleanse(dec, sizeof(dec));
	memcpy(out + sizeof(head) - 1 + b, "\r\n", 3);
	return 1;
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
	int64_t left = deadline - now_ms();
	if (left <= 0)
		return 0;
	struct pollfd p = {fd, ev, 0};
	int r;
	do
		r = poll(&p, 1, (int)left);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

/* POST body to url; *reply is malloc'd (the HTTP body). Credentials in the
 * URL (http://user:password@host/) go out as HTTP Basic authentication and
 * never into a message. */
/* long-function: a minimal HTTP client (connect, send, read under one deadline, parse) with one
 * cleanup path. */
static int http_post(const char *url, const uint8_t *body, size_t blen, int timeout_ms,
                     uint8_t **reply, size_t *rlen, nxp_error *err)
{
	char host[256], port[16], user[256], shown[300];
	const char *path;
	nxpi_url_redact(url, shown, sizeof(shown));
	if (!parse_url(url, user, sizeof(user), host, sizeof(host), port, sizeof(port), &path)) {
		OPENSSL_cleanse(user, sizeof(user));
		return nxp_fail(err, NXP_E_USAGE,
		                "timestamp url %s is not http://[user:password@]host[:port]/path",
		                shown);
	}
	char auth[400] = "";
	if (user[0] && !basic_auth(user, auth, sizeof(auth))) {
		OPENSSL_cleanse(user, sizeof(user));
		return nxp_fail(err, NXP_E_USAGE, "timestamp url %s: bad or too long credentials",
		                shown);
	}
	OPENSSL_cleanse(user, sizeof(user));
	int64_t deadline = now_ms() + timeout_ms;
	struct addrinfo hints = {0}, *ai = NULL;
	hints.ai_socktype = SOCK_STREAM;
	int gr = getaddrinfo(host, port, &hints, &ai);
	if (gr != 0)
		return nxp_fail(err, NXP_E_SIGN, "timestamp server %s: %s", host, gai_strerror(gr));
	int fd = -1;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		            a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
			close(fd);
			fd = -1;
			continue;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (!wait_fd(fd, POLLOUT, deadline) ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return nxp_fail(err, NXP_E_SIGN, "cannot connect to timestamp server %s:%s", host,
		                port);
	char head[1400];
	int hn = snprintf(head, sizeof(head),
	                  "POST %s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/timestamp-query\r\n"
	                  "Accept: application/timestamp-reply\r\nContent-Length: %zu\r\n"
	                  "%sConnection: close\r\n\r\n", path, host, blen, auth);
	OPENSSL_cleanse(auth, sizeof(auth));
	if (hn < 0 || (size_t)hn >= sizeof(head)) {
		OPENSSL_cleanse(head, sizeof(head));
		close(fd);
		return nxp_fail(err, NXP_E_USAGE, "timestamp url too long");
	}
	const uint8_t *parts[2] = {(const uint8_t *)head, body};
	size_t lens[2] = {(size_t)hn, blen};
	int send_errno = 0;
	for (int i = 0; i < 2 && send_errno == 0; i++) {
		size_t off = 0;
		while (off < lens[i] && send_errno == 0) {
			if (!wait_fd(fd, POLLOUT, deadline)) {
				send_errno = ETIMEDOUT;
				break;
			}
			ssize_t w = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL);
			if (w < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (w < 0)
				send_errno = errno;
			else
				off += (size_t)w;
		}
	}
	OPENSSL_cleanse(head, sizeof(head)); /* it may hold the credentials */
	if (send_errno == ETIMEDOUT) {
		close(fd);
		return nxp_fail(err, NXP_E_SIGN, "timestamp server %s: timed out sending", host);
	}
	if (send_errno) {
		close(fd);
		return nxp_fail(err, NXP_E_SIGN, "timestamp server %s: send: %s", host,
		                strerror(send_errno));
	}
	size_t cap = 1 << 14, len = 0;
	uint8_t *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	for (;;) {
		if (len == cap) {
			if (cap >= TS_MAX_REPLY) {
				free(buf);
				close(fd);
				return nxp_fail(err, NXP_E_SIGN, "timestamp reply larger than %d bytes",
				                TS_MAX_REPLY);
			}
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				close(fd);
				return nxp_fail(err, NXP_E_NOMEM, "out of memory");
			}
			buf = nb;
			cap *= 2;
		}
		if (!wait_fd(fd, POLLIN, deadline)) {
			free(buf);
			close(fd);
			return nxp_fail(err, NXP_E_SIGN, "timestamp server %s: timed out after %d ms",
			                host, timeout_ms);
		}
		ssize_t r = recv(fd, buf + len, cap - len, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return nxp_fail(err, NXP_E_SIGN, "timestamp server %s: recv: %s", host,
			                strerror(e));
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	/* Status line and headers. */
	int status = 0;
	uint8_t *hdr_end = memmem(buf, len, "\r\n\r\n", 4);
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || !hdr_end ||
	    sscanf((const char *)buf + 8, " %3d", &status) != 1) {
		free(buf);
		return nxp_fail(err, NXP_E_SIGN, "timestamp server %s: not an HTTP reply", host);
	}
	if (status != 200) {
		free(buf);
		return nxp_fail(err, NXP_E_SIGN, "timestamp server %s: HTTP status %d", host, status);
	}
	size_t off = (size_t)(hdr_end + 4 - buf);
	memmove(buf, buf + off, len - off);
	*reply = buf;
	*rlen = len - off;
	return NXP_OK;
}

/* long-function: request, response and token checks of RFC 3161 in order, with one cleanup path. */
int nxpi_timestamp_add(PKCS7_SIGNER_INFO *si, nxp_digest_alg alg, const char *url,
                      int timeout_ms, nxp_error *err)
{
	int rc = NXP_OK;
	char r[128];
	uint8_t imprint[NXP_DIGEST_MAX], *req_der = NULL, *reply = NULL, *tok_der = NULL;
	unsigned int ilen = 0;
	size_t rlen = 0;
	TS_REQ *req = NULL;
	TS_MSG_IMPRINT *mi = NULL;
	X509_ALGOR *algo = NULL;
	ASN1_INTEGER *nonce = NULL;
	TS_RESP *resp = NULL;
	BIGNUM *bn = NULL;
	ASN1_OBJECT *oid = NULL;
	const EVP_MD *md = nxpi_sign_md(alg);
	char shown[300];
	nxpi_url_redact(url, shown, sizeof(shown));
	const ASN1_OCTET_STRING *sig = si->enc_digest;
	if (!md || !sig || !EVP_Digest(sig->data, (size_t)sig->length, imprint, &ilen, md, NULL)) {
		rc = nxp_fail(err, NXP_E_SIGN, "cannot hash the signature for timestamping");
		goto out;
	}
	uint8_t nbytes[8];
	req = TS_REQ_new();
	mi = TS_MSG_IMPRINT_new();
	algo = X509_ALGOR_new();
	if (!req || !mi || !algo || RAND_bytes(nbytes, sizeof(nbytes)) != 1 ||
	    !(bn = BN_bin2bn(nbytes, sizeof(nbytes), NULL)) || !(nonce = BN_to_ASN1_INTEGER(bn, NULL)) ||
	    !X509_ALGOR_set0(algo, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL) ||
	    !TS_MSG_IMPRINT_set_algo(mi, algo) || !TS_MSG_IMPRINT_set_msg(mi, imprint, (int)ilen) ||
	    !TS_REQ_set_version(req, 1) || !TS_REQ_set_msg_imprint(req, mi) ||
	    !TS_REQ_set_nonce(req, nonce) || !TS_REQ_set_cert_req(req, 1)) {
		rc = nxp_fail(err, NXP_E_SIGN, "cannot build the timestamp request: %s",
		              nxpi_ossl_reason("openssl error", r, sizeof(r)));
		goto out;
	}
	unsigned char *p = NULL;
	int qlen = i2d_TS_REQ(req, &p);
	if (qlen <= 0) {
		rc = nxp_fail(err, NXP_E_SIGN, "cannot encode the timestamp request");
		goto out;
	}
	req_der = p;
	rc = http_post(url, req_der, (size_t)qlen, timeout_ms, &reply, &rlen, err);
	if (rc)
		goto out;
	const unsigned char *q = reply;
	resp = d2i_TS_RESP(NULL, &q, (long)rlen);
	if (!resp) {
		rc = nxp_fail(err, NXP_E_SIGN, "timestamp reply from %s is not a TimeStampResp", shown);
		goto out;
	}
	long st = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp)));
	if (st != 0 && st != 1) {
		rc = nxp_fail(err, NXP_E_SIGN, "timestamp server %s refused the request (status %ld)",
		              shown, st);
		goto out;
	}
	TS_TST_INFO *info = TS_RESP_get_tst_info(resp);
	PKCS7 *token = TS_RESP_get_token(resp);
	if (!info || !token) {
		rc = nxp_fail(err, NXP_E_SIGN, "timestamp reply from %s carries no token", shown);
		goto out;
	}
	const ASN1_INTEGER *rn = TS_TST_INFO_get_nonce(info);
	if (!rn || ASN1_INTEGER_cmp(rn, nonce) != 0) {
		rc = nxp_fail(err, NXP_E_SIGN, "timestamp reply from %s has the wrong nonce", shown);
		goto out;
	}
	TS_MSG_IMPRINT *rmi = TS_TST_INFO_get_msg_imprint(info);
	ASN1_OCTET_STRING *rmsg = rmi ? TS_MSG_IMPRINT_get_msg(rmi) : NULL;
	X509_ALGOR *ralg = rmi ? TS_MSG_IMPRINT_get_algo(rmi) : NULL;
	const ASN1_OBJECT *raobj = NULL;
	if (ralg)
		X509_ALGOR_get0(&raobj, NULL, NULL, ralg);
	if (!rmsg || !raobj || OBJ_obj2nid(raobj) != EVP_MD_get_type(md) ||
	    (unsigned)ASN1_STRING_length(rmsg) != ilen ||
	    memcmp(ASN1_STRING_get0_data(rmsg), imprint, ilen) != 0) {
		rc = nxp_fail(err, NXP_E_SIGN, "timestamp reply from %s imprints other data", shown);
		goto out;
	}
	p = NULL;
	int tlen = i2d_PKCS7(token, &p);
	if (tlen <= 0) {
		rc = nxp_fail(err, NXP_E_SIGN, "cannot encode the timestamp token");
		goto out;
	}
	tok_der = p;
	oid = OBJ_txt2obj(NXP_OID_RFC3161_TOKEN, 1);
	if (!oid || !X509at_add1_attr_by_OBJ(&si->unauth_attr, oid, V_ASN1_SEQUENCE, tok_der, tlen))
		rc = nxp_fail(err, NXP_E_SIGN, "cannot add the timestamp token");
out:
	ERR_clear_error();
	ASN1_OBJECT_free(oid);
	OPENSSL_free(tok_der);
	OPENSSL_free(req_der);
	free(reply);
	TS_RESP_free(resp);
	ASN1_INTEGER_free(nonce);
	BN_free(bn);
	X509_ALGOR_free(algo);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(req);
	return rc;
}
