/* SPDX-License-Identifier: Apache-2.0 */
/* A bounded YAML node tree built from libyaml's event stream.
 *
 * Events rather than yaml_parser_load: aliases are rejected as they are met
 * (an alias bomb never expands), nesting and node counts are bounded, and
 * each node keeps the mark where it starts. */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "policy/internal.h"

static nxp_loc mark_loc(yaml_mark_t m)
{
	nxp_loc l;
	l.line = m.line + 1 > UINT32_MAX ? UINT32_MAX : (uint32_t)(m.line + 1);
	l.col = m.column + 1 > UINT32_MAX ? UINT32_MAX : (uint32_t)(m.column + 1);
	return l;
}

/* Line and column (in characters) of a byte offset, for reader errors. */
static nxp_loc offset_loc(const char *buf, size_t len, size_t off)
{
	nxp_loc l = {1, 1};
	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			l.line++;
			l.col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			l.col++;
		}
	}
	return l;
}

void ytree_free(ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		ytree_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

static ynode *new_node(enum ynode_type t, yaml_mark_t m)
{
	ynode *n = calloc(1, sizeof(*n));
	if (n) {
		n->type = t;
		n->loc = mark_loc(m);
	}
	return n;
}

static int add_kid(ynode *parent, ynode *kid)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		ynode **k = realloc(parent->kids, cap * sizeof(*k));
		if (!k)
			return -1;
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

static int is_null_scalar(const yaml_event_t *e)
{
	if (e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	const char *v = (const char *)e->data.scalar.value;
	size_t len = e->data.scalar.length;
	return len == 0 || (len == 1 && v[0] == '~') || (len == 4 && (!memcmp(v, "null", 4) ||
	       !memcmp(v, "Null", 4) || !memcmp(v, "NULL", 4)));
}

/* long-function: one libyaml event loop, a case per event type, with the limits checked where
 * they grow. */
int ytree_parse(pctx *c, ynode **root)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	ynode *stack[NXP_POLICY_MAX_DEPTH + 1];
	size_t depth = 0, nodes = 0, documents = 0;
	int rc = 0, done = 0;

	*root = NULL;
	if (!yaml_parser_initialize(&parser)) {
		c->nomem = 1;
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)c->buf, c->len);

	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			nxp_loc loc;
			if (parser.error == YAML_READER_ERROR)
				loc = offset_loc(c->buf, c->len, parser.problem_offset);
			else
				loc = mark_loc(parser.problem_mark);
			if (parser.error == YAML_MEMORY_ERROR)
				c->nomem = 1;
			else if (parser.context)
				pctx_error(c, loc, "invalid yaml: %s %s", parser.problem ? parser.problem
				           : "syntax error", parser.context);
			else
				pctx_error(c, loc, "invalid yaml: %s",
				           parser.problem ? parser.problem : "syntax error");
			rc = -1;
			break;
		}

		ynode *n = NULL;
		int push = 0, pop = 0;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++documents > 1) {
				pctx_error(c, mark_loc(ev.start_mark),
				           "a policy file holds one yaml document, found a second one");
				rc = -1;
				done = 1;
			}
			break;
		case YAML_ALIAS_EVENT:
			pctx_error(c, mark_loc(ev.start_mark),
			           "yaml aliases are not allowed in a policy");
			n = new_node(Y_BAD, ev.start_mark);
			break;
		case YAML_SCALAR_EVENT:
			if (ev.data.scalar.length > NXP_POLICY_MAX_SCALAR) {
				pctx_error(c, mark_loc(ev.start_mark),
				           "string longer than %d bytes", NXP_POLICY_MAX_SCALAR);
				n = new_node(Y_BAD, ev.start_mark);
				break;
			}
			n = new_node(is_null_scalar(&ev) ? Y_NULL : Y_SCALAR, ev.start_mark);
			if (!n)
				break;
			n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			n->len = ev.data.scalar.length;
			n->str = malloc(n->len + 1);
			if (!n->str) {
				free(n);
				n = NULL;
				break;
			}
			memcpy(n->str, ev.data.scalar.value, n->len);
			n->str[n->len] = '\0';
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth == NXP_POLICY_MAX_DEPTH) {
				pctx_error(c, mark_loc(ev.start_mark),
				           "nesting deeper than %d levels", NXP_POLICY_MAX_DEPTH);
				rc = -1;
				done = 1;
				break;
			}
			n = new_node(ev.type == YAML_SEQUENCE_START_EVENT ? Y_SEQ : Y_MAP,
			             ev.start_mark);
			push = 1;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			pop = 1;
			break;
		default:
			break;
		}
		int is_node = ev.type == YAML_ALIAS_EVENT || ev.type == YAML_SCALAR_EVENT ||
		              ev.type == YAML_SEQUENCE_START_EVENT ||
		              ev.type == YAML_MAPPING_START_EVENT;
		yaml_event_delete(&ev);
		if (done && rc)
			break;
		if (pop) {
			if (depth > 0)
				depth--;
			continue;
		}
		if (!is_node)
			continue;
		if (!n) {
			c->nomem = 1;
			rc = -1;
			break;
		}
		if (++nodes > NXP_POLICY_MAX_NODES) {
			pctx_error(c, n->loc, "more than %d yaml nodes", NXP_POLICY_MAX_NODES);
			ytree_free(n);
			rc = -1;
			break;
		}
		if (depth == 0) {
			if (*root)
				ytree_free(*root); /* cannot happen: one document */
			*root = n;
		} else if (add_kid(stack[depth - 1], n) < 0) {
			ytree_free(n);
			c->nomem = 1;
			rc = -1;
			break;
		}
		if (push)
			stack[depth++] = n;
	}
	yaml_parser_delete(&parser);
	if (rc) {
		ytree_free(*root);
		*root = NULL;
	}
	return rc;
}
