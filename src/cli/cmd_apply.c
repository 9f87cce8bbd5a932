/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch apply [--policy FILE] PATH... (-o OUT | --out-dir DIR |
 *   --in-place[=rename] [--backup SUFFIX] [--journal FILE] |
 *   --in-place=bytes --journal FILE) [--no-cross-check]
 *   [--format text|json|jsonl] [batch options] [signing options]
 * Applies exactly the plan, verifies the output, then replaces the target. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/batch.h"
#include "cli/cli.h"
#include "cli/dash.h"
#include "cli/runner.h"
#include "cli/signargs.h"
#include "nxpatch/check.h"
#include "nxpatch/input.h"
#include "nxpatch/plan.h"
#include "nxpatch/report.h"
#include "nxpatch/write.h"
#include "util/beneath.h"
#include "util/escape.h"

enum { OPT_OUT_DIR = 0x200, OPT_IN_PLACE, OPT_BACKUP, OPT_NO_CROSS, OPT_TEST_CORRUPT,
       OPT_JOURNAL, OPT_ALLOW_META_LOSS, OPT_TRUST_CHECKSUM };

static const cli_opt apply_options[] = {
	{'p', 'p', "policy", "FILE", "the policy: a file, a shipped rule set's name, or - (stdin)"},
	{'o', 'o', "output", "OUT", "write the one input's patched image to OUT (- : standard output)"},
	{OPT_OUT_DIR, 0, "out-dir", "DIR", "write each patched image beneath DIR (created if missing)"},
	{OPT_IN_PLACE, 0, "in-place", "[=MODE]", "replace each input once its patched image is verified: rename (default: a new file renamed over it, the safe choice for files running programs map) or bytes (only the planned bytes written into the file itself: same inode, hard links and metadata kept, read-only directories work; needs --journal, refused for length changes and signed images)"},
	{OPT_BACKUP, 0, "backup", "SUFFIX", "in place: keep the original as PATH+SUFFIX (never replaces a file)"},
	{OPT_JOURNAL, 0, "journal", "FILE", "in place: record each image for 'nxpatch revert' (rename mode: implies --backup .nxpatch-orig; bytes mode: the undo record of each patch, made durable first)"},
	{OPT_ALLOW_META_LOSS, 0, "allow-metadata-loss", NULL, "in place: replace even when owner, mode or xattrs cannot be kept"},
	{OPT_TRUST_CHECKSUM, 0, "trust-checksum", NULL, "in place, bytes mode: take a nonzero stored CheckSum as correct and update it by the changed bytes instead of reading the whole file (the report says so; 'nxpatch verify' reads every byte)"},
	{OPT_NO_CROSS, 0, "no-cross-check", NULL, "skip re-reading each output with LIEF"},
	{'f', 'f', "format", "FORMAT", "text (default), json or jsonl"},
#ifdef NXP_TEST_HOOKS
	{OPT_TEST_CORRUPT, 0, "test-corrupt-output", NULL, "test hook: flip a byte of each output before it is verified"},
#endif
	CLI_OPT_END,
};

/* After the inline edits and batch options (cli/runner.c adds those). */
static const cli_optgroup more_groups[] = {
	{"signing options", cli_sign_options},
	CLI_GROUPS_END,
};

static const char about[] =
	"Applies exactly the plan to each image, verifies the output, then replaces the target.\n"
	"Say where outputs go: -o OUT (one input), --out-dir DIR or --in-place.\n";

#define JOURNAL_BACKUP ".nxpatch-orig"

typedef struct apply_args {
	const char *out;
	const char *out_dir;
	int in_place;
	int in_place_bytes;     /* --in-place=bytes */
	int trust_checksum;     /* --trust-checksum (bytes mode) */
	const char *backup;
	const char *journal;
	int out_dirfd;          /* --out-dir, opened once: outputs are created beneath it */
	int to_stdout;          /* -o -: written (and verified) into out_tmp, then copied to
	                           standard output; the report goes to standard error */
	cli_stdout stdout_to;
	int cross_check;
	int test_corrupt;
	int allow_metadata_loss;
	nxp_journal *journal_h;
	cli_sign_args sign;
	const batch_opts *bo;
	/* for the workers */
	const nxp_policy *pol;
	nxp_signer *signer;
} apply_args;

