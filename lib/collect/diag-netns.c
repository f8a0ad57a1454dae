/* SPDX-License-Identifier: MIT */
/*
 * The sockets phase of a snapshot, one network namespace after the other:
 * enter it, dump what the request asks (diag.c), drop what the kernel
 * filter could not express, name interfaces, note kernel owners, read socket
 * options at the level asked, and its port sysctls.
 */
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "internal.h"

static bool spec_wants(const struct pw_query *q, struct pw_socket *s)
{
	if (q->families) {
		unsigned fam = s->family == AF_INET ? PW_FAMILY_INET : PW_FAMILY_INET6;
		if (!(q->families & fam))
			return false;
	}
	if (!q->n_specs)
		return true;
	for (size_t i = 0; i < q->n_specs; i++)
		if (pw_portspec_match(&q->specs[i], s->proto, &s->laddr, s->lport, s->v6only == 1)) {
			s->matched_end = PW_END_LOCAL;
			return true;
		}
	/* a connection made to the port: its remote end is the port asked */
	if (!q->match_remote || !s->rport || pw_socket_is_bound(s))
		return false;
	for (size_t i = 0; i < q->n_specs; i++)
		if (pw_portspec_match(&q->specs[i], s->proto, &s->raddr, s->rport, false)) {
			s->matched_end = PW_END_REMOTE;
			return true;
		}
	return false;
}

/* Everything of one namespace, with the calling thread already inside it. */
static int collect_here(struct pw_collect_ctx *c, uint64_t netns)
{
	struct pw_snapshot *snap = c->snap;
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = -errno;
		mnl_socket_close(nl);
		return e;
	}
	size_t first = snap->sockets.n;
	int r = 0;
	const struct pw_diag_request *rq = &c->req;
	/* every option of listeners only (the default view's --json): read
	 * them beside the dumps rather than after */
	bool prefetch = c->use_bpf_opts && c->q->want_options;
	for (size_t i = 0; i < rq->n_dumps && prefetch; i++)
		prefetch = rq->dumps[i].proto != IPPROTO_TCP ||
			   rq->dumps[i].states == PW_STATE_BIT(PW_ST_LISTEN);
	struct pw_sockopts_prefetch pf;
	if (prefetch)
		pw_sockopts_prefetch_start(&pf);
	for (size_t i = 0; i < rq->n_dumps && r >= 0; i++) {
		const struct pw_diag_dumpspec *d = &rq->dumps[i];
		bool intr = false;
		r = pw_diag_dump(nl, d->family, d->proto, d->states, rq->sport, rq->bc, rq->bc_len,
				 netns, &snap->sockets, &intr);
		if (intr) {
			snap->stats.dump_interrupted = true;
			snap->stats.dumps_interrupted++;
		}
	}
	mnl_socket_close(nl);
	if (r < 0) {
		if (prefetch)
			pw_sockopts_prefetch_cancel(&pf);
		return r;
	}

	/* drop what the kernel filter could not express (addresses, families) */
	size_t k = first;
	for (size_t i = first; i < snap->sockets.n; i++)
		if (spec_wants(c->q, &snap->sockets.v[i]))
			snap->sockets.v[k++] = snap->sockets.v[i];
	snap->sockets.n = k;

	for (size_t i = first; i < snap->sockets.n; i++) {
		struct pw_socket *s = &snap->sockets.v[i];
		char name[IF_NAMESIZE];
		if (s->ifindex && if_indextoname(s->ifindex, name))
			s->ifname = strdup(name);
	}
	if (c->root && (c->req.protos & (PW_PROTO_UDP | PW_PROTO_UDPLITE)))
		pw_kowners_collect(netns, &snap->kowners); /* best effort: names only */
	if (c->root && c->req.protos & (PW_PROTO_TCP | PW_PROTO_UDP) &&
	    pw_nft_collect(netns, &snap->natrules) == -ENOMEM) {
		if (prefetch)
			pw_sockopts_prefetch_cancel(&pf);
		return -ENOMEM; /* other errors: no nf_tables here, or not allowed */
	}
	if (prefetch) {
		if (pw_sockopts_prefetch_apply(&pf, &snap->sockets, first) > 0)
			snap->stats.options_route = "bpf";
	} else if (c->use_bpf_opts &&
		   pw_sockopts_read(&snap->sockets, first,
				    c->q->want_options ? PW_SOCKOPTS_ALL : PW_SOCKOPTS_IF_SHARED) > 0) {
		snap->stats.options_route = "bpf";
	}
	/* netns_ids and sysctls grow together, one entry per namespace */
	uint64_t *ids = realloc(snap->netns_ids, (snap->n_netns + 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	snap->netns_ids = ids;
	struct pw_netns_sysctl *sys = realloc(snap->sysctls, (snap->n_netns + 1) * sizeof(*sys));
	if (!sys)
		return -ENOMEM;
	snap->sysctls = sys;
	pw_netns_sysctl_read(NULL, &sys[snap->n_netns]);
	snap->netns_ids[snap->n_netns] = netns;
	snap->n_netns++;
	return 0;
}

static int collect_fn(uint64_t netns, void *arg)
{
	return collect_here(arg, netns);
}

static int collect_ns(struct pw_collect_ctx *c, int procfd, const struct pw_nsref *ref,
		      uint64_t current)
{
	if (ref->ino == current && !ref->path && !ref->pid)
		return collect_here(c, current);
	return pw_netns_run(procfd, ref, collect_fn, c);
}

/* The sockets phase, first part: the namespace asked (PATH) or the one
 * portwho runs in. It needs nothing of the holder walk, so it can run in a
 * thread beside it (a new thread starts in its creator's namespace). */
int pw_collect_sockets_first(struct pw_collect_ctx *c, int procfd, enum pw_netns_scope scope)
{
	uint64_t current = pw_netns_current();
	if (scope == PW_NETNS_PATH) {
		struct stat st;
		if (stat(c->q->netns_path, &st) < 0)
			return -errno;
		struct pw_nsref ref = {.ino = st.st_ino, .path = (char *)c->q->netns_path};
		return collect_ns(c, procfd, &ref, current);
	}
	struct pw_nsref here = {.ino = current};
	return collect_ns(c, procfd, &here, current);
}

/* The rest, with ALL: the namespaces the holder walk found and those under
 * /run/netns, each entered in turn. */
int pw_collect_sockets_rest(struct pw_collect_ctx *c, int procfd, enum pw_netns_scope scope,
			    struct pw_walk *w)
{
	struct pw_snapshot *snap = c->snap;
	if (scope != PW_NETNS_ALL)
		return 0;
	uint64_t current = pw_netns_current();
	pw_netns_add_bound("/run/netns", w);
	for (size_t i = 0; i < w->n_ns; i++) {
		if (w->ns[i].ino == current)
			continue;
		int r = collect_ns(c, procfd, &w->ns[i], current);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			snap->stats.netns_skipped++; /* gone, or not enterable */
		if (r == -EMFILE || r == -ENFILE)
			snap->stats.netns_skipped_fd_limit++;
	}
	return 0;
}
