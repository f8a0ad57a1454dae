/* SPDX-License-Identifier: MIT */
/*
 * portwho kill: what to do with each holder of a port, and doing it safely.
 *
 * The decision is pure (pw_kill_plan_decide): it reads the sockets, their
 * holders' process facts, what was learnt when each holder's pidfd was
 * opened, and who is asking. It never signals PID 1, a systemd manager or
 * the caller; a process of a systemd service (or of a socket systemd holds)
 * gets the systemctl command that stops its units instead; a socket no
 * process holds gets the command that removes its kernel owner.
 *
 * Signals go through a pidfd opened at scan time and checked against the
 * start time the scan read, so a PID that exited and was reused in between
 * is never hit. This file never prints and never exits.
 */
#ifndef PORTWHO_KILL_H
#define PORTWHO_KILL_H

#include "portwho.h"

/* ---- who is asking --------------------------------------------------------- */

struct pw_caller {
	pid_t pid;
	uid_t ruid, euid;
	bool cap_kill; /* CAP_KILL in the effective set */
};
/* getpid, getresuid, capget */
int pw_caller_read(struct pw_caller *ret);

/* 1 when proc_root ("/proc" when NULL) numbers processes as this process's
 * PID namespace does (its "self" is getpid()), 0 when not, -errno. */
int pw_proc_is_ours(const char *proc_root);

/* ---- a holder process, seen through its pidfd ------------------------------ */

/* What opening a pidfd taught about one process. */
struct pw_target_facts {
	bool gone;	 /* exited, or its PID now names another process */
	bool uids_known; /* ruid/suid read while the pidfd named it */
	uid_t ruid, suid;
};

/* Open a pidfd for pid and check it still names the process that started at
 * start_time (field 22 of /proc/PID/stat) under proc_root ("/proc" when
 * NULL). A process already gone is not an error: *ret_facts says gone and
 * *ret_pidfd is -EBADF. -errno only for other failures (pidfds unsupported:
 * -ENOSYS; a /proc of another PID namespace than the caller's: -EXDEV). */
int pw_target_open(const char *proc_root, pid_t pid, uint64_t start_time, int *ret_pidfd,
		   struct pw_target_facts *ret_facts);
/* pidfd_send_signal: 0, -ESRCH when the process has exited, -EPERM, ... */
int pw_target_signal(int pidfd, int sig);
/* 1 when the process behind pidfd has exited, 0 while it runs, -errno */
int pw_target_exited(int pidfd);

/* The "Pid:" line of a pidfd's /proc/self/fdinfo: the PID in the namespace
 * of that /proc, -1 once the process has exited, 0 when it is not visible
 * there. Pure. */
int pw_parse_fdinfo_pid(const char *buf, pid_t *ret);
/* /proc/PID/status "Uid:" line: real, effective, saved, filesystem. Pure. */
int pw_parse_status_uids(const char *buf, uid_t ret[4]);
/* May a caller signal a process with these real and saved uids? The
 * kernel's kill_ok_by_cred(). Pure. */
bool pw_may_signal(const struct pw_caller *c, uid_t t_ruid, uid_t t_suid);

/* ---- the plan (pure) -------------------------------------------------------- */

enum pw_kill_verdict {
	PW_KV_SIGNAL,	  /* send the signal through its pidfd */
	PW_KV_GONE,	  /* exited since the scan (or its PID was reused) */
	PW_KV_PID1,	  /* never: PID 1 */
	PW_KV_SELF,	  /* never: this process */
	PW_KV_MANAGER,	  /* never: a systemd manager (PID 1 systemd, systemd --user) */
	PW_KV_UNIT,	  /* part of a systemd service or socket: stop the units */
	PW_KV_PERMISSION, /* the caller may not signal it */
	PW_KV_PROXY,	  /* never: a container's userland proxy (docker-proxy): stop the container */
	PW_KV_CONTAINER,  /* a container's init: stop the container (the runtime's command) */
	PW_KV_MAX,
};
/* "signal", "gone", "pid1", "self", "systemd-manager", "systemd-unit",
 * "permission", "container-proxy", "container" */
const char *pw_kill_verdict_name(enum pw_kill_verdict v);

