/* SPDX-License-Identifier: MIT */
/* Building reasons: shared by the files of lib/explain/ (explain.c owns them). */
#ifndef PW_REASONS_H
#define PW_REASONS_H

#include "internal.h"

/* A growing list of reasons for one group; err sticks at the first failure. */
struct rlist {
	struct pw_reason *v;
	size_t n, cap;
	int err;
	bool no_text; /* kinds only: no summary, no evidence (pw_query.no_reason_text) */
};

struct pw_reason *pw_rl_add(struct rlist *l, enum pw_reason_kind kind, enum pw_confidence conf,
			    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void pw_rl_evidence(struct rlist *l, struct pw_reason *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pw_rl_cover(struct rlist *l, struct pw_reason *r, struct pw_socket *s);
const char *pw_rl_comm(const struct pw_process *p);

/* Per-group work arrays, kept from one group to the next. */
struct pw_explain_scratch {
	struct pw_socket **ends, **conns, **same;
	bool *dup_done;
	size_t cap;
};
void pw_explain_scratch_free(struct pw_explain_scratch *w);

/* explain.c: the reasons of one group into l (emptied first), text or not
 * as l->no_text says. Pure over the snapshot: the same group gives the same
 * reasons each time (reason-text.c counts on it). */
int pw_explain_group(struct pw_port_group *g, const struct pw_snapshot *snap, struct rlist *l,
		     struct pw_explain_scratch *w);

/* lineage.c: the reason for one socket held by several processes that are
 * not a socket-activation pair: forked, passed, or orphaned workers. */
void pw_explain_family(struct rlist *l, struct pw_socket *s);

#endif
