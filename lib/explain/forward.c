/* SPDX-License-Identifier: MIT */
/*
 * Forwarded ports: traffic for a port that a NAT rule (nftables DNAT,
 * REDIRECT, TPROXY) or a container's userland proxy (docker-proxy) sends
 * elsewhere. Finds the forwards that touch the ports asked about, follows
 * each to the namespace that owns its target address and the sockets and
 * holders there, and gives a port with a forward but no socket a group.
 * Costs nothing beyond the rule dump when no forward touches the query.
 */
#include <dirent.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "internal.h"

struct pending {
	uint64_t netns;
	uint8_t proto;
	uint16_t port;
	struct pw_forward f;
	const struct pw_nat_rule *rule; /* NULL for a proxy */
};

struct pendings {
	struct pending *v;
	size_t n, cap;
};

void pw_forward_clear(struct pw_forward *f)
{
	free(f->rule);
	free(f->proxy_command);
	free(f->target_sockets);
	*f = (struct pw_forward){0};
}

static bool prefix_has(const struct pw_addr *net, uint8_t plen, const struct pw_addr *a)
{
	if (net->family != a->family)
		return false;
	for (unsigned i = 0; i < plen; i++)
		if ((net->bytes[i / 8] ^ a->bytes[i / 8]) >> (7 - i % 8) & 1)
			return false;
	return true;
}

static const char *action_of(enum pw_nat_kind k)
{
	return k == PW_NAT_DNAT ? "dnat" : k == PW_NAT_REDIRECT ? "redirect" : "tproxy";
}

static const char *nfproto_name(uint8_t f)
{
	switch (f) {
	case 1:
		return "inet";
	case 2:
		return "ip";
	case 10:
		return "ip6";
	case 3:
		return "arp";
	case 7:
		return "bridge";
	case 5:
		return "netdev";
	}
	return "?";
}

static int add_pending(struct pendings *p, uint64_t netns, uint8_t proto, uint16_t port,
		       const struct pw_nat_rule *rule, const struct pw_forward *f)
{
	if (PW_GROW(p->v, p->cap, p->n + 1) < 0)
		return -ENOMEM;
	p->v[p->n++] = (struct pending){netns, proto, port, *f, rule};
	return 0;
}

static int rule_forward(const struct pw_nat_rule *r, struct pw_forward *ret)
{
	struct pw_forward f = {.via = PW_FWD_NFTABLES, .action = action_of(r->kind)};
	if (asprintf(&f.rule, "table %s %s chain %s handle %llu", nfproto_name(r->family), r->table,
		     r->chain, (unsigned long long)r->handle) < 0)
		return -ENOMEM;
	f.has_match_addr = r->has_daddr;
	f.match_addr = r->daddr;
	f.match_plen = r->daddr_plen;
	f.port_min = r->port_min;
	f.port_max = r->port_max;
	f.has_to_addr = r->has_to_addr;
	f.to_addr = r->to_addr;
	*ret = f;
	return 0;
}

static bool family_wanted(const struct pw_query *q, uint8_t nfproto)
{
	if (!q->families || q->families == PW_FAMILY_ALL)
		return true;
	if (nfproto == 2)
		return q->families & PW_FAMILY_INET;
	if (nfproto == 10)
		return q->families & PW_FAMILY_INET6;
	return true;
}

/* The ports of one rule that the query asks about. */
static int rule_ports(const struct pw_query *q, const struct pw_nat_rule *r, uint8_t proto,
		      struct pendings *out)
{
	unsigned pbit = proto == IPPROTO_TCP ? PW_PROTO_TCP : PW_PROTO_UDP;
	uint16_t lo[64];
	size_t n = 0;
	if (!q->n_specs) {
		if (r->port_min == 0 && r->port_max == 65535)
			return 0; /* every port: not a port's story unless asked */
		lo[n++] = r->port_min ? r->port_min : 1;
	}
	for (size_t i = 0; i < q->n_specs && n < ARRAY_SIZE(lo); i++) {
		const struct pw_portspec *sp = &q->specs[i];
		if (sp->protos && !(sp->protos & pbit))
			continue;
		if (sp->has_addr && r->has_daddr &&
		    !prefix_has(&r->daddr, r->daddr_plen, &sp->addr))
			continue;
		uint16_t a = sp->lo > r->port_min ? sp->lo : r->port_min;
		uint16_t b = sp->hi < r->port_max ? sp->hi : r->port_max;
		if (a <= b && b != 0)
			lo[n++] = a ? a : 1;
	}
	/* one group per range asked about, at its first port: the forward's
	 * match shows the whole range */
	for (size_t i = 0; i < n; i++) {
		struct pw_forward f;
		if (rule_forward(r, &f) < 0)
			return -ENOMEM;
		if (add_pending(out, r->netns, proto, lo[i], r, &f) < 0) {
			pw_forward_clear(&f);
			return -ENOMEM;
		}
	}
	return 0;
}

