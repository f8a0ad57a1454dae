/* SPDX-License-Identifier: MIT */
/*
 * portwho kill, rendered: the table of what holds the port, the plan, the
 * executor's event log, the final state, and the JSON document.
 */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kill-cmd.h"

/* The options the main command's renderers read. */
/* kill shows what holds the port as the main command lists it (default
 * columns, no holder filters), in the states it looks at. */
static void listing_opts(const struct kill_opts *ko, struct options *o)
{
	options_listing(o, kill_states(ko), ko->services);
}

int kill_show_table(const struct kill_opts *ko, const struct pw_snapshot *snap, FILE *f)
{
	struct options o;
	listing_opts(ko, &o);
	struct view v;
	int r = view_build(&o, snap, &v);
	if (r < 0)
		return r;
	r = render_table(&o, &v, f);
	view_free(&v);
	return r;
}

/* The main command's JSON document for a snapshot, as a jansson value. */
static json_t *snapshot_json(const struct kill_opts *ko, const struct pw_snapshot *snap)
{
	struct options o;
	listing_opts(ko, &o);
	struct view v;
	if (view_build(&o, snap, &v) < 0)
		return NULL;
	json_t *j = render_json_doc(&o, &v);
	view_free(&v);
	return j;
}

/* ---- text -------------------------------------------------------------------------- */

const char *kill_signame(int sig, char *buf, size_t len)
{
	const char *a = sigabbrev_np(sig);
	if (a)
		snprintf(buf, len, "SIG%s", a);
	else
		snprintf(buf, len, "signal %d", sig);
	return buf;
}

const char *kill_ports_text(const struct kill_opts *o, char *buf, size_t len)
{
	size_t at = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < o->n_specs && at < len; i++) {
		int n = snprintf(buf + at, len - at, "%s%s", i ? ", " : "", o->spec_args[i]);
		if (n < 0)
			break;
		at += (size_t)n;
	}
	return buf;
}

/* for kill_who(): the snapshot naming namespaces (one run at a time) */
static const struct pw_snapshot *who_snap;

void kill_who_context(const struct pw_snapshot *snap)
{
	who_snap = snap;
}

/* "PID 970 busybox (root) in container docker:web (PID 1 there)", plus
 * "in netns NAME" for a namespace other than portwho's */
void kill_who(FILE *f, const struct pw_process *p)
{
	fprintf(f, "PID %d ", (int)p->pid);
	cli_print_escaped(f, p->comm);
	if (p->user)
		fprintf(f, " (%s)", p->user);
	else if (p->facts_read)
		fprintf(f, " (uid %u)", p->uid);
	char label[512] = "";
	if (p->container && pw_container_label(p->container, label, sizeof(label)) >= 0) {
		fputs(" in container ", f);
		cli_print_escaped(f, label);
		if (p->nspid && p->nspid != p->pid)
			fprintf(f, " (PID %d there)", (int)p->nspid);
	}
	if (who_snap && p->netns && p->netns != pw_snapshot_netns_current(who_snap)) {
		const char *ns = pw_snapshot_netns_name(who_snap, p->netns);
		if (!ns || strcmp(ns, label)) {
			fputs(" in netns ", f);
			if (ns)
				cli_print_escaped(f, ns);
			else
				fprintf(f, "%llu", (unsigned long long)p->netns);
		}
	}
}

static size_t children_of(const struct pw_kill_plan *plan, pid_t pid)
{
	size_t n = 0;
	for (size_t i = 0; i < plan->n_targets; i++)
		n += plan->targets[i].verdict == PW_KV_SIGNAL && plan->targets[i].ancestor == pid;
	return n;
}

