/* SPDX-License-Identifier: MIT */
/* pw_snapshot_take: collect -> correlate -> explain, in that order. */
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

static const struct {
	unsigned bit;
	uint8_t ipproto;
} protos[] = {
	{ PW_PROTO_TCP, IPPROTO_TCP },
	{ PW_PROTO_UDP, IPPROTO_UDP },
	{ PW_PROTO_UDPLITE, IPPROTO_UDPLITE },
};

struct collect_ctx {
	const struct pw_query *q;
	struct pw_snapshot *snap;
	unsigned protos; /* effective PW_PROTO_* mask */
	uint32_t states; /* kernel states mask */
	char bc[4096];
	int bc_len;
	uint16_t sport; /* the one port asked about, or 0 */
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

#ifdef HAVE_PW_BPF_HEADER
static bool same_endpoints(const struct pw_bpf_sockopt *o, const struct pw_socket *s)
{
	size_t alen = s->family == AF_INET ? 4 : 16;
	return o->family == s->family && o->proto == s->proto && o->lport == s->lport &&
	       o->rport == s->rport && !memcmp(o->laddr, s->laddr.bytes, alen) &&
	       !memcmp(o->raddr, s->raddr.bytes, alen);
}

static int cmp_opt_inode(const void *pa, const void *pb)
{
	const struct pw_bpf_sockopt *a = pa, *b = pb;
	if (a->inode != b->inode)
		return a->inode < b->inode ? -1 : 1;
	return (int)a->proto - (int)b->proto;
}

/* Socket flags sock_diag does not carry (SO_REUSEADDR, SO_REUSEPORT) read
 * exactly by BPF socket iterators in the current namespace. Records are
 * sorted by inode so the join is n log n; inode-0 sockets (TIME-WAIT,
 * requests) are matched by endpoints among the inode-0 records only. */
static void apply_bpf_opts(struct pw_sockvec *sv, size_t from)
{
	struct pw_bpf_sockopt *o = NULL;
	size_t n = 0;
	if (from == sv->n || pw_bpf_sockopts_read(&o, &n) < 0)
		return;
	if (n > 1)
		qsort(o, n, sizeof(*o), cmp_opt_inode);
	size_t zeros = 0; /* records with inode 0 sort first */
	while (zeros < n && o[zeros].inode == 0)
		zeros++;
	for (size_t i = from; i < sv->n; i++) {
		struct pw_socket *s = &sv->v[i];
		const struct pw_bpf_sockopt *hit = NULL;
		if (s->inode) {
			struct pw_bpf_sockopt key = { .inode = s->inode, .proto = s->proto };
			hit = n > zeros ? bsearch(&key, o + zeros, n - zeros, sizeof(*o), cmp_opt_inode)
					: NULL;
		} else {
			for (size_t j = 0; j < zeros && !hit; j++)
				if (same_endpoints(&o[j], s))
					hit = &o[j];
		}
		if (!hit)
			continue;
		s->reuseaddr = (int8_t)hit->reuse;
		s->reuseport = hit->reuseport ? 1 : 0;
		if (s->family == AF_INET6)
			s->v6only = hit->v6only ? 1 : 0;
		s->opts_source = PW_OPTS_BPF;
	}
	free(o);
}
#endif

struct bind_key {
	uint8_t proto, family;
	uint16_t port;
	uint32_t ifindex;
	uint8_t addr[16];
};

static int cmp_bind_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct bind_key));
}

/* Do two bound sockets of this namespace share one exact address and port?
 * Only then do SO_REUSEADDR/SO_REUSEPORT change what we explain, so only
 * then is the BPF socket walk (a walk of the whole shared table) worth it. */
