/* SPDX-License-Identifier: Apache-2.0 */
/* What a replacement keeps of the file it replaces: owner, group, mode and
 * every extended attribute the process can read (user.*, security.*,
 * trusted.* as root, system.posix_acl_access). See docs/pipeline.md, "What
 * in-place preserves". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "write/internal.h"

#define XATTR_LIST_MAX_BYTES 65536
#define XATTR_VALUE_MAX_BYTES 65536

void nxpi_write_warn(nxp_apply_result *res, const char *fmt, ...)
{
	if (res->nwarnings >= NXP_MAX_WRITE_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->warnings[res->nwarnings++], sizeof(res->warnings[0]), fmt, ap);
	va_end(ap);
}

/* A problem keeping metadata: an error, or a warning when the caller
 * accepts the loss. */
static int loss(int allow, nxp_apply_result *res, nxp_error *err, const char *what, int e)
{
	if (allow) {
		nxpi_write_warn(res, "%s: %s (--allow-metadata-loss)", what, strerror(e));
		return NXP_OK;
	}
	return nxp_fail(err, NXP_E_METADATA,
	                "%s: %s; the file is left as it is (--allow-metadata-loss replaces it "
	                "anyway, without setuid/setgid when the owner changes)",
	                what, strerror(e));
}

/* The names in a list from flistxattr, into a malloc'd buffer. */
static ssize_t list_names(int fd, char **out)
{
	*out = NULL;
	ssize_t n = flistxattr(fd, NULL, 0);
	if (n <= 0)
		return n;
	if (n > XATTR_LIST_MAX_BYTES)
		n = XATTR_LIST_MAX_BYTES;
	char *b = malloc((size_t)n);
	if (!b)
		return -1;
	n = flistxattr(fd, b, (size_t)n);
	if (n < 0) {
		free(b);
		return -1;
	}
	*out = b;
	return n;
}

static int has_name(const char *list, ssize_t n, const char *name)
{
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		if (!strcmp(list + i, name))
			return 1;
	return 0;
}

static int copy_xattrs(int src, int dst, int allow, nxp_apply_result *res, nxp_error *err)
{
	char *names = NULL, *mine = NULL;
	ssize_t n = list_names(src, &names);
	if (n < 0) {
		int e = errno;
		if (e == ENOTSUP)
			return NXP_OK; /* a filesystem without xattrs: nothing to keep */
		return loss(allow, res, err, "cannot list its extended attributes", e);
	}
	int rc = NXP_OK;
	uint8_t *val = malloc(XATTR_VALUE_MAX_BYTES);
	if (!val) {
		free(names);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	for (ssize_t i = 0; !rc && i < n; i += (ssize_t)strlen(names + i) + 1) {
		const char *name = names + i;
		char what[320];
		ssize_t vl = fgetxattr(src, name, val, XATTR_VALUE_MAX_BYTES);
		if (vl < 0) {
			snprintf(what, sizeof(what), "cannot read its extended attribute %s", name);
			rc = loss(allow, res, err, what, errno);
			continue;
		}
		if (fsetxattr(dst, name, val, (size_t)vl, 0) != 0) {
			snprintf(what, sizeof(what), "cannot keep its extended attribute %s", name);
			rc = loss(allow, res, err, what, errno);
		}
	}
	/* An access ACL the new file inherited from a default ACL, which the
	 * original did not have, would change who may access it. */
	ssize_t m = rc ? 0 : list_names(dst, &mine);
	if (m > 0 && has_name(mine, m, "system.posix_acl_access") &&
	    !has_name(names, n, "system.posix_acl_access") &&
	    fremovexattr(dst, "system.posix_acl_access") != 0)
		rc = loss(allow, res, err, "cannot drop an inherited access ACL", errno);
	free(mine);
	free(val);
	free(names);
	return rc;
}

int nxpi_write_meta(int dst_fd, const nxp_file *src, int in_place, int allow_loss,
                   nxp_apply_result *res, nxp_error *err)
{
	struct stat st;
	mode_t want = src->mode ? src->mode & 07777 : 0644;
	if (fstat(dst_fd, &st) != 0)
		return nxp_fail(err, NXP_E_IO, "cannot stat the temporary file: %s", strerror(errno));
	int rc;
	if (in_place) {
		if ((st.st_uid != src->uid || st.st_gid != src->gid) &&
		    fchown(dst_fd, src->uid, src->gid) != 0) {
			char what[160];
			snprintf(what, sizeof(what), "cannot keep its owner and group %u:%u",
			         (unsigned)src->uid, (unsigned)src->gid);
			if ((rc = loss(allow_loss, res, err, what, errno)))
				return rc;
		}
		if (src->fd >= 0 && (rc = copy_xattrs(src->fd, dst_fd, allow_loss, res, err)))
			return rc;
		if (fstat(dst_fd, &st) != 0)
			return nxp_fail(err, NXP_E_IO, "cannot stat the temporary file: %s",
			                strerror(errno));
	}
	/* Never setuid/setgid for another owner or group than the input's. */
	mode_t m = want;
	if (st.st_uid != src->uid)
		m &= (mode_t)~S_ISUID;
	if (st.st_gid != src->gid)
		m &= (mode_t)~S_ISGID;
	if (fchmod(dst_fd, m) != 0)
		return nxp_fail(err, NXP_E_IO, "cannot set the mode of the temporary file: %s",
		                strerror(errno));
	if (!in_place)
		return NXP_OK;
	if (fstat(dst_fd, &st) != 0)
		return nxp_fail(err, NXP_E_IO, "cannot stat the temporary file: %s", strerror(errno));
	if ((st.st_mode & 07777) != want) {
		char what[160];
		snprintf(what, sizeof(what), "cannot keep its mode %04o (the replacement gets %04o)",
		         (unsigned)want, (unsigned)(st.st_mode & 07777));
		if ((rc = loss(allow_loss, res, err, what, EPERM)))
			return rc;
	}
	return NXP_OK;
}
