/* SPDX-License-Identifier: Apache-2.0 */
/* Directories beneath a root, one component at a time. See beneath.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/beneath.h"

static int bad_component(const char *c, size_t len)
{
	return len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.');
}

#ifdef NXP_TEST_HOOKS
void (*nxpi_beneath_test_after_mkdir)(int dirfd, const char *name);
#endif

int nxpi_open_parent_beneath(int root, const char *root_display, const char *rel, int create,
                            const char **leaf, nxp_error *err)
{
	if (rel[0] == '/') {
		nxp_fail(err, NXP_E_USAGE, "%s: not a relative path", rel);
		return -1;
	}
	const char *last = strrchr(rel, '/');
	last = last ? last + 1 : rel;
	if (bad_component(last, strlen(last))) {
		nxp_fail(err, NXP_E_USAGE, "%s: not a file name", rel);
		return -1;
	}
	int cur = fcntl(root, F_DUPFD_CLOEXEC, 3);
	if (cur < 0) {
		nxp_fail(err, NXP_E_IO, "%s: %s", root_display, strerror(errno));
		return -1;
	}
	const char *p = rel;
	while (p < last) {
		const char *slash = strchr(p, '/');
		size_t len = (size_t)(slash - p);
		char comp[256];
		if (bad_component(p, len) || len >= sizeof(comp)) {
			nxp_fail(err, NXP_E_USAGE, "%s: '%.*s' is not a directory name", rel,
			         (int)(len < 256 ? len : 255), p);
			close(cur);
			return -1;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		int fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comp, 0777) != 0 && errno != EEXIST) {
				nxp_fail(err, NXP_E_IO, "cannot create the directory %s/%.*s: %s",
				         root_display, (int)(slash - rel), rel, strerror(errno));
				close(cur);
				return -1;
			}
#ifdef NXP_TEST_HOOKS
			if (nxpi_beneath_test_after_mkdir)
				nxpi_beneath_test_after_mkdir(cur, comp);
#endif
			fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0) {
			int e = errno;
			struct stat st;
			if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				nxp_fail(err, NXP_E_IO,
				         "%s/%.*s is a symbolic link: the output would leave %s; not "
				         "followed", root_display, (int)(slash - rel), rel, root_display);
			else if (e == ELOOP || e == ENOTDIR)
				nxp_fail(err, NXP_E_IO, "%s/%.*s is not a directory", root_display,
				         (int)(slash - rel), rel);
			else
				nxp_fail(err, NXP_E_IO, "cannot open the directory %s/%.*s: %s",
				         root_display, (int)(slash - rel), rel, strerror(e));
			close(cur);
			return -1;
		}
		close(cur);
		cur = fd;
		p = slash + 1;
	}
	*leaf = last;
	return cur;
}
