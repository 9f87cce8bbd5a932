/* SPDX-License-Identifier: Apache-2.0 */
/* Trace records as JSONL, read back as evidence, merged into an image's
 * facts. An --evidence file is hostile input like any other: its size, line
 * length and record count are capped, every field is type- and
 * range-checked, and any malformed line is an error naming file:line (so a
 * truncated or edited trace is never half used). */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "nxpatch/report.h"
#include "nxpatch/trace.h"
#include "analysis/internal.h"

/* ------------------------------------------------------------ writing */

const char *nxp_page_protect_name(uint32_t p)
{
	switch (p & 0xff) {
	case 0x01: return "PAGE_NOACCESS";
	case 0x02: return "PAGE_READONLY";
	case 0x04: return "PAGE_READWRITE";
	case 0x08: return "PAGE_WRITECOPY";
	case 0x10: return "PAGE_EXECUTE";
	case 0x20: return "PAGE_EXECUTE_READ";
	case 0x40: return "PAGE_EXECUTE_READWRITE";
	case 0x80: return "PAGE_EXECUTE_WRITECOPY";
	default: return p ? "PAGE_?" : "none";
	}
}

/* The last component of a Windows or Unix path. */
static const char *base_name(const char *p)
{
	const char *b = p;
	for (const char *s = p; *s; s++)
		if (*s == '/' || *s == '\\')
			b = s + 1;
	return b;
}

static json_t *hex64(uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
	return json_string(b);
}

static const char *module_path(const nxp_trace_module *m)
{
	return m->path ? m->path : m->winpath ? m->winpath : "";
}

static json_t *image_json(const nxp_trace_module *m)
{
	return json_pack("{s:I, s:I, s:I}", "size_of_image", (json_int_t)m->size_of_image,
	                 "timestamp", (json_int_t)m->timestamp, "machine", (json_int_t)m->machine);
}

json_t *nxp_trace_fault_json(const nxp_trace *t, size_t i)
{
	const nxp_trace_fault *x = &t->faults[i];
	json_t *o = json_object();
	json_object_set_new(o, "kind", json_string("dep_fault"));
	if (x->module >= 0) {
		const nxp_trace_module *m = &t->modules[x->module];
		json_object_set_new(o, "module", nxp_json_text(module_path(m)));
		json_object_set_new(o, "module_name", nxp_json_text(base_name(module_path(m))));
		json_object_set_new(o, "image", image_json(m));
		json_object_set_new(o, "rva", json_integer(x->rva));
		json_object_set_new(o, "section", nxp_json_text(x->section));
		json_object_set_new(o, "section_characteristics", json_integer(x->section_characteristics));
	} else {
		json_object_set_new(o, "module", json_null());
		json_object_set_new(o, "module_name", json_null());
	}
	json_object_set_new(o, "address", hex64(x->address));
	json_object_set_new(o, "chance", json_string(x->first_chance ? "first" : "second"));
	json_object_set_new(o, "count", json_integer((json_int_t)x->count));
	static const char *types[] = {"image", "mapped", "private"};
	const char *type = x->type == 0x1000000 ? types[0] : x->type == 0x40000 ? types[1]
	                   : x->type == 0x20000 ? types[2] : "unknown";
	json_object_set_new(o, "region",
	                    json_pack("{s:o, s:o, s:o, s:I, s:I, s:s}", "base", hex64(x->region_base),
	                              "allocation_base", hex64(x->allocation_base), "size",
	                              hex64(x->region_size), "protect", (json_int_t)x->protect,
	                              "allocation_protect", (json_int_t)x->allocation_protect,
	                              "type", type));
	if (t->nmodules) {
		const nxp_trace_module *p = &t->modules[0]; /* CREATE_PROCESS comes first */
		json_t *prog = image_json(p);
		json_object_set_new(prog, "name", nxp_json_text(base_name(module_path(p))));
		json_object_set_new(o, "program", prog);
	}
	return o;
}

/* ------------------------------------------------------------ reading */

