/* Evidence of code in sections that lack IMAGE_SCN_MEM_EXECUTE. */
#include "nxpatch/analysis.h"

const char *nxp_evidence_kind_name(nxp_evidence_kind k)
{
	static const char *const names[] = {
		[NXP_EV_ENTRY_POINT] = "entry_point",
		[NXP_EV_EXPORT] = "export",
		[NXP_EV_TLS_CALLBACK] = "tls_callback",
		[NXP_EV_EXCEPTION] = "exception_handler",
		[NXP_EV_SAFESEH] = "safeseh_handler",
		[NXP_EV_CFG] = "cfg_target",
		[NXP_EV_CALL] = "call_target",
		[NXP_EV_JUMP] = "jump_target",
		[NXP_EV_ATL_THUNK] = "atl_thunk",
		[NXP_EV_X64_THUNK] = "x64_thunk",
		[NXP_EV_ABS_JUMP] = "absolute_jump",
	};
	if ((unsigned)k >= NXP_EV__COUNT)
		return "unknown";
	return names[k];
}

/* The section index holding rva when that section is not executable. */
static int nonexec_section(const nxp_image *img, uint64_t rva)
{
	int s = nxp_pe_section_of_rva(img, rva);
	if (s < 0 || (img->sections[s].characteristics & NXP_SCN_MEM_EXECUTE))
		return -1;
	return s;
}

static int collect_entry_point(nxp_facts *f)
{
	const nxp_image *img = f->img;
	if (!img->entry_rva)
		return NXP_OK;
	int s = nonexec_section(img, img->entry_rva);
	return s < 0 ? NXP_OK : nxp_facts_add_evidence(f, NXP_EV_ENTRY_POINT, img->entry_rva, s);
}

int nxp_collect_evidence(nxp_facts *f, nxp_error *err)
{
	(void)err;
	return collect_entry_point(f);
}
