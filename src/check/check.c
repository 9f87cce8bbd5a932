/* SPDX-License-Identifier: Apache-2.0 */
/* The judge: policy x facts (x trust) -> findings.
 *
 * With a policy, the plan decides: every planned change is a PENDING
 * finding, every refusal a REFUSED one, and nothing else fails. Posture
 * findings (W+X sections and whether a rule sanctions them, DEP, code in
 * data, a stale checksum) are added after them and never decide. Without a
 * policy (scan) only posture is reported. With trust, every signature entry
 * is verified and a failure is a SIGNATURE finding.
 *
 * Failing findings come first, so the cap on findings per image can only
 * ever drop posture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/check.h"
#include "nxpatch/driver.h"
#include "nxpatch/plan.h"
#include "nxpatch/sign.h"
#include "analysis/internal.h"
#include "check/internal.h"

#define ADD(...)                                                  \
	do {                                                      \
		if (nxpi_findings_add(&c->findings, __VA_ARGS__))  \
			return NXP_E_NOMEM;                       \
	} while (0)

static nxp_where at_section(int idx)
{
	nxp_where w = NXP_WHERE_NONE;
	w.section = idx;
	return w;
}

static nxp_where at_change(const nxp_change *ch)
{
	nxp_where w = NXP_WHERE_NONE;
	w.section = ch->section;
	if (ch->field == NXP_FIELD_POOL_TYPE || ch->field == NXP_FIELD_CALL_SITE ||
	    ch->field == NXP_FIELD_RELOC_ENTRY) {
		w.has_rva = 1;
		w.rva = ch->site_rva;
	}
	w.field = nxp_field_name(ch->field);
	w.has_offset = 1;
	w.offset = ch->offset;
	return w;
}

static int pending(nxp_check *c, const nxp_plan *plan, const nxp_image *img,
                   const nxp_policy *pol)
{
	int cert_dir = 0;
	for (size_t i = 0; i < plan->nchanges; i++) {
		const nxp_change *ch = &plan->changes[i];
		char label[128], bits[512], rules[256];
		nxp_change_label(ch, img, label, sizeof(label));
		nxp_change_bits(ch, bits, sizeof(bits));
		nxp_change_rules(ch, rules, sizeof(rules));
		const char *rule = ch->nbits ? ch->bits[0].rule : NULL;
		switch (ch->field) {
		case NXP_FIELD_CHECKSUM:
			ADD(NXP_F_CHECKSUM_PENDING, at_change(ch), NULL,
			    "pending: checksum 0x%08llX -> 0x%08llX (%s)",
			    (unsigned long long)ch->old_value, (unsigned long long)ch->new_value,
			    plan->nchanges == 1 ? "checksum: always" : "recomputed for the changes");
			break;
		case NXP_FIELD_CERT_DIR:
			ADD(NXP_F_SIGNATURE_PENDING, at_change(ch), NULL,
			    "pending: signature (%u entr%s) %s", plan->signature_entries,
			    plan->signature_entries == 1 ? "y" : "ies",
			    plan->signature == NXP_SIGACT_RESIGN ? "replaced by a new one" : "removed");
			cert_dir = 1;
			break;
		case NXP_FIELD_POOL_TYPE:
			ADD(NXP_F_POOL_PENDING, at_change(ch), rule,
			    "pending: %s 0x%llX -> 0x%llX (%s) [rule %s]", label,
			    (unsigned long long)ch->old_value, (unsigned long long)ch->new_value, bits,
			    rules);
			break;
		case NXP_FIELD_CALL_SITE:
		case NXP_FIELD_RELOC_ENTRY:
			ADD(NXP_F_POOL_PENDING, at_change(ch), rule, "pending: %s [rule %s]", label,
			    rules);
			break;
		case NXP_FIELD_SECTION_COUNT:
		case NXP_FIELD_SIZE_OF_CODE:
		case NXP_FIELD_SIZE_OF_IMAGE:
		case NXP_FIELD_SECTION_HEADER:
			ADD(NXP_F_CHANGE_PENDING, at_change(ch), NULL,
			    "pending: %s 0x%llX -> 0x%llX (section %s appended)", label,
			    (unsigned long long)ch->old_value, (unsigned long long)ch->new_value,
			    plan->add.name);
			break;
		case NXP_FIELD_DLL_CHARACTERISTICS:
		case NXP_FIELD_SECTION_CHARACTERISTICS: {
			int nx = ch->field == NXP_FIELD_DLL_CHARACTERISTICS &&
			         (ch->new_value & ~ch->old_value & NXP_DLL_NX_COMPAT);
			if (nx)
				for (unsigned b = 0; b < ch->nbits; b++)
					if (ch->bits[b].bit == NXP_DLL_NX_COMPAT)
						rule = ch->bits[b].rule;
			ADD(nx ? NXP_F_NX_PENDING : NXP_F_CHANGE_PENDING, at_change(ch), rule,
			    "pending: %s 0x%llX -> 0x%llX (%s) [rule %s]", label,
			    (unsigned long long)ch->old_value, (unsigned long long)ch->new_value, bits,
			    rules);
			break;
		}
		}
	}
	/* signature: sign on an unsigned image: no field of the input names it. */
	if (plan->signature == NXP_SIGACT_RESIGN && !cert_dir && plan->status != NXP_PLAN_REFUSED)
		ADD(NXP_F_SIGNATURE_PENDING, NXP_WHERE_NONE, NULL,
		    "pending: signature (the image is unsigned, and signature: sign (%s) signs "
		    "every output)", pol && pol->signature_from ? pol->signature_from : "policy");
	return NXP_OK;
}