/* docker-proxy -proto tcp -host-ip 127.0.0.1 -host-port 8088
 *              -container-ip 172.17.0.2 -container-port 80 */
static const char *arg_after(const char *cmdline, const char *flag, char *buf, size_t len)
{
	size_t fl = strlen(flag);
	for (const char *p = cmdline; (p = strstr(p, flag)); p += fl) {
		if ((p != cmdline && p[-1] != ' ') || p[fl] != ' ')
			continue;
		const char *v = p + fl + 1;
		size_t n = strcspn(v, " ");
		if (n == 0 || n >= len)
			return NULL;
		memcpy(buf, v, n);
		buf[n] = 0;
		return buf;
	}
	return NULL;
}

int pw_proxy_parse(const char *cmdline, uint8_t *ret_proto, struct pw_addr *ret_addr,
		   uint16_t *ret_port)
{
	char ip[64], port[16], proto[16];
	if (!cmdline || !arg_after(cmdline, "-container-ip", ip, sizeof(ip)) ||
	    !arg_after(cmdline, "-container-port", port, sizeof(port)))
		return -ENOENT;
	char *end;
	unsigned long p = strtoul(port, &end, 10);
	if (*end || p == 0 || p > 65535 || pw_addr_parse(ip, ret_addr) < 0)
		return -EINVAL;
	*ret_port = (uint16_t)p;
	*ret_proto = IPPROTO_TCP;
	if (arg_after(cmdline, "-proto", proto, sizeof(proto)) && !strcmp(proto, "udp"))
		*ret_proto = IPPROTO_UDP;
	return 0;
}

static bool is_docker_proxy(const struct pw_process *p)
{
	return p && p->comm && !strcmp(p->comm, "docker-proxy") && p->cmdline;
}

static int proxy_forwards(struct pw_snapshot *snap, struct pendings *out)
{
	for (size_t i = 0; i < snap->sockets.n; i++) {
		struct pw_socket *s = &snap->sockets.v[i];
		if (!pw_socket_is_bound(s))
			continue;
		for (size_t h = 0; h < s->n_holders; h++) {
			const struct pw_process *p = s->holders[h].proc;
			if (!is_docker_proxy(p) || (h && s->holders[h - 1].proc == p))
				continue;
			struct pw_forward f = {.via = PW_FWD_PROXY, .action = "proxy"};
			if (pw_proxy_parse(p->cmdline, &f.target_proto, &f.to_addr, &f.to_port) < 0)
				continue;
			f.has_to_addr = true;
			f.proxy_pid = p->pid;
			f.has_match_addr = !pw_addr_is_any(&s->laddr);
			f.match_addr = s->laddr;
			f.match_plen = s->laddr.family == AF_INET ? 32 : 128;
			f.port_min = f.port_max = s->lport;
			f.proxy_command = strdup(p->comm);
			if (!f.proxy_command ||
			    asprintf(&f.rule, "%s (PID %d)", p->comm, (int)p->pid) < 0 ||
			    add_pending(out, s->netns, s->proto, s->lport, NULL, &f) < 0) {
				pw_forward_clear(&f);
				return -ENOMEM;
			}
		}
	}
	return 0;
}

/* ---- following: addresses, then sockets where the traffic lands -------- */

struct nsrefs {
	struct pw_nsref *v;
	size_t n;
};

static const struct pw_nsref *ref_of(const struct pw_forward_ctx *c, const struct nsrefs *refs,
				     uint64_t ino)
{
	for (size_t i = 0; i < refs->n; i++)
		if (refs->v[i].ino == ino)
			return &refs->v[i];
	(void)c;
	return NULL;
}

