/* SPDX-License-Identifier: MIT */
/*
 * Holder filters (-p, -c, --user) and the view: which sockets of a snapshot
 * are shown, in display order. A socket is shown when any of its holders
 * matches; its group keeps all its reasons.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "portwho-cmd.h"

/* The kernel keeps 15 bytes of a command name (TASK_COMM_LEN - 1). */
#define COMM_MAX 15

bool filter_active(const struct options *o)
{
	return o->n_pids || o->n_commands || o->user_set;
}

bool holder_matches(const struct options *o, const struct pw_holder *h)
{
	const struct pw_process *p = h->proc;
	if (o->n_pids) {
		bool hit = false;
		for (size_t i = 0; i < o->n_pids && !hit; i++)
			hit = (p && p->pid == o->pids[i]) || h->tid == o->pids[i];
		if (!hit)
			return false;
	}
	if (o->n_commands) {
		bool hit = false;
		/* a longer name matches the comm the kernel cut it to */
		for (size_t i = 0; i < o->n_commands && !hit; i++)
			hit = p && p->comm && !strncmp(p->comm, o->commands[i], COMM_MAX) &&
			      (strlen(o->commands[i]) >= COMM_MAX ||
			       !strcmp(p->comm, o->commands[i]));
		if (!hit)
			return false;
	}
	if (o->user_set && !(p && p->facts_read && p->uid == o->user_uid))
		return false;
	return true;
}

static bool socket_shown(const struct options *o, const struct pw_socket *s)
{
	if (!filter_active(o))
		return true;
	for (size_t i = 0; i < s->n_holders; i++)
		if (holder_matches(o, &s->holders[i]))
			return true;
	return false;
}

static int cmp_num(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* Within a port: local address (IPv4 before IPv6), state, remote, inode. */
static int cmp_shown(const void *pa, const void *pb)
{
	const struct pw_socket *a = *(const struct pw_socket *const *)pa;
	const struct pw_socket *b = *(const struct pw_socket *const *)pb;
	int r;
	if ((r = cmp_num(a->netns, b->netns)) || (r = cmp_num(a->proto, b->proto)) ||
	    (r = cmp_num(a->lport, b->lport)) || (r = cmp_num(a->family, b->family)) ||
	    (r = memcmp(a->laddr.bytes, b->laddr.bytes, sizeof(a->laddr.bytes))) ||
	    (r = strcmp(a->ifname ? a->ifname : "", b->ifname ? b->ifname : "")) ||
	    (r = pw_state_rank(a->state) - pw_state_rank(b->state)) ||
	    (r = memcmp(a->raddr.bytes, b->raddr.bytes, sizeof(a->raddr.bytes))) ||
	    (r = cmp_num(a->rport, b->rport)) || (r = cmp_num(a->inode, b->inode)))
		return r;
	return cmp_num(a->cookie, b->cookie);
}

static int cmp_group(const void *pa, const void *pb)
{
	const struct pw_port_group *a = ((const struct view_group *)pa)->group;
	const struct pw_port_group *b = ((const struct view_group *)pb)->group;
	int r;
	if ((r = cmp_num(a->netns, b->netns)) || (r = cmp_num(a->proto, b->proto)))
		return r;
	return cmp_num(a->port, b->port);
}

void view_free(struct view *v)
{
	free(v->socket_block);
	free(v->groups);
	*v = (struct view){0};
}

static bool seen_netns(const uint64_t *ns, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ns[i] == id)
			return true;
	return false;
}

static bool groups_sorted(const struct view_group *g, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (cmp_group(&g[i - 1], &g[i]) > 0)
			return false;
	return true;
}

static bool sockets_sorted(const struct pw_socket *const *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (cmp_shown(&v[i - 1], &v[i]) > 0)
			return false;
	return true;
}

static int cmp_group_at(const struct pw_port_group *a, const struct pw_port_group *b)
{
	const struct view_group x = {.group = a}, y = {.group = b};
	return cmp_group(&x, &y);
}

/* Whether the view is the snapshot's groups as they are: no filter, each
 * group's sockets and the groups in display order, none left out. */