static int output_path(const apply_args *a, const batch_item *it, char *buf, size_t len)
{
	if (a->out)
		return snprintf(buf, len, "%s", a->out) < (int)len;
	if (a->in_place)
		return snprintf(buf, len, "%s", it->path) < (int)len;
	return snprintf(buf, len, "%s/%s", a->out_dir, it->out_name) < (int)len;
}

/* --out-dir: the directory out_name goes to, beneath the output directory
 * however its names are linked (see util/beneath.h); created when needed. */
static int open_out_parent(const apply_args *a, const batch_item *it, int create,
                           nxp_error *err)
{
	const char *leaf;
	return nxpi_open_parent_beneath(a->out_dirfd, a->out_dir, it->out_name, create, &leaf,
	                               err);
}

/* One image between its two halves (apply_begin, apply_end). */
typedef struct apply_item {
	const batch_item *it;
	nxp_input *in;
	/* The plan: the judge's with its findings for the JSON formats, which
	 * report every fact; the text report's, from facts derived on demand. */
	nxp_check check;
	nxp_plan lazy_plan;
	nxp_plan *plan;
	nxp_apply_options aopt;
	nxp_apply_result res;
	nxp_apply_job *job;
	nxp_error err;
	int rc;
	char out[PATH_MAX];
} apply_item;

/* The record of an image whose write is over. */
static void apply_report(const apply_args *a, apply_item *x, batch_rec *r)
{
	const char *path = x->it->path;
	const nxp_plan *plan = x->plan;
	const nxp_apply_result *res = &x->res;
	int rc = x->rc;
	const char *result, *shown_out = a->to_stdout ? "-" : x->out;
	if (rc == NXP_E_REFUSED || (plan->status == NXP_PLAN_REFUSED && !rc)) {
		result = "refused";
		r->cls = BATCH_REFUSED;
		r->exit = NXP_EXIT_CHECK;
	} else if (rc && !res->written) {
		result = "failed";
		r->cls = BATCH_FAILED;
		r->exit = NXP_EXIT_INPUT;
	} else if (res->written && plan->status == NXP_PLAN_NOTHING) {
		result = "nothing_to_do"; /* -o -: the verified copy is the output */
		r->cls = BATCH_UNCHANGED;
	} else if (res->written) {
		result = "written";
		r->cls = BATCH_CHANGED;
		if (rc) /* written, but its journal result line is missing */
			r->exit = NXP_EXIT_INPUT;
	} else {
		result = "nothing_to_do";
		r->cls = BATCH_UNCHANGED;
	}
	if (a->bo->format != CLI_TEXT) {
		json_t *o = nxp_json_plan(&x->in->facts, plan);
		json_object_set_new(o, "findings", nxp_json_findings(&x->check.findings, &x->in->img));
		/* Names as every JSON path field shows them (util/escape.h). */
		json_t *jr = json_pack("{s:s, s:o, s:b}", "status", result, "output", nxpi_json_name(shown_out),
		                       "written", res->written);
		if (res->backup[0])
			json_object_set_new(jr, "backup", nxpi_json_name(res->backup));
		if (res->nwarnings) {
			json_t *w = json_array();
			for (size_t i = 0; i < res->nwarnings; i++)
				json_array_append_new(w, nxp_json_text(res->warnings[i]));
			json_object_set_new(jr, "warnings", w);
		}
		if (rc && (rc != NXP_E_REFUSED || plan->status != NXP_PLAN_REFUSED))
			json_object_set_new(jr, "error", nxp_json_text(x->err.msg));
		json_object_set_new(o, "result", jr);
		r->report = o;
	} else {
		nxp_text_plan(r->out, &x->in->facts, plan);
		if (res->written && plan->status == NXP_PLAN_NOTHING)
			fprintf(r->out, "  written: %s (nothing to do: a verified copy)\n", shown_out);
		else if (res->written)
			fprintf(r->out, "  written: %s (checksum 0x%08x)%s%s\n", nxpi_shown(shown_out),
			        res->checksum, res->backup[0] ? ", original kept as " : "",
			        nxpi_shown(res->backup));
		else if (plan->status == NXP_PLAN_NOTHING)
			fprintf(r->out, "  not written: nothing to do\n");
		else if (rc == NXP_E_REFUSED || plan->status == NXP_PLAN_REFUSED)
			fprintf(r->out, "  not written: refused\n");
		if (a->bo->verbose)
			cli_text_rules(r->out, plan);
	}
	for (size_t i = 0; i < res->nwarnings; i++)
		batch_error(r, path, "warning: %s", res->warnings[i]);
	if (rc && (rc != NXP_E_REFUSED || plan->status != NXP_PLAN_REFUSED))
		batch_error(r, path, "%s", x->err.msg);
}