struct pw_kill_target {
	const struct pw_process *proc;
	struct pw_target_facts facts; /* the caller fills these before deciding */
	int pidfd;		      /* owned by the plan; -EBADF when none */
	enum pw_kill_verdict verdict;
	int phase;	   /* PW_KV_SIGNAL: 1 no ancestor among the signalled, else 2 */
	pid_t ancestor;	   /* phase 2: the nearest signalled ancestor */
	size_t stop;	   /* PW_KV_UNIT, PW_KV_MANAGER: index in plan->stops, or SIZE_MAX */
	bool with_manager; /* holds a socket a systemd manager holds too */
};

/* systemctl stop for units of one manager. */
struct pw_unit_stop {
	char **units; /* socket units first, then services */
	size_t n_units;
	bool user;     /* units of a systemd --user manager */
	uid_t uid;     /* that manager's user */
	char *who;     /* its user name (or uid), for -M WHO@ */
	char *command; /* "systemctl stop a.socket a.service", NULL when no unit is known */
	char *hint;    /* when no unit is known: how to find it */
	/* units of the systemd inside a container (a child PID namespace):
	 * the host PID of that container's init, -1 when not known; 0 for
	 * this host's managers. No command is made for them here. */
	pid_t container;
};

enum pw_unheld_kind {
	PW_UNHELD_KERNEL,  /* a kernel owner is named */
	PW_UNHELD_UNKNOWN, /* root saw every fd table and nobody holds it */
	PW_UNHELD_HIDDEN,  /* its holder may be a process this run could not inspect */
};

/* A socket no process is known to hold. */
struct pw_unheld {
	const struct pw_socket *sock;
	enum pw_unheld_kind kind;
	char *command; /* "ip link del vx0", or NULL */
};

struct pw_kill_env {
	struct pw_caller caller;
	/* the scan read every fd table (root, nothing hidden): a socket without
	 * holders is then the kernel's, not a process's this run missed */
	bool saw_all;
	/* how `ip` reaches the sockets' namespace: both NULL for the current
	 * one, else a name under /run/netns ("ip -n NAME") or a path
	 * ("nsenter --net=PATH ip") */
	const char *netns_name;
	const char *netns_path;
	/* with neither (every namespace, -N all): the namespace `ip` runs in;
	 * a socket of another one gets no command (0: not known, all do) */
	uint64_t current_netns;
};

struct pw_kill_plan {
	const struct pw_socket **socks; /* the sockets considered (inode != 0) */
	size_t n_socks;
	const char **socket_units; /* per sock: the systemd socket unit systemd named, or NULL */
	struct pw_kill_target *targets; /* after decide: signal phase 1, phase 2, the rest */
	size_t n_targets;
	struct pw_unit_stop *stops;
	size_t n_stops;
	struct pw_unheld *unheld;
	size_t n_unheld;
};

/* Collect the distinct holder processes of socks (sockets with inode 0 are
 * left out: nobody holds those). socket_units may be NULL, else parallel to
 * socks. Every target starts with pidfd -EBADF and zero facts. */
int pw_kill_plan_init(const struct pw_socket *const *socks, size_t n,
		      const char *const *socket_units, struct pw_kill_plan *ret);
/* Decide each target's verdict, its phase, the units to stop and what to do
 * about unheld sockets; sorts targets into signal order. Pure. */
int pw_kill_plan_decide(struct pw_kill_plan *plan, const struct pw_kill_env *env);
/* Closes the pidfds. */
void pw_kill_plan_free(struct pw_kill_plan *plan);

/* The one decision for one process (used by decide, exposed for tests). */
enum pw_kill_verdict pw_kill_verdict_of(const struct pw_process *p, const struct pw_target_facts *f,
					bool with_manager, const struct pw_caller *c);
/* Does this unit name stand for a systemd service one stops (not a scope,
 * not the user@UID.service of a user manager)? */
bool pw_unit_is_service(const char *unit);
/* The command that removes a kernel owner ("vxlan device vx0" -> "ip link
 * del vx0"); NULL when none is known. malloc'ed. */
char *pw_kernel_owner_command(const struct pw_socket *s, const struct pw_kill_env *env);

/* ---- doing it (impure) -------------------------------------------------------- */

/* The socket unit systemd reported over D-Bus for s (snapshots taken with
 * explanations ask when systemd holds a socket), or NULL. */
