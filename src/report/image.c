/* SPDX-License-Identifier: Apache-2.0 */
/* scan reports: one image as JSON or text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "nxpatch/report.h"
#include "util/escape.h"
#include "report/internal.h"

/* A JSON string from bytes of the file or the command line, which need not
 * be UTF-8 (jansson refuses those and returns NULL, which silently dropped
 * the entry): kept as is when valid, else every byte outside ASCII (and the
 * backslash) is written as \xNN. Never NULL unless out of memory. */
static json_t *json_bytes(const char *p, size_t n)
{
	json_t *j = json_stringn(p, n);
	if (j)
		return j;
	char *e = malloc(4 * n + 1);
	if (!e)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x80 && c != '\\')
			e[k++] = (char)c;
		else
			k += (size_t)snprintf(e + k, 5, "\\x%02x", c);
	}
	j = json_stringn(e, k);
	free(e);
	return j;
}

json_t *nxp_json_text(const char *s)
{
	return json_bytes(s, strlen(s));
}

json_t *nxpi_json_flags(const nxp_flag_name *table, uint32_t value)
{
	json_t *a = json_array();
	uint32_t known = 0;
	for (const nxp_flag_name *t = table; t->name; t++) {
		if (t->bit && (value & t->bit) == t->bit) {
			json_array_append_new(a, json_string(t->name));
			known |= t->bit;
		}
	}
	if (value & ~known) {
		char hex[16];
		snprintf(hex, sizeof(hex), "0x%x", value & ~known);
		json_array_append_new(a, json_string(hex));
	}
	return a;
}

static json_t *name_or_hex(const char *name, uint32_t v)
{
	if (name)
		return json_string(name);
	char hex[16];
	snprintf(hex, sizeof(hex), "0x%x", v);
	return json_string(hex);
}

static int section_is_wx(const nxp_section *s)
{
	return (s->characteristics & NXP_SCN_WX) == NXP_SCN_WX;
}

json_t *nxp_json_evidence(const nxp_facts *f)
{
	const nxp_image *img = f->img;
	json_t *ev = json_array();
	for (size_t i = 0; i < f->nevidence; i++) {
		const nxp_evidence *e = &f->evidence[i];
		json_array_append_new(ev, json_pack("{s:s, s:I, s:o}", "kind",
		                                    nxp_evidence_kind_name(e->kind), "rva",
		                                    (json_int_t)e->rva, "section",
		                                    nxp_json_text(img->sections[e->section].name)));
	}
	return ev;
}

/* long-function: one JSON object, key by key in the order of docs/json.md. */
json_t *nxp_json_image(const nxp_facts *f)
{
	const nxp_image *img = f->img;
	json_t *o = json_object();
	json_object_set_new(o, "path", nxpi_json_name(f->path));
	json_object_set_new(o, "status", json_string("ok"));
	json_object_set_new(o, "error", json_null());
	json_object_set_new(o, "machine", name_or_hex(nxp_machine_name(img->machine), img->machine));
	json_object_set_new(o, "format", json_string(img->pe32plus ? "PE32+" : "PE32"));
	json_object_set_new(o, "kind", json_string(nxp_kind_name(f->kind)));
	json_object_set_new(o, "subsystem",
	                    name_or_hex(nxp_subsystem_name(img->subsystem), img->subsystem));
	json_object_set_new(o, "dll_characteristics",
	                    json_pack("{s:I, s:o}", "value", (json_int_t)img->dll_characteristics,
	                              "flags",
	                              nxpi_json_flags(nxp_dll_flag_names, img->dll_characteristics)));
	json_object_set_new(o, "image_base", json_integer((json_int_t)img->image_base));
	json_object_set_new(o, "section_alignment", json_integer(img->section_alignment));
	json_object_set_new(o, "file_alignment", json_integer(img->file_alignment));

	json_t *secs = json_array(), *wx = json_array();
	for (unsigned i = 0; i < img->nsections; i++) {
		const nxp_section *s = &img->sections[i];
		json_t *so = json_pack(
			"{s:o, s:{s:I, s:o}, s:I, s:I, s:I, s:I, s:b, s:b, s:I}", "name", nxp_json_text(s->name),
			"characteristics", "value", (json_int_t)s->characteristics, "attributes",
			nxpi_json_flags(nxp_section_attr_names, s->characteristics),
			"virtual_address", (json_int_t)s->virtual_address, "virtual_size",
			(json_int_t)s->virtual_size, "raw_offset", (json_int_t)s->raw_offset, "raw_size",
			(json_int_t)s->raw_size, "wx", section_is_wx(s), "code_in_data",
			f->section_evidence[i] > 0, "evidence_count",
			(json_int_t)f->section_evidence[i]);
		json_array_append_new(secs, so);
		if (section_is_wx(s))
			json_array_append_new(wx, nxp_json_text(s->name));
	}
	json_object_set_new(o, "sections", secs);
	json_object_set_new(o, "wx_sections", wx);

	json_object_set_new(o, "entry_point",
	                    json_pack("{s:I, s:o}", "rva", (json_int_t)img->entry_rva, "section",
	                              img->entry_section >= 0
	                                      ? nxp_json_text(img->sections[img->entry_section].name)
	                                      : json_null()));
	json_object_set_new(o, "checksum",
	                    json_pack("{s:I, s:I, s:b}", "stored", (json_int_t)img->checksum,
	                              "computed", (json_int_t)f->checksum_computed, "valid",
	                              img->checksum == f->checksum_computed));
	json_object_set_new(o, "signature",
	                    json_pack("{s:b, s:I, s:I, s:I}", "present", img->ncerts > 0, "entries",
	                              (json_int_t)img->ncerts, "offset", (json_int_t)img->cert_offset,
	                              "size", (json_int_t)img->cert_size));
	json_object_set_new(o, "relocations",
	                    json_pack("{s:b, s:b}", "present", img->has_relocs, "stripped",
	                              img->relocs_stripped));
	json_object_set_new(o, "overlay",
	                    json_pack("{s:I, s:I}", "offset", (json_int_t)img->overlay_offset, "size",
	                              (json_int_t)img->overlay_size));

	json_t *imports = json_array();
	for (uint32_t i = 0; i < img->nimports; i++)
		json_array_append_new(imports,
		                      json_bytes((const char *)img->data + img->imports[i].name_offset,
		                                   img->imports[i].name_len));
	json_object_set_new(o, "imports", imports);

	json_object_set_new(o, "evidence", nxp_json_evidence(f));
	json_object_set_new(o, "code_in_data", json_boolean(f->code_in_data));
	if (f->driver)
		json_object_set_new(o, "driver", nxpi_json_driver(f));
	json_t *warn = json_array();
	for (size_t i = 0; i < f->nwarnings; i++)
		json_array_append_new(warn, nxp_json_text(f->warnings[i]));
	json_object_set_new(o, "warnings", warn);
	return o;
}

