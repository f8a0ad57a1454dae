/* SPDX-License-Identifier: MIT */
/* Between the parts of lib/watch: the BPF tracer (watch-bpf.c, or
 * watch-bpf-stub.c when built without BPF), the polling source (poll.c),
 * the per-PID process cache (procs.c) and the watcher (watch.c). */
#ifndef PW_WATCH_INT_H
#define PW_WATCH_INT_H

#include <linux/types.h>

#include "internal.h"
#include "portwho-watch.h"
#include "watch-records.h"

/* ---- the tracer ---------------------------------------------------------- */

struct pw_wtracer;
typedef void (*pw_wrec_fn)(void *ctx, const struct pw_wrec *r);
/* flags: PW_WF_*; ports: bitmap of watched ports (used with PW_WF_PORTS).
 * -EOPNOTSUPP when BPF cannot run here (not built, no BTF, no privilege). */
int pw_wtracer_open(__u32 flags, const uint8_t ports[65536 / 8], pw_wrec_fn fn, void *ctx,
		    struct pw_wtracer **ret);
/* Wait up to timeout_ms and hand every record ready to fn: count, or -errno
 * (-EINTR on a signal). */
int pw_wtracer_poll(struct pw_wtracer *t, int timeout_ms);
uint64_t pw_wtracer_lost(const struct pw_wtracer *t);
void pw_wtracer_free(struct pw_wtracer *t);

/* ---- process facts, read once per PID ----------------------------------- */

struct pw_wprocs;
int pw_wprocs_new(struct pw_wprocs **ret);
void pw_wprocs_free(struct pw_wprocs *c);
/* Facts of pid; comm (may be NULL) is what the kernel said at the event:
 * a cached entry with another comm (exec, PID reuse) is read again. NULL
 * when the process is gone or cannot be read. */
const struct pw_process *pw_wprocs_get(struct pw_wprocs *c, pid_t pid, const char *comm);
/* The name of namespace netns (as a group's netns_name), read once per
 * namespace; p (may be NULL) is the event's process, for "docker:web" and
 * "pid:N". NULL when nothing says (asked again next time). Lives as long
 * as c. */
const char *pw_wprocs_netns_name(struct pw_wprocs *c, uint64_t netns, const struct pw_process *p);

/* ---- polling --------------------------------------------------------------- */

struct pw_wpoll;
/* Takes the first snapshot (the baseline). */
int pw_wpoll_open(const struct pw_watch_opts *o, struct pw_wpoll **ret);
void pw_wpoll_free(struct pw_wpoll *p);
/* Pure: the events between two snapshots' sockets (each as an event, sorted
 * by netns then cookie): gone -> close (with the old facts, at now), new ->
 * listen, bind (bound states), accept (a listener on that port) or connect,
 * BOUND/UNCONN -> LISTEN -> listen. Appended to *evs (n, cap as pw_grow). */
int pw_wpoll_diff(const struct pw_watch_event *old, size_t n_old, const struct pw_watch_event *cur,
		  size_t n_cur, const struct timespec *now, struct pw_watch_event **evs, size_t *n,
		  size_t *cap);
/* Take a snapshot and append the differences to *evs (n, cap as pw_grow). */
int pw_wpoll_step(struct pw_wpoll *p, struct pw_watch_event **evs, size_t *n, size_t *cap);

#endif