const char *pw_snapshot_socket_unit(const struct pw_snapshot *snap, const struct pw_socket *s);

/* Ask systemd to stop the units (StopUnit, mode "replace"), sockets first,
 * over the system bus or the user's bus (root: USER@.host). On failure
 * *ret_error gets systemd's message (malloc'ed) when there is one.
 * -EOPNOTSUPP when built without libsystemd. */
int pw_unit_stop_run(const struct pw_unit_stop *st, uid_t caller_euid, char **ret_error);

/* ---- the executor (execute.c) ------------------------------------------------ */

/* What happened, in the order it happened; the command renders the log
 * after the executor returns (nothing is printed while signalling). */
enum pw_kill_event_kind {
	PW_KILL_EV_SIGNAL,	 /* a signal to target `index`: err 0 sent, ESRCH gone, ... */
	PW_KILL_EV_AFTER_PARENT, /* target `index` exited after its parent: not signalled */
	PW_KILL_EV_UNIT_STOP,	 /* systemd was asked to stop plan->stops[index] */
};

struct pw_kill_event {
	enum pw_kill_event_kind kind;
	size_t index; /* in plan->targets, or plan->stops for PW_KILL_EV_UNIT_STOP */
	int sig;      /* PW_KILL_EV_SIGNAL */
	int err;      /* 0, or the positive errno of the failure */
};

enum pw_kill_gone {
	PW_KILL_NOT_GONE,
	PW_KILL_GONE_AT_SCAN,	    /* the plan found it gone */
	PW_KILL_GONE_BEFORE_SIGNAL, /* exited between the scan and its signal */
	PW_KILL_GONE_AFTER_PARENT,  /* exited with its signalled parent */
};

struct pw_kill_target_state {
	bool sent;   /* a signal reached it */
	bool exited; /* seen gone after being signalled */
	enum pw_kill_gone gone;
};

struct pw_kill_stop_state {
	bool tried;
	int err;       /* positive errno, 0 when systemd stopped the units */
	char *message; /* systemd's own words for a failure, or NULL */
};

struct pw_kill_exec_opts {
	int sig;
	double timeout; /* seconds to wait for the port */
	bool kill_after_set;
	double kill_after; /* SIGKILL what is left after this many seconds */
	bool stop_units;   /* ask systemd to stop the plan's units (--unit) */
	uid_t caller_euid;
	/* how to look at the port again while waiting (holders are not needed) */
	const struct pw_query *rescan;
};

struct pw_kill_log {
	struct pw_kill_event *events;
	size_t n_events, cap_events;
	struct pw_kill_target_state *targets; /* parallel to plan->targets */
	struct pw_kill_stop_state *stops;     /* parallel to plan->stops */
	size_t n_stops;
	bool acted;	  /* pw_kill_execute ran */
	bool perm_error;  /* EPERM from the kernel, or systemd said no */
	bool stop_failed; /* a stop it asked for did not go through */
	bool free_now;	  /* the last look found the port free */
	double waited;	  /* seconds from the first action to the last look */
};

/* The sockets of snap someone holds: TIME-WAIT and other inode-0 leftovers
 * belong to nobody and go away by themselves. */
size_t pw_snapshot_n_held(const struct pw_snapshot *snap);
/* Is there a signal to send, or (stop_units) a unit to stop? */
bool pw_kill_plan_has_work(const struct pw_kill_plan *plan, bool stop_units);
/* Open a pidfd for each target right after the scan (the ones never
 * signalled, PID 1 and systemd, are left out; a target without process facts
 * counts as gone). -ENOSYS, -EXDEV: see pw_target_open. */
int pw_kill_plan_open(struct pw_kill_plan *plan);
/* Size the log for a decided plan; targets the plan found gone are marked. */
int pw_kill_log_init(struct pw_kill_log *log, const struct pw_kill_plan *plan);
/* Stop units (when asked), signal phase 1, let children follow, signal phase
 * 2, wait for the port while looking again, escalate with SIGKILL when
 * asked. Returns when the port is free, when nothing it acted on is left,
 * or at the deadline: 0, or -errno (the log holds what was done so far). */
int pw_kill_execute(struct pw_kill_plan *plan, const struct pw_kill_exec_opts *o,
		    struct pw_kill_log *log);
void pw_kill_log_free(struct pw_kill_log *log);

#endif
