/* SPDX-License-Identifier: MIT */
/*
 * Reason text on demand. A snapshot taken with pw_query.no_reason_text
 * keeps each reason's kind, confidence and sockets; the summary and the
 * evidence are told again, one group at a time, when a renderer asks. On -a
 * that text is 60,000 small strings, a fifth of the memory, and a renderer
 * that streams needs only the group it is writing.
 *
 * Telling a group again gives what pw_explain gave it: pw_explain_group is
 * pure over the snapshot, and nothing changes a group's reasons after it
 * (groups with forwards, which forward-explain reorders, keep their text).
 * The kinds and socket counts are compared all the same.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"
#include "reasons.h"

struct pw_reason_text {
	struct rlist l;
	struct pw_explain_scratch w;
	struct pw_port_group *lent; /* the group whose reasons hold our text */
	size_t n_lent;
};

static void take_back(struct pw_reason_text *t)
{
	for (size_t i = 0; t->lent && i < t->n_lent; i++)
		pw_reason_clear_text(&t->lent->reasons[i]);
	t->lent = NULL;
	t->n_lent = 0;
}

static void drop_list(struct rlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		pw_reason_clear(&l->v[i]);
	l->n = 0;
}

int pw_snapshot_reason_text(const struct pw_snapshot *csnap, const struct pw_port_group *cg)
{
	if (!csnap || !cg)
		return -EINVAL;
	/* const to the caller, as pw_snapshot_group hands out its groups: the
	 * text is a cache the snapshot owns and frees */
	struct pw_snapshot *snap = (struct pw_snapshot *)csnap;
	if (cg < snap->groups || cg >= snap->groups + snap->n_groups)
		return -EINVAL;
	struct pw_port_group *g = &snap->groups[cg - snap->groups];
	if (!(snap->facts_flags & PW_FACTS_NO_REASON_TEXT) || g->n_forwards || !g->n_reasons)
		return 0; /* its text is there already, or it has none */
	struct pw_reason_text *t = snap->reason_text;
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		snap->reason_text = t;
	}
	if (t->lent == g)
		return 0;
	take_back(t);
	int r = pw_explain_group(g, snap, &t->l, &t->w);
	if (r < 0)
		return r;
	if (t->l.n != g->n_reasons) {
		drop_list(&t->l);
		return -EPROTO;
	}
	for (size_t i = 0; i < t->l.n; i++) {
		const struct pw_reason *a = &t->l.v[i], *b = &g->reasons[i];
		if (a->kind != b->kind || a->confidence != b->confidence ||
		    a->n_sockets != b->n_sockets || b->summary || b->n_evidence) {
			drop_list(&t->l);
			return -EPROTO;
		}
	}
	for (size_t i = 0; i < t->l.n; i++) {
		struct pw_reason *a = &t->l.v[i], *b = &g->reasons[i];
		b->summary = a->summary;
		b->evidence = a->evidence;
		b->n_evidence = a->n_evidence;
		a->summary = NULL;
		a->evidence = NULL;
		a->n_evidence = 0;
	}
	drop_list(&t->l); /* their socket arrays: the group has its own */
	t->lent = g;
	t->n_lent = g->n_reasons;
	return 0;
}

void pw_reason_text_free(struct pw_snapshot *snap)
{
	struct pw_reason_text *t = snap->reason_text;
	if (!t)
		return;
	take_back(t);
	drop_list(&t->l);
	free(t->l.v);
	pw_explain_scratch_free(&t->w);
	free(t);
	snap->reason_text = NULL;
}
