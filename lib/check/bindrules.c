/* SPDX-License-Identifier: MIT */
/*
 * The Linux bind rules (KERNEL.md §4), applied to a candidate socket and the
 * sockets already on its port. Pure: no I/O, so every rule is unit-tested.
 *
 * Options portwho could not read (SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY
 * = -1) are not guessed: each socket gets a domain of possible option sets
 * ("completions"), narrowed by what its neighbours prove (two listeners on
 * one address must both have SO_REUSEPORT), and the candidate is judged
 * against every completion left. One answer for all: certain; otherwise the
 * prediction says which socket makes it uncertain and on what it hinges.
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

#include "check.h"
#include "internal.h"

/* A completion packs the three options of an existing socket. */
#define C_RA 1u /* SO_REUSEADDR */
#define C_RP 2u /* SO_REUSEPORT */
#define C_V6 4u /* IPV6_V6ONLY */
#define N_COMPLETIONS 8
#define INFER_MAX 256 /* sockets taking part in inference (n^2 pairs) */

enum kind {
	K_NONE,	 /* does not overlap the candidate */
	K_SHARE, /* overlaps, and the rules let both exist */
	K_MATCH, /* UDP: an SO_REUSEPORT match ends the kernel's search (success) */
	K_BLOCK, /* overlaps and conflicts */
};

struct sockinfo {
	const struct pw_socket *s;
	uint8_t dom0;	/* completions allowed by what was read */
	uint8_t dom;	/* ... and by what the neighbours prove */
	bool eligible;	/* its coexistence with others was checked by a bind */
	unsigned kinds; /* bit per enum kind over dom, for the current candidate */
	unsigned dflt;	/* the completion taken for the best answer */
	enum kind dflt_kind;
	enum pw_bind_rule dflt_rule;
	enum pw_bind_rule block_rule; /* a rule under which it blocks, if any */
	enum pw_bind_rule share_rule; /* a rule under which it shares, if any */
};

static const char *const rule_names[PW_RULE_MAX] = {
    [PW_RULE_EXCLUSIVE] = "exclusive",
    [PW_RULE_REUSEADDR_LISTENER] = "reuseaddr-vs-listener",
    [PW_RULE_REUSEPORT_UID] = "reuseport-uid",
    [PW_RULE_TIME_WAIT] = "time-wait",
    [PW_RULE_LISTEN_RACE] = "listen-race",
    [PW_RULE_REUSEADDR_SHARED] = "reuseaddr-shared",
    [PW_RULE_REUSEPORT_SHARED] = "reuseport-shared",
};

const char *pw_bind_rule_name(enum pw_bind_rule r)
{
	return (unsigned)r < PW_RULE_MAX ? rule_names[r] : NULL;
}

const char *pw_bind_outcome_name(enum pw_bind_outcome o)
{
	switch (o) {
	case PW_BIND_BLOCKS:
		return "blocks";
	case PW_BIND_MAYBE:
		return "maybe";
	case PW_BIND_SHARES:
		return "shares";
	}
	return NULL;
}

/* ---- addresses as the kernel compares them ------------------------------ */

struct view {
	bool v4; /* IPv4, or IPv4-mapped IPv6 (the kernel treats both alike) */
	bool any;
	uint8_t b[16];
};

static void view_of(const struct pw_addr *a, struct view *v)
{
	static const uint8_t zero[16];
	*v = (struct view){0};
	if (a->family == AF_INET) {
		v->v4 = true;
		memcpy(v->b, a->bytes, 4);
	} else if (pw_addr_is_v4mapped(a)) {
		v->v4 = true;
		memcpy(v->b, a->bytes + 12, 4);
	} else {
		memcpy(v->b, a->bytes, 16);
	}
	v->any = !memcmp(v->b, zero, v->v4 ? 4 : 16);
}

/* Seen on 6.18: same-family addresses overlap when equal or either is the
 * wildcard; across families only a dual-stack [::] overlaps IPv4 ([::1]
 * never does, and [::] v6only never does). */
static bool views_overlap(const struct view *x, bool x_v6only, const struct view *y, bool y_v6only)
{
	if (x->v4 == y->v4)
		return x->any || y->any || !memcmp(x->b, y->b, x->v4 ? 4 : 16);
	const struct view *six = x->v4 ? y : x;
	bool six_only = x->v4 ? y_v6only : x_v6only;
	return six->any && !six_only;
}

static bool devices_overlap(uint32_t a, uint32_t b)
{
	return !a || !b || a == b;
}

