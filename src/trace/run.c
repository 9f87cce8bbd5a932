/* SPDX-License-Identifier: Apache-2.0 */
/* Running a program under nxpatch-trace.exe (under wine64) and reading what
 * the helper recorded. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nxpatch/file.h"
#include "nxpatch/trace.h"
#include "util/bytes.h"
#include "util/worker.h"

#define HELPER_NAME "nxpatch-trace.exe"
#define DEFAULT_WINE "/usr/lib/wine/wine64"
/* Beyond the program's own timeout: a first run creates the wine prefix. */
#define GRACE_S 180
#define MAX_OUTPUT (NXP_TRACE_MAX_SITES * 512u + NXP_TRACE_MAX_MODULES * 65600u + 4096u)

#define WINE32 "/usr/lib/wine/wine"

/* The COFF Machine of the PE image at path, or -1 when it is not one. */
static int pe_machine(const char *path)
{
	unsigned char h[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, h, sizeof(h));
	close(fd);
	if (n < 0x40 || h[0] != 'M' || h[1] != 'Z')
		return -1;
	uint32_t lfanew = nxpi_le32(h + 0x3c);
	if (!NXP_FITS(lfanew, 6, (size_t)n) || memcmp(h + lfanew, "PE\0\0", 4))
		return -1;
	return nxpi_le16(h + lfanew + 4);
}

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *r = malloc(n);
	if (r)
		snprintf(r, n, "%s/%s", dir, name);
	return r;
}

char *nxp_trace_find_helper(nxp_error *err)
{
	/* The same lookup as the LIEF worker's (src/util/worker.c). */
	char path[PATH_MAX];
	if (nxpi_worker_find(HELPER_NAME, "NXPATCH_TRACE_HELPER", path, sizeof(path), err) == NXP_OK)
		return strdup(path);
	if (err)
		nxp_error_prefix(err, "the trace helper is missing (it is built when "
		                      "x86_64-w64-mingw32-gcc is present: apt-get install "
		                      "gcc-mingw-w64-x86-64, then rebuild)");
	if (err)
		err->code = NXP_E_IO;
	return NULL;
}

/* An absolute form of p (not resolving links). Caller frees. */
static char *absolute(const char *p)
{
	if (p[0] == '/')
		return strdup(p);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	return join(cwd, p);
}

/* mkdir -p with mode 0700 for the parts it creates. */
static int mkdirs(const char *path)
{
	char *p = strdup(path);
	if (!p)
		return -1;
	for (char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;
			*s = 0;
			if (mkdir(p, 0700) && errno != EEXIST) {
				free(p);
				return -1;
			}
			if (!c)
				break;
			*s = c;
		}
	}
	free(p);
	return 0;
}

