/* SPDX-License-Identifier: MIT */
/*
 * portwho check [ADDR:]PORT[/PROTO] [OPTIONS]: would this bind (and listen)
 * succeed here; if not, which sockets block it, who holds them, which rule,
 * and what would work. Then a trial confirms it, unless --no-trial.
 *
 * parse_check() -> facts of the namespace -> snapshot of the port ->
 * pw_bind_predict() -> trial -> text or JSON. Exit 0 would succeed, 1 would
 * fail, 2 error.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-cmd.h"

struct check_opts {
	struct pw_portspec spec;
	uint8_t proto;
	struct pw_addr addr;
	bool has_addr;
	int family; /* from -4/-6, 0 when not given */
	bool reuseaddr, reuseport, v6only, listen;
	bool no_trial, json;
	bool user_set;
	uid_t uid;
	gid_t gid;
	char *user_name; /* for messages */
	char *device;
	enum pw_netns_scope netns_scope;
	char *netns_path;
	char *netns_arg;
};

static void check_opts_free(struct check_opts *o)
{
	free(o->user_name);
	free(o->device);
	free(o->netns_path);
	free(o->netns_arg);
}

static void check_help(void)
{
	fputs("Usage: portwho check [ADDR:]PORT[/PROTO] [OPTIONS]\n"
	      "Would a bind (and listen) on this port succeed here? If not: which sockets\n"
	      "block it, who holds them, which kernel rule applies and what would work.\n"
	      "PORT: one port, TCP unless /udp is given:\n"
	      "      8080  8080/udp  udp/53  http  127.0.0.1:25  [::1]:53/udp\n"
	      "\n"
	      "      --reuseaddr     the new socket sets SO_REUSEADDR\n"
	      "      --reuseport     the new socket sets SO_REUSEPORT\n"
	      "      --v6only        IPV6_V6ONLY (the address defaults to [::])\n"
	      "  -4, -6              the wildcard address of this family when ADDR is absent\n"
	      "      --device IF     SO_BINDTODEVICE\n"
	      "      --user USER     the socket would be created by USER (name or uid)\n"
	      "  -l, --listen        TCP: listen() after bind()\n"
	      "      --no-trial      predict only; never create a socket\n"
	      "  -N, --netns WHICH   current (default), NAME (/run/netns), PATH or PID\n"
	      "  -J, --json          JSON output\n"
	      "  -h, --help          this text\n"
	      "\n"
	      "Exit status: 0 would succeed, 1 would fail, 2 error. See portwho-check(8).\n",
	      stdout);
}

/* -N: the same words as the main command, except "all" (one namespace here) */
static int parse_netns(struct check_opts *o, const char *arg)
{
	free(o->netns_arg);
	if (!(o->netns_arg = strdup(arg)))
		return -ENOMEM;
	return cli_parse_netns(
	    arg, "check looks at one network namespace: -N current, NAME, PATH or PID",
	    &o->netns_scope, &o->netns_path);
}

static int parse_user(struct check_opts *o, const char *arg)
{
	struct passwd *pw;
	int r = cli_parse_user(arg, &o->uid, &pw);
	if (r < 0)
		return r;
	if (!pw)
		pw = getpwuid(o->uid);
	o->gid = pw ? pw->pw_gid : (gid_t)o->uid;
	free(o->user_name);
	if (!(o->user_name = strdup(pw ? pw->pw_name : arg)))
		return -ENOMEM;
	o->user_set = true;
	return 0;
}

