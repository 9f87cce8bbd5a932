/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 in hex, of buffers and of regular files, and directory syncs. */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "write/internal.h"
#include "util/file.h"

void nxpi_write_hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int nxpi_write_sha256_hex(const uint8_t *buf, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -1;
	nxpi_write_hex(md, 32, hex);
	return 0;
}

int nxpi_write_sha256_file(const char *path, char hex[65], nxp_file *keep, nxp_error *err)
{
	nxp_file f;
	if (nxp_file_load(&f, path, err))
		return -1;
	int rc = nxpi_write_sha256_hex(f.data, f.len, hex);
	if (!rc && !nxpi_file_intact(&f)) {
		nxp_fail(err, NXP_E_CHANGED, "file changed while it was read");
		rc = -1;
	} else if (rc) {
		nxp_fail(err, NXP_E_INTERNAL, "sha-256 failed");
	}
	if (keep && !rc) {
		*keep = f; /* the caller unloads it */
		return 0;
	}
	nxp_file_unload(&f);
	return rc;
}

void nxpi_write_sync_dir(const char *path)
{
	char d[PATH_MAX];
	snprintf(d, sizeof(d), "%s", path);
	int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
}
