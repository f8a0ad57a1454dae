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

#include "bindrules-private.h"

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

void br_view_of(const struct pw_addr *a, struct view *v)
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

bool br_is_tcp(uint8_t proto)
{
	return proto == IPPROTO_TCP;
}

/* Is s in the kernel's bind table for this port? Request sockets (SYN_RECV,
 * NEW_SYN_RECV) are not; everything else sock_diag shows is, including
 * TIME_WAIT, connections not yet accepted and bound-inactive sockets. */
bool br_counts(const struct pw_bind_candidate *c, const struct pw_socket *s)
{
	if (s->proto != c->proto || s->lport != c->port)
		return false;
	if (br_is_tcp(s->proto))
		return s->state != PW_ST_SYN_RECV && s->state != PW_ST_NEW_SYN_RECV;
	return true;
}

/* Sockets whose coexistence with each other went through a bind check:
 * listeners and bound sockets (TCP) and every UDP socket with a file.
 * Accepted connections and TIME_WAIT inherit the listener's port unchecked. */
bool br_eligible(const struct pw_socket *s)
{
	if (!s->inode)
		return false;
	if (br_is_tcp(s->proto))
		return s->state == PW_ST_LISTEN || s->state == PW_ST_BOUND_INACTIVE;
	return true;
}

static int opt_known(const struct pw_socket *s, int8_t v)
{
	if (s->opts_source == PW_OPTS_INFERRED)
		return -1; /* we deduce our own, with the kernel's exact rules */
	return v < 0 ? -1 : v > 0;
}

uint8_t br_domain_of(const struct pw_socket *s)
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
	br_view_of(&c->addr, &vc);
	br_view_of(&s->laddr, &vs);
	return views_overlap(&vc, c->addr.family == AF_INET6 && c->v6only, &vs, k & C_V6);
}

