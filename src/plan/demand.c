/* SPDX-License-Identifier: Apache-2.0 */
/* Planning on facts derived on demand (nxp_input_plan, nxpatch/plan.h):
 * the judge marks what it read that the facts do not hold yet
 * (analysis/internal.h), the facts derive it, and the plan is built again.
 * A header-only plan of a large image so reads only the headers and the
 * sections whose contents decide something. */
#include <string.h>

#include "nxpatch/input.h"
#include "nxpatch/plan.h"
#include "analysis/internal.h"

int nxp_input_plan(nxp_plan *plan, const nxp_policy *pol, nxp_input *in,
                   const nxp_plan_options *opt, nxp_error *err)
{
	nxp_facts *f = &in->facts;
	nxp_demand d;
	/* Each round derives at least one more fact, and there are
	 * nsections + 1 of them. */
	for (unsigned round = 0; round <= NXP_MAX_SECTIONS + 1; round++) {
		memset(&d, 0, sizeof(d));
		f->demand = &d;
		int rc = nxp_plan_build(plan, pol, f, opt, err);
		f->demand = NULL;
		if (rc || !d.any)
			return rc;
		if ((rc = nxpi_facts_derive(f, &d, err)))
			return rc;
	}
	return nxp_fail(err, NXP_E_INTERNAL, "planning did not settle on derived facts");
}