static int line_fail(nxp_error *err, const char *name, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int line_fail(nxp_error *err, const char *name, unsigned line, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return nxp_fail(err, NXP_E_USAGE, "%s:%u: %s", name, line, msg);
}

/* An integer member in [0, max]; missing is an error when required. */
static int get_uint(json_t *o, const char *key, uint64_t max, uint64_t *v, int required)
{
	json_t *j = json_object_get(o, key);
	if (!j)
		return required ? -1 : 0;
	if (!json_is_integer(j) || json_integer_value(j) < 0 ||
	    (uint64_t)json_integer_value(j) > max)
		return -1;
	*v = (uint64_t)json_integer_value(j);
	return 1;
}

/* "0x..." string member. */
static int get_hexstr(json_t *o, const char *key, uint64_t *v)
{
	json_t *j = json_object_get(o, key);
	if (!j)
		return 0;
	const char *s = json_string_value(j);
	if (!s || strncmp(s, "0x", 2) || !s[2] || strlen(s) > 18)
		return -1;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s + 2, &end, 16);
	if (*end || errno)
		return -1;
	*v = x;
	return 1;
}

/* A file name (base name of a module): a string of 1..1024 bytes without
 * '/' or control characters. (A backslash may be there: a name that is not
 * UTF-8 is written with \xNN escapes, and compared escaped.) */
static int get_name(json_t *o, const char *key, char **out)
{
	json_t *j = json_object_get(o, key);
	*out = NULL;
	if (!j || json_is_null(j))
		return 0;
	const char *s = json_string_value(j);
	size_t n = json_string_length(j);
	if (!s || n == 0 || n > 1024 || strlen(s) != n)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '/')
			return -1;
	return (*out = strdup(s)) ? 1 : -2;
}

static int get_image(json_t *o, const char *key, uint32_t *size, uint32_t *stamp)
{
	json_t *im = json_object_get(o, key);
	uint64_t a, b;
	if (!json_is_object(im) || get_uint(im, "size_of_image", UINT32_MAX, &a, 1) < 0 ||
	    get_uint(im, "timestamp", UINT32_MAX, &b, 1) < 0)
		return -1;
	*size = (uint32_t)a;
	*stamp = (uint32_t)b;
	return 0;
}

static int parse_record(nxp_evrec *r, json_t *o, const char *name, unsigned line,
                        nxp_error *err)
{
	memset(r, 0, sizeof(*r));
	r->line = line;
	if (!json_is_object(o))
		return line_fail(err, name, line, "not a JSON object");
	const char *kind = json_string_value(json_object_get(o, "kind"));
	if (!kind)
		return line_fail(err, name, line, "no \"kind\"");
	if (strcmp(kind, "dep_fault"))
		return line_fail(err, name, line, "unknown kind \"%.40s\" (expected dep_fault)", kind);
	int g = get_name(o, "module_name", &r->module_name);
	if (g == -2)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	if (g < 0)
		return line_fail(err, name, line, "\"module_name\" must be a file name or null");
	uint64_t v;
	if (r->module_name) {
		if (get_image(o, "image", &r->size_of_image, &r->timestamp))
			return line_fail(err, name, line,
			                 "\"image\" must hold size_of_image and timestamp (0..2^32-1)");
		if (get_uint(o, "rva", UINT32_MAX, &v, 1) < 0)
			return line_fail(err, name, line, "\"rva\" must be an integer in 0..2^32-1");
		r->rva = (uint32_t)v;
		json_t *sec = json_object_get(o, "section");
		const char *s = json_string_value(sec);
		if (!s || json_string_length(sec) > 8 || strlen(s) != json_string_length(sec))
			return line_fail(err, name, line, "\"section\" must be a string of at most 8 bytes");
		snprintf(r->section, sizeof(r->section), "%s", s);
	}
	const char *chance = json_string_value(json_object_get(o, "chance"));
	if (!chance || (strcmp(chance, "first") && strcmp(chance, "second")))
		return line_fail(err, name, line, "\"chance\" must be \"first\" or \"second\"");
	r->first_chance = !strcmp(chance, "first");
	r->count = 1;
	if (get_uint(o, "count", UINT64_MAX >> 1, &r->count, 0) < 0 || r->count == 0)
		return line_fail(err, name, line, "\"count\" must be a positive integer");
	if (get_hexstr(o, "address", &r->address) < 0)
		return line_fail(err, name, line, "\"address\" must be a \"0x...\" string");
	json_t *reg = json_object_get(o, "region");
	if (reg) {
		uint64_t p = 0, ap = 0;
		json_t *ty = json_object_get(reg, "type");
		const char *tys = json_string_value(ty);
		static const char *const types[] = {"image", "mapped", "private", "unknown"};
		for (size_t i = 0; tys && i < sizeof(types) / sizeof(types[0]); i++)
			if (!strcmp(tys, types[i]))
				r->region_type = types[i];
		if ((ty && !r->region_type) ||
		    !json_is_object(reg) || get_uint(reg, "protect", UINT32_MAX, &p, 0) < 0 ||
		    get_uint(reg, "allocation_protect", UINT32_MAX, &ap, 0) < 0 ||
		    get_hexstr(reg, "allocation_base", &r->allocation_base) < 0)
			return line_fail(err, name, line, "malformed \"region\"");
		r->protect = (uint32_t)p;
		r->allocation_protect = (uint32_t)ap;
	}
	json_t *prog = json_object_get(o, "program");
	if (prog) {
		if (!json_is_object(prog))
			return line_fail(err, name, line, "\"program\" must be an object");
		g = get_name(prog, "name", &r->program_name);
		if (g == -2)
			return nxp_fail(err, NXP_E_NOMEM, "out of memory");
		if (g <= 0)
			return line_fail(err, name, line, "\"program\" needs a file \"name\"");
		uint64_t a, b;
		if (get_uint(prog, "size_of_image", UINT32_MAX, &a, 1) < 0 ||
		    get_uint(prog, "timestamp", UINT32_MAX, &b, 1) < 0)
			return line_fail(err, name, line,
			                 "\"program\" must hold size_of_image and timestamp (0..2^32-1)");
		r->program_size = (uint32_t)a;
		r->program_timestamp = (uint32_t)b;
	}
	if (!r->module_name && !r->program_name)
		return line_fail(err, name, line,
		                 "a fault outside every image needs \"program\" to say whose it is");
	return NXP_OK;
}

