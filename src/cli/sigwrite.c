/* SPDX-License-Identifier: Apache-2.0 */
/* sign and unsign through nxp_apply(): the CLI decides only how to open the
 * input (locked when OUT is IN) and what to print. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/dash.h"
#include "cli/sigwrite.h"
#include "nxpatch/input.h"
#include "nxpatch/write.h"
#include "util/escape.h"

const cli_opt cli_sigwrite_options[] = {
	{'o', 'o', "output", "OUT", "where the result goes (OUT may be IN; - : standard output)"},
	{CLI_OPT_CROSS_CHECK, 0, "cross-check", NULL, "also re-read the output with LIEF (apply does by default)"},
	{CLI_OPT_ALLOW_META_LOSS, 0, "allow-metadata-loss", NULL, "replace IN even when its owner, group, mode or xattrs cannot be kept"},
	CLI_OPT_END,
};

const char cli_sigwrite_about[] =
	"OUT may be IN: it is then replaced in place, keeping owner, group, mode and extended\n"
	"attributes, or refused (--allow-metadata-loss replaces it anyway). IN - reads the image\n"
	"from standard input, -o - writes it to standard output (messages go to standard error).\n";

int cli_sigwrite_opt(cli_sigwrite *w, int c, const char *arg)
{
	switch (c) {
	case 'o': w->out = arg; return 1;
	case CLI_OPT_CROSS_CHECK: w->cross_check = 1; return 1;
	case CLI_OPT_ALLOW_META_LOSS: w->allow_metadata_loss = 1; return 1;
	default: return 0;
	}
}

/* Exit status for a library error. */
static int exit_for(int code)
{
	return code == NXP_E_KEY || code == NXP_E_USAGE ? NXP_EXIT_USAGE : NXP_EXIT_INPUT;
}

static void print_warnings(const char *path, const nxp_apply_result *res)
{
	for (size_t i = 0; i < res->nwarnings; i++)
		cli_error(path, "warning: %s", res->warnings[i]);
}

static int sigwrite(const cli_sigwrite *w, const char *shown_in, const char *shown_out);

/* IN "-": standard input; OUT "-": standard output (cli/dash.h). */
int cli_sigwrite_run(const cli_sigwrite *w)
{
	cli_sigwrite v = *w;
	const char *cmd = w->action == NXP_SIGACT_RESIGN ? "sign" : "unsign";
	int status;
	if (!strcmp(w->in, "-") && (status = cli_stdin_spool(cmd, &v.in)))
		return status;
	cli_stdout so;
	int to_stdout = !strcmp(w->out, "-");
	if (to_stdout && (status = cli_stdout_begin(cmd, &so))) {
		cli_stdin_remove();
		return status;
	}
	if (to_stdout)
		v.out = so.path;
	status = sigwrite(&v, w->in, w->out);
	if (to_stdout)
		status = cli_stdout_end(&so, status);
	cli_stdin_remove();
	return status;
}

static int sigwrite(const cli_sigwrite *w, const char *shown_in, const char *shown_out)
{
	/* OUT naming IN's file: replaced in place, under its lock. */
	struct stat a, b;
	int in_place = stat(w->in, &a) == 0 && lstat(w->out, &b) == 0 && a.st_dev == b.st_dev &&
	               a.st_ino == b.st_ino;
	if (!in_place && lstat(w->out, &b) == 0 && S_ISLNK(b.st_mode) &&
	    stat(w->out, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		in_place = 1; /* OUT is a link to IN: the writer refuses it */
	nxp_error err = {0};
	nxp_input *in;
	int rc = nxp_input_open_flags(&in, w->in,
	                              NXP_INPUT_NO_FACTS | (in_place ? NXP_INPUT_LOCK : 0), &err);
	if (rc) {
		cli_error_e(shown_in, &err);
		return exit_for(rc);
	}
	nxp_plan *plan = malloc(sizeof(*plan));
	if (!plan) {
		cli_error(shown_in, "out of memory");
		nxp_input_close(in);
		return NXP_EXIT_INPUT;
	}
	int status = NXP_EXIT_OK;
	if ((rc = nxp_plan_signature(plan, &in->img, w->action, &err))) {
		cli_error_e(shown_in, &err);
		status = exit_for(rc);
		goto done;
	}
	nxp_apply_options opt = {
		.cross_check = w->cross_check,
		.signer = w->signer,
		.sign_opts = w->so,
		.allow_metadata_loss = w->allow_metadata_loss,
		.write_unchanged = 1,
	};
	nxp_apply_result res;
	if ((rc = nxp_apply(in, plan, w->out, &opt, &res, &err))) {
		print_warnings(shown_out, &res);
		cli_error_e(rc == NXP_E_SIGN || rc == NXP_E_KEY ? shown_in : shown_out, &err);
		status = exit_for(rc);
		goto done;
	}
	print_warnings(shown_out, &res);
	unsigned n = in->img.ncerts;
	if (w->action == NXP_SIGACT_RESIGN)
		printf("%s: signed (%s, %s%s), replaced %u signature%s\n", nxpi_shown(shown_out),
		       nxp_digest_name(w->so->digest), nxp_signer_subject(w->signer),
		       w->so->timestamp_url ? ", timestamped" : "", n, n == 1 ? "" : "s");
	else if (plan->signature == NXP_SIGACT_STRIP)
		printf("%s: removed %u signature%s\n", nxpi_shown(shown_out), n, n == 1 ? "" : "s");
	else if (res.written)
		printf("%s: not signed, written unchanged\n", nxpi_shown(shown_out));
	else
		printf("%s: not signed, left unchanged\n", nxpi_shown(shown_out));
done:
	free(plan);
	nxp_input_close(in);
	return status;
}
