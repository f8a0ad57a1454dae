/* SPDX-License-Identifier: MIT */
/*
 * portwho watch: bind, listen, close and failed binds (with -a connect and
 * accept) as they happen, one line per event, or one JSON object per line.
 *
 * parse_argv() -> run(): open the watcher (BPF, else polling, said on
 * stderr), then print each event the library hands over, flushed at once,
 * until --count, --duration or a signal.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "portwho-cmd.h"
#include "portwho-watch.h"

struct watch_opts {
	unsigned protos, families;
	bool all, json, force_poll;
	enum pw_netns_scope netns_scope;
	char *netns_path;
	unsigned long count;  /* 0: no limit */
	double duration;      /* seconds, 0: no limit */
	unsigned interval_ms; /* polling */
	struct pw_portspec *specs;
	size_t n_specs;
	struct pw_services *services;
	uint64_t my_netns; /* for the terminal: other namespaces are named */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void help(void)
{
	fputs("Usage: portwho watch [OPTIONS] [PORTSPEC...]\n"
	      "Print bind, listen, close and failed binds on these ports as they happen.\n"
	      "\n"
	      "  -t, --tcp  -u, --udp  -4  -6  only TCP, UDP, IPv4 or IPv6 sockets\n"
	      "  -a, --all              also connect and accept, and closes of connections\n"
	      "  -N, --netns WHICH      all (default), current, NAME (/run/netns), PATH or PID\n"
	      "  -J, --json             one JSON object per line, flushed per event\n"
	      "      --count N          stop after N events\n"
	      "      --duration S       stop after S seconds (decimals allowed)\n"
	      "      --poll             poll sock_diag even when BPF tracing is possible\n"
	      "      --interval S       seconds between polls (default 1)\n"
	      "  -h, --help             Exit: 0 when it ran, 2 on error\n",
	      stdout);
}

static void watch_opts_free(struct watch_opts *o)
{
	free(o->netns_path);
	free(o->specs);
	pw_services_free(o->services);
}

static int parse_seconds(const char *what, const char *arg, double max, double *ret)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v <= 0 || v > max)
		return cli_usage_error("invalid %s '%s' (seconds, more than 0, at most %.0f)", what,
				       arg, max);
	*ret = v;
	return 0;
}

static int parse_count(const char *arg, unsigned long *ret)
{
	char *end;
	errno = 0;
	unsigned long v = cli_all_digits(arg) ? strtoul(arg, &end, 10) : 0;
	if (errno || v == 0)
		return cli_usage_error("invalid --count '%s' (a number of events, at least 1)",
				       arg);
	*ret = v;
	return 0;
}

enum { ARG_COUNT = 0x100, ARG_DURATION, ARG_POLL, ARG_INTERVAL };

/* 1: run; 0: done (help); < 0: usage error (reported) or -ENOMEM */
static int parse_argv(int argc, char **argv, struct watch_opts *o)
{
	static const struct option longopts[] = {
	    {"tcp", no_argument, NULL, 't'},
	    {"udp", no_argument, NULL, 'u'},
	    {"ipv4", no_argument, NULL, '4'},
	    {"ipv6", no_argument, NULL, '6'},
	    {"all", no_argument, NULL, 'a'},
	    {"netns", required_argument, NULL, 'N'},
	    {"json", no_argument, NULL, 'J'},
	    {"count", required_argument, NULL, ARG_COUNT},
	    {"duration", required_argument, NULL, ARG_DURATION},
	    {"poll", no_argument, NULL, ARG_POLL},
	    {"interval", required_argument, NULL, ARG_INTERVAL},
	    {"help", no_argument, NULL, 'h'},
	    {}};
	int c, r = 0;
	double iv = 1.0;
	struct cli_common cc = {0};
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":tu46aN:Jh", longopts, NULL)) >= 0) {
		if (cli_common_option(&cc, c))
			continue;
		switch (c) {
		case 'a':
			o->all = true;
			break;
		case 'N':
			r = cli_parse_netns(optarg, NULL, &o->netns_scope, &o->netns_path);
			break;
		case 'J':
			o->json = true;
			break;
		case ARG_COUNT:
			r = parse_count(optarg, &o->count);
			break;
		case ARG_DURATION:
			r = parse_seconds("--duration", optarg, 31536000, &o->duration);
			break;
		case ARG_POLL:
			o->force_poll = true;
			break;
		case ARG_INTERVAL:
			r = parse_seconds("--interval", optarg, 3600, &iv);
			if (r == 0 && iv < 0.01)
				r = cli_usage_error("--interval '%s' is too short (at least 0.01)",
						    optarg);
			break;
		case 'h':
			help();
			return 0;
		default:
			return cli_option_error(c, argv, "watch");
		}
		if (r < 0)
			return r;
	}
	o->interval_ms = (unsigned)(iv * 1000 + 0.5);
	o->protos = cli_common_protos(&cc);
	o->families = cli_common_families(&cc);
	r = pw_services_load(NULL, &o->services);
	if (r < 0)
		return r;
	int n = argc - optind;
	if (n > 0 && !(o->specs = calloc((size_t)n, sizeof(*o->specs))))
		return -ENOMEM;
	for (int i = optind; i < argc; i++) {
		char err[256] = "";
		if (pw_portspec_parse(argv[i], o->services, &o->specs[o->n_specs], err,
				      sizeof(err)) < 0)
			return cli_usage_error("%s", err[0] ? err : "invalid port specification");
		o->n_specs++;
	}
	return 1;
}

