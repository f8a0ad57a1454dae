/* SPDX-License-Identifier: MIT */
/* check: a bind that would succeed while a NAT rule takes the port's
 * traffic elsewhere (PRODUCT.md "Forwarded ports"). Pure over the answer's
 * snapshot. */
#include <stdio.h>
#include <sys/socket.h>

#include "internal.h"
#include "portwho-check.h"

static const struct pw_port_group *port_group(const struct pw_snapshot *snap,
					      const struct pw_bind_candidate *c, uint64_t netns)
{
	for (size_t i = 0; snap && i < pw_snapshot_n_groups(snap); i++) {
		const struct pw_port_group *g = pw_snapshot_group(snap, i);
		if (g->netns == netns && g->proto == c->proto && g->port == c->port)
			return g;
	}
	return NULL;
}

static bool in_prefix(const struct pw_forward *f, const struct pw_addr *a)
{
	if (!f->has_match_addr || pw_addr_is_any(a))
		return true; /* a wildcard bind gets what any address would */
	if (a->family != f->match_addr.family)
		return false;
	for (unsigned i = 0; i < f->match_plen; i++)
		if ((a->bytes[i / 8] ^ f->match_addr.bytes[i / 8]) >> (7 - i % 8) & 1)
			return false;
	return true;
}

/* A rule that sends the candidate's traffic somewhere else than itself. */
static bool takes_away(const struct pw_forward *f, const struct pw_bind_candidate *c,
		       uint64_t netns)
{
	if (f->via != PW_FWD_NFTABLES || !in_prefix(f, &c->addr))
		return false;
	return !(f->to_netns == netns && f->to_port == c->port);
}

int pw_check_forwards(struct pw_check_answer *a)
{
	const struct pw_port_group *g = port_group(a->snap, &a->cand, a->facts.netns);
	a->group = g;
	for (size_t i = 0; g && i < g->n_forwards; i++) {
		const struct pw_forward *f = &g->forwards[i];
		if (!takes_away(f, &a->cand, a->facts.netns))
			continue;
		a->forwarded_elsewhere = true;
		if (!a->final_ok)
			continue; /* the bind fails anyway: the advice is about that */
		char to[80], where[48] = "";
		if (f->has_to_addr)
			pw_endpoint_format(&f->to_addr, f->to_port, NULL, to, sizeof(to));
		else
			snprintf(to, sizeof(to), "local port %u", f->to_port);
		if (f->to_netns && f->to_netns != a->facts.netns)
			snprintf(where, sizeof(where), " in netns %llu",
				 (unsigned long long)f->to_netns);
		struct pw_bind_prediction *p = &a->pred;
		char **v = realloc(p->advice, (p->n_advice + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->advice = v;
		if (asprintf(&v[p->n_advice],
			     "the bind would succeed, but nftables %s sends the connections it "
			     "matches to %s%s: they never reach the new socket (remove or change "
			     "that rule, or use another port)",
			     f->rule, to, where) < 0)
			return -ENOMEM;
		p->n_advice++;
	}
	return 0;
}