/* One sentence per target: what will happen to it and why. */
static char *target_why(const struct run *run, const struct pw_kill_target *t)
{
	const struct pw_process *p = t->proc;
	const struct pw_kill_plan *plan = &run->plan;
	char *s = NULL;
	int r = 0;
	switch (t->verdict) {
	case PW_KV_SIGNAL: {
		size_t kids = children_of(plan, p->pid);
		if (t->phase == 2)
			r = asprintf(&s, "after its parent PID %d, if it is still there",
				     (int)t->ancestor);
		else if (kids)
			r = asprintf(&s, "first: the parent of %zu more holder%s", kids,
				     kids == 1 ? "" : "s");
		else
			s = strdup("");
		break;
	}
	case PW_KV_GONE:
		s = strdup("exited since the scan: nothing to signal");
		break;
	case PW_KV_PID1:
		s = strdup(t->proc->pid == 1 ? "portwho never signals PID 1"
					     : "portwho never signals PID 1: this is PID 1 of its "
					       "own PID namespace (a container's init)");
		break;
	case PW_KV_SELF:
		s = strdup("this is portwho itself");
		break;
	case PW_KV_MANAGER:
		s = strdup(p->pid == 1 ? "a systemd manager: never signalled"
				       : "a systemd --user manager: never signalled");
		break;
	case PW_KV_UNIT:
		if (pw_unit_is_service(p->unit))
			r = asprintf(&s,
				     "part of %s%s: stop the unit instead (systemd would "
				     "restart or re-activate it)",
				     p->unit, p->user_unit ? " (a user unit)" : "");
		else
			s = strdup("shares its socket with systemd (socket activation): stop the "
				   "socket unit instead");
		break;
	case PW_KV_PERMISSION:
		r = asprintf(&s, "you (uid %u) may not signal it", run->caller.euid);
		break;
	case PW_KV_PROXY:
		s = kill_proxy_advice(run->snap, p);
		break;
	case PW_KV_CONTAINER: {
		char cmd[512];
		if (pw_container_stop_command(p->container, cmd, sizeof(cmd)) >= 0)
			r = asprintf(&s, "the container's own init: stop the container instead: %s",
				     cmd);
		else
			s = strdup("the container's own init: stop the container with its runtime");
		break;
	}
	case PW_KV_MAX:
		break;
	}
	return r < 0 ? NULL : s;
}

static const char *verdict_word(enum pw_kill_verdict v)
{
	switch (v) {
	case PW_KV_SIGNAL:
		return "signal";
	case PW_KV_GONE:
		return "gone";
	default:
		return "refuse";
	}
}

void kill_sock_text(FILE *f, const struct pw_socket *s)
{
	char ep[96];
	pw_endpoint_format(&s->laddr, s->lport, s->ifname, ep, sizeof(ep));
	fprintf(f, "%s%s %s", pw_proto_name(s->proto), s->family == AF_INET6 ? "6" : "", ep);
}

void kill_print_plan(const struct run *run, FILE *f)
{
	const struct kill_opts *o = run->o;
	const struct pw_kill_plan *plan = &run->plan;
	char sb[32];
	bool signals = false;
	for (size_t i = 0; i < plan->n_targets; i++)
		signals |= plan->targets[i].verdict == PW_KV_SIGNAL;
	fputs("\nPlan", f);
	if (signals) {
		fprintf(f, ": %s, then wait up to %g s for the port",
			kill_signame(o->sig, sb, sizeof(sb)), o->timeout);
		if (o->kill_after_set)
			fprintf(f, " (SIGKILL after %g s)", o->kill_after);
	} else {
		fputs(" (nothing to signal)", f);
	}
	fputs(":\n", f);
	for (size_t i = 0; i < plan->n_targets; i++) {
		const struct pw_kill_target *t = &plan->targets[i];
		fprintf(f, "  %-7s ", verdict_word(t->verdict));
		kill_who(f, t->proc);
		char *why = target_why(run, t);
		if (why && *why)
			fprintf(f, ": %s", why);
		free(why);
		fputc('\n', f);
	}
	for (size_t i = 0; i < plan->n_stops; i++) {
		const struct pw_unit_stop *st = &plan->stops[i];
		if (st->command)
			fprintf(f, "  %-7s %s  (%s)\n", "stop", st->command,
				o->unit ? "--unit: portwho asks systemd over D-Bus"
					: "run it, or add --unit");
		if (st->hint)
			fprintf(f, "  %-7s %s\n", st->command ? "" : "stop", st->hint);
	}
	for (size_t i = 0; i < plan->n_unheld; i++) {
		const struct pw_unheld *u = &plan->unheld[i];
		if (u->kind == PW_UNHELD_KERNEL) {
			fprintf(f, "  %-7s ", "kernel");
			kill_sock_text(f, u->sock);
			fputs(" belongs to the kernel: ", f);
			cli_print_escaped(f, u->sock->kernel_owner);
			if (u->command)
				fprintf(f, "; to free it: %s\n", u->command);
			else
				fputs("; remove that to free the port\n", f);
		} else if (u->kind == PW_UNHELD_UNKNOWN) {
			fprintf(f, "  %-7s ", "kernel");
			kill_sock_text(f, u->sock);
			fputs(" has no holder process: the kernel keeps it (nfs/sunrpc, a tunnel, "
			      "fou?); nothing to signal\n",
			      f);
		} else {
			fprintf(f, "  %-7s ", "hidden");
			kill_sock_text(f, u->sock);
			fprintf(f,
				" (socket of uid %u) is held by a process this run cannot "
				"inspect\n",
				u->sock->uid);
		}
	}
}

