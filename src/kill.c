/* SPDX-License-Identifier: MIT */
/*
 * portwho kill PORTSPEC... [OPTIONS]: free a port. Show who holds it and what
 * will be done, ask (or --yes), signal through pidfds opened at scan time,
 * wait while re-checking the sockets, escalate only with --kill-after, and
 * end by saying whether the port is free and who still holds it.
 *
 * parse_kill() -> scan (snapshot, pidfds) -> plan (lib/kill/signal.c, pure) ->
 * show -> confirm -> act (units, parents, children) -> wait -> final scan.
 * Exit 0 port free, 1 nothing held it, 2 error or refusal, 3 still held.
 *
 * PORTWHO_TEST_PAUSE_BEFORE_SIGNAL=FILE is for the test suite only: after
 * the scan and the confirmation, before anything is signalled, say so on
 * stderr and wait until FILE exists (tests/e2e/test_kill.py uses it to
 * recycle a holder's PID in between).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h> /* isfinite only: no libm */
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kill.h"
#include "portwho-cmd.h"

#define POLL_SECONDS 0.1    /* a new look at the sockets this often */
#define FOLLOW_SECONDS 1.0  /* how long children get to follow their parent */
#define MAX_SECONDS 86400.0 /* --timeout, --kill-after */
#define PAUSE_SECONDS 300.0 /* the test hook never waits longer */

struct kill_opts {
	char **spec_args; /* as typed, for messages */
	size_t n_specs;
	struct pw_portspec *specs;
	struct pw_services *services;
	unsigned protos, families;
	bool all;
	enum pw_netns_scope netns_scope;
	char *netns_path;
	char *netns_name; /* set when the namespace is /run/netns/NAME */
	int sig;
	double timeout;
	bool kill_after_set;
	double kill_after;
	bool yes, dry_run, unit, json;
};

static void kill_opts_free(struct kill_opts *o)
{
	free(o->specs);
	free(o->netns_path);
	free(o->netns_name);
	pw_services_free(o->services);
}

static void kill_help(void)
{
	fputs("Usage: portwho kill PORTSPEC... [OPTIONS]\n"
	      "Free a port: show who holds it and what will be done, ask, signal, wait,\n"
	      "and say whether the port is free now and who still holds it.\n"
	      "\n"
	      "  -t, -u, -4, -6        only TCP, UDP, IPv4 or IPv6 sockets\n"
	      "  -a, --all             also processes that only hold connections on the port\n"
	      "  -N, --netns WHICH     all (default), current, NAME (/run/netns), PATH or PID\n"
	      "  -s, --signal SIG      the signal to send (default TERM)\n"
	      "      --timeout SECS    wait this long for the port to be free (default 5)\n"
	      "      --kill-after SECS then send KILL to holders still running\n"
	      "      --unit            stop the systemd units that hold it (over D-Bus)\n"
	      "  -y, --yes             do not ask (needed when stdin is not a terminal)\n"
	      "      --dry-run         only show what would be done\n"
	      "  -J, --json            JSON output\n"
	      "  -h, --help            this text\n"
	      "\n"
	      "Never signalled: PID 1, a container's init (its runtime's stop command is\n"
	      "shown: docker stop web), systemd managers, processes of systemd services and\n"
	      "socket units (the systemctl command is shown; --unit asks systemd instead),\n"
	      "sockets the kernel owns (the command that removes the owner is shown).\n"
	      "Exit: 0 the port is free, 1 nothing held it, 2 error or refused, 3 still held.\n"
	      "See portwho-kill(8).\n",
	      stdout);
}

/* -N: all (the default, as `portwho` lists), or one namespace */
static int parse_netns(struct kill_opts *o, const char *arg)
{
	free(o->netns_name);
	o->netns_name = NULL;
	if (!strcmp(arg, "all")) { /* the default: what `portwho` lists */
		free(o->netns_path);
		o->netns_path = NULL;
		o->netns_scope = PW_NETNS_ALL;
		return 0;
	}
	int r = cli_parse_netns(arg, "kill: -N all, current, NAME, PATH or PID", &o->netns_scope,
				&o->netns_path);
	if (r < 0 || !o->netns_path)
		return r;
	const char *base = "/run/netns/";
	const char *rest = o->netns_path + strlen(base);
	if (!strncmp(o->netns_path, base, strlen(base)) && *rest && !strchr(rest, '/') &&
	    !(o->netns_name = strdup(rest)))
		return -ENOMEM;
	return 0;
}

