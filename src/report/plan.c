/* SPDX-License-Identifier: Apache-2.0 */
/* Plan reports: the dry-run diff as text and as JSON. */
#include <stdio.h>
#include <jansson.h>

#include "nxpatch/driver.h"
#include "nxpatch/plan.h"
#include "nxpatch/report.h"
#include "util/escape.h"
#include "report/internal.h"

static const char *plan_status_name(int status)
{
	static const char *const names[] = {
		[NXP_PLAN_NOTHING] = "nothing_to_do",
		[NXP_PLAN_CHANGES] = "changes",
		[NXP_PLAN_REFUSED] = "refused",
	};
	if (status < 0 || (size_t)status >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[status];
}


static const char *sig_action_name(nxp_sig_action a)
{
	static const char *const names[] = {
		[NXP_SIGACT_NONE] = "none",
		[NXP_SIGACT_STRIP] = "strip",
		[NXP_SIGACT_RESIGN] = "resign",
	};
	return names[a];
}

/* The bits of a flag-field change: added and removed names, and each bit
 * with its operation and deciding rule. */
static void json_change_bits(json_t *co, const nxp_change *c)
{
	const nxp_flag_name *t = c->field == NXP_FIELD_DLL_CHARACTERISTICS ? nxp_dll_flag_names
	                                                                    : nxp_section_attr_names;
	json_t *added = json_array(), *removed = json_array(), *bits = json_array();
	for (unsigned b = 0; b < c->nbits; b++) {
		json_t *names = nxpi_json_flags(t, c->bits[b].bit);
		json_t *name = json_array_get(names, 0);
		json_array_append(c->bits[b].set ? added : removed, name);
		json_array_append_new(bits, json_pack("{s:O, s:s, s:s}", "name", name, "op",
		                                      c->bits[b].set ? "set" : "clear", "rule",
		                                      c->bits[b].rule));
		json_decref(names);
	}
	json_object_set_new(co, "added", added);
	json_object_set_new(co, "removed", removed);
	json_object_set_new(co, "bits", bits);
}

/* One change, in the order docs/json.md lists its keys. */
static json_t *json_change(const nxp_image *img, const nxp_change *c)
{
	char rules[256];
	nxp_change_rules(c, rules, sizeof(rules));
	json_t *co = json_pack("{s:s, s:I, s:I, s:I, s:I}", "field", nxp_field_name(c->field),
	                       "offset", (json_int_t)c->offset, "size", (json_int_t)c->size, "old",
	                       (json_int_t)c->old_value, "new", (json_int_t)c->new_value);
	if (c->section >= 0)
		json_object_set_new(co, "section", json_string(img->sections[c->section].name));
	json_object_set_new(co, "rule", rules[0] ? json_string(rules) : json_null());
	if (c->field == NXP_FIELD_POOL_TYPE || c->field == NXP_FIELD_CALL_SITE ||
	    c->field == NXP_FIELD_RELOC_ENTRY) {
		json_object_set_new(co, "site_rva", json_integer(c->site_rva));
		json_object_set_new(co, "api", json_string(nxp_drv_apis[c->api].name));
		if (c->field == NXP_FIELD_POOL_TYPE)
			json_object_set_new(co, "added", json_pack("[s]", "POOL_NX_ALLOCATION"));
		else
			json_object_set_new(co, "rva", json_integer(c->rva));
		if (c->field == NXP_FIELD_CALL_SITE)
			json_object_set_new(co, "wrapper_rva", json_integer(c->target_rva));
	} else if ((c->field == NXP_FIELD_DLL_CHARACTERISTICS ||
	            c->field == NXP_FIELD_SECTION_CHARACTERISTICS) &&
	           c->nbits) {
		json_change_bits(co, c); /* header fields of an appended section have no bits */
	}
	return co;
}

static json_t *json_added_section(const nxp_plan *plan)
{
	const nxp_added_section *a = &plan->add;
	if (!a->present)
		return json_null();
	return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name",
	                 nxp_json_text(a->name), "rva", (json_int_t)a->rva, "virtual_size",
	                 (json_int_t)a->virtual_size, "raw_offset", (json_int_t)a->raw_offset,
	                 "raw_size", (json_int_t)a->raw_size, "characteristics",
	                 (json_int_t)a->characteristics, "header_offset",
	                 (json_int_t)a->header_offset, "wrappers", (json_int_t)a->nwrappers,
	                 "output_size", (json_int_t)nxp_plan_body_end(plan));
}

