/* SPDX-License-Identifier: MIT */
/* pw_snapshot_take, as its phases:
 *   holders (the fd walk, which also finds the namespaces) -> sockets (per
 *   namespace: sock_diag, options, kernel owners, sysctls) -> join ->
 *   process facts -> group -> kernel owners and socket units -> explain.
 * Holders come before sockets only because the walk names the namespaces
 * to visit; nothing else in them depends on the sockets. */
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "internal.h"
#if __has_include("bpf/pw-bpf.h")
#include "bpf/pw-bpf.h"
#define HAVE_PW_BPF_HEADER 1
#endif

struct collect_ctx {
	const struct pw_query *q;
	struct pw_snapshot *snap;
	struct pw_diag_request req; /* the same in every namespace */
	bool use_bpf_opts;
	bool root;
};

static bool spec_wants(const struct pw_query *q, const struct pw_socket *s)
{
	if (q->families) {
		unsigned fam = s->family == AF_INET ? PW_FAMILY_INET : PW_FAMILY_INET6;
		if (!(q->families & fam))
			return false;
	}
	if (!q->n_specs)
		return true;
	for (size_t i = 0; i < q->n_specs; i++)
		if (pw_portspec_match(&q->specs[i], s->proto, &s->laddr, s->lport, s->v6only == 1))
			return true;
	return false;
}

/* Everything of one namespace, with the calling thread already inside it. */
static int collect_here(struct collect_ctx *c, uint64_t netns)
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
	for (size_t i = 0; i < rq->n_dumps && r >= 0; i++) {
		const struct pw_diag_dumpspec *d = &rq->dumps[i];
		bool intr = false;
		r = pw_diag_dump(nl, d->family, d->proto, d->states, rq->sport, rq->bc, rq->bc_len,
				 netns, &snap->sockets, &intr);
		if (intr)
			snap->stats.dump_interrupted = true;
	}
	mnl_socket_close(nl);
	if (r < 0)
		return r;

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
	if (c->use_bpf_opts &&
	    pw_sockopts_read(&snap->sockets, first,
			     c->q->want_options ? PW_SOCKOPTS_ALL : PW_SOCKOPTS_IF_SHARED) > 0)
		snap->stats.options_route = "bpf";
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

static int collect_ns(struct collect_ctx *c, int procfd, const struct pw_nsref *ref,
		      uint64_t current)
{
	if (ref->ino == current && !ref->path && !ref->pid)
		return collect_here(c, current);
	int orig;
	int r = pw_netns_enter(procfd, ref, &orig);
	if (r < 0)
		return r;
	r = collect_here(c, ref->ino);
	int l = pw_netns_leave(orig);
	return l < 0 ? l : r;
}

/* The sockets phase: the namespaces of the scope, each entered in turn
 * (with ALL, the ones the holder walk found and those under /run/netns). */
static int collect_sockets(struct collect_ctx *c, int procfd, enum pw_netns_scope scope,
			   struct pw_walk *w)
{
	struct pw_snapshot *snap = c->snap;
	int r;
	uint64_t current = pw_netns_current();
	if (scope == PW_NETNS_PATH) {
		struct stat st;
		if (stat(c->q->netns_path, &st) < 0)
			return -errno;
		struct pw_nsref ref = { .ino = st.st_ino, .path = (char *)c->q->netns_path };
		r = collect_ns(c, procfd, &ref, current);
		if (r < 0)
			return r;
	} else {
		struct pw_nsref here = { .ino = current };
		r = collect_ns(c, procfd, &here, current);
		if (r < 0)
			return r;
		if (scope == PW_NETNS_ALL) {
			pw_netns_add_bound("/run/netns", w);
			for (size_t i = 0; i < w->n_ns; i++) {
				if (w->ns[i].ino == current)
					continue;
				r = collect_ns(c, procfd, &w->ns[i], current);
				if (r == -ENOMEM)
					return r;
				if (r < 0)
					snap->stats.netns_skipped++; /* gone, or not enterable */
			}
		}
	}
	return 0;
}

static bool held_by_systemd(const struct pw_snapshot *snap)
{
	for (size_t i = 0; i < snap->n_procs; i++)
		if (snap->procs[i].is_systemd && snap->procs[i].pid == 1)
			return true;
	return false;
}

static int walk_holders(const struct pw_query *q, bool want_netns, struct pw_walk *w,
			struct pw_stats *st)
{
	struct pw_walk_opts o = {
		.proc_root = q->proc_root,
		.threads = q->threads,
		.want_netns = want_netns,
	};
	int r = -EOPNOTSUPP;
	if (q->collector == PW_COLLECTOR_BPF ||
	    (q->collector == PW_COLLECTOR_AUTO && geteuid() == 0 && !q->proc_root)) {
		r = pw_collector_bpf.walk(&o, w);
		if (r >= 0)
			st->collector = pw_collector_bpf.name;
		else if (q->collector == PW_COLLECTOR_BPF)
			return r;
		else
			pw_walk_free(w);
	}
	if (r < 0) {
		r = pw_collector_procfs.walk(&o, w);
		st->collector = pw_collector_procfs.name;
	}
	return r;
}