/* TERM, SIGTERM, term, 15 */
static int parse_signal(struct kill_opts *o, const char *arg)
{
	const char *name = arg;
	if (cli_all_digits(arg)) {
		long v = strtol(arg, NULL, 10);
		if (v >= 1 && v < NSIG && strlen(arg) < 4) {
			o->sig = (int)v;
			return 0;
		}
		return cli_usage_error("invalid signal '%s'", arg);
	}
	if (!strncasecmp(name, "SIG", 3))
		name += 3;
	for (int s = 1; s < NSIG; s++) {
		const char *abbrev = sigabbrev_np(s);
		if (abbrev && !strcasecmp(abbrev, name)) {
			o->sig = s;
			return 0;
		}
	}
	return cli_usage_error("unknown signal '%s' (try TERM, INT, HUP, KILL or a number)", arg);
}

static int parse_seconds(const char *opt, const char *arg, double *ret)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v < 0 || v > MAX_SECONDS)
		return cli_usage_error("%s takes seconds (0 to %.0f), not '%s'", opt, MAX_SECONDS,
				       arg);
	*ret = v;
	return 0;
}

static int parse_specs(struct kill_opts *o, int n, char **args)
{
	int r = pw_services_load(NULL, &o->services);
	if (r < 0)
		o->services = NULL; /* numeric ports still work */
	o->specs = calloc((size_t)n, sizeof(*o->specs));
	if (!o->specs)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		char err[256] = "";
		if (pw_portspec_parse(args[i], o->services, &o->specs[i], err, sizeof(err)) < 0)
			return cli_usage_error("%s", err[0] ? err : "invalid port specification");
	}
	o->spec_args = args;
	o->n_specs = (size_t)n;
	return 0;
}

/* 1 to go on, 0 after --help, -errno after a message */
static int parse_kill(int argc, char **argv, struct kill_opts *o)
{
	enum { OPT_TIMEOUT = 256, OPT_KILL_AFTER, OPT_UNIT, OPT_DRY_RUN };
	static const struct option longopts[] = {
	    {"tcp", no_argument, NULL, 't'},
	    {"udp", no_argument, NULL, 'u'},
	    {"ipv4", no_argument, NULL, '4'},
	    {"ipv6", no_argument, NULL, '6'},
	    {"all", no_argument, NULL, 'a'},
	    {"netns", required_argument, NULL, 'N'},
	    {"signal", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"kill-after", required_argument, NULL, OPT_KILL_AFTER},
	    {"unit", no_argument, NULL, OPT_UNIT},
	    {"yes", no_argument, NULL, 'y'},
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {"json", no_argument, NULL, 'J'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	bool tcp = false, udp = false, v4 = false, v6 = false;
	int c, r = 0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":tu46aN:s:yJh", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			tcp = true;
			break;
		case 'u':
			udp = true;
			break;
		case '4':
			v4 = true;
			break;
		case '6':
			v6 = true;
			break;
		case 'a':
			o->all = true;
			break;
		case 'N':
			r = parse_netns(o, optarg);
			break;
		case 's':
			r = parse_signal(o, optarg);
			break;
		case OPT_TIMEOUT:
			r = parse_seconds("--timeout", optarg, &o->timeout);
			break;
		case OPT_KILL_AFTER:
			r = parse_seconds("--kill-after", optarg, &o->kill_after);
			o->kill_after_set = true;
			break;
		case OPT_UNIT:
			o->unit = true;
			break;
		case 'y':
			o->yes = true;
			break;
		case OPT_DRY_RUN:
			o->dry_run = true;
			break;
		case 'J':
			o->json = true;
			break;
		case 'h':
			kill_help();
			return 0;
		case ':':
			return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt > 0 && optopt < 0x100)
				return cli_usage_error(
				    "unknown option '-%c' (see portwho kill --help)", optopt);
			return cli_usage_error("unknown option '%s' (see portwho kill --help)",
					       argv[optind - 1]);
		}
		if (r < 0)
			return r;
	}
	if (optind >= argc)
		return cli_usage_error(
		    "kill needs a port: portwho kill PORTSPEC (e.g. 8080, 53/udp)");
	o->protos = tcp == udp ? 0 : tcp ? PW_PROTO_TCP : PW_PROTO_UDP;
	o->families = v4 == v6 ? 0 : v4 ? PW_FAMILY_INET : PW_FAMILY_INET6;
	if ((r = parse_specs(o, argc - optind, argv + optind)) < 0)
		return r;
	if (o->sig == SIGKILL && o->kill_after_set)
		return cli_usage_error("--kill-after adds nothing when the signal is KILL already");
	return 1;
}

