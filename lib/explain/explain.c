/* SPDX-License-Identifier: MIT */
/*
 * Reasons: why a port shows up more than once. Pure over the snapshot: it
 * reads sockets, holders and process facts gathered earlier and never goes
 * back to /proc or netlink.
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

#include "internal.h"
#include "reasons.h"

static char *vfmt(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

static struct pw_reason *add_reason(struct rlist *l, enum pw_reason_kind kind,
				    enum pw_confidence conf, const char *fmt, ...)
{
	if (l->err)
		return NULL;
	if (l->n == l->cap) {
		/* most ports have one reason: grow from 1, not PW_GROW's 16, or
		 * 20,000 listening ports keep 15 MB of empty reasons */
		size_t ncap = l->cap ? 2 * l->cap : 1;
		struct pw_reason *nv = realloc(l->v, ncap * sizeof(*nv));
		if (!nv) {
			l->err = -ENOMEM;
			return NULL;
		}
		l->v = nv;
		l->cap = ncap;
	}
	struct pw_reason *r = &l->v[l->n];
	*r = (struct pw_reason){ .kind = kind, .confidence = conf };
	if (l->no_text) {
		l->n++;
		return r;
	}
	va_list ap;
	va_start(ap, fmt);
	r->summary = vfmt(fmt, ap);
	va_end(ap);
	if (!r->summary) {
		l->err = -ENOMEM;
		return NULL;
	}
	l->n++;
	return r;
}

static void evidence(struct rlist *l, struct pw_reason *r, const char *fmt, ...)
{
	if (!r || l->err || l->no_text)
		return;
	size_t n = r->n_evidence;
	if (n == 0 || (n & (n - 1)) == 0) {
		char **nv = realloc(r->evidence, (n ? 2 * n : 1) * sizeof(*nv));
		if (!nv) {
			l->err = -ENOMEM;
			return;
		}
		r->evidence = nv;
	}
	va_list ap;
	va_start(ap, fmt);
	char *s = vfmt(fmt, ap);
	va_end(ap);
	if (!s) {
		l->err = -ENOMEM;
		return;
	}
	r->evidence[r->n_evidence++] = s;
}

/* Each socket is covered once per reason by construction; the array grows
 * in powers of two so a port with many connections stays linear. */
static void cover(struct rlist *l, struct pw_reason *r, struct pw_socket *s)
{
	if (!r || l->err)
		return;
	size_t n = r->n_sockets;
	if (n == 0 || (n & (n - 1)) == 0) {
		struct pw_socket **nv = realloc(r->sockets, (n ? 2 * n : 1) * sizeof(*nv));
		if (!nv) {
			l->err = -ENOMEM;
			return;
		}
		r->sockets = nv;
	}
	r->sockets[r->n_sockets++] = s;
}

void pw_reason_clear_text(struct pw_reason *r)
{
	free(r->summary);
	for (size_t i = 0; i < r->n_evidence; i++)
		free(r->evidence[i]);
	free(r->evidence);
	r->summary = NULL;
	r->evidence = NULL;
	r->n_evidence = 0;
}

void pw_reason_clear(struct pw_reason *r)
{
	pw_reason_clear_text(r);
	if (!r->sockets_shared)
		free(r->sockets);
	*r = (struct pw_reason){ 0 };
}

/* A reason that covers a run of the group's sockets points into the
 * group's array instead of keeping a copy: on -a that is 30,000 small
 * arrays (8 bytes used, 32 allocated) fewer. The run is found from the
 * first socket's place in the snapshot's vector, which the group's array
 * follows (pw_group), and checked pointer by pointer. */
static void share_sockets(const struct pw_port_group *g, struct pw_reason *r)
{
	if (!r->n_sockets || r->sockets_shared || !g->n_sockets)
		return;
	uintptr_t off = (uintptr_t)r->sockets[0] - (uintptr_t)g->sockets[0];
	size_t k = off / sizeof(struct pw_socket);
	if (off % sizeof(struct pw_socket) || k >= g->n_sockets || r->n_sockets > g->n_sockets - k)
		return;
	for (size_t j = 0; j < r->n_sockets; j++)
		if (r->sockets[j] != g->sockets[k + j])
			return;
	free(r->sockets);
	r->sockets = &g->sockets[k];
	r->sockets_shared = true;
}

