/* SPDX-License-Identifier: MIT */
/*
 * libportwho — which processes hold a port, and why.
 *
 * The library never prints and never exits: every call returns 0 (or a
 * count) on success and a negative errno on failure. Records handed out in a
 * snapshot are read-only for the caller and live until pw_snapshot_free().
 *
 * Data flows one way: collect (sock_diag, /proc or BPF) -> correlate (join
 * sockets and holders, group by netns/proto/port) -> explain (reasons).
 */
#ifndef PORTWHO_H
#define PORTWHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- protocols, families, states ------------------------------------- */

enum pw_proto_bit {
	PW_PROTO_TCP = 1u << 0,
	PW_PROTO_UDP = 1u << 1,
	PW_PROTO_UDPLITE = 1u << 2,
	PW_PROTO_ALL = PW_PROTO_TCP | PW_PROTO_UDP | PW_PROTO_UDPLITE,
};

enum pw_family_bit {
	PW_FAMILY_INET = 1u << 0,
	PW_FAMILY_INET6 = 1u << 1,
	PW_FAMILY_ALL = PW_FAMILY_INET | PW_FAMILY_INET6,
};

/* Kernel TCP state numbers (include/net/tcp_states.h); UDP uses CLOSE for
 * "bound, unconnected" and ESTABLISHED for connected sockets. */
enum pw_state {
	PW_ST_ESTABLISHED = 1,
	PW_ST_SYN_SENT,
	PW_ST_SYN_RECV,
	PW_ST_FIN_WAIT1,
	PW_ST_FIN_WAIT2,
	PW_ST_TIME_WAIT,
	PW_ST_CLOSE,
	PW_ST_CLOSE_WAIT,
	PW_ST_LAST_ACK,
	PW_ST_LISTEN,
	PW_ST_CLOSING,
	PW_ST_NEW_SYN_RECV,
	PW_ST_BOUND_INACTIVE, /* TCP bound, never listened (kernel 6.8+) */
	PW_ST_MAX,
};
#define PW_STATE_BIT(s) (1u << (s))
#define PW_STATES_ALL ((1u << PW_ST_MAX) - 2u) /* every state 1..13 */

/* ss-style name: "LISTEN", "UNCONN", "ESTAB", "TIME-WAIT", "BOUND", ... */
const char *pw_state_name(uint8_t proto, uint8_t state);
/* Parse a -s STATE word (ss names, case-insensitive, plus "connected",
 * "bound", "all"); returns a PW_STATE_BIT mask or -EINVAL. */
int pw_state_parse(const char *word, uint32_t *ret_mask);

/* Display order of states: bound endpoints first (LISTEN, UNCONN, BOUND),
 * connections in between, TIME-WAIT last. Smaller sorts first. */
int pw_state_rank(uint8_t state);

/* IPPROTO_* number -> "tcp"/"udp"/"udplite" */
const char *pw_proto_name(uint8_t ipproto);

/* ---- addresses ------------------------------------------------------- */

struct pw_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16]; /* network order; AF_INET uses the first 4 bytes */
};

bool pw_addr_is_any(const struct pw_addr *a);
/* IPv4-mapped IPv6 (::ffff:a.b.c.d) */
bool pw_addr_is_v4mapped(const struct pw_addr *a);
/* "127.0.0.1", "::1", "*" for a wildcard when star_any is set; IPv6 is NOT
 * bracketed here. Returns the length or -ENOSPC. */
int pw_addr_format(const struct pw_addr *a, bool star_any, char *buf, size_t len);
/* "127.0.0.1:25", "[::1]:53", "*:80"; "%ifname" appended when ifname != NULL */
int pw_endpoint_format(const struct pw_addr *a, uint16_t port, const char *ifname,
		       char *buf, size_t len);
/* Parse a literal address (no brackets, no port, no names): 0 or -EINVAL */
int pw_addr_parse(const char *s, struct pw_addr *ret);