static int refused(nxp_check *c, const nxp_plan *plan)
{
	for (size_t i = 0; i < plan->nrefusals; i++) {
		const nxp_refusal *r = &plan->refusals[i];
		ADD(r->id, r->where, r->rule, "refused%s%s%s: %s", r->rule ? " [rule " : "",
		    r->rule ? r->rule : "", r->rule ? "]" : "", r->reason);
	}
	return NXP_OK;
}

static int signatures(nxp_check *c, const nxp_facts *f, const nxp_trust *trust)
{
	const nxp_image *img = f->img;
	if (!img->ncerts) {
		ADD(NXP_F_NOT_SIGNED, NXP_WHERE_NONE, NULL, "not signed");
		return NXP_OK;
	}
	c->sigs = calloc(NXP_MAX_CERT_ENTRIES, sizeof(*c->sigs));
	if (!c->sigs)
		return NXP_E_NOMEM;
	nxp_error err = {0};
	int rc = nxp_sig_verify(img->data, img->len, img, trust, c->sigs, NXP_MAX_CERT_ENTRIES,
	                        &c->nsigs, &err);
	c->signatures_ok = rc == NXP_OK;
	if (rc && c->nsigs == 0)
		ADD(NXP_F_SIGNATURE_INVALID, NXP_WHERE_NONE, NULL, "signature: %s", err.msg);
	for (size_t i = 0; i < c->nsigs; i++) {
		const nxp_sig_result *r = &c->sigs[i];
		if (r->status != NXP_SIGSTATUS_OK)
			ADD(NXP_F_SIGNATURE_INVALID, NXP_WHERE_NONE, NULL, "signature %u: %s: %s",
			    r->index, nxp_sig_status_name(r->status), r->reason);
	}
	return NXP_OK;
}

/* The first evidence record in section i, for the location. */
static nxp_where first_evidence(const nxp_facts *f, unsigned i)
{
	nxp_where w = at_section((int)i);
	for (size_t k = 0; k < f->nevidence; k++)
		if (f->evidence[k].section == (int)i) {
			w.has_rva = 1;
			w.rva = f->evidence[k].rva;
			break;
		}
	return w;
}