/* What the executor did, in order (text output only). */
void kill_print_log(const struct run *run)
{
	const struct pw_kill_plan *plan = &run->plan;
	for (size_t i = 0; i < run->log.n_events; i++) {
		const struct pw_kill_event *e = &run->log.events[i];
		if (e->kind == PW_KILL_EV_UNIT_STOP) {
			const struct pw_unit_stop *st = &plan->stops[e->index];
			const struct pw_kill_stop_state *ss = &run->log.stops[e->index];
			if (e->err == 0) {
				if (st->user)
					printf("asked the systemd --user manager of %s to stop",
					       st->who);
				else
					fputs("asked systemd to stop", stdout);
				for (size_t k = 0; k < st->n_units; k++)
					printf(" %s", st->units[k]);
				putchar('\n');
			} else if (e->err == EOPNOTSUPP)
				printf("cannot ask systemd: portwho was built without libsystemd; "
				       "run: %s\n",
				       st->command);
			else
				printf("the units were not stopped: %s; run: %s\n",
				       ss->message ? ss->message : strerror(e->err), st->command);
			continue;
		}
		const struct pw_kill_target *t = &plan->targets[e->index];
		if (e->kind == PW_KILL_EV_AFTER_PARENT) {
			kill_who(stdout, t->proc);
			printf(" exited after its parent PID %d\n", (int)t->ancestor);
			continue;
		}
		char sb[32];
		kill_signame(e->sig, sb, sizeof(sb));
		if (e->err == 0) {
			printf("%s sent to ", sb);
			kill_who(stdout, t->proc);
			putchar('\n');
		} else if (e->err == ESRCH) {
			kill_who(stdout, t->proc);
			puts(": already gone, not signalled");
		} else {
			printf("%s to ", sb);
			kill_who(stdout, t->proc);
			printf(" failed: %s\n", strerror(e->err));
		}
	}
}

/* ---- the answer ------------------------------------------------------------------------- */

static json_t *jstr_own(char *raw)
{
	json_t *j = raw ? cli_jstr(raw) : NULL;
	free(raw);
	return j;
}

