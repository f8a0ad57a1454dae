/* SPDX-License-Identifier: MIT */
/*
 * portwho check: would a bind (and listen) succeed here, and if not, why not.
 *
 * bindrules.c is pure: it applies the Linux bind rules (KERNEL.md §4) to a
 * candidate socket and the sockets already on its port. trial.c is the only
 * code in portwho that changes anything: a forked child creates the
 * candidate socket, binds (and listens), reports, and exits. check-run.c
 * decides the whole answer (pw_check_run): namespace facts, the sockets on
 * the port, prediction, which trial is safe, and what the trial settles.
 */
#ifndef PORTWHO_CHECK_H
#define PORTWHO_CHECK_H

#include "portwho.h"

/* ---- prediction (bindrules.c) ------------------------------------------ */

struct pw_bind_candidate {
	uint8_t proto;	     /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_UDPLITE */
	struct pw_addr addr; /* addr.family is the socket's family */
	uint16_t port;
	uint32_t ifindex; /* SO_BINDTODEVICE, 0 for none */
	bool reuseaddr, reuseport;
	bool v6only;		     /* IPV6_V6ONLY; ignored for AF_INET */
	bool listen;		     /* TCP: listen() after bind() */
	uint32_t uid;		     /* owner uid the new socket would get */
	bool can_bind_privileged;    /* CAP_NET_BIND_SERVICE in the target netns */
	int unprivileged_port_start; /* net.ipv4.ip_unprivileged_port_start there */
	/* the socket table was read as root: a socket with no visible holder
	 * is held where root cannot look (a protected fd table), not hidden
	 * by permissions (advice only) */
	bool root_view;
};

/* Which rule decides between the candidate and one existing socket. The
 * first four block a bind; the rest are ways of sharing a port. */
enum pw_bind_rule {
	PW_RULE_EXCLUSIVE,	    /* no sharing option set on both sides */
	PW_RULE_REUSEADDR_LISTENER, /* TCP: both SO_REUSEADDR, but it listens */
	PW_RULE_REUSEPORT_UID,	    /* both SO_REUSEPORT, different owner uids */
	PW_RULE_TIME_WAIT,	    /* a TIME_WAIT leftover (blocks or lets through) */
	PW_RULE_LISTEN_RACE,	    /* TCP: both SO_REUSEADDR, neither listens yet */
	PW_RULE_REUSEADDR_SHARED,   /* both SO_REUSEADDR (UDP, or a TCP connection) */
	PW_RULE_REUSEPORT_SHARED,   /* both SO_REUSEPORT, same owner uid */
	PW_RULE_MAX,
};
/* "exclusive", "reuseaddr-vs-listener", "reuseport-uid", "time-wait",
 * "listen-race", "reuseaddr-shared", "reuseport-shared" */
const char *pw_bind_rule_name(enum pw_bind_rule r);

enum pw_bind_outcome {
	PW_BIND_BLOCKS, /* this socket makes the bind fail */
	PW_BIND_MAYBE,	/* it blocks or not depending on options portwho could not read */
	PW_BIND_SHARES, /* it overlaps, and the rules let both coexist */
};
/* "blocks", "maybe", "shares" */
const char *pw_bind_outcome_name(enum pw_bind_outcome o);

struct pw_bind_conflict {
	const struct pw_socket *sock;
	enum pw_bind_rule rule;
	enum pw_bind_outcome outcome;
	bool inferred;	   /* its options were deduced from its neighbours, not read */
	char *explanation; /* plain words, one or two sentences */
};

struct pw_bind_prediction {
	bool would_succeed; /* best answer; unknown options count as unset */
	bool certain;	    /* false when the answer hinges on something unknown */
	int err;	    /* 0, EADDRINUSE or EACCES (EACCES wins: checked first) */
	char *why;	    /* one line: why it succeeds or fails */
	/* sockets that block or may block (BLOCKS, MAYBE), in input order */
	struct pw_bind_conflict *conflicts;
	size_t n_conflicts;
	/* overlapping sockets it would coexist with (SHARES) */
	struct pw_bind_conflict *shared;
	size_t n_shared;
	char **uncertain; /* why the answer is not certain, one line each */
	size_t n_uncertain;
	char **advice; /* what would make it work, or what to watch for */
	size_t n_advice;
};

/* socks: the sockets of the candidate's network namespace (others on the same
 * proto and port are picked out here; the rest are ignored). Options of
 * sockets with opts_source PW_OPTS_INFERRED are treated as unknown: this
 * deduces its own. Returns 0 or -ENOMEM; *ret is cleared first. */
int pw_bind_predict(const struct pw_bind_candidate *c, const struct pw_socket *const *socks,
		    size_t n, struct pw_bind_prediction *ret);
void pw_bind_prediction_clear(struct pw_bind_prediction *p);

/* ---- trial (trial.c) ---------------------------------------------------- */

struct pw_trial_request {
	const char *netns_path; /* enter this network namespace; NULL: stay */
	bool switch_user;	/* become uid/gid (root only) */
	uid_t uid;
	gid_t gid;
	uint8_t proto;
	struct pw_addr addr;
	uint16_t port;
	const char *ifname; /* SO_BINDTODEVICE, or NULL */
	bool reuseaddr, reuseport, v6only;
	bool listen;
	int timeout_ms; /* 0: 2000 */
};

