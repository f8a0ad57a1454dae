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
};

struct pw_reason *pw_rl_add(struct rlist *l, enum pw_reason_kind kind, enum pw_confidence conf,
			    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void pw_rl_evidence(struct rlist *l, struct pw_reason *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pw_rl_cover(struct rlist *l, struct pw_reason *r, struct pw_socket *s);
const char *pw_rl_comm(const struct pw_process *p);

/* lineage.c: the reason for one socket held by several processes that are
 * not a socket-activation pair: forked, passed, or orphaned workers. */
void pw_explain_family(struct rlist *l, struct pw_socket *s);

#endif