static int parse_spec(struct check_opts *o, const char *arg)
{
	struct pw_services *sv = NULL;
	char err[160] = "";
	int r = pw_services_load(NULL, &sv);
	if (r < 0)
		sv = NULL; /* numeric ports still work */
	r = pw_portspec_parse(arg, sv, &o->spec, err, sizeof(err));
	pw_services_free(sv);
	if (r < 0)
		return r == -ENOMEM ? r : cli_usage_error("%s", *err ? err : "invalid port");
	if (o->spec.lo != o->spec.hi)
		return cli_usage_error("check takes one port, not a range (%u-%u)", o->spec.lo,
				       o->spec.hi);
	if (o->spec.lo == 0)
		return cli_usage_error(
		    "port 0 lets the kernel pick a free port: there is nothing to "
		    "check");
	unsigned p = o->spec.protos ? o->spec.protos : PW_PROTO_TCP;
	if (p == PW_PROTO_TCP)
		o->proto = IPPROTO_TCP;
	else if (p == PW_PROTO_UDP)
		o->proto = IPPROTO_UDP;
	else if (p == PW_PROTO_UDPLITE)
		o->proto = IPPROTO_UDPLITE;
	else
		return cli_usage_error("check takes one protocol: add /tcp or /udp to '%s'", arg);
	o->has_addr = o->spec.has_addr;
	o->addr = o->spec.addr;
	return 0;
}

/* Returns 1 to go on, 0 after --help, or -errno (the message is printed). */
static int parse_check(int argc, char **argv, struct check_opts *o)
{
	enum { OPT_REUSEADDR = 256, OPT_REUSEPORT, OPT_V6ONLY, OPT_USER, OPT_NO_TRIAL, OPT_DEVICE };
	static const struct option longopts[] = {
	    {"reuseaddr", no_argument, NULL, OPT_REUSEADDR},
	    {"reuseport", no_argument, NULL, OPT_REUSEPORT},
	    {"v6only", no_argument, NULL, OPT_V6ONLY},
	    {"user", required_argument, NULL, OPT_USER},
	    {"listen", no_argument, NULL, 'l'},
	    {"no-trial", no_argument, NULL, OPT_NO_TRIAL},
	    {"device", required_argument, NULL, OPT_DEVICE},
	    {"netns", required_argument, NULL, 'N'},
	    {"json", no_argument, NULL, 'J'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	int c, r;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":46lN:Jh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_REUSEADDR:
			o->reuseaddr = true;
			break;
		case OPT_REUSEPORT:
			o->reuseport = true;
			break;
		case OPT_V6ONLY:
			o->v6only = true;
			break;
		case OPT_USER:
			if ((r = parse_user(o, optarg)) < 0)
				return r;
			break;
		case 'l':
			o->listen = true;
			break;
		case OPT_NO_TRIAL:
			o->no_trial = true;
			break;
		case OPT_DEVICE:
			free(o->device);
			if (!*optarg || strlen(optarg) >= 16)
				return cli_usage_error("invalid interface name '%s'", optarg);
			if (!(o->device = strdup(optarg)))
				return -ENOMEM;
			break;
		case 'N':
			if ((r = parse_netns(o, optarg)) < 0)
				return r;
			break;
		case 'J':
			o->json = true;
			break;
		case '4':
			o->family = AF_INET;
			break;
		case '6':
			o->family = AF_INET6;
			break;
		case 'h':
			check_help();
			return 0;
		default:
			return cli_option_error(c, argv, "check");
		}
	}
	if (optind >= argc)
		return cli_usage_error("check needs a port: portwho check [ADDR:]PORT[/PROTO]");
	if (optind + 1 < argc)
		return cli_usage_error("check takes one port; unexpected '%s'", argv[optind + 1]);
	if ((r = parse_spec(o, argv[optind])) < 0)
		return r;

	if (o->has_addr) {
		if (o->family && o->family != o->addr.family)
			return cli_usage_error("-%c does not match the address family of '%s'",
					       o->family == AF_INET ? '4' : '6', argv[optind]);
		if (o->v6only && o->addr.family != AF_INET6)
			return cli_usage_error("--v6only applies to IPv6 addresses only");
		if (o->v6only && pw_addr_is_v4mapped(&o->addr))
			return cli_usage_error(
			    "an IPV6_V6ONLY socket cannot bind an IPv4-mapped address");
	} else {
		int fam = o->family ? o->family : o->v6only ? AF_INET6 : AF_INET;
		if (fam == AF_INET && o->v6only)
			return cli_usage_error("--v6only applies to IPv6 addresses only");
		o->addr = (struct pw_addr){.family = (uint8_t)fam};
	}
	if (o->listen && o->proto != IPPROTO_TCP)
		return cli_usage_error("--listen applies to TCP only");
	return 1;
}