/* The user name of a uid for events whose process was gone before /proc
 * could be read; a few names, looked up once each. */
static const char *uid_name(uid_t uid)
{
	static struct {
		uid_t uid;
		char *name;
	} cache[32];
	static size_t n;
	for (size_t i = 0; i < n; i++)
		if (cache[i].uid == uid)
			return cache[i].name;
	char buf[4096];
	struct passwd pw, *res = NULL;
	char *name = NULL;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		name = strdup(res->pw_name);
	if (n < sizeof(cache) / sizeof(cache[0])) {
		cache[n].uid = uid;
		cache[n++].name = name;
	}
	return name; /* kept for the life of the command (at most 32) */
}

static const char *event_user(const struct pw_watch_event *e)
{
	return e->proc && e->proc->user ? e->proc->user : uid_name(e->uid);
}

/* ---- one event ------------------------------------------------------------ */

/* RFC 3339, local time, microseconds: 2026-11-30T04:12:03.123456+00:00 */
static void format_time(const struct timespec *t, char *buf, size_t len)
{
	struct tm tm;
	time_t s = t->tv_sec;
	localtime_r(&s, &tm);
	char date[32], zone[8];
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm); /* +hhmm */
	snprintf(buf, len, "%.20s.%06d%.3s:%.2s", date, (int)(t->tv_nsec / 1000) % 1000000, zone,
		 zone + 3);
}

static const char *proto_text(const struct pw_watch_event *e)
{
	bool v6 = e->family == AF_INET6;
	switch (e->proto) {
	case IPPROTO_TCP:
		return v6 ? "tcp6" : "tcp";
	case IPPROTO_UDP:
		return v6 ? "udp6" : "udp";
	default:
		return v6 ? "udplite6" : "udplite";
	}
}

static const char *errno_text(int e)
{
	const char *n = e ? strerrorname_np(e) : NULL;
	return n ? n : "EUNKNOWN";
}

static bool connected(const struct pw_watch_event *e)
{
	return e->rport != 0;
}

static void print_blockers(FILE *f, const struct pw_watch_blockers *b)
{
	if (!b->n) {
		fputs(" blocker=(gone by now)", f);
		return;
	}
	for (size_t i = 0; i < b->n; i++) {
		const struct pw_socket *s = b->v[i].sock;
		char ep[INET6_ADDRSTRLEN + 24];
		pw_endpoint_format(&s->laddr, s->lport, s->ifname, ep, sizeof(ep));
		fprintf(f, " blocker=%s/%s/%s", ep, pw_state_name(s->proto, s->state),
			b->v[i].rule);
		if (b->v[i].maybe)
			fputs("?", f);
		if (!s->n_holders)
			fputs(s->kernel_owner ? "(kernel)" : "(no holder seen)", f);
		for (size_t h = 0; h < s->n_holders; h++) {
			fprintf(f, "%spid=%d:", h ? "," : "(", (int)s->holders[h].proc->pid);
			cli_print_escaped(f, s->holders[h].proc->comm);
		}
		if (s->n_holders)
			fputc(')', f);
	}
}