static void put_proc(json_t *o, const struct pw_process *p, int *err)
{
	cli_json_put(o, "pid", json_integer(p->pid), err);
	cli_json_put(o, "command", cli_jstr(p->comm), err);
	cli_json_put(o, "user", cli_jstr(p->user), err);
	cli_json_put(o, "uid", p->facts_read ? json_integer(p->uid) : json_null(), err);
	cli_json_put(o, "ppid", p->facts_read ? json_integer(p->ppid) : json_null(), err);
	cli_json_put(o, "unit", cli_jstr(p->unit), err);
	cli_json_put(o, "nspid", p->nspid ? json_integer(p->nspid) : json_null(), err);
	cli_json_put(o, "container", cli_container_json(p->container, err), err);
	const char *ns = who_snap ? pw_snapshot_netns_name(who_snap, p->netns) : NULL;
	cli_json_put(o, "netns", p->netns ? json_integer((json_int_t)p->netns) : json_null(), err);
	cli_json_put(o, "netns_name", cli_jstr(ns), err);
	char cmd[512];
	cli_json_put(o, "stop_command",
		     p->container && pw_container_stop_command(p->container, cmd, sizeof(cmd)) >= 0
			 ? json_string(cmd)
			 : json_null(),
		     err);
}

static json_t *sock_json(const struct pw_socket *s, int *err)
{
	char addr[64];
	json_t *o = json_object();
	if (!o) {
		*err = -ENOMEM;
		return NULL;
	}
	pw_addr_format(&s->laddr, false, addr, sizeof(addr));
	cli_json_put(o, "inode", json_integer(s->inode), err);
	cli_json_put(o, "proto", json_string(pw_proto_name(s->proto)), err);
	cli_json_put(o, "family", json_string(s->family == AF_INET6 ? "ipv6" : "ipv4"), err);
	cli_json_put(o, "local_address", json_string(addr), err);
	cli_json_put(o, "local_port", json_integer(s->lport), err);
	cli_json_put(o, "uid", json_integer(s->uid), err);
	cli_json_put(o, "kernel_owner", cli_jstr(s->kernel_owner), err);
	return o;
}

static json_t *plan_json(const struct run *run, int *err)
{
	const struct pw_kill_plan *plan = &run->plan;
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < plan->n_targets; i++) {
		const struct pw_kill_target *t = &plan->targets[i];
		json_t *o = json_object();
		if (!o) {
			*err = -ENOMEM;
			break;
		}
		put_proc(o, t->proc, err);
		cli_json_put(o, "action",
			     json_string(t->verdict == PW_KV_SIGNAL ? "signal"
					 : t->verdict == PW_KV_GONE ? "none"
								    : "refuse"),
			     err);
		cli_json_put(o, "verdict", json_string(pw_kill_verdict_name(t->verdict)), err);
		cli_json_put(o, "phase", t->phase ? json_integer(t->phase) : json_null(), err);
		cli_json_put(o, "after", t->ancestor ? json_integer(t->ancestor) : json_null(),
			     err);
		cli_json_put(o, "why", jstr_own(target_why(run, t)), err);
		cli_json_append(arr, o, err);
	}
	if (!arr)
		*err = -ENOMEM;
	return arr;
}

static json_t *signalled_json(const struct run *run, int *err)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < run->log.n_events; i++) {
		const struct pw_kill_event *e = &run->log.events[i];
		if (e->kind != PW_KILL_EV_SIGNAL)
			continue;
		json_t *o = json_object();
		if (!o) {
			*err = -ENOMEM;
			break;
		}
		char sb[32];
		const char *res = e->err == 0	    ? "sent"
				  : e->err == ESRCH ? "gone"
				  : e->err == EPERM ? "permission-denied"
						    : "error";
		put_proc(o, run->plan.targets[e->index].proc, err);
		cli_json_put(o, "signal", json_string(kill_signame(e->sig, sb, sizeof(sb))), err);
		cli_json_put(o, "result", json_string(res), err);
		cli_json_put(o, "error", e->err == 0 ? json_null() : json_string(strerror(e->err)),
			     err);
		cli_json_append(arr, o, err);
	}
	if (!arr)
		*err = -ENOMEM;
	return arr;
}