/* The same builders for the other files of lib/explain/ (reasons.h). */
struct pw_reason *pw_rl_add(struct rlist *l, enum pw_reason_kind kind, enum pw_confidence conf,
			    const char *fmt, ...)
{
	if (l->no_text)
		return add_reason(l, kind, conf, "%s", "");
	va_list ap;
	va_start(ap, fmt);
	char *text = vfmt(fmt, ap);
	va_end(ap);
	struct pw_reason *r = text ? add_reason(l, kind, conf, "%s", text) : NULL;
	if (!text)
		l->err = -ENOMEM;
	free(text);
	return r;
}

void pw_rl_evidence(struct rlist *l, struct pw_reason *r, const char *fmt, ...)
{
	if (l->no_text)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *text = vfmt(fmt, ap);
	va_end(ap);
	if (!text)
		l->err = -ENOMEM;
	else
		evidence(l, r, "%s", text);
	free(text);
}

void pw_rl_cover(struct rlist *l, struct pw_reason *r, struct pw_socket *s)
{
	cover(l, r, s);
}

const char *pw_rl_comm(const struct pw_process *p)
{
	return p && p->comm ? p->comm : "?";
}

/* ---- small facts ------------------------------------------------------ */

static const char *comm_of(const struct pw_process *p)
{
	return p && p->comm ? p->comm : "?";
}

static void endpoint(const struct pw_socket *s, char *buf, size_t len)
{
	pw_endpoint_format(&s->laddr, s->lport, s->ifname, buf, len);
}

static const struct pw_process *holder_proc(const struct pw_socket *s, size_t i)
{
	return s->holders[i].proc;
}

static size_t distinct_pids(const struct pw_socket *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_holders; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = holder_proc(s, j) == holder_proc(s, i);
		n += !seen;
	}
	return n;
}

static bool is_socket_activate_tool(const struct pw_process *p)
{
	/* comm is cut to 15 bytes: "systemd-socket-" */
	return p && p->comm && !strncmp(p->comm, "systemd-socket-", 15);
}

/* The service side of socket activation: LISTEN_PID names itself and the
 * fd lies in 3 .. 3+LISTEN_FDS-1. */
static bool got_fd_from_activation(const struct pw_process *p, int fd)
{
	return p && pw_listen_pid_is_self(p) && p->listen_fds > 0 && fd >= 3 &&
	       fd < 3 + p->listen_fds;
}

/* ---- one socket's holders --------------------------------------------- */

