/* SPDX-License-Identifier: Apache-2.0 */
/* scan reports, the driver part: the code integrity facts of nxpatch/driver.h
 * as text lines and as the "driver" JSON object (docs/json.md). Each
 * finding carries the Driver Verifier code (bug check 0xC4 Arg1) that the
 * same behaviour would raise at run time. */
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "nxpatch/driver.h"
#include "nxpatch/report.h"
#include "report/internal.h"

static const char *code_label(unsigned code)
{
	switch (code) {
	case NXP_CI_EXEC_POOL: return "executable pool allocation";
	case NXP_CI_EXEC_PROTECT: return "executable page protection";
	case NXP_CI_MDL_EXEC: return "MDL mapping without MdlMappingNoExecute";
	case NXP_CI_WX_SECTION: return "writable and executable section";
	case NXP_CI_ALIGNMENT: return "section not page aligned";
	case NXP_CI_IAT_EXEC: return "IAT in an executable section";
	default: return "not fixable by patching";
	}
}

static void hexs(char *buf, size_t len, unsigned v)
{
	snprintf(buf, len, "0x%04x", v);
}

/* How the value was found: "mov imm32 at 0x1004, call [rip+iat] at 0x1014". */
static void how_text(const nxp_drv_site *s, char *buf, size_t len)
{
	int n = 0;
	if (s->how != NXP_HOW_NONE && s->setter_rva)
		n = snprintf(buf, len, "%s at 0x%x, ", nxp_arg_how_name(s->how), s->setter_rva);
	else if (s->how != NXP_HOW_NONE)
		n = snprintf(buf, len, "%s, ", nxp_arg_how_name(s->how));
	if (n < 0 || (size_t)n >= len)
		return;
	if (s->call == NXP_CALL_REG)
		snprintf(buf + n, len - (size_t)n, "call reg at 0x%x (loaded %s at 0x%x)", s->rva,
		         s->verdict == NXP_SITE_WRAPPED ? "with the NX wrapper's address"
		                                        : "from the IAT",
		         s->load_rva);
	else if (s->call == NXP_CALL_THUNK)
		snprintf(buf + n, len - (size_t)n, "call at 0x%x to the import thunk at 0x%x", s->rva,
		         s->load_rva);
	else
		snprintf(buf + n, len - (size_t)n, "%s at 0x%x", nxp_call_shape_name(s->call), s->rva);
}

static json_t *site_json(const nxp_image *img, const nxp_drv_site *s)
{
	(void)img;
	char value[320], how[160], name[96], code[16];
	nxp_drv_site_value(s, value, sizeof(value));
	how_text(s, how, sizeof(how));
	const nxp_drv_api *a = &nxp_drv_apis[s->api];
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "rva", (json_int_t)s->rva, "api",
	                      a->name, "verdict", nxp_site_verdict_name(s->verdict), "call",
	                      nxp_call_shape_name(s->call), "resolved", nxp_arg_how_name(s->how),
	                      "description", value);
	if (s->verdict == NXP_SITE_EXEC || s->verdict == NXP_SITE_NOT_FIXABLE) {
		hexs(code, sizeof(code), s->code);
		json_object_set_new(o, "code", s->code ? json_string(code) : json_null());
	}
	json_object_set_new(o, "value", s->known ? json_integer((json_int_t)s->value) : json_null());
	if (s->known && a->kind == NXP_ARG_POOL_TYPE)
		json_object_set_new(o, "value_name",
		                    json_string(nxp_pool_type_name(s->value, name, sizeof(name))));
	json_object_set_new(o, "call_len", json_integer(s->call_len));
	json_object_set_new(o, "setter_rva", s->setter_rva ? json_integer(s->setter_rva) : json_null());
	json_object_set_new(o, "iat_rva", json_integer(s->iat_rva));
	if (s->call == NXP_CALL_REG)
		json_object_set_new(o, "load_rva", json_integer(s->load_rva));
	if (s->how == NXP_HOW_MEMORY && s->global_rva)
		json_object_set_new(o, "global_rva", json_integer(s->global_rva));
	json_object_set_new(o, "how", json_string(how));
	return o;
}