static json_t *refused_json(const struct run *run, int *err)
{
	const struct pw_kill_plan *plan = &run->plan;
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < plan->n_targets; i++) {
		const struct pw_kill_target *t = &plan->targets[i];
		if (t->verdict == PW_KV_SIGNAL || t->verdict == PW_KV_GONE)
			continue;
		json_t *o = json_object();
		if (!o) {
			*err = -ENOMEM;
			break;
		}
		put_proc(o, t->proc, err);
		cli_json_put(o, "reason", json_string(pw_kill_verdict_name(t->verdict)), err);
		cli_json_put(o, "why", jstr_own(target_why(run, t)), err);
		const struct pw_unit_stop *st =
		    t->stop < plan->n_stops ? &plan->stops[t->stop] : NULL;
		cli_json_put(o, "advice", cli_jstr(st ? st->command : NULL), err);
		cli_json_put(o, "socket", json_null(), err);
		cli_json_append(arr, o, err);
	}
	for (size_t i = 0; arr && i < plan->n_unheld; i++) {
		const struct pw_unheld *u = &plan->unheld[i];
		json_t *o = json_object();
		if (!o) {
			*err = -ENOMEM;
			break;
		}
		static const char *const kinds[] = {"kernel", "unknown-owner", "hidden"};
		cli_json_put(o, "pid", json_null(), err);
		cli_json_put(o, "command", json_null(), err);
		cli_json_put(o, "reason", json_string(kinds[u->kind]), err);
		cli_json_put(o, "why",
			     json_string(u->kind == PW_UNHELD_KERNEL ? "the kernel owns this socket"
					 : u->kind == PW_UNHELD_UNKNOWN
					     ? "no process holds this socket"
					     : "its holder is a process this run "
					       "cannot inspect"),
			     err);
		cli_json_put(o, "advice", cli_jstr(u->command), err);
		cli_json_put(o, "socket", sock_json(u->sock, err), err);
		cli_json_append(arr, o, err);
	}
	if (!arr)
		*err = -ENOMEM;
	return arr;
}

static json_t *gone_json(const struct run *run, int *err)
{
	static const char *const when[] = {"", "at-scan", "before-signal", "after-parent"};
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < run->plan.n_targets; i++) {
		if (run->log.targets[i].gone == PW_KILL_NOT_GONE)
			continue;
		json_t *o = json_object();
		if (!o) {
			*err = -ENOMEM;
			break;
		}
		put_proc(o, run->plan.targets[i].proc, err);
		cli_json_put(o, "when", json_string(when[run->log.targets[i].gone]), err);
		cli_json_append(arr, o, err);
	}
	if (!arr)
		*err = -ENOMEM;
	return arr;
}

static json_t *units_json(const struct run *run, int *err)
{
	const struct pw_kill_plan *plan = &run->plan;
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < plan->n_stops; i++) {
		const struct pw_unit_stop *st = &plan->stops[i];
		const struct pw_kill_stop_state *ss = &run->log.stops[i];
		json_t *o = json_object(), *u = json_array();
		if (!o || !u) {
			json_decref(o);
			json_decref(u);
			*err = -ENOMEM;
			break;
		}
		for (size_t k = 0; k < st->n_units; k++)
			cli_json_append(u, cli_jstr(st->units[k]), err);
		cli_json_put(o, "units", u, err);
		cli_json_put(o, "user", json_boolean(st->user), err);
		cli_json_put(o, "uid", st->user ? json_integer(st->uid) : json_null(), err);
		cli_json_put(o, "command", cli_jstr(st->command), err);
		cli_json_put(o, "hint", cli_jstr(st->hint), err);
		/* units of a container's systemd: the host PID of its init */
		cli_json_put(o, "container", st->container > 0 ? json_integer(st->container)
								: json_null(), err);
		cli_json_put(o, "requested", json_boolean(ss->tried), err);
		cli_json_put(o, "result",
			     !ss->tried ? json_null()
			     : ss->err	? json_string("error")
					: json_string("stopped"),
			     err);
		cli_json_put(o, "error",
			     ss->tried && ss->err
				 ? cli_jstr(ss->message ? ss->message : strerror(ss->err))
				 : json_null(),
			     err);
		cli_json_append(arr, o, err);
	}
	if (!arr)
		*err = -ENOMEM;
	return arr;
}