static void explain_activation(struct rlist *l, struct pw_socket *s, const struct pw_process *mgr,
			       const struct pw_holder *svc, const struct pw_sockunit *su)
{
	char ep[96];
	endpoint(s, ep, sizeof(ep));
	const struct pw_process *sp = svc ? svc->proc : NULL;
	_cleanup_free_ char *fdname = sp ? pw_listen_fdname_unit(sp, svc->fd) : NULL;
	_cleanup_free_ char *guess = NULL;
	const char *sock_unit = NULL;
	if (su)
		sock_unit = su->unit; /* systemd said so over D-Bus */
	else if (fdname)
		sock_unit = fdname;
	else if (sp && sp->unit && (guess = pw_socket_unit_guess(sp->unit)))
		sock_unit = guess;
	const char *user = (mgr && !pw_process_is_init(mgr)) || (sp && sp->user_unit) ? "--user " : "";
	struct pw_reason *r;
	/* a container's systemd: its units are not this host's to stop */
	char in[80] = "";
	if (mgr && mgr->pid != 1 && mgr->nspid == 1)
		snprintf(in, sizeof(in), "inside the container whose init is PID %d, ",
			 (int)mgr->pid);

	if (mgr && sp) {
		r = add_reason(l, PW_R_SOCKET_ACTIVATION, PW_CONF_VERIFIED,
			       "systemd (PID %d) holds %s for %s and handed it to %s (PID %d%s%s); "
			       "this is normal: to free the port run %ssystemctl %sstop %s%s%s",
			       (int)mgr->pid, ep, sock_unit ? sock_unit : "a socket unit",
			       comm_of(sp), (int)sp->pid, sp->unit ? ", " : "",
			       sp->unit ? sp->unit : "", in, user, sock_unit ? sock_unit : "",
			       sock_unit && sp->unit ? " " : "", sp->unit ? sp->unit : "");
		evidence(l, r, "PID %d has LISTEN_PID=%d LISTEN_FDS=%d%s%s; the socket is its fd %d",
			 (int)sp->pid, (int)sp->listen_pid, sp->listen_fds,
			 sp->listen_fdnames ? " LISTEN_FDNAMES=" : "",
			 sp->listen_fdnames ? sp->listen_fdnames : "", svc->fd);
	} else if (sp) {
		r = add_reason(l, PW_R_SOCKET_ACTIVATION, PW_CONF_VERIFIED,
			       "%s (PID %d) received %s by socket activation (fd %d)%s%s; the "
			       "activator has handed it over and exec'd or exited",
			       comm_of(sp), (int)sp->pid, ep, svc->fd, sp->unit ? " in " : "",
			       sp->unit ? sp->unit : "");
		evidence(l, r, "PID %d has LISTEN_PID=%d LISTEN_FDS=%d", (int)sp->pid,
			 (int)sp->listen_pid, sp->listen_fds);
	} else if (su) {
		r = add_reason(l, PW_R_SOCKET_ACTIVATION, PW_CONF_VERIFIED,
			       "systemd (PID %d) listens on %s for %s; %s starts on the first "
			       "connection; this is normal: to free the port run systemctl %sstop %s",
			       mgr ? (int)mgr->pid : 0, ep, su->unit,
			       su->service ? su->service : "the service", user, su->unit);
		evidence(l, r, "systemd reports %s listening on port %u (D-Bus Socket.Listen)",
			 su->unit, s->lport);
	} else {
		r = add_reason(l, PW_R_SOCKET_ACTIVATION, PW_CONF_INFERRED,
			       "%s (PID %d) listens on %s on behalf of %s; the service starts on the "
			       "first connection: to free the port stop %s",
			       is_socket_activate_tool(mgr) ? "systemd-socket-activate" : "systemd",
			       mgr ? (int)mgr->pid : 0, ep,
			       is_socket_activate_tool(mgr) ? "the command it will run" : "a socket unit",
			       is_socket_activate_tool(mgr) ? "that process"
							    : "the socket unit (systemctl list-sockets shows which)");
	}
	if (mgr)
		evidence(l, r, "PID %d (%s) is %s", (int)mgr->pid, comm_of(mgr),
			 is_socket_activate_tool(mgr) ? "systemd-socket-activate"
						      : "a systemd manager");
	cover(l, r, s);
}

/* Sockets no visible process holds, while some processes went unread: one
 * reason for the whole group (*hidden is its index, or -1 before the first). */
