/* SPDX-License-Identifier: MIT */
/*
 * pw_check_run: the whole answer of `portwho check`, decided here so the
 * command only parses and renders.
 *
 * facts of the namespace -> sockets on the port (copies) -> pw_bind_predict
 * (probing options through a holder when the answer hinges on them) -> the
 * address check folded in -> the trial that is safe -> settle.
 */
#include <linux/capability.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "internal.h"
#include "portwho-check.h"

/* Root switching to another uid drops every capability on the way. */
static bool can_bind_privileged(const struct pw_check_request *q)
{
	if (q->user_set && q->uid != geteuid())
		return q->uid == 0 && geteuid() == 0;
	return pw_have_cap(CAP_NET_BIND_SERVICE);
}

/* The kernel checks the address before the port privilege for IPv4, after
 * it for IPv6, and both before looking for a conflict. */
static int combine_prediction(struct pw_check_answer *a)
{
	int addr_err = a->facts.addr_err;
	int pe = a->pred.err;
	if (addr_err && (a->cand.addr.family == AF_INET || pe != EACCES))
		pe = addr_err;
	a->pred_err = pe;
	a->pred_ok = pe == 0;
	a->pred_certain = a->pred.certain || (pe && pe != EADDRINUSE);
	if (!addr_err)
		return 0;
	/* first in the advice, as it is first in the kernel's checks */
	struct pw_bind_prediction *p = &a->pred;
	char **v = realloc(p->advice, (p->n_advice + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->advice = v;
	memmove(v + 1, v, p->n_advice * sizeof(*v));
	char addr[64];
	pw_addr_format(&a->cand.addr, false, addr, sizeof(addr));
	if (asprintf(&v[0],
		     "%s is not an address of this network namespace (%s): bind one it has "
		     "(ip address), or the wildcard",
		     addr, strerror(addr_err)) < 0) {
		memmove(v, v + 1, p->n_advice * sizeof(*v));
		return -ENOMEM;
	}
	p->n_advice++;
	return 0;
}

static bool is_listener(const struct pw_socket *s)
{
	return s->proto == IPPROTO_TCP && s->state == PW_ST_LISTEN;
}

/* Would a trial socket sharing the port with s disturb it? A UDP socket
 * takes datagrams from the moment it binds, a TCP listener connections; and a
 * trial that listened first would make a bound socket's own listen() fail. */
static bool trial_disturbs(const struct pw_bind_conflict *e, bool udp)
{
	return udp || is_listener(e->sock) || e->rule == PW_RULE_LISTEN_RACE;
}

/* Decide what of the trial is safe: nothing (1), bind only, or bind and
 * listen (0). */
static int plan_trial(const struct pw_check_request *q, struct pw_check_answer *a,
		      struct pw_trial_request *req)
{
	const struct pw_bind_prediction *p = &a->pred;
	bool udp = q->proto != IPPROTO_TCP;
	const struct pw_socket *live = NULL;
	for (size_t i = 0; i < p->n_shared && !live; i++)
		if (trial_disturbs(&p->shared[i], udp))
			live = p->shared[i].sock;
	for (size_t i = 0; i < p->n_conflicts && !live; i++)
		if (p->conflicts[i].outcome == PW_BIND_MAYBE &&
		    trial_disturbs(&p->conflicts[i], udp))
			live = p->conflicts[i].sock;
	char ep[96] = "";
	if (live)
		pw_endpoint_format(&live->laddr, live->lport, live->ifname, ep, sizeof(ep));
	if (live && udp)
		return asprintf(
			   &a->trial.skipped,
			   "skipped: a trial socket sharing %s would take datagrams meant for it "
			   "while it lived",
			   ep) < 0
			   ? -ENOMEM
			   : 1;
	if (q->user_set && q->uid != geteuid() && geteuid() != 0)
		return (a->trial.skipped = strdup("skipped: not root, so a trial runs only as "
						  "yourself"))
			   ? 1
			   : -ENOMEM;
	*req = (struct pw_trial_request){
	    .netns_path = q->netns_path,
	    .switch_user = q->user_set,
	    .uid = q->uid,
	    .gid = q->gid,
	    .proto = q->proto,
	    .addr = a->cand.addr,
	    .port = a->cand.port,
	    .ifname = q->device,
	    .reuseaddr = q->reuseaddr,
	    .reuseport = q->reuseport,
	    .v6only = a->cand.v6only,
	    .listen = q->listen,
	};
	if (live && q->listen) {
		req->listen = false;
		if (asprintf(&a->trial.no_listen,
			     is_listener(live)
				 ? "bind only: a listening trial socket could take "
				   "connections meant for %s; listen() never fails "
				   "where bind() passed"
				 : "bind only: a trial that listened first would make "
				   "%s fail to listen; listen() never fails where bind() "
				   "passed",
			     ep) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int run_trial(const struct pw_check_request *q, struct pw_check_answer *a)
{
	struct pw_trial_request req;
	int r = plan_trial(q, a, &req);
	if (r != 0)
		return r < 0 ? r : 0;
	r = pw_trial_run(&req, &a->trial.res);
	if (r < 0) {
		const char *why =
		    r == -EPERM ? "not root, so a trial runs only as yourself, here" : strerror(-r);
		return asprintf(&a->trial.skipped, "did not run: %s", why) < 0 ? -ENOMEM : 0;
	}
	a->trial.ran = true;
	a->trial.listened = req.listen;
	return 0;
}

static void settle(struct pw_check_answer *a)
{
	a->final_ok = a->pred_ok;
	a->final_err = a->pred_err;
	if (!a->trial.ran)
		return;
	const struct pw_trial_result *t = &a->trial.res;
	bool same = t->succeeded == a->pred_ok && (t->succeeded || t->err == a->pred_err);
	if (!same && a->pred_certain) {
		a->disagree = true;
		/* inet_csk_get_port's SO_REUSEPORT fast path: the port remembers an
		 * earlier socket of this uid and address and skips the full check */
		if (t->succeeded && a->pred_err == EADDRINUSE && a->cand.reuseport &&
		    a->cand.proto == IPPROTO_TCP)
			a->hint = "the kernel may have taken its SO_REUSEPORT fast path: a port "
				  "remembers that a socket of this uid and address bound there "
				  "before (tb->fastreuseport) and skips the full check";
	} else if (!a->pred_certain)
		a->settled = true;
	/* the trial is what the kernel said: it decides */
	a->final_ok = t->succeeded;
	a->final_err = t->succeeded ? 0 : t->err;
}

/* The sockets on the port, as copies: options read later are filled in
 * here, never in the snapshot's records. */
static int take_sockets(const struct pw_check_request *q, struct pw_check_answer *a)
{
	struct pw_portspec spec = {
	    .protos = q->proto == IPPROTO_TCP	? PW_PROTO_TCP
		      : q->proto == IPPROTO_UDP ? PW_PROTO_UDP
						: PW_PROTO_UDPLITE,
	    .lo = q->port,
	    .hi = q->port,
	    .has_addr = false, /* every address on the port may matter */
	};
	struct pw_query query = {
	    .specs = &spec,
	    .n_specs = 1,
	    .protos = spec.protos,
	    .netns_scope = q->netns_scope,
	    .netns_path = q->netns_path,
	    .no_explain = true,	  /* options are deduced in bindrules.c */
	    .want_options = true, /* every overlapping socket's SO_REUSE* decides */
	};
	int r = pw_snapshot_take(&query, &a->snap);
	if (r < 0)
		return r;
	size_t n = pw_snapshot_n_sockets(a->snap);
	a->copies = calloc(n ? n : 1, sizeof(*a->copies));
	a->socks = calloc(n ? n : 1, sizeof(*a->socks));
	if (!a->copies || !a->socks)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		a->copies[i] = *pw_snapshot_socket(a->snap, i);
		a->socks[i] = &a->copies[i];
	}
	a->n_socks = n;
	a->hidden_processes = pw_snapshot_stats(a->snap)->hidden_processes;
	return 0;
}

/* An answer that hinges on unread options: read them through a holder where
 * that is safe, and predict again. */
static int predict(struct pw_check_answer *a)
{
	int r = pw_bind_predict(&a->cand, a->socks, a->n_socks, &a->pred);
	if (r < 0 || a->pred.certain)
		return r;
	size_t m = 0;
	struct pw_socket **unsure = calloc(a->pred.n_conflicts + 1, sizeof(*unsure));
	if (!unsure)
		return -ENOMEM;
	for (size_t i = 0; i < a->pred.n_conflicts; i++)
		if (a->pred.conflicts[i].outcome == PW_BIND_MAYBE)
			unsure[m++] = &a->copies[a->pred.conflicts[i].sock - a->copies];
	int filled = m ? pw_sockopts_probe(unsure, m) : 0;
	free(unsure);
	if (filled <= 0)
		return 0;
	pw_bind_prediction_clear(&a->pred);
	return pw_bind_predict(&a->cand, a->socks, a->n_socks, &a->pred);
}

static int fail(struct pw_check_answer *a, enum pw_check_stage stage, int r)
{
	a->failed = stage;
	return r;
}

int pw_check_run(const struct pw_check_request *q, struct pw_check_answer *a)
{
	*a = (struct pw_check_answer){0};
	int r = pw_netns_facts_read(q->netns_path, q->proto, q->device, &q->addr, &a->facts);
	if (r < 0)
		return fail(a, PW_CHECK_STAGE_NETNS, r);
	if (q->device && !a->facts.ifindex)
		return fail(a, PW_CHECK_STAGE_DEVICE, -ENODEV);

	a->cand = (struct pw_bind_candidate){
	    .proto = q->proto,
	    .addr = q->addr,
	    .port = q->port,
	    .ifindex = a->facts.ifindex,
	    .reuseaddr = q->reuseaddr,
	    .reuseport = q->reuseport,
	    .v6only = q->addr.family == AF_INET6 && (q->v6only || a->facts.bindv6only),
	    .listen = q->listen,
	    .uid = q->user_set ? q->uid : geteuid(),
	    .can_bind_privileged = can_bind_privileged(q),
	    .unprivileged_port_start = a->facts.sysctl.unprivileged_port_start,
	};
	pw_port_classify(&a->facts.sysctl, a->cand.port, &a->cls);

	if ((r = take_sockets(q, a)) < 0)
		return fail(a, PW_CHECK_STAGE_SOCKETS, r);
	a->cand.root_view = pw_snapshot_stats(a->snap)->privileged;
	struct pw_services *sv = NULL;
	if (pw_services_load(NULL, &sv) >= 0) {
		const char *name = pw_services_name(sv, a->cand.port, pw_proto_name(q->proto));
		if (name && !(a->service = strdup(name)))
			r = -ENOMEM;
		pw_services_free(sv);
		if (r < 0)
			return fail(a, PW_CHECK_STAGE_DECIDE, r);
	}
	if ((r = predict(a)) < 0 || (r = combine_prediction(a)) < 0)
		return fail(a, PW_CHECK_STAGE_DECIDE, r);
	if (!q->no_trial && (r = run_trial(q, a)) < 0)
		return fail(a, PW_CHECK_STAGE_DECIDE, r);
	settle(a);
	if ((r = pw_check_forwards(a)) < 0)
		return fail(a, PW_CHECK_STAGE_DECIDE, r);
	return 0;
}

void pw_check_answer_free(struct pw_check_answer *a)
{
	pw_bind_prediction_clear(&a->pred);
	free(a->trial.skipped);
	free(a->trial.no_listen);
	free(a->service);
	free(a->socks);
	free(a->copies);
	pw_snapshot_free(a->snap);
	*a = (struct pw_check_answer){0};
}