/* Drivers: one finding per Driver Verifier code instance (docs/drivers.md). */
static int driver_posture(nxp_check *c, const nxp_facts *f)
{
	const nxp_driver_facts *d = f->driver;
	const nxp_image *img = f->img;
	for (size_t i = 0; i < d->nsites; i++) {
		const nxp_drv_site *s = &d->sites[i];
		const nxp_drv_api *a = &nxp_drv_apis[s->api];
		char value[320];
		nxp_drv_site_value(s, value, sizeof(value));
		nxp_where w = at_section(nxp_pe_section_of_rva(img, s->rva));
		w.has_rva = 1;
		w.rva = s->rva;
		switch (s->verdict) {
		case NXP_SITE_OK:
		case NXP_SITE_WRAPPED: /* NX at run time through nxpatch's wrapper */
			break;
		case NXP_SITE_EXEC:
			ADD(s->code == NXP_CI_EXEC_PROTECT ? NXP_F_DRV_EXEC_PROTECT
			    : s->code == NXP_CI_MDL_EXEC   ? NXP_F_DRV_MDL_EXEC
			                                   : NXP_F_DRV_EXEC_POOL,
			    w, NULL, "0x%04x: %s call at 0x%x: %s (%s)", s->code, a->name, s->rva, value,
			    nxp_arg_how_name(s->how));
			break;
		case NXP_SITE_NOT_FIXABLE:
			ADD(NXP_F_DRV_NOT_FIXABLE, w, NULL, "%s call at 0x%x: %s", a->name, s->rva, value);
			break;
		case NXP_SITE_UNKNOWN:
			ADD(NXP_F_DRV_POOL_UNKNOWN, w, NULL, "%s call at 0x%x: %s", a->name, s->rva, value);
			break;
		case NXP_SITE_OPTIN:
			ADD(NXP_F_DRV_POOL_OPTIN, w, NULL,
			    "%s call at 0x%x reads its pool type from the global at 0x%x, which the "
			    "driver sets to NonPagedPoolNx at 0x%x (POOL_NX_OPTIN)",
			    a->name, s->rva, s->global_rva, s->optin_store_rva);
			break;
		}
	}
	for (unsigned i = 0; i < d->nwx && i < 8; i++)
		ADD(NXP_F_DRV_WX_SECTION, at_section(d->wx_sections[i]), NULL,
		    "0x2003: section %s is writable and executable",
		    img->sections[d->wx_sections[i]].name);
	if (d->misaligned)
		ADD(NXP_F_DRV_ALIGNMENT, NXP_WHERE_NONE, NULL,
		    "0x2004: SectionAlignment 0x%x is below the page size 0x1000",
		    img->section_alignment);
	if (d->iat_exec)
		ADD(NXP_F_DRV_IAT_EXEC, at_section(d->iat_section), NULL,
		    "0x2005: the import address table is in executable section %s",
		    img->sections[d->iat_section].name);
	return NXP_OK;
}

/* long-function: one ADD per posture finding, in the order of findings.def. */
static int posture(nxp_check *c, const nxp_facts *f, const nxp_plan *plan,
                   const nxp_policy *pol)
{
	const nxp_image *img = f->img;
	/* Posture is the image as it is; what the plan would change is in the
	 * PENDING findings. */
	uint16_t dll = plan ? plan->dll_new : img->dll_characteristics;
	if (!(img->dll_characteristics & NXP_DLL_NX_COMPAT)) {
		nxp_where w = NXP_WHERE_NONE;
		w.field = "dll_characteristics";
		w.has_offset = 1;
		w.offset = img->dll_characteristics_offset;
		if (!plan)
			ADD(NXP_F_NOT_NX_COMPAT, w, NULL,
			    "the image is not marked nx compatible (DllCharacteristics 0x%04x lacks "
			    "NX_COMPAT)",
			    img->dll_characteristics);
		else if (!(dll & NXP_DLL_NX_COMPAT))
			ADD(NXP_F_NX_NOT_REQUESTED, w, NULL,
			    "the image is not marked nx compatible, and policy %s does not opt it in",
			    pol->source ? pol->source : "(default)");
	}
	for (unsigned i = 0; i < img->nsections; i++) {
		const nxp_section *s = &img->sections[i];
		uint32_t ch = s->characteristics;
		const char *sanction = plan && (plan->section_new[i] & NXP_SCN_WX) == NXP_SCN_WX
		                               ? plan->wx_rule[i]
		                               : NULL;
		if ((ch & NXP_SCN_WX) == NXP_SCN_WX) {
			if (!plan)
				ADD(NXP_F_WX_SECTION, at_section((int)i), NULL,
				    "section %s is writable and executable", s->name);
			else if (sanction)
				ADD(NXP_F_WX_SANCTIONED, at_section((int)i), sanction,
				    "section %s is writable and executable, allowed by rule %s "
				    "(allow_wx)",
				    s->name, sanction);
			else if (img->dll_characteristics & NXP_DLL_NX_COMPAT)
				ADD(NXP_F_WX_NX_IMAGE, at_section((int)i), NULL,
				    "section %s is writable and executable in an image already marked "
				    "nx compatible, and no rule allows it",
				    s->name);
			else
				ADD(NXP_F_WX_NO_DEP, at_section((int)i), NULL,
				    "section %s is writable and executable, and the image is not marked nx "
				    "compatible",
				    s->name);
		}
		if (f->section_evidence[i] && !(ch & NXP_SCN_MEM_EXECUTE))
			ADD(NXP_F_CODE_IN_DATA, first_evidence(f, i), NULL,
			    "section %s is not executable but holds code (%u evidence records)",
			    s->name, (unsigned)f->section_evidence[i]);
	}
	/* A stale checksum: under checksum: always, or in an image the plan
	 * changes, the plan rewrites it (a PENDING finding above). Otherwise
	 * the loader ignores it for user-mode images, and it is a note. */
	int rewritten = 0;
	for (size_t i = 0; plan && i < plan->nchanges; i++)
		rewritten |= plan->changes[i].field == NXP_FIELD_CHECKSUM;
	if (img->checksum && img->checksum != f->checksum_computed && !rewritten) {
		nxp_where w = NXP_WHERE_NONE;
		w.field = "checksum";
		w.has_offset = 1;
		w.offset = img->checksum_offset;
		if (!plan)
			ADD(NXP_F_CHECKSUM_STALE, w, NULL, "checksum 0x%08x is stale (computed 0x%08x)",
			    img->checksum, f->checksum_computed);
		else if (plan->signature != NXP_SIGACT_RESIGN)
			ADD(NXP_F_CHECKSUM_STALE_KEPT, w, NULL,
			    "checksum 0x%08x is stale (computed 0x%08x); the plan leaves the image "
			    "alone and checksum: auto keeps it",
			    img->checksum, f->checksum_computed);
	}
	if (f->driver) {
		int rc = driver_posture(c, f);
		if (rc)
			return rc;
	}
	if (plan)
		for (size_t i = 0; i < plan->nwarnings; i++)
			ADD(NXP_F_IMAGE_WARNING, NXP_WHERE_NONE, NULL, "%s", plan->warnings[i]);
	else
		for (size_t i = 0; i < f->nwarnings; i++)
			ADD(NXP_F_IMAGE_WARNING, NXP_WHERE_NONE, NULL, "%s", f->warnings[i]);
	return NXP_OK;
}

