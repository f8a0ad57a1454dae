/* SPDX-License-Identifier: MIT */
/*
 * portwho check, rendered: the answer pw_check_run decided, as text or as a
 * JSON document (check_json) the command prints.
 */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check-cmd.h"

static const char *errno_name(int e)
{
	const char *n = e ? strerrorname_np(e) : NULL;
	return n ? n : e ? "unknown error" : NULL;
}

/* ---- text --------------------------------------------------------------------- */

static const char *proto_col(const struct pw_socket *s)
{
	bool six = s->family == AF_INET6;
	switch (s->proto) {
	case IPPROTO_TCP:
		return six ? "tcp6" : "tcp";
	case IPPROTO_UDP:
		return six ? "udp6" : "udp";
	default:
		return six ? "udplite6" : "udplite";
	}
}

static void print_holders(FILE *f, const struct pw_socket *s)
{
	if (!s->n_holders) {
		if (s->kernel_owner) {
			fputs("      owner: the kernel (", f);
			cli_print_escaped(f, s->kernel_owner);
			fputs(")\n", f);
		} else {
			fputs(s->inode ? "      held by: no visible process\n"
				       : "      held by: nobody (a connection leftover, inode 0)\n",
			      f);
		}
		return;
	}
	fputs("      held by: ", f);
	size_t shown = 0;
	for (size_t i = 0; i < s->n_holders; i++) {
		const struct pw_process *p = s->holders[i].proc;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = s->holders[j].proc == p;
		if (seen || !p)
			continue;
		if (shown++)
			fputs(", ", f);
		cli_print_escaped(f, p->comm);
		fprintf(f, " (PID %d, ", p->pid);
		if (p->user)
			cli_print_escaped(f, p->user);
		else
			fprintf(f, "uid %u", (unsigned)p->uid);
		if (p->unit) {
			fputs(", ", f);
			cli_print_escaped(f, p->unit);
		}
		fputc(')', f);
	}
	fputc('\n', f);
}

static void print_socket_entry(FILE *f, const struct pw_bind_conflict *e)
{
	const struct pw_socket *s = e->sock;
	char ep[96];
	pw_endpoint_format(&s->laddr, s->lport, s->ifname, ep, sizeof(ep));
	fprintf(f, "  %-6s %-24s %-9s uid %u", proto_col(s), ep, pw_state_name(s->proto, s->state),
		s->uid);
	if (s->inode)
		fprintf(f, "  inode %u", s->inode);
	if (e->outcome == PW_BIND_MAYBE)
		fputs("  (may block)", f);
	fputc('\n', f);
	print_holders(f, s);
	fprintf(f, "      rule %s: %s\n", pw_bind_rule_name(e->rule), e->explanation);
}

static void print_class(FILE *f, const struct pw_check_answer *a)
{
	const struct pw_netns_sysctl *sys = &a->facts.sysctl;
	const struct pw_port_class *c = &a->cls;
	const char *range = !strcmp(c->iana, "system") ? "0-1023"
			    : !strcmp(c->iana, "user") ? "1024-49151"
						       : "49152-65535";
	fprintf(f, "Port %u/%s", a->cand.port, pw_proto_name(a->cand.proto));
	if (a->service)
		fprintf(f, " (%s)", a->service);
	fprintf(f, ": IANA %s port (%s)\n", c->iana, range);
	if (c->privileged)
		fprintf(f,
			"  privileged here: below ip_unprivileged_port_start (%d), binding needs "
			"CAP_NET_BIND_SERVICE\n",
			sys->unprivileged_port_start);
	else
		fprintf(f, "  not privileged here (ip_unprivileged_port_start is %d)\n",
			sys->unprivileged_port_start);
	if (c->ephemeral)
		fprintf(f,
			"  warning: inside ip_local_port_range (%u-%u): outgoing connections may "
			"take it first; pick a port outside the range or reserve it in "
			"ip_local_reserved_ports\n",
			sys->local_lo, sys->local_hi);
	else
		fprintf(f, "  outside ip_local_port_range (%u-%u)\n", sys->local_lo, sys->local_hi);
	if (c->reserved)
		fputs("  in ip_local_reserved_ports: automatic port choice skips it; an explicit "
		      "bind still works\n",
		      f);
}

