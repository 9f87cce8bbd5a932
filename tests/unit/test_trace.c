/* SPDX-License-Identifier: Apache-2.0 */
/* Traces as hostile input: the --evidence JSONL reader (malformed lines,
 * huge files and lines, record caps, non-UTF-8 names), the helper's line
 * protocol, and merging records into an image's facts. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "nxpatch/plan.h"
#include "nxpatch/trace.h"
#include "support.h"

static const char good[] =
	"{\"kind\":\"dep_fault\",\"module\":\"/x/app.exe\",\"module_name\":\"app.exe\","
	"\"image\":{\"size_of_image\":8192,\"timestamp\":0,\"machine\":34404},\"rva\":8208,"
	"\"section\":\".data\",\"section_characteristics\":3221225536,\"address\":\"0x140002010\","
	"\"chance\":\"first\",\"count\":3,\"region\":{\"base\":\"0x140002000\","
	"\"allocation_base\":\"0x140000000\",\"size\":\"0x1000\",\"protect\":8,"
	"\"allocation_protect\":128,\"type\":\"image\"},"
	"\"program\":{\"size_of_image\":8192,\"timestamp\":0,\"machine\":34404,\"name\":\"app.exe\"}}";
static const char heap[] =
	"{\"kind\":\"dep_fault\",\"module\":null,\"module_name\":null,\"address\":\"0x10a0000\","
	"\"chance\":\"first\",\"count\":1,\"region\":{\"base\":\"0x10a0000\",\"allocation_base\":"
	"\"0x10a0000\",\"size\":\"0x1000\",\"protect\":4,\"allocation_protect\":4,\"type\":"
	"\"private\"},\"program\":{\"size_of_image\":8192,\"timestamp\":0,\"name\":\"APP.EXE\"}}";

static int parse(const char *text, nxp_evset **s, nxp_error *err)
{
	return nxp_evset_parse(s, "ev.jsonl", text, strlen(text), err);
}

/* text must fail with a message containing want. */
static void bad(const char *text, const char *want)
{
	nxp_evset *s = (nxp_evset *)1;
	nxp_error err = {0};
	int rc = parse(text, &s, &err);
	cr_assert_neq(rc, NXP_OK, "accepted: %s", text);
	cr_assert_null(s);
	cr_assert(strstr(err.msg, want), "message '%s' lacks '%s' for: %s", err.msg, want, text);
}

/* A copy of good with `from` replaced by `to` (once; must be there). */
static char *edit(const char *base, const char *from, const char *to)
{
	const char *p = strstr(base, from);
	cr_assert_not_null(p, "%s not in the record", from);
	size_t n = strlen(base) - strlen(from) + strlen(to) + 1;
	char *r = malloc(n);
	snprintf(r, n, "%.*s%s%s", (int)(p - base), base, to, p + strlen(from));
	return r;
}

static void bad_edit(const char *from, const char *to, const char *want)
{
	char *t = edit(good, from, to);
	bad(t, want);
	free(t);
}