static bool view_direct(const struct options *o, const struct pw_snapshot *snap)
{
	if (filter_active(o))
		return false;
	size_t ng = pw_snapshot_n_groups(snap);
	for (size_t i = 0; i < ng; i++) {
		const struct pw_port_group *g = pw_snapshot_group(snap, i);
		if (!g->n_sockets && !g->n_forwards)
			return false;
		if (!sockets_sorted((const struct pw_socket **)g->sockets, g->n_sockets))
			return false;
		if (i && cmp_group_at(pw_snapshot_group(snap, i - 1), g) > 0)
			return false;
	}
	return true;
}

/* A group's sockets come in display order from the snapshot: the view
 * points at them. Only a filter (or an order that differs) copies, into one
 * array for every group: -a has 30,000 groups, and one small array each
 * cost more in malloc's headers than in pointers. */
int view_build(const struct options *o, const struct pw_snapshot *snap, struct view *ret)
{
	size_t ng = pw_snapshot_n_groups(snap), ns_total = 1;
	for (size_t i = 0; i < ng; i++)
		ns_total += pw_snapshot_group(snap, i)->n_sockets;
	struct view v = {.stats = pw_snapshot_stats(snap), .snap = snap};
	bool direct = view_direct(o, snap);
	if (!direct)
		v.groups = malloc((ng ? ng : 1) * sizeof(*v.groups));
	/* few namespaces in practice; a short list is enough to count them */
	uint64_t *ns = NULL;
	size_t cap_ns = 0;
	if (!direct && !v.groups) {
		view_free(&v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ng; i++) {
		const struct pw_port_group *g = pw_snapshot_group(snap, i);
		const struct pw_socket **socks = (const struct pw_socket **)g->sockets;
		size_t n = g->n_sockets;
		if (!direct && (filter_active(o) || !sockets_sorted(socks, n))) {
			/* a copy only when the view differs from the group */
			if (!v.socket_block)
				v.socket_block = malloc(ns_total * sizeof(*v.socket_block));
			if (!v.socket_block) {
				free(ns);
				view_free(&v);
				return -ENOMEM;
			}
			socks = v.socket_block + v.n_sockets;
			n = 0;
			for (size_t j = 0; j < g->n_sockets; j++)
				if (socket_shown(o, g->sockets[j]))
					socks[n++] = g->sockets[j];
			if (n > 1)
				qsort(socks, n, sizeof(*socks), cmp_shown);
		}
		if (n == 0 && !(g->n_forwards && !filter_active(o)))
			continue;
		if (!direct)
			v.groups[v.n_groups] = (struct view_group){g, n ? socks : NULL, n};
		v.n_groups++;
		v.n_sockets += n;
		if (!seen_netns(ns, v.n_netns, g->netns)) {
			if (v.n_netns == cap_ns) {
				size_t ncap = cap_ns ? 2 * cap_ns : 8;
				uint64_t *nv = realloc(ns, ncap * sizeof(*nv));
				if (!nv) {
					free(ns);
					view_free(&v);
					return -ENOMEM;
				}
				ns = nv;
				cap_ns = ncap;
			}
			ns[v.n_netns++] = g->netns;
		}
		if (!g->netns_current)
			v.other_netns = true;
		for (size_t j = 0; j < n && !v.containers; j++)
			for (size_t k = 0; k < socks[j]->n_holders; k++)
				if (socks[j]->holders[k].proc &&
				    socks[j]->holders[k].proc->container &&
				    holder_matches(o, &socks[j]->holders[k]))
					v.containers = true;
	}
	free(ns);
	/* ports only a forward serves were added last: put them in port order */
	if (!direct && v.n_groups > 1 && !groups_sorted(v.groups, v.n_groups))
		qsort(v.groups, v.n_groups, sizeof(*v.groups), cmp_group);
	*ret = v;
	return 0;
}

void options_listing(struct options *o, uint32_t query_states, struct pw_services *services)
{
	*o = (struct options){.query_states = query_states, .services = services};
}