/* ---- PORTSPEC: 53, 53/udp, udp/53, tcp:8080, :http, http, 8000-8100,
 *      127.0.0.1:25, [::1]:53, [::1]:53/udp ---------------------------- */

struct pw_portspec {
	unsigned protos; /* PW_PROTO_* mask; 0 = any */
	uint16_t lo, hi; /* inclusive port range */
	bool has_addr;
	struct pw_addr addr;
};

/* services may be NULL (then only numeric ports are accepted). On error
 * returns -EINVAL and writes a one-line reason (no trailing newline) to
 * errbuf, e.g. "port 70000 is out of range (0-65535)". */
struct pw_services;
int pw_portspec_parse(const char *s, const struct pw_services *services,
		      struct pw_portspec *ret, char *errbuf, size_t errlen);
/* Does a socket's (proto, local address, local port) match? A wildcard
 * socket address matches any spec address of its family (and a dual-stack
 * [::] socket matches IPv4 spec addresses); v4-mapped compares as IPv4. */
bool pw_portspec_match(const struct pw_portspec *spec, uint8_t ipproto,
		       const struct pw_addr *laddr, uint16_t lport, bool v6only);

/* ---- services (/etc/services with a built-in IANA fallback) ---------- */

/* path NULL = "/etc/services"; a missing file uses the built-in table (never
 * an error). Other read errors return -errno. */
int pw_services_load(const char *path, struct pw_services **ret);
void pw_services_free(struct pw_services *s);
/* true when the built-in table is in use */
bool pw_services_builtin(const struct pw_services *s);
/* name (or alias) -> port for proto ("tcp"/"udp"; NULL = either) */
int pw_services_port(const struct pw_services *s, const char *name, const char *proto,
		     uint16_t *ret_port);
/* port -> name for proto ("tcp"/"udp"), NULL when none */
const char *pw_services_name(const struct pw_services *s, uint16_t port, const char *proto);

/* ---- port class ------------------------------------------------------ */

struct pw_port_class {
	const char *iana; /* "system" (0-1023), "user" (1024-49151), "dynamic" */
	bool privileged; /* port < ip_unprivileged_port_start */
	bool ephemeral; /* inside ip_local_port_range */
	bool reserved; /* listed in ip_local_reserved_ports */
};

/* Sysctls of one network namespace, read with the reader inside it. */
struct pw_netns_sysctl {
	int unprivileged_port_start; /* default 1024 */
	uint16_t local_lo, local_hi; /* default 32768 60999 */
	uint8_t reserved[65536 / 8]; /* bitmap of ip_local_reserved_ports */
};
void pw_port_classify(const struct pw_netns_sysctl *sys, uint16_t port,
		      struct pw_port_class *ret);
/* Read the sysctls visible to the caller (its current netns) under
 * sysctl_root ("/proc/sys" when NULL); missing files keep the defaults. */
int pw_netns_sysctl_read(const char *sysctl_root, struct pw_netns_sysctl *ret);
/* "1,2-5,7" -> bitmap; pure, for tests */
int pw_parse_port_list(const char *s, uint8_t bitmap[65536 / 8]);

/* ---- processes and holders ------------------------------------------- */

/* The container a process runs in (PRODUCT.md "Containers"). */
struct pw_container {
	const char *runtime; /* "docker", "podman", "containerd", "cri-o",
				"kubernetes", "nspawn", "lxc" (static) */
	char *id; /* runtime's id (64 hex for OCI runtimes, machine name) */
	char *name; /* "web", or NULL when the runtime could not be asked */
	char *pod_namespace, *pod_name, *pod_uid; /* Kubernetes, else NULL */
	const char *source; /* where the name came from: "docker-api", ... */
};
/* "docker:web", "k8s:default/web-7d9f", "nspawn:ptfix"; a 12-char id when
 * unnamed. Returns the length or -ENOSPC. */
int pw_container_label(const struct pw_container *c, char *buf, size_t len);
/* The runtime's own command to stop it: "docker stop web", "podman stop db",
 * "machinectl stop ptfix", "kubectl delete pod -n NS POD", ... (a hint to
 * print; portwho never runs it). Length, -ENOSPC, or -EOPNOTSUPP. */
