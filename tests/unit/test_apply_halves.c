/* SPDX-License-Identifier: Apache-2.0 */
/* nxp_apply() in two halves (write.h): a batch writes its next image while
 * LIEF reads this one's output. The checks go to LIEF in the order the
 * writes started, each verdict belongs to its own output, and a write that
 * fails before its verdict leaves the line it waited in. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nxpatch/input.h"
#include "nxpatch/plan.h"
#include "nxpatch/write.h"
#include "crosscheck/internal.h"
#include "support.h"

static char dir[NXT_SCRATCH_MAX];

static void setup(void)
{
	nxt_scratch_make(dir, "nxp-halves");
}

static void teardown(void)
{
	nxt_scratch_remove(dir);
}

TestSuite(halves, .init = setup, .fini = teardown);

static const char *at(const char *name)
{
	return nxt_scratch_path(dir, name);
}

static nxt_layout lay;

/* One signed synthetic input and its strip plan, written to name.out. Each
 * has its own TimeDateStamp, so that a verdict compared with another
 * output's parse is a disagreement. */
typedef struct one {
	nxp_input *in;
	nxp_plan plan;
	nxp_apply_options opt;
	nxp_apply_result res;
	nxp_apply_job *job;
	char out[256];
} one;

static one *make(const char *name)
{
	static uint8_t buf[1 << 16];
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2, .cert_size = 0x40};
	size_t n = nxt_build_pe(buf, sizeof(buf), &spec, &lay);
	cr_assert_gt(n, 0);
	nxt_put32(buf + lay.coff + 4, 0x5a000000u + (uint32_t)name[0]);
	int fd = open(at(name), O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, n), (ssize_t)n);
	cr_assert_eq(close(fd), 0);
	one *o = calloc(1, sizeof(*o));
	nxp_error err = {0};
	cr_assert_eq(nxp_input_open_flags(&o->in, at(name), NXP_INPUT_NO_FACTS, &err), NXP_OK,
	             "%s", err.msg);
	cr_assert_eq(nxp_plan_signature(&o->plan, &o->in->img, NXP_SIGACT_STRIP, &err), NXP_OK,
	             "%s", err.msg);
	o->opt.cross_check = 1;
	snprintf(o->out, sizeof(o->out), "%s.out", at(name));
	return o;
}

static int start(one *o, nxp_error *err)
{
	return nxp_apply_start(o->in, &o->plan, o->out, &o->opt, &o->res, &o->job, err);
}