json_t *nxp_json_failure(const char *path, const nxp_error *err)
{
	return json_pack("{s:o, s:s, s:o, s:s}", "path", nxpi_json_name(path), "status", "error", "error",
	                 nxp_json_text(err->msg),
	                 "code", nxp_code_name(err->code));
}

void nxp_text_image(FILE *out, const nxp_facts *f)
{
	const nxp_image *img = f->img;
	char buf[512];
	const char *machine = nxp_machine_name(img->machine);
	const char *subsys = nxp_subsystem_name(img->subsystem);
	fprintf(out, "%s\n", nxpi_shown(f->path));
	fprintf(out, "  machine      %s", machine ? machine : "");
	if (!machine)
		fprintf(out, "0x%04x", img->machine);
	fprintf(out, ", %s, %s, ", img->pe32plus ? "PE32+" : "PE32", nxp_kind_name(f->kind));
	if (subsys)
		fprintf(out, "%s\n", subsys);
	else
		fprintf(out, "subsystem %u\n", img->subsystem);
	nxp_flag_format(nxp_dll_flag_names, img->dll_characteristics, ", ", buf, sizeof(buf));
	fprintf(out, "  dll chars    0x%04x (%s)%s\n", img->dll_characteristics, buf[0] ? buf : "none",
	        img->dll_characteristics & NXP_DLL_NX_COMPAT ? "" : "  [no nx_compat]");
	fprintf(out, "  alignment    section 0x%x, file 0x%x\n", img->section_alignment,
	        img->file_alignment);
	fprintf(out, "  entry point  0x%x in %s\n", img->entry_rva,
	        img->entry_section >= 0 ? nxpi_shown(img->sections[img->entry_section].name)
	                                : "(no section)");
	fprintf(out, "  checksum     stored 0x%08x, computed 0x%08x (%s)\n", img->checksum,
	        f->checksum_computed,
	        img->checksum == f->checksum_computed ? "valid"
	        : img->checksum == 0                  ? "not set"
	                                              : "stale");
	if (img->ncerts)
		fprintf(out, "  signature    %u entr%s, 0x%x bytes at 0x%x\n", img->ncerts,
		        img->ncerts == 1 ? "y" : "ies", img->cert_size, img->cert_offset);
	else
		fprintf(out, "  signature    none\n");
	fprintf(out, "  relocations  %s%s\n", img->has_relocs ? "present" : "none",
	        img->relocs_stripped ? " (stripped)" : "");
	fprintf(out, "  overlay      %u bytes\n", img->overlay_size);
	fprintf(out, "  sections     %u\n", img->nsections);
	for (unsigned i = 0; i < img->nsections; i++) {
		const nxp_section *s = &img->sections[i];
		nxp_flag_format(nxp_section_attr_names, s->characteristics, ",", buf, sizeof(buf));
		fprintf(out, "    %-8s 0x%08x %-44s va 0x%08x raw 0x%x+0x%x%s", nxpi_shown(s->name),
		        s->characteristics, buf, s->virtual_address, s->raw_offset, s->raw_size,
		        section_is_wx(s) ? "  W+X" : "");
		/* The verdict, for sections without execute. */
		if (f->section_evidence[i])
			fprintf(out, "  code in data: yes (%u evidence)", f->section_evidence[i]);
		else if (!(s->characteristics & NXP_SCN_MEM_EXECUTE))
			fprintf(out, "  code in data: no");
		fputc('\n', out);
	}
	fprintf(out, "  code in data %s\n", f->code_in_data ? "yes" : "no");
	for (size_t i = 0; i < f->nevidence; i++) {
		const nxp_evidence *e = &f->evidence[i];
		fprintf(out, "  evidence     %s at 0x%x in %s\n", nxp_evidence_kind_name(e->kind),
		        e->rva, nxpi_shown(img->sections[e->section].name));
	}
	if (f->evidence_dropped)
		fprintf(out, "  evidence     %zu more not listed\n", f->evidence_dropped);
	nxpi_text_driver(out, f);
	for (size_t i = 0; i < f->nwarnings; i++)
		fprintf(out, "  warning      %s\n", nxpi_shown(f->warnings[i]));
}