static void hidden_socket(struct rlist *l, ssize_t *hidden, struct pw_socket *s,
			  const struct pw_stats *st)
{
	char ep[96];
	endpoint(s, ep, sizeof(ep));
	if (*hidden < 0) {
		struct pw_reason *r = add_reason(
			l, PW_R_HIDDEN, PW_CONF_INFERRED,
			st->fd_limit_processes
				? "%s may belong to a process this run could not inspect "
				  "(uid %u created the socket): portwho ran out of file "
				  "descriptors; raise the open-file limit (ulimit -n)"
			: !st->privileged ? "%s belongs to a process this run could not inspect "
					    "(uid %u created the socket); run as root to see who "
					    "holds it"
			: st->hidden_unvisited
				? "%s belongs to a process portwho could not read (uid %u "
				  "created the socket): the kernel's task iterator never "
				  "visited it and /proc refuses its fd table even to root"
				: "%s belongs to a process whose fd table (or io_uring "
				  "file table) is protected even from root (uid %u created "
				  "the socket)",
			ep, s->uid);
		evidence(l, r, "%u process%s could not be inspected%s", st->hidden_processes,
			 st->hidden_processes == 1 ? "" : "es",
			 st->hidden_pid == 1 ? ", among them PID 1" : "");
		if (st->hidden_unvisited)
			evidence(l, r,
				 "%u process%s listed in /proc %s not visited by the BPF "
				 "task iterator",
				 st->hidden_unvisited, st->hidden_unvisited == 1 ? "" : "es",
				 st->hidden_unvisited == 1 ? "was" : "were");
		evidence(l, r, "inode %u (%s, uid %u) has no visible holder", s->inode, ep, s->uid);
		cover(l, r, s);
		if (r)
			*hidden = r - l->v;
		return;
	}
	struct pw_reason *r = &l->v[*hidden];
	if (l->no_text) {
		cover(l, r, s);
		return;
	}
	char *sum = NULL;
	if (asprintf(&sum,
		     st->fd_limit_processes
			     ? "%zu sockets on port %u may belong to processes portwho could not "
			       "inspect: it ran out of file descriptors (ulimit -n)"
		     : st->privileged
			     ? "%zu sockets on port %u belong to processes whose fd tables portwho "
			       "could not read, even as root"
			     : "%zu sockets on port %u belong to processes this run could not "
			       "inspect; run as root to see who holds them",
		     (size_t)r->n_sockets + 1, s->lport) < 0) {
		l->err = -ENOMEM;
		return;
	}
	free(r->summary);
	r->summary = sum;
	evidence(l, r, "inode %u (%s, uid %u) has no visible holder", s->inode, ep, s->uid);
	cover(l, r, s);
}

static void explain_holders(struct rlist *l, struct pw_socket *s, const struct pw_snapshot *snap,
			    ssize_t *hidden)
{
	const struct pw_stats *st = &snap->stats;
	char ep[96];
	endpoint(s, ep, sizeof(ep));
	struct pw_reason *r;

	if (s->n_holders == 0) {
		if (s->kernel_owner || (st->privileged && st->hidden_processes == 0)) {
			r = add_reason(l, PW_R_KERNEL,
				       s->kernel_owner ? PW_CONF_VERIFIED : PW_CONF_INFERRED,
				       s->kernel_owner
					       ? "%s is held by the kernel for %s, not by a process; "
						 "remove that device or service to free the port"
					       : "%s is held by the kernel%s: no process has it in its fd "
						 "table; look for tunnels (vxlan, geneve, wireguard), fou or "
						 "nfs/sunrpc, or a process that keeps it registered with "
						 "io_uring or has it in flight over a unix socket",
				       ep, s->kernel_owner ? s->kernel_owner : " (owner unknown)");
			evidence(l, r, "inode %u has no file descriptor in any process", s->inode);
		} else {
			hidden_socket(l, hidden, s, st);
			return;
		}
		cover(l, r, s);
		return;
	}

	/* socket activation: systemd (or systemd-socket-activate) + service */
	const struct pw_process *mgr = NULL;
	const struct pw_holder *svc = NULL;
	for (size_t i = 0; i < s->n_holders; i++) {
		const struct pw_process *p = holder_proc(s, i);
		if (p && (p->is_systemd || is_socket_activate_tool(p)))
			mgr = mgr ? mgr : p;
		else if (p && got_fd_from_activation(p, s->holders[i].fd))
			svc = svc ? svc : &s->holders[i];
	}
	if (mgr || svc) {
		const struct pw_sockunit *su =
			mgr && mgr->is_systemd ? pw_sockunits_find(&snap->sockunits, s) : NULL;
		explain_activation(l, s, mgr, svc, su);
		if (distinct_pids(s) <= (size_t)(!!mgr + !!svc))
			return;
	}

	size_t np = distinct_pids(s);
	const struct pw_process *p0 = holder_proc(s, 0);
	if (np == 1) {
		if (mgr || svc)
			return;
		r = add_reason(l, PW_R_SINGLE, PW_CONF_VERIFIED, "%s (PID %d%s%s) holds %s%s",
			       comm_of(p0), p0 ? (int)p0->pid : 0, p0 && p0->unit ? ", " : "",
			       p0 && p0->unit ? p0->unit : "", ep,
			       s->n_holders > 1 ? " on several fds"
			       : s->holders[0].via == PW_VIA_IO_URING
				       ? " as a fixed file registered with its io_uring (no fd)"
				       : "");
		if (s->holders[0].via == PW_VIA_IO_URING)
			evidence(l, r,
				 "inode %u is a fixed file registered with an io_uring of PID %d "
				 "(no fd: ss and lsof cannot see it)",
				 s->inode, p0 ? (int)p0->pid : 0);
		else
			evidence(l, r, "inode %u is fd %d of PID %d", s->inode, s->holders[0].fd,
				 p0 ? (int)p0->pid : 0);
		if (s->holders[0].tid != (p0 ? p0->pid : 0))
			evidence(l, r, "found in the private fd table of thread %d",
				 (int)s->holders[0].tid);
		cover(l, r, s);
		return;
	}

	pw_explain_family(l, s);
}

