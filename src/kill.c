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

#include "kill-cmd.h"

#define MAX_SECONDS 86400.0 /* --timeout, --kill-after */
#define PAUSE_SECONDS 300 /* the test hook never waits longer */

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
	      "sockets the kernel owns (the command that removes the owner is shown),\n"
	      "a container's port proxy (docker-proxy: stop the container instead).\n"
	      "Exit: 0 the port is free, 1 nothing held it, 2 error or refused, 3 still held.\n"
	      "See portwho-kill(8).\n",
	      stdout);
}

/* -N: all (the default, as `portwho` lists), or one namespace */
static int parse_netns(struct kill_opts *o, const char *arg)
{
	free(o->netns_name);
	o->netns_name = NULL;
	if (!strcmp(arg, "all")) {
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
	struct cli_common cc = {0};
	int c, r = 0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":tu46aN:s:yJh", longopts, NULL)) != -1) {
		if (cli_common_option(&cc, c))
			continue;
		switch (c) {
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
		default:
			return cli_option_error(c, argv, "kill");
		}
		if (r < 0)
			return r;
	}
	if (optind >= argc)
		return cli_usage_error(
		    "kill needs a port: portwho kill PORTSPEC (e.g. 8080, 53/udp)");
	o->protos = cli_common_protos(&cc);
	o->families = cli_common_families(&cc);
	if ((r = parse_specs(o, argc - optind, argv + optind)) < 0)
		return r;
	if (o->sig == SIGKILL && o->kill_after_set)
		return cli_usage_error("--kill-after adds nothing when the signal is KILL already");
	return 1;
}

/* ---- scanning ---------------------------------------------------------------------- */

uint32_t kill_states(const struct kill_opts *o)
{
	if (o->all)
		return 0;
	return PW_STATE_BIT(PW_ST_LISTEN) | PW_STATE_BIT(PW_ST_CLOSE) |
	       PW_STATE_BIT(PW_ST_BOUND_INACTIVE);
}

static struct pw_query scan_query(const struct kill_opts *o, bool full)
{
	return (struct pw_query){
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
}

static int scan(const struct kill_opts *o, bool full, struct pw_snapshot **ret)
{
	struct pw_query q = scan_query(o, full);
	return pw_snapshot_take(&q, ret);
}

static int test_pause(void)
{
	const char *file = getenv("PORTWHO_TEST_PAUSE_BEFORE_SIGNAL");
	if (!file || !*file)
		return 0;
	fprintf(stderr, "portwho: test pause: waiting for %s\n", file);
	/* 10 ms steps: PAUSE_SECONDS at most (a test that dies never hangs us) */
	for (long i = 0; i < PAUSE_SECONDS * 100L && access(file, F_OK) < 0; i++)
		usleep(10000);
	return 0;
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
		fprintf(stderr, "Send %s to %zu process%s",
			kill_signame(run->o->sig, sb, sizeof(sb)), n, n == 1 ? "" : "es");
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
		kill_who(stderr, t->proc);
		fputs(": run as root or as its user\n", stderr);
	}
	for (size_t i = 0; i < plan->n_unheld; i++) {
		const struct pw_unheld *u = &plan->unheld[i];
		if (u->kind != PW_UNHELD_HIDDEN || pw_snapshot_stats(run->snap)->privileged)
			continue;
		refuse = true;
		fputs("portwho: refusing: ", stderr);
		kill_sock_text(stderr, u->sock);
		fprintf(stderr,
			" belongs to a process of another user (uid %u created the socket) that "
			"you cannot inspect or signal: run as root\n",
			u->sock->uid);
	}
	if (refuse)
		fputs("portwho: nothing was signalled\n", stderr);
	return refuse;
}

static int build_plan(struct run *run)
{
	const struct kill_opts *o = run->o;
	size_t n = pw_snapshot_n_sockets(run->snap);
	_cleanup_free_ const struct pw_socket **socks = calloc(n ? n : 1, sizeof(*socks));
	_cleanup_free_ const char **units = calloc(n ? n : 1, sizeof(*units));
	if (!socks || !units)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		socks[i] = pw_snapshot_socket(run->snap, i);
		units[i] = pw_snapshot_socket_unit(run->snap, socks[i]);
	}
	int r = pw_kill_plan_init(socks, n, units, &run->plan);
	if (r < 0)
		return r;
	/* right after the scan: from here a PID can be reused without harm */
	if ((r = pw_kill_plan_open(&run->plan)) < 0)
		return r;
	const struct pw_stats *st = pw_snapshot_stats(run->snap);
	struct pw_kill_env env = {
	    .caller = run->caller,
	    .saw_all = st->privileged && st->hidden_processes == 0,
	    .netns_name = o->netns_name,
	    .netns_path = o->netns_name ? NULL : o->netns_path,
	    .current_netns = pw_snapshot_netns_current(run->snap),
	};
	if ((r = pw_kill_plan_decide(&run->plan, &env)) < 0)
		return r;
	return pw_kill_log_init(&run->log, &run->plan);
}

