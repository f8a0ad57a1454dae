/* SPDX-License-Identifier: MIT */
/* The polling source: when BPF cannot run (not root, no BTF, built
 * without), take a snapshot every interval and report what changed since
 * the last one. Sockets that come and go between two snapshots are missed,
 * and a failed bind leaves no socket to see: the command says so. */
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "watch-int.h"

struct pw_wpoll {
	struct pw_query q;
	struct pw_portspec *specs;
	char *netns_path;
	struct pw_watch_event *cur; /* last snapshot's sockets, by (netns, cookie) */
	size_t n_cur, cap_cur;
};

static int key_cmp(const void *a, const void *b)
{
	const struct pw_watch_event *x = a, *y = b;
	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	if (x->cookie != y->cookie)
		return x->cookie < y->cookie ? -1 : 1;
	return 0;
}

/* The event fields a socket gives, with its first holder as the process. */
static void from_socket(const struct pw_socket *s, const struct timespec *now,
			struct pw_watch_event *e)
{
	*e = (struct pw_watch_event){
	    .polled = true,
	    .time = *now,
	    .netns = s->netns,
	    .cookie = s->cookie,
	    .family = s->family,
	    .proto = s->proto,
	    .state = s->state,
	    .laddr = s->laddr,
	    .raddr = s->raddr,
	    .lport = s->lport,
	    .rport = s->rport,
	    .ifindex = s->ifindex,
	    .reuseaddr = s->reuseaddr,
	    .reuseport = s->reuseport,
	    .v6only = s->v6only,
	    .sock_uid = s->uid,
	    .uid = s->uid,
	};
	if (s->n_holders && s->holders[0].proc) {
		const struct pw_process *p = s->holders[0].proc;
		e->pid = p->pid;
		e->tid = s->holders[0].tid ? s->holders[0].tid : p->pid;
		if (p->facts_read)
			e->uid = p->uid;
		if (p->comm)
			snprintf(e->command, sizeof(e->command), "%s", p->comm);
	}
}

static bool bound_state(uint8_t st)
{
	return st == PW_ST_LISTEN || st == PW_ST_CLOSE || st == PW_ST_BOUND_INACTIVE;
}

static int take(struct pw_wpoll *p, struct pw_watch_event **ret, size_t *ret_n)
{
	struct pw_snapshot *snap = NULL;
	int r = pw_snapshot_take(&p->q, &snap);
	if (r < 0)
		return r;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	size_t n = pw_snapshot_n_sockets(snap), k = 0;
	struct pw_watch_event *v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		pw_snapshot_free(snap);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pw_socket *s = pw_snapshot_socket(snap, i);
		if (!s->cookie || !s->inode)
			continue; /* TIME-WAIT and request socks: nobody holds them */
		from_socket(s, &now, &v[k++]);
	}
	pw_snapshot_free(snap);
	qsort(v, k, sizeof(*v), key_cmp);
	*ret = v;
	*ret_n = k;
	return 0;
}

int pw_wpoll_open(const struct pw_watch_opts *o, struct pw_wpoll **ret)
{
	struct pw_wpoll *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int r = -ENOMEM;
	if (o->n_specs) {
		p->specs = calloc(o->n_specs, sizeof(*p->specs));
		if (!p->specs)
			goto fail;
		memcpy(p->specs, o->specs, o->n_specs * sizeof(*p->specs));
	}
	if (o->netns_path && !(p->netns_path = strdup(o->netns_path)))
		goto fail;
	uint32_t states = PW_STATE_BIT(PW_ST_LISTEN) | PW_STATE_BIT(PW_ST_CLOSE) |
			  PW_STATE_BIT(PW_ST_BOUND_INACTIVE);
	if (o->connections)
		states |= PW_STATE_BIT(PW_ST_ESTABLISHED) | PW_STATE_BIT(PW_ST_SYN_SENT) |
			  PW_STATE_BIT(PW_ST_SYN_RECV);
	p->q = (struct pw_query){
	    .specs = p->specs,
	    .n_specs = o->n_specs,
	    .protos = o->protos ? o->protos : PW_PROTO_TCP | PW_PROTO_UDP,
	    .families = o->families,
	    .states = states,
	    .netns_scope = o->netns_scope,
	    .netns_path = p->netns_path,
	    .no_explain = true,
	};
	r = take(p, &p->cur, &p->n_cur);
	if (r < 0)
		goto fail;
	*ret = p;
	return 0;
fail:
	pw_wpoll_free(p);
	return r;
}

void pw_wpoll_free(struct pw_wpoll *p)
{
	if (!p)
		return;
	free(p->cur);
	free(p->specs);
	free(p->netns_path);
	free(p);
}

static int push(struct pw_watch_event **evs, size_t *n, size_t *cap, const struct pw_watch_event *e,
		enum pw_watch_kind kind)
{
	if (pw_grow((void **)evs, cap, *n + 1, sizeof(**evs)) < 0)
		return -ENOMEM;
	(*evs)[*n] = *e;
	(*evs)[*n].kind = kind;
	(*n)++;
	return 0;
}

/* A listener on the same (netns, proto, port): a connection there was
 * accepted, not made. */
static bool has_listener(const struct pw_watch_event *v, size_t n, const struct pw_watch_event *c)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].state == PW_ST_LISTEN && v[i].netns == c->netns &&
		    v[i].proto == c->proto && v[i].lport == c->lport)
			return true;
	return false;
}

static enum pw_watch_kind appeared(const struct pw_watch_event *v, size_t n,
				   const struct pw_watch_event *e)
{
	if (e->state == PW_ST_LISTEN)
		return PW_WATCH_LISTEN;
	if (bound_state(e->state))
		return PW_WATCH_BIND;
	return has_listener(v, n, e) ? PW_WATCH_ACCEPT : PW_WATCH_CONNECT;
}

int pw_wpoll_diff(const struct pw_watch_event *old, size_t n_old, const struct pw_watch_event *cur,
		  size_t n_cur, const struct timespec *now, struct pw_watch_event **evs, size_t *n,
		  size_t *cap)
{
	size_t i = 0, j = 0;
	int r = 0;
	while (r == 0 && (i < n_old || j < n_cur)) {
		int c = i == n_old ? 1 : j == n_cur ? -1 : key_cmp(&old[i], &cur[j]);
		if (c < 0) { /* gone */
			struct pw_watch_event e = old[i++];
			e.time = *now;
			r = push(evs, n, cap, &e, PW_WATCH_CLOSE);
		} else if (c > 0) { /* new */
			r = push(evs, n, cap, &cur[j], appeared(cur, n_cur, &cur[j]));
			j++;
		} else {
			if (cur[j].state == PW_ST_LISTEN && old[i].state != PW_ST_LISTEN)
				r = push(evs, n, cap, &cur[j], PW_WATCH_LISTEN);
			i++;
			j++;
		}
	}
	return r;
}

int pw_wpoll_step(struct pw_wpoll *p, struct pw_watch_event **evs, size_t *n, size_t *cap)
{
	struct pw_watch_event *v;
	size_t nv;
	int r = take(p, &v, &nv);
	if (r < 0)
		return r;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	r = pw_wpoll_diff(p->cur, p->n_cur, v, nv, &now, evs, n, cap);
	free(p->cur);
	p->cur = v;
	p->n_cur = nv;
	return r;
}