typedef int (*ns_fn)(uint64_t netns, void *arg);

static int in_ns(const struct pw_forward_ctx *c, const struct pw_nsref *ref, ns_fn fn, void *arg)
{
	if (ref->ino == c->current)
		return fn(ref->ino, arg);
	return pw_netns_run(c->procfd, ref, fn, arg);
}

static int addrs_fn(uint64_t netns, void *arg)
{
	return pw_netaddrs_collect(netns, arg);
}

static bool is_loopback(const struct pw_addr *a)
{
	static const uint8_t v6lo[16] = {[15] = 1};
	return (a->family == AF_INET && a->bytes[0] == 127) ||
	       (a->family == AF_INET6 && !memcmp(a->bytes, v6lo, 16));
}

#define MAX_OWNERS 16

struct linked {
	const int *fds;
	size_t n;
	bool *yes;
};

static int linked_fn(uint64_t netns, void *arg)
{
	(void)netns;
	struct linked *l = arg;
	for (size_t i = 0; i < l->n; i++)
		l->yes[i] = l->fds[i] >= 0 && pw_netns_peer_id(l->fds[i]) >= 0;
	return 0;
}

static int open_ref(const struct pw_forward_ctx *c, const struct pw_nsref *ref)
{
	if (ref->path)
		return open(ref->path, O_RDONLY | O_CLOEXEC);
	char buf[32];
	snprintf(buf, sizeof(buf), "%d/ns/net", ref->pid ? ref->pid : getpid());
	return openat(c->procfd, buf, O_RDONLY | O_CLOEXEC);
}

/* Several namespaces own the target address (every Docker host's first
 * container is 172.17.0.2): the one a link (a veth peer) joins to the
 * rule's namespace is where the traffic goes. */
static uint64_t pick_linked(const struct pw_forward_ctx *c, const struct nsrefs *refs,
			    uint64_t rule_ns, const uint64_t *owners, size_t n)
{
	const struct pw_nsref *here = ref_of(c, refs, rule_ns);
	int fds[MAX_OWNERS];
	bool yes[MAX_OWNERS] = {false};
	for (size_t i = 0; i < n; i++) {
		const struct pw_nsref *ref = ref_of(c, refs, owners[i]);
		fds[i] = ref ? open_ref(c, ref) : -1;
	}
	struct linked l = {fds, n, yes};
	if (here)
		in_ns(c, here, linked_fn, &l);
	uint64_t pick = 0;
	size_t hits = 0;
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		if (yes[i] && !hits++)
			pick = owners[i];
	}
	return hits == 1 ? pick : 0;
}

static void resolve_netns(const struct pw_forward_ctx *c, const struct nsrefs *refs,
			  struct pending *p, const struct pw_netaddrs *addrs)
{
	struct pw_forward *f = &p->f;
	bool here = !f->has_to_addr || is_loopback(&f->to_addr) ||
		    (f->via == PW_FWD_NFTABLES && p->rule->kind != PW_NAT_DNAT);
	if (here) { /* REDIRECT, TPROXY, a loopback target: this namespace */
		f->to_netns = p->netns;
		f->to_netns_owners = 1;
		return;
	}
	uint64_t owners[MAX_OWNERS];
	size_t n = 0;
	unsigned total = 0;
	bool own = false;
	for (size_t i = 0; i < addrs->n; i++) {
		const struct pw_netaddr *a = &addrs->v[i];
		if (a->addr.family != f->to_addr.family ||
		    memcmp(a->addr.bytes, f->to_addr.bytes, 16))
			continue;
		bool dup = false;
		for (size_t j = 0; j < n && !dup; j++)
			dup = owners[j] == a->netns;
		if (dup)
			continue;
		total++;
		own |= a->netns == p->netns;
		if (n < MAX_OWNERS)
			owners[n++] = a->netns;
	}
	f->to_netns_owners = total;
	if (own)
		f->to_netns = p->netns; /* its own address: traffic stays here */
	else if (n == 1)
		f->to_netns = owners[0];
	else if (n > 1 && (f->to_netns = pick_linked(c, refs, p->netns, owners, n)))
		f->to_netns_linked = true;
	else if (n > 1)
		f->to_netns = owners[0]; /* a guess: the reason says so */
}