int pw_container_stop_command(const struct pw_container *c, char *buf, size_t len);

struct pw_process {
	pid_t pid;
	/* the PID the process sees itself (getpid(), the last number of
	 * "NSpid:"): == pid unless it lives in a child PID namespace (a
	 * container); 1 for a container's init. 0 if unknown. */
	pid_t nspid;
	pid_t ppid;
	uid_t uid; /* effective uid */
	char *comm; /* raw bytes from /proc/PID/stat (may hold anything) */
	char *cmdline; /* argv joined by spaces, raw bytes; may be NULL */
	bool cmdline_truncated; /* longer than the read cap (256 KiB): cut */
	char *user; /* name of uid, or NULL */
	char *unit; /* systemd unit from /proc/PID/cgroup, or NULL */
	bool user_unit; /* unit belongs to a systemd --user manager */
	uint64_t start_time; /* field 22 of /proc/PID/stat (clock ticks) */
	uint64_t netns; /* inode of /proc/PID/ns/net, 0 if unknown */
	/* socket activation environment (0/NULL when absent or unreadable) */
	pid_t listen_pid;
	int listen_fds;
	char *listen_fdnames;
	/* a systemd manager, decided from facts a process cannot fake (its
	 * executable, uid, PID 1, the user@UID.service it runs), never its name */
	bool is_systemd;
	struct pw_container *container; /* NULL: not in a container */
	bool facts_read; /* false if the process vanished before facts were read */
	/* lineage facts, read only for holders of a socket several processes
	 * share (0 = unknown): the stack start (field 28 of stat) changes at
	 * exec under ASLR, so equal values mean "forked without exec" */
	uint64_t start_stack;
	uint64_t parent_start_stack;
	uint64_t parent_start_time;
};

/* How a holder holds the socket. */
enum pw_holder_via {
	PW_VIA_FD = 0, /* an entry of its fd table */
	PW_VIA_IO_URING, /* a fixed file registered with an io_uring it owns */
};
const char *pw_holder_via_name(enum pw_holder_via v); /* "fd", "io_uring" */

struct pw_holder {
	struct pw_process *proc;
	pid_t tid; /* != pid when found only in a thread's private fd table */
	int fd; /* -1 when via io_uring (a fixed file has no fd) */
	uint8_t via; /* enum pw_holder_via */
	int8_t cloexec; /* fd flag from /proc/PID/fdinfo/FD: -1 unknown, 0, 1 */
};

/* ---- sockets --------------------------------------------------------- */

enum pw_opt_source {
	PW_OPTS_UNKNOWN = 0,
	PW_OPTS_BPF,
	PW_OPTS_PROBE,
	PW_OPTS_INFERRED,
};
const char *pw_opt_source_name(enum pw_opt_source s); /* NULL for UNKNOWN */

/* Which end of a socket matched the query's PORTSPEC (socket field
 * "matched_end"): none without PORTSPEC; remote for the local client end of
 * a connection made to the port (pw_query.match_remote). */
enum pw_matched_end {
	PW_END_NONE = 0,
	PW_END_LOCAL,
	PW_END_REMOTE,
};
/* "local", "remote"; NULL for PW_END_NONE */
const char *pw_matched_end_name(enum pw_matched_end e);

/* Ordered by size so a socket takes 104 bytes (it was 112 with the fields
 * in reading order): -a keeps tens of thousands of them. */