static int judge(nxp_check *c, const nxp_policy *pol, const nxp_facts *f,
                 const nxp_check_options *opt, nxp_error *err)
{
	/* Findings report every fact; facts derived on demand go to
	 * nxp_input_plan() instead. */
	if (!nxpi_facts_complete(f))
		return nxp_fail(err, NXP_E_INTERNAL, "findings need fully derived facts");
	if (pol) {
		c->plan = malloc(sizeof(*c->plan));
		if (!c->plan)
			return NXP_E_NOMEM;
		nxp_plan_options po = {.will_sign = opt->will_sign,
		                       .checksum_from_stored = opt->checksum_from_stored};
		int rc = nxp_plan_build(c->plan, pol, f, &po, err);
		if (rc)
			return rc;
		if ((rc = pending(c, c->plan, f->img, pol)) || (rc = refused(c, c->plan)))
			return rc;
	}
	if (opt->trust) {
		int rc = signatures(c, f, opt->trust);
		if (rc)
			return rc;
	}
	return posture(c, f, c->plan, pol);
}

int nxp_check_image(nxp_check *c, const nxp_policy *pol, const nxp_facts *f,
                    const nxp_check_options *opt, nxp_error *err)
{
	static const nxp_check_options defaults = {0};
	memset(c, 0, sizeof(*c));
	if (!opt)
		opt = &defaults;
	int rc = judge(c, pol, f, opt, err);
	if (rc == NXP_E_NOMEM)
		return nxp_fail(err, rc, "out of memory while judging %s", f->path ? f->path : "image");
	if (rc)
		return rc;
	/* Compliance is the plan's status (and the signatures'), by
	 * construction the same as the failing findings. */
	c->compliant = (!c->plan || c->plan->status == NXP_PLAN_NOTHING) &&
	               (!opt->trust || c->signatures_ok);
	if (c->compliant != nxp_findings_compliant(&c->findings))
		return nxp_fail(err, NXP_E_INTERNAL,
		                "the findings of %s disagree with its plan (a finding has the "
		                "wrong verdict in findings.def)",
		                f->path ? f->path : "image");
	return NXP_OK;
}

void nxp_check_free(nxp_check *c)
{
	free(c->plan);
	free(c->sigs);
	nxp_findings_free(&c->findings);
	memset(c, 0, sizeof(*c));
}