json_t *nxp_json_plan(const nxp_facts *f, const nxp_plan *plan)
{
	json_t *o = nxp_json_image(f);
	json_object_set_new(o, "plan", json_string(plan_status_name(plan->status)));
	json_t *changes = json_array();
	for (size_t i = 0; i < plan->nchanges; i++)
		json_array_append_new(changes, json_change(f->img, &plan->changes[i]));
	json_object_set_new(o, "changes", changes);
	json_object_set_new(o, "added_section", json_added_section(plan));
	json_t *refused = json_array();
	for (size_t i = 0; i < plan->nrefusals; i++) {
		const nxp_refusal *r = &plan->refusals[i];
		json_array_append_new(refused,
		                      json_pack("{s:o, s:s}", "rule",
		                                r->rule ? json_string(r->rule) : json_null(), "reason",
		                                r->reason));
	}
	json_object_set_new(o, "refused", refused);
	json_t *warnings = json_array();
	for (size_t i = 0; i < plan->nwarnings; i++)
		json_array_append_new(warnings, json_string(plan->warnings[i]));
	json_object_set_new(o, "warnings", warnings);
	json_t *rules = json_array();
	for (size_t i = 0; i < plan->nmatched; i++)
		json_array_append_new(rules, json_string(plan->matched[i]));
	json_object_set_new(o, "rules_matched", rules);
	/* A new signature on an unsigned input (signature: sign) is "sign". */
	json_object_set_new(json_object_get(o, "signature"), "action",
	                    json_string(plan->signature == NXP_SIGACT_RESIGN &&
	                                                !plan->signature_entries
	                                        ? "sign"
	                                        : sig_action_name(plan->signature)));
	json_object_set_new(json_object_get(o, "checksum"), "new",
	                    plan->signature == NXP_SIGACT_RESIGN
	                            ? json_null()
	                            : json_integer((json_int_t)plan->checksum_new));
	return o;
}

/* "ff 15 e2 1f 00 00": the little-endian bytes of an edit. */
static const char *hex_bytes(uint64_t v, uint32_t size, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (uint32_t k = 0; k < size && k < 8 && n + 4 <= len; k++)
		n += (size_t)snprintf(buf + n, len - n, "%s%02x", k ? " " : "", (unsigned)(v >> (8 * k)) & 0xffu);
	return buf;
}