/* ---- several sockets on one port --------------------------------------- */

static bool same_bind(const struct pw_socket *a, const struct pw_socket *b)
{
	size_t alen = a->family == AF_INET ? 4 : 16;
	return a->family == b->family && a->ifindex == b->ifindex &&
	       !memcmp(a->laddr.bytes, b->laddr.bytes, alen);
}

static void explain_duplicates(struct rlist *l, struct pw_socket **v, size_t n)
{
	char ep[96];
	endpoint(v[0], ep, sizeof(ep));
	bool known = true, all_rp = true, uid_same = true, all_listen = true;
	for (size_t i = 0; i < n; i++) {
		/* flags inferred below on an earlier telling are still unread:
		 * the group is told again, the same way (reason-text.c) */
		known &= v[i]->reuseport >= 0 && v[i]->reuseaddr >= 0 &&
			 v[i]->opts_source != PW_OPTS_INFERRED;
		all_rp &= v[i]->reuseport == 1;
		uid_same &= v[i]->uid == v[0]->uid;
		all_listen &= v[i]->state == PW_ST_LISTEN;
	}
	bool tcp = v[0]->proto == IPPROTO_TCP;
	bool reuseport;
	enum pw_confidence conf = known ? PW_CONF_VERIFIED : PW_CONF_INFERRED;
	if (known)
		reuseport = all_rp && uid_same;
	else if (tcp)
		reuseport = all_listen; /* two TCP listeners need SO_REUSEPORT */
	else
		reuseport = uid_same; /* SO_REUSEPORT needs one uid; REUSEADDR does not */

	/* UDP, one owner, flags unread: a SO_REUSEPORT group (normal) and
	 * SO_REUSEADDR duplicates (a warning) look the same; never call that
	 * normal: take the warning's kind and name both readings */
	bool both = !known && !tcp && uid_same;
	struct pw_reason *r;
	if (both) {
		r = add_reason(l, PW_R_REUSEADDR_DUPLICATE, PW_CONF_INFERRED,
			       "%zu UDP sockets share %s and their SO_REUSEADDR/SO_REUSEPORT flags "
			       "could not be read: either SO_REUSEADDR duplicates (warning: unicast "
			       "datagrams reach only the socket bound last) or a SO_REUSEPORT group "
			       "(the kernel spreads datagrams across them); run as root to tell",
			       n, ep);
	} else if (reuseport) {
		r = add_reason(l, PW_R_REUSEPORT, conf,
			       "%zu sockets share %s with SO_REUSEPORT: the kernel spreads %s across "
			       "them; this is a load-balanced group, normal for multi-process servers",
			       n, ep, tcp ? "new connections" : "datagrams");
	} else {
		r = add_reason(l, PW_R_REUSEADDR_DUPLICATE, conf,
			       tcp ? "%zu TCP sockets are bound to %s with SO_REUSEADDR but without "
				     "SO_REUSEPORT: only the first to call listen() can listen"
				   : "%zu UDP sockets are bound to %s with SO_REUSEADDR but not "
				     "SO_REUSEPORT: warning, unicast datagrams reach only the socket "
				     "bound last; multicast and broadcast reach all",
			       n, ep);
	}
	for (size_t i = 0; i < n; i++) {
		struct pw_socket *s = v[i];
		const struct pw_process *p = s->n_holders ? s->holders[0].proc : NULL;
		if (known)
			evidence(l, r, "inode %u (uid %u%s%s): SO_REUSEADDR=%d SO_REUSEPORT=%d", s->inode,
				 s->uid, p ? ", " : "", p ? comm_of(p) : "", s->reuseaddr,
				 s->reuseport);
		else
			evidence(l, r, "inode %u (uid %u%s%s, %s)", s->inode, s->uid, p ? ", " : "",
				 p ? comm_of(p) : "", pw_state_name(s->proto, s->state));
		if (!known && !both && s->opts_source == PW_OPTS_UNKNOWN) {
			/* record what the table implies, and say it was inferred */
			if (reuseport)
				s->reuseport = 1;
			else if (!tcp)
				s->reuseaddr = 1;
			s->opts_source = PW_OPTS_INFERRED;
		}
		cover(l, r, s);
	}
	if (!known)
		evidence(l, r,
			 tcp ? "several listeners on one address imply SO_REUSEPORT (flags not read)"
			     : (uid_same ? "one owner uid: SO_REUSEPORT or SO_REUSEADDR (flags not "
					   "read; run as root for BPF)"
					 : "owner uids differ, so not SO_REUSEPORT (flags not read)"));
}