/* ---- time ------------------------------------------------------------------------ */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double dmin(double a, double b)
{
	return a < b ? a : b;
}

static void sleep_for(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = {.tv_sec = (time_t)s,
			      .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- scanning ---------------------------------------------------------------------- */

static uint32_t kill_states(const struct kill_opts *o)
{
	if (o->all)
		return 0;
	return PW_STATE_BIT(PW_ST_LISTEN) | PW_STATE_BIT(PW_ST_CLOSE) |
	       PW_STATE_BIT(PW_ST_BOUND_INACTIVE);
}

static int scan(const struct kill_opts *o, bool full, struct pw_snapshot **ret)
{
	struct pw_query q = {
	    .specs = o->specs,
	    .n_specs = o->n_specs,
	    .protos = o->protos,
	    .families = o->families,
	    .states = kill_states(o),
	    .netns_scope = o->netns_scope,
	    .netns_path = o->netns_path,
	    .no_holders = !full,
	    .no_explain = !full,
	};
	return pw_snapshot_take(&q, ret);
}

/* Sockets that hold the port: TIME-WAIT and other inode-0 leftovers belong
 * to nobody and go away by themselves. */
static size_t held_sockets(const struct pw_snapshot *snap)
{
	size_t n = 0;
	for (size_t i = 0; i < pw_snapshot_n_sockets(snap); i++)
		n += pw_snapshot_socket(snap, i)->inode != 0;
	return n;
}

/* The options the main command's renderers read. */
static void render_opts(const struct kill_opts *ko, struct options *o)
{
	*o = (struct options){
	    .protos = ko->protos,
	    .families = ko->families,
	    .query_states = kill_states(ko),
	    .all = ko->all,
	    .netns_scope = ko->netns_scope,
	    .specs = ko->specs,
	    .n_specs = ko->n_specs,
	    .services = ko->services,
	};
}

static int show_table(const struct kill_opts *ko, const struct pw_snapshot *snap, FILE *f)
{
	struct options o;
	render_opts(ko, &o);
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
	render_opts(ko, &o);
	struct view v;
	if (view_build(&o, snap, &v) < 0)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_t *j = NULL;
	if (f) {
		int r = render_json(&o, &v, f);
		if (fclose(f) == 0 && r == 0)
			j = json_loadb(buf, len, 0, NULL);
	}
	free(buf);
	view_free(&v);
	return j;
}

/* ---- the run's record ----------------------------------------------------------------- */

enum send_result { SENT, SEND_GONE, SEND_EPERM, SEND_ERROR };

struct send {
	size_t ti; /* index in plan.targets */
	int sig;
	enum send_result result;
	int err;
};

enum gone_when { NOT_GONE, GONE_AT_SCAN, GONE_BEFORE_SIGNAL, GONE_AFTER_PARENT };

struct tstate {
	bool sent;   /* a signal reached it */
	bool exited; /* seen gone after being signalled */
	enum gone_when gone;
};

struct stop_state {
	bool tried;
	int err;
	char *message;
};

struct run {
	const struct kill_opts *o;
	struct pw_caller caller;
	struct pw_snapshot *snap, *final;
	struct pw_kill_plan plan;
	struct tstate *ts;
	struct stop_state *ss;
	struct send *sends;
	size_t n_sends, cap_sends;
	bool acted, confirmed_off;
	bool perm_error;  /* EPERM from the kernel, or systemd said no */
	bool stop_failed; /* a stop asked with --unit did not go through */
	bool free_now;
	bool nothing_held; /* the first scan found nothing */
	double waited;
	const char *error; /* why nothing was done, for JSON */
};

static const char *signame(int sig, char *buf, size_t len)
{
	const char *a = sigabbrev_np(sig);
	if (a)
		snprintf(buf, len, "SIG%s", a);
	else
		snprintf(buf, len, "signal %d", sig);
	return buf;
}

static const char *ports_text(const struct kill_opts *o, char *buf, size_t len)
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

/* for who(): the snapshot naming namespaces (one run at a time) */
static const struct pw_snapshot *who_snap;

static void who(FILE *f, const struct pw_process *p)
{
	fprintf(f, "PID %d ", (int)p->pid);
	cli_print_escaped(f, p->comm);
	if (p->user)
		fprintf(f, " (%s)", p->user);
	else if (p->facts_read)
		fprintf(f, " (uid %u)", p->uid);
	char label[512];
	if (p->container && pw_container_label(p->container, label, sizeof(label)) >= 0) {
		fputs(" in container ", f);
		cli_print_escaped(f, label);
		if (p->nspid && p->nspid != p->pid)
			fprintf(f, " (PID %d there)", (int)p->nspid);
	}
	if (who_snap && p->netns && p->netns != pw_snapshot_netns_current(who_snap)) {
		const char *ns = pw_snapshot_netns_name(who_snap, p->netns);
		if (!p->container || !ns || strcmp(ns, label)) {
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
		s = strdup("portwho never signals PID 1");
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

static void sock_text(FILE *f, const struct pw_socket *s)
{
	char ep[96];
	pw_endpoint_format(&s->laddr, s->lport, s->ifname, ep, sizeof(ep));
	fprintf(f, "%s%s %s", pw_proto_name(s->proto), s->family == AF_INET6 ? "6" : "", ep);
}

static void print_plan(const struct run *run, FILE *f)
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
			signame(o->sig, sb, sizeof(sb)), o->timeout);
		if (o->kill_after_set)
			fprintf(f, " (SIGKILL after %g s)", o->kill_after);
	} else {
		fputs(" (nothing to signal)", f);
	}
	fputs(":\n", f);
	for (size_t i = 0; i < plan->n_targets; i++) {
		const struct pw_kill_target *t = &plan->targets[i];
		fprintf(f, "  %-7s ", verdict_word(t->verdict));
		who(f, t->proc);
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
			sock_text(f, u->sock);
			fputs(" belongs to the kernel: ", f);
			cli_print_escaped(f, u->sock->kernel_owner);
			if (u->command)
				fprintf(f, "; to free it: %s\n", u->command);
			else
				fputs("; remove that to free the port\n", f);
		} else if (u->kind == PW_UNHELD_UNKNOWN) {
			fprintf(f, "  %-7s ", "kernel");
			sock_text(f, u->sock);
			fputs(" has no holder process: the kernel keeps it (nfs/sunrpc, a tunnel, "
			      "fou?); nothing to signal\n",
			      f);
		} else {
			fprintf(f, "  %-7s ", "hidden");
			sock_text(f, u->sock);
			fprintf(f,
				" (socket of uid %u) is held by a process this run cannot "
				"inspect\n",
				u->sock->uid);
		}
	}
}

/* ---- acting -------------------------------------------------------------------------- */

static int record_send(struct run *run, size_t ti, int sig, int r)
{
	if (run->n_sends == run->cap_sends) {
		size_t cap = run->cap_sends ? 2 * run->cap_sends : 8;
		struct send *v = realloc(run->sends, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		run->sends = v;
		run->cap_sends = cap;
	}
	enum send_result res = r == 0	     ? SENT
			       : r == -ESRCH ? SEND_GONE
			       : r == -EPERM ? SEND_EPERM
					     : SEND_ERROR;
	run->sends[run->n_sends++] = (struct send){ti, sig, res, -r};
	return 0;
}

static void say_send(const struct run *run, size_t ti, int sig, int r)
{
	if (run->o->json)
		return;
	const struct pw_process *p = run->plan.targets[ti].proc;
	char sb[32];
	signame(sig, sb, sizeof(sb));
	if (r == 0) {
		printf("%s sent to ", sb);
		who(stdout, p);
		putchar('\n');
	} else if (r == -ESRCH) {
		who(stdout, p);
		puts(": already gone, not signalled");
	} else {
		printf("%s to ", sb);
		who(stdout, p);
		printf(" failed: %s\n", strerror(-r));
	}
	fflush(stdout);
}

static int send_to(struct run *run, size_t ti, int sig)
{
	struct pw_kill_target *t = &run->plan.targets[ti];
	int r = pw_target_signal(t->pidfd, sig);
	if (r == 0)
		run->ts[ti].sent = true;
	else if (r == -ESRCH && !run->ts[ti].sent)
		run->ts[ti].gone = GONE_BEFORE_SIGNAL;
	else if (r == -EPERM)
		run->perm_error = true;
	say_send(run, ti, sig, r);
	return record_send(run, ti, sig, r);
}

static bool target_exited(const struct run *run, size_t ti)
{
	const struct pw_kill_target *t = &run->plan.targets[ti];
	return t->pidfd < 0 || pw_target_exited(t->pidfd) != 0;
}

/* Give a pre-fork server's children a moment to follow their parent. */
static void wait_for_parents(struct run *run)
{
	const struct pw_kill_plan *plan = &run->plan;
	double until = now() + dmin(FOLLOW_SECONDS, run->o->timeout);
	for (;;) {
		bool all = true;
		for (size_t i = 0; i < plan->n_targets && all; i++)
			if (plan->targets[i].verdict == PW_KV_SIGNAL &&
			    plan->targets[i].phase == 1 && run->ts[i].sent)
				all = target_exited(run, i);
		if (all || now() >= until)
			return;
		sleep_for(POLL_SECONDS / 2);
	}
}

static int stop_units(struct run *run)
{
	const struct pw_kill_plan *plan = &run->plan;
	for (size_t i = 0; i < plan->n_stops; i++) {
		const struct pw_unit_stop *st = &plan->stops[i];
		if (!st->n_units)
			continue;
		struct stop_state *ss = &run->ss[i];
		ss->tried = true;
		int r = pw_unit_stop_run(st, run->caller.euid, &ss->message);
		ss->err = -r;
		if (r == -ENOMEM)
			return r;
		if (r == -EPERM || r == -EACCES)
			run->perm_error = true;
		else if (r < 0)
			run->stop_failed = true;
		if (run->o->json)
			continue;
		if (r == 0) {
			if (st->user)
				printf("asked the systemd --user manager of %s to stop", st->who);
			else
				fputs("asked systemd to stop", stdout);
			for (size_t k = 0; k < st->n_units; k++)
				printf(" %s", st->units[k]);
			putchar('\n');
		} else if (r == -EOPNOTSUPP)
			printf(
			    "cannot ask systemd: portwho was built without libsystemd; run: %s\n",
			    st->command);
		else
			printf("the units were not stopped: %s; run: %s\n",
			       ss->message ? ss->message : strerror(-r), st->command);
	}
	return 0;
}

static bool anything_to_do(const struct run *run)
{
	const struct pw_kill_plan *plan = &run->plan;
	for (size_t i = 0; i < plan->n_targets; i++)
		if (plan->targets[i].verdict == PW_KV_SIGNAL)
			return true;
	for (size_t i = 0; run->o->unit && i < plan->n_stops; i++)
		if (plan->stops[i].n_units)
			return true;
	return false;
}

static int test_pause(void)
{
	const char *file = getenv("PORTWHO_TEST_PAUSE_BEFORE_SIGNAL");
	if (!file || !*file)
		return 0;
	fprintf(stderr, "portwho: test pause: waiting for %s\n", file);
	double until = now() + PAUSE_SECONDS;
	while (access(file, F_OK) < 0 && now() < until)
		sleep_for(0.01);
	return 0;
}

/* Signal, wait, escalate; returns when the port is free, when nothing it
 * acted on is left, or at the deadline. */
static int act(struct run *run)
{
	const struct kill_opts *o = run->o;
	struct pw_kill_plan *plan = &run->plan;
	int r;
	double t0 = now();
	double deadline = t0 + o->timeout;
	if (o->kill_after_set && o->kill_after >= o->timeout)
		deadline = t0 + o->kill_after + 1.0; /* give SIGKILL its chance */
	run->acted = true;

	bool units = false;
	if (o->unit) {
		if ((r = stop_units(run)) < 0)
			return r;
		for (size_t i = 0; i < plan->n_stops; i++)
			units |= run->ss[i].tried && run->ss[i].err == 0;
	}
	bool phase2 = false;
	for (size_t i = 0; i < plan->n_targets; i++) {
		const struct pw_kill_target *t = &plan->targets[i];
		if (t->verdict != PW_KV_SIGNAL)
			continue;
		if (t->phase == 1) {
			if ((r = send_to(run, i, o->sig)) < 0)
				return r;
		} else {
			phase2 = true;
		}
	}
	if (phase2) {
		wait_for_parents(run);
		for (size_t i = 0; i < plan->n_targets; i++) {
			const struct pw_kill_target *t = &plan->targets[i];
			if (t->verdict != PW_KV_SIGNAL || t->phase != 2)
				continue;
			if (target_exited(run, i)) {
				run->ts[i].gone = GONE_AFTER_PARENT;
				if (!o->json) {
					who(stdout, t->proc);
					printf(" exited after its parent PID %d\n",
					       (int)t->ancestor);
				}
			} else if ((r = send_to(run, i, o->sig)) < 0) {
				return r;
			}
		}
	}

	bool killed = false;
	for (;;) {
		bool alive = false;
		for (size_t i = 0; i < plan->n_targets; i++)
			if (run->ts[i].sent && !run->ts[i].exited) {
				run->ts[i].exited = target_exited(run, i);
				alive |= !run->ts[i].exited;
			}
		double t = now();
		if (o->kill_after_set && !killed && alive && t - t0 >= o->kill_after) {
			killed = true;
			for (size_t i = 0; i < plan->n_targets; i++)
				if (run->ts[i].sent && !run->ts[i].exited &&
				    (r = send_to(run, i, SIGKILL)) < 0)
					return r;
			continue;
		}
		struct pw_snapshot *s = NULL;
		r = scan(o, false, &s);
		if (r < 0)
			return r;
		bool held = held_sockets(s) > 0;
		pw_snapshot_free(s);
		run->waited = now() - t0;
		if (!held) {
			run->free_now = true;
			return 0;
		}
		/* what is left is nothing this run touched: no use waiting */
		if (!alive && !units)
			return 0;
		if (now() >= deadline)
			return 0;
		double next = POLL_SECONDS;
		if (o->kill_after_set && !killed && alive)
			next = dmin(next, t0 + o->kill_after - now());
		sleep_for(next);
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
	static const char *const res[] = {"sent", "gone", "permission-denied", "error"};
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < run->n_sends; i++) {
		const struct send *s = &run->sends[i];
		json_t *o = json_object();
		if (!o) {
			*err = -ENOMEM;
			break;
		}
		char sb[32];
		put_proc(o, run->plan.targets[s->ti].proc, err);
		cli_json_put(o, "signal", json_string(signame(s->sig, sb, sizeof(sb))), err);
		cli_json_put(o, "result", json_string(res[s->result]), err);
		cli_json_put(o, "error",
			     s->result == SENT ? json_null() : json_string(strerror(s->err)), err);
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
		if (run->ts[i].gone == NOT_GONE)
			continue;
		json_t *o = json_object();
		if (!o) {
			*err = -ENOMEM;
			break;
		}
		put_proc(o, run->plan.targets[i].proc, err);
		cli_json_put(o, "when", json_string(when[run->ts[i].gone]), err);
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
		const struct stop_state *ss = &run->ss[i];
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

static int print_json(const struct run *run, int status)
{
	const struct kill_opts *o = run->o;
	int err = 0;
	char sb[32];
	json_t *j = json_object();
	if (!j)
		return -ENOMEM;
	cli_json_put(j, "found", snapshot_json(o, run->snap), &err);
	cli_json_put(j, "dry_run", json_boolean(o->dry_run), &err);
	cli_json_put(j, "signal", json_string(signame(o->sig, sb, sizeof(sb))), &err);
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
		cli_json_put(fin, "free", json_boolean(run->free_now), &err);
		cli_json_put(fin, "acted", json_boolean(run->acted), &err);
		cli_json_put(fin, "waited", json_real(run->waited), &err);
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
	if (err == 0 && json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
		err = -EIO;
	if (err == 0)
		putchar('\n');
	json_decref(j);
	return err;
}

static void print_final(const struct run *run)
{
	const struct kill_opts *o = run->o;
	char pb[256];
	ports_text(o, pb, sizeof(pb));
	if (run->free_now) {
		if (run->acted)
			printf("%s is free now (after %.1f s).\n", pb, run->waited);
		else
			printf("%s is free now.\n", pb);
		return;
	}
	if (run->acted && run->waited >= 0.05)
		printf("%s is still held after %.1f s:\n", pb, run->waited);
	else
		printf("%s is still held:\n", pb);
	fflush(stdout);
	if (run->final)
		show_table(o, run->final, stdout);
	bool alive = false;
	for (size_t i = 0; i < run->plan.n_targets; i++)
		alive |= run->ts[i].sent && !run->ts[i].exited;
	char sb[32];
	if (alive && !o->kill_after_set && o->sig != SIGKILL)
		printf("Some holders outlived %s: add --kill-after SECS to send SIGKILL, or a "
		       "longer --timeout.\n",
		       signame(o->sig, sb, sizeof(sb)));
	for (size_t i = 0; i < run->plan.n_stops; i++) {
		const struct pw_unit_stop *st = &run->plan.stops[i];
		if (st->command && !run->ss[i].tried)
			printf("To free it: %s  (or portwho kill --unit)\n", st->command);
	}
	for (size_t i = 0; i < run->plan.n_unheld; i++)
		if (run->plan.unheld[i].command)
			printf("To free it: %s\n", run->plan.unheld[i].command);
}

/* ---- run ---------------------------------------------------------------------------------- */

static bool ask(const struct run *run)
{
	const struct pw_kill_plan *plan = &run->plan;
	size_t n = 0, u = 0;
	for (size_t i = 0; i < plan->n_targets; i++)
		n += plan->targets[i].verdict == PW_KV_SIGNAL;
	for (size_t i = 0; run->o->unit && i < plan->n_stops; i++)
		u += plan->stops[i].n_units > 0;
	char sb[32];
	fputc('\n', stderr);
	if (n)
		fprintf(stderr, "Send %s to %zu process%s", signame(run->o->sig, sb, sizeof(sb)), n,
			n == 1 ? "" : "es");
	if (u)
		fprintf(stderr, "%s systemd to stop the units", n ? " and ask" : "Ask");
	fputs("? [y/N] ", stderr);
	fflush(stderr);
	char line[64];
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

/* Non-root and a holder it may not signal, or cannot even see: refuse it all. */
static bool refuse_for_permission(const struct run *run)
{
	const struct pw_kill_plan *plan = &run->plan;
	bool refuse = false;
	for (size_t i = 0; i < plan->n_targets; i++) {
		const struct pw_kill_target *t = &plan->targets[i];
		if (t->verdict != PW_KV_PERMISSION)
			continue;
		refuse = true;
		fputs("portwho: refusing: you may not signal ", stderr);
		who(stderr, t->proc);
		fputs(": run as root or as its user\n", stderr);
	}
	for (size_t i = 0; i < plan->n_unheld; i++) {
		const struct pw_unheld *u = &plan->unheld[i];
		if (u->kind != PW_UNHELD_HIDDEN || pw_snapshot_stats(run->snap)->privileged)
			continue;
		refuse = true;
		fputs("portwho: refusing: ", stderr);
		sock_text(stderr, u->sock);
		fprintf(stderr,
			" belongs to a process of another user (uid %u created the socket) that "
			"you cannot inspect or signal: run as root\n",
			u->sock->uid);
	}
	if (refuse)
		fputs("portwho: nothing was signalled\n", stderr);
	return refuse;
}

static int open_targets(struct run *run)
{
	struct pw_kill_plan *plan = &run->plan;
	for (size_t i = 0; i < plan->n_targets; i++) {
		struct pw_kill_target *t = &plan->targets[i];
		if (!t->proc->facts_read || t->proc->pid == 1 || t->proc->is_systemd) {
			t->facts.gone = !t->proc->facts_read;
			continue;
		}
		int r =
		    pw_target_open(NULL, t->proc->pid, t->proc->start_time, &t->pidfd, &t->facts);
		if (r < 0)
			return r;
	}
	return 0;
}

static int build_plan(struct run *run)
{
	const struct kill_opts *o = run->o;
	size_t n = pw_snapshot_n_sockets(run->snap);
	const struct pw_socket **socks = calloc(n ? n : 1, sizeof(*socks));
	const char **units = calloc(n ? n : 1, sizeof(*units));
	int r = -ENOMEM;
	if (!socks || !units)
		goto out;
	for (size_t i = 0; i < n; i++) {
		socks[i] = pw_snapshot_socket(run->snap, i);
		units[i] = pw_snapshot_socket_unit(run->snap, socks[i]);
	}
	r = pw_kill_plan_init(socks, n, units, &run->plan);
	if (r < 0)
		goto out;
	/* right after the scan: from here a PID can be reused without harm */
	r = open_targets(run);
	if (r < 0)
		goto out;
	const struct pw_stats *st = pw_snapshot_stats(run->snap);
	struct pw_kill_env env = {
	    .caller = run->caller,
	    .saw_all = st->privileged && st->hidden_processes == 0,
	    .netns_name = o->netns_name,
	    .netns_path = o->netns_name ? NULL : o->netns_path,
	    .current_netns = pw_snapshot_netns_current(run->snap),
	};
	r = pw_kill_plan_decide(&run->plan, &env);
	if (r < 0)
		goto out;
	size_t nt = run->plan.n_targets, ns = run->plan.n_stops;
	run->ts = calloc(nt ? nt : 1, sizeof(*run->ts));
	run->ss = calloc(ns ? ns : 1, sizeof(*run->ss));
	if (!run->ts || !run->ss) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nt; i++)
		if (run->plan.targets[i].verdict == PW_KV_GONE)
			run->ts[i].gone = GONE_AT_SCAN;
out:
	free(socks);
	free(units);
	return r;
}

static int finish(struct run *run, int status)
{
	if (run->o->json) {
		int r = print_json(run, status);
		if (r < 0) {
			fprintf(stderr, "portwho: %s\n", strerror(-r));
			return 2;
		}
	}
	if (fflush(stdout) == EOF && errno != EPIPE)
		return 2;
	return status;
}

static int kill_run(const struct kill_opts *o)
{
	struct run run = {.o = o};
	int status = 2, r;
	char pb[256];
	ports_text(o, pb, sizeof(pb));

	if (pw_proc_is_ours(NULL) == 0) {
		fputs("portwho: /proc belongs to another PID namespace than portwho: its PIDs "
		      "cannot be trusted to signal (mount this namespace's /proc, e.g. unshare "
		      "--mount-proc)\n",
		      stderr);
		return 2;
	}
	if ((r = pw_caller_read(&run.caller)) < 0 || (r = scan(o, true, &run.snap)) < 0) {
		fprintf(stderr, "portwho: cannot list sockets: %s\n", strerror(-r));
		return 2;
	}
	who_snap = run.snap;
	if (held_sockets(run.snap) == 0) {
		if (!o->json)
			printf("Nothing holds %s.\n", pb);
		run.free_now = run.nothing_held = true;
		status = finish(&run, 1);
		goto out;
	}
	r = build_plan(&run);
	if (r == -ENOSYS) {
		fputs("portwho: this kernel has no pidfds (Linux 5.3 or later is needed to signal "
		      "safely)\n",
		      stderr);
		goto out;
	}
	if (r == -EXDEV) {
		fputs("portwho: /proc belongs to another PID namespace than portwho: its PIDs "
		      "cannot be trusted to signal (mount this namespace's /proc, e.g. unshare "
		      "--mount-proc)\n",
		      stderr);
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "portwho: %s\n", strerror(-r));
		goto out;
	}

	bool interactive = !o->yes && !o->dry_run && anything_to_do(&run);
	FILE *txt = o->json ? (interactive && isatty(STDIN_FILENO) ? stderr : NULL) : stdout;
	if (txt) {
		fflush(stdout);
		show_table(o, run.snap, txt);
		print_plan(&run, txt);
		fflush(txt);
	}
	if (refuse_for_permission(&run)) {
		run.error = "refused: not allowed to signal every holder";
		status = finish(&run, 2);
		goto out;
	}
	if (o->dry_run) {
		if (!o->json)
			puts("\nDry run: nothing was signalled.");
		status = finish(&run, 0);
		goto out;
	}
	if (interactive) {
		if (!isatty(STDIN_FILENO)) {
			fputs("portwho: stdin is not a terminal: add --yes to act without asking "
			      "(--dry-run only shows the plan)\n",
			      stderr);
			run.error = "not confirmed: no terminal and no --yes";
			status = finish(&run, 2);
			goto out;
		}
		if (!ask(&run)) {
			if (!o->json)
				puts("Nothing done.");
			run.error = "not confirmed";
			status = finish(&run, 3);
			goto out;
		}
	}
	if (!o->json)
		putchar('\n');
	if (anything_to_do(&run)) {
		test_pause();
		if ((r = act(&run)) < 0) {
			fprintf(stderr, "portwho: %s\n", strerror(-r));
			goto out;
		}
	}
	if ((r = scan(o, true, &run.final)) < 0) {
		fprintf(stderr, "portwho: cannot list sockets: %s\n", strerror(-r));
		goto out;
	}
	run.free_now = held_sockets(run.final) == 0;
	if (!o->json)
		print_final(&run);
	status = run.perm_error || run.stop_failed ? 2 : run.free_now ? 0 : 3;
	if (run.perm_error && !o->json)
		fputs("portwho: the kernel refused a signal or systemd refused a stop "
		      "(permission)\n",
		      stderr);
	status = finish(&run, status);
out:
	for (size_t i = 0; run.ss && i < run.plan.n_stops; i++)
		free(run.ss[i].message);
	pw_kill_plan_free(&run.plan);
	free(run.ss);
	free(run.ts);
	free(run.sends);
	who_snap = NULL;
	pw_snapshot_free(run.snap);
	pw_snapshot_free(run.final);
	return status;
}

int cmd_kill(int argc, char **argv)
{
	struct kill_opts o = {
	    .netns_scope = PW_NETNS_ALL, /* what `portwho` lists: every namespace (root) */
	    .sig = SIGTERM,
	    .timeout = 5,
	};
	int r = parse_kill(argc, argv, &o);
	int status;
	if (r == -ENOMEM)
		fputs("portwho: out of memory\n", stderr);
	if (r < 0)
		status = 2;
	else if (r == 0)
		status = 0;
	else
		status = kill_run(&o);
	kill_opts_free(&o);
	return status;
}