struct tdump {
	uint8_t proto;
	uint16_t port;
	struct pw_sockvec *out;
};

static int dump_fn(uint64_t netns, void *arg)
{
	struct tdump *t = arg;
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	int r = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ? -errno : 0;
	uint32_t states =
	    t->proto == IPPROTO_TCP ? PW_STATE_BIT(PW_ST_LISTEN) : PW_STATE_BIT(PW_ST_CLOSE);
	static const uint8_t fams[] = {AF_INET, AF_INET6};
	for (size_t i = 0; i < 2 && r >= 0; i++) {
		bool intr = false;
		uint8_t fam = t->proto == IPPROTO_TCP ? AF_UNSPEC : fams[i];
		r = pw_diag_dump(nl, fam, t->proto, states, t->port, NULL, 0, netns, t->out, &intr);
		if (fam == AF_UNSPEC)
			break;
	}
	mnl_socket_close(nl);
	return r;
}

static bool lands_on(const struct pw_forward *f, const struct pending *p, const struct pw_socket *s)
{
	if (s->netns != f->to_netns || s->proto != f->target_proto || s->lport != f->to_port ||
	    !pw_socket_is_bound(s))
		return false;
	if (!f->has_to_addr || (f->via == PW_FWD_NFTABLES && p->rule->kind == PW_NAT_TPROXY))
		return true; /* REDIRECT: the interface's address; any local bind may take it */
	if (pw_addr_is_any(&s->laddr))
		return s->family == f->to_addr.family || s->v6only != 1;
	if (s->family == f->to_addr.family)
		return !memcmp(s->laddr.bytes, f->to_addr.bytes, 16);
	return pw_addr_is_v4mapped(&s->laddr) && !memcmp(s->laddr.bytes + 12, f->to_addr.bytes, 4);
}