static bool more_specific(const struct pw_socket *a)
{
	return !pw_addr_is_any(&a->laddr) || a->ifindex;
}

static void explain_split(struct rlist *l, struct pw_socket **ends, size_t n)
{
	bool v4 = false, v6only = false, v6dual = false, addrs = false, devs = false;
	for (size_t i = 0; i < n; i++) {
		if (ends[i]->family == AF_INET)
			v4 = true;
		else if (ends[i]->v6only == 1)
			v6only = true;
		else
			v6dual = true;
		for (size_t j = 0; j < i; j++) {
			if (ends[i]->family != ends[j]->family)
				continue;
			if (ends[i]->ifindex != ends[j]->ifindex)
				devs = true;
			else if (!same_bind(ends[i], ends[j]))
				addrs = true;
		}
	}
	char ep[96];
	if (v4 && (v6only || v6dual)) {
		struct pw_reason *r = add_reason(
			l, PW_R_FAMILY_SPLIT, PW_CONF_VERIFIED,
			v6only ? "IPv4 and IPv6 are served by separate sockets on port %u: the IPv6 "
				 "socket is IPv6-only, IPv4 traffic goes to the IPv4 socket"
			       : "an IPv4 socket and a dual-stack IPv6 socket share port %u: IPv4 "
				 "traffic prefers the IPv4 socket",
			ends[0]->lport);
		for (size_t i = 0; i < n; i++) {
			endpoint(ends[i], ep, sizeof(ep));
			evidence(l, r, "%s %s (inode %u)%s", ends[i]->family == AF_INET ? "IPv4" : "IPv6",
				 ep, ends[i]->inode,
				 ends[i]->family == AF_INET6
					 ? (ends[i]->v6only == 1 ? " v6only" : " dual-stack")
					 : "");
			cover(l, r, ends[i]);
		}
	}
	if (addrs || devs) {
		struct pw_reason *r =
			add_reason(l, PW_R_ADDRESS_SPLIT, PW_CONF_VERIFIED,
				   "sockets on port %u are bound to different %s: each receives "
				   "traffic for its own address, a specific address%s wins over the "
				   "wildcard",
				   ends[0]->lport, devs ? "devices or addresses" : "addresses",
				   devs ? " or device" : "");
		for (size_t i = 0; i < n; i++) {
			endpoint(ends[i], ep, sizeof(ep));
			evidence(l, r, "%s (inode %u)%s", ep, ends[i]->inode,
				 more_specific(ends[i]) ? " receives traffic to its own address"
							: " receives the rest");
			cover(l, r, ends[i]);
		}
	}
}