struct pw_trial_result {
	bool succeeded;
	int err;	  /* errno of the failing step, 0 on success */
	const char *step; /* "setns", "setuid", "socket", "setsockopt", "bind", "listen" */
};

/* Fork a child that sets itself up as asked, creates the socket, binds (and
 * listens), reports over a pipe and exits; the socket lives only as long as
 * the child. A non-root caller may only try as itself in its own namespace
 * (-EPERM otherwise). Returns 0 when the child reported (the outcome is in
 * *ret), -ETIMEDOUT, or another -errno. */
int pw_trial_run(const struct pw_trial_request *req, struct pw_trial_result *ret);

/* ---- facts of the target namespace (trial.c) ---------------------------- */

struct pw_netns_facts {
	uint64_t netns; /* inode of the namespace */
	struct pw_netns_sysctl sysctl;
	int bindv6only;	  /* net.ipv6.bindv6only: IPV6_V6ONLY when not set */
	uint32_t ifindex; /* of the requested interface; 0 if none asked or missing */
	int addr_err;	  /* errno of binding the address with no port, 0 when it can */
};

/* Read, inside the namespace at netns_path (NULL: the current one), its port
 * sysctls, the index of ifname (may be NULL) and whether addr (may be NULL)
 * can be bound: a socket with IP_BIND_ADDRESS_NO_PORT binds it without
 * taking a port, so nothing changes. Another namespace is read by a forked
 * child: the caller never changes namespace. 0 or -errno (-EPERM when a
 * non-root caller asks about another namespace). */
int pw_netns_facts_read(const char *netns_path, uint8_t proto, const char *ifname,
			const struct pw_addr *addr, struct pw_netns_facts *ret);

/* ---- the whole answer (check-run.c) ------------------------------------- */

struct pw_check_request {
	uint8_t proto;	     /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_UDPLITE */
	struct pw_addr addr; /* the wildcard of a family when none was asked */
	uint16_t port;
	const char *device; /* SO_BINDTODEVICE, or NULL */
	bool reuseaddr, reuseport, v6only, listen;
	bool no_trial;
	bool user_set; /* the socket would be created by uid/gid */
	uid_t uid;
	gid_t gid;
	enum pw_netns_scope netns_scope; /* PW_NETNS_CURRENT or PW_NETNS_PATH */
	const char *netns_path;
};

/* Where pw_check_run stopped when it failed. */
enum pw_check_stage {
	PW_CHECK_STAGE_NONE,
	PW_CHECK_STAGE_NETNS,	/* reading the namespace's facts (-EPERM: needs root) */
	PW_CHECK_STAGE_DEVICE,	/* no such interface there (-ENODEV) */
	PW_CHECK_STAGE_SOCKETS, /* listing the sockets on the port */
	PW_CHECK_STAGE_DECIDE,	/* prediction or trial (-ENOMEM, ...) */
};

struct pw_check_trial {
	bool ran;
	bool listened; /* listen() was part of it */
	struct pw_trial_result res;
	char *skipped;	 /* why it did not run, or NULL */
	char *no_listen; /* why listen() was left out, or NULL */
};

struct pw_check_answer {
	struct pw_bind_candidate cand;
	struct pw_netns_facts facts;
	struct pw_port_class cls;
	char *service; /* its /etc/services name, or NULL */
	struct pw_bind_prediction pred;
	int pred_err; /* the prediction's errno, the address check included */
	bool pred_ok;
	bool pred_certain;
	struct pw_check_trial trial;
	bool final_ok;
	int final_err;
	bool disagree;		    /* a certain prediction the trial contradicts: our bug */
	const char *hint;	    /* a known kernel cause for such a disagreement */
	bool settled;		    /* an uncertain prediction the trial decided */
	unsigned hidden_processes;  /* holders this run could not inspect */
	enum pw_check_stage failed; /* where it stopped, when it returned < 0 */
	/* the port's group in the snapshot (its forwards), or NULL */
	const struct pw_port_group *group;
	/* a NAT rule sends traffic for the candidate's address and port elsewhere */
	bool forwarded_elsewhere;
	/* what pred's sockets point into; read-only outside lib/check (its
	 * pw_snapshot_incomplete() list: what the check could not see) */
	struct pw_snapshot *snap;
	struct pw_socket *copies;
	const struct pw_socket **socks;
	size_t n_socks;
};

/* Would this bind (and listen) succeed: read the namespace's facts, take the
 * sockets on the port, predict (reading unknown options through a holder
 * when the answer hinges on them), run the trial that is safe, and settle.
 * Returns 0 (the answer is in *ret, free it with pw_check_answer_free) or
 * -errno with ret->failed saying where; free *ret in either case. */
int pw_check_run(const struct pw_check_request *req, struct pw_check_answer *ret);
void pw_check_answer_free(struct pw_check_answer *a);
/* check-forward.c (run by pw_check_run): set group and forwarded_elsewhere;
 * when the bind would succeed, advise that the rule's traffic never reaches
 * the new socket. 0 or -ENOMEM. */
int pw_check_forwards(struct pw_check_answer *a);

#endif