static void print_line(FILE *f, const struct watch_opts *o, const struct pw_watch_event *e,
		       const struct pw_watch_blockers *b)
{
	char t[64], ep[INET6_ADDRSTRLEN + 24];
	format_time(&e->time, t, sizeof(t));
	fprintf(f, "%s %-11s %-5s ", t, pw_watch_kind_name(e->kind), proto_text(e));
	pw_endpoint_format(&e->laddr, e->lport, NULL, ep, sizeof(ep));
	fputs(ep, f);
	if (connected(e)) {
		pw_endpoint_format(&e->raddr, e->rport, NULL, ep, sizeof(ep));
		fprintf(f, " -> %s", ep);
	}
	if (e->pid)
		fprintf(f, " pid=%d", (int)e->pid);
	else
		fputs(" pid=?", f);
	fputs(" command=", f);
	cli_print_escaped(f, e->command[0] ? e->command : NULL);
	const struct pw_process *p = e->proc;
	const char *user = event_user(e);
	if (user) {
		fputs(" user=", f);
		cli_print_escaped(f, user);
	} else {
		fprintf(f, " uid=%u", (unsigned)e->uid);
	}
	if (p && p->unit) {
		fputs(" unit=", f);
		cli_print_escaped(f, p->unit);
	}
	char label[256];
	if (p && p->container && pw_container_label(p->container, label, sizeof(label)) >= 0) {
		fputs(" container=", f);
		cli_print_escaped(f, label);
	}
	if (e->netns != o->my_netns && e->netns_name) {
		fputs(" netns=", f);
		cli_print_escaped(f, e->netns_name);
	} else if (e->netns != o->my_netns) {
		fprintf(f, " netns=%llu", (unsigned long long)e->netns);
	}
	if (e->kind == PW_WATCH_BIND_FAILED) {
		fprintf(f, " error=%s", errno_text(e->err));
		if (b)
			print_blockers(f, b);
	}
	if (e->polled)
		fputs(" (polled)", f);
	fputc('\n', f);
}

static json_t *blockers_json(const struct pw_watch_blockers *b, int *err)
{
	json_t *a = json_array();
	if (!a) {
		*err = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; b && i < b->n; i++) {
		json_t *s = cli_socket_json(b->v[i].sock, true, err);
		if (s) {
			cli_json_put(s, "rule", json_string(b->v[i].rule), err);
			cli_json_put(s, "certain", json_boolean(!b->v[i].maybe), err);
		}
		cli_json_append(a, s, err);
	}
	return a;
}

static int print_json(FILE *f, const struct pw_watch_event *e, const struct pw_watch_blockers *b)
{
	int err = 0;
	char t[64];
	format_time(&e->time, t, sizeof(t));
	const struct pw_process *p = e->proc;
	json_t *o = json_object();
	if (!o)
		return -ENOMEM;
	cli_json_put(o, "schema_version", json_integer(PW_JSON_SCHEMA_VERSION), &err);
	cli_json_put(o, "time", json_string(t), &err);
	cli_json_put(o, "event", json_string(pw_watch_kind_name(e->kind)), &err);
	cli_json_put(o, "polled", json_boolean(e->polled), &err);
	cli_json_put(o, "netns", json_integer((json_int_t)e->netns), &err);
	cli_json_put(o, "netns_name", cli_jstr(e->netns_name), &err);
	cli_json_put(o, "proto", json_string(pw_proto_name(e->proto)), &err);
	cli_json_put(o, "family", json_string(e->family == AF_INET6 ? "ipv6" : "ipv4"), &err);
	cli_json_put(o, "local_address", cli_jaddr(&e->laddr), &err);
	cli_json_put(o, "local_port", json_integer(e->lport), &err);
	cli_json_put(o, "remote_address", connected(e) ? cli_jaddr(&e->raddr) : json_null(), &err);
	cli_json_put(o, "remote_port", connected(e) ? json_integer(e->rport) : json_null(), &err);
	cli_json_put(o, "state",
		     e->kind == PW_WATCH_BIND_FAILED ? json_null()
						     : cli_jstr(pw_state_name(e->proto, e->state)),
		     &err);
	cli_json_put(o, "cookie", e->cookie ? json_integer((json_int_t)e->cookie) : json_null(),
		     &err);
	cli_json_put(o, "pid", e->pid ? json_integer(e->pid) : json_null(), &err);
	cli_json_put(o, "tid", e->tid ? json_integer(e->tid) : json_null(), &err);
	cli_json_put(o, "command", cli_jstr(e->command[0] ? e->command : NULL), &err);
	cli_json_put(o, "cmdline", cli_jstr(p ? p->cmdline : NULL), &err);
	cli_json_put(o, "nspid", p && p->nspid ? json_integer(p->nspid) : json_null(), &err);
	cli_json_put(o, "uid", json_integer(e->uid), &err);
	cli_json_put(o, "user", cli_jstr(event_user(e)), &err);
	cli_json_put(o, "unit", cli_jstr(p ? p->unit : NULL), &err);
	cli_json_put(o, "container", cli_container_json(p ? p->container : NULL, &err), &err);
	cli_json_put(o, "reuseaddr", cli_jtri(e->reuseaddr), &err);
	cli_json_put(o, "reuseport", cli_jtri(e->reuseport), &err);
	cli_json_put(
	    o, "errno",
	    e->kind == PW_WATCH_BIND_FAILED ? json_string(errno_text(e->err)) : json_null(), &err);
	if (e->kind == PW_WATCH_BIND_FAILED)
		cli_json_put(o, "blockers", blockers_json(b, &err), &err);
	/* a failed write leaves ferror(f) set: cli_finish_output() says it */
	if (err == 0 && cli_json_dumpf(o, f, JSON_COMPACT) == 0) /* terminal-safe */
		fputc('\n', f);
	json_decref(o);
	return err;
}