static int add_target(struct pw_forward *f, struct pw_socket *s)
{
	for (size_t i = 0; i < f->n_target_sockets; i++)
		if (f->target_sockets[i] == s)
			return 0;
	struct pw_socket **v = realloc(f->target_sockets, (f->n_target_sockets + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	f->target_sockets = v;
	v[f->n_target_sockets++] = s;
	return 0;
}

static bool dumped_before(const struct pendings *ps, size_t upto, const struct pw_forward *f)
{
	for (size_t i = 0; i < upto; i++) {
		const struct pw_forward *g = &ps->v[i].f;
		if (g->to_netns == f->to_netns && g->target_proto == f->target_proto &&
		    g->to_port == f->to_port)
			return true;
	}
	return false;
}

static bool known_inode(const struct pw_sockvec *sv, const struct pw_socket *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (sv->v[i].inode == s->inode && sv->v[i].netns == s->netns &&
		    sv->v[i].proto == s->proto)
			return true;
	return false;
}

/* The holders of the target sockets: the same join and process facts as
 * the listed sockets get, run over a scratch snapshot of the targets. */
static int attach_target_holders(struct pw_snapshot *snap, const struct pw_forward_ctx *c)
{
	struct pw_snapshot t = {.sockets = snap->targets};
	struct pw_joined j = {0};
	int r = pw_join(&t, c->w, &j);
	if (r >= 0)
		r = pw_process_facts(&t, &j, c->procfd, NULL);
	pw_joined_free(&j);
	snap->targets = t.sockets; /* sorted now; no pointer into it is taken yet */
	snap->target_holders = (struct pw_holderset){t.procs, t.n_procs, t.holders, t.n_holders};
	return r;
}

static int follow(struct pw_snapshot *snap, const struct pw_forward_ctx *c, struct pendings *ps,
		  const struct nsrefs *refs)
{
	struct pw_netaddrs addrs = {0};
	bool need_addrs = false;
	for (size_t i = 0; i < ps->n; i++) {
		struct pending *p = &ps->v[i];
		struct pw_forward *f = &p->f;
		if (!f->target_proto)
			f->target_proto = p->proto;
		if (!f->to_port)
			f->to_port =
			    p->rule && p->rule->to_port_min ? p->rule->to_port_min : p->port;
		need_addrs |=
		    f->via == PW_FWD_PROXY ||
		    (p->rule->kind == PW_NAT_DNAT && f->has_to_addr && !is_loopback(&f->to_addr));
	}
	for (size_t i = 0; need_addrs && i < refs->n; i++)
		if (in_ns(c, &refs->v[i], addrs_fn, &addrs) == -ENOMEM)
			goto nomem;
	for (size_t i = 0; i < ps->n; i++)
		resolve_netns(c, refs, &ps->v[i], &addrs);
	free(addrs.v);
	addrs = (struct pw_netaddrs){0};

	struct pw_sockvec found = {0};
	for (size_t i = 0; i < ps->n; i++) {
		const struct pw_forward *f = &ps->v[i].f;
		const struct pw_nsref *ref = f->to_netns ? ref_of(c, refs, f->to_netns) : NULL;
		if (!ref || dumped_before(ps, i, f))
			continue;
		struct tdump t = {f->target_proto, f->to_port, &found};
		if (in_ns(c, ref, dump_fn, &t) == -ENOMEM) {
			pw_sockvec_free(&found);
			goto nomem;
		}
	}
	for (size_t i = 0; i < found.n; i++) { /* sockets already listed are not copied */
		if (known_inode(&snap->sockets, &found.v[i]) ||
		    known_inode(&snap->targets, &found.v[i]))
			continue;
		if (PW_GROW(snap->targets.v, snap->targets.cap, snap->targets.n + 1) < 0) {
			pw_sockvec_free(&found);
			goto nomem;
		}
		snap->targets.v[snap->targets.n++] = found.v[i];
		found.v[i] = (struct pw_socket){0};
	}
	pw_sockvec_free(&found);
	if (snap->targets.n && c->w && attach_target_holders(snap, c) == -ENOMEM)
		return -ENOMEM;

	for (size_t i = 0; i < ps->n; i++) {
		struct pending *p = &ps->v[i];
		struct pw_sockvec *vs[] = {&snap->sockets, &snap->targets};
		for (size_t k = 0; k < 2; k++)
			for (size_t j = 0; j < vs[k]->n; j++)
				if (lands_on(&p->f, p, &vs[k]->v[j]) &&
				    add_target(&p->f, &vs[k]->v[j]) < 0)
					return -ENOMEM;
	}
	return 0;
nomem:
	free(addrs.v);
	return -ENOMEM;
}

/* ---- groups ------------------------------------------------------------ */

static struct pw_port_group *group_for(struct pw_snapshot *snap, const struct pending *p,
				       bool create)
{
	for (size_t i = 0; i < snap->n_groups; i++) {
		struct pw_port_group *g = &snap->groups[i];
		if (g->netns == p->netns && g->proto == p->proto && g->port == p->port)
			return g;
	}
	if (!create)
		return NULL;
	struct pw_port_group *v = realloc(snap->groups, (snap->n_groups + 1) * sizeof(*v));
	if (!v)
		return NULL;
	snap->groups = v;
	struct pw_port_group *g = &v[snap->n_groups++];
	*g = (struct pw_port_group){.netns = p->netns, .proto = p->proto, .port = p->port};
	struct pw_netns_sysctl defaults = {
	    .unprivileged_port_start = 1024, .local_lo = 32768, .local_hi = 60999};
	const struct pw_netns_sysctl *sys = &defaults;
	for (size_t i = 0; i < snap->n_netns; i++)
		if (snap->netns_ids[i] == p->netns)
			sys = &snap->sysctls[i];
	pw_port_classify(sys, p->port, &g->class);
	return g;
}

static int attach(struct pw_snapshot *snap, struct pendings *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		struct pending *p = &ps->v[i];
		struct pw_port_group *g = group_for(snap, p, true);
		if (!g)
			return -ENOMEM;
		struct pw_forward *v = realloc(g->forwards, (g->n_forwards + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		g->forwards = v;
		v[g->n_forwards++] = p->f;
		p->f = (struct pw_forward){0}; /* the group owns it now */
	}
	return 0;
}

/* One process per network namespace, from /proc/PID/ns/net: only when a
 * forward must be followed out of the one namespace -N named. */
static int add_proc_namespaces(int procfd, struct pw_walk *w)
{
	int fd = openat(procfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d)) && r >= 0) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char path[64], link[64];
		snprintf(path, sizeof(path), "%ld/ns/net", pid);
		ssize_t n = readlinkat(procfd, path, link, sizeof(link));
		uint64_t ino;
		if (n <= 0 || pw_parse_ns_link(link, (size_t)n, &ino) < 0)
			continue;
		bool dup = false;
		for (size_t i = 0; i < w->n_ns && !dup; i++)
			dup = w->ns[i].ino == ino;
		if (dup)
			continue;
		if (PW_GROW(w->ns, w->cap_ns, w->n_ns + 1) < 0)
			r = -ENOMEM;
		else
			w->ns[w->n_ns++] = (struct pw_nsref){.ino = ino, .pid = (pid_t)pid};
	}
	closedir(d);
	return r;
}

