/* SPDX-License-Identifier: MIT */
/*
 * The `forwarded` reason: one per forward of a group, naming the rule or
 * proxy and where the traffic lands. Pure over the snapshot. A bound socket
 * that a NAT rule bypasses (dockerd reserving a published port with the
 * userland proxy off) is named in the forwarded reason, not as the port's
 * `single` server.
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

#include "internal.h"

struct buf {
	char *s;
	int err;
};

static void add(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct buf *b, const char *fmt, ...)
{
	if (b->err)
		return;
	char *more = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&more, fmt, ap);
	va_end(ap);
	char *joined = NULL;
	if (n < 0 || asprintf(&joined, "%s%s", b->s ? b->s : "", more) < 0) {
		free(more);
		b->err = -ENOMEM;
		return;
	}
	free(more);
	free(b->s);
	b->s = joined;
}

static void match_text(const struct pw_forward *f, const struct pw_port_group *g, char *out,
		       size_t len)
{
	char a[64] = "";
	if (f->has_match_addr) {
		pw_addr_format(&f->match_addr, false, a, sizeof(a));
		unsigned full = f->match_addr.family == AF_INET ? 32 : 128;
		if (f->match_plen != full) {
			size_t l = strlen(a);
			snprintf(a + l, sizeof(a) - l, "/%u", f->match_plen);
		}
	}
	const char *proto = pw_proto_name(g->proto);
	bool v6 = f->has_match_addr && f->match_addr.family == AF_INET6 && f->match_plen == 128;
	if (f->port_min != f->port_max)
		snprintf(out, len, "%s %s%sports %u-%u", proto, a, *a ? " " : "", f->port_min,
			 f->port_max);
	else if (*a)
		snprintf(out, len, "%s %s%s%s:%u", proto, v6 ? "[" : "", a, v6 ? "]" : "", g->port);
	else
		snprintf(out, len, "%s port %u", proto, g->port);
}

static const struct pw_process *first_holder(const struct pw_forward *f, size_t *n_pids)
{
	const struct pw_process *first = NULL;
	size_t n = 0;
	for (size_t i = 0; i < f->n_target_sockets; i++) {
		const struct pw_socket *s = f->target_sockets[i];
		for (size_t h = 0; h < s->n_holders; h++) {
			const struct pw_process *p = s->holders[h].proc;
			if (!p || p == first)
				continue;
			if (!first)
				first = p;
			n++;
		}
	}
	*n_pids = n;
	return first;
}

static void landing(struct buf *b, const struct pw_forward *f, const struct pw_port_group *g)
{
	if (!f->to_netns) {
		add(b, ", an address no namespace portwho scanned owns (another host?)");
		return;
	}
	if (f->to_netns != g->netns)
		add(b, " in netns %llu", (unsigned long long)f->to_netns);
	size_t n = 0;
	const struct pw_process *p = first_holder(f, &n);
	const char *verb = f->target_proto == IPPROTO_UDP ? "is bound" : "listens";
	if (p && n > 1)
		add(b, ", where %s (PID %d) and %zu more %s", p->comm ? p->comm : "?", (int)p->pid,
		    n - 1, f->target_proto == IPPROTO_UDP ? "are bound" : "listen");
	else if (p)
		add(b, ", where %s (PID %d) %s", p->comm ? p->comm : "?", (int)p->pid, verb);
	else if (f->n_target_sockets)
		add(b, ", where a socket no visible process holds %s", verb);
	else
		add(b, ", where nothing %s yet", verb);
}

static void to_text(const struct pw_forward *f, char *out, size_t len)
{
	if (f->has_to_addr)
		pw_endpoint_format(&f->to_addr, f->to_port, NULL, out, len);
	else
		snprintf(out, len, "local port %u", f->to_port);
}

static bool held_by_pid(const struct pw_socket *s, pid_t pid)
{
	for (size_t h = 0; h < s->n_holders; h++)
		if (pid && s->holders[h].proc && s->holders[h].proc->pid == pid)
			return true;
	return false;
}

/* Does the rule take connections this bound socket would otherwise get? A
 * userland proxy's socket is the proxy's story: Docker keeps the rule off
 * the loopback traffic the proxy serves. */
static bool bypasses(const struct pw_port_group *g, const struct pw_forward *f,
		     const struct pw_socket *s)
{
	if (f->via != PW_FWD_NFTABLES || !pw_socket_is_bound(s))
		return false;
	for (size_t i = 0; i < g->n_forwards; i++)
		if (g->forwards[i].via == PW_FWD_PROXY && held_by_pid(s, g->forwards[i].proxy_pid))
			return false;
	for (size_t i = 0; i < f->n_target_sockets; i++)
		if (f->target_sockets[i] == s)
			return false;
	if (!f->has_match_addr || pw_addr_is_any(&s->laddr))
		return true;
	if (s->family != f->match_addr.family)
		return false;
	for (unsigned i = 0; i < f->match_plen; i++)
		if ((s->laddr.bytes[i / 8] ^ f->match_addr.bytes[i / 8]) >> (7 - i % 8) & 1)
			return false;
	return true;
}