void nxp_text_plan(FILE *out, const nxp_facts *f, const nxp_plan *plan)
{
	const nxp_image *img = f->img;
	fprintf(out, "%s: ", nxpi_shown(f->path));
	switch (plan->status) {
	case NXP_PLAN_NOTHING:
		fprintf(out, "nothing to do\n");
		break;
	case NXP_PLAN_CHANGES:
		if (plan->nchanges)
			fprintf(out, "%zu change%s\n", plan->nchanges, plan->nchanges == 1 ? "" : "s");
		else
			fprintf(out, "a new signature only\n");
		break;
	case NXP_PLAN_REFUSED:
		fprintf(out, "refused (%zu reason%s); nothing will be written\n", plan->nrefusals,
		        plan->nrefusals == 1 ? "" : "s");
		break;
	}
	for (size_t i = 0; i < plan->nchanges; i++) {
		const nxp_change *c = &plan->changes[i];
		char label[128], bits[512], rules[256], ob[32], nb[32];
		nxp_change_label(c, img, label, sizeof(label));
		nxp_change_bits(c, bits, sizeof(bits));
		nxp_change_rules(c, rules, sizeof(rules));
		fprintf(out, "  @0x%08x  %s ", c->offset, nxpi_shown(label));
		if (c->field == NXP_FIELD_DLL_CHARACTERISTICS || c->field == NXP_FIELD_SECTION_COUNT ||
		    c->field == NXP_FIELD_RELOC_ENTRY)
			fprintf(out, "0x%04llX -> 0x%04llX", (unsigned long long)c->old_value,
			        (unsigned long long)c->new_value);
		else if (c->field == NXP_FIELD_CALL_SITE || c->field == NXP_FIELD_SECTION_HEADER)
			fprintf(out, "%s -> %s", hex_bytes(c->old_value, c->size, ob, sizeof(ob)),
			        hex_bytes(c->new_value, c->size, nb, sizeof(nb)));
		else if (c->field == NXP_FIELD_CERT_DIR)
			fprintf(out, "(0x%llx, 0x%llx) -> (0, 0)",
			        (unsigned long long)(c->old_value & 0xffffffffu),
			        (unsigned long long)(c->old_value >> 32));
		else
			fprintf(out, "0x%08llX -> 0x%08llX", (unsigned long long)c->old_value,
			        (unsigned long long)c->new_value);
		if (bits[0])
			fprintf(out, " (%s)", bits);
		if (rules[0])
			fprintf(out, " [rule %s]", nxpi_shown(rules));
		fputc('\n', out);
	}
	if (plan->add.present)
		fprintf(out, "  section %s appended: rva 0x%x, 0x%x bytes at file offset 0x%x "
		             "(raw 0x%x), characteristics 0x%08X, %u NX wrapper%s; output 0x%llx "
		             "bytes\n",
		        nxpi_shown(plan->add.name), plan->add.rva, plan->add.virtual_size,
		        plan->add.raw_offset, plan->add.raw_size, plan->add.characteristics,
		        plan->add.nwrappers, plan->add.nwrappers == 1 ? "" : "s",
		        (unsigned long long)nxp_plan_body_end(plan));
	if (plan->signature == NXP_SIGACT_STRIP)
		fprintf(out, "  signature: %u entr%s removed (file truncated to 0x%llx bytes)\n",
		        plan->signature_entries, plan->signature_entries == 1 ? "y" : "ies",
		        (unsigned long long)plan->out_len);
	if (plan->signature == NXP_SIGACT_RESIGN && !plan->signature_entries)
		fprintf(out, "  signature: the unsigned image gets a new signature; checksum "
		             "recomputed after signing\n");
	else if (plan->signature == NXP_SIGACT_RESIGN)
		fprintf(out, "  signature: %u entr%s replaced by one new signature; checksum "
		             "recomputed after signing\n",
		        plan->signature_entries, plan->signature_entries == 1 ? "y" : "ies");
	if (plan->status == NXP_PLAN_CHANGES && plan->signature != NXP_SIGACT_RESIGN &&
	    plan->checksum_new == plan->checksum_old && plan->checksum_old == 0)
		fprintf(out, "  checksum: stays 0 (not set in the input)\n");
	if (plan->checksum_from_stored)
		fprintf(out, "  checksum: updated from the stored 0x%08x, taken as correct and not "
		             "re-read (--trust-checksum; 'nxpatch verify' reads every byte)\n",
		        plan->checksum_base);
	for (size_t i = 0; i < plan->nrefusals; i++) {
		if (plan->refusals[i].rule)
			fprintf(out, "  refused [rule %s]: %s\n", nxpi_shown(plan->refusals[i].rule),
			        nxpi_shown(plan->refusals[i].reason));
		else
			fprintf(out, "  refused: %s\n", nxpi_shown(plan->refusals[i].reason));
	}
	for (size_t i = 0; i < plan->nwarnings; i++)
		fprintf(out, "  warning: %s\n", nxpi_shown(plan->warnings[i]));
}
