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
#include <linux/capability.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "portwho-cmd.h"

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
	      "PORT: 8080  8080/udp  udp/53  http  127.0.0.1:25  [::1]:53/udp (one port, TCP by "
	      "default)\n"
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
		case ':':
			return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("unknown option '%s' (see portwho check --help)",
					       argv[optind - 1]);
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

/* ---- who is asking ------------------------------------------------------------ */

static bool have_cap(int cap)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {0};
	if (syscall(SYS_capget, &h, d) < 0)
		return geteuid() == 0;
	return d[cap / 32].effective & (1u << (cap % 32));
}

/* Root switching to another uid drops every capability on the way. */
static bool can_bind_privileged(const struct check_opts *o)
{
	if (o->user_set && o->uid != geteuid())
		return o->uid == 0 && geteuid() == 0;
	return have_cap(CAP_NET_BIND_SERVICE);
}

/* ---- the answer ---------------------------------------------------------------- */

struct trial_out {
	bool ran;
	bool listened; /* listen() was part of it */
	struct pw_trial_result res;
	char *skipped;	 /* why it did not run, or NULL */
	char *no_listen; /* why listen() was left out, or NULL */
};

struct answer {
	const struct check_opts *o;
	struct pw_bind_candidate cand;
	struct pw_netns_facts facts;
	struct pw_port_class cls;
	const char *service;
	struct pw_bind_prediction pred;
	int pred_err; /* the prediction's errno, the address check included */
	bool pred_ok;
	bool pred_certain;
	struct trial_out trial;
	bool final_ok;
	int final_err;
	bool disagree;	  /* a certain prediction the trial contradicts: our bug */
	const char *hint; /* a known kernel cause for such a disagreement */
	bool settled;	  /* an uncertain prediction the trial decided */
	/* the port in every namespace (root), or NULL */
	struct pw_snapshot *elsewhere;
};

static const char *errno_name(int e)
{
	const char *n = e ? strerrorname_np(e) : NULL;
	return n ? n : e ? "unknown error" : NULL;
}

/* The kernel checks the address before the port privilege for IPv4, after
 * it for IPv6, and both before looking for a conflict. */
static int combine_prediction(struct answer *a)
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