int pw_snapshot_take(const struct pw_query *q, struct pw_snapshot **ret)
{
	struct pw_snapshot *snap = calloc(1, sizeof(*snap));
	if (!snap)
		return -ENOMEM;
	struct pw_walk w = { 0 };
	struct pw_joined joined = { 0 };
	struct collect_ctx c = { .q = q, .snap = snap };
	int r;
	_cleanup_close_ int procfd =
		open(q->proc_root ? q->proc_root : "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0) {
		r = -errno;
		goto fail;
	}

	bool root = geteuid() == 0;
	c.root = root && !q->proc_root;
	snap->stats.privileged = root;
	snap->stats.options_route = "inferred";
	enum pw_netns_scope scope = q->netns_scope;
	if (scope == PW_NETNS_ALL && !root)
		scope = PW_NETNS_CURRENT; /* setns needs CAP_SYS_ADMIN */

	/* holders: every fd table (the walk also finds the namespaces) */
	if (!q->no_holders) {
		r = walk_holders(q, scope == PW_NETNS_ALL, &w, &snap->stats);
		if (r < 0)
			goto fail;
		snap->stats.hidden_processes = w.hidden;
		snap->stats.vanished_processes = w.vanished;
	}

	r = pw_diag_request_build(q, &c.req);
	if (r < 0)
		goto fail;
	c.use_bpf_opts = root && !q->proc_root;

	/* sockets, one namespace after the other */
	r = collect_sockets(&c, procfd, scope, &w);
	if (r < 0)
		goto fail;
	snap->stats.netns_seen = (unsigned)snap->n_netns;

	/* join -> process facts -> group */
	r = pw_join(snap, &w, &joined);
	if (r >= 0)
		r = pw_process_facts(snap, &joined, procfd);
	if (r >= 0)
		r = pw_group(snap);
	if (r < 0)
		goto fail;
	/* who owns what no process holds: tunnels, systemd socket units */
	pw_kowners_attribute(snap, &snap->kowners);
	if (!q->no_explain && held_by_systemd(snap))
		pw_sockunits_read(&snap->sockunits); /* no bus: explain says less */
	if (!q->no_explain) {
		r = pw_explain(snap);
		if (r < 0)
			goto fail;
	}
	pw_joined_free(&joined);
	pw_walk_free(&w);
	*ret = snap;
	return 0;
fail:
	pw_joined_free(&joined);
	pw_walk_free(&w);
	pw_snapshot_free(snap);
	return r;
}

void pw_snapshot_free(struct pw_snapshot *snap)
{
	if (!snap)
		return;
	for (size_t i = 0; i < snap->n_groups; i++) {
		struct pw_port_group *g = &snap->groups[i];
		for (size_t j = 0; j < g->n_reasons; j++)
			pw_reason_clear(&g->reasons[j]);
		free(g->reasons);
	}
	if (snap->n_groups)
		free(snap->groups[0].sockets);
	free(snap->groups);
	for (size_t i = 0; i < snap->n_procs; i++)
		pw_process_clear(&snap->procs[i]);
	free(snap->procs);
	free(snap->holders);
	pw_sockvec_free(&snap->sockets);
	free(snap->sysctls);
	free(snap->netns_ids);
	pw_kowners_free(&snap->kowners);
	pw_sockunits_free(&snap->sockunits);
	free(snap);
}

size_t pw_snapshot_n_sockets(const struct pw_snapshot *snap)
{
	return snap->sockets.n;
}

struct pw_socket *pw_snapshot_socket(const struct pw_snapshot *snap, size_t i)
{
	return i < snap->sockets.n ? &snap->sockets.v[i] : NULL;
}

size_t pw_snapshot_n_groups(const struct pw_snapshot *snap)
{
	return snap->n_groups;
}

struct pw_port_group *pw_snapshot_group(const struct pw_snapshot *snap, size_t i)
{
	return i < snap->n_groups ? &snap->groups[i] : NULL;
}

const struct pw_stats *pw_snapshot_stats(const struct pw_snapshot *snap)
{
	return &snap->stats;
}

struct pw_port_group *pw_snapshot_group_of(const struct pw_snapshot *snap,
					   const struct pw_socket *s)
{
	size_t lo = 0, hi = snap->n_groups;
	while (lo < hi) { /* groups are in socket order */
		size_t mid = (lo + hi) / 2;
		const struct pw_port_group *g = &snap->groups[mid];
		if (g->sockets[g->n_sockets - 1] < s)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < snap->n_groups ? &snap->groups[lo] : NULL;
}