Test(evfile, reads_a_record_and_skips_blank_lines)
{
	char text[4096];
	snprintf(text, sizeof(text), "\n%s\r\n   \n%s\n", good, heap);
	nxp_evset *s;
	nxp_error err = {0};
	cr_assert_eq(parse(text, &s, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(s->nrecs, 2);
	const nxp_evrec *r = &s->recs[0];
	cr_assert_str_eq(r->module_name, "app.exe");
	cr_assert_eq(r->size_of_image, 8192);
	cr_assert_eq(r->rva, 8208);
	cr_assert_str_eq(r->section, ".data");
	cr_assert_eq(r->count, 3);
	cr_assert(r->first_chance);
	cr_assert_eq(r->address, 0x140002010ull);
	cr_assert_eq(r->line, 2);
	r = &s->recs[1];
	cr_assert_null(r->module_name);
	cr_assert_str_eq(r->program_name, "APP.EXE");
	cr_assert_str_eq(r->region_type, "private");
	cr_assert_eq(r->protect, 4);
	cr_assert_eq(r->line, 4);
	nxp_evset_free(s);
}

Test(evfile, empty_file_is_no_evidence)
{
	nxp_evset *s;
	nxp_error err = {0};
	cr_assert_eq(nxp_evset_parse(&s, "e", "", 0, &err), NXP_OK);
	cr_assert_eq(s->nrecs, 0);
	nxp_evset_free(s);
}

Test(evfile, malformed_lines_name_file_and_line)
{
	char text[4096];
	snprintf(text, sizeof(text), "%s\n%s\n{\"kind\":\n", good, good);
	bad(text, "ev.jsonl:3: invalid JSON");
	bad("[1,2]\n", "ev.jsonl:1: not a JSON object");
	bad("\"dep_fault\"\n", "ev.jsonl:1: invalid JSON"); /* a scalar is not a record */
	bad("{}\n", "no \"kind\"");
	bad("{\"kind\":\"call_target\"}\n", "unknown kind \"call_target\"");
	bad("{\"kind\":7}\n", "no \"kind\"");
	/* a truncated last line (no newline) is still parsed, and fails */
	char trunc[4096];
	snprintf(trunc, sizeof(trunc), "%s\n%.*s", good, (int)strlen(good) / 2, good);
	bad(trunc, "ev.jsonl:2: invalid JSON");
}

Test(evfile, every_field_is_checked)
{
	bad_edit("\"module_name\":\"app.exe\"", "\"module_name\":\"a/b.exe\"", "\"module_name\" must be");
	bad_edit("\"module_name\":\"app.exe\"", "\"module_name\":\"a\\u0001.exe\"", "\"module_name\" must be");
	bad_edit("\"module_name\":\"app.exe\"", "\"module_name\":\"a\\u0000.exe\"", "invalid JSON");
	bad_edit("\"module_name\":\"app.exe\"", "\"module_name\":\"\"", "\"module_name\" must be");
	bad_edit("\"module_name\":\"app.exe\"", "\"module_name\":5", "\"module_name\" must be");
	bad_edit("\"rva\":8208", "\"rva\":-1", "\"rva\" must be");
	bad_edit("\"rva\":8208", "\"rva\":4294967296", "\"rva\" must be");
	bad_edit("\"rva\":8208", "\"rva\":\"8208\"", "\"rva\" must be");
	bad_edit("\"rva\":8208", "\"rva\":8208.5", "\"rva\" must be");
	bad_edit("\"rva\":8208,", "", "\"rva\" must be");
	bad_edit("\"section\":\".data\"", "\"section\":\".toolongname\"", "\"section\" must be");
	bad_edit("\"section\":\".data\"", "\"section\":\".d\\u0000ta\"", "invalid JSON");
	bad_edit("\"section\":\".data\"", "\"section\":null", "\"section\" must be");
	bad_edit("\"chance\":\"first\"", "\"chance\":\"third\"", "\"chance\" must be");
	bad_edit("\"count\":3", "\"count\":0", "\"count\" must be");
	bad_edit("\"count\":3", "\"count\":-3", "\"count\" must be");
	bad_edit("\"address\":\"0x140002010\"", "\"address\":\"140002010\"", "\"address\" must be");
	bad_edit("\"address\":\"0x140002010\"", "\"address\":\"0x1400020100000000001\"", "\"address\" must be");
	bad_edit("\"address\":\"0x140002010\"", "\"address\":\"0xzz\"", "\"address\" must be");
	bad_edit("\"type\":\"image\"", "\"type\":\"heap\"", "malformed \"region\"");
	bad_edit("\"protect\":8", "\"protect\":-8", "malformed \"region\"");
	bad_edit("\"size_of_image\":8192,\"timestamp\":0,\"machine\":34404},\"rva\"",
	         "\"size_of_image\":8192},\"rva\"", "\"image\" must hold");
	bad_edit("\"name\":\"app.exe\"", "\"name\":\"\"", "\"program\" needs");
	bad_edit("\"kind\":\"dep_fault\"", "\"kind\":\"dep_fault\",\"kind\":\"dep_fault\"",
	         "invalid JSON");
	/* a heap fault must say whose program it was */
	char *t = edit(heap, ",\"program\":{\"size_of_image\":8192,\"timestamp\":0,\"name\":\"APP.EXE\"}", "");
	bad(t, "needs \"program\"");
	free(t);
}

Test(evfile, raw_bytes_nul_and_invalid_utf8)
{
	char text[4096];
	int n = snprintf(text, sizeof(text), "%s\n", good);
	text[20] = 0; /* a NUL inside line 1 */
	nxp_evset *s;
	nxp_error err = {0};
	cr_assert_neq(nxp_evset_parse(&s, "ev.jsonl", text, (size_t)n, &err), NXP_OK);
	cr_assert(strstr(err.msg, "ev.jsonl:1: NUL byte"), "%s", err.msg);
	char *t = edit(good, "\"module_name\":\"app.exe\"", "\"module_name\":\"app\xff\xfe.exe\"");
	bad(t, "ev.jsonl:1: invalid JSON");
	free(t);
	t = edit(good, "\"module_name\":\"app.exe\"", "\"module_name\":\"app\xc0\xaf.exe\"");
	bad(t, "invalid JSON"); /* overlong '/' */
	free(t);
}

Test(evfile, line_and_record_caps)
{
	size_t n = NXP_EVFILE_MAX_LINE + 100;
	char *text = malloc(n + 2);
	memset(text, ' ', n);
	const char head[] = "{\"kind\":\"dep_fault\",\"x\":\"";
	memcpy(text, head, strlen(head));
	text[n - 2] = '"';
	text[n - 1] = '}';
	text[n] = '\n';
	text[n + 1] = 0;
	bad(text, "ev.jsonl:1: line longer than");
	free(text);

	/* NXP_EVFILE_MAX_RECORDS records are read; one more is refused. */
	const char rec[] = "{\"kind\":\"dep_fault\",\"chance\":\"first\",\"program\":{\"name\":\"a\","
	                   "\"size_of_image\":1,\"timestamp\":0}}\n";
	size_t rl = strlen(rec), total = rl * (NXP_EVFILE_MAX_RECORDS + 1);
	text = malloc(total + 1);
	for (size_t i = 0; i <= NXP_EVFILE_MAX_RECORDS; i++)
		memcpy(text + i * rl, rec, rl);
	nxp_evset *s;
	nxp_error err = {0};
	cr_assert_eq(nxp_evset_parse(&s, "big", text, total - rl, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(s->nrecs, NXP_EVFILE_MAX_RECORDS);
	nxp_evset_free(s);
	cr_assert_neq(nxp_evset_parse(&s, "big", text, total, &err), NXP_OK);
	cr_assert(strstr(err.msg, "more than 100000 records"), "%s", err.msg);
	free(text);
}

Test(evfile, huge_files_and_non_files_are_refused_unread)
{
	char path[] = "/tmp/nxp-evfile-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	/* sparse: nothing is read before the size check */
	cr_assert_eq(ftruncate(fd, (off_t)NXP_EVFILE_MAX_BYTES + 1), 0);
	close(fd);
	nxp_evset *s;
	nxp_error err = {0};
	cr_assert_eq(nxp_evset_load(&s, path, &err), NXP_E_TOO_LARGE);
	cr_assert(strstr(err.msg, "larger than 64 MiB"), "%s", err.msg);
	unlink(path);
	/* the same limit for a buffer (read by someone else) */
	char *big = calloc(1, (size_t)NXP_EVFILE_MAX_BYTES + 1);
	cr_assert_not_null(big);
	memset(big, '\n', (size_t)NXP_EVFILE_MAX_BYTES + 1);
	cr_assert_eq(nxp_evset_parse(&s, "big", big, (size_t)NXP_EVFILE_MAX_BYTES + 1, &err),
	             NXP_E_TOO_LARGE, "%s", err.msg);
	cr_assert(strstr(err.msg, "big: evidence file larger than 64 MiB"), "%s", err.msg);
	free(big);
	cr_assert_eq(nxp_evset_load(&s, "/tmp", &err), NXP_E_IO);
	cr_assert(strstr(err.msg, "not a regular file"), "%s", err.msg);
	cr_assert_eq(nxp_evset_load(&s, "/nonexistent/ev.jsonl", &err), NXP_E_IO);
	cr_assert_null(s);
}

/* ------------------------------------------------- the helper's protocol */

static const char proto[] =
	"nxtrace 1\nstart\t10\n"
	"module\t140000000\t2000\t0\t8664\t5a3a5c6170702e657865\t2f782f6170702e657865\n"
	"fault\t0\t1\t140001010\t140000000\t1010\t2e64617461\tc0000040\t140001000\t140000000\t"
	"1000\t8\t80\t1000000\t1000\n"
	"fault\t1\t1\t10a0000\t-\t0\t-\t0\t10a0000\t10a0000\t1000\t4\t4\t20000\t1000\n"
	"count\t0\t5\nexit\t2a\n";

static int pparse(const char *text, nxp_trace *t, nxp_error *err)
{
	return nxp_trace_parse(text, strlen(text), t, err);
}

Test(proto, parses_modules_faults_counts_and_the_end)
{
	nxp_trace t;
	nxp_error err = {0};
	cr_assert_eq(pparse(proto, &t, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(t.nmodules, 1);
	cr_assert_str_eq(t.modules[0].path, "/x/app.exe");
	cr_assert_str_eq(t.modules[0].winpath, "Z:\\app.exe");
	cr_assert_eq(t.nfaults, 2);
	cr_assert_eq(t.faults[0].module, 0);
	cr_assert_eq(t.faults[0].rva, 0x1010);
	cr_assert_str_eq(t.faults[0].section, ".data");
	cr_assert_eq(t.faults[0].count, 5);
	cr_assert_eq(t.faults[1].module, -1);
	cr_assert_eq(t.faults[1].type, 0x20000);
	cr_assert_eq(t.end, NXP_TRACE_EXITED);
	cr_assert_eq(t.exit_code, 42);

	/* The JSONL written from it reads back as evidence. */
	char text[4096] = "";
	for (size_t i = 0; i < t.nfaults; i++) {
		json_t *o = nxp_trace_fault_json(&t, i);
		char *s = json_dumps(o, JSON_COMPACT);
		strcat(text, s);
		strcat(text, "\n");
		free(s);
		json_decref(o);
	}
	nxp_evset *s;
	cr_assert_eq(parse(text, &s, &err), NXP_OK, "%s: %s", err.msg, text);
	cr_assert_eq(s->nrecs, 2);
	cr_assert_str_eq(s->recs[0].module_name, "app.exe");
	cr_assert_eq(s->recs[0].count, 5);
	cr_assert_null(s->recs[1].module_name);
	cr_assert_str_eq(s->recs[1].program_name, "app.exe");
	nxp_evset_free(s);
	nxp_trace_free(&t);
}

Test(proto, non_utf8_module_paths_round_trip_escaped)
{
	const char *text =
		"nxtrace 1\n"
		"module\t140000000\t2000\t0\t8664\t-\t2f782f61ff70702e657865\n"
		"fault\t0\t1\t140001010\t140000000\t1010\t2e64617461\tc0000040\t140001000\t140000000\t"
		"1000\t8\t80\t1000000\t1000\n"
		"exit\t0\n";
	nxp_trace t;
	nxp_error err = {0};
	cr_assert_eq(pparse(text, &t, &err), NXP_OK, "%s", err.msg);
	json_t *o = nxp_trace_fault_json(&t, 0);
	cr_assert_not_null(o);
	cr_assert_str_eq(json_string_value(json_object_get(o, "module_name")), "a\\xffpp.exe");
	char *line = json_dumps(o, JSON_COMPACT);
	nxp_evset *s;
	cr_assert_eq(parse(line, &s, &err), NXP_OK, "%s", err.msg);
	cr_assert_str_eq(s->recs[0].module_name, "a\\xffpp.exe");
	nxp_evset_free(s);
	free(line);
	json_decref(o);
	nxp_trace_free(&t);
}

static void pbad(const char *text, const char *want)
{
	nxp_trace t;
	nxp_error err = {0};
	cr_assert_neq(pparse(text, &t, &err), NXP_OK, "accepted: %s", text);
	cr_assert(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
	cr_assert_eq(t.nfaults, 0);
	cr_assert_null(t.faults);
}

Test(proto, rejects_what_the_helper_never_writes)
{
	pbad("", "empty");
	pbad("nxtrace 2\nexit\t0\n", "not the nxtrace 1 protocol");
	pbad("nxtrace 1\n", "no end record");
	pbad("nxtrace 1\nexit\t0", "truncated");
	pbad("nxtrace 1\nexit\t0\nexit\t0\n", "record after the end");
	pbad("nxtrace 1\nbogus\nexit\t0\n", "unknown record");
	pbad("nxtrace 1\nexit\t0x1\n", "unknown record");
	pbad("nxtrace 1\nexit\t100000000\n", "unknown record"); /* > 32 bits */
	pbad("nxtrace 1\ncount\t0\t5\nexit\t0\n", "unknown record"); /* no such site */
	pbad("nxtrace 1\nmodule\t1\t2\t3\t4\t61\nexit\t0\n", "7 fields");
	pbad("nxtrace 1\nmodule\t1\t2\t3\t10000\t61\t-\nexit\t0\n", "malformed module");
	pbad("nxtrace 1\nmodule\t1\t2\t3\t4\t6\t-\nexit\t0\n", "malformed module path");
	pbad("nxtrace 1\nmodule\t1\t2\t3\t4\t6100\t-\nexit\t0\n", "malformed module path");
	pbad("nxtrace 1\nfault\t0\t1\t1\t5\t0\t-\t0\t0\t0\t0\t0\t0\t0\t0\nexit\t0\n",
	     "not loaded");
	pbad("nxtrace 1\nfault\t1\t1\t1\t-\t0\t-\t0\t0\t0\t0\t0\t0\t0\t0\nexit\t0\n",
	     "malformed fault"); /* ids in order */
	pbad("nxtrace 1\nfault\t0\t2\t1\t-\t0\t-\t0\t0\t0\t0\t0\t0\t0\t0\nexit\t0\n",
	     "malformed fault");
	pbad("nxtrace 1\nfault\t0\t1\t1\t-\t0\t616263646566676869\t0\t0\t0\t0\t0\t0\t0\t0\nexit\t0\n",
	     "malformed fault"); /* a 9-byte section name */
	pbad("nxtrace 1\na\tb\tc\td\te\tf\tg\th\ti\tj\tk\tl\tm\tn\to\tp\tq\n", "too many fields");
	const char nul[] = "nxtrace 1\nex\0t\t0\n";
	nxp_trace t;
	nxp_error err = {0};
	cr_assert_neq(nxp_trace_parse(nul, sizeof(nul) - 1, &t, &err), NXP_OK);
	cr_assert(strstr(err.msg, "NUL byte"), "%s", err.msg);
}

Test(proto, error_and_timeout_ends)
{
	nxp_trace t;
	nxp_error err = {0};
	cr_assert_eq(pparse("nxtrace 1\nerror\t6e6f\n", &t, &err), NXP_OK);
	cr_assert_eq(t.end, NXP_TRACE_NOT_STARTED);
	cr_assert_str_eq(t.message, "no");
	nxp_trace_free(&t);
	cr_assert_eq(pparse("nxtrace 1\ntimeout\tbb8\n", &t, &err), NXP_OK);
	cr_assert_eq(t.end, NXP_TRACE_TIMEOUT);
	cr_assert_eq(t.timeout_ms, 3000);
	nxp_trace_free(&t);
}

/* ------------------------------------------------------------- merging */

#define CAP (1 << 20)
static uint8_t buf[CAP];

/* A generated image named path: sections .text (0x1000) and .data (0x2000,
 * read-write). */
static void image(nxp_image *img, nxp_facts *f, const char *path, uint32_t data_flags)
{
	nxt_pe_spec spec = {.pe32plus = 1, .nsections = 2};
	spec.section_flags[1] = data_flags;
	size_t n = nxt_build_pe(buf, CAP, &spec, NULL);
	cr_assert(n > 0);
	nxp_error err = {0};
	cr_assert_eq(nxp_pe_parse(img, buf, n, &err), NXP_OK, "%s", err.msg);
	cr_assert_eq(nxp_analyze(f, img, path, &err), NXP_OK);
}

static nxp_evset *records(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static nxp_evset *records(const char *fmt, ...)
{
	char text[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	nxp_evset *s;
	nxp_error err = {0};
	cr_assert_eq(parse(text, &s, &err), NXP_OK, "%s", err.msg);
	return s;
}

Test(merge, faults_become_dep_fault_evidence_in_their_section)
{
	nxp_image img;
	nxp_facts f;
	image(&img, &f, "dir/App.exe", 0xC0000040);
	char size[16];
	snprintf(size, sizeof(size), "%u", img.size_of_image);
	cr_assert_eq(f.code_in_data, 0);
	char rva[16];
	snprintf(rva, sizeof(rva), "%u", img.sections[1].virtual_address + 0x10);
	nxp_evset *s = records(
		"{\"kind\":\"dep_fault\",\"module_name\":\"app.EXE\",\"image\":{\"size_of_image\":%s,"
		"\"timestamp\":1593835520},\"rva\":%s,\"section\":\".data\",\"chance\":\"first\"}\n"
		"{\"kind\":\"dep_fault\",\"module_name\":\"other.dll\",\"image\":{\"size_of_image\":%s,"
		"\"timestamp\":1593835520},\"rva\":%s,\"section\":\".data\",\"chance\":\"first\"}\n",
		size, rva, size, rva);
	nxp_error err = {0};
	cr_assert_eq(nxp_facts_merge_trace(&f, s, &err), NXP_OK);
	cr_assert_eq(f.nevidence, 1);
	cr_assert_eq(f.evidence[0].kind, NXP_EV_DEP_FAULT);
	cr_assert_eq(f.evidence[0].section, 1);
	cr_assert_eq(f.section_evidence[1], 1);
	cr_assert(f.code_in_data);
	cr_assert_str_eq(nxp_evidence_kind_name(NXP_EV_DEP_FAULT), "dep_fault");
	cr_assert_eq(f.nwarnings, 0);
	nxp_evset_free(s);
	nxp_facts_free(&f);
}

Test(merge, other_builds_and_mismatched_sections_are_warnings)
{
	nxp_image img;
	nxp_facts f;
	image(&img, &f, "app.exe", 0xC0000040);
	char rva[16], size[16], size2[16];
	snprintf(rva, sizeof(rva), "%u", img.sections[1].virtual_address);
	snprintf(size, sizeof(size), "%u", img.size_of_image);
	snprintf(size2, sizeof(size2), "%u", img.size_of_image + 0x1000);
	nxp_evset *s = records(
		"{\"kind\":\"dep_fault\",\"module_name\":\"app.exe\",\"image\":{\"size_of_image\":%s,"
		"\"timestamp\":1593835520},\"rva\":%s,\"section\":\".data\",\"chance\":\"first\"}\n"
		"{\"kind\":\"dep_fault\",\"module_name\":\"app.exe\",\"image\":{\"size_of_image\":%s,"
		"\"timestamp\":1593835520},\"rva\":%s,\"section\":\".rdata\",\"chance\":\"first\"}\n"
		"{\"kind\":\"dep_fault\",\"module_name\":\"app.exe\",\"image\":{\"size_of_image\":%s,"
		"\"timestamp\":1593835520},\"rva\":4294967295,\"section\":\".data\",\"chance\":\"first\"}\n",
		size2, rva, size, rva, size);
	nxp_error err = {0};
	cr_assert_eq(nxp_facts_merge_trace(&f, s, &err), NXP_OK);
	cr_assert_eq(f.nevidence, 0);
	cr_assert_eq(f.code_in_data, 0);
	cr_assert_eq(f.nwarnings, 3, "%zu warnings", f.nwarnings);
	cr_assert(strstr(f.warnings[0], "ev.jsonl:2: traced fault at rva"), "%s", f.warnings[0]);
	cr_assert(strstr(f.warnings[1], "ev.jsonl:3:"), "%s", f.warnings[1]);
	cr_assert(strstr(f.warnings[2], "1 traced fault name app.exe but another build"), "%s",
	          f.warnings[2]);
	nxp_evset_free(s);
	nxp_facts_free(&f);
}

/* A traced fault in a section the plan leaves non-executable refuses the
 * plan with its own finding, naming the section; a plan that makes the
 * section executable is not refused. */
Test(merge, traced_fault_in_a_section_left_non_executable_refuses)
{
	nxp_image img;
	nxp_facts f;
	image(&img, &f, "dir/App.exe", 0xC0000040);
	char rva[16], size[16];
	snprintf(rva, sizeof(rva), "%u", img.sections[1].virtual_address + 0x10);
	snprintf(size, sizeof(size), "%u", img.size_of_image);
	nxp_evset *s = records(
		"{\"kind\":\"dep_fault\",\"module_name\":\"app.EXE\",\"image\":{\"size_of_image\":%s,"
		"\"timestamp\":1593835520},\"rva\":%s,\"section\":\".data\",\"chance\":\"first\"}\n",
		size, rva);
	nxp_error err = {0};
	cr_assert_eq(nxp_facts_merge_trace(&f, s, &err), NXP_OK);
	cr_assert_eq(f.nevidence, 1);
	static const char *const yamls[] = {
		"nxpatch: 1\nrules:\n  - id: dep\n    actions:\n      - set: [nx_compat]\n",
		"nxpatch: 1\nrules:\n  - id: dep\n    actions:\n      - set: [nx_compat]\n"
		"      - section: .data\n        add: [execute]\n        allow_wx: true\n",
	};
	for (int k = 0; k < 2; k++) {
		nxp_policy *pol;
		nxp_diags d = {0};
		cr_assert_eq(nxp_policy_load_buffer(&pol, "p.yaml", yamls[k], strlen(yamls[k]), &d, &err),
		             NXP_OK, "%s", err.msg);
		static nxp_plan plan;
		cr_assert_eq(nxp_plan_build(&plan, pol, &f, NULL, &err), NXP_OK);
		int traced = 0;
		for (size_t i = 0; i < plan.nrefusals; i++)
			if (plan.refusals[i].id == NXP_F_REFUSED_TRACED_FAULT) {
				traced++;
				cr_assert(strstr(plan.refusals[i].reason, "a trace saw code run in section .data"),
				          "%s", plan.refusals[i].reason);
				cr_assert_eq(plan.refusals[i].where.section, 1);
			}
		cr_assert_eq(traced, k == 0, "policy %d: %d traced-fault refusals", k, traced);
		cr_assert_eq(plan.status, k == 0 ? NXP_PLAN_REFUSED : NXP_PLAN_CHANGES);
		nxp_policy_free(pol);
		nxp_diags_free(&d);
	}
	nxp_evset_free(s);
	nxp_facts_free(&f);
}

Test(merge, heap_faults_refuse_nx_compat_naming_the_fault)
{
	nxp_image img;
	nxp_facts f;
	image(&img, &f, "x/app.exe", 0xC0000040);
	char size[16];
	snprintf(size, sizeof(size), "%u", img.size_of_image);
	char *h = edit(heap, "\"size_of_image\":8192,\"timestamp\":0", "\"size_of_image\":SIZE,\"timestamp\":1593835520");
	char *h2 = edit(h, "SIZE", size);
	nxp_evset *s = records("%s\n", h2);
	free(h);
	free(h2);
	nxp_error err = {0};
	cr_assert_eq(nxp_facts_merge_trace(&f, s, &err), NXP_OK);
	cr_assert_eq(f.heap_faults, 1);
	cr_assert(strstr(f.heap_fault, "0x10a0000 in private memory, PAGE_READWRITE"), "%s",
	          f.heap_fault);

	const char *yaml = "nxpatch: 1\nrules:\n  - id: dep\n    actions:\n      - set: [nx_compat]\n";
	nxp_policy *pol;
	nxp_diags d = {0};
	cr_assert_eq(nxp_policy_load_buffer(&pol, "p.yaml", yaml, strlen(yaml), &d, &err), NXP_OK,
	             "%s", err.msg);
	static nxp_plan plan;
	cr_assert_eq(nxp_plan_build(&plan, pol, &f, NULL, &err), NXP_OK);
	cr_assert_eq(plan.status, NXP_PLAN_REFUSED);
	cr_assert_eq(plan.nrefusals, 1);
	cr_assert_str_eq(plan.refusals[0].rule, "dep");
	cr_assert(strstr(plan.refusals[0].reason, "outside every image"), "%s",
	          plan.refusals[0].reason);
	cr_assert(strstr(plan.refusals[0].reason, "ev.jsonl:1"), "%s", plan.refusals[0].reason);
	/* Without the trace the same policy opts in. */
	f.heap_faults = 0;
	cr_assert_eq(nxp_plan_build(&plan, pol, &f, NULL, &err), NXP_OK);
	cr_assert_eq(plan.status, NXP_PLAN_CHANGES);
	nxp_policy_free(pol);
	nxp_diags_free(&d);
	nxp_evset_free(s);
	nxp_facts_free(&f);
}