static void print_trial(FILE *f, const struct pw_check_request *q, const struct pw_check_answer *a)
{
	const struct pw_check_trial *t = &a->trial;
	if (q->no_trial) {
		fputs("Trial: not run (--no-trial)\n", f);
		return;
	}
	if (!t->ran) {
		fprintf(f, "Trial: %s\n", t->skipped ? t->skipped : "not run");
		return;
	}
	char who[64];
	snprintf(who, sizeof(who), "uid %u", a->cand.uid);
	const char *what = t->listened ? "bind and listen" : "bind";
	if (t->res.succeeded)
		fprintf(f, "Trial: %s succeeded as %s", what, who);
	else
		fprintf(f, "Trial: %s failed with %s as %s", t->res.step ? t->res.step : what,
			errno_name(t->res.err), who);
	if (a->disagree) {
		fputs("\n!!! prediction and trial disagree — this is a portwho bug (please report "
		      "it with this output)\n",
		      f);
		if (a->hint)
			fprintf(f, "  (or: %s)\n", a->hint);
	} else if (a->settled)
		fputs(" — the trial settles what the prediction could not\n", f);
	else
		fputs(" — agrees with the prediction\n", f);
	if (t->no_listen)
		fprintf(f, "  (%s)\n", t->no_listen);
}

void check_print_text(FILE *f, const struct pw_check_request *q, const struct pw_check_answer *a)
{
	const struct pw_bind_prediction *p = &a->pred;
	const char *why = p->why;
	char buf[256];
	if (a->pred_err && a->pred_err != EADDRINUSE && a->pred_err != EACCES) {
		char addr[64];
		pw_addr_format(&a->cand.addr, false, addr, sizeof(addr));
		snprintf(buf, sizeof(buf), "%s cannot be bound in this namespace (%s)", addr,
			 strerror(a->pred_err));
		why = buf;
	}
	if (a->final_ok)
		fputs("would succeed", f);
	else
		fprintf(f, "would fail: %s", errno_name(a->final_err));
	if (a->disagree)
		fprintf(f, " (the trial says so; the prediction said %s)\n",
			a->pred_ok ? "it would succeed" : "it would fail");
	else if (a->settled)
		fprintf(f, " (settled by the trial) — %s\n", why);
	else
		fprintf(f, "%s — %s\n", a->pred_certain ? "" : " (probably)", why);

	if (p->n_conflicts) {
		fputs("\nIn the way:\n", f);
		for (size_t i = 0; i < p->n_conflicts; i++)
			print_socket_entry(f, &p->conflicts[i]);
	}
	if (p->n_shared) {
		fputs("\nWould share the port with:\n", f);
		for (size_t i = 0; i < p->n_shared; i++)
			print_socket_entry(f, &p->shared[i]);
	}
	if (p->n_uncertain) {
		fputs("\nUncertain:\n", f);
		for (size_t i = 0; i < p->n_uncertain; i++)
			fprintf(f, "  - %s\n", p->uncertain[i]);
	}
	if (p->n_advice) {
		fputs("\nAdvice:\n", f);
		for (size_t i = 0; i < p->n_advice; i++)
			fprintf(f, "  - %s\n", p->advice[i]);
	}
	fputc('\n', f);
	print_class(f, a);
	print_trial(f, q, a);
}

/* ---- JSON ---------------------------------------------------------------------- */

static json_t *jerrno(int e)
{
	return e ? json_string(errno_name(e)) : json_null();
}

static json_t *jstrv(char *const *v, size_t n, int *err)
{
	json_t *arr = json_array();
	if (!arr) {
		*err = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr, cli_jstr(v[i])) < 0)
			*err = -ENOMEM;
	return arr;
}

/* The socket shape of the JSON contract (HACKING.md), plus the rule. */
static json_t *conflict_json(const struct pw_bind_conflict *e, int *err)
{
	json_t *o = cli_socket_json(e->sock, false, err);
	if (!o)
		return NULL;
	cli_json_put(o, "rule", json_string(pw_bind_rule_name(e->rule)), err);
	cli_json_put(o, "outcome", json_string(pw_bind_outcome_name(e->outcome)), err);
	cli_json_put(o, "options_inferred", json_boolean(e->inferred), err);
	cli_json_put(o, "explanation", cli_jstr(e->explanation), err);
	return o;
}

static json_t *conflicts_json(const struct pw_bind_conflict *v, size_t n, int *err)
{
	json_t *arr = json_array();
	if (!arr) {
		*err = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr, conflict_json(&v[i], err)) < 0)
			*err = -ENOMEM;
	return arr;
}

static json_t *class_json(const struct pw_check_answer *a, int *err)
{
	const struct pw_netns_sysctl *sys = &a->facts.sysctl;
	json_t *o = json_object();
	if (!o) {
		*err = -ENOMEM;
		return NULL;
	}
	cli_json_put(o, "iana", cli_jstr(a->cls.iana), err);
	cli_json_put(o, "privileged", json_boolean(a->cls.privileged), err);
	cli_json_put(o, "ephemeral", json_boolean(a->cls.ephemeral), err);
	cli_json_put(o, "reserved", json_boolean(a->cls.reserved), err);
	cli_json_put(o, "unprivileged_port_start", json_integer(sys->unprivileged_port_start), err);
	cli_json_put(o, "local_port_range", json_pack("[ii]", sys->local_lo, sys->local_hi), err);
	return o;
}