static void explain_connections(struct rlist *l, struct pw_port_group *g,
				struct pw_socket **conns, size_t n)
{
	size_t est = 0, tw = 0, nohold = 0, clients = 0;
	for (size_t i = 0; i < n; i++) {
		est += conns[i]->state == PW_ST_ESTABLISHED;
		tw += conns[i]->state == PW_ST_TIME_WAIT;
		nohold += conns[i]->inode == 0;
		clients += conns[i]->matched_end == PW_END_REMOTE;
	}
	char cl[160] = "";
	if (clients)
		snprintf(cl, sizeof(cl), "; %zu %s this host's client end%s of %s made to port %u",
			 clients, clients == 1 ? "is" : "are", clients == 1 ? "" : "s",
			 clients == 1 ? "a connection" : "connections", g->port);
	struct pw_reason *r = add_reason(
		l, PW_R_CONNECTIONS, PW_CONF_VERIFIED,
		"%zu connection%s on port %u (%zu established, %zu TIME-WAIT)%s%s", n, n == 1 ? "" : "s",
		g->port, est, tw, cl,
		/* said only where there are such sockets (-a lists 30,000 groups) */
		nohold ? "; sockets with inode 0 (TIME-WAIT, not yet accepted) belong to the port's "
			 "listener, not to a process"
		       : "");
	size_t shown = 0;
	for (size_t i = 0; i < n; i++) {
		const struct pw_socket *c = conns[i];
		if (c->matched_end != PW_END_REMOTE || shown++ >= 8)
			continue;
		char ep[96];
		endpoint(c, ep, sizeof(ep));
		const struct pw_process *p = c->n_holders ? c->holders[0].proc : NULL;
		if (p)
			evidence(l, r, "inode %u (local %s) is a client end: its remote port is %u; held "
				       "by %s (PID %d)",
				 c->inode, ep, c->rport, comm_of(p), (int)p->pid);
		else
			evidence(l, r, "inode %u (local %s) is a client end: its remote port is %u",
				 c->inode, ep, c->rport);
	}
	if (shown > 8)
		evidence(l, r, "and %zu more client ends", shown - 8);
	if (nohold)
		evidence(l, r, "%zu sockets have inode 0: the kernel keeps them after close or "
			       "before accept",
			 nohold);
	for (size_t i = 0; i < n; i++)
		cover(l, r, conns[i]);
}

static int scratch_fit(struct pw_explain_scratch *w, size_t n)
{
	if (n <= w->cap)
		return 0;
	size_t ncap = w->cap ? w->cap : 16;
	while (ncap < n)
		ncap *= 2;
	struct pw_socket **e = realloc(w->ends, ncap * sizeof(*e));
	if (e)
		w->ends = e;
	struct pw_socket **c = realloc(w->conns, ncap * sizeof(*c));
	if (c)
		w->conns = c;
	struct pw_socket **s = realloc(w->same, ncap * sizeof(*s));
	if (s)
		w->same = s;
	bool *d = realloc(w->dup_done, ncap * sizeof(*d));
	if (d)
		w->dup_done = d;
	if (!e || !c || !s || !d)
		return -ENOMEM;
	w->cap = ncap;
	return 0;
}

void pw_explain_scratch_free(struct pw_explain_scratch *w)
{
	free(w->ends);
	free(w->conns);
	free(w->same);
	free(w->dup_done);
}

/* The reasons of one group into l (emptied first). */
int pw_explain_group(struct pw_port_group *g, const struct pw_snapshot *snap, struct rlist *l,
		     struct pw_explain_scratch *w)
{
	l->n = 0;
	l->err = 0;
	if (g->n_sockets == 0)
		return 0; /* a port only a forward serves: forward-explain's */
	if (scratch_fit(w, g->n_sockets) < 0)
		return -ENOMEM;
	struct pw_socket **ends = w->ends, **conns = w->conns, **same = w->same;
	bool *dup_done = w->dup_done;
	memset(dup_done, 0, g->n_sockets * sizeof(*dup_done));
	size_t ne = 0, nc = 0;
	for (size_t i = 0; i < g->n_sockets; i++) {
		if (pw_socket_is_bound(g->sockets[i]))
			ends[ne++] = g->sockets[i];
		else
			conns[nc++] = g->sockets[i];
	}

