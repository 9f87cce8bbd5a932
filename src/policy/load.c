/* SPDX-License-Identifier: Apache-2.0 */
/* The policy loader's entry points: libyaml builds a bounded node tree
 * (ytree.c), then the nxpatch schema (schema.c) validates it through the
 * generic walker (walk.c). Every problem is collected, with its position,
 * before the load fails. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nxpatch/pe.h"
#include "policy/walk.h"
#include "util/bytes.h"

extern const char nxpi_default_policy_yaml[];
extern const size_t nxpi_default_policy_yaml_len;

void nxp_policy_free(nxp_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nrules; i++) {
		nxp_rule *r = &p->rules[i];
		free(r->id);
		free(r->description);
		nxp_strlist *lists[] = {&r->path, &r->imports, &r->has_section};
		for (size_t k = 0; k < NXP_ARRAY_LEN(lists); k++) {
			for (size_t j = 0; j < lists[k]->n; j++)
				free(lists[k]->items[j]);
			free(lists[k]->items);
			free(lists[k]->locs);
		}
		free(r->machine.items);
		free(r->subsystem.items);
		for (size_t j = 0; j < r->nsections; j++)
			free(r->sections[j].selector);
		free(r->sections);
		free(r->keep_exec);
		free(r->option);
	}
	free(p->rules);
	free(p->signature_from);
	free(p->checksum_from);
	free(p->source);
	free(p);
}

int nxp_policy_load_buffer(nxp_policy **out, const char *name, const char *buf, size_t len,
                           nxp_diags *diags, nxp_error *err)
{
	pctx c;
	memset(&c, 0, sizeof(c));
	c.name = name ? name : "<policy>";
	c.buf = buf;
	c.len = len;
	c.diags = diags;
	*out = NULL;

	nxp_policy *p = calloc(1, sizeof(*p));
	ynode *root = NULL;
	if (!p || !(p->source = strdup(c.name))) {
		c.nomem = 1;
		goto done;
	}
	p->signature = NXP_SIGMODE_REFUSE;
	p->checksum = NXP_CHECKSUM_AUTO;

	if (len > NXP_POLICY_MAX_BYTES) {
		nxp_loc none = {0, 0};
		pctx_error(&c, none, "policy file larger than 1 MiB (%zu bytes)", len);
		goto done;
	}
	if (ytree_parse(&c, &root) < 0)
		goto done;
	if (!root || root->type == Y_NULL) {
		nxp_loc first = {1, 1};
		pctx_error(&c, first, "policy file is empty, expected 'nxpatch: 1' and rules");
		goto done;
	}
	if (root->type != Y_MAP) {
		char d[96];
		pctx_error(&c, root->loc, "expected a mapping at the top level, got %s",
		           nxpi_describe(root, d, sizeof(d)));
		goto done;
	}
	nxpi_policy_schema(&c, p, root);

done:
	ytree_free(root);
	pctx_sort_diags(&c);
	if (c.nomem) {
		nxp_policy_free(p);
		return nxp_fail(err, NXP_E_NOMEM, "%s: out of memory loading the policy", c.name);
	}
	if (c.nerrors) {
		nxp_policy_free(p);
		if (err)
			*err = c.first;
		return NXP_E_POLICY;
	}
	*out = p;
	return NXP_OK;
}

int nxp_policy_load_file(nxp_policy **out, const char *path, nxp_diags *diags, nxp_error *err)
{
	*out = NULL;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return nxp_fail(err, NXP_E_IO, "%s: cannot open: %s", path, strerror(errno));
	/* Read at most one byte past the limit: enough to know it is too big. */
	size_t cap = NXP_POLICY_MAX_BYTES + 1, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(fp);
		return nxp_fail(err, NXP_E_NOMEM, "%s: out of memory reading the policy", path);
	}
	while (len < cap) {
		size_t got = fread(buf + len, 1, cap - len, fp);
		if (got == 0)
			break;
		len += got;
	}
	int rd_err = ferror(fp);
	int saved = errno;
	fclose(fp);
	if (rd_err) {
		free(buf);
		return nxp_fail(err, NXP_E_IO, "%s: cannot read: %s", path, strerror(saved));
	}
	int rc = nxp_policy_load_buffer(out, path, buf, len, diags, err);
	free(buf);
	return rc;
}

int nxp_policy_load_default(nxp_policy **out, nxp_diags *diags, nxp_error *err)
{
	return nxp_policy_load_buffer(out, "<default>", nxpi_default_policy_yaml,
	                              nxpi_default_policy_yaml_len, diags, err);
}
