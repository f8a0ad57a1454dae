/* SPDX-License-Identifier: MIT */
/*
 * libportwho watch: bind, listen, close and failed-bind events as they
 * happen (and, on request, connect and accept).
 *
 * As root, with BPF, events come from the kernel the moment the call
 * returns: the PID, command and uid are taken in the kernel, so a process
 * that binds and exits a millisecond later is still named. Without BPF (not
 * root, no BTF, built without it) the watcher polls sock_diag and compares
 * snapshots: events are then marked polled, their time is when the change
 * was seen, short-lived sockets between two polls are missed and failed
 * binds cannot be seen at all.
 *
 * Like the rest of the library: never prints, never exits, negative errno.
 */
#ifndef PORTWHO_WATCH_H
#define PORTWHO_WATCH_H

#include <time.h>

#include "portwho.h"

#ifdef __cplusplus
extern "C" {
#endif

enum pw_watch_kind {
	PW_WATCH_BIND,	      /* bind() succeeded (polled: a new bound socket) */
	PW_WATCH_BIND_FAILED, /* bind() failed: err says why */
	PW_WATCH_LISTEN,      /* listen() succeeded */
	PW_WATCH_CLOSE,	      /* a bound or listening socket was closed for good */
	PW_WATCH_CONNECT,     /* an outgoing connection got its local port */
	PW_WATCH_ACCEPT,      /* a connection was accepted */
};
/* "bind", "bind-failed", "listen", "close", "connect", "accept" */
const char *pw_watch_kind_name(enum pw_watch_kind k);

enum pw_watch_mode {
	PW_WATCH_AUTO = 0, /* BPF when it can load, else polling */
	PW_WATCH_BPF,	   /* BPF or fail (-EOPNOTSUPP, -EPERM) */
	PW_WATCH_POLL,	   /* polling sock_diag */
};

struct pw_watch_opts {
	const struct pw_portspec *specs; /* NULL/0: every port */
	size_t n_specs;
	unsigned protos;		 /* PW_PROTO_* mask, 0 = TCP and UDP */
	unsigned families;		 /* PW_FAMILY_* mask, 0 = both */
	bool connections;		 /* connect, accept, and close of connections */
	enum pw_netns_scope netns_scope; /* ALL: every namespace (root) */
	const char *netns_path;
	enum pw_watch_mode mode;
	unsigned poll_interval_ms; /* polling only; 0 = 1000 */
};

struct pw_watch_event {
	enum pw_watch_kind kind;
	bool polled;			     /* seen by comparing snapshots, not traced */
	struct timespec time;		     /* CLOCK_REALTIME of the call (polled: of the poll) */
	uint64_t netns;			     /* inode of the socket's network namespace */
	uint64_t cookie;		     /* socket cookie, 0 when the kernel never made one */
	uint8_t family, proto, state;	     /* AF_*, IPPROTO_*, enum pw_state at the event */
	struct pw_addr laddr, raddr;	     /* bind-failed: the address asked for */
	uint16_t lport, rport;		     /* rport 0 when unconnected */
	uint32_t ifindex;		     /* bound device, 0 none */
	int8_t reuseaddr, reuseport, v6only; /* the socket's flags; -1 unknown */
	uint32_t sock_uid;		     /* owner uid of the socket */
	pid_t pid, tid;			     /* 0 when unknown (polled, no holder seen) */
	uid_t uid;			     /* of the process; sock_uid when polled */
	char command[64];		     /* comm as the kernel had it; "" unknown */
	/* Facts read from /proc once per PID (cached), NULL when the process
	 * was gone (or hidden) by the time the event was read. */
	const struct pw_process *proc;
	/* The socket's namespace named as a group's netns_name ("/run/netns"
	 * name, "docker:web", "host", "pid:N"); NULL when nothing says. Read
	 * once per namespace (cached). */
	const char *netns_name;
	int err; /* bind-failed: positive errno (EADDRINUSE, EACCES, ...) */
};

struct pw_watch;

/* Start watching. BPF programs are attached here (AUTO falls back to polling
 * when they cannot load); the polling watcher takes its first snapshot here,
 * so only changes after this call are events. */
int pw_watch_open(const struct pw_watch_opts *o, struct pw_watch **ret);
void pw_watch_free(struct pw_watch *w);
/* "bpf" or "poll" */
const char *pw_watch_mode_name(const struct pw_watch *w);
unsigned pw_watch_interval_ms(const struct pw_watch *w);
/* Why AUTO fell back to polling: the negative errno of loading or attaching
 * the BPF programs (-EOPNOTSUPP: not built, no BTF, not x86_64; -EPERM: no
 * privilege); 0 when tracing, or when polling was asked for. */
int pw_watch_bpf_error(const struct pw_watch *w);
/* The next event, waiting at most timeout_ms (-1: forever). Returns 1 with
 * *ret valid until the next call, 0 on timeout, -EINTR when a signal came,
 * or another -errno. */
int pw_watch_next(struct pw_watch *w, int timeout_ms, const struct pw_watch_event **ret);
/* Events the kernel dropped because user space fell behind (BPF). */
uint64_t pw_watch_lost(const struct pw_watch *w);

/* ---- who blocked a failed bind ------------------------------------------ */

struct pw_watch_blocker {
	const struct pw_socket *sock; /* with holders; lives in snap */
	const char *rule;	      /* pw_bind_rule name: "exclusive", ... */
	bool maybe;		      /* blocks only if options portwho could not read say so */
};

struct pw_watch_blockers {
	struct pw_snapshot *snap;
	struct pw_watch_blocker *v;
	size_t n;
};

/* For a bind-failed event with EADDRINUSE: the sockets on that port in the
 * event's namespace that the kernel's bind rules say block the bind (as
 * `portwho check` names them), from a snapshot taken now. The blocker may
 * have gone since the event: then n is 0. Other errors: n is 0. */
int pw_watch_blockers_find(const struct pw_watch_event *ev, struct pw_watch_blockers *ret);
void pw_watch_blockers_clear(struct pw_watch_blockers *b);

#ifdef __cplusplus
}
#endif
#endif
