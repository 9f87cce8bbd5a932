/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch trace [--timeout SEC] [-C DIR] [-o FILE] [--format text|jsonl] PROGRAM [-- ARG...]
 * Runs a Windows program under DEP (wine64 on Linux) with the trace helper
 * as its debugger and reports every execute-access fault: JSONL records for
 * --evidence, and a text summary. Exit 0: no fault; 1: faults recorded;
 * 2: usage; 3: the program could not be traced. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "nxpatch/pe.h"
#include "nxpatch/trace.h"

static const cli_opt trace_options[] = {
	{'t', 0, "timeout", "SEC", "end the program after SEC seconds (default 60; 0: never)"},
	{'C', 'C', "cwd", "DIR", "run it in DIR (default: the current directory)"},
	{'o', 'o', "output", "FILE", "write the JSONL records (for --evidence) to FILE (- : standard output)"},
	{'f', 'f', "format", "FORMAT", "text (the summary, default) or jsonl (the records; the program's stdout goes to stderr)"},
	CLI_OPT_END,
};

static const cli_optgroup groups[] = {
	{"options", trace_options},
	CLI_GROUPS_END,
};

static const char about[] =
	"Runs PROGRAM under DEP (wine64; WINEPREFIX or a private prefix in ~/.cache/nxpatch/wine)\n"
	"and records each execute-access fault. Exit 0: no fault; 1: faults recorded.\n";

static const char *base_name(const char *p)
{
	const char *b = p ? p : "";
	for (const char *s = b; *s; s++)
		if (*s == '/' || *s == '\\')
			b = s + 1;
	return b;
}

static int write_jsonl(FILE *out, const nxp_trace *t)
{
	for (size_t i = 0; i < t->nfaults; i++) {
		json_t *o = nxp_trace_fault_json(t, i);
		if (!o || json_dumpf(o, out, JSON_COMPACT | JSON_PRESERVE_ORDER) || fputc('\n', out) < 0) {
			json_decref(o);
			return -1;
		}
		json_decref(o);
	}
	return 0;
}

static void summary(FILE *out, const char *prog, const nxp_trace *t)
{
	uint64_t total = 0;
	for (size_t i = 0; i < t->nfaults; i++)
		total += t->faults[i].count;
	if (t->end == NXP_TRACE_EXITED)
		fprintf(out, "trace: %s exited with status %u (0x%x)\n", prog, t->exit_code,
		        t->exit_code);
	else
		fprintf(out, "trace: %s was still running after %u s and was ended\n", prog,
		        t->timeout_ms / 1000);
	if (!t->nfaults) {
		fprintf(out, "  no execute faults: nothing ran from non-executable memory\n");
		return;
	}
	fprintf(out, "  %zu fault site%s (%llu fault%s):\n", t->nfaults, t->nfaults == 1 ? "" : "s",
	        (unsigned long long)total, total == 1 ? "" : "s");
	for (size_t i = 0; i < t->nfaults; i++) {
		const nxp_trace_fault *x = &t->faults[i];
		const char *chance = x->first_chance ? "first chance" : "second chance";
		if (x->module >= 0) {
			const nxp_trace_module *m = &t->modules[x->module];
			fprintf(out, "  %s rva 0x%x in section %s (0x%08X)%s, %s, x%llu\n",
			        base_name(m->path ? m->path : m->winpath), x->rva,
			        x->section[0] ? x->section : "(headers)", x->section_characteristics,
			        x->section_characteristics & NXP_SCN_MEM_EXECUTE ? "" : ", not executable",
			        chance, (unsigned long long)x->count);
		} else {
			fprintf(out,
			        "  0x%llx outside every image: %s memory, %s, allocated %s at 0x%llx, %s, "
			        "x%llu\n",
			        (unsigned long long)x->address,
			        x->type == 0x20000 ? "private" : x->type == 0x40000 ? "mapped" : "unknown",
			        nxp_page_protect_name(x->protect), nxp_page_protect_name(x->allocation_protect),
			        (unsigned long long)x->allocation_base, chance,
			        (unsigned long long)x->count);
		}
	}
	if (t->dropped)
		fprintf(out, "  %llu more faults on pages beyond the first %d sites\n",
		        (unsigned long long)t->dropped, NXP_TRACE_MAX_SITES);
	int outside = 0;
	for (size_t i = 0; i < t->nfaults; i++)
		outside |= t->faults[i].module < 0;
	if (outside)
		fprintf(out, "  code outside every image cannot be fixed by section flags: "
		             "plan --evidence refuses nx_compat for this program\n");
}