/* ---- which sockets count ------------------------------------------------- */

static bool is_tcp(uint8_t proto)
{
	return proto == IPPROTO_TCP;
}

/* Is s in the kernel's bind table for this port? Request sockets (SYN_RECV,
 * NEW_SYN_RECV) are not; everything else sock_diag shows is, including
 * TIME_WAIT, connections not yet accepted and bound-inactive sockets. */
static bool counts(const struct pw_bind_candidate *c, const struct pw_socket *s)
{
	if (s->proto != c->proto || s->lport != c->port)
		return false;
	if (is_tcp(s->proto))
		return s->state != PW_ST_SYN_RECV && s->state != PW_ST_NEW_SYN_RECV;
	return true;
}

/* Sockets whose coexistence with each other went through a bind check:
 * listeners and bound sockets (TCP) and every UDP socket with a file.
 * Accepted connections and TIME_WAIT inherit the listener's port unchecked. */
static bool eligible(const struct pw_socket *s)
{
	if (!s->inode)
		return false;
	if (is_tcp(s->proto))
		return s->state == PW_ST_LISTEN || s->state == PW_ST_BOUND_INACTIVE;
	return true;
}

static int opt_known(const struct pw_socket *s, int8_t v)
{
	if (s->opts_source == PW_OPTS_INFERRED)
		return -1; /* we deduce our own, with the kernel's exact rules */
	return v < 0 ? -1 : v > 0;
}

static uint8_t domain_of(const struct pw_socket *s)
{
	int ra = opt_known(s, s->reuseaddr), rp = opt_known(s, s->reuseport);
	int v6 = s->family == AF_INET6 ? (s->v6only < 0 ? -1 : s->v6only > 0) : 0;
	uint8_t dom = 0;
	for (unsigned k = 0; k < N_COMPLETIONS; k++) {
		if (ra >= 0 && !!(k & C_RA) != ra)
			continue;
		if (rp >= 0 && !!(k & C_RP) != rp)
			continue;
		if (v6 >= 0 && !!(k & C_V6) != v6)
			continue;
		dom |= (uint8_t)(1u << k);
	}
	return dom;
}

/* Fewest options first: the best answer takes unknown options as unset. */
static unsigned default_completion(uint8_t dom)
{
	static const unsigned order[N_COMPLETIONS] = {
	    0, C_RA, C_RP, C_V6, C_RA | C_RP, C_RA | C_V6, C_RP | C_V6, C_RA | C_RP | C_V6};
	for (size_t i = 0; i < N_COMPLETIONS; i++)
		if (dom & (1u << order[i]))
			return order[i];
	return 0;
}

/* ---- the rules ------------------------------------------------------------ */

static bool cand_overlaps(const struct pw_bind_candidate *c, const struct pw_socket *s, unsigned k)
{
	if (!devices_overlap(c->ifindex, s->ifindex))
		return false;
	struct view vc, vs;
	view_of(&c->addr, &vc);
	view_of(&s->laddr, &vs);
	return views_overlap(&vc, c->addr.family == AF_INET6 && c->v6only, &vs, k & C_V6);
}

/* inet_csk_bind_conflict (TCP) and udp_lib_lport_inuse (UDP) for one pair. */
static enum kind judge(const struct pw_bind_candidate *c, const struct pw_socket *s, unsigned k,
		       enum pw_bind_rule *rule)
{
	bool ra = k & C_RA, rp = k & C_RP;
	bool tw = is_tcp(s->proto) && s->state == PW_ST_TIME_WAIT;
	if (!cand_overlaps(c, s, k))
		return K_NONE;
	if (is_tcp(s->proto)) {
		if (c->reuseaddr && ra && s->state != PW_ST_LISTEN) {
			*rule = tw				   ? PW_RULE_TIME_WAIT
				: s->state == PW_ST_BOUND_INACTIVE ? PW_RULE_LISTEN_RACE
								   : PW_RULE_REUSEADDR_SHARED;
			return K_SHARE;
		}
		if (c->reuseport && rp && (tw || s->uid == c->uid)) {
			*rule = tw ? PW_RULE_TIME_WAIT : PW_RULE_REUSEPORT_SHARED;
			return K_SHARE;
		}
		*rule = tw		     ? PW_RULE_TIME_WAIT
			: c->reuseport && rp ? PW_RULE_REUSEPORT_UID
			: c->reuseaddr && ra ? PW_RULE_REUSEADDR_LISTENER
					     : PW_RULE_EXCLUSIVE;
		return K_BLOCK;
	}
	if (c->reuseaddr && ra) {
		*rule = PW_RULE_REUSEADDR_SHARED;
		return K_SHARE;
	}
	if (c->reuseport && rp && s->uid == c->uid) {
		*rule = PW_RULE_REUSEPORT_SHARED;
		return K_MATCH;
	}
	*rule = c->reuseport && rp ? PW_RULE_REUSEPORT_UID : PW_RULE_EXCLUSIVE;
	return K_BLOCK;
}