static json_t *candidate_json(const struct pw_check_request *q, const struct pw_check_answer *a,
			      int *err)
{
	const struct pw_bind_candidate *c = &a->cand;
	json_t *o = json_object();
	if (!o) {
		*err = -ENOMEM;
		return NULL;
	}
	cli_json_put(o, "proto", json_string(pw_proto_name(c->proto)), err);
	cli_json_put(o, "family", json_string(c->addr.family == AF_INET6 ? "ipv6" : "ipv4"), err);
	cli_json_put(o, "address", cli_jaddr(&c->addr), err);
	cli_json_put(o, "port", json_integer(c->port), err);
	cli_json_put(o, "interface", cli_jstr(q->device), err);
	cli_json_put(o, "reuseaddr", json_boolean(c->reuseaddr), err);
	cli_json_put(o, "reuseport", json_boolean(c->reuseport), err);
	cli_json_put(o, "v6only",
		     c->addr.family == AF_INET6 ? json_boolean(c->v6only) : json_null(), err);
	cli_json_put(o, "listen", json_boolean(c->listen), err);
	cli_json_put(o, "uid", json_integer(c->uid), err);
	cli_json_put(o, "can_bind_privileged", json_boolean(c->can_bind_privileged), err);
	return o;
}

static json_t *trial_json(const struct pw_check_request *q, const struct pw_check_answer *a,
			  int *err)
{
	const struct pw_check_trial *t = &a->trial;
	json_t *o = json_object();
	if (!o) {
		*err = -ENOMEM;
		return NULL;
	}
	cli_json_put(o, "ran", json_boolean(t->ran), err);
	cli_json_put(o, "succeeded", t->ran ? json_boolean(t->res.succeeded) : json_null(), err);
	cli_json_put(o, "errno", t->ran ? jerrno(t->res.err) : json_null(), err);
	cli_json_put(o, "step", t->ran ? cli_jstr(t->res.step) : json_null(), err);
	cli_json_put(o, "listened", t->ran ? json_boolean(t->listened) : json_null(), err);
	cli_json_put(o, "uid", t->ran ? json_integer(a->cand.uid) : json_null(), err);
	cli_json_put(o, "agrees", t->ran ? json_boolean(!a->disagree) : json_null(), err);
	const char *note = q->no_trial ? "--no-trial" : t->skipped ? t->skipped : t->no_listen;
	cli_json_put(o, "note", cli_jstr(a->hint ? a->hint : note), err);
	return o;
}

json_t *check_json(const struct pw_check_request *q, const struct pw_check_answer *a)
{
	const struct pw_bind_prediction *p = &a->pred;
	int err = 0;
	json_t *o = json_object();
	if (!o)
		return NULL;
	cli_json_put(o, "schema_version", json_integer(PW_JSON_SCHEMA_VERSION), &err);
	cli_json_put(o, "would_succeed", json_boolean(a->final_ok), &err);
	cli_json_put(o, "errno", jerrno(a->final_err), &err);
	cli_json_put(o, "certain", json_boolean(a->pred_certain || a->trial.ran), &err);
	cli_json_put(o, "why", cli_jstr(p->why), &err);
	cli_json_put(o, "netns", json_integer((json_int_t)a->facts.netns), &err);
	cli_json_put(o, "candidate", candidate_json(q, a, &err), &err);
	cli_json_put(o, "conflicts", conflicts_json(p->conflicts, p->n_conflicts, &err), &err);
	cli_json_put(o, "shared", conflicts_json(p->shared, p->n_shared, &err), &err);
	cli_json_put(o, "uncertain", jstrv(p->uncertain, p->n_uncertain, &err), &err);
	cli_json_put(o, "advice", jstrv(p->advice, p->n_advice, &err), &err);
	cli_json_put(o, "forwarded_elsewhere", json_boolean(a->forwarded_elsewhere), &err);
	cli_json_put(o, "forwards", a->group ? cli_forwards_json(a->group, &err) : json_array(),
		     &err);
	cli_json_put(o, "service", cli_jstr(a->service), &err);
	cli_json_put(o, "class", class_json(a, &err), &err);
	cli_json_put(o, "prediction",
		     json_pack("{s:b, s:o, s:b}", "would_succeed", a->pred_ok, "errno",
			       jerrno(a->pred_err), "certain", a->pred_certain),
		     &err);
	cli_json_put(o, "trial", trial_json(q, a, &err), &err);
	/* what the snapshot of the port missed (as the main JSON's) */
	cli_json_put(o, "incomplete", cli_incomplete_json(a->snap), &err);
	if (err < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