/* long-function: the option loop, one case per option, then one run. */
int cmd_trace(int argc, char **argv)
{
	nxp_trace_opts to = {.timeout_s = 60, .program_stdout_fd = -1};
	const char *output = NULL;
	int format = CLI_TEXT, c;
	/* Options and PROGRAM come before a "--", the program's arguments after. */
	int dashdash = argc;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dashdash = i;
			break;
		}
	cli_parser p;
	cli_parse_init(&p, "trace", "[options] PROGRAM [-- ARG...]", about, groups);
	while ((c = cli_next(&p, dashdash, argv)) != CLI_END) {
		switch (c) {
		case CLI_STOP: return p.status;
		case 't': {
			char *end;
			errno = 0;
			unsigned long v = strtoul(p.arg, &end, 10);
			if (!*p.arg || *end || errno || v > 86400 || p.arg[0] == '-')
				return cli_usage("trace", "--timeout takes seconds, 0..86400");
			to.timeout_s = (unsigned)v;
			break;
		}
		case 'C': to.cwd = p.arg; break;
		case 'o': output = p.arg; break;
		case 'f':
			if (!cli_parse_format_in("trace", p.arg, &format, 1u << CLI_TEXT | 1u << CLI_JSONL))
				return NXP_EXIT_USAGE;
			break;
		}
	}
	int argi = p.optind;
	if (argi >= dashdash)
		return cli_usage("trace", "no program to trace");
	to.program = argv[argi++];
	if (argi < dashdash)
		return cli_usage("trace", "program arguments go after '--' (got '%s')", argv[argi]);
	to.args = argv + dashdash + (dashdash < argc);
	to.nargs = (size_t)(argc - dashdash - (dashdash < argc));

	if (output && !strcmp(output, "-")) { /* -o -: the records on standard output */
		output = NULL;
		format = CLI_JSONL;
	}
	FILE *jout = NULL;
	if (output) {
		int fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
		if (fd < 0 || !(jout = fdopen(fd, "w"))) {
			cli_error(output, "%s", strerror(errno));
			if (fd >= 0)
				close(fd);
			return NXP_EXIT_INPUT;
		}
	}
	if (format == CLI_JSONL) {
		fflush(stdout);
		to.program_stdout_fd = 2; /* stdout carries the records */
	}
	fflush(NULL);
	nxp_trace t;
	nxp_error err = {0};
	int rc = nxp_trace_run(&to, &t, &err);
	if (rc) {
		cli_error(to.program, "%s", err.msg);
		if (jout)
			fclose(jout);
		return NXP_EXIT_INPUT;
	}
	int status = t.nfaults ? NXP_EXIT_CHECK : NXP_EXIT_OK;
	if (t.end == NXP_TRACE_NOT_STARTED) {
		cli_error(to.program, "%s", t.message);
		status = NXP_EXIT_INPUT;
	} else if (t.end == NXP_TRACE_TIMEOUT) {
		cli_error(to.program,
		          "still running after the %u s timeout: ended it (faults up to then are "
		          "recorded; raise --timeout if it needs longer)",
		          to.timeout_s);
	}
	if (jout) {
		if (write_jsonl(jout, &t) | fclose(jout)) {
			cli_error(output, "cannot write: %s", strerror(errno));
			status = NXP_EXIT_INPUT;
		}
	}
	if (t.end != NXP_TRACE_NOT_STARTED) {
		if (format == CLI_JSONL)
			write_jsonl(stdout, &t);
		else
			summary(stdout, to.program, &t);
	}
	nxp_trace_free(&t);
	return status;
}