static bool shares_a_bind(const struct pw_sockvec *sv, size_t from)
{
	size_t n = 0;
	struct bind_key *k = calloc(sv->n - from + 1, sizeof(*k));
	if (!k)
		return true; /* cannot tell cheaply: read the flags */
	for (size_t i = from; i < sv->n; i++) {
		const struct pw_socket *s = &sv->v[i];
		if (!pw_socket_is_bound(s))
			continue;
		k[n] = (struct bind_key){ s->proto, s->family, s->lport, s->ifindex, { 0 } };
		memcpy(k[n].addr, s->laddr.bytes, 16);
		n++;
	}
	if (n > 1)
		qsort(k, n, sizeof(*k), cmp_bind_key);
	bool dup = false;
	for (size_t i = 1; i < n && !dup; i++)
		dup = !cmp_bind_key(&k[i - 1], &k[i]);
	free(k);
	return dup;
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
	for (size_t p = 0; p < ARRAY_SIZE(protos) && r >= 0; p++) {
		if (!(c->protos & protos[p].bit))
			continue;
		static const uint8_t fams[] = { AF_INET, AF_INET6 };
		bool both = !c->q->families || c->q->families == PW_FAMILY_ALL;
		for (size_t f = 0; f < 2 && r >= 0; f++) {
			uint8_t fam = fams[f];
			if (protos[p].ipproto == IPPROTO_TCP && both) {
				if (f == 1)
					break;
				fam = AF_UNSPEC; /* one walk for both families */
			} else if (!both && !(c->q->families &
						(fam == AF_INET ? PW_FAMILY_INET : PW_FAMILY_INET6))) {
				continue;
			}
			/* No TCP socket in the tables is CLOSE (bound-inactive has its own
			 * bit), and asking for CLOSE makes the kernel walk every
			 * established socket too: ask TCP for what it can have. */
			uint32_t states = c->states;
			if (protos[p].ipproto == IPPROTO_TCP)
				states &= ~PW_STATE_BIT(PW_ST_CLOSE);
			if (!states)
				break;
			bool intr = false;
			r = pw_diag_dump(nl, fam, protos[p].ipproto, states, c->sport, c->bc,
					 c->bc_len > 0 ? (size_t)c->bc_len : 0, netns, &snap->sockets,
					 &intr);
			if (intr)
				snap->stats.dump_interrupted = true;
		}
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
	if (c->root && (c->protos & (PW_PROTO_UDP | PW_PROTO_UDPLITE)))
		pw_kowners_collect(netns, &snap->kowners); /* best effort: names only */
#ifdef HAVE_PW_BPF_HEADER
	if (c->use_bpf_opts && (c->q->want_options || shares_a_bind(&snap->sockets, first))) {
		apply_bpf_opts(&snap->sockets, first);
		snap->stats.options_route = "bpf";
	}
#endif
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

	if (!q->no_holders) {
		r = walk_holders(q, scope == PW_NETNS_ALL, &w, &snap->stats);
		if (r < 0)
			goto fail;
		snap->stats.hidden_processes = w.hidden;
		snap->stats.vanished_processes = w.vanished;
	}

	c.protos = q->protos ? q->protos : PW_PROTO_ALL;
	if (q->n_specs) {
		unsigned want = 0;
		for (size_t i = 0; i < q->n_specs; i++)
			want |= q->specs[i].protos ? q->specs[i].protos : PW_PROTO_ALL;
		c.protos &= want;
	}
	c.states = q->states ? q->states : PW_STATES_ALL;
	c.bc_len = pw_diag_build_bytecode(q->specs, q->n_specs, c.bc, sizeof(c.bc));
	for (size_t i = 0; i < q->n_specs; i++) {
		const struct pw_portspec *sp = &q->specs[i];
		bool one = sp->lo == sp->hi && sp->lo != 0 && (i == 0 || c.sport == sp->lo);
		c.sport = one ? sp->lo : 0;
		if (!one)
			break;
	}
	if (c.bc_len < 0) {
		r = c.bc_len;
		goto fail;
	}
#ifdef HAVE_PW_BPF_HEADER
	c.use_bpf_opts = root && !q->proc_root;
#endif

	uint64_t current = pw_netns_current();
	if (scope == PW_NETNS_PATH) {
		struct stat st;
		if (stat(q->netns_path, &st) < 0) {
			r = -errno;
			goto fail;
		}
		struct pw_nsref ref = { .ino = st.st_ino, .path = (char *)q->netns_path };
		r = collect_ns(&c, procfd, &ref, current);
		if (r < 0)
			goto fail;
	} else {
		struct pw_nsref here = { .ino = current };
		r = collect_ns(&c, procfd, &here, current);
		if (r < 0)
			goto fail;
		if (scope == PW_NETNS_ALL) {
			pw_netns_add_bound("/run/netns", &w);
			for (size_t i = 0; i < w.n_ns; i++) {
				if (w.ns[i].ino == current)
					continue;
				r = collect_ns(&c, procfd, &w.ns[i], current);
				if (r == -ENOMEM)
					goto fail;
				if (r < 0)
					snap->stats.netns_skipped++; /* gone, or not enterable */
			}
		}
	}
	snap->stats.netns_seen = (unsigned)snap->n_netns;

	r = pw_correlate(snap, &w, procfd);
	if (r < 0)
		goto fail;
	snap->netns_current = current;
	if (!q->no_holders && (r = pw_containers_resolve(snap, procfd)) < 0)
		goto fail;
	if ((r = pw_netns_names(snap, &w, procfd, "/run/netns")) < 0)
		goto fail;
	pw_kowners_attribute(snap, &snap->kowners);
	if (!q->no_explain && held_by_systemd(snap))
		pw_sockunits_read(&snap->sockunits); /* no bus: explain says less */
	if (!q->no_explain) {
		r = pw_explain(snap);
		if (r < 0)
			goto fail;
	}
	pw_walk_free(&w);
	*ret = snap;
	return 0;
fail:
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
	for (size_t i = 0; snap->netns_names && i < snap->n_netns; i++)
		free(snap->netns_names[i]);
	free(snap->netns_names);
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