static void *item_done(apply_item *x)
{
	if (x) {
		nxp_check_free(&x->check);
		nxp_input_close(x->in);
		free(x);
	}
	return NULL;
}

/* The write of x, or its first half (LIEF's verdict to come): 0, or -1
 * when r is complete without one (an error said). */
static int start_write(const apply_args *a, apply_item *x, batch_rec *r)
{
	const batch_item *it = x->it;
	nxp_plan *plan = x->plan;
	/* Key material that would not sign this output is an error, never an
	 * unsigned file written in silence (signature: resign re-signs only
	 * images that were signed). */
	if (a->signer && plan->status == NXP_PLAN_CHANGES && plan->signature != NXP_SIGACT_RESIGN) {
		batch_error(r, it->path, "not written: key material was given (--%s), but the image is "
		            "unsigned and signature: resign (%s) re-signs only signed images; "
		            "--signature sign signs every output", cli_sign_given(&a->sign),
		            a->pol->signature_from ? a->pol->signature_from : "policy");
		if (a->bo->format != CLI_TEXT) {
			r->report = nxp_json_plan(&x->in->facts, plan);
			json_object_set_new(r->report, "result",
			                    json_pack("{s:s, s:b, s:s}", "status", "failed", "written", 0,
			                              "error", "key material given for an unsigned "
			                              "image under signature: resign"));
		}
		r->cls = BATCH_FAILED;
		r->exit = NXP_EXIT_USAGE;
		return -1;
	}
	x->aopt = (nxp_apply_options){
		.cross_check = a->cross_check,
		.backup_suffix = a->in_place ? a->backup : NULL,
		.signer = a->signer,
		.sign_opts = &a->sign.so,
		.journal = a->journal_h,
		.allow_metadata_loss = a->allow_metadata_loss,
		.test_corrupt_output = a->test_corrupt,
		.in_place_bytes = a->in_place_bytes,
		.write_unchanged = a->to_stdout,
	};
	int dirfd = -1;
	nxp_error *err = &x->err;
	if (!output_path(a, it, x->out, sizeof(x->out)))
		x->rc = nxp_fail(err, NXP_E_USAGE, "output path too long");
	else if (a->out_dir && it->clash)
		x->rc = nxp_fail(err, NXP_E_USAGE, "%s is already the output of an earlier input, %s: not written",
		                 x->out, it->clash);
	else if (plan->status == NXP_PLAN_CHANGES && a->out_dir &&
	         (dirfd = open_out_parent(a, it, 1, err)) < 0)
		x->rc = err->code;
	else {
		x->aopt.out_at = dirfd >= 0;
		x->aopt.out_dirfd = dirfd;
		x->rc = nxp_apply_start(x->in, plan, x->out, &x->aopt, &x->res, &x->job, err);
	}
	if (dirfd >= 0)
		close(dirfd); /* the write keeps its own */
	return 0;
}

/* One image: open, plan, and the write's first half; NULL when the record
 * is complete, else the state apply_end completes. */
static void *apply_begin(void *vctx, const batch_item *it, batch_rec *r)
{
	const apply_args *a = vctx;
	const char *path = it->path;
	/* In place (also -o naming the input itself): locked from read to rename. */
	struct stat si, so;
	int same = a->out && stat(it->path, &si) == 0 && stat(a->out, &so) == 0 &&
	           si.st_dev == so.st_dev && si.st_ino == so.st_ino;
	/* The text report shows the plan alone, so its facts are derived on
	 * demand; the other formats report every fact of the image. */
	unsigned lazy = a->bo->format == CLI_TEXT ? NXP_INPUT_LAZY : 0;
	apply_item *x = calloc(1, sizeof(*x));
	if (!x) {
		batch_error(r, path, "out of memory");
		r->cls = BATCH_FAILED;
		r->exit = NXP_EXIT_INPUT;
		return NULL;
	}
	x->it = it;
	if (batch_open_flags(it, r, &x->in, lazy | (a->in_place || same ? NXP_INPUT_LOCK : 0))) {
		free(x);
		return NULL;
	}
	nxp_plan_options popt = {.will_sign = a->signer != NULL,
	                         .checksum_from_stored = a->trust_checksum};
	nxp_check_options copt = {.will_sign = popt.will_sign,
	                          .checksum_from_stored = popt.checksum_from_stored};
	/* Text: facts derived on demand, only what the plan's decisions read. */
	int rc = lazy ? nxp_input_plan(&x->lazy_plan, a->pol, x->in, &popt, &x->err)
	              : nxp_check_image(&x->check, a->pol, &x->in->facts, &copt, &x->err);
	x->plan = lazy ? &x->lazy_plan : x->check.plan;
	if (rc) {
		batch_error(r, path, "%s", x->err.msg);
		r->cls = BATCH_FAILED;
		r->exit = NXP_EXIT_INPUT;
		return item_done(x);
	}
	if (start_write(a, x, r))
		return item_done(x);
	if (x->job)
		return x;
	apply_report(a, x, r);
	return item_done(x);
}

