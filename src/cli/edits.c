/* SPDX-License-Identifier: Apache-2.0 */
/* Inline edits: see edits.h. The CLI only collects them; the library
 * compiles and checks them (src/policy/inline.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/edits.h"
#include "cli/rules.h"
#include "util/escape.h"

const cli_opt cli_edit_options[] = {
	{CLI_OPT_SET, 0, "set", "FLAG[,FLAG...]",
	 "set DllCharacteristics flags (nx_compat, dynamic_base, ...)"},
	{CLI_OPT_CLEAR, 0, "clear", "FLAG[,FLAG...]", "clear DllCharacteristics flags"},
	{CLI_OPT_SECTION, 0, "section", "NAME:+ATTR,-ATTR",
	 "add/remove attributes of sections NAME (a name, glob or @code-in-data)"},
	{CLI_OPT_ALLOW_WX, 0, "allow-wx", NULL,
	 "the --section edits may make a section writable and executable"},
	{CLI_OPT_SIGNATURE, 0, "signature", "MODE",
	 "signed images: refuse (default), strip, resign; sign: sign every output"},
	{CLI_OPT_CHECKSUM, 0, "checksum", "MODE", "auto (default) or always: when the checksum is written"},
	CLI_OPT_END,
};

int cli_edit_opt(cli_edits *e, int c, const char *arg, const char *cmd)
{
	nxp_edit_kind k;
	switch (c) {
	case CLI_OPT_SET: k = NXP_EDIT_SET; break;
	case CLI_OPT_CLEAR: k = NXP_EDIT_CLEAR; break;
	case CLI_OPT_SECTION: k = NXP_EDIT_SECTION; break;
	case CLI_OPT_SIGNATURE: k = NXP_EDIT_SIGNATURE; break;
	case CLI_OPT_CHECKSUM: k = NXP_EDIT_CHECKSUM; break;
	case CLI_OPT_ALLOW_WX: k = NXP_EDIT_ALLOW_WX; break;
	default: return 0;
	}
	if (e->n == CLI_MAX_EDITS) {
		cli_usage(cmd, "more than %d inline edits", CLI_MAX_EDITS);
		return -1;
	}
	e->items[e->n].kind = k;
	e->items[e->n].value = k == NXP_EDIT_ALLOW_WX ? NULL : arg;
	e->n++;
	return 1;
}

int cli_policy_with_edits(const char *cmd, const char *arg, const cli_edits *e,
                          nxp_policy **out, char **name)
{
	*out = NULL;
	*name = NULL;
	nxp_policy *pol = NULL;
	/* Without --policy, the edits are the whole policy (EDITBIN changes only
	 * what it is told to); with none, the built-in default applies. */
	if (arg || !e->n) {
		int status = cli_load_policy_arg(cmd, arg, &pol);
		if (status)
			return status;
	}
	nxp_error err = {0};
	if (e->n && nxp_policy_add_edits(&pol, e->items, e->n, &err)) {
		nxp_policy_free(pol);
		return cli_usage(cmd, "%s", nxpi_shown(err.msg));
	}
	int ok = arg && e->n ? asprintf(name, "%s + command line", pol->source) >= 0
	                     : (*name = strdup(pol->source)) != NULL;
	if (!ok) {
		*name = NULL;
		nxp_policy_free(pol);
		cli_error(NULL, "out of memory");
		return NXP_EXIT_USAGE;
	}
	*out = pol;
	return NXP_EXIT_OK;
}