/* Could a and b (with completions ka, kb) both have been bound? */
static bool coexist(const struct pw_socket *a, unsigned ka, const struct pw_socket *b, unsigned kb)
{
	if (!devices_overlap(a->ifindex, b->ifindex))
		return true;
	struct view va, vb;
	view_of(&a->laddr, &va);
	view_of(&b->laddr, &vb);
	if (!views_overlap(&va, ka & C_V6, &vb, kb & C_V6))
		return true;
	bool rp = (ka & C_RP) && (kb & C_RP) && a->uid == b->uid;
	if (is_tcp(a->proto) && a->state == PW_ST_LISTEN && b->state == PW_ST_LISTEN)
		return rp; /* the second listen() re-checked against a listener */
	return ((ka & C_RA) && (kb & C_RA)) || rp;
}

/* Arc consistency over the eligible sockets: drop completions of a socket
 * that no completion of some neighbour could have lived with. If the table
 * contradicts itself (options changed after bind), deduce nothing. */
static void infer(struct sockinfo *si, size_t n)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		m += si[i].eligible;
	if (m < 2 || m > INFER_MAX)
		return;
	for (bool changed = true; changed;) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			if (!si[i].eligible)
				continue;
			for (unsigned ka = 0; ka < N_COMPLETIONS; ka++) {
				if (!(si[i].dom & (1u << ka)))
					continue;
				for (size_t j = 0; j < n; j++) {
					if (j == i || !si[j].eligible)
						continue;
					bool ok = false;
					for (unsigned kb = 0; kb < N_COMPLETIONS && !ok; kb++)
						ok = (si[j].dom & (1u << kb)) &&
						     coexist(si[i].s, ka, si[j].s, kb);
					if (!ok) {
						si[i].dom &= (uint8_t) ~(1u << ka);
						changed = true;
						break;
					}
				}
			}
			if (!si[i].dom) {
				for (size_t j = 0; j < n; j++)
					si[j].dom = si[j].dom0;
				return;
			}
		}
	}
}

struct decision {
	bool would_succeed;
	bool certain;
	bool order; /* UDP: the answer depends on the kernel's chain order */
};

static struct decision decide(const struct pw_bind_candidate *c, struct sockinfo *si, size_t n)
{
	bool only_block = false, maybe_block = false, maybe_match = false, guess_block = false;
	for (size_t i = 0; i < n; i++) {
		struct sockinfo *x = &si[i];
		x->kinds = 0;
		int best = -1;
		for (unsigned k = 0; k < N_COMPLETIONS; k++) {
			if (!(x->dom & (1u << k)))
				continue;
			enum pw_bind_rule rule = PW_RULE_EXCLUSIVE;
			enum kind kd = judge(c, x->s, k, &rule);
			/* the blocking completion with the most options explains best
			 * why even those would not do */
			if (kd == K_BLOCK && (!(x->kinds & (1u << K_BLOCK)) ||
					      __builtin_popcount(k & (C_RA | C_RP)) > best)) {
				x->block_rule = rule;
				best = __builtin_popcount(k & (C_RA | C_RP));
			}
			if ((kd == K_SHARE || kd == K_MATCH) &&
			    !(x->kinds & (1u << K_SHARE | 1u << K_MATCH)))
				x->share_rule = rule;
			x->kinds |= 1u << kd;
		}
		x->dflt = default_completion(x->dom);
		x->dflt_rule = PW_RULE_EXCLUSIVE;
		x->dflt_kind = judge(c, x->s, x->dflt, &x->dflt_rule);
		only_block |= x->kinds == 1u << K_BLOCK;
		maybe_block |= (x->kinds >> K_BLOCK) & 1;
		maybe_match |= (x->kinds >> K_MATCH) & 1;
		guess_block |= x->dflt_kind == K_BLOCK;
	}
	struct decision d = {.would_succeed = !guess_block};
	bool certain_fail = only_block && (is_tcp(c->proto) || !maybe_match);
	bool certain_ok = !maybe_block;
	d.certain = certain_fail || certain_ok;
	if (d.certain)
		d.would_succeed = certain_ok;
	d.order = !is_tcp(c->proto) && maybe_block && maybe_match;
	return d;
}

