/* SPDX-License-Identifier: Apache-2.0 */
/* A batch run's output: rendering, ordered emission, progress, summary
 * (emit.h). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/emit.h"
#include "nxpatch/report.h"
#include "util/escape.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void merge_status(batch_emitter *E, int s)
{
	/* The worst wins: input (3) over usage (2) over check (1). */
	if (s > E->status)
		E->status = s;
}

/* ------------------------------------------------------------- results */

static batch_result *new_result(batch_class cls, int exit, uint64_t bytes, const char *err,
                                const char *out, size_t out_len, const char *aux)
{
	size_t el = err ? strlen(err) : 0, al = aux ? strlen(aux) : 0;
	batch_result *res = malloc(sizeof(*res));
	if (!res)
		return NULL;
	res->buf = malloc(el + out_len + al + 1);
	if (!res->buf) {
		free(res);
		return NULL;
	}
	res->cls = cls;
	res->exit = exit;
	res->bytes = bytes;
	res->err_len = el;
	res->out_len = out_len;
	res->aux_len = al;
	if (el)
		memcpy(res->buf, err, el);
	if (out_len)
		memcpy(res->buf + el, out, out_len);
	if (al)
		memcpy(res->buf + el + out_len, aux, al);
	res->buf[el + out_len + al] = '\0';
	return res;
}

void emit_free(batch_result *res)
{
	if (res) {
		free(res->buf);
		free(res);
	}
}

/* "CLS EXIT BYTES ERRLEN OUTLEN AUXLEN\n", then the three byte strings. */
char *emit_pack(const batch_result *res, size_t *len)
{
	char head[128];
	size_t body = res->err_len + res->out_len + res->aux_len;
	int n = snprintf(head, sizeof(head), "%d %d %llu %zu %zu %zu\n", (int)res->cls, res->exit,
	                 (unsigned long long)res->bytes, res->err_len, res->out_len, res->aux_len);
	char *p = malloc((size_t)n + body);
	if (!p)
		return NULL;
	memcpy(p, head, (size_t)n);
	memcpy(p + n, res->buf, body);
	*len = (size_t)n + body;
	return p;
}

batch_result *emit_unpack(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	int cls = -1, exit = 0;
	unsigned long long bytes = 0;
	size_t el = 0, ol = 0, al = 0;
	if (!nl || sscanf(buf, "%d %d %llu %zu %zu %zu", &cls, &exit, &bytes, &el, &ol, &al) != 6 ||
	    cls < 0 || cls >= BATCH_NCLASSES || el > len || ol > len || al > len ||
	    (size_t)(nl + 1 - buf) + el + ol + al != len)
		return NULL;
	batch_result *res = malloc(sizeof(*res));
	char *b = malloc(el + ol + al + 1);
	if (!res || !b) {
		free(res);
		free(b);
		return NULL;
	}
	memcpy(b, nl + 1, el + ol + al);
	b[el + ol + al] = '\0';
	*res = (batch_result){.cls = (batch_class)cls, .exit = exit, .bytes = bytes, .err_len = el,
	                      .out_len = ol, .aux_len = al, .buf = b};
	return res;
}

/* A shard's SARIF results and notifications carry their image's place in
 * the whole run, properties.batchIndex, for 'nxpatch report merge'. */
static void shard_mark(json_t *arr, size_t seq)
{
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *x = json_array_get(arr, i), *p = json_object_get(x, "properties");
		if (!p) {
			p = json_object();
			json_object_set_new(x, "properties", p);
		}
		json_object_set_new(p, "batchIndex", json_integer((json_int_t)seq));
	}
}

/* Render what the command produced for one image in the run's format.
 * Paths and captured output may hold bytes that are not UTF-8: they are
 * written escaped (\xNN), as in the JSON reports. */