/* Decide what of the trial is safe: nothing, bind only, or bind and listen. */
static int plan_trial(struct answer *a, struct pw_trial_request *req)
{
	const struct check_opts *o = a->o;
	const struct pw_bind_prediction *p = &a->pred;
	bool udp = o->proto != IPPROTO_TCP;
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
	if (o->user_set && o->uid != geteuid() && geteuid() != 0)
		return (a->trial.skipped = strdup("skipped: not root, so a trial runs only as "
						  "yourself"))
			   ? 1
			   : -ENOMEM;
	*req = (struct pw_trial_request){
	    .netns_path = o->netns_path,
	    .switch_user = o->user_set,
	    .uid = o->uid,
	    .gid = o->gid,
	    .proto = o->proto,
	    .addr = a->cand.addr,
	    .port = a->cand.port,
	    .ifname = o->device,
	    .reuseaddr = o->reuseaddr,
	    .reuseport = o->reuseport,
	    .v6only = a->cand.v6only,
	    .listen = o->listen,
	};
	if (live && o->listen) {
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

static int run_trial(struct answer *a)
{
	struct pw_trial_request req;
	int r = plan_trial(a, &req);
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

static void settle(struct answer *a)
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

static void print_class(FILE *f, const struct answer *a)
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

static void print_trial(FILE *f, const struct answer *a)
{
	const struct trial_out *t = &a->trial;
	if (a->o->no_trial) {
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

static void print_text(FILE *f, const struct answer *a)
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
	print_trial(f, a);
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

static json_t *class_json(const struct answer *a, int *err)
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

static json_t *candidate_json(const struct answer *a, int *err)
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
	cli_json_put(o, "interface", cli_jstr(a->o->device), err);
	cli_json_put(o, "reuseaddr", json_boolean(c->reuseaddr), err);
	cli_json_put(o, "reuseport", json_boolean(c->reuseport), err);
	cli_json_put(o, "v6only",
		     c->addr.family == AF_INET6 ? json_boolean(c->v6only) : json_null(), err);
	cli_json_put(o, "listen", json_boolean(c->listen), err);
	cli_json_put(o, "uid", json_integer(c->uid), err);
	cli_json_put(o, "can_bind_privileged", json_boolean(c->can_bind_privileged), err);
	return o;
}

static json_t *trial_json(const struct answer *a, int *err)
{
	const struct trial_out *t = &a->trial;
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
	const char *note = a->o->no_trial ? "--no-trial" : t->skipped ? t->skipped : t->no_listen;
	cli_json_put(o, "note", cli_jstr(a->hint ? a->hint : note), err);
	return o;
}

static int print_json(FILE *f, const struct answer *a)
{
	const struct pw_bind_prediction *p = &a->pred;
	int err = 0;
	json_t *o = json_object();
	if (!o)
		return -ENOMEM;
	cli_json_put(o, "would_succeed", json_boolean(a->final_ok), &err);
	cli_json_put(o, "errno", jerrno(a->final_err), &err);
	cli_json_put(o, "certain", json_boolean(a->pred_certain || a->trial.ran), &err);
	cli_json_put(o, "why", cli_jstr(p->why), &err);
	cli_json_put(o, "netns", json_integer((json_int_t)a->facts.netns), &err);
	cli_json_put(
	    o, "netns_name",
	    cli_jstr(a->elsewhere ? pw_snapshot_netns_name(a->elsewhere, a->facts.netns) : NULL),
	    &err);
	cli_json_put(o, "candidate", candidate_json(a, &err), &err);
	cli_json_put(o, "conflicts", conflicts_json(p->conflicts, p->n_conflicts, &err), &err);
	cli_json_put(o, "shared", conflicts_json(p->shared, p->n_shared, &err), &err);
	cli_json_put(o, "uncertain", jstrv(p->uncertain, p->n_uncertain, &err), &err);
	cli_json_put(o, "advice", jstrv(p->advice, p->n_advice, &err), &err);
	cli_json_put(o, "service", cli_jstr(a->service), &err);
	cli_json_put(o, "class", class_json(a, &err), &err);
	cli_json_put(o, "prediction",
		     json_pack("{s:b, s:o, s:b}", "would_succeed", a->pred_ok, "errno",
			       jerrno(a->pred_err), "certain", a->pred_certain),
		     &err);
	cli_json_put(o, "trial", trial_json(a, &err), &err);
	cli_json_put(o, "elsewhere", check_elsewhere_json(a->elsewhere, a->facts.netns, &err),
		     &err);
	if (err == 0 && json_dumpf(o, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
		err = -EIO;
	if (err == 0)
		fputc('\n', f);
	json_decref(o);
	return err;
}

/* ---- run ------------------------------------------------------------------------ */

/* The sockets on the port, as copies: options read later are filled in
 * here, never in the snapshot's records. */
static int take_sockets(const struct check_opts *o, struct pw_snapshot **ret_snap,
			struct pw_socket **ret_copies, const struct pw_socket ***ret_v,
			size_t *ret_n)
{
	struct pw_portspec spec = o->spec;
	spec.has_addr = false; /* every address on the port may matter */
	spec.protos = o->proto == IPPROTO_TCP	? PW_PROTO_TCP
		      : o->proto == IPPROTO_UDP ? PW_PROTO_UDP
						: PW_PROTO_UDPLITE;
	struct pw_query q = {
	    .specs = &spec,
	    .n_specs = 1,
	    .protos = spec.protos,
	    .netns_scope = o->netns_scope,
	    .netns_path = o->netns_path,
	    .no_explain = true,	  /* options are deduced in bindrules.c */
	    .want_options = true, /* every overlapping socket's SO_REUSE* decides */
	};
	struct pw_snapshot *snap = NULL;
	int r = pw_snapshot_take(&q, &snap);
	if (r < 0)
		return r;
	size_t n = pw_snapshot_n_sockets(snap);
	struct pw_socket *copies = calloc(n ? n : 1, sizeof(*copies));
	const struct pw_socket **v = calloc(n ? n : 1, sizeof(*v));
	if (!copies || !v) {
		free(copies);
		free(v);
		pw_snapshot_free(snap);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		copies[i] = *pw_snapshot_socket(snap, i);
		v[i] = &copies[i];
	}
	*ret_snap = snap;
	*ret_copies = copies;
	*ret_v = v;
	*ret_n = n;
	return 0;
}

/* An answer that hinges on unread options: read them through a holder where
 * that is safe, and predict again. */
static int predict(struct answer *a, struct pw_socket *copies, const struct pw_socket **v, size_t n)
{
	int r = pw_bind_predict(&a->cand, v, n, &a->pred);
	if (r < 0 || a->pred.certain)
		return r;
	size_t m = 0;
	struct pw_socket **unsure = calloc(a->pred.n_conflicts + 1, sizeof(*unsure));
	if (!unsure)
		return -ENOMEM;
	for (size_t i = 0; i < a->pred.n_conflicts; i++)
		if (a->pred.conflicts[i].outcome == PW_BIND_MAYBE)
			unsure[m++] = &copies[a->pred.conflicts[i].sock - copies];
	int filled = m ? pw_sockopts_probe(unsure, m) : 0;
	free(unsure);
	if (filled <= 0)
		return 0;
	pw_bind_prediction_clear(&a->pred);
	return pw_bind_predict(&a->cand, v, n, &a->pred);
}

static int check_run(const struct check_opts *o)
{
	struct answer a = {.o = o};
	int r = pw_netns_facts_read(o->netns_path, o->proto, o->device, &o->addr, &a.facts);
	if (r < 0) {
		if (r == -EPERM)
			fprintf(stderr, "portwho: entering network namespace '%s' needs root\n",
				o->netns_arg);
		else
			fprintf(stderr, "portwho: cannot read the network namespace: %s\n",
				strerror(-r));
		return 2;
	}
	if (o->device && !a.facts.ifindex) {
		fprintf(stderr, "portwho: no interface '%s' in that network namespace\n",
			o->device);
		return 2;
	}

	a.cand = (struct pw_bind_candidate){
	    .proto = o->proto,
	    .addr = o->addr,
	    .port = o->spec.lo,
	    .ifindex = a.facts.ifindex,
	    .reuseaddr = o->reuseaddr,
	    .reuseport = o->reuseport,
	    .v6only = o->addr.family == AF_INET6 && (o->v6only || a.facts.bindv6only),
	    .listen = o->listen,
	    .uid = o->user_set ? o->uid : geteuid(),
	    .can_bind_privileged = can_bind_privileged(o),
	    .unprivileged_port_start = a.facts.sysctl.unprivileged_port_start,
	};
	pw_port_classify(&a.facts.sysctl, a.cand.port, &a.cls);

	struct pw_snapshot *snap = NULL;
	struct pw_socket *copies = NULL;
	const struct pw_socket **socks = NULL;
	size_t n = 0;
	r = take_sockets(o, &snap, &copies, &socks, &n);
	if (r < 0) {
		fprintf(stderr, "portwho: cannot list sockets: %s\n", strerror(-r));
		return 2;
	}
	struct pw_services *sv = NULL;
	if (pw_services_load(NULL, &sv) >= 0)
		a.service = pw_services_name(sv, a.cand.port, pw_proto_name(o->proto));

	int status = 2;
	r = predict(&a, copies, socks, n);
	if (r < 0)
		goto out;
	if ((r = combine_prediction(&a)) < 0)
		goto out;
	if (!o->no_trial && (r = run_trial(&a)) < 0)
		goto out;
	settle(&a);
	if (check_elsewhere_take(o->proto, o->spec.lo, &a.elsewhere) < 0)
		a.elsewhere = NULL; /* the answer stands without it */
	if (o->json) {
		r = print_json(stdout, &a);
	} else {
		print_text(stdout, &a);
		check_elsewhere_print(stdout, a.elsewhere, a.facts.netns);
	}
	if (r >= 0 && (fflush(stdout) == EOF || ferror(stdout)))
		r = errno == EPIPE ? 0 : -EIO;
	if (r >= 0)
		status = a.final_ok ? 0 : 1;
	if (!o->json && pw_snapshot_stats(snap)->hidden_processes && geteuid() != 0)
		fprintf(stderr,
			"portwho: could not inspect %u processes (run as root to see all "
			"holders)\n",
			pw_snapshot_stats(snap)->hidden_processes);
out:
	if (r < 0)
		fprintf(stderr, "portwho: %s\n", strerror(-r));
	pw_bind_prediction_clear(&a.pred);
	free(a.trial.skipped);
	free(a.trial.no_listen);
	pw_services_free(sv);
	free(socks);
	free(copies);
	pw_snapshot_free(snap);
	pw_snapshot_free(a.elsewhere);
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