/* ---- words ----------------------------------------------------------------- */

struct strv {
	char **v;
	size_t n, cap;
};

static int strv_take(struct strv *sv, char *s, bool dedup)
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

__attribute__((format(printf, 1, 2))) static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	va_start(ap, f);
	int r = vasprintf(&s, f, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

__attribute__((format(printf, 3, 4))) static int addf(struct strv *sv, bool dedup, const char *f,
						      ...)
{
	va_list ap;
	char *s;
	va_start(ap, f);
	int r = vasprintf(&s, f, ap);
	va_end(ap);
	return strv_take(sv, r < 0 ? NULL : s, dedup);
}

static void endpoint(const struct pw_socket *s, char *buf, size_t len)
{
	if (pw_endpoint_format(&s->laddr, s->lport, s->ifname, buf, len) < 0)
		snprintf(buf, len, "?:%u", s->lport);
}

static void cand_endpoint(const struct pw_bind_candidate *c, char *buf, size_t len)
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

static bool was_inferred(const struct sockinfo *x)
{
	return x->dom != x->dom0;
}

static const char *state_of(const struct pw_socket *s)
{
	const char *n = pw_state_name(s->proto, s->state);
	return n ? n : "?";
}

/* Why the two addresses overlap, from the socket's side. */
static const char *overlap_words(const struct pw_bind_candidate *c, const struct pw_socket *s)
{
	struct view vc, vs;
	view_of(&c->addr, &vc);
	view_of(&s->laddr, &vs);
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

static int explain_block(const struct pw_bind_candidate *c, const struct sockinfo *x,
			 enum pw_bind_rule rule, char **ret)
{
	const struct pw_socket *s = x->s;
	const char *ov = overlap_words(c, s);
	const char *mine = flag_words(c->reuseaddr, c->reuseport);
	const char *its = sock_flag_words(x);
	char *t = NULL;
	switch (rule) {
	case PW_RULE_REUSEPORT_UID:
		t = fmt("%s; both sockets need SO_REUSEPORT and the same owner uid: the existing "
			"one was created by uid %u, you would be uid %u",
			ov, s->uid, c->uid);
		break;
	case PW_RULE_REUSEADDR_LISTENER:
		t = fmt("%s; both have SO_REUSEADDR, but it is listening, and SO_REUSEADDR never "
			"shares a port with a listener: only SO_REUSEPORT on both sockets, created "
			"by the same uid, would",
			ov);
		break;
	case PW_RULE_TIME_WAIT:
		t = fmt("a TIME_WAIT leftover of a closed connection (Linux keeps it 60 s); %s. A "
			"new bind gets past it only when both the old socket and the new one set "
			"SO_REUSEADDR (or both SO_REUSEPORT): the old one had %s, yours would have "
			"%s",
			ov, its, mine);
		break;
	default:
		if (is_tcp(c->proto) && s->state == PW_ST_LISTEN)
			t = fmt(
			    "%s; it is listening, and a listener shares its port only when "
			    "both sockets set SO_REUSEPORT with the same owner uid (SO_REUSEADDR "
			    "never shares with a listener): it has %s, yours would have %s",
			    ov, its, mine);
		else if (is_tcp(c->proto))
			t = fmt("%s; TCP shares a port only when both sockets set SO_REUSEADDR "
				"(and the existing one is not listening) or both set SO_REUSEPORT "
				"with the same owner uid: it has %s, yours would have %s",
				ov, its, mine);
		else
			t = fmt(
			    "%s; UDP shares a port only when both sockets set SO_REUSEADDR, "
			    "or both set SO_REUSEPORT with the same owner uid: it has %s, yours "
			    "would have %s",
			    ov, its, mine);
		break;
	}
	if (!t)
		return -ENOMEM;
	if (x->kinds == 1u << K_BLOCK && (x->dom & (x->dom - 1))) {
		char *u = fmt("%s; whatever its options are, it blocks", t);
		free(t);
		if (!(t = u))
			return -ENOMEM;
	}
	if (was_inferred(x)) {
		char *u = fmt("%s (its options are deduced from the sockets it shares the port "
			      "with, not read)",
			      t);
		free(t);
		t = u;
	}
	*ret = t;
	return t ? 0 : -ENOMEM;
}

/* The option values of x under which it does not block: "SO_REUSEADDR" etc. */
static const char *unless_words(const struct pw_bind_candidate *c, const struct sockinfo *x)
{
	uint8_t pass = 0;
	for (unsigned k = 0; k < N_COMPLETIONS; k++) {
		enum pw_bind_rule r;
		if ((x->dom & (1u << k)) && judge(c, x->s, k, &r) != K_BLOCK)
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

static int explain_share(const struct pw_bind_candidate *c, const struct sockinfo *x,
			 enum pw_bind_rule rule, char **ret)
{
	const struct pw_socket *s = x->s;
	char *t = NULL;
	switch (rule) {
	case PW_RULE_TIME_WAIT:
		t = fmt("a TIME_WAIT leftover; it does not block because both the old socket and "
			"yours set %s",
			c->reuseaddr && (x->dflt & C_RA) ? "SO_REUSEADDR" : "SO_REUSEPORT");
		break;
	case PW_RULE_LISTEN_RACE:
		t = fmt("both set SO_REUSEADDR and neither listens yet, so both binds work, but "
			"only the first of the two to call listen() succeeds%s",
			c->listen ? "; yours would listen first, and it could then never listen"
				  : "");
		break;
	case PW_RULE_REUSEADDR_SHARED:
		if (is_tcp(s->proto))
			t = fmt("both set SO_REUSEADDR and it is not listening (%s), so it does "
				"not block",
				state_of(s));
		else
			t = fmt(
			    "both set SO_REUSEADDR, so both may bind; but unicast datagrams "
			    "then reach only the socket bound last (yours), while multicast and "
			    "broadcast reach both");
		break;
	default: {
		struct view vc, vs;
		view_of(&c->addr, &vc);
		view_of(&s->laddr, &vs);
		bool same = c->addr.family == s->family && vc.v4 == vs.v4 &&
			    !memcmp(vc.b, vs.b, 16) && c->ifindex == s->ifindex &&
			    (c->addr.family == AF_INET ||
			     (c->v6only && c->addr.family == AF_INET6) == !!(x->dflt & C_V6));
		bool joins =
		    same && (is_tcp(s->proto) ? s->state == PW_ST_LISTEN && c->listen : true);
		if (joins)
			t = fmt(
			    "both set SO_REUSEPORT with the same owner uid (%u): yours would join "
			    "its group, and the kernel spreads new %s across the group by a flow "
			    "hash",
			    s->uid, is_tcp(s->proto) ? "connections" : "datagrams");
		else
			t = fmt(
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

/* The headline's rule. A TCP listener is its own case: SO_REUSEADDR never
 * shares with one, so "not set on both" would send the user after the
 * wrong fix. */
static const char *short_rule(enum pw_bind_rule r, const struct pw_socket *s)
{
	if (r == PW_RULE_EXCLUSIVE && is_tcp(s->proto) && s->state == PW_ST_LISTEN)
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

static const char *share_short(enum pw_bind_rule r, bool tcp)
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
	struct decision d = decide(v, si, n);
	return d.certain && d.would_succeed;
}

static int advise_candidate(const struct pw_bind_candidate *c, struct sockinfo *si, size_t n,
			    struct strv *adv)
{
	/* Facts about the blockers first: trying variants rewrites si's verdicts. */
	uint32_t uid = 0;
	bool uid_only = true, blocked = false, specific = true;
	for (size_t i = 0; i < n; i++) {
		if (!(si[i].kinds & (1u << K_BLOCK)))
			continue;
		struct view vs;
		view_of(&si[i].s->laddr, &vs);
		specific &= !vs.any && si[i].s->inode; /* not connections or TIME_WAIT */
		uid_only &=
		    si[i].block_rule == PW_RULE_REUSEPORT_UID && (!blocked || si[i].s->uid == uid);
		uid = si[i].s->uid;
		blocked = true;
	}
	struct view vc;
	view_of(&c->addr, &vc);

	struct pw_bind_candidate v;
	bool ra_ok = false, rp_ok = false;
	int r = 0;
	if (!c->reuseaddr) {
		v = *c;
		v.reuseaddr = true;
		if ((ra_ok = variant_ok(&v, si, n)))
			r = addf(adv, true,
				 "set SO_REUSEADDR on your socket (--reuseaddr): the bind "
				 "then succeeds");
	}
	if (r >= 0 && !c->reuseport) {
		v = *c;
		v.reuseport = true;
		if ((rp_ok = variant_ok(&v, si, n)))
			r = addf(adv, true,
				 "set SO_REUSEPORT on your socket (--reuseport): the bind "
				 "then succeeds");
	}
	if (r >= 0 && !c->reuseaddr && !c->reuseport && !ra_ok && !rp_ok) {
		v = *c;
		v.reuseaddr = v.reuseport = true;
		if (variant_ok(&v, si, n))
			r = addf(adv, true,
				 "set both SO_REUSEADDR and SO_REUSEPORT on your socket: "
				 "the bind then succeeds");
	}
	if (r >= 0 && c->addr.family == AF_INET6 && vc.any && !vc.v4 && !c->v6only) {
		v = *c;
		v.v6only = true;
		if (variant_ok(&v, si, n))
			r = addf(adv, true,
				 "set IPV6_V6ONLY on your [::] socket (--v6only) so it "
				 "does not claim the IPv4 addresses others hold");
	}
	if (r >= 0 && blocked && uid_only && uid != c->uid) {
		v = *c;
		v.uid = uid;
		if (variant_ok(&v, si, n))
			r = addf(adv, true,
				 "create your socket as uid %u (--user), the owner of the "
				 "SO_REUSEPORT socket(s) in the way: a group has one owner "
				 "uid",
				 uid);
	}
	if (r >= 0 && blocked && specific && vc.any)
		r = addf(adv, true,
			 "bind a specific address instead of the wildcard: the sockets "
			 "in the way hold specific addresses only");
	(void)decide(c, si, n); /* restore the candidate's own verdicts */
	return r;
}

static int advise_holders(const struct pw_socket *s, struct strv *adv)
{
	char ep[96];
	endpoint(s, ep, sizeof(ep));
	if (!s->inode) {
		if (s->state == PW_ST_TIME_WAIT)
			return 0; /* handled with its own advice */
		return addf(adv, true,
			    "%s is a connection no process holds (%s: not yet accepted, "
			    "or closing); it goes when its listener accepts it or it "
			    "finishes",
			    ep, state_of(s));
	}
	if (!s->n_holders) {
		if (s->kernel_owner)
			return addf(adv, true,
				    "%s belongs to the kernel (%s): remove or reconfigure "
				    "that, or pick another port",
				    ep, s->kernel_owner);
		return addf(adv, true,
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
			r = addf(adv, true, "stop %s (PID %d, unit %s), which holds %s", comm,
				 p->pid, p->unit, ep);
		else
			r = addf(adv, true, "stop %s (PID %d), which holds %s", comm, p->pid, ep);
	}
	return r;
}

static int advise_existing(const struct pw_bind_candidate *c, struct sockinfo *si, size_t n,
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
		r = advise_holders(x->s, adv);
		if (r < 0)
			break;
		if (x->kinds != 1u << K_BLOCK)
			continue; /* may not block: the uncertainty is explained instead */
		if (x->block_rule == PW_RULE_EXCLUSIVE && x->s->state != PW_ST_LISTEN &&
		    c->reuseaddr && !(x->dflt & C_RA))
			r = addf(adv, true,
				 "the existing socket would need SO_REUSEADDR too: restart "
				 "its program with that option");
		else if ((x->block_rule == PW_RULE_EXCLUSIVE ||
			  x->block_rule == PW_RULE_REUSEADDR_LISTENER) &&
			 x->s->state == PW_ST_LISTEN)
			r = addf(adv, true,
				 "to share a port with a listener, both sockets need "
				 "SO_REUSEPORT and one owner uid (a load-balanced group)");
	}
	if (r >= 0 && tw) {
		r = addf(adv, true,
			 "wait for the TIME_WAIT leftover(s) to expire (60 s after the "
			 "connection closed)");
		if (r >= 0)
			r = addf(adv, true,
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

/* ---- the prediction -------------------------------------------------------- */

void pw_bind_prediction_clear(struct pw_bind_prediction *p)
{
	if (!p)
		return;
	free(p->why);
	for (size_t i = 0; i < p->n_conflicts; i++)
		free(p->conflicts[i].explanation);
	free(p->conflicts);
	for (size_t i = 0; i < p->n_shared; i++)
		free(p->shared[i].explanation);
	free(p->shared);
	for (size_t i = 0; i < p->n_uncertain; i++)
		free(p->uncertain[i]);
	free(p->uncertain);
	for (size_t i = 0; i < p->n_advice; i++)
		free(p->advice[i]);
	free(p->advice);
	*p = (struct pw_bind_prediction){0};
}

static int fill_lists(const struct pw_bind_candidate *c, struct sockinfo *si, size_t n,
		      struct pw_bind_prediction *p, struct strv *unc)
{
	p->conflicts = calloc(n ? n : 1, sizeof(*p->conflicts));
	p->shared = calloc(n ? n : 1, sizeof(*p->shared));
	if (!p->conflicts || !p->shared)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct sockinfo *x = &si[i];
		int r;
		if (x->kinds & (1u << K_BLOCK)) {
			bool only = x->kinds == 1u << K_BLOCK;
			struct pw_bind_conflict *e = &p->conflicts[p->n_conflicts++];
			*e = (struct pw_bind_conflict){.sock = x->s,
						       .rule = x->block_rule,
						       .outcome =
							   only ? PW_BIND_BLOCKS : PW_BIND_MAYBE,
						       .inferred = was_inferred(x)};
			r = explain_block(c, x, x->block_rule, &e->explanation);
			if (r >= 0 && !only) {
				char ep[96];
				endpoint(x->s, ep, sizeof(ep));
				char *t =
				    fmt("%s; portwho could not read all of its options, so it "
					"blocks unless %s",
					e->explanation, unless_words(c, x));
				free(e->explanation);
				e->explanation = t;
				r = t ? addf(unc, false, "%s (%s, uid %u) blocks unless %s", ep,
					     state_of(x->s), x->s->uid, unless_words(c, x))
				      : -ENOMEM;
			}
		} else if (x->kinds & (1u << K_SHARE | 1u << K_MATCH)) {
			struct pw_bind_conflict *e = &p->shared[p->n_shared++];
			*e = (struct pw_bind_conflict){.sock = x->s,
						       .rule = x->share_rule,
						       .outcome = PW_BIND_SHARES,
						       .inferred = was_inferred(x)};
			r = explain_share(c, x, x->share_rule, &e->explanation);
		} else {
			continue;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* The blocker the headline names: a sure one first, a listener before others. */
static const struct pw_bind_conflict *headline_conflict(const struct pw_bind_prediction *p)
{
	const struct pw_bind_conflict *best = NULL;
	int best_score = -1;
	for (size_t i = 0; i < p->n_conflicts; i++) {
		const struct pw_bind_conflict *e = &p->conflicts[i];
		int score = (e->outcome == PW_BIND_BLOCKS) * 4 +
			    (e->sock->state == PW_ST_LISTEN) * 2 + (e->sock->inode != 0);
		if (score > best_score) {
			best = e;
			best_score = score;
		}
	}
	return best;
}

static char *make_why(const struct pw_bind_candidate *c, const struct pw_bind_prediction *p,
		      bool eacces, bool order, size_t n_counted)
{
	char ep[96], mine[96];
	cand_endpoint(c, mine, sizeof(mine));
	if (eacces)
		return fmt("port %u is below ip_unprivileged_port_start (%d) and uid %u lacks "
			   "CAP_NET_BIND_SERVICE",
			   c->port, c->unprivileged_port_start, c->uid);
	const struct pw_bind_conflict *h = headline_conflict(p);
	if (!p->would_succeed && h) {
		endpoint(h->sock, ep, sizeof(ep));
		const char *more = "";
		char buf[48] = "";
		if (p->n_conflicts > 1) {
			snprintf(buf, sizeof(buf), " (and %zu more)", p->n_conflicts - 1);
			more = buf;
		}
		if (order)
			return fmt("%s %s blocks it%s, but another socket's SO_REUSEPORT match may "
				   "be met first: the kernel's answer depends on bind order",
				   ep, state_of(h->sock), more);
		if (h->outcome == PW_BIND_MAYBE)
			return fmt("%s %s blocks it%s unless its unread options allow sharing", ep,
				   state_of(h->sock), more);
		if (h->rule == PW_RULE_REUSEPORT_UID)
			return fmt("%s %s blocks it%s: SO_REUSEPORT needs the same owner uid "
				   "(it: %u, you: %u)",
				   ep, state_of(h->sock), more, h->sock->uid, c->uid);
		return fmt("%s %s blocks it%s: %s", ep, state_of(h->sock), more,
			   short_rule(h->rule, h->sock));
	}
	if (p->n_shared) {
		const struct pw_bind_conflict *e = &p->shared[0];
		endpoint(e->sock, ep, sizeof(ep));
		char more[48] = "";
		if (p->n_shared > 1)
			snprintf(more, sizeof(more), " (and %zu more)", p->n_shared - 1);
		return fmt("it may share the port with %s %s%s: %s%s", ep, state_of(e->sock), more,
			   share_short(e->rule, is_tcp(c->proto)),
			   p->certain ? "" : " (uncertain: see below)");
	}
	if (n_counted)
		return fmt("no socket on port %u/%s overlaps %s%s", c->port,
			   pw_proto_name(c->proto), mine, p->certain ? "" : " (uncertain)");
	return fmt("nothing is bound to port %u/%s in this namespace", c->port,
		   pw_proto_name(c->proto));
}

int pw_bind_predict(const struct pw_bind_candidate *c, const struct pw_socket *const *socks,
		    size_t n, struct pw_bind_prediction *ret)
{
	struct pw_bind_prediction p = {0};
	struct strv unc = {0}, adv = {0};
	_cleanup_free_ struct sockinfo *si = calloc(n ? n : 1, sizeof(*si));
	int r = -ENOMEM;
	if (!si)
		goto fail;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (!socks[i] || !counts(c, socks[i]))
			continue;
		si[m] = (struct sockinfo){.s = socks[i], .eligible = eligible(socks[i])};
		si[m].dom0 = si[m].dom = domain_of(socks[i]);
		m++;
	}
	infer(si, m);

	struct decision d = decide(c, si, m);
	bool eacces = c->port && c->port < c->unprivileged_port_start && !c->can_bind_privileged;
	p.would_succeed = d.would_succeed && !eacces;
	p.certain = d.certain || eacces;
	p.err = eacces ? EACCES : d.would_succeed ? 0 : EADDRINUSE;

	r = fill_lists(c, si, m, &p, &unc);
	if (r < 0)
		goto fail;
	if (d.order) {
		r = addf(&unc, false,
			 "UDP: the kernel stops at the first overlapping socket it meets that "
			 "matches by SO_REUSEPORT, so with both kinds here the answer depends "
			 "on which was bound last");
		if (r < 0)
			goto fail;
	}

	if (eacces) {
		r = addf(&adv, true,
			 "port %u needs CAP_NET_BIND_SERVICE: grant it (setcap "
			 "cap_net_bind_service=+ep PROGRAM, or AmbientCapabilities="
			 "CAP_NET_BIND_SERVICE in its systemd unit), use a port of %d or above, "
			 "or lower net.ipv4.ip_unprivileged_port_start in this namespace",
			 c->port, c->unprivileged_port_start);
		if (r >= 0 && !d.would_succeed)
			r = addf(&adv, true,
				 "even with the capability the bind would then fail with "
				 "EADDRINUSE: see the sockets in the way");
		if (r < 0)
			goto fail;
	}
	if (p.n_conflicts) {
		r = advise_candidate(c, si, m, &adv);
		if (r >= 0)
			r = advise_existing(c, si, m, &adv);
		if (r >= 0 && !d.certain)
			r = addf(&adv, true,
				 "run as root so portwho can read the options of the "
				 "sockets in the way (BPF), or let the trial settle it "
				 "(without --no-trial)");
		if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < p.n_shared; i++) {
		const struct pw_bind_conflict *e = &p.shared[i];
		char ep[96];
		endpoint(e->sock, ep, sizeof(ep));
		if (e->rule == PW_RULE_LISTEN_RACE)
			r = addf(&adv, true,
				 "watch out: %s is bound with SO_REUSEADDR too; of the two, "
				 "only the first to listen() will listen",
				 ep);
		else if (e->rule == PW_RULE_REUSEADDR_SHARED && !is_tcp(c->proto))
			r = addf(&adv, true,
				 "watch out: with SO_REUSEADDR duplicates, unicast to %s "
				 "reaches only the socket bound last; for load balancing "
				 "use SO_REUSEPORT on every socket",
				 ep);
		if (r < 0)
			goto fail;
	}

	p.why = make_why(c, &p, eacces, d.order, m);
	if (!p.why) {
		r = -ENOMEM;
		goto fail;
	}
	p.uncertain = unc.v;
	p.n_uncertain = unc.n;
	p.advice = adv.v;
	p.n_advice = adv.n;
	if (p.certain) { /* an EACCES answer is certain even if conflicts are not */
		for (size_t i = 0; i < p.n_uncertain; i++)
			free(p.uncertain[i]);
		free(p.uncertain);
		p.uncertain = NULL;
		p.n_uncertain = 0;
	}
	*ret = p;
	return 0;
fail:
	p.uncertain = unc.v;
	p.n_uncertain = unc.n;
	p.advice = adv.v;
	p.n_advice = adv.n;
	pw_bind_prediction_clear(&p);
	return r;
}