	ssize_t hidden = -1;
	for (size_t i = 0; i < ne; i++)
		explain_holders(l, ends[i], snap, &hidden);

	for (size_t i = 0; i < ne; i++) {
		if (dup_done[i])
			continue;
		size_t ns = 0;
		for (size_t j = i; j < ne; j++)
			if (!dup_done[j] && same_bind(ends[i], ends[j])) {
				same[ns++] = ends[j];
				dup_done[j] = true;
			}
		if (ns > 1)
			explain_duplicates(l, same, ns);
	}
	if (ne > 1)
		explain_split(l, ends, ne);
	if (nc)
		explain_connections(l, g, conns, nc);

	if (l->err) {
		for (size_t i = 0; i < l->n; i++)
			pw_reason_clear(&l->v[i]);
		return l->err;
	}
	for (size_t i = 0; i < l->n; i++)
		share_sockets(g, &l->v[i]);
	return 0;
}

static void pool_clear(struct pw_reason *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pw_reason_clear(&v[i]);
	free(v);
}

/* Every group's reasons are built in one reused list, then copied: into
 * the snapshot's pool (one array for all groups: on -a, 30,000 groups of
 * one reason each would otherwise be 30,000 small arrays), or into an
 * exact array of the group's own when forwards will add to it. The groups
 * learn where theirs are once the pool has stopped moving. */
int pw_explain(struct pw_snapshot *snap)
{
	bool no_text = snap->facts_flags & PW_FACTS_NO_REASON_TEXT;
	struct rlist l = {0};
	struct pw_explain_scratch w = {0};
	struct pw_reason *pool = NULL;
	size_t n_pool = 0, cap_pool = 0;
	int r = 0;
	for (size_t i = 0; i < snap->n_groups && r >= 0; i++) {
		struct pw_port_group *g = &snap->groups[i];
		/* a group with forwards keeps its text: forward-explain reorders
		 * and drops its reasons, so they could not be told again */
		l.no_text = no_text && !g->n_forwards;
		r = pw_explain_group(g, snap, &l, &w);
		if (r < 0 || l.n == 0)
			continue;
		if (g->n_forwards) {
			g->reasons = malloc(l.n * sizeof(*g->reasons));
			if (!g->reasons) {
				r = -ENOMEM;
			} else {
				memcpy(g->reasons, l.v, l.n * sizeof(*l.v));
				g->n_reasons = (uint32_t)l.n;
				l.n = 0;
			}
		} else if (PW_GROW(pool, cap_pool, n_pool + l.n) < 0) {
			r = -ENOMEM;
		} else {
			memcpy(pool + n_pool, l.v, l.n * sizeof(*l.v));
			n_pool += l.n;
			g->n_reasons = (uint32_t)l.n;
			l.n = 0;
		}
		for (size_t j = 0; j < l.n; j++) /* not handed over */
			pw_reason_clear(&l.v[j]);
	}
	free(l.v);
	pw_explain_scratch_free(&w);
	if (r < 0) {
		for (size_t i = 0; i < snap->n_groups; i++)
			if (!snap->groups[i].n_forwards)
				snap->groups[i].n_reasons = 0; /* theirs are in the pool */
		pool_clear(pool, n_pool);
		return r;
	}
	struct pw_reason *fit = n_pool ? realloc(pool, n_pool * sizeof(*pool)) : NULL;
	if (fit)
		pool = fit;
	size_t off = 0;
	for (size_t i = 0; i < snap->n_groups; i++) {
		struct pw_port_group *g = &snap->groups[i];
		if (g->n_forwards || !g->n_reasons)
			continue;
		g->reasons = pool + off;
		off += g->n_reasons;
	}
	snap->reason_pool = pool;
	snap->n_reason_pool = n_pool;
	return 0;
}