static void drop(one *o)
{
	nxp_input_close(o->in);
	free(o);
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* The temporary file of name.out in dir ("" when there is none). */
static const char *temp_of(const char *name)
{
	static char path[512];
	char prefix[128];
	snprintf(prefix, sizeof(prefix), ".%s.out.nxpatch-", name);
	path[0] = '\0';
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	for (struct dirent *e; (e = readdir(d));)
		if (!strncmp(e->d_name, prefix, strlen(prefix)))
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
	closedir(d);
	return path;
}

/* a, b and c as a batch runs them: b written while LIEF reads a's output,
 * c while it reads b's. b's output is changed after nxpatch verified it
 * and before LIEF read it: only b may fail, with LIEF's disagreement. */
Test(halves, each_verdict_is_its_own_output)
{
	one *a = make("a"), *b = make("b"), *c = make("c");
	nxp_error err = {0};
	cr_assert_eq(start(a, &err), NXP_OK, "%s", err.msg);
	cr_assert_not_null(a->job, "a waits for LIEF");
	cr_assert_eq(start(b, &err), NXP_OK, "%s", err.msg);
	cr_assert_not_null(b->job, "b waits behind a");
	cr_assert(!exists(a->out) && !exists(b->out), "nothing is replaced before LIEF's verdict");
	const char *bt = temp_of("b");
	cr_assert(bt[0], "b's output is written and verified before a's verdict");
	int fd = open(bt, O_WRONLY);
	cr_assert_geq(fd, 0);
	uint8_t stamp[4] = {0x11, 0x22, 0x33, 0x44};
	cr_assert_eq(pwrite(fd, stamp, 4, lay.coff + 4), 4);
	cr_assert_eq(close(fd), 0);

	cr_assert_eq(nxp_apply_finish(a->job, &err), NXP_OK, "%s", err.msg);
	cr_assert(a->res.written && exists(a->out));
	cr_assert_eq(start(c, &err), NXP_OK, "%s", err.msg);
	cr_assert_not_null(c->job);
	err = (nxp_error){0};
	cr_assert_eq(nxp_apply_finish(b->job, &err), NXP_E_CROSS_CHECK, "%s", err.msg);
	cr_assert(strstr(err.msg, "header.time_date_stamp") &&
	          strstr(err.msg, "b.out left untouched"), "%s", err.msg);
	cr_assert(!b->res.written && !exists(b->out) && !temp_of("b")[0],
	          "b's output is neither renamed nor left behind");
	err = (nxp_error){0};
	cr_assert_eq(nxp_apply_finish(c->job, &err), NXP_OK, "%s", err.msg);
	cr_assert(c->res.written && exists(c->out));
	drop(a);
	drop(b);
	drop(c);
}

/* The same with the change in a's output, made while b is written and
 * before LIEF reads a's (its worker waits 300 ms first): a fails, b
 * (checked after it) does not. */
Test(halves, a_failed_verdict_does_not_pass_to_the_next)
{
	one *a = make("a"), *b = make("b");
	nxp_error err = {0};
	nxpi_lief_test_delay(300);
	cr_assert_eq(start(a, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(start(b, &err), NXP_OK, "%s", err.msg);
	int fd = open(temp_of("a"), O_WRONLY);
	cr_assert_geq(fd, 0);
	uint8_t stamp[4] = {0x11, 0x22, 0x33, 0x44};
	cr_assert_eq(pwrite(fd, stamp, 4, lay.coff + 4), 4);
	cr_assert_eq(close(fd), 0);
	cr_assert_eq(nxp_apply_finish(a->job, &err), NXP_E_CROSS_CHECK, "%s", err.msg);
	cr_assert(strstr(err.msg, "header.time_date_stamp"), "%s", err.msg);
	cr_assert(!a->res.written && !exists(a->out) && !temp_of("a")[0]);
	err = (nxp_error){0};
	cr_assert_eq(nxp_apply_finish(b->job, &err), NXP_OK, "%s", err.msg);
	cr_assert(b->res.written && exists(b->out));
	drop(a);
	drop(b);
}

/* b fails its own verification while a's check is in flight and b's waits:
 * b's check leaves the line, a's verdict and c's come as they should. */
Test(halves, a_failed_write_leaves_the_line)
{
	one *a = make("a"), *b = make("b"), *c = make("c");
	b->opt.test_corrupt_output = 1;
	nxp_error err = {0};
	cr_assert_eq(start(a, &err), NXP_OK, "%s", err.msg);
	cr_assert_not_null(a->job);
	cr_assert_eq(start(b, &err), NXP_E_VERIFY, "%s", err.msg);
	cr_assert_null(b->job);
	cr_assert(!exists(b->out) && !temp_of("b")[0], "b left nothing");
	err = (nxp_error){0};
	cr_assert_eq(start(c, &err), NXP_OK, "%s", err.msg);
	cr_assert_not_null(c->job);
	cr_assert_eq(nxp_apply_finish(a->job, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_apply_finish(c->job, &err), NXP_OK, "%s", err.msg);
	cr_assert(a->res.written && c->res.written && exists(a->out) && exists(c->out));
	/* The line is empty again: one write alone finishes at once. */
	one *d = make("d");
	d->opt.cross_check = 0;
	cr_assert_eq(start(d, &err), NXP_OK, "%s", err.msg);
	cr_assert_null(d->job, "without the cross-check nothing waits");
	cr_assert(d->res.written);
	drop(a);
	drop(b);
	drop(c);
	drop(d);
}