struct pw_socket {
	uint64_t netns; /* inode of the network namespace */
	uint64_t cookie;
	uint32_t inode; /* 0 for TIME_WAIT, SYN_RECV, ... */
	uint32_t uid; /* owner uid as sock_diag reports it */
	uint32_t ifindex; /* bound device, 0 none */
	uint8_t family; /* AF_INET / AF_INET6 */
	uint8_t proto; /* IPPROTO_TCP / IPPROTO_UDP / IPPROTO_UDPLITE */
	uint8_t state; /* enum pw_state */
	int8_t v6only; /* -1 unknown */
	int8_t reuseaddr; /* -1 unknown; else 0/1 (2 = forced, kernel's value) */
	int8_t reuseport; /* -1 unknown */
	uint8_t opts_source; /* enum pw_opt_source */
	uint8_t matched_end; /* enum pw_matched_end: which end matched a PORTSPEC */
	uint16_t lport, rport;
	struct pw_addr laddr, raddr;
	uint32_t n_holders;
	char *ifname; /* bound device name, or NULL */
	char *kernel_owner; /* "vxlan0 (vxlan)" etc., or NULL */
	struct pw_holder *holders;
};

/* ---- reasons --------------------------------------------------------- */

enum pw_reason_kind {
	PW_R_SINGLE,
	PW_R_FORKED,
	PW_R_SOCKET_ACTIVATION,
	PW_R_PASSED,
	PW_R_REUSEPORT,
	PW_R_REUSEADDR_DUPLICATE,
	PW_R_ADDRESS_SPLIT,
	PW_R_FAMILY_SPLIT,
	PW_R_KERNEL,
	PW_R_HIDDEN,
	PW_R_CONNECTIONS,
	PW_R_UNHELD, /* sockets with no holder for a reason not listed above */
	PW_R_FORWARDED, /* a NAT rule or a userland proxy sends the traffic elsewhere */
	PW_R_MAX,
};
/* contract strings: "single", "forked", "socket-activation", ... */
const char *pw_reason_kind_name(enum pw_reason_kind k);

enum pw_confidence { PW_CONF_INFERRED, PW_CONF_VERIFIED };
const char *pw_confidence_name(enum pw_confidence c);

struct pw_reason {
	uint8_t kind; /* enum pw_reason_kind */
	uint8_t confidence; /* enum pw_confidence */
	/* sockets is a run of the group's own sockets array, not an array of
	 * its own (most reasons cover one socket, or a port's connections) */
	bool sockets_shared;
	char *summary; /* one sentence a person can act on */
	char **evidence;
	struct pw_socket **sockets;
	uint32_t n_evidence;
	uint32_t n_sockets;
};

/* Traffic for a port that goes elsewhere: an nftables DNAT/REDIRECT/TPROXY
 * rule, or a container's userland proxy (docker-proxy, rootlessport). IPVS
 * is not read (this kernel has none). */
enum pw_forward_via { PW_FWD_NFTABLES, PW_FWD_IPVS, PW_FWD_PROXY };
const char *pw_forward_via_name(enum pw_forward_via v); /* "nftables", ... */

struct pw_forward {
	enum pw_forward_via via;
	char *rule; /* "table ip nat chain DOCKER handle 4", "docker-proxy (PID 921)" */
	const char *action; /* "dnat", "redirect", "tproxy", "proxy" */
	bool has_match_addr;
	struct pw_addr match_addr;
	uint8_t match_plen;
	uint16_t port_min, port_max;
	bool has_to_addr; /* false for REDIRECT: the receiving interface's address */
	struct pw_addr to_addr;
	uint16_t to_port;
	uint64_t to_netns; /* 0: no scanned namespace owns to_addr */
	const char *to_netns_name; /* its name (as a group's netns_name), NULL unknown */
	unsigned to_netns_owners; /* how many scanned namespaces own to_addr */
	bool to_netns_linked; /* several own it; a link joins this one to the rule's */
	pid_t proxy_pid; /* via PROXY */
	char *proxy_command; /* "docker-proxy" */
	uint8_t target_proto;
	size_t n_target_sockets; /* bound sockets at to_addr:to_port in to_netns */
	struct pw_socket **target_sockets;
};

/* All sockets of one (netns, proto, local port). Pointers first, counts
 * narrow: 72 bytes (96 in reading order); -a makes one per client end. */