/* ---- run ----------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void set_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: waits end */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static int run(struct watch_opts *o)
{
	struct stat st;
	if (stat("/proc/self/ns/net", &st) == 0)
		o->my_netns = st.st_ino;
	struct pw_watch_opts wo = {
	    .specs = o->specs,
	    .n_specs = o->n_specs,
	    .protos = o->protos,
	    .families = o->families,
	    .connections = o->all,
	    .netns_scope = o->netns_scope,
	    .netns_path = o->netns_path,
	    .mode = o->force_poll ? PW_WATCH_POLL : PW_WATCH_AUTO,
	    .poll_interval_ms = o->interval_ms,
	};
	struct pw_watch *w = NULL;
	set_signals();
	int r = pw_watch_open(&wo, &w);
	if (r < 0) {
		fprintf(stderr, "portwho: cannot watch: %s\n", strerror(-r));
		return 2;
	}
	if (!strcmp(pw_watch_mode_name(w), "poll")) {
		int e = -pw_watch_bpf_error(w);
		char why[160];
		if (o->force_poll)
			snprintf(why, sizeof(why), "--poll given");
		else
			snprintf(why, sizeof(why),
				 "cannot trace in the kernel (%s; BPF tracing needs root, kernel "
				 "BTF and x86_64)",
				 e == EOPNOTSUPP ? "not available here" : strerror(e));
		fprintf(stderr,
			"portwho: %s; polling sock_diag every %g s instead: events are marked "
			"polled, sockets that live less than that and failed binds are not seen\n",
			why, pw_watch_interval_ms(w) / 1000.0);
	}

	double end = o->duration > 0 ? now_s() + o->duration : 0;
	unsigned long seen = 0;
	int status = 0;
	while (!stop_signal && (!o->count || seen < o->count)) {
		/* bounded, so a signal that lands outside the wait is seen soon */
		int timeout = 200;
		if (end > 0) {
			double left = end - now_s();
			if (left <= 0)
				break;
			if (left < 0.2)
				timeout = (int)(left * 1000) + 1;
		}
		const struct pw_watch_event *e;
		r = pw_watch_next(w, timeout, &e);
		if (r == -EINTR || r == 0)
			continue;
		if (r < 0) {
			fprintf(stderr, "portwho: watching failed: %s\n", strerror(-r));
			status = 2;
			break;
		}
		struct pw_watch_blockers b = {0};
		bool have_b = false;
		if (e->kind == PW_WATCH_BIND_FAILED && e->err == EADDRINUSE) {
			r = pw_watch_blockers_find(e, &b);
			if (r < 0)
				fprintf(stderr,
					"portwho: could not look for the blocking socket: %s\n",
					strerror(-r));
			have_b = r == 0;
		}
		if (o->json)
			r = print_json(stdout, e, have_b ? &b : NULL);
		else
			print_line(stdout, o, e, have_b ? &b : NULL);
		pw_watch_blockers_clear(&b);
		if (r < 0) {
			fprintf(stderr, "portwho: %s\n", strerror(-r));
			status = 2;
			break;
		}
		/* flushed per event: `portwho watch --json | jq` works live */
		r = cli_finish_output(stdout);
		if (r < 0) {
			status = r == -EPIPE ? 0 : 2; /* the reader went away: done */
			break;
		}
		seen++;
	}
	uint64_t lost = pw_watch_lost(w);
	if (lost)
		fprintf(stderr,
			"portwho: %llu events were dropped in the kernel (the reader fell "
			"behind)\n",
			(unsigned long long)lost);
	pw_watch_free(w);
	return status;
}

int cmd_watch(int argc, char **argv)
{
	struct watch_opts o = {0};
	int r = parse_argv(argc, argv, &o);
	int status = r < 0 ? 2 : r == 0 ? 0 : run(&o);
	watch_opts_free(&o);
	return status;
}
