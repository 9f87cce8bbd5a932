/* SPDX-License-Identifier: Apache-2.0 */
/* The option-table parser and the help generated from the same tables
 * (cli/opt.h). getopt_long does the scanning (GNU permutation, unique
 * prefixes of long options, "--"); this file builds its tables from the
 * rows and turns its errors into usage errors with a did-you-mean. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "util/suggest.h"

static const cli_opt help_opt = {'h', 'h', "help", NULL, "show this help"};

void cli_parse_init(cli_parser *p, const char *cmd, const char *synopsis, const char *about,
                    const cli_optgroup *groups)
{
	memset(p, 0, sizeof(*p));
	p->cmd = cmd;
	p->synopsis = synopsis;
	p->about = about;
	p->groups = groups;
}

static void add_row(cli_parser *p, size_t *nl, size_t *ns, const cli_opt *o)
{
	int has = !o->arg ? no_argument : o->arg[0] == '[' ? optional_argument : required_argument;
	if (o->long_name && *nl < CLI_MAX_OPTS)
		p->lopts[(*nl)++] = (struct option){o->long_name, has, NULL, o->id};
	if (o->short_name && *ns + 3 < sizeof(p->shorts)) {
		p->shorts[(*ns)++] = o->short_name;
		if (has != no_argument)
			p->shorts[(*ns)++] = ':';
		if (has == optional_argument)
			p->shorts[(*ns)++] = ':';
	}
}

static void build(cli_parser *p)
{
	size_t nl = 0, ns = 0;
	if (p->posix)
		p->shorts[ns++] = '+';
	p->shorts[ns++] = ':'; /* a missing argument returns ':', not '?' */
	for (const cli_optgroup *g = p->groups; g && g->opts; g++)
		for (const cli_opt *o = g->opts; o->id; o++)
			add_row(p, &nl, &ns, o);
	add_row(p, &nl, &ns, &help_opt);
	p->shorts[ns] = 0;
	p->lopts[nl] = (struct option){NULL, 0, NULL, 0};
}

/* The row with id, or NULL. */
static const cli_opt *find_id(const cli_parser *p, int id)
{
	for (const cli_optgroup *g = p->groups; g && g->opts; g++)
		for (const cli_opt *o = g->opts; o->id; o++)
			if (o->id == id)
				return o;
	return id == 'h' ? &help_opt : NULL;
}

/* The long option's name in an argument "--name[=value]" (into buf). */
static const char *long_name_of(const char *arg, char *buf, size_t len)
{
	if (!arg || strncmp(arg, "--", 2) != 0)
		return NULL;
	snprintf(buf, len, "%s", arg + 2);
	char *eq = strchr(buf, '=');
	if (eq)
		*eq = 0;
	return buf;
}

static int unknown_long(cli_parser *p, const char *name)
{
	const char *names[CLI_MAX_OPTS + 1];
	size_t n = 0, nprefix = 0;
	char cands[256] = "";
	size_t len = strlen(name);
	for (size_t i = 0; p->lopts[i].name; i++) {
		names[n++] = p->lopts[i].name;
		if (len && !strncmp(p->lopts[i].name, name, len)) {
			nprefix++;
			snprintf(cands + strlen(cands), sizeof(cands) - strlen(cands), "%s--%s",
			         cands[0] ? ", " : "", p->lopts[i].name);
		}
	}
	if (nprefix > 1)
		return cli_usage(p->cmd, "unknown option --%s (it begins %s: say which)", name, cands);
	const char *close = nxpi_closest(name, names, n);
	if (close)
		return cli_usage(p->cmd, "unknown option --%s (did you mean --%s?)", name, close);
	return cli_usage(p->cmd, "unknown option --%s", name);
}

static int usage_error(cli_parser *p, int c, char **argv)
{
	char buf[128];
	/* A long option's errors leave optind just past its argument. */
	const char *elem = optind > 0 ? argv[optind - 1] : NULL;
	const char *lname = long_name_of(elem, buf, sizeof(buf));
	const cli_opt *o = optopt ? find_id(p, optopt) : NULL;
	if (c == ':') {
		if (o && lname && o->long_name)
			return cli_usage(p->cmd, "option --%s needs an argument (%s)", o->long_name,
			                 o->arg);
		if (o && o->short_name)
			return cli_usage(p->cmd, "option -%c needs an argument (%s)", o->short_name,
			                 o->arg);
		return cli_usage(p->cmd, "an option needs an argument");
	}
	if (!optopt && lname)
		return unknown_long(p, lname);
	if (o && lname && o->long_name && !strncmp(o->long_name, lname, strlen(lname)))
		return cli_usage(p->cmd, "option --%s takes no argument", o->long_name);
	if (optopt > 0 && optopt < 0x100)
		return cli_usage(p->cmd, "unknown option -%c", optopt);
	return cli_usage(p->cmd, "unknown option");
}

int cli_next(cli_parser *p, int argc, char **argv)
{
	if (!p->started) {
		build(p);
		p->started = 1;
		optind = 0; /* glibc: start over (another parse may have run) */
	}
	opterr = 0;
	optopt = 0;
	int c = getopt_long(argc, argv, p->shorts, p->lopts, NULL);
	p->arg = optarg;
	if (c == -1) {
		p->optind = optind;
		return CLI_END;
	}
	if (c == '?' || c == ':') {
		p->status = usage_error(p, c, argv);
		return CLI_STOP;
	}
	if (c == 'h') {
		cli_print_help(p);
		p->status = NXP_EXIT_OK;
		return CLI_STOP;
	}
	return c;
}

/* "-p, --policy FILE", "    --journal FILE", "-0", "    --color[=WHEN]" */
static void label(const cli_opt *o, char *buf, size_t len)
{
	const char *a = o->arg ? o->arg : "";
	const char *sep = o->arg && o->arg[0] != '[' ? " " : "";
	if (o->short_name && o->long_name)
		snprintf(buf, len, "-%c, --%s%s%s", o->short_name, o->long_name, sep, a);
	else if (o->long_name)
		snprintf(buf, len, "    --%s%s%s", o->long_name, sep, a);
	else
		snprintf(buf, len, "-%c%s%s", o->short_name, sep, a);
}

#define HELP_COLUMN 30

static void print_row(const cli_opt *o, int width)
{
	char l[128];
	label(o, l, sizeof(l));
	printf("  %-*s  %s\n", width, l, o->help);
}

void cli_print_help(const cli_parser *p)
{
	int width = 0;
	char l[128];
	for (const cli_optgroup *g = p->groups; g && g->opts; g++)
		for (const cli_opt *o = g->opts; o->id; o++) {
			label(o, l, sizeof(l));
			int n = (int)strlen(l);
			if (n > width && n <= HELP_COLUMN)
				width = n;
		}
	printf("usage: nxpatch %s %s\n", p->cmd, p->synopsis);
	if (p->about)
		fputs(p->about, stdout);
	int first = 1;
	for (const cli_optgroup *g = p->groups; g && g->opts; g++) {
		printf("\n%s:\n", g->title);
		for (const cli_opt *o = g->opts; o->id; o++)
			print_row(o, width);
		if (first)
			print_row(&help_opt, width);
		first = 0;
	}
	if (first) {
		printf("\noptions:\n");
		print_row(&help_opt, width < 10 ? 10 : width);
	}
}