struct pw_port_group {
	uint64_t netns;
	struct pw_port_class class;
	const char *netns_name; /* "/run/netns" name, "docker:web", "host",
				   "pid:N"; NULL unknown (owned by the snapshot) */
	struct pw_socket **sockets;
	struct pw_reason *reasons;
	struct pw_forward *forwards;
	uint32_t n_sockets;
	uint32_t n_reasons;
	uint32_t n_forwards; /* may be set when n_sockets is 0: a forward only */
	uint16_t port;
	uint8_t proto;
	bool netns_current; /* the namespace portwho runs in */
};

/* ---- taking a snapshot ----------------------------------------------- */

enum pw_netns_scope {
	PW_NETNS_ALL = 0, /* every namespace this run can enter (root); else current */
	PW_NETNS_CURRENT,
	PW_NETNS_PATH, /* query.netns_path: /run/netns/NAME, /proc/PID/ns/net */
};

enum pw_collector_kind {
	PW_COLLECTOR_AUTO = 0, /* BPF when available, else /proc */
	PW_COLLECTOR_PROCFS,
	PW_COLLECTOR_BPF,
};

struct pw_query {
	const struct pw_portspec *specs; /* NULL/0 = every port */
	size_t n_specs;
	unsigned protos; /* PW_PROTO_* mask; 0 = all */
	unsigned families; /* PW_FAMILY_* mask; 0 = all */
	uint32_t states; /* PW_STATE_BIT mask; 0 = all states */
	enum pw_netns_scope netns_scope;
	const char *netns_path;
	enum pw_collector_kind collector;
	const char *proc_root; /* NULL = "/proc" */
	int threads; /* 0 = automatic */
	bool no_holders; /* skip the holder walk (sockets only) */
	bool no_explain; /* skip reasons */
	/* read SO_REUSEADDR/SO_REUSEPORT for every socket (root, BPF); without
	 * it they are read only in namespaces where two bound sockets share an
	 * address and port, the only case where they change a reason */
	bool want_options;
	/* with specs: also sockets whose remote port matches, the local client
	 * ends of connections made to those ports (as lsof -i :PORT shows);
	 * they are grouped under that port. Off for kill and check. */
	bool match_remote;
	/* leave out the holders' command lines (pw_process.cmdline NULL, except
	 * PID 1's): one /proc read per process less when they are not shown */
	bool no_cmdline;
	/* reasons with kind, confidence and sockets but no summary or evidence
	 * (NULL/0): for output that shows only their kinds, or that asks for
	 * the text one group at a time (pw_snapshot_reason_text) */
	bool no_reason_text;
};

struct pw_stats {
	bool privileged; /* could read every process's fd table it tried */
	unsigned hidden_processes; /* processes whose fds could not be read */
	/* of those, processes the BPF task iterator never visited (they exist
	 * in /proc; their fd tables were then tried through /proc) */
	unsigned hidden_unvisited;
	pid_t hidden_pid; /* the lowest hidden PID, 0 when none or unknown */
	unsigned vanished_processes; /* exited during the scan (normal) */
	unsigned netns_seen;
	unsigned netns_skipped; /* namespaces that could not be entered */
	bool dump_interrupted; /* a dump changed under us even after retries */
	const char *collector; /* "procfs" or "bpf" */
	const char *options_route; /* "bpf", "inferred" */
	unsigned forward_rules; /* forwarding rules read (every namespace) */
	unsigned forward_rules_undecoded; /* skipped: set lookups, negations, maps */
	unsigned dumps_interrupted;  /* how many dumps stayed inconsistent */
	unsigned fd_limit_processes; /* fd tables not read: out of fds (EMFILE) */
	bool bpf_fd_limit;	     /* the BPF collector could not load: out of fds */
	int hidepid; /* /proc's hidepid option: 0 off, 1 noaccess, 2 invisible, 4 ptraceable */
	unsigned hidepid_processes;	 /* processes /proc does not list (in hidden_processes) */
	unsigned cmdline_truncated;	 /* command lines cut at the read cap */
	unsigned netns_skipped_fd_limit; /* of netns_skipped: out of fds */
};