/* The second half: LIEF's verdict, the rename, the record. */
static void apply_end(void *vctx, void *state, batch_rec *r)
{
	apply_item *x = state;
	x->rc = nxp_apply_finish(x->job, &x->err);
	x->job = NULL;
	apply_report(vctx, x, r);
	item_done(x);
}

/* A backup suffix that is an image extension would give backups the names
 * of images (x.exe is the backup name of x): refused. */
static int image_suffix(const char *suffix)
{
	static const char *const ext[] = {".exe", ".dll", ".sys", ".efi", ".ocx", ".scr", ".cpl",
	                                  ".drv", ".com", ".mui", ".ax", ".acm", NULL};
	size_t n = strlen(suffix);
	for (size_t i = 0; ext[i]; i++) {
		size_t k = strlen(ext[i]);
		if (n >= k && !strcasecmp(suffix + n - k, ext[i]))
			return 1;
	}
	return 0;
}

/* --out-dir DIR, opened once. The part of DIR that exists is the user's (a
 * link to it is fine); the missing rest is created beneath it one
 * component at a time, never following a link planted meanwhile
 * (util/beneath.h), as every directory beneath DIR is. Returns the
 * descriptor, -2 after a usage error, -1 after another. */
static int open_out_dir(const char *dir)
{
	char head[PATH_MAX];
	if (snprintf(head, sizeof(head), "%s", dir) >= (int)sizeof(head)) {
		cli_usage("apply", "--out-dir: path too long");
		return -2;
	}
	size_t len = strlen(head);
	while (len > 1 && head[len - 1] == '/')
		head[--len] = 0;
	/* the longest existing prefix: head; the missing rest: tail */
	const char *tail = NULL;
	int fd;
	for (;;) {
		fd = open(head, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			break;
		char *slash = strrchr(head, '/');
		size_t cut = slash ? (size_t)(slash - head) : 0;
		tail = dir + cut + (slash != NULL);
		if (!slash) {
			snprintf(head, sizeof(head), ".");
		} else if (cut == 0) {
			snprintf(head, sizeof(head), "/");
		} else {
			*slash = 0;
			continue;
		}
		fd = open(head, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		break;
	}
	if (fd < 0) {
		cli_usage("apply", "--out-dir %s: %s is not a directory (%s)", dir, head, strerror(errno));
		return -2;
	}
	if (!tail || !*tail)
		return fd;
	/* "new/sub" -> "new/sub/x": its parent is the directory (x itself is
	 * neither created nor opened); repeated slashes collapsed */
	char rel[PATH_MAX];
	size_t rl = 0;
	for (const char *c = tail; *c && rl + 3 < sizeof(rel); c++)
		if (*c != '/' || (rl && rel[rl - 1] != '/'))
			rel[rl++] = *c;
	if (rl && rel[rl - 1] != '/')
		rel[rl++] = '/';
	rel[rl++] = 'x';
	rel[rl] = 0;
	const char *leaf;
	nxp_error err = {0};
	int dfd = nxpi_open_parent_beneath(fd, head, rel, 1, &leaf, &err);
	close(fd);
	if (dfd < 0) {
		cli_error(dir, "cannot create the output directory: %s", err.msg);
		return -1;
	}
	return dfd;
}

/* --in-place=bytes: what it needs and what does not go with it. */
static int check_bytes_mode(const apply_args *a)
{
	if (!a->journal)
		return cli_usage("apply", "--in-place=bytes needs --journal FILE: the undo record of "
		                          "every patch is made durable there before the first byte");
	if (a->backup)
		return cli_usage("apply", "--backup goes with --in-place=rename; --in-place=bytes "
		                          "keeps the old bytes in the journal's undo record");
	if (a->allow_metadata_loss)
		return cli_usage("apply", "--allow-metadata-loss goes with --in-place=rename; "
		                          "--in-place=bytes keeps the file and all its metadata");
	return 0;
}

/* One of apply's own options (the signing options among them). */
static int apply_opt(void *vctx, int c, const char *arg)
{
	apply_args *a = vctx;
	int s = cli_sign_opt(&a->sign, c, arg, "apply");
	if (s)
		return s;
	switch (c) {
	case 'o': a->out = arg; break;
	case OPT_OUT_DIR: a->out_dir = arg; break;
	case OPT_IN_PLACE:
		a->in_place = 1;
		if (arg && !strcmp(arg, "bytes"))
			a->in_place_bytes = 1;
		else if (arg && strcmp(arg, "rename")) {
			cli_usage("apply", "--in-place takes rename (the default) or bytes, not '%s'", arg);
			return -1;
		}
		break;
	case OPT_BACKUP: a->backup = arg; break;
	case OPT_JOURNAL: a->journal = arg; break;
	case OPT_NO_CROSS: a->cross_check = 0; break;
	case OPT_TEST_CORRUPT: a->test_corrupt = 1; break;
	case OPT_ALLOW_META_LOSS: a->allow_metadata_loss = 1; break;
	case OPT_TRUST_CHECKSUM: a->trust_checksum = 1; break;
	}
	return 1;
}

/* The options that only make sense together, checked once all are read. */
static int apply_check(void *vctx, batch_opts *bo, char **paths, int n)
{
	apply_args *a = vctx;
	a->bo = bo;
	if (!!a->out + !!a->out_dir + a->in_place != 1)
		return cli_usage("apply", "say where the output goes: -o OUT, --out-dir DIR or "
		                          "--in-place");
	if (a->out && (n > 1 || bo->from || bo->recurse))
		return cli_usage("apply", "-o takes one input; use --out-dir or --in-place for more");
	for (int i = 0; i < n; i++)
		if (!strcmp(paths[i], "-") && !a->out)
			return cli_usage("apply", "standard input (-) has no file to replace or name to "
			                          "keep: give -o OUT (or -o - for standard output)");
	a->to_stdout = a->out && !strcmp(a->out, "-");
	if (a->backup && !a->in_place)
		return cli_usage("apply", "--backup goes with --in-place");
	if (a->journal && !a->in_place)
		return cli_usage("apply", "--journal goes with --in-place (it records what "
		                          "'nxpatch revert' restores)");
	if (a->trust_checksum && !a->in_place_bytes)
		return cli_usage("apply", "--trust-checksum goes with --in-place=bytes (the other "
		                          "modes read every byte of the output anyway)");
	int bad = a->in_place_bytes ? check_bytes_mode(a) : 0;
	if (bad)
		return bad;
	if (a->journal && !a->backup && !a->in_place_bytes)
		a->backup = JOURNAL_BACKUP;
	if (a->backup && (!*a->backup || strchr(a->backup, '/')))
		return cli_usage("apply", "--backup takes a suffix such as .orig");
	if (a->backup && image_suffix(a->backup))
		return cli_usage("apply", "--backup %s would give backups the names of images (x%s "
		                          "is the backup name of x); choose a suffix such as .orig",
		                 a->backup, a->backup);
	if (a->allow_metadata_loss && !a->in_place)
		return cli_usage("apply", "--allow-metadata-loss goes with --in-place");
	if (a->out_dir) {
		if ((a->out_dirfd = open_out_dir(a->out_dir)) < 0)
			return a->out_dirfd == -2 ? NXP_EXIT_USAGE : NXP_EXIT_INPUT;
		bo->out_names = 1;
	}
	bo->skip_suffix = a->backup;
	bo->backup_suffix = a->in_place ? a->backup : NULL;
	int status = cli_sign_finish(&a->sign, "apply", 0);
	/* A file-size limit (ulimit -f) must fail a write with EFBIG, not kill us. */
	if (!status)
		signal(SIGXFSZ, SIG_IGN);
	return status;
}

/* Signing options against the policy's signature mode, before any image is
 * read: material that no output could use, and sign without a key, are
 * usage errors. */
static int check_signing(const apply_args *a, const nxp_policy *pol)
{
	const char *given = cli_sign_given(&a->sign);
	const char *from = pol->signature_from ? pol->signature_from : "the default";
	int key = cli_sign_has_key(&a->sign);
	if (given && (pol->signature == NXP_SIGMODE_REFUSE || pol->signature == NXP_SIGMODE_STRIP))
		return cli_usage("apply", "--%s: signing options were given, but signature: %s (%s) "
		                 "never signs an output; --signature sign signs every output "
		                 "(resign re-signs signed ones), or drop the signing options", given,
		                 pol->signature == NXP_SIGMODE_REFUSE ? "refuse" : "strip", from);
	if (pol->signature == NXP_SIGMODE_SIGN && !key)
		return cli_usage("apply", "signature: sign (%s) signs every output and needs key "
		                 "material: --cert and --key, or --pkcs12", from);
	if (a->sign.first_other && !key)
		return cli_usage("apply", "--%s: signing options without key material (--cert and "
		                 "--key, or --pkcs12) sign nothing", a->sign.first_other);
	return NXP_EXIT_OK;
}

static void on_recover(void *ctx, nxp_revert_event ev, const char *path, const char *msg)
{
	(void)ctx;
	if (ev == NXP_REVERT_RESTORED)
		fprintf(stderr, "nxpatch: %s: restored from %s (a run was interrupted while it "
		                "patched it)\n", nxpi_shown(path), nxpi_shown(msg));
	else if (ev == NXP_REVERT_REFUSED || ev == NXP_REVERT_FAILED)
		cli_error(path ? path : "journal", "%s", msg);
}

static void apply_init(void *vctx)
{
	apply_args *a = vctx;
	a->cross_check = 1;
	a->out_dirfd = -1;
	cli_sign_init(&a->sign);
}

/* A run killed in the middle of a byte patch left an open undo record:
 * put those files back first, so no file stays in between. */
static int recover(apply_args *a)
{
	nxp_error err = {0};
	nxp_revert_summary rs;
	if (!nxp_recover(a->journal, a->journal_h, on_recover, NULL, &rs, &err) && !rs.refused &&
	    !rs.failed)
		return 0;
	if (err.code)
		cli_error_e(a->journal, &err);
	else
		cli_error(a->journal, "an interrupted --in-place=bytes run left a file this "
		                      "journal cannot restore (above); nothing else done: "
		                      "look at it, or use another journal");
	nxp_journal_close(a->journal_h, &err);
	return NXP_EXIT_INPUT;
}

/* The signer, the journal (and what it must recover first), standard
 * output: 0, or an exit status with all of it freed. */
static int apply_setup(void *vctx, const nxp_policy *pol, const batch_opts *bo)
{
	apply_args *a = vctx;
	(void)bo;
	int status = check_signing(a, pol);
	if (status)
		return status;
	if (cli_sign_has_key(&a->sign) && (status = cli_sign_load(&a->sign, &a->signer)))
		return status;
	nxp_error err = {0};
	if (a->journal && nxp_journal_open(&a->journal_h, a->journal, &err)) {
		cli_error_e(a->journal, &err);
		status = NXP_EXIT_INPUT;
	}
	if (!status && a->journal_h)
		status = recover(a);
	a->pol = pol;
	if (!status && a->to_stdout && !(status = cli_stdout_begin("apply", &a->stdout_to)))
		a->out = a->stdout_to.path;
	if (status) {
		nxp_signer_free(a->signer);
		a->signer = NULL;
	}
	return status;
}

static int apply_finish(void *vctx, int status)
{
	apply_args *a = vctx;
	nxp_error err = {0};
	if (a->to_stdout)
		status = cli_stdout_end(&a->stdout_to, status);
	if (nxp_journal_close(a->journal_h, &err)) {
		cli_error_e(a->journal, &err);
		status = NXP_EXIT_INPUT;
	}
	if (a->out_dirfd >= 0)
		close(a->out_dirfd);
	nxp_signer_free(a->signer);
	return status;
}

const cli_batch_spec cli_apply_spec = {
	.synopsis = "[options] PATH... (-o OUT | --out-dir DIR | --in-place)",
	.about = about,
	.options = apply_options,
	.more = more_groups,
	.ctx_size = sizeof(apply_args),
	.init = apply_init,
	.opt = apply_opt,
	.check = apply_check,
	.setup = apply_setup,
	.begin = apply_begin,
	.end = apply_end,
	.finish = apply_finish,
};
