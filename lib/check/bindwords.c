/* SPDX-License-Identifier: MIT */
/*
 * The bind rules in words: why a socket blocks or shares, what would make a
 * bind work, and what to watch for. Pure, like bindrules.c.
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

#include "bindrules-private.h"

/* ---- words ----------------------------------------------------------------- */

int br_strv_take(struct strv *sv, char *s, bool dedup)
{
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; dedup && i < sv->n; i++)
		if (!strcmp(sv->v[i], s)) {
			free(s);
			return 0;
		}
	if (PW_GROW(sv->v, sv->cap, sv->n + 1) < 0) {
		free(s);
		return -ENOMEM;
	}
	sv->v[sv->n++] = s;
	return 0;
}

char *br_fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	va_start(ap, f);
	int r = vasprintf(&s, f, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

int br_addf(struct strv *sv, bool dedup, const char *f, ...)
{
	va_list ap;
	char *s;
	va_start(ap, f);
	int r = vasprintf(&s, f, ap);
	va_end(ap);
	return br_strv_take(sv, r < 0 ? NULL : s, dedup);
}

void br_endpoint(const struct pw_socket *s, char *buf, size_t len)
{
	if (pw_endpoint_format(&s->laddr, s->lport, s->ifname, buf, len) < 0)
		snprintf(buf, len, "?:%u", s->lport);
}

void br_cand_endpoint(const struct pw_bind_candidate *c, char *buf, size_t len)
{
	if (pw_endpoint_format(&c->addr, c->port, NULL, buf, len) < 0)
		snprintf(buf, len, "?:%u", c->port);
}

static const char *flag_words(bool ra, bool rp)
{
	static const char *const w[4] = {
	    "neither SO_REUSEADDR nor SO_REUSEPORT", "SO_REUSEADDR (not SO_REUSEPORT)",
	    "SO_REUSEPORT (not SO_REUSEADDR)", "both SO_REUSEADDR and SO_REUSEPORT"};
	return w[ra | rp << 1];
}

/* The options of s as far as they are known: read, deduced, or not. */
static const char *sock_flag_words(const struct sockinfo *x)
{
	uint8_t ra_rp = 0; /* completions projected onto (ra, rp) */
	for (unsigned k = 0; k < N_COMPLETIONS; k++)
		if (x->dom & (1u << k))
			ra_rp |= (uint8_t)(1u << (k & 3));
	if (ra_rp & (ra_rp - 1))
		return "options portwho could not read";
	unsigned k = (unsigned)__builtin_ctz(ra_rp);
	return flag_words(k & C_RA, k & C_RP);
}

bool br_was_inferred(const struct sockinfo *x)
{
	return x->dom != x->dom0;
}

const char *br_state_of(const struct pw_socket *s)
{
	const char *n = pw_state_name(s->proto, s->state);
	return n ? n : "?";
}

/* Why the two addresses overlap, from the socket's side. */
static const char *overlap_words(const struct pw_bind_candidate *c, const struct pw_socket *s)
{
	struct view vc, vs;
	br_view_of(&c->addr, &vc);
	br_view_of(&s->laddr, &vs);
	if (vc.v4 != vs.v4)
		return vs.any && !vs.v4
			   ? "it is bound to [::] without IPV6_V6ONLY, which also covers "
			     "every IPv4 address"
			   : "your [::] without IPV6_V6ONLY also covers IPv4, its address "
			     "included";
	if (vs.any && vc.any)
		return "both are bound to the wildcard address";
	if (vs.any)
		return "it is bound to the wildcard address, which covers yours";
	if (vc.any)
		return "your wildcard address covers its address";
	return "it is bound to the same address";
}

int br_explain_block(const struct pw_bind_candidate *c, const struct sockinfo *x,
		     enum pw_bind_rule rule, char **ret)
{
	const struct pw_socket *s = x->s;
	const char *ov = overlap_words(c, s);
	const char *mine = flag_words(c->reuseaddr, c->reuseport);
	const char *its = sock_flag_words(x);
	char *t = NULL;
	switch (rule) {
	case PW_RULE_REUSEPORT_UID:
		t = br_fmt(
		    "%s; both sockets need SO_REUSEPORT and the same owner uid: the existing "
		    "one was created by uid %u, you would be uid %u",
		    ov, s->uid, c->uid);
		break;
	case PW_RULE_REUSEADDR_LISTENER:
		t = br_fmt(
		    "%s; both have SO_REUSEADDR, but it is listening, and SO_REUSEADDR never "
		    "shares a port with a listener: only SO_REUSEPORT on both sockets, created "
		    "by the same uid, would",
		    ov);
		break;
	case PW_RULE_TIME_WAIT:
		t = br_fmt(
		    "a TIME_WAIT leftover of a closed connection (Linux keeps it 60 s); %s. A "
		    "new bind gets past it only when both the old socket and the new one set "
		    "SO_REUSEADDR (or both SO_REUSEPORT): the old one had %s, yours would have "
		    "%s",
		    ov, its, mine);
		break;
	default:
		if (br_is_tcp(c->proto) && s->state == PW_ST_LISTEN)
			t = br_fmt(
			    "%s; it is listening, and a listener shares its port only when both "
			    "sockets set SO_REUSEPORT with the same owner uid (SO_REUSEADDR never "
			    "shares with a listener): it has %s, yours would have %s",
			    ov, its, mine);
		else if (br_is_tcp(c->proto))
			t = br_fmt(
			    "%s; TCP shares a port only when both sockets set SO_REUSEADDR "
			    "(and the existing one is not listening) or both set SO_REUSEPORT "
			    "with the same owner uid: it has %s, yours would have %s",
			    ov, its, mine);
		else
			t = br_fmt(
			    "%s; UDP shares a port only when both sockets set SO_REUSEADDR, "
			    "or both set SO_REUSEPORT with the same owner uid: it has %s, yours "
			    "would have %s",
			    ov, its, mine);
		break;
	}
	if (!t)
		return -ENOMEM;
	if (x->kinds == 1u << K_BLOCK && (x->dom & (x->dom - 1))) {
		char *u = br_fmt("%s; whatever its options are, it blocks", t);
		free(t);
		if (!(t = u))
			return -ENOMEM;
	}
	if (br_was_inferred(x)) {
		char *u = br_fmt("%s (its options are deduced from the sockets it shares the port "
				 "with, not read)",
				 t);
		free(t);
		t = u;
	}
	*ret = t;
	return t ? 0 : -ENOMEM;
}

/* The option values of x under which it does not block: "SO_REUSEADDR" etc. */
const char *br_unless_words(const struct pw_bind_candidate *c, const struct sockinfo *x)
{
	uint8_t pass = 0;
	for (unsigned k = 0; k < N_COMPLETIONS; k++) {
		enum pw_bind_rule r;
		if ((x->dom & (1u << k)) && br_judge(c, x->s, k, &r) != K_BLOCK)
			pass |= (uint8_t)(1u << k);
	}
	/* Name the single option whose value decides, when there is one. */
	static const struct {
		unsigned bit;
		const char *words;
	} opts[] = {
	    {C_RA, "it was created with SO_REUSEADDR"},
	    {C_RP, "it was created with SO_REUSEPORT"},
	    {C_V6, "it is IPv6-only (IPV6_V6ONLY, which portwho could not read for this "
		   "socket)"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		bool decides = true;
		for (unsigned k = 0; k < N_COMPLETIONS && decides; k++)
			if (x->dom & (1u << k))
				decides = !!(pass & (1u << k)) == !!(k & opts[i].bit);
		if (decides)
			return opts[i].words;
	}
	bool ra_or_rp = true;
	for (unsigned k = 0; k < N_COMPLETIONS && ra_or_rp; k++)
		if (x->dom & (1u << k))
			ra_or_rp = !!(pass & (1u << k)) == !!(k & (C_RA | C_RP));
	return ra_or_rp ? "it was created with SO_REUSEADDR or SO_REUSEPORT"
			: "its socket options allow it";
}

int br_explain_share(const struct pw_bind_candidate *c, const struct sockinfo *x,
		     enum pw_bind_rule rule, char **ret)
{
	const struct pw_socket *s = x->s;
	char *t = NULL;
	switch (rule) {
	case PW_RULE_TIME_WAIT:
		t = br_fmt(
		    "a TIME_WAIT leftover; it does not block because both the old socket and "
		    "yours set %s",
		    c->reuseaddr && (x->dflt & C_RA) ? "SO_REUSEADDR" : "SO_REUSEPORT");
		break;
	case PW_RULE_LISTEN_RACE:
		t = br_fmt("both set SO_REUSEADDR and neither listens yet, so both binds work, but "
			   "only the first of the two to call listen() succeeds%s",
			   c->listen ? "; yours would listen first, and it could then never listen"
				     : "");
		break;
	case PW_RULE_REUSEADDR_SHARED:
		if (br_is_tcp(s->proto))
			t = br_fmt("both set SO_REUSEADDR and it is not listening (%s), so it does "
				   "not block",
				   br_state_of(s));
		else
			t = br_fmt(
			    "both set SO_REUSEADDR, so both may bind; but unicast datagrams "
			    "then reach only the socket bound last (yours), while multicast and "
			    "broadcast reach both");
		break;
	default: {
		struct view vc, vs;
		br_view_of(&c->addr, &vc);
		br_view_of(&s->laddr, &vs);
		bool same = c->addr.family == s->family && vc.v4 == vs.v4 &&
			    !memcmp(vc.b, vs.b, 16) && c->ifindex == s->ifindex &&
			    (c->addr.family == AF_INET ||
			     (c->v6only && c->addr.family == AF_INET6) == !!(x->dflt & C_V6));
		bool joins =
		    same && (br_is_tcp(s->proto) ? s->state == PW_ST_LISTEN && c->listen : true);
		if (joins)
			t = br_fmt(
			    "both set SO_REUSEPORT with the same owner uid (%u): yours would join "
			    "its group, and the kernel spreads new %s across the group by a flow "
			    "hash",
			    s->uid, br_is_tcp(s->proto) ? "connections" : "datagrams");
		else
			t = br_fmt(
			    "both set SO_REUSEPORT with the same owner uid (%u), so they may "
			    "share the port%s",
			    s->uid,
			    same ? ""
				 : "; where the addresses differ, the more specific one receives "
				   "first");
		break;
	}
	}
	*ret = t;
	return t ? 0 : -ENOMEM;
}

/* A TCP listener is its own case: SO_REUSEADDR never shares with one, so
 * "not set on both" would send the user after the wrong fix. */
const char *br_short_rule(enum pw_bind_rule r, const struct pw_socket *s)
{
	if (r == PW_RULE_EXCLUSIVE && br_is_tcp(s->proto) && s->state == PW_ST_LISTEN)
		return "it listens, and a listener shares its port only with sockets that all set "
		       "SO_REUSEPORT under one owner uid (SO_REUSEADDR does not help)";
	switch (r) {
	case PW_RULE_REUSEADDR_LISTENER:
		return "it listens, and SO_REUSEADDR does not share a port with a listener";
	case PW_RULE_REUSEPORT_UID:
		return "SO_REUSEPORT needs the same owner uid on both sockets";
	case PW_RULE_TIME_WAIT:
		return "a TIME_WAIT leftover; SO_REUSEADDR on both the old and the new socket "
		       "gets through";
	default:
		return "SO_REUSEADDR or SO_REUSEPORT is not set on both sockets";
	}
}

const char *br_share_short(enum pw_bind_rule r, bool tcp)
{
	switch (r) {
	case PW_RULE_TIME_WAIT:
		return "a TIME_WAIT leftover that both sides' SO_REUSEADDR (or SO_REUSEPORT) "
		       "lets through";
	case PW_RULE_LISTEN_RACE:
		return "both set SO_REUSEADDR and neither listens yet; only the first to listen() "
		       "will";
	case PW_RULE_REUSEADDR_SHARED:
		return tcp ? "both set SO_REUSEADDR and it is not listening"
			   : "both set SO_REUSEADDR; unicast then reaches only the socket bound "
			     "last";
	default:
		return "both set SO_REUSEPORT with the same owner uid";
	}
}

/* ---- advice ---------------------------------------------------------------- */

static bool variant_ok(const struct pw_bind_candidate *v, struct sockinfo *si, size_t n)
{
	struct decision d = br_decide(v, si, n);
	return d.certain && d.would_succeed;
}

int br_advise_candidate(const struct pw_bind_candidate *c, struct sockinfo *si, size_t n,
			struct strv *adv)
{
	/* Facts about the blockers first: trying variants rewrites si's verdicts. */
	uint32_t uid = 0;
	bool uid_only = true, blocked = false, specific = true;
	for (size_t i = 0; i < n; i++) {
		if (!(si[i].kinds & (1u << K_BLOCK)))
			continue;
		struct view vs;
		br_view_of(&si[i].s->laddr, &vs);
		specific &= !vs.any && si[i].s->inode; /* not connections or TIME_WAIT */
		uid_only &=
		    si[i].block_rule == PW_RULE_REUSEPORT_UID && (!blocked || si[i].s->uid == uid);
		uid = si[i].s->uid;
		blocked = true;
	}
	struct view vc;
	br_view_of(&c->addr, &vc);

	struct pw_bind_candidate v;
	bool ra_ok = false, rp_ok = false;
	int r = 0;
	if (!c->reuseaddr) {
		v = *c;
		v.reuseaddr = true;
		if ((ra_ok = variant_ok(&v, si, n)))
			r = br_addf(adv, true,
				    "set SO_REUSEADDR on your socket (--reuseaddr): the bind "
				    "then succeeds");
	}
	if (r >= 0 && !c->reuseport) {
		v = *c;
		v.reuseport = true;
		if ((rp_ok = variant_ok(&v, si, n)))
			r = br_addf(adv, true,
				    "set SO_REUSEPORT on your socket (--reuseport): the bind "
				    "then succeeds");
	}
	if (r >= 0 && !c->reuseaddr && !c->reuseport && !ra_ok && !rp_ok) {
		v = *c;
		v.reuseaddr = v.reuseport = true;
		if (variant_ok(&v, si, n))
			r = br_addf(adv, true,
				    "set both SO_REUSEADDR and SO_REUSEPORT on your socket: "
				    "the bind then succeeds");
	}
	if (r >= 0 && c->addr.family == AF_INET6 && vc.any && !vc.v4 && !c->v6only) {
		v = *c;
		v.v6only = true;
		if (variant_ok(&v, si, n))
			r = br_addf(adv, true,
				    "set IPV6_V6ONLY on your [::] socket (--v6only) so it "
				    "does not claim the IPv4 addresses others hold");
	}
	if (r >= 0 && blocked && uid_only && uid != c->uid) {
		v = *c;
		v.uid = uid;
		if (variant_ok(&v, si, n))
			r = br_addf(adv, true,
				    "create your socket as uid %u (--user), the owner of the "
				    "SO_REUSEPORT socket(s) in the way: a group has one owner "
				    "uid",
				    uid);
	}
	if (r >= 0 && blocked && specific && vc.any)
		r = br_addf(adv, true,
			    "bind a specific address instead of the wildcard: the sockets "
			    "in the way hold specific addresses only");
	(void)br_decide(c, si, n); /* restore the candidate's own verdicts */
	return r;
}

static int advise_holders(const struct pw_bind_candidate *c, const struct pw_socket *s,
			  struct strv *adv)
{
	char ep[96];
	br_endpoint(s, ep, sizeof(ep));
	if (!s->inode) {
		if (s->state == PW_ST_TIME_WAIT)
			return 0; /* handled with its own advice */
		return br_addf(adv, true,
			       "%s is a connection no process holds (%s: not yet accepted, "
			       "or closing); it goes when its listener accepts it or it "
			       "finishes",
			       ep, br_state_of(s));
	}
	if (!s->n_holders) {
		if (s->kernel_owner)
			return br_addf(adv, true,
				       "%s belongs to the kernel (%s): remove or reconfigure "
				       "that, or pick another port",
				       ep, s->kernel_owner);
		if (c->root_view)
			return br_addf(adv, true,
				       "no visible process holds %s: its holder's fd table is "
				       "protected even from root (or it holds it only through "
				       "io_uring or a message in flight); portwho --explain says "
				       "which processes could not be read",
				       ep);
		return br_addf(adv, true,
			       "no visible process holds %s: run as root to see every "
			       "holder",
			       ep);
	}
	int r = 0;
	for (size_t i = 0; i < s->n_holders && r >= 0; i++) {
		const struct pw_process *p = s->holders[i].proc;
		if (!p)
			continue;
		bool seen = false; /* one line per process, not per fd */
		for (size_t j = 0; j < i && !seen; j++)
			seen = s->holders[j].proc == p;
		if (seen)
			continue;
		_cleanup_free_ char *comm = pw_escape_text(p->comm ? p->comm : "?");
		if (!comm)
			return -ENOMEM;
		if (p->unit)
			r = br_addf(adv, true, "stop %s (PID %d, unit %s), which holds %s", comm,
				    p->pid, p->unit, ep);
		else
			r = br_addf(adv, true, "stop %s (PID %d), which holds %s", comm, p->pid,
				    ep);
	}
	return r;
}

int br_advise_existing(const struct pw_bind_candidate *c, struct sockinfo *si, size_t n,
		       struct strv *adv)
{
	int r = 0;
	bool tw = false, tw_needs_old = false;
	for (size_t i = 0; i < n && r >= 0; i++) {
		const struct sockinfo *x = &si[i];
		if (!(x->kinds & (1u << K_BLOCK)))
			continue;
		if (x->block_rule == PW_RULE_TIME_WAIT) {
			tw = true;
			tw_needs_old |= !(x->dflt & C_RA);
			continue;
		}
		r = advise_holders(c, x->s, adv);
		if (r < 0)
			break;
		if (x->kinds != 1u << K_BLOCK)
			continue; /* may not block: the uncertainty is explained instead */
		if (x->block_rule == PW_RULE_EXCLUSIVE && x->s->state != PW_ST_LISTEN &&
		    c->reuseaddr && !(x->dflt & C_RA))
			r = br_addf(adv, true,
				    "the existing socket would need SO_REUSEADDR too: restart "
				    "its program with that option");
		else if ((x->block_rule == PW_RULE_EXCLUSIVE ||
			  x->block_rule == PW_RULE_REUSEADDR_LISTENER) &&
			 x->s->state == PW_ST_LISTEN)
			r = br_addf(adv, true,
				    "to share a port with a listener, both sockets need "
				    "SO_REUSEPORT and one owner uid (a load-balanced group)");
	}
	if (r >= 0 && tw) {
		r = br_addf(adv, true,
			    "wait for the TIME_WAIT leftover(s) to expire (60 s after the "
			    "connection closed)");
		if (r >= 0)
			r = br_addf(adv, true,
				    tw_needs_old
					? "or set SO_REUSEADDR on both sides, the server that "
					  "left them behind and the new socket: then a restart "
					  "gets through at once"
					: "or set SO_REUSEADDR on the new socket too: the old "
					  "one had it, and SO_REUSEADDR on both sides gets "
					  "through");
	}
	return r;
}