/* What a snapshot could not see, one entry per kind that happened
 * (PRODUCT.md "Honesty about what was not seen"). */
enum pw_incomplete_kind {
	PW_INC_NOT_ROOT,	  /* other users' fd tables (not root) */
	PW_INC_HIDEPID,		  /* processes /proc hides (hidepid=2) */
	PW_INC_PROTECTED,	  /* fd tables refused even to root */
	PW_INC_FD_LIMIT,	  /* out of file descriptors (RLIMIT_NOFILE) */
	PW_INC_NAMESPACE_SKIPPED, /* network namespaces not entered */
	PW_INC_DUMP_INTERRUPTED,  /* socket dumps that kept changing */
	PW_INC_CMDLINE_TRUNCATED, /* command lines cut at the read cap */
	PW_INC_MAX,
};
struct pw_incomplete {
	enum pw_incomplete_kind kind;
	unsigned count;
	const char *detail; /* one sentence; lives as long as the snapshot */
};
/* "not-root", "hidepid", "protected", "fd-limit", "namespace-skipped",
 * "dump-interrupted", "cmdline-truncated" */
const char *pw_incomplete_kind_name(enum pw_incomplete_kind k);

struct pw_snapshot;

int pw_snapshot_take(const struct pw_query *q, struct pw_snapshot **ret);
void pw_snapshot_free(struct pw_snapshot *snap);

size_t pw_snapshot_n_sockets(const struct pw_snapshot *snap);
struct pw_socket *pw_snapshot_socket(const struct pw_snapshot *snap, size_t i);
size_t pw_snapshot_n_groups(const struct pw_snapshot *snap);
struct pw_port_group *pw_snapshot_group(const struct pw_snapshot *snap, size_t i);
const struct pw_stats *pw_snapshot_stats(const struct pw_snapshot *snap);
/* Name of a network namespace seen in this snapshot (as netns_name). */
const char *pw_snapshot_netns_name(const struct pw_snapshot *snap, uint64_t netns);
/* inode of the namespace the snapshot was taken from */
uint64_t pw_snapshot_netns_current(const struct pw_snapshot *snap);
/* What this snapshot missed: 0 entries when it saw everything. */
size_t pw_snapshot_n_incomplete(const struct pw_snapshot *snap);
const struct pw_incomplete *pw_snapshot_incomplete(const struct pw_snapshot *snap, size_t i);
/* The summary and evidence of g's reasons, for a snapshot taken with
 * pw_query.no_reason_text: they are written into g's reasons and stay until
 * the next call or pw_snapshot_free, which take them back (one group holds
 * text at a time, so a renderer that streams keeps no text per group). Does
 * nothing when g has its text already. 0, -ENOMEM, -EINVAL (g is not of
 * snap), or -EPROTO when the reasons told again differ (a bug). The
 * snapshot is const as for pw_snapshot_group: the text is a cache it owns. */
int pw_snapshot_reason_text(const struct pw_snapshot *snap, const struct pw_port_group *g);
/* the group a socket belongs to */
struct pw_port_group *pw_snapshot_group_of(const struct pw_snapshot *snap,
					   const struct pw_socket *s);

/* ---- text safety ------------------------------------------------------ */

/* Escape control characters and invalid UTF-8 for a terminal: "\n" -> "\\n",
 * other controls and bad bytes -> "\\xHH". Returns a malloc'ed string. */
char *pw_escape_text(const char *raw);
/* Make raw bytes valid UTF-8 for JSON (bad bytes -> U+FFFD). malloc'ed. */
char *pw_utf8_sanitize(const char *raw);
/* NUL-terminated JSON text (valid UTF-8, as jansson writes it) with DEL, C1 controls and
 * bidi/format characters inside strings written as \uXXXX, so the output
 * is safe on a terminal. Returns a malloc'ed copy (length in *ret_len), or
 * NULL when out of memory. */
char *pw_json_terminal_safe(const char *json, size_t len, size_t *ret_len);

#ifdef __cplusplus
}
#endif
#endif