/* The WINEPREFIX to use: the user's, else a private one. Caller frees. */
static char *wine_prefix(nxp_error *err)
{
	const char *env = getenv("WINEPREFIX");
	if (env && *env)
		return strdup(env);
	const char *cache = getenv("XDG_CACHE_HOME");
	char *base = NULL;
	if (cache && cache[0] == '/')
		base = strdup(cache);
	else if (getenv("HOME") && getenv("HOME")[0] == '/')
		base = join(getenv("HOME"), ".cache");
	if (!base) {
		nxp_fail(err, NXP_E_IO, "neither WINEPREFIX nor HOME is set: no place for a wine prefix");
		return NULL;
	}
	char *dir = join(base, "nxpatch/wine");
	free(base);
	if (!dir || mkdirs(dir)) {
		nxp_fail(err, NXP_E_IO, "cannot create the wine prefix %s: %s", dir ? dir : "",
		         strerror(errno));
		free(dir);
		return NULL;
	}
	struct stat st;
	if (lstat(dir, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		nxp_fail(err, NXP_E_IO, "wine prefix %s is not a directory owned by you", dir);
		free(dir);
		return NULL;
	}
	return dir;
}

/* setenv unless the user set it. */
static void default_env(const char *name, const char *value)
{
	const char *v = getenv(name);
	if (!v || !*v)
		setenv(name, value, 1);
}

static void wine_env(const char *prefix)
{
	setenv("WINEPREFIX", prefix, 1);
	default_env("WINEDEBUG", "-all");
	/* No mono or gecko installer dialogs when the prefix is created. */
	default_env("WINEDLLOVERRIDES", "mscoree,mshtml=");
}

/* A new prefix is created by `wineboot -i` first, quietly (it says it
 * cannot find the 32-bit rundll32 without wine32, and updates the config).
 * drive_c is there once wineboot has run (the registry files are written
 * later, when the wineserver exits). */
static int ensure_prefix(const char *wine, const char *prefix, nxp_error *err)
{
	char *reg = join(prefix, "drive_c");
	int have = reg && access(reg, F_OK) == 0;
	free(reg);
	if (have)
		return NXP_OK;
	fprintf(stderr, "nxpatch: creating the wine prefix %s (first use)\n", prefix);
	pid_t pid = fork();
	if (pid < 0)
		return nxp_fail(err, NXP_E_IO, "fork: %s", strerror(errno));
	if (pid == 0) {
		wine_env(prefix);
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(wine, wine, "wineboot", "-i", (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return nxp_fail(err, NXP_E_IO, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return nxp_fail(err, NXP_E_IO, "creating the wine prefix %s failed (wineboot -i)",
		                prefix);
	return NXP_OK;
}

/* long-function: pipes, spawn, the wait under a timeout and collection, with one cleanup path. */
int nxp_trace_run(const nxp_trace_opts *opt, nxp_trace *t, nxp_error *err)
{
	memset(t, 0, sizeof(*t));
	if (!opt->program || !*opt->program)
		return nxp_fail(err, NXP_E_USAGE, "no program to trace");
	if (!is_file(opt->program))
		return nxp_fail(err, NXP_E_IO, "%s: not a file", opt->program);
	if (opt->cwd) {
		struct stat st;
		if (stat(opt->cwd, &st) || !S_ISDIR(st.st_mode))
			return nxp_fail(err, NXP_E_IO, "%s: not a directory", opt->cwd);
	}
	int machine = pe_machine(opt->program);
	if (machine < 0)
		return nxp_fail(err, NXP_E_NOT_PE, "%s: not a PE image", opt->program);
	const char *wine = opt->wine ? opt->wine : getenv("NXPATCH_WINE");
	if (!wine || !*wine)
		wine = DEFAULT_WINE;
	if (access(wine, X_OK))
		return nxp_fail(err, NXP_E_IO,
		                "%s not found: tracing runs the program under wine64 "
		                "(apt-get install wine64, or set NXPATCH_WINE)",
		                wine);
	if (machine == 0x14c && !opt->wine && !getenv("NXPATCH_WINE") && access(WINE32, X_OK))
		return nxp_fail(err, NXP_E_USAGE,
		                "a 32-bit program: tracing it needs wine32, which is not "
		                "installed (%s not found; dpkg --add-architecture i386 && apt-get "
		                "install wine32)",
		                WINE32);
	char *helper = opt->helper ? strdup(opt->helper) : nxp_trace_find_helper(err);
	if (!helper)
		return err && err->code ? err->code : nxp_fail(err, NXP_E_NOMEM, "out of memory");
	char *prefix = wine_prefix(err);
	char *prog = absolute(opt->program);
	char *cwd = opt->cwd ? absolute(opt->cwd) : NULL;
	char tmpl[] = "/tmp/nxpatch-trace.XXXXXX";
	const char *tmpdir = getenv("TMPDIR");
	char *dir = tmpdir && tmpdir[0] == '/' ? join(tmpdir, "nxpatch-trace.XXXXXX") : strdup(tmpl);
	char *outp = NULL;
	char **argv = NULL;
	int rc = NXP_OK;
	if (!prefix) {
		rc = err->code;
		goto done;
	}
	if (!prog || !dir || (opt->cwd && !cwd)) {
		rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
		goto done;
	}
	if (!mkdtemp(dir)) {
		rc = nxp_fail(err, NXP_E_IO, "cannot create a temporary directory: %s", strerror(errno));
		free(dir);
		dir = NULL;
		goto done;
	}
	outp = join(dir, "trace.out");
	argv = calloc(opt->nargs + 12, sizeof(*argv));
	if (!outp || !argv) {
		rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
		goto done;
	}
	char tms[32];
	size_t k = 0;
	argv[k++] = (char *)wine;
	argv[k++] = helper;
	if (opt->timeout_s) {
		snprintf(tms, sizeof(tms), "%llu", (unsigned long long)opt->timeout_s * 1000ull);
		argv[k++] = "--timeout-ms";
		argv[k++] = tms;
	}
	if (cwd) {
		argv[k++] = "--cwd";
		argv[k++] = cwd;
	}
	argv[k++] = "--out";
	argv[k++] = outp;
	argv[k++] = "--";
	argv[k++] = prog;
	for (size_t i = 0; i < opt->nargs; i++)
		argv[k++] = opt->args[i];
	argv[k] = NULL;

	if ((rc = ensure_prefix(wine, prefix, err)))
		goto done;
	pid_t pid = fork();
	if (pid < 0) {
		rc = nxp_fail(err, NXP_E_IO, "fork: %s", strerror(errno));
		goto done;
	}
	if (pid == 0) {
		wine_env(prefix);
		if (opt->program_stdout_fd >= 0 && opt->program_stdout_fd != 1)
			dup2(opt->program_stdout_fd, 1);
		execv(wine, argv);
		fprintf(stderr, "nxpatch: cannot run %s: %s\n", wine, strerror(errno));
		_exit(127);
	}
	int status = 0;
	time_t limit = opt->timeout_s ? time(NULL) + (time_t)opt->timeout_s + GRACE_S : 0;
	for (;;) {
		pid_t w = waitpid(pid, &status, limit ? WNOHANG : 0);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			rc = nxp_fail(err, NXP_E_IO, "waitpid: %s", strerror(errno));
			goto done;
		}
		if (limit && time(NULL) > limit) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			rc = nxp_fail(err, NXP_E_IO,
			              "wine did not finish within %u s after the program's timeout; "
			              "killed it",
			              GRACE_S);
			goto done;
		}
		if (limit)
			nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
	if (WIFSIGNALED(status)) {
		rc = nxp_fail(err, NXP_E_IO, "the trace helper was killed by signal %d",
		              WTERMSIG(status));
		goto done;
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	if (code == 127) {
		rc = nxp_fail(err, NXP_E_IO, "cannot run %s", wine);
		goto done;
	}
	if (code != 0 && code != 3) {
		rc = nxp_fail(err, NXP_E_IO, "the trace helper failed (exit %d)", code);
		goto done;
	}
	nxp_file out;
	if ((rc = nxp_file_load(&out, outp, err))) {
		nxp_error_prefix(err, "the trace helper's output");
		goto done;
	}
	if (out.len > MAX_OUTPUT)
		rc = nxp_fail(err, NXP_E_TOO_LARGE, "the trace helper's output is too large");
	else
		rc = nxp_trace_parse((const char *)out.data, out.len, t, err);
	nxp_file_unload(&out);
	/* wine64 without wine32 "runs" a 32-bit program by doing nothing: the
	 * image is mapped, no DLL is loaded, and it exits 0. */
	if (!rc && t->end == NXP_TRACE_EXITED && t->nmodules < 2) {
		nxp_trace_free(t);
		rc = nxp_fail(err, NXP_E_IO,
		              "the program never ran (not even ntdll.dll was loaded; a 32-bit "
		              "program needs wine32)");
	}
done:
	if (outp)
		unlink(outp);
	if (dir)
		rmdir(dir);
	free(outp);
	free(dir);
	free(argv);
	free(cwd);
	free(prog);
	free(prefix);
	free(helper);
	return rc;
}