/* ---- run ------------------------------------------------------------------------ */

static int check_run(const struct check_opts *o)
{
	struct pw_check_request q = {
	    .proto = o->proto,
	    .addr = o->addr,
	    .port = o->spec.lo,
	    .device = o->device,
	    .reuseaddr = o->reuseaddr,
	    .reuseport = o->reuseport,
	    .v6only = o->v6only,
	    .listen = o->listen,
	    .no_trial = o->no_trial,
	    .user_set = o->user_set,
	    .uid = o->uid,
	    .gid = o->gid,
	    .netns_scope = o->netns_scope,
	    .netns_path = o->netns_path,
	};
	struct pw_check_answer a;
	int r = pw_check_run(&q, &a);
	if (r < 0) {
		switch (a.failed) {
		case PW_CHECK_STAGE_NETNS:
			if (r == -EPERM)
				fprintf(stderr,
					"portwho: entering network namespace '%s' needs root\n",
					o->netns_arg);
			else
				fprintf(stderr, "portwho: cannot read the network namespace: %s\n",
					strerror(-r));
			break;
		case PW_CHECK_STAGE_DEVICE:
			fprintf(stderr, "portwho: no interface '%s' in that network namespace\n",
				o->device);
			break;
		case PW_CHECK_STAGE_SOCKETS:
			fprintf(stderr, "portwho: cannot list sockets: %s\n", strerror(-r));
			break;
		default:
			fprintf(stderr, "portwho: %s\n", strerror(-r));
		}
		pw_check_answer_free(&a);
		return 2;
	}

	/* the answer is for one namespace; where else is the port held? */
	struct pw_snapshot *elsewhere = NULL;
	if (check_elsewhere_take(o->proto, o->spec.lo, &elsewhere) < 0)
		elsewhere = NULL; /* the answer stands without it */
	int status = 2;
	if (o->json) {
		json_t *doc = check_json(&q, &a);
		int err = 0;
		if (doc) {
			const char *name =
			    elsewhere ? pw_snapshot_netns_name(elsewhere, a.facts.netns) : NULL;
			cli_json_put(doc, "netns_name", cli_jstr(name), &err);
			cli_json_put(doc, "elsewhere",
				     check_elsewhere_json(elsewhere, a.facts.netns, &err), &err);
		}
		r = doc && !err ? cli_json_print(stdout, doc) : -ENOMEM;
		json_decref(doc);
	} else {
		check_print_text(stdout, &q, &a);
		check_elsewhere_print(stdout, elsewhere, a.facts.netns);
	}
	pw_snapshot_free(elsewhere);
	if (r >= 0 && ferror(stdout))
		r = 0; /* a write error: cli_finish_output() reports it */
	int w = r >= 0 ? cli_finish_output(stdout) : 0;
	if (r >= 0 && (w == 0 || w == -EPIPE))
		status = a.final_ok ? 0 : 1;
	if (!o->json && a.hidden_processes && geteuid() != 0)
		fprintf(stderr,
			"portwho: could not inspect %u process%s (run as root to see all "
			"holders)\n",
			a.hidden_processes, a.hidden_processes == 1 ? "" : "es");
	if (r < 0)
		fprintf(stderr, "portwho: %s\n", strerror(-r));
	pw_check_answer_free(&a);
	return status;
}

int cmd_check(int argc, char **argv)
{
	struct check_opts o = {.netns_scope = PW_NETNS_CURRENT};
	int r = parse_check(argc, argv, &o);
	int status;
	if (r == -ENOMEM)
		fputs("portwho: out of memory\n", stderr);
	if (r < 0)
		status = 2;
	else if (r == 0)
		status = 0;
	else
		status = check_run(&o);
	check_opts_free(&o);
	return status;
}