static int cover(struct pw_reason *r, struct pw_socket *s)
{
	for (size_t i = 0; i < r->n_sockets; i++)
		if (r->sockets[i] == s)
			return 0;
	struct pw_socket **v = realloc(r->sockets, (r->n_sockets + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->sockets = v;
	v[r->n_sockets++] = s;
	return 0;
}

static int evidence(struct pw_reason *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int evidence(struct pw_reason *r, const char *fmt, ...)
{
	char **v = realloc(r->evidence, (r->n_evidence + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->evidence = v;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&v[r->n_evidence], fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	r->n_evidence++;
	return 0;
}

static int explain_one(struct pw_port_group *g, const struct pw_forward *f, struct pw_reason *r)
{
	char m[128], to[80];
	match_text(f, g, m, sizeof(m));
	to_text(f, to, sizeof(to));
	struct buf b = {0};
	int e = 0;
	*r = (struct pw_reason){.kind = PW_R_FORWARDED,
				.confidence = f->to_netns_owners > 1 && !f->to_netns_linked &&
						      f->to_netns != g->netns
						  ? PW_CONF_INFERRED
						  : PW_CONF_VERIFIED};
	if (f->via == PW_FWD_PROXY) {
		add(&b, "%s holds %s for a container and relays it to %s", f->rule, m, to);
	} else {
		const char *verb = !strcmp(f->action, "dnat")	    ? "DNATs"
				   : !strcmp(f->action, "redirect") ? "redirects"
								    : "hands (TPROXY)";
		add(&b, "nftables %s %s %s to %s", f->rule, verb, m, to);
	}
	landing(&b, f, g);
	for (size_t i = 0; i < g->n_sockets; i++) {
		struct pw_socket *s = g->sockets[i];
		if (f->via == PW_FWD_PROXY && held_by_pid(s, f->proxy_pid)) {
			e = e ? e : cover(r, s);
			continue;
		}
		if (!bypasses(g, f, s))
			continue;
		char ep[96];
		pw_endpoint_format(&s->laddr, s->lport, s->ifname, ep, sizeof(ep));
		const struct pw_process *p = s->n_holders ? s->holders[0].proc : NULL;
		if (p)
			add(&b,
			    "; %s (PID %d) holds %s, but connections the rule matches never reach "
			    "it",
			    p->comm ? p->comm : "?", (int)p->pid, ep);
		else
			add(&b, "; %s is bound, but connections the rule matches never reach it",
			    ep);
		e = e ? e : cover(r, s);
	}
	if (b.err || e) {
		free(b.s);
		return -ENOMEM;
	}
	r->summary = b.s;
	if (f->via == PW_FWD_PROXY)
		e = evidence(r,
			     "the command line of PID %d names -container-ip and -container-port",
			     (int)f->proxy_pid);
	else
		e = evidence(r, "rule read from the kernel over nf_tables netlink: %s", f->rule);
	if (!e && f->via == PW_FWD_NFTABLES)
		e = evidence(r, "not checked: whether packets reach this chain (its hook, or the "
				"jumps to it)");
	char addr[64] = "";
	if (f->has_to_addr)
		pw_addr_format(&f->to_addr, false, addr, sizeof(addr));
	if (!e && f->to_netns && f->has_to_addr && f->to_netns != g->netns)
		e = evidence(r, "netns %llu owns %s (interface addresses)",
			     (unsigned long long)f->to_netns, addr);
	if (!e && f->to_netns_owners > 1 && f->to_netns_linked)
		e = evidence(r,
			     "%u namespaces own that address; only netns %llu is joined to "
			     "this one by a link (a veth peer: RTM_GETNSID)",
			     f->to_netns_owners, (unsigned long long)f->to_netns);
	else if (!e && f->to_netns_owners > 1 && f->to_netns != g->netns)
		e = evidence(r, "%u namespaces own that address; the one named is a guess",
			     f->to_netns_owners);
	for (size_t i = 0; !e && i < f->n_target_sockets; i++) {
		const struct pw_socket *s = f->target_sockets[i];
		for (size_t h = 0; !e && h < s->n_holders; h++)
			e = evidence(r, "inode %u at port %u is fd %d of PID %d", s->inode,
				     s->lport, s->holders[h].fd,
				     s->holders[h].proc ? (int)s->holders[h].proc->pid : 0);
	}
	return e;
}

/* A `single` reason whose every socket a forward bypasses says too much. */
static void drop_bypassed_singles(struct pw_port_group *g, const struct pw_reason *fwd, size_t nf)
{
	size_t k = 0;
	for (size_t i = 0; i < g->n_reasons; i++) {
		struct pw_reason *r = &g->reasons[i];
		bool all = r->kind == PW_R_SINGLE && r->n_sockets > 0;
		for (size_t j = 0; all && j < r->n_sockets; j++) {
			bool in = false;
			for (size_t x = 0; x < nf && !in; x++)
				for (size_t y = 0; y < fwd[x].n_sockets && !in; y++)
					in = fwd[x].sockets[y] == r->sockets[j];
			all = in;
		}
		if (all)
			pw_reason_clear(r);
		else
			g->reasons[k++] = *r;
	}
	g->n_reasons = k;
}

int pw_explain_forwards(struct pw_snapshot *snap)
{
	for (size_t i = 0; i < snap->n_groups; i++) {
		struct pw_port_group *g = &snap->groups[i];
		if (!g->n_forwards)
			continue;
		struct pw_reason *v =
		    realloc(g->reasons, (g->n_reasons + g->n_forwards) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		g->reasons = v;
		size_t first = g->n_reasons;
		for (size_t j = 0; j < g->n_forwards; j++) {
			int r = explain_one(g, &g->forwards[j], &v[first + j]);
			if (r < 0) {
				pw_reason_clear(&v[first + j]);
				return r;
			}
			g->n_reasons++;
		}
		/* forwarded first: it is the answer to "where does my traffic go" */
		struct pw_reason *tmp = malloc(g->n_reasons * sizeof(*tmp));
		if (!tmp)
			return -ENOMEM;
		memcpy(tmp, v + first, g->n_forwards * sizeof(*tmp));
		memcpy(tmp + g->n_forwards, v, first * sizeof(*tmp));
		memcpy(v, tmp, g->n_reasons * sizeof(*tmp));
		free(tmp);
		drop_bypassed_singles(g, g->reasons, g->n_forwards);
	}
	return 0;
}
