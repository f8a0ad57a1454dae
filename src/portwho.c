/* SPDX-License-Identifier: MIT */
/*
 * portwho: which processes hold a port, and why.
 *
 * main() -> parse_argv() (options -> struct options, one-line usage errors)
 * -> run() (snapshot -> view -> render -> exit status). The library does the
 * work and never prints; everything said to the user is said here.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <malloc.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "portwho-cmd.h"

#ifndef PORTWHO_VERSION
#define PORTWHO_VERSION "0.1.0"
#endif

static void help(void)
{
	fputs("Usage: portwho [OPTIONS] [PORTSPEC...]   who holds these ports, and why\n", stdout);
	for (const struct verb *v = verbs; v->name; v++) {
		char usage[64];
		snprintf(usage, sizeof(usage), "%s %s", v->name, v->args);
		printf("       portwho %-25s %s\n", usage, v->help);
	}
	fputs("PORTSPEC: 53  53/udp  tcp:8080  http  8000-8100  127.0.0.1:25  [::1]:53/udp\n"
	      "  -t, --tcp  -u, --udp  -4  -6  only TCP, UDP, IPv4 or IPv6 sockets\n"
	      "  -l, --listening        listening and bound only (default when no PORTSPEC)\n"
	      "  -a, --all              every state: connections, TIME-WAIT, bound-inactive\n"
	      "  -s, --state STATE,...  only these: LISTEN UNCONN ESTAB TIME-WAIT BOUND ...\n"
	      "  -p, --pid PID,...      sockets held by these processes\n"
	      "  -c, --command NAME     sockets held by a process with this name\n"
	      "      --user USER        sockets held by processes of this user (name or uid)\n"
	      "  -n, --numeric          do not show service names\n"
	      "  -N, --netns WHICH      all (default), current, NAME (/run/netns), PATH or PID\n"
	      "  -o, --output COL,...   columns to show, +COL,... adds (names: --list-columns)\n"
	      "  -J, --json             JSON output; --prometheus[=FILE]: Prometheus metrics\n"
	      "  -r, --raw              unaligned, every line repeats all its cells\n"
	      "      --noheadings       no header line\n"
	      "      --tree             ports, their sockets and holders as a tree\n"
	      "      --explain          the full reasoning for each port, with evidence\n"
	      "      --pids             holder PIDs only, one per line\n"
	      "      --collector KIND   how to find holders: auto (default), procfs, bpf\n"
	      "  -h, --help  -V, --version      Exit: 0 found, 1 nothing found, 2 error\n"
	      "Ports that NAT rules or docker-proxy forward are followed to who serves them.\n",
	      stdout);
}

void options_free(struct options *o)
{
	free(o->pids);
	for (size_t i = 0; i < o->n_commands; i++)
		free(o->commands[i]);
	free(o->commands);
	free(o->netns_path);
	free(o->specs);
	pw_services_free(o->services);
	*o = (struct options){0};
}

/* Walk the comma-separated words of arg; fn gets each (possibly empty). */
static int for_each_word(const char *arg, int (*fn)(struct options *, const char *, size_t),
			 struct options *o)
{
	const char *p = arg;
	for (;;) {
		size_t n = strcspn(p, ",");
		int r = fn(o, p, n);
		if (r < 0)
			return r;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

static int add_pid(struct options *o, const char *w, size_t n)
{
	char buf[32];
	if (n == 0 || n >= sizeof(buf))
		return cli_usage_error("invalid PID '%.*s'", (int)n, w);
	memcpy(buf, w, n);
	buf[n] = '\0';
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (errno || *end || buf[0] < '0' || buf[0] > '9' || v <= 0 || v > INT_MAX)
		return cli_usage_error("invalid PID '%s'", buf);
	pid_t *nv = realloc(o->pids, (o->n_pids + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	o->pids = nv;
	o->pids[o->n_pids++] = (pid_t)v;
	return 0;
}

static int add_state(struct options *o, const char *w, size_t n)
{
	char buf[32];
	if (n == 0 || n >= sizeof(buf))
		return cli_usage_error("unknown state '%.*s'", (int)n, w);
	memcpy(buf, w, n);
	buf[n] = '\0';
	uint32_t mask;
	if (pw_state_parse(buf, &mask) < 0)
		return cli_usage_error("unknown state '%s' (try LISTEN, UNCONN, ESTAB, TIME-WAIT, "
				       "BOUND, connected, all)",
				       buf);
	o->states |= mask;
	o->states_set = true;
	return 0;
}

static int add_column(struct options *o, const char *w, size_t n)
{
	if (n == 0)
		return cli_usage_error("empty column name in -o");
	int id = column_by_name(w, n);
	if (id < 0)
		return cli_usage_error("unknown column '%.*s' (see --list-columns)", (int)n, w);
	if (o->n_out_cols >= MAX_OUT_COLUMNS)
		return cli_usage_error("too many columns (at most %d)", MAX_OUT_COLUMNS);
	o->out_cols[o->n_out_cols++] = id;
	return 0;
}

static int parse_output(struct options *o, const char *arg)
{
	if (arg[0] == '+') {
		/* +COLS after an explicit list extends that list */
		if (o->n_out_cols == 0)
			o->out_append = true;
		arg++;
	} else {
		o->n_out_cols = 0;
		o->out_append = false;
	}
	return for_each_word(arg, add_column, o);
}

static int parse_user(struct options *o, const char *arg)
{
	struct passwd *pw;
	int r = cli_parse_user(arg, &o->user_uid, &pw);
	if (r < 0)
		return r;
	o->user_set = true;
	return 0;
}

static int add_command(struct options *o, const char *arg)
{
	if (!*arg)
		return cli_usage_error("empty command name");
	char **nv = realloc(o->commands, (o->n_commands + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	o->commands = nv;
	if (!(o->commands[o->n_commands] = strdup(arg)))
		return -ENOMEM;
	o->n_commands++;
	return 0;
}

static int parse_collector(struct options *o, const char *arg)
{
	if (!strcmp(arg, "auto"))
		o->collector = PW_COLLECTOR_AUTO;
	else if (!strcmp(arg, "procfs"))
		o->collector = PW_COLLECTOR_PROCFS;
	else if (!strcmp(arg, "bpf"))
		o->collector = PW_COLLECTOR_BPF;
	else
		return cli_usage_error("unknown collector '%s' (auto, procfs or bpf)", arg);
	return 0;
}

static int parse_specs(struct options *o, int n, char **args)
{
	if (n == 0)
		return 0;
	o->specs = calloc((size_t)n, sizeof(*o->specs));
	if (!o->specs)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		char err[256] = "";
		if (pw_portspec_parse(args[i], o->services, &o->specs[i], err, sizeof(err)) < 0)
			return cli_usage_error("%s", err[0] ? err : "invalid port specification");
		o->n_specs++;
	}
	return 0;
}

/* The states asked of the library: -s wins, then -l, then -a or PORTSPEC. */
static uint32_t query_states(const struct options *o)
{
	uint32_t bound = PW_STATE_BIT(PW_ST_LISTEN) | PW_STATE_BIT(PW_ST_CLOSE);
	if (o->states_set)
		return o->states;
	if (o->listening)
		return bound;
	if (o->all || o->n_specs)
		return 0;
	return bound;
}

enum {
	ARG_USER = 0x100,
	ARG_LIST_COLUMNS,
	ARG_TREE,
	ARG_EXPLAIN,
	ARG_PIDS,
	ARG_COLLECTOR,
	ARG_PROMETHEUS,
	ARG_NOHEADINGS,
};

/* `portwho -tulpn`, `-antp`: ss and netstat muscle memory, where -p means
 * "show processes" (portwho always does) and takes no value. When the word
 * getopt stopped in is such a bundle, say what to type instead; true when
 * it said so. */
static bool ss_habit(char **argv)
{
	const char *word = argv[optind - 1];
	if (!word || word[0] != '-' || word[1] == '-' || !strchr(word, 'p'))
		return false;
	char keep[16];
	size_t k = 0;
	for (const char *p = word + 1; *p; p++) {
		if (!strchr("tuanlpe46rHxw", *p) || (p == word + 1 && *p == 'p' && !p[1]))
			return false; /* not an ss bundle (or a real -p PID) */
		if (strchr("tula46n", *p) && !memchr(keep, *p, k) && k < sizeof(keep) - 1)
			keep[k++] = *p;
	}
	keep[k] = '\0';
	fprintf(stderr,
		"portwho: '%s' is ss/netstat syntax: portwho always shows the processes (-p "
		"here takes PIDs); try 'portwho%s%s'\n",
		word, k ? " -" : "", keep);
	return true;
}

/* 1: go on and run; 0: done (help, version, column list); < 0: usage error
 * (already reported) or -ENOMEM. */
static int parse_argv(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"tcp", no_argument, NULL, 't'},
	    {"udp", no_argument, NULL, 'u'},
	    {"ipv4", no_argument, NULL, '4'},
	    {"ipv6", no_argument, NULL, '6'},
	    {"listening", no_argument, NULL, 'l'},
	    {"all", no_argument, NULL, 'a'},
	    {"state", required_argument, NULL, 's'},
	    {"pid", required_argument, NULL, 'p'},
	    {"command", required_argument, NULL, 'c'},
	    {"user", required_argument, NULL, ARG_USER},
	    {"numeric", no_argument, NULL, 'n'},
	    {"netns", required_argument, NULL, 'N'},
	    {"output", required_argument, NULL, 'o'},
	    {"list-columns", no_argument, NULL, ARG_LIST_COLUMNS},
	    {"json", no_argument, NULL, 'J'},
	    {"raw", no_argument, NULL, 'r'},
	    {"noheadings", no_argument, NULL, ARG_NOHEADINGS},
	    {"tree", no_argument, NULL, ARG_TREE},
	    {"explain", no_argument, NULL, ARG_EXPLAIN},
	    {"pids", no_argument, NULL, ARG_PIDS},
	    {"collector", required_argument, NULL, ARG_COLLECTOR},
	    {"prometheus", optional_argument, NULL, ARG_PROMETHEUS},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {}};
	struct cli_common cc = {0};
	int c, r = 0;

	opterr = 0; /* our own one-line messages */
	while ((c = getopt_long(argc, argv, ":tu46las:p:c:nN:o:JrhV", longopts, NULL)) >= 0) {
		if (cli_common_option(&cc, c))
			continue;
		switch (c) {
		case 'l':
			o->listening = true;
			break;
		case 'a':
			o->all = true;
			break;
		case 's':
			r = for_each_word(optarg, add_state, o);
			break;
		case 'p':
			if (ss_habit(argv))
				return -EINVAL;
			r = for_each_word(optarg, add_pid, o);
			break;
		case 'c':
			r = add_command(o, optarg);
			break;
		case ARG_USER:
			r = parse_user(o, optarg);
			break;
		case 'n':
			o->numeric = true;
			break;
		case 'N':
			r = cli_parse_netns(optarg, NULL, &o->netns_scope, &o->netns_path);
			break;
		case 'o':
			r = parse_output(o, optarg);
			break;
		case ARG_LIST_COLUMNS:
			o->list_columns = true;
			break;
		case 'J':
			o->json = true;
			break;
		case 'r':
			o->raw = true;
			break;
		case ARG_NOHEADINGS:
			o->noheadings = true;
			break;
		case ARG_TREE:
			o->tree = true;
			break;
		case ARG_EXPLAIN:
			o->explain = true;
			break;
		case ARG_PIDS:
			o->pids_only = true;
			break;
		case ARG_COLLECTOR:
			r = parse_collector(o, optarg);
			break;
		case ARG_PROMETHEUS:
			o->prometheus = true;
			o->prom_file = optarg && strcmp(optarg, "-") ? optarg : NULL;
			if (o->prom_file && !*o->prom_file)
				return cli_usage_error("--prometheus=FILE needs a file name");
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf("portwho %s\n", PORTWHO_VERSION);
			return 0;
		default:
			if (ss_habit(argv))
				return -EINVAL;
			return cli_option_error(c, argv, NULL);
		}
		if (r < 0)
			return r;
	}

	if (o->list_columns) {
		print_column_list(stdout);
		return 0;
	}
	if (o->json && o->pids_only)
		return cli_usage_error("--json and --pids cannot be used together");
	if (o->tree && o->raw)
		return cli_usage_error("--tree and --raw cannot be used together");
	if (o->prometheus && (o->json || o->pids_only || o->tree || o->explain || o->raw))
		return cli_usage_error("--prometheus cannot be used with --json, --pids, --tree, "
				       "--explain or --raw");

	o->protos = cli_common_protos(&cc);
	o->families = cli_common_families(&cc);

	/* a missing /etc/services is not an error (the built-in table is used) */
	r = pw_services_load(NULL, &o->services);
	if (r < 0) {
		fprintf(stderr, "portwho: cannot read /etc/services: %s\n", strerror(-r));
		o->services = NULL;
	}
	r = parse_specs(o, argc - optind, argv + optind);
	if (r < 0)
		return r;
	o->query_states = query_states(o);
	return 1;
}

/* What the snapshot missed, on stderr (the JSON carries it as "incomplete"). */
static void report_unseen(const struct options *o, const struct pw_snapshot *snap)
{
	for (size_t i = 0; i < pw_snapshot_n_incomplete(snap); i++) {
		const struct pw_incomplete *inc = pw_snapshot_incomplete(snap, i);
		switch (inc->kind) {
		case PW_INC_NOT_ROOT:
			fprintf(stderr,
				"portwho: could not inspect %u process%s (run as root to see all "
				"holders)\n",
				inc->count, inc->count == 1 ? "" : "es");
			break;
		case PW_INC_PROTECTED: /* PID 1 on some hosts: every run would say it */
			if (o->explain)
				fprintf(
				    stderr,
				    "portwho: could not inspect %u process%s (fd tables "
				    "protected even from root)\n",
				    inc->count, inc->count == 1 ? "" : "es");
			break;
		case PW_INC_DUMP_INTERRUPTED:
			fputs(
			    "portwho: the socket table kept changing during the scan; the list may "
			    "be incomplete\n",
			    stderr);
			break;
		default:
			fprintf(stderr, "portwho: %s\n", inc->detail);
			break;
		}
	}
}

/* glibc raises its mmap threshold to the size of each mmap'ed block freed,
 * so after the first large array is freed (a dump buffer, a vector that
 * doubled), the next ones come from the heap, where the copies a doubling
 * leaves behind stay resident. A fixed threshold keeps every array over
 * 128 KiB in a mapping of its own, given back when freed or moved: on -a
 * peak RSS falls by about 1 MB, the time does not change (bench/). A
 * threshold the user set in GLIBC_TUNABLES is left alone. */
static void fix_mmap_threshold(void)
{
	const char *t = getenv("GLIBC_TUNABLES");
	if (!t || !strstr(t, "mmap_threshold"))
		mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

/* A tool that opens an fd per namespace and per fd table wants the most
 * the hard limit allows; failing that, it says what it could not read. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Socket flags cost a walk of the kernel's whole table per namespace: read
 * them for every socket only when the output shows them. */
static bool shows_options(const struct options *o)
{
	if (o->json)
		return true;
	for (size_t i = 0; i < o->n_out_cols; i++)
		if (o->out_cols[i] == COL_V6ONLY || o->out_cols[i] == COL_REUSEADDR ||
		    o->out_cols[i] == COL_REUSEPORT || o->out_cols[i] == COL_OPTSRC)
			return true;
	return false;
}

/* Command lines are read only for the output that prints them. */
static bool shows_cmdline(const struct options *o)
{
	if (o->json)
		return true;
	for (size_t i = 0; i < o->n_out_cols; i++)
		if (o->out_cols[i] == COL_CMDLINE)
			return true;
	return false;
}

static int run(const struct options *o)
{
	struct pw_query q = {
	    .want_options = shows_options(o),
	    .no_cmdline = !shows_cmdline(o),
	    /* tables show the kinds; --json and --explain ask for the text a
	     * group at a time as they write */
	    .no_reason_text = true,
	    .specs = o->specs,
	    .n_specs = o->n_specs,
	    .match_remote = o->n_specs > 0, /* client ends, as lsof -i :PORT */
	    .protos = o->protos,
	    .families = o->families,
	    .states = o->query_states,
	    .netns_scope = o->netns_scope,
	    .netns_path = o->netns_path,
	    .collector = o->collector,
	};
	struct pw_snapshot *snap = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = pw_snapshot_take(&q, &snap);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r == -EMFILE || r == -ENFILE) {
		struct rlimit rl = {0};
		getrlimit(RLIMIT_NOFILE, &rl);
		fprintf(stderr,
			"portwho: cannot list sockets: out of file descriptors (open-file limit "
			"%llu); raise it (ulimit -n)\n",
			(unsigned long long)rl.rlim_cur);
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, "portwho: cannot list sockets: %s\n", strerror(-r));
		return 2;
	}

	struct view v;
	r = view_build(o, snap, &v);
	if (r < 0) {
		pw_snapshot_free(snap);
		fprintf(stderr, "portwho: %s\n", strerror(-r));
		return 2;
	}
	v.scan_seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	bool found = v.n_sockets > 0 || v.n_groups > 0; /* a forward alone matches */
	errno = 0;
	if (o->prom_file) {
		r = render_prom_file(o, &v, o->prom_file);
		if (r < 0 && r != -ENOMEM) {
			fprintf(stderr, "portwho: cannot write %s: %s\n", o->prom_file,
				strerror(-r));
			r = -ECANCELED; /* reported */
		}
	} else if (o->prometheus)
		r = render_prom(o, &v, stdout);
	else if (o->json)
		r = render_json(o, &v, stdout);
	else if (o->pids_only) {
		r = render_pids(o, &v, stdout);
		found = r > 0;
	} else if (o->explain)
		r = render_explain(o, &v, stdout);
	else
		r = render_table(o, &v, stdout);
	if (r < 0 && ferror(stdout))
		r = 0; /* a write error: cli_finish_output() reports it */

	int w = cli_finish_output(stdout);
	int status = found ? 0 : 1;
	if (w == -EPIPE) {
		status = found ? 0 : 1; /* the reader has what it wanted */
	} else if (w < 0) {
		status = 2;
	} else if (r == -ECANCELED) {
		status = 2;
	} else if (r < 0) {
		fprintf(stderr, "portwho: %s\n", strerror(-r));
		status = 2;
	} else {
		report_unseen(o, snap);
	}
	view_free(&v);
	pw_snapshot_free(snap);
	return status;
}

int main(int argc, char **argv)
{
	setlocale(LC_ALL, "");
	fix_mmap_threshold();
	raise_fd_limit();

	const struct verb *verb = argc > 1 ? verb_find(argv[1]) : NULL;
	if (verb) {
		cli_verb = verb->name; /* usage errors point to its --help */
		return verb->dispatch(argc - 1, argv + 1);
	}

	struct options o = {.netns_scope = PW_NETNS_ALL, .collector = PW_COLLECTOR_AUTO};
	int r = parse_argv(argc, argv, &o);
	if (r == -ENOMEM)
		fputs("portwho: out of memory\n", stderr);
	int status;
	if (r < 0)
		status = 2;
	else if (r == 0)
		status = (r = cli_finish_output(stdout)) < 0 && r != -EPIPE ? 2 : 0;
	else
		status = run(&o);
	options_free(&o);
	return status;
}