int kill_print_json(const struct run *run, int status)
{
	const struct kill_opts *o = run->o;
	int err = 0;
	char sb[32];
	json_t *j = json_object();
	if (!j)
		return -ENOMEM;
	cli_json_put(j, "schema_version", json_integer(PW_JSON_SCHEMA_VERSION), &err);
	cli_json_put(j, "found", snapshot_json(o, run->snap), &err);
	cli_json_put(j, "dry_run", json_boolean(o->dry_run), &err);
	cli_json_put(j, "signal", json_string(kill_signame(o->sig, sb, sizeof(sb))), &err);
	cli_json_put(j, "timeout", json_real(o->timeout), &err);
	cli_json_put(j, "kill_after", o->kill_after_set ? json_real(o->kill_after) : json_null(),
		     &err);
	cli_json_put(j, "plan", plan_json(run, &err), &err);
	cli_json_put(j, "signalled", signalled_json(run, &err), &err);
	cli_json_put(j, "refused", refused_json(run, &err), &err);
	cli_json_put(j, "gone", gone_json(run, &err), &err);
	cli_json_put(j, "units", units_json(run, &err), &err);
	json_t *fin = json_object();
	if (fin && run->nothing_held) {
		cli_json_put(fin, "free", json_true(), &err);
		cli_json_put(fin, "acted", json_false(), &err);
		cli_json_put(fin, "waited", json_real(0), &err);
		cli_json_put(fin, "ports", json_array(), &err);
		cli_json_put(j, "final", fin, &err);
	} else if (fin && run->final) {
		json_t *doc = snapshot_json(o, run->final);
		json_t *ports = doc ? json_object_get(doc, "ports") : NULL;
		cli_json_put(fin, "free", json_boolean(run->log.free_now), &err);
		cli_json_put(fin, "acted", json_boolean(run->log.acted), &err);
		cli_json_put(fin, "waited", json_real(run->log.waited), &err);
		cli_json_put(fin, "ports", ports ? json_incref(ports) : NULL, &err);
		json_decref(doc);
		cli_json_put(j, "final", fin, &err);
	} else if (fin) {
		json_decref(fin);
		cli_json_put(j, "final", json_null(), &err);
	} else {
		err = -ENOMEM;
	}
	cli_json_put(j, "exit_status", json_integer(status), &err);
	cli_json_put(j, "error", cli_jstr(run->error), &err);
	if (err == 0)
		err = cli_json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (err == 0)
		putchar('\n');
	json_decref(j);
	return err;
}

void kill_print_final(const struct run *run)
{
	const struct kill_opts *o = run->o;
	char pb[256];
	kill_ports_text(o, pb, sizeof(pb));
	if (run->log.free_now) {
		if (run->log.acted)
			printf("%s is free now (after %.1f s).\n", pb, run->log.waited);
		else
			printf("%s is free now.\n", pb);
		return;
	}
	if (run->log.acted && run->log.waited >= 0.05)
		printf("%s is still held after %.1f s:\n", pb, run->log.waited);
	else
		printf("%s is still held:\n", pb);
	fflush(stdout);
	if (run->final)
		kill_show_table(o, run->final, stdout);
	bool alive = false;
	for (size_t i = 0; i < run->plan.n_targets; i++)
		alive |= run->log.targets[i].sent && !run->log.targets[i].exited;
	char sb[32];
	if (alive && !o->kill_after_set && o->sig != SIGKILL)
		printf("Some holders outlived %s: add --kill-after SECS to send SIGKILL, or a "
		       "longer --timeout.\n",
		       kill_signame(o->sig, sb, sizeof(sb)));
	for (size_t i = 0; i < run->plan.n_stops; i++) {
		const struct pw_unit_stop *st = &run->plan.stops[i];
		if (st->command && !run->log.stops[i].tried)
			printf("To free it: %s  (or portwho kill --unit)\n", st->command);
	}
	for (size_t i = 0; i < run->plan.n_unheld; i++)
		if (run->plan.unheld[i].command)
			printf("To free it: %s\n", run->plan.unheld[i].command);
}