static void rec_free(nxp_evrec *r)
{
	free(r->module_name);
	free(r->program_name);
}

void nxp_evset_free(nxp_evset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nrecs; i++)
		rec_free(&s->recs[i]);
	free(s->recs);
	free(s->path);
	free(s);
}

int nxp_evset_parse(nxp_evset **out, const char *name, const char *buf, size_t len,
                    nxp_error *err)
{
	*out = NULL;
	if (len > NXP_EVFILE_MAX_BYTES)
		return nxp_fail(err, NXP_E_TOO_LARGE, "%s: evidence file larger than %u MiB", name,
		                NXP_EVFILE_MAX_BYTES >> 20);
	nxp_evset *s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(name))) {
		free(s);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	size_t cap = 0;
	unsigned line = 0;
	int rc = NXP_OK;
	for (size_t pos = 0; pos < len && !rc;) {
		const char *p = buf + pos;
		const char *nl = memchr(p, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - p) : len - pos;
		pos += n + (nl ? 1 : 0);
		line++;
		if (n > NXP_EVFILE_MAX_LINE) {
			rc = line_fail(err, name, line, "line longer than %u bytes", NXP_EVFILE_MAX_LINE);
			break;
		}
		if (n && p[n - 1] == '\r')
			n--;
		size_t k = 0;
		while (k < n && (p[k] == ' ' || p[k] == '\t'))
			k++;
		if (k == n)
			continue; /* blank line */
		if (memchr(p, 0, n)) {
			rc = line_fail(err, name, line, "NUL byte");
			break;
		}
		json_error_t je;
		json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
		if (!o) {
			rc = line_fail(err, name, line, "invalid JSON (%s, column %d)", je.text, je.column);
			break;
		}
		if (s->nrecs >= NXP_EVFILE_MAX_RECORDS) {
			json_decref(o);
			rc = line_fail(err, name, line, "more than %u records", NXP_EVFILE_MAX_RECORDS);
			break;
		}
		if (s->nrecs == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			nxp_evrec *nr = realloc(s->recs, ncap * sizeof(*nr));
			if (!nr) {
				json_decref(o);
				rc = nxp_fail(err, NXP_E_NOMEM, "out of memory");
				break;
			}
			s->recs = nr;
			cap = ncap;
		}
		rc = parse_record(&s->recs[s->nrecs], o, name, line, err);
		json_decref(o);
		if (rc)
			rec_free(&s->recs[s->nrecs]);
		else
			s->nrecs++;
	}
	if (rc) {
		nxp_evset_free(s);
		return rc;
	}
	*out = s;
	return NXP_OK;
}