int pw_forwards_build(struct pw_snapshot *snap, const struct pw_forward_ctx *c)
{
	const struct pw_query *q = c->q;
	struct pendings ps = {0};
	struct nsrefs refs = {0};
	struct pw_walk named = {0};
	int r = 0;
	snap->stats.forward_rules = (unsigned)snap->natrules.n;
	uint32_t bound = PW_STATE_BIT(PW_ST_LISTEN) | PW_STATE_BIT(PW_ST_CLOSE);
	bool states_ok = !q->states || (q->states & bound);
	for (size_t i = 0; i < snap->natrules.n && states_ok; i++) {
		const struct pw_nat_rule *rule = &snap->natrules.v[i];
		if (rule->why) {
			snap->stats.forward_rules_undecoded++;
			continue;
		}
		if (!family_wanted(q, rule->family))
			continue;
		static const uint8_t l4[] = {IPPROTO_TCP, IPPROTO_UDP};
		for (size_t k = 0; k < 2 && r >= 0; k++) {
			unsigned bit = l4[k] == IPPROTO_TCP ? PW_PROTO_TCP : PW_PROTO_UDP;
			if ((rule->proto && rule->proto != l4[k]) ||
			    (q->protos && !(q->protos & bit)))
				continue;
			r = rule_ports(q, rule, l4[k], &ps);
		}
		if (r < 0)
			goto out;
	}
	r = proxy_forwards(snap, &ps);
	if (r < 0 || ps.n == 0)
		goto out;

	/* every namespace we know a way into: this one, the walk's, -N's */
	size_t cap = (c->w ? c->w->n_ns : 0) + 2;
	refs.v = calloc(cap, sizeof(*refs.v));
	if (!refs.v) {
		r = -ENOMEM;
		goto out;
	}
	refs.v[refs.n++] = (struct pw_nsref){.ino = c->current};
	if (q->netns_scope == PW_NETNS_PATH && snap->n_netns)
		refs.v[refs.n++] =
		    (struct pw_nsref){.ino = snap->netns_ids[0], .path = (char *)q->netns_path};
	for (size_t i = 0; c->w && i < c->w->n_ns; i++)
		if (!ref_of(c, &refs, c->w->ns[i].ino))
			refs.v[refs.n++] = c->w->ns[i];
	/* -N one namespace: a forward may still land in a named namespace or
	 * in a container's (refs borrow the paths; named owns them) */
	if (q->netns_scope != PW_NETNS_ALL && geteuid() == 0) {
		if (pw_netns_add_bound("/run/netns", &named) == -ENOMEM ||
		    add_proc_namespaces(c->procfd, &named) == -ENOMEM) {
			r = -ENOMEM;
			goto out;
		}
		struct pw_nsref *v = realloc(refs.v, (refs.n + named.n_ns + 1) * sizeof(*v));
		if (!v) {
			r = -ENOMEM;
			goto out;
		}
		refs.v = v;
		for (size_t i = 0; i < named.n_ns; i++)
			if (!ref_of(c, &refs, named.ns[i].ino))
				refs.v[refs.n++] = named.ns[i];
	}
	r = follow(snap, c, &ps, &refs);
	if (r >= 0)
		r = attach(snap, &ps);
out:
	for (size_t i = 0; i < ps.n; i++)
		pw_forward_clear(&ps.v[i].f);
	free(ps.v);
	free(refs.v);
	pw_walk_free(&named);
	return r;
}