static int finish(struct run *run, int status)
{
	if (run->o->json) {
		int r = kill_print_json(run, status);
		if (r < 0)
			return cli_fail(2, "%s", strerror(-r));
	}
	int w = cli_finish_output(stdout); /* says what failed */
	return w < 0 && w != -EPIPE ? 2 : status;
}

static void run_done(struct run *run)
{
	pw_kill_log_free(&run->log);
	pw_kill_plan_free(&run->plan);
	kill_who_context(NULL);
	pw_snapshot_free(run->snap);
	pw_snapshot_free(run->final);
}

#define NOT_OUR_PROC                                                                               \
	"/proc belongs to another PID namespace than portwho: its PIDs cannot be trusted "         \
	"to signal (mount this namespace's /proc, e.g. unshare --mount-proc)"

static int kill_run(const struct kill_opts *o)
{
	_cleanup_(run_done) struct run run = {.o = o};
	int r;
	char pb[256];
	kill_ports_text(o, pb, sizeof(pb));

	if (pw_proc_is_ours(NULL) == 0)
		return cli_fail(2, NOT_OUR_PROC);
	if ((r = pw_caller_read(&run.caller)) < 0 || (r = scan(o, true, &run.snap)) < 0)
		return cli_fail(2, "cannot list sockets: %s", strerror(-r));
	kill_who_context(run.snap);
	if (pw_snapshot_n_held(run.snap) == 0) {
		if (!o->json) {
			printf("Nothing holds %s.\n", pb);
			kill_print_forwards(run.snap, stdout);
		}
		run.log.free_now = run.nothing_held = true;
		return finish(&run, 1);
	}
	r = build_plan(&run);
	if (r == -ENOSYS)
		return cli_fail(
		    2, "this kernel has no pidfds (Linux 5.3 or later is needed to signal safely)");
	if (r == -EXDEV)
		return cli_fail(2, NOT_OUR_PROC);
	if (r < 0)
		return cli_fail(2, "%s", strerror(-r));

	bool interactive = !o->yes && !o->dry_run && pw_kill_plan_has_work(&run.plan, o->unit);
	FILE *txt = o->json ? (interactive && isatty(STDIN_FILENO) ? stderr : NULL) : stdout;
	if (txt) {
		fflush(stdout);
		kill_show_table(o, run.snap, txt);
		kill_print_plan(&run, txt);
		fflush(txt);
	}
	if (refuse_for_permission(&run)) {
		run.error = "refused: not allowed to signal every holder";
		return finish(&run, 2);
	}
	if (o->dry_run) {
		if (!o->json)
			puts("\nDry run: nothing was signalled.");
		return finish(&run, 0);
	}
	if (interactive) {
		if (!isatty(STDIN_FILENO)) {
			fputs("portwho: stdin is not a terminal: add --yes to act without asking "
			      "(--dry-run only shows the plan)\n",
			      stderr);
			run.error = "not confirmed: no terminal and no --yes";
			return finish(&run, 2);
		}
		if (!ask(&run)) {
			if (!o->json)
				puts("Nothing done.");
			run.error = "not confirmed";
			return finish(&run, 3);
		}
	}
	if (!o->json)
		putchar('\n');
	if (pw_kill_plan_has_work(&run.plan, o->unit)) {
		test_pause();
		struct pw_query rescan = scan_query(o, false);
		struct pw_kill_exec_opts eo = {
		    .sig = o->sig,
		    .timeout = o->timeout,
		    .kill_after_set = o->kill_after_set,
		    .kill_after = o->kill_after,
		    .stop_units = o->unit,
		    .caller_euid = run.caller.euid,
		    .rescan = &rescan,
		};
		r = pw_kill_execute(&run.plan, &eo, &run.log);
		if (!o->json)
			kill_print_log(&run);
		if (r < 0)
			return cli_fail(2, "%s", strerror(-r));
	}
	if ((r = scan(o, true, &run.final)) < 0)
		return cli_fail(2, "cannot list sockets: %s", strerror(-r));
	run.log.free_now = pw_snapshot_n_held(run.final) == 0;
	if (!o->json)
		kill_print_final(&run);
	int status = run.log.perm_error || run.log.stop_failed ? 2 : run.log.free_now ? 0 : 3;
	if (run.log.perm_error && !o->json)
		fputs("portwho: the kernel refused a signal or systemd refused a stop "
		      "(permission)\n",
		      stderr);
	return finish(&run, status);
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
