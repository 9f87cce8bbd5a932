/* SPDX-License-Identifier: Apache-2.0 */
/* The LIEF cross-checks of the outputs in flight (write/internal.h): one
 * request at a time goes to this process's LIEF worker, the others wait in
 * line. Collecting the one in flight sends the next at once, so LIEF reads
 * the next output while the caller replaces this one and writes another. */
#include <string.h>

#include "nxpatch/crosscheck.h"
#include "write/internal.h"

/* Every check in flight or waiting, oldest first; only the first can have
 * been sent. One process's writes come from one thread (write.h). */
static nxpi_liefq *line_head, *line_tail;

static void unlink_head(void)
{
	nxpi_liefq *h = line_head;
	line_head = h->next;
	if (!line_head)
		line_tail = NULL;
	h->next = NULL;
}

static void send_one(nxpi_liefq *q)
{
	q->rc = nxp_crosscheck_file_begin(q->path, &q->err);
	q->sent = q->rc == NXP_OK;
}

/* Send the oldest waiting check; one that cannot be sent has its error as
 * its verdict and leaves the line. */
static void send_next(void)
{
	while (line_head && line_head->waiting) {
		nxpi_liefq *q = line_head;
		q->waiting = 0;
		send_one(q);
		if (q->sent)
			return;
		unlink_head();
	}
}

/* Collect the check in flight (the oldest) with its own image, and send
 * the next. */
static void collect_head(void)
{
	nxpi_liefq *h = line_head;
	size_t n = 0;
	h->sent = 0;
	h->rc = nxp_crosscheck_file_end(h->img, NULL, 0, &n, &h->err);
	unlink_head();
	send_next();
}

void nxpi_liefq_start(nxpi_liefq *q, int cross_check, const char *path)
{
	memset(q, 0, sizeof(*q));
	if (!cross_check)
		return;
	q->path = path;
	if (!line_head) {
		send_one(q);
		if (!q->sent)
			return;
	} else {
		q->waiting = 1;
	}
	if (line_tail)
		line_tail->next = q;
	else
		line_head = q;
	line_tail = q;
}

int nxpi_liefq_pending(const nxpi_liefq *q)
{
	return q->sent || q->waiting;
}

void nxpi_liefq_ready(nxpi_liefq *q, const nxp_image *img)
{
	q->img = img;
}

int nxpi_liefq_finish(nxpi_liefq *q)
{
	/* Older checks first: each keeps its verdict for its own finish. */
	while (nxpi_liefq_pending(q)) {
		if (!line_head || !line_head->sent) {
			/* Not in a line that moves: a caller broke write.h's order. */
			q->sent = q->waiting = 0;
			return q->rc = nxp_fail(&q->err, NXP_E_INTERNAL,
			                        "the cross-check of %s was never sent to LIEF", q->path);
		}
		collect_head();
	}
	return q->rc;
}

void nxpi_liefq_drop(nxpi_liefq *q)
{
	q->img = NULL;
	if (q->waiting) {
		/* Not sent: only leaves the line. */
		nxpi_liefq **pp = &line_head, *prev = NULL;
		while (*pp && *pp != q) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (*pp) {
			*pp = q->next;
			if (line_tail == q)
				line_tail = prev;
		}
		q->waiting = 0;
		q->next = NULL;
		return;
	}
	nxpi_liefq_finish(q);
}
