/* SPDX-License-Identifier: MIT */
/* The watcher: a source of raw changes (the BPF tracer, or polling when that
 * cannot run), the user's filter (PORTSPEC, protocols, families, namespace)
 * and process facts from the per-PID cache. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "watch-int.h"

struct pw_watch {
	struct pw_watch_opts o;
	struct pw_portspec *specs;
	bool netns_filter;
	uint64_t netns; /* with netns_filter: the only namespace reported */
	struct pw_wtracer *tracer;
	struct pw_wpoll *poll;
	struct pw_wprocs *procs;
	/* events ready, not yet handed out */
	struct pw_watch_event *q;
	size_t q_n, q_cap, q_head;
	struct pw_watch_event cur;
	int64_t mono_to_real_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	int err;		 /* first allocation failure inside a callback */
	int64_t next_tick;
	int bpf_err;
	/* why the tracer is not in use (AUTO fell back), or 0 */ /* polling: CLOCK_MONOTONIC of
								     the next snapshot */
};

const char *pw_watch_kind_name(enum pw_watch_kind k)
{
	static const char *const names[] = {
	    [PW_WATCH_BIND] = "bind",	    [PW_WATCH_BIND_FAILED] = "bind-failed",
	    [PW_WATCH_LISTEN] = "listen",   [PW_WATCH_CLOSE] = "close",
	    [PW_WATCH_CONNECT] = "connect", [PW_WATCH_ACCEPT] = "accept",
	};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static int64_t ts_ns(clockid_t clk)
{
	struct timespec t;
	clock_gettime(clk, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void refresh_clock(struct pw_watch *w)
{
	w->mono_to_real_ns = ts_ns(CLOCK_REALTIME) - ts_ns(CLOCK_MONOTONIC);
}

static bool proto_ok(unsigned protos, uint8_t proto)
{
	unsigned bit = proto == IPPROTO_TCP   ? PW_PROTO_TCP
		       : proto == IPPROTO_UDP ? PW_PROTO_UDP
					      : PW_PROTO_UDPLITE;
	return (protos ? protos : PW_PROTO_TCP | PW_PROTO_UDP) & bit;
}

static bool endpoint_ok(const struct pw_watch *w, const struct pw_watch_event *e,
			const struct pw_addr *a, uint16_t port)
{
	if (!w->o.n_specs)
		return true;
	for (size_t i = 0; i < w->o.n_specs; i++)
		if (pw_portspec_match(&w->specs[i], e->proto, a, port, e->v6only == 1))
			return true;
	return false;
}

/* The user's filter, complete (the kernel side only looks at ports). */
static bool event_wanted(const struct pw_watch *w, const struct pw_watch_event *e)
{
	if (!proto_ok(w->o.protos, e->proto))
		return false;
	unsigned fam = e->family == AF_INET ? PW_FAMILY_INET : PW_FAMILY_INET6;
	if (w->o.families && !(w->o.families & fam))
		return false;
	if (w->netns_filter && e->netns != w->netns)
		return false;
	bool conn = e->kind == PW_WATCH_CONNECT || e->kind == PW_WATCH_ACCEPT ||
		    (e->kind == PW_WATCH_CLOSE && e->state != PW_ST_LISTEN &&
		     e->state != PW_ST_CLOSE && e->state != PW_ST_BOUND_INACTIVE);
	if (conn && !w->o.connections)
		return false;
	if (endpoint_ok(w, e, &e->laddr, e->lport))
		return true;
	/* a client of a watched port: its remote end matches */
	return conn && e->rport && endpoint_ok(w, e, &e->raddr, e->rport);
}

static void addr_from(struct pw_addr *a, uint8_t family, const __u8 bytes[16])
{
	a->family = family;
	memcpy(a->bytes, bytes, family == AF_INET ? 4 : 16);
	if (family == AF_INET)
		memset(a->bytes + 4, 0, 12);
}

static int queue_push(struct pw_watch *w, const struct pw_watch_event *e)
{
	if (w->q_head == w->q_n)
		w->q_head = w->q_n = 0; /* everything handed out: start over */
	if (PW_GROW(w->q, w->q_cap, w->q_n + 1) < 0)
		return -ENOMEM;
	w->q[w->q_n++] = *e;
	return 0;
}

static const enum pw_watch_kind rec_kinds[] = {
    [PW_WREC_BIND] = PW_WATCH_BIND,	  [PW_WREC_BIND_FAILED] = PW_WATCH_BIND_FAILED,
    [PW_WREC_LISTEN] = PW_WATCH_LISTEN,	  [PW_WREC_CLOSE] = PW_WATCH_CLOSE,
    [PW_WREC_CONNECT] = PW_WATCH_CONNECT, [PW_WREC_ACCEPT] = PW_WATCH_ACCEPT,
};

static void on_record(void *ctx, const struct pw_wrec *r)
{
	struct pw_watch *w = ctx;
	if (r->kind < PW_WREC_BIND || r->kind > PW_WREC_ACCEPT ||
	    (r->family != AF_INET && r->family != AF_INET6))
		return;
	struct pw_watch_event e = {
	    .kind = rec_kinds[r->kind],
	    .netns = r->netns,
	    .cookie = r->cookie,
	    .family = r->family,
	    .proto = r->proto,
	    .state = r->state,
	    .lport = r->lport,
	    .rport = r->rport,
	    .ifindex = r->ifindex,
	    .reuseaddr = (int8_t)(r->reuse != 0),
	    .reuseport = (int8_t)(r->reuseport != 0),
	    .v6only = (int8_t)(r->family == AF_INET6 ? r->v6only != 0 : -1),
	    .sock_uid = r->sk_uid,
	    .pid = (pid_t)r->tgid,
	    .tid = (pid_t)r->tid,
	    .uid = r->uid,
	    .err = r->err,
	};
	/* TCP's bound-not-listening sockets are CLOSE in the kernel; the
	 * library calls them BOUND, as sock_diag's newer kernels do */
	if (e.proto == IPPROTO_TCP && e.state == PW_ST_CLOSE && e.kind != PW_WATCH_BIND_FAILED)
		e.state = PW_ST_BOUND_INACTIVE;
	addr_from(&e.laddr, r->family, r->laddr);
	addr_from(&e.raddr, r->family, r->raddr);
	memcpy(e.command, r->comm, sizeof(r->comm));
	e.command[sizeof(r->comm)] = '\0';
	int64_t real = (int64_t)r->ts_ns + w->mono_to_real_ns;
	e.time.tv_sec = real / 1000000000;
	e.time.tv_nsec = real % 1000000000;
	if (!event_wanted(w, &e))
		return;
	if (queue_push(w, &e) < 0 && !w->err)
		w->err = -ENOMEM;
}

static int ns_inode(const char *path, uint64_t *ret)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	*ret = st.st_ino;
	return 0;
}

/* The kernel-side filter: watched ports (any when no PORTSPEC) and protocols. */
static void kernel_filter(const struct pw_watch_opts *o, __u32 *flags, uint8_t *ports)
{
	*flags = 0;
	unsigned protos = o->protos ? o->protos : PW_PROTO_TCP | PW_PROTO_UDP;
	if (protos & PW_PROTO_TCP)
		*flags |= PW_WF_TCP;
	if (protos & (PW_PROTO_UDP | PW_PROTO_UDPLITE))
		*flags |= PW_WF_UDP;
	if (o->connections)
		*flags |= PW_WF_CONNS;
	if (!o->n_specs)
		return;
	*flags |= PW_WF_PORTS;
	for (size_t i = 0; i < o->n_specs; i++)
		for (unsigned p = o->specs[i].lo; p <= o->specs[i].hi; p++)
			ports[p >> 3] |= (uint8_t)(1u << (p & 7));
}

int pw_watch_open(const struct pw_watch_opts *o, struct pw_watch **ret)
{
	struct pw_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->o = *o;
	int r = 0;
	if (o->n_specs) {
		w->specs = calloc(o->n_specs, sizeof(*w->specs));
		if (!w->specs) {
			r = -ENOMEM;
			goto fail;
		}
		memcpy(w->specs, o->specs, o->n_specs * sizeof(*w->specs));
		w->o.specs = w->specs;
	}
	w->o.netns_path = NULL; /* the caller's string: only read here */
	if (o->netns_scope == PW_NETNS_CURRENT || o->netns_scope == PW_NETNS_PATH) {
		r = ns_inode(o->netns_scope == PW_NETNS_PATH ? o->netns_path : "/proc/self/ns/net",
			     &w->netns);
		if (r < 0)
			goto fail;
		w->netns_filter = true;
	}
	r = pw_wprocs_new(&w->procs);
	if (r < 0)
		goto fail;
	refresh_clock(w);

	if (o->mode != PW_WATCH_POLL) {
		__u32 flags;
		_cleanup_free_ uint8_t *ports = calloc(1, 65536 / 8);
		if (!ports) {
			r = -ENOMEM;
			goto fail;
		}
		kernel_filter(o, &flags, ports);
		r = pw_wtracer_open(flags, ports, on_record, w, &w->tracer);
		if (r < 0 && o->mode == PW_WATCH_BPF)
			goto fail;
		w->bpf_err = r < 0 ? r : 0;
	}
	if (!w->tracer) {
		/* the polling source must see the same namespaces */
		struct pw_watch_opts po = *o;
		r = pw_wpoll_open(&po, &w->poll);
		if (r < 0)
			goto fail;
		w->next_tick = ts_ns(CLOCK_MONOTONIC) + (int64_t)pw_watch_interval_ms(w) * 1000000;
	}
	*ret = w;
	return 0;
fail:
	pw_watch_free(w);
	return r;
}

void pw_watch_free(struct pw_watch *w)
{
	if (!w)
		return;
	pw_wtracer_free(w->tracer);
	pw_wpoll_free(w->poll);
	pw_wprocs_free(w->procs);
	free(w->q);
	free(w->specs);
	free(w);
}

const char *pw_watch_mode_name(const struct pw_watch *w)
{
	return w->tracer ? "bpf" : "poll";
}

int pw_watch_bpf_error(const struct pw_watch *w)
{
	return w->bpf_err;
}

unsigned pw_watch_interval_ms(const struct pw_watch *w)
{
	return w->o.poll_interval_ms ? w->o.poll_interval_ms : 1000;
}

uint64_t pw_watch_lost(const struct pw_watch *w)
{
	return w->tracer ? pw_wtracer_lost(w->tracer) : 0;
}

int pw_watch_next(struct pw_watch *w, int timeout_ms, const struct pw_watch_event **ret)
{
	int64_t deadline =
	    timeout_ms < 0 ? -1 : ts_ns(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;
	for (;;) {
		if (w->err) {
			int r = w->err;
			w->err = 0;
			return r;
		}
		if (w->q_head < w->q_n) {
			w->cur = w->q[w->q_head++];
			/* read once per PID, right away: the sooner, the likelier
			 * a short-lived process is still there */
			w->cur.proc = pw_wprocs_get(w->procs, w->cur.pid,
						    w->cur.polled ? NULL : w->cur.command);
			if (w->cur.polled && w->cur.proc && w->cur.proc->comm)
				snprintf(w->cur.command, sizeof(w->cur.command), "%s",
					 w->cur.proc->comm);
			w->cur.netns_name =
			    pw_wprocs_netns_name(w->procs, w->cur.netns, w->cur.proc);
			*ret = &w->cur;
			return 1;
		}
		int wait_ms = -1;
		if (deadline >= 0) {
			int64_t left = deadline - ts_ns(CLOCK_MONOTONIC);
			if (left <= 0)
				return 0;
			wait_ms = (int)((left + 999999) / 1000000);
		}
		int r;
		if (w->tracer) {
			refresh_clock(w);
			r = pw_wtracer_poll(w->tracer, wait_ms < 0 || wait_ms > PW_WATCH_POLL_MS
							   ? PW_WATCH_POLL_MS
							   : wait_ms);
			if (r < 0)
				return r;
			continue;
		}
		/* polling: sleep until the next tick (or the deadline) */
		int64_t now = ts_ns(CLOCK_MONOTONIC);
		if (now < w->next_tick) {
			int64_t until = w->next_tick;
			if (deadline >= 0 && deadline < until)
				until = deadline;
			struct timespec ts = {(until - now) / 1000000000,
					      (until - now) % 1000000000};
			if (nanosleep(&ts, NULL) < 0)
				return -EINTR;
			continue;
		}
		w->next_tick = now + (int64_t)pw_watch_interval_ms(w) * 1000000;
		size_t before = w->q_n;
		if (w->q_head == w->q_n)
			w->q_head = w->q_n = before = 0;
		r = pw_wpoll_step(w->poll, &w->q, &w->q_n, &w->q_cap);
		if (r < 0)
			return r;
		/* the polling source applies the namespace scope itself; the
		 * rest of the filter is the same for both sources */
		size_t k = before;
		for (size_t i = before; i < w->q_n; i++)
			if (event_wanted(w, &w->q[i]))
				w->q[k++] = w->q[i];
		w->q_n = k;
	}
}
