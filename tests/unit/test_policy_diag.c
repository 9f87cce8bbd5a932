/* SPDX-License-Identifier: Apache-2.0 */
/* nxp_diag_render: "file:line:col: message", the source line, the caret. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/policy.h"

static char *render(const char *file, uint32_t line, uint32_t col, const char *msg,
                    const char *src)
{
	nxp_diag d = {(char *)file, line, col, (char *)msg, (char *)src};
	char *s = nxp_diag_render(&d);
	cr_assert_not_null(s);
	return s;
}

Test(policy_diag, caret_under_column)
{
	char *s = render("p.yaml", 3, 14, "unknown signature mode 'sign'", "  signature: sign");
	cr_assert_str_eq(s, "p.yaml:3:14: unknown signature mode 'sign'\n"
	                    "  signature: sign\n"
	                    "             ^\n");
	free(s);
}

Test(policy_diag, first_column)
{
	char *s = render("p.yaml", 1, 1, "m", "rule:");
	cr_assert_str_eq(s, "p.yaml:1:1: m\nrule:\n^\n");
	free(s);
}

Test(policy_diag, tabs_kept_in_caret_prefix)
{
	char *s = render("p.yaml", 6, 17, "m", "      - clear:\t[oops]");
	cr_assert_str_eq(s, "p.yaml:6:17: m\n      - clear:\t[oops]\n              \t ^\n");
	free(s);
}

Test(policy_diag, columns_count_characters)
{
	/* "é" is two bytes but one column, as libyaml counts */
	char *s = render("p.yaml", 2, 6, "m", "caf\xc3\xa9 x");
	cr_assert_str_eq(s, "p.yaml:2:6: m\ncaf\xc3\xa9 x\n     ^\n");
	free(s);
}

Test(policy_diag, column_past_end_of_line)
{
	char *s = render("p.yaml", 2, 9, "m", "ab");
	cr_assert_str_eq(s, "p.yaml:2:9: m\nab\n  ^\n");
	free(s);
}

Test(policy_diag, without_source_or_position)
{
	char *s = render("p.yaml", 4, 2, "m", NULL);
	cr_assert_str_eq(s, "p.yaml:4:2: m\n");
	free(s);
	s = render("p.yaml", 0, 0, "policy file larger than 1 MiB", NULL);
	cr_assert_str_eq(s, "p.yaml: policy file larger than 1 MiB\n");
	free(s);
}

/* A loaded policy's diagnostics render to the same three lines. */
Test(policy_diag, from_loader)
{
	const char *y = "nxpatch: 1\nsettings:\n\tsignature: x\n";
	nxp_policy *p = NULL;
	nxp_diags d = {0};
	nxp_error err = {0};
	cr_assert_eq(nxp_policy_load_buffer(&p, "t.yaml", y, strlen(y), &d, &err), NXP_E_POLICY);
	cr_assert_eq(d.n, 1);
	char *s = nxp_diag_render(&d.items[0]);
	cr_assert_str_eq(s, "t.yaml:3:1: invalid yaml: found character that cannot start any "
	                    "token while scanning for the next token\n\tsignature: x\n^\n");
	free(s);
	nxp_diags_free(&d);
}