json_t *nxpi_json_driver(const nxp_facts *f)
{
	const nxp_driver_facts *d = f->driver;
	const nxp_image *img = f->img;
	if (!d)
		return json_null();
	json_t *o = json_object(), *sites = json_array(), *refs = json_array(), *wx = json_array();
	for (size_t i = 0; i < d->nsites; i++)
		json_array_append_new(sites, site_json(img, &d->sites[i]));
	for (size_t i = 0; i < d->nrefs; i++)
		json_array_append_new(refs, json_pack("{s:I, s:s, s:I, s:s}", "rva",
		                                      (json_int_t)d->refs[i].rva, "api",
		                                      nxp_drv_apis[d->refs[i].api].name, "iat_rva",
		                                      (json_int_t)d->refs[i].iat_rva, "what",
		                                      d->refs[i].what));
	for (unsigned i = 0; i < d->nwx && i < 8; i++)
		json_array_append_new(wx, nxp_json_text(img->sections[d->wx_sections[i]].name));
	json_object_set_new(o, "sites", sites);
	json_object_set_new(o, "sites_dropped", json_integer((json_int_t)d->sites_dropped));
	json_object_set_new(o, "references", refs);
	json_object_set_new(o, "wx_sections", wx);
	json_object_set_new(o, "section_alignment_ok", json_boolean(!d->misaligned));
	json_object_set_new(o, "iat_section",
	                    d->iat_section >= 0 ? nxp_json_text(img->sections[d->iat_section].name)
	                                        : json_null());
	json_object_set_new(o, "iat_executable", json_boolean(d->iat_exec));
	json_object_set_new(o, "dynamic_value_relocations", json_boolean(d->has_dvrt));
	json_object_set_new(o, "nx_wrappers",
	                    d->wrap_section >= 0
	                            ? json_pack("{s:o, s:I}", "section",
	                                        nxp_json_text(img->sections[d->wrap_section].name),
	                                        "count", (json_int_t)d->nwraps)
	                            : json_null());
	json_object_set_new(o, "pool_nx_optin",
	                    d->optin_global ? json_pack("{s:I, s:I}", "global_rva",
	                                                (json_int_t)d->optin_global, "store_rva",
	                                                (json_int_t)d->optin_store_rva)
	                                    : json_null());

	/* The findings, one per Verifier code instance. */
	json_t *fs = json_array();
	char code[16];
	for (size_t i = 0; i < d->nsites; i++) {
		const nxp_drv_site *s = &d->sites[i];
		if (s->verdict != NXP_SITE_EXEC && s->verdict != NXP_SITE_NOT_FIXABLE)
			continue;
		char value[320];
		nxp_drv_site_value(s, value, sizeof(value));
		hexs(code, sizeof(code), s->code);
		json_array_append_new(fs, json_pack("{s:o, s:s, s:I, s:s, s:s}", "code",
		                                    s->code ? json_string(code) : json_null(), "title",
		                                    code_label(s->code), "rva", (json_int_t)s->rva, "api",
		                                    nxp_drv_apis[s->api].name, "description", value));
	}
	for (unsigned i = 0; i < d->nwx && i < 8; i++) {
		hexs(code, sizeof(code), NXP_CI_WX_SECTION);
		json_array_append_new(fs, json_pack("{s:s, s:s, s:o}", "code", code, "title",
		                                    code_label(NXP_CI_WX_SECTION), "section",
		                                    nxp_json_text(img->sections[d->wx_sections[i]].name)));
	}
	if (d->misaligned) {
		hexs(code, sizeof(code), NXP_CI_ALIGNMENT);
		json_array_append_new(fs, json_pack("{s:s, s:s, s:I}", "code", code, "title",
		                                    code_label(NXP_CI_ALIGNMENT), "section_alignment",
		                                    (json_int_t)img->section_alignment));
	}
	if (d->iat_exec) {
		hexs(code, sizeof(code), NXP_CI_IAT_EXEC);
		json_array_append_new(fs, json_pack("{s:s, s:s, s:o}", "code", code, "title",
		                                    code_label(NXP_CI_IAT_EXEC), "section",
		                                    nxp_json_text(img->sections[d->iat_section].name)));
	}
	json_object_set_new(o, "findings", fs);
	return o;
}

void nxpi_text_driver(FILE *out, const nxp_facts *f)
{
	const nxp_driver_facts *d = f->driver;
	const nxp_image *img = f->img;
	if (!d)
		return;
	char value[320], how[160];
	for (size_t i = 0; i < d->nsites; i++) {
		const nxp_drv_site *s = &d->sites[i];
		nxp_drv_site_value(s, value, sizeof(value));
		how_text(s, how, sizeof(how));
		const char *api = nxp_drv_apis[s->api].name;
		switch (s->verdict) {
		case NXP_SITE_EXEC:
			fprintf(out, "  0x%04x       %s: %s at 0x%x: %s; %s\n", s->code, code_label(s->code),
			        api, s->rva, value, how);
			break;
		case NXP_SITE_NOT_FIXABLE:
			fprintf(out, "  not fixable  %s at 0x%x: %s\n", api, s->rva, value);
			break;
		default:
			fprintf(out, "  pool site    %s at 0x%x: %s (%s); %s\n", api, s->rva, value,
			        nxp_site_verdict_name(s->verdict), how);
			break;
		}
	}
	if (d->sites_dropped)
		fprintf(out, "  pool site    %zu more not listed\n", d->sites_dropped);
	for (size_t i = 0; i < d->nrefs; i++)
		fprintf(out, "  pool ref     %s at 0x%x: %s\n", nxp_drv_apis[d->refs[i].api].name,
		        d->refs[i].rva, d->refs[i].what);
	for (unsigned i = 0; i < d->nwx && i < 8; i++)
		fprintf(out, "  0x%04x       %s: %s\n", NXP_CI_WX_SECTION, code_label(NXP_CI_WX_SECTION),
		        img->sections[d->wx_sections[i]].name);
	if (d->misaligned)
		fprintf(out, "  0x%04x       %s: SectionAlignment 0x%x is below 0x1000\n",
		        NXP_CI_ALIGNMENT, code_label(NXP_CI_ALIGNMENT), img->section_alignment);
	if (d->iat_exec)
		fprintf(out, "  0x%04x       %s: %s\n", NXP_CI_IAT_EXEC, code_label(NXP_CI_IAT_EXEC),
		        img->sections[d->iat_section].name);
	if (d->optin_global)
		fprintf(out,
		        "  nx opt-in    POOL_NX_OPTIN: pool types read from the global at 0x%x, set to "
		        "NonPagedPoolNx at 0x%x\n",
		        d->optin_global, d->optin_store_rva);
	if (d->has_dvrt)
		fprintf(out, "  dvrt         the image has a Dynamic Value Relocation Table (the kernel "
		             "loader rewrites import call sites)\n");
	if (d->disasm_failed)
		fprintf(out, "  pool site    not analysed: the disassembler could not be opened\n");
}