batch_result *emit_render(const batch_emitter *E, const batch_item *it, batch_class cls,
                          int exit, const char *text, const char *err, json_t *report,
                          json_t *findings)
{
	const char *name = batch_class_name(cls);
	json_t *jt = nxp_json_text(text ? text : ""), *je = nxp_json_text(err ? err : "");
	const char *t = json_string_value(jt), *e = json_string_value(je);
	char *out = NULL, *aux = NULL;
	size_t out_len = 0;
	int skipped = cls == BATCH_SKIPPED;
	switch (E->o->format) {
	case CLI_TEXT:
		out_len = skipped || !t ? 0 : strlen(t);
		out = out_len ? strdup(t) : NULL;
		break;
	case CLI_JSONL:
		/* A shard's lines carry their place in the whole run, last, for
		 * 'nxpatch report merge'. */
		if (!skipped && json_is_object(report) && E->o->shard_n)
			json_object_set_new(report, "batch_index", json_integer((json_int_t)it->seq));
		if (!skipped && json_is_object(report) &&
		    (out = json_dumps(report, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
			out_len = strlen(out);
			char *o2 = realloc(out, out_len + 2);
			if (o2) {
				out = o2;
				out[out_len++] = '\n';
				out[out_len] = '\0';
			}
		}
		break;
	case CLI_JSON:
		if (!skipped && json_is_object(report) && (out = jstream_render(&E->files, report)))
			out_len = strlen(out);
		break;
	case CLI_SARIF:
		if (!skipped) {
			json_t *jp = nxpi_json_name(it->path);
			const char *path = json_string_value(jp);
			json_t *rs = nxp_sarif_results(path, findings);
			json_t *ns = nxp_sarif_notes(path, name, report);
			if (E->o->shard_n) {
				shard_mark(rs, it->seq);
				shard_mark(ns, it->seq);
			}
			if ((out = jstream_join(&E->files, rs)))
				out_len = strlen(out);
			aux = jstream_join(&E->notes, ns);
			json_decref(rs);
			json_decref(ns);
			json_decref(jp);
		}
		break;
	case CLI_HTML:
		if (!skipped && (out = nxp_html_row(it->path, name, text, err, report, findings)))
			out_len = strlen(out);
		break;
	}
	batch_result *res = new_result(cls, exit, it->size, e, out, out_len, aux);
	free(out);
	free(aux);
	json_decref(jt);
	json_decref(je);
	return res;
}

batch_result *emit_failure(const batch_emitter *E, const batch_item *it, const char *msg)
{
	char e[PATH_MAX + 256];
	snprintf(e, sizeof(e), "nxpatch: %s: %s\n", nxpi_shown(it->path), nxpi_shown(msg));
	nxp_error err = {NXP_E_INTERNAL, ""};
	snprintf(err.msg, sizeof(err.msg), "%s", msg);
	json_t *rep = nxp_json_failure(it->path, &err), *f = json_array();
	batch_result *res = emit_render(E, it, BATCH_FAILED, NXP_EXIT_INPUT, "", e, rep, f);
	json_decref(rep);
	json_decref(f);
	return res;
}

/* ------------------------------------------------------ streamed documents */

static json_t *json_skeleton(const batch_cmd *cmd, json_t *summary)
{
	json_t *doc = json_object();
	if (cmd->policy)
		json_object_set_new(doc, "policy", json_string(cmd->policy));
	json_object_set_new(doc, "files", jstream_placeholder());
	json_object_set_new(doc, "summary", summary ? json_incref(summary) : json_null());
	return doc;
}

/* The shapes of the streamed arrays, before anything is written (the
 * workers render with them). Returns -1 when out of memory. */
static int stream_setup(batch_emitter *E)
{
	json_t *doc;
	if (E->o->format == CLI_JSON)
		doc = json_skeleton(E->cmd, NULL);
	else if (E->o->format == CLI_SARIF)
		doc = nxp_sarif_skeleton(E->cmd->name, NXP_VERSION, jstream_placeholder(),
		                         jstream_placeholder(), 1, json_null());
	else
		return 0;
	char *text = doc ? json_dumps(doc, JSTREAM_DUMP_FLAGS) : NULL, *after;
	json_decref(doc);
	int rc = text ? jstream_cut(&E->files, text, &after) : -1;
	if (!rc && E->o->format == CLI_SARIF) {
		rc = jstream_cut(&E->notes, after, &after);
		if (!rc && !(E->spool = tmpfile()))
			rc = -1;
	}
	free(text);
	return rc;
}

/* The document's start, once, before the first image. */
void emit_begin(batch_emitter *E)
{
	if (E->files.head)
		fputs(E->files.head, stdout);
	if (E->o->format == CLI_HTML) {
		nxp_html_meta m = {E->cmd->name, NXP_VERSION, E->cmd->policy, (long long)time(NULL)};
		/* A reproducible report, as for signing times. */
		const char *sde = getenv("SOURCE_DATE_EPOCH");
		char *end = NULL;
		long long t = sde && *sde ? strtoll(sde, &end, 10) : -1;
		if (t >= 0 && end && !*end)
			m.date = t;
		nxp_html_begin(stdout, &m);
	}
}

/* The rest of the document, now that the summary is known. */
static void stream_end(batch_emitter *E, json_t *summary)
{
	json_t *doc = E->o->format == CLI_JSON
	                      ? json_skeleton(E->cmd, summary)
	                      : nxp_sarif_skeleton(E->cmd->name, NXP_VERSION, jstream_placeholder(),
	                                           jstream_placeholder(), E->notes.n == 0, summary);
	char *text = doc ? json_dumps(doc, JSTREAM_DUMP_FLAGS) : NULL, *after = NULL;
	json_decref(doc);
	jstream js = {0};
	if (!text || jstream_cut(&js, text, &after)) {
		cli_error(NULL, "out of memory");
		E->status = NXP_EXIT_INPUT;
	} else if (E->o->format == CLI_JSON) {
		fputs(jstream_tail(&E->files, after), stdout);
		fputc('\n', stdout);
	} else {
		/* results ... ], invocations [ { ... notifications [ spool ] ... */
		jstream nj = {0};
		char *rest = NULL, *mid = jstream_find(after, &rest);
		char *nopen = mid;
		while (nopen && nopen > after && nopen[-1] != '[')
			nopen--;
		const char *t = jstream_tail(&E->files, after);
		if (mid && nopen > after) {
			fwrite(t, 1, (size_t)(nopen - t), stdout);
			rewind(E->spool);
			char buf[65536];
			size_t k;
			while ((k = fread(buf, 1, sizeof(buf), E->spool)) > 0)
				fwrite(buf, 1, k, stdout);
			nj.n = E->notes.n;
			fputs(jstream_tail(&nj, rest), stdout);
			fputc('\n', stdout);
		}
	}
	jstream_free(&js);
	free(text);
}

/* ------------------------------------------------------------- emission */

/* The bar is one line on stderr without a newline: before anything else is
 * written to the terminal it is erased (and drawn again after), so a report
 * line never starts in the middle of "ETA 00:02". */
static void clear_progress(batch_emitter *E)
{
	if (E->progress && E->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		E->drawn = 0;
	}
}

static void draw_progress(batch_emitter *E, int force)
{
	if (!E->progress)
		return;
	double t = now_s();
	if (!force && t - E->last_draw < 0.1)
		return;
	E->last_draw = t;
	double el = t - E->t0, rate = el > 0 ? (double)E->done_bytes / el : 0;
	char eta[32] = "--:--";
	if (E->done && E->done < E->l->n) {
		double left = el / (double)E->done * (double)(E->l->n - E->done);
		snprintf(eta, sizeof(eta), "%02d:%02d", (int)left / 60, (int)left % 60);
	}
	fflush(stdout); /* what the report wrote is on the screen before the bar */
	fprintf(stderr, "\r\033[K%s: %zu/%zu images  %.1f MB/s  ETA %s", E->cmd->name, E->done,
	        E->l->n, rate / 1e6, eta);
	fflush(stderr);
	E->drawn = 1;
}

static void emit(batch_emitter *E, const batch_result *res)
{
	const char *out = res->buf + res->err_len, *aux = out + res->out_len;
	if (res->err_len || (E->out_tty && res->out_len))
		clear_progress(E);
	if (res->err_len) {
		fflush(stdout);
		fwrite(res->buf, 1, res->err_len, stderr);
		fflush(stderr);
	}
	E->count[res->cls]++;
	if (res->cls != BATCH_SKIPPED) {
		E->scanned++;
		E->bytes += res->bytes;
		switch (E->o->format) {
		case CLI_TEXT:
			fwrite(out, 1, res->out_len, stdout);
			if (E->out_tty)
				fflush(stdout);
			break;
		case CLI_JSONL:
			fwrite(out, 1, res->out_len, stdout);
			if (res->out_len)
				fflush(stdout); /* a line per image, as it is done */
			break;
		case CLI_JSON:
			jstream_put(&E->files, stdout, out, res->out_len);
			break;
		case CLI_SARIF:
			jstream_put(&E->files, stdout, out, res->out_len);
			jstream_put(&E->notes, E->spool, aux, res->aux_len);
			break;
		case CLI_HTML:
			fwrite(out, 1, res->out_len, stdout);
			break;
		}
	}
	merge_status(E, res->exit);
}

void emit_take(batch_emitter *E, size_t i, batch_result *res)
{
	if (!res) {
		cli_error(E->l->v[i].path, "out of memory");
		res = new_result(BATCH_FAILED, NXP_EXIT_INPUT, E->l->v[i].size, NULL, NULL, 0, NULL);
	}
	E->recs[i] = res;
	E->done++;
	E->done_bytes += E->l->v[i].size;
	while (E->next_emit < E->l->n && E->recs[E->next_emit]) {
		emit(E, E->recs[E->next_emit]);
		emit_free(E->recs[E->next_emit]);
		E->recs[E->next_emit] = NULL;
		E->next_emit++;
	}
	draw_progress(E, !E->drawn);
}

static json_t *summary_json(batch_emitter *E, double secs, size_t not_started, int stop_signal)
{
	const size_t *c = E->count;
	json_t *s = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "scanned", (json_int_t)E->scanned,
	                      "changed", (json_int_t)c[BATCH_CHANGED], "unchanged",
	                      (json_int_t)c[BATCH_UNCHANGED], "refused", (json_int_t)c[BATCH_REFUSED],
	                      "failed", (json_int_t)c[BATCH_FAILED], "skipped",
	                      (json_int_t)c[BATCH_SKIPPED]);
	if (E->cmd->labels.compliance) {
		json_object_set_new(s, "compliant", json_integer((json_int_t)c[BATCH_COMPLIANT]));
		json_object_set_new(s, "noncompliant", json_integer((json_int_t)c[BATCH_NONCOMPLIANT]));
	}
	json_object_set_new(s, "bytes", json_integer((json_int_t)E->bytes));
	json_object_set_new(s, "seconds", json_real((double)(long long)(secs * 1000) / 1000.0));
	if (stop_signal) {
		json_object_set_new(s, "interrupted", json_true());
		json_object_set_new(s, "not_started", json_integer((json_int_t)not_started));
	}
	/* Which shard: 'nxpatch report merge' checks it has them all. */
	if (E->o->shard_n)
		json_object_set_new(s, "shard", json_pack("{s:i, s:i}", "k", (int)E->o->shard_k, "n",
		                                          (int)E->o->shard_n));
	return s;
}

static void text_summary(batch_emitter *E, double secs)
{
	const batch_labels *L = &E->cmd->labels;
	const size_t *c = E->count;
	printf("summary: %zu image%s scanned", E->scanned, E->scanned == 1 ? "" : "s");
	if (L->changed)
		printf(", %zu %s, %zu %s, %zu %s", c[BATCH_CHANGED], L->changed, c[BATCH_UNCHANGED],
		       L->unchanged, c[BATCH_REFUSED], L->refused);
	if (L->compliance)
		printf(", %zu compliant, %zu not compliant", c[BATCH_COMPLIANT], c[BATCH_NONCOMPLIANT]);
	printf(", %zu failed, %zu skipped; %llu bytes in %.2f s\n", c[BATCH_FAILED],
	       c[BATCH_SKIPPED], (unsigned long long)E->bytes, secs);
}

void emit_tick(batch_emitter *E)
{
	draw_progress(E, 0);
}

int emit_init(batch_emitter *E, const batch_cmd *cmd, const batch_opts *o, const batch_items *l)
{
	*E = (batch_emitter){.cmd = cmd, .o = o, .l = l};
	/* What was skipped while collecting is the same in every shard:
	 * shard 1 counts it, so shard summaries add up to the whole run's. */
	E->count[BATCH_SKIPPED] = !o->shard_n || o->shard_k == 1 ? l->skipped : 0;
	E->recs = calloc(l->n ? l->n : 1, sizeof(*E->recs));
	E->out_tty = isatty(STDOUT_FILENO);
	/* A document (JSON, SARIF) on the same terminal is written in pieces
	 * that are not whole lines: no bar then (erasing it would erase them). */
	E->progress = isatty(STDERR_FILENO) && !o->quiet &&
	              !(E->out_tty && o->format != CLI_TEXT && o->format != CLI_JSONL);
	E->color = o->format == CLI_TEXT && cli_use_color(o->color, STDOUT_FILENO);
	E->t0 = now_s();
	if (stream_setup(E)) {
		cli_error(NULL, "cannot set up the report: %s", strerror(errno));
		free(E->recs);
		E->recs = NULL;
	}
	return E->recs ? 0 : -1;
}

/* The summary in the run's format (and the rest of a document). */
static void summary(batch_emitter *E, double secs, size_t not_started, int stop_signal)
{
	json_t *summary = summary_json(E, secs, not_started, stop_signal);
	switch (E->o->format) {
	case CLI_TEXT:
		text_summary(E, secs);
		break;
	case CLI_JSONL:
		{
			json_t *line = json_pack("{s:O}", "summary", summary);
			json_dumpf(line, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
			fputc('\n', stdout);
			json_decref(line);
		}
		break;
	case CLI_JSON:
	case CLI_SARIF:
		if (E->recs)
			stream_end(E, summary);
		break;
	case CLI_HTML:
		if (E->recs)
			nxp_html_end(stdout, summary);
		break;
	}
	json_decref(summary);
}

int emit_finish(batch_emitter *E, int input_errors, int stop_signal)
{
	/* Anything received but not emitted (a gap left by an image never
	 * started) is dropped: reports stay a prefix of the input order. */
	for (size_t i = E->next_emit; E->recs && i < E->l->n; i++)
		emit_free(E->recs[i]);
	size_t not_started = E->l->n - E->next_emit;
	double secs = now_s() - E->t0;
	clear_progress(E);
	if (input_errors)
		merge_status(E, NXP_EXIT_INPUT);
	summary(E, secs, not_started, stop_signal);
	if (stop_signal) {
		cli_error(NULL, "interrupted by signal %d: %zu image%s not started", stop_signal,
		          not_started, not_started == 1 ? "" : "s");
		if (not_started)
			merge_status(E, NXP_EXIT_INPUT);
	}
	free(E->recs);
	E->recs = NULL;
	jstream_free(&E->files);
	jstream_free(&E->notes);
	if (E->spool)
		fclose(E->spool);
	E->spool = NULL;
	return E->status;
}