int nxp_evset_load(nxp_evset **out, const char *path, nxp_error *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return nxp_fail(err, NXP_E_IO, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return nxp_fail(err, NXP_E_IO, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > NXP_EVFILE_MAX_BYTES) {
		close(fd);
		return nxp_fail(err, NXP_E_TOO_LARGE, "%s: evidence file larger than %u MiB", path,
		                NXP_EVFILE_MAX_BYTES >> 20);
	}
	size_t len = (size_t)st.st_size, n = 0;
	char *buf = malloc(len ? len : 1);
	if (!buf) {
		close(fd);
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	}
	while (n < len) {
		ssize_t r = read(fd, buf + n, len - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : 0;
			free(buf);
			close(fd);
			return nxp_fail(err, NXP_E_IO, "%s: %s", path,
			                e ? strerror(e) : "file shrank while being read");
		}
		n += (size_t)r;
	}
	close(fd);
	int rc = nxp_evset_parse(out, path, buf, len, err);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------ merging */

int nxp_facts_merge_trace(nxp_facts *f, const nxp_evset *s, nxp_error *err)
{
	if (!s)
		return NXP_OK;
	const nxp_image *img = f->img;
	/* The file's name as the trace writes it (escaped when not UTF-8). */
	json_t *jn = nxp_json_text(base_name(f->path ? f->path : ""));
	if (!jn)
		return nxp_fail(err, NXP_E_NOMEM, "out of memory");
	const char *name = json_string_value(jn);
	int rc = NXP_OK;
	int other_build = 0;
	for (size_t i = 0; i < s->nrecs; i++) {
		const nxp_evrec *r = &s->recs[i];
		const char *who = r->module_name ? r->module_name : r->program_name;
		if (strcasecmp(who, name))
			continue;
		uint32_t size = r->module_name ? r->size_of_image : r->program_size;
		uint32_t stamp = r->module_name ? r->timestamp : r->program_timestamp;
		if (size != img->size_of_image || stamp != img->timestamp) {
			other_build++;
			continue;
		}
		if (!r->module_name) {
			if (!f->heap_faults++)
				snprintf(f->heap_fault, sizeof(f->heap_fault),
				         "0x%llx in %s memory, %s, allocated %s at 0x%llx (%s:%u)",
				         (unsigned long long)r->address,
				         r->region_type ? r->region_type : "unknown",
				         nxp_page_protect_name(r->protect),
				         nxp_page_protect_name(r->allocation_protect),
				         (unsigned long long)r->allocation_base, s->path, r->line);
			continue;
		}
		int sec = nxp_pe_section_of_rva(img, r->rva);
		if (sec < 0 || strncmp(img->sections[sec].name, r->section, 8)) {
			nxpi_facts_add_warning(f,
			                      "%s:%u: traced fault at rva 0x%x in section '%s' does not "
			                      "match this image's sections; ignored",
			                      s->path, r->line, r->rva, r->section);
			continue;
		}
		/* Kept when the section is executable by now (a patched copy): the
		 * evidence says it must stay so, which is what lets a rule that
		 * allows W+X for @code-in-data still match in verify. */
		if ((rc = nxpi_facts_add_evidence(f, NXP_EV_DEP_FAULT, r->rva, sec))) {
			nxp_fail(err, rc, "out of memory merging evidence");
			break;
		}
	}
	if (other_build)
		nxpi_facts_add_warning(f,
		                      "%s: %d traced fault%s name %s but another build (SizeOfImage or "
		                      "TimeDateStamp differ); ignored",
		                      s->path, other_build, other_build == 1 ? "" : "s", name);
	json_decref(jn);
	return rc;
}