/* inet_csk_bind_conflict (TCP) and udp_lib_lport_inuse (UDP) for one pair. */
enum kind br_judge(const struct pw_bind_candidate *c, const struct pw_socket *s, unsigned k,
		   enum pw_bind_rule *rule)
{
	bool ra = k & C_RA, rp = k & C_RP;
	bool tw = br_is_tcp(s->proto) && s->state == PW_ST_TIME_WAIT;
	if (!cand_overlaps(c, s, k))
		return K_NONE;
	if (br_is_tcp(s->proto)) {
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
	br_view_of(&a->laddr, &va);
	br_view_of(&b->laddr, &vb);
	if (!views_overlap(&va, ka & C_V6, &vb, kb & C_V6))
		return true;
	bool rp = (ka & C_RP) && (kb & C_RP) && a->uid == b->uid;
	if (br_is_tcp(a->proto) && a->state == PW_ST_LISTEN && b->state == PW_ST_LISTEN)
		return rp; /* the second listen() re-checked against a listener */
	return ((ka & C_RA) && (kb & C_RA)) || rp;
}

/* Arc consistency over the eligible sockets: drop completions of a socket
 * that no completion of some neighbour could have lived with. If the table
 * contradicts itself (options changed after bind), deduce nothing. */
void br_infer(struct sockinfo *si, size_t n)
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

struct decision br_decide(const struct pw_bind_candidate *c, struct sockinfo *si, size_t n)
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
			enum kind kd = br_judge(c, x->s, k, &rule);
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
		x->dflt_kind = br_judge(c, x->s, x->dflt, &x->dflt_rule);
		only_block |= x->kinds == 1u << K_BLOCK;
		maybe_block |= (x->kinds >> K_BLOCK) & 1;
		maybe_match |= (x->kinds >> K_MATCH) & 1;
		guess_block |= x->dflt_kind == K_BLOCK;
	}
	struct decision d = {.would_succeed = !guess_block};
	bool certain_fail = only_block && (br_is_tcp(c->proto) || !maybe_match);
	bool certain_ok = !maybe_block;
	d.certain = certain_fail || certain_ok;
	if (d.certain)
		d.would_succeed = certain_ok;
	d.order = !br_is_tcp(c->proto) && maybe_block && maybe_match;
	return d;
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
						       .inferred = br_was_inferred(x)};
			r = br_explain_block(c, x, x->block_rule, &e->explanation);
			if (r >= 0 && !only) {
				char ep[96];
				br_endpoint(x->s, ep, sizeof(ep));
				char *t =
				    br_fmt("%s; portwho could not read all of its options, so it "
					   "blocks unless %s",
					   e->explanation, br_unless_words(c, x));
				free(e->explanation);
				e->explanation = t;
				r = t ? br_addf(unc, false, "%s (%s, uid %u) blocks unless %s", ep,
						br_state_of(x->s), x->s->uid, br_unless_words(c, x))
				      : -ENOMEM;
			}
		} else if (x->kinds & (1u << K_SHARE | 1u << K_MATCH)) {
			struct pw_bind_conflict *e = &p->shared[p->n_shared++];
			*e = (struct pw_bind_conflict){.sock = x->s,
						       .rule = x->share_rule,
						       .outcome = PW_BIND_SHARES,
						       .inferred = br_was_inferred(x)};
			r = br_explain_share(c, x, x->share_rule, &e->explanation);
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
	br_cand_endpoint(c, mine, sizeof(mine));
	if (eacces)
		return br_fmt("port %u is below ip_unprivileged_port_start (%d) and uid %u lacks "
			      "CAP_NET_BIND_SERVICE",
			      c->port, c->unprivileged_port_start, c->uid);
	const struct pw_bind_conflict *h = headline_conflict(p);
	if (!p->would_succeed && h) {
		br_endpoint(h->sock, ep, sizeof(ep));
		const char *more = "";
		char buf[48] = "";
		if (p->n_conflicts > 1) {
			snprintf(buf, sizeof(buf), " (and %zu more)", p->n_conflicts - 1);
			more = buf;
		}
		if (order)
			return br_fmt(
			    "%s %s blocks it%s, but another socket's SO_REUSEPORT match may "
			    "be met first: the kernel's answer depends on bind order",
			    ep, br_state_of(h->sock), more);
		if (h->outcome == PW_BIND_MAYBE)
			return br_fmt("%s %s blocks it%s unless its unread options allow sharing",
				      ep, br_state_of(h->sock), more);
		if (h->rule == PW_RULE_REUSEPORT_UID)
			return br_fmt("%s %s blocks it%s: SO_REUSEPORT needs the same owner uid "
				      "(it: %u, you: %u)",
				      ep, br_state_of(h->sock), more, h->sock->uid, c->uid);
		return br_fmt("%s %s blocks it%s: %s", ep, br_state_of(h->sock), more,
			      br_short_rule(h->rule, h->sock));
	}
	if (p->n_shared) {
		const struct pw_bind_conflict *e = &p->shared[0];
		br_endpoint(e->sock, ep, sizeof(ep));
		char more[48] = "";
		if (p->n_shared > 1)
			snprintf(more, sizeof(more), " (and %zu more)", p->n_shared - 1);
		return br_fmt("it may share the port with %s %s%s: %s%s", ep, br_state_of(e->sock),
			      more, br_share_short(e->rule, br_is_tcp(c->proto)),
			      p->certain ? "" : " (uncertain: see below)");
	}
	if (n_counted)
		return br_fmt("no socket on port %u/%s overlaps %s%s", c->port,
			      pw_proto_name(c->proto), mine, p->certain ? "" : " (uncertain)");
	return br_fmt("nothing is bound to port %u/%s in this namespace", c->port,
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
		if (!socks[i] || !br_counts(c, socks[i]))
			continue;
		si[m] = (struct sockinfo){.s = socks[i], .eligible = br_eligible(socks[i])};
		si[m].dom0 = si[m].dom = br_domain_of(socks[i]);
		m++;
	}
	br_infer(si, m);

	struct decision d = br_decide(c, si, m);
	bool eacces = c->port && c->port < c->unprivileged_port_start && !c->can_bind_privileged;
	p.would_succeed = d.would_succeed && !eacces;
	p.certain = d.certain || eacces;
	p.err = eacces ? EACCES : d.would_succeed ? 0 : EADDRINUSE;

	r = fill_lists(c, si, m, &p, &unc);
	if (r < 0)
		goto fail;
	if (d.order) {
		r = br_addf(&unc, false,
			    "UDP: the kernel stops at the first overlapping socket it meets that "
			    "matches by SO_REUSEPORT, so with both kinds here the answer depends "
			    "on which was bound last");
		if (r < 0)
			goto fail;
	}

	if (eacces) {
		r = br_addf(&adv, true,
			    "port %u needs CAP_NET_BIND_SERVICE: grant it (setcap "
			    "cap_net_bind_service=+ep PROGRAM, or AmbientCapabilities="
			    "CAP_NET_BIND_SERVICE in its systemd unit), use a port of %d or above, "
			    "or lower net.ipv4.ip_unprivileged_port_start in this namespace",
			    c->port, c->unprivileged_port_start);
		if (r >= 0 && !d.would_succeed)
			r = br_addf(&adv, true,
				    "even with the capability the bind would then fail with "
				    "EADDRINUSE: see the sockets in the way");
		if (r < 0)
			goto fail;
	}
	if (p.n_conflicts) {
		r = br_advise_candidate(c, si, m, &adv);
		if (r >= 0)
			r = br_advise_existing(c, si, m, &adv);
		if (r >= 0 && !d.certain)
			r = br_addf(&adv, true,
				    "run as root so portwho can read the options of the "
				    "sockets in the way (BPF), or let the trial settle it "
				    "(without --no-trial)");
		if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < p.n_shared; i++) {
		const struct pw_bind_conflict *e = &p.shared[i];
		char ep[96];
		br_endpoint(e->sock, ep, sizeof(ep));
		if (e->rule == PW_RULE_LISTEN_RACE)
			r = br_addf(&adv, true,
				    "watch out: %s is bound with SO_REUSEADDR too; of the two, "
				    "only the first to listen() will listen",
				    ep);
		else if (e->rule == PW_RULE_REUSEADDR_SHARED && !br_is_tcp(c->proto))
			r = br_addf(&adv, true,
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
