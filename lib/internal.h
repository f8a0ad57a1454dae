/* SPDX-License-Identifier: MIT */
/* Internal interfaces of libportwho: shared between lib/ files and unit tests. */
#ifndef PW_INTERNAL_H
#define PW_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portwho.h"

#define _cleanup_(f) __attribute__((cleanup(f)))
static inline void pw_freep(void *p) { free(*(void **)p); }
static inline void pw_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_free_ _cleanup_(pw_freep)
#define _cleanup_close_ _cleanup_(pw_closep)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Hand ownership out of a cleanup variable. */
#define TAKE_PTR(p)                                                            \
	({                                                                     \
		__typeof__(p) _t = (p);                                        \
		(p) = NULL;                                                    \
		_t;                                                            \
	})
#define TAKE_FD(fd)                                                            \
	({                                                                     \
		int _t = (fd);                                                 \
		(fd) = -EBADF;                                                 \
		_t;                                                            \
	})

/* Grow *ptr (array of elsize items, capacity *cap) to hold need items. */
int pw_grow(void **ptr, size_t *cap, size_t need, size_t elsize);
#define PW_GROW(arr, cap, need) pw_grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

/* Read a small file relative to dirfd into a NUL-terminated malloc'ed buffer
 * (embedded NULs kept; *ret_len excludes the terminator). -errno on failure. */
int pw_read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len);
/* The same for a /proc/PID file, where a short read ends it: the seq_file
 * files (stat, status, cgroup) hand over all they have in one read when the
 * buffer holds it, and cmdline and environ fill the buffer while there is
 * data. That saves the read() that only sees the end, one syscall in four
 * per file on 2,000 holders. */
int pw_read_proc_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len);
/* Is capability cap (CAP_*) in this process's effective set? Without
 * capget: whether the effective uid is 0. */
bool pw_have_cap(int cap);

/* ---- sock_diag (diag.c talks netlink, diag-parse.c is pure) ----------- */

struct nlmsghdr;
struct mnl_socket;
struct nlmsghdr;
/* diag.c: send one request on a bound netlink socket (its sequence number is
 * set here) and hand every reply to cb until the kernel says DONE (a dump) or
 * acknowledges (NLM_F_ACK). 0, or *cb_err when the callback failed and set
 * it (cb_err may be NULL), else -errno. */
int pw_nl_talk(struct mnl_socket *nl, struct nlmsghdr *req,
	       int (*cb)(const struct nlmsghdr *, void *), void *data, const int *cb_err);
/* The same on a netlink socket of this protocol opened for the one request. */
int pw_nl_ask(int protocol, struct nlmsghdr *req, int (*cb)(const struct nlmsghdr *, void *),
	      void *data, const int *cb_err);

struct pw_sockvec {
	struct pw_socket *v;
	size_t n, cap;
};
void pw_sockvec_free(struct pw_sockvec *sv);
/* Give back the room doubling left past the last socket. */
void pw_sockvec_fit(struct pw_sockvec *sv);

/* Build inet_diag bytecode accepting a local port inside any spec's range
 * (protocols/addresses are not checked here). Returns the length written, 0
 * when no filter is needed (no specs, or a spec covers every port), or
 * -ENOSPC. Pure. */
int pw_diag_build_bytecode(const struct pw_portspec *specs, size_t n, void *buf, size_t len);
/* The same, and with remote also a remote port inside any spec's range (the
 * local client ends of connections made to those ports). */
int pw_diag_build_bytecode_ends(const struct pw_portspec *specs, size_t n, bool remote,
				void *buf, size_t len);

/* What to ask sock_diag for a query, decided before any socket is read:
 * the dumps (family, proto, states) in order, the kernel-side port filter
 * and the one port asked about. Built by pw_diag_request_build (pure,
 * diag-request.c); every namespace gets the same request. */
struct pw_diag_dumpspec {
	uint8_t family; /* AF_UNSPEC: TCP, both families in one walk */
	uint8_t proto;
	uint32_t states; /* never TCP CLOSE: that would walk every connection */
};
struct pw_diag_request {
	unsigned protos; /* effective PW_PROTO_* mask */
	uint32_t states; /* kernel states mask asked for */
	uint16_t sport;	 /* the one port every spec names, or 0 */
	struct pw_diag_dumpspec dumps[6];
	size_t n_dumps;
	char bc[4096]; /* inet_diag bytecode for the specs' ports */
	size_t bc_len;
};
/* 0, or -ENOSPC when the specs' port filter does not fit. */
int pw_diag_request_build(const struct pw_query *q, struct pw_diag_request *ret);

/* ---- socket options (explain/sockopts.c) -------------------------------- */

/* How much of SO_REUSEADDR/SO_REUSEPORT/V6ONLY a caller needs. */
enum pw_sockopts_need {
	/* only in a namespace where two bound sockets share one address and
	 * port: the only case where the options change a reason */
	PW_SOCKOPTS_IF_SHARED,
	PW_SOCKOPTS_ALL, /* every socket (check, JSON, the option columns) */
};
/* Read them for sv->v[from..] (sockets of the namespace the calling thread
 * is in) with BPF socket iterators; opts_source becomes PW_OPTS_BPF where a
 * record matched. Returns 1 when a read was made (the options route is
 * "bpf"), 0 when not needed or BPF is not built in. Best effort. */
int pw_sockopts_read(struct pw_sockvec *sv, size_t from, enum pw_sockopts_need need);
/* The same at PW_SOCKOPTS_ALL for a namespace whose TCP dumps ask only for
 * listeners, read in a thread beside the sock_diag dumps: start it (inside
 * the namespace) before dumping, apply it to sv->v[from..] after (it reads
 * the whole way itself when what was listed is not listeners only), or
 * cancel it on a failed dump. */
struct pw_sockopts_prefetch {
	pthread_t th;
	bool started;
	int r;
	struct pw_bpf_sockopt *v;
	size_t n;
};
void pw_sockopts_prefetch_start(struct pw_sockopts_prefetch *pf);
int pw_sockopts_prefetch_apply(struct pw_sockopts_prefetch *pf, struct pw_sockvec *sv, size_t from);
void pw_sockopts_prefetch_cancel(struct pw_sockopts_prefetch *pf);

/* For sockets whose SO_REUSEADDR, SO_REUSEPORT or IPV6_V6ONLY are unknown
 * (sock_diag never reports the first two; BPF socket iterators do not see
 * bound-only TCP sockets): copy the fd from a holder with pidfd_getfd, check
 * SO_COOKIE, read the options, close the copy at once; opts_source becomes
 * PW_OPTS_PROBE. Needs ptrace rights over the holder (root, or its uid).
 * Refused (-EPERM) where cgroup v1 net_cls/net_prio is in use, since
 * receiving the fd would re-tag the socket. Returns how many were filled. */
int pw_sockopts_probe(struct pw_socket *const *v, size_t n);

/* Parse one SOCK_DIAG_BY_FAMILY reply into *ret (strings left NULL).
 * asked_bound_inactive: the request carried state bit 13, so a TCP socket
 * in CLOSE is bound-inactive. Returns 0 or -EINVAL for a malformed
 * message. Pure. */
int pw_diag_parse(const struct nlmsghdr *nlh, uint8_t proto, uint64_t netns,
		  bool asked_bound_inactive, struct pw_socket *ret);

/* One datagram of a dump reply: append the sockets of messages carrying
 * seq and portid that pass the states mask; *intr set when one carries
 * NLM_F_DUMP_INTR. 1 at NLMSG_DONE, 0 when more is to come, -errno for a
 * netlink error. Pure (the seam for replayed and fuzzed dumps). */
int pw_diag_consume(const void *buf, size_t n, uint32_t seq, uint32_t portid, uint8_t proto,
		    uint32_t states, bool asked_bi, uint64_t netns, struct pw_sockvec *out,
		    bool *intr);

/* Dump one (family, proto) of the namespace nl lives in, appending sockets
 * that pass the states mask. family AF_UNSPEC (TCP only) takes both families
 * in one walk. sport != 0 asks the kernel for that local port only.
 * Retries interrupted dumps; *interrupted says if the last try was still
 * inconsistent. */
int pw_diag_dump(struct mnl_socket *nl, uint8_t family, uint8_t proto, uint32_t states,
		 uint16_t sport, const void *bytecode, size_t bc_len, uint64_t netns,
		 struct pw_sockvec *out, bool *interrupted);

/* ---- holder collectors (procfs.c, bpf later) --------------------------- */

struct pw_fdrec {
	uint32_t inode;
	pid_t pid;
	pid_t tid; /* == pid unless from a private per-thread table */
	int fd; /* -1 for PW_VIA_IO_URING; the ring's fd for PW_FDREC_RING */
	uint8_t via; /* enum pw_holder_via, or PW_FDREC_RING */
};
/* A collector that sees io_uring fds but not their file tables (BPF) records
 * the ring with this via and inode 0; pw_walk_complete() reads its table. */
#define PW_FDREC_RING 0xff

/* A network namespace found during the walk, with a way in. The walk holds
 * it by an fd opened as soon as it is seen (held), so the namespace stays
 * enterable when the process it was found through exits; pid and path are
 * the fallbacks when no fd could be opened. */
struct pw_nsref {
	uint64_t ino;
	pid_t pid; /* a process living in it (0 if found by path) */
	char *path; /* e.g. /run/netns/NAME, or NULL */
	int fd;	    /* an open nsfs fd when held */
	bool held;
};
/* Open the namespace at dirfd/path, check its inode (0: any), and hold it in
 * ref. -errno (-ESRCH when the inode differs: the pid was reused). */
int pw_nsref_hold(struct pw_nsref *ref, int dirfd, const char *path, uint64_t ino);
void pw_nsref_release(struct pw_nsref *ref);
/* How many namespaces a walk may hold open: the soft RLIMIT_NOFILE less a
 * reserve for the walk itself (fd tables, sock_diag); past it, a namespace
 * is kept by pid and path as before. */
size_t pw_nsref_budget(void);

/* What /proc/PID/stat, status and ns/net say of a process, read by the BPF
 * walk from its thread-group leader at the moment its fd table was walked. */
struct pw_task_facts {
	pid_t pid, ppid, nspid;
	uid_t uid; /* effective */
	uint64_t netns;
	uint64_t start_time; /* clock ticks since boot, as field 22 of stat */
	uint64_t cgroups; /* the task's css_set: equal keys, equal /proc/PID/cgroup */
	char comm[16];
	char exe[16]; /* file name of the executable, cut to 15 bytes; "" none */
};

struct pw_walk {
	struct pw_fdrec *recs;
	size_t n_recs, cap_recs;
	struct pw_nsref *ns;
	size_t n_ns, cap_ns;
	unsigned hidden; /* fd tables we were refused */
	unsigned fd_limit; /* fd tables not opened: RLIMIT_NOFILE (EMFILE/ENFILE) */
	unsigned vanished;
	unsigned processes;
	/* BPF: thread-group ids the task iterator visited (unsorted), so the
	 * processes it did not visit can be found; NULL from /proc */
	pid_t *visited;
	size_t n_visited, cap_visited;
	bool visited_known;
	unsigned unvisited_hidden; /* hidden among the unvisited */
	pid_t hidden_min; /* lowest hidden pid, 0 none */
	/* BPF (iter/task): the facts of each process whose table held a
	 * socket, read in the walk (sorted by pid, one each); NULL from /proc */
	struct pw_task_facts *facts;
	size_t n_facts, cap_facts;
};
void pw_walk_free(struct pw_walk *w);

/* procfs.c: the numeric entries of procfd (every visible process). */
int pw_proc_list_pids(int procfd, pid_t **ret, size_t *ret_n);
/* After a walk that may have missed processes or left io_uring tables
 * unread (BPF): every pid of before[] (a /proc listing taken before the
 * walk) that the walk did not visit and that still exists is walked
 * through /proc (counted hidden when refused), and each PW_FDREC_RING
 * record is replaced by the sockets of that ring's file table. */
int pw_walk_complete(int procfd, const pid_t *before, size_t n_before, struct pw_walk *w);

struct pw_walk_opts {
	const char *proc_root; /* "/proc" */
	int threads;
	bool want_netns; /* record each process's netns */
};

struct pw_collector {
	const char *name;
	/* 0, -EOPNOTSUPP when this collector cannot run here, or -errno */
	int (*walk)(const struct pw_walk_opts *o, struct pw_walk *out);
};
extern const struct pw_collector pw_collector_procfs;
extern const struct pw_collector pw_collector_bpf; /* -EOPNOTSUPP if not built */

/* ---- network namespaces (netns.c) ------------------------------------- */

/* inode of the calling thread's network namespace, 0 if unknown */
uint64_t pw_netns_current(void);
/* Append namespaces bound under dir (/run/netns) not already in w->ns. */
int pw_netns_add_bound(const char *dir, struct pw_walk *w);
/* Run fn(ref's inode, arg) inside ref's namespace (checked by inode against
 * PID reuse), in a thread of its own that ends there: the process itself
 * (/proc/PID/ns/net) never leaves its namespace, so nobody tearing a
 * namespace down by "every process in it" (ip netns pids) takes portwho
 * along, and there is no way back to get wrong. fn's result, or -errno. */
int pw_netns_run(int procfd, const struct pw_nsref *ref, int (*fn)(uint64_t netns, void *arg),
		 void *arg);

/* ---- /proc parsers (procparse.c, pure) and process facts --------------- */

/* /proc/PID/stat: comm (between the first '(' and the LAST ')'), ppid,
 * starttime (field 22). */
int pw_parse_stat(const char *buf, size_t len, char **ret_comm, pid_t *ret_ppid,
		  uint64_t *ret_start);
/* /proc/PID/status "Uid:" line: effective (second) uid */
int pw_parse_status_euid(const char *buf, uid_t *ret_uid);
/* /proc/PID/status "NSpid:" line: the innermost PID; -ENOENT when absent */
int pw_parse_status_nspid(const char *buf, pid_t *ret_pid);
/* /proc/PID/fdinfo/N of an io_uring: inodes of the sockets registered as
 * fixed files (malloc'ed, may be NULL with *ret_n 0); -EAGAIN when the
 * kernel printed no file table (ring busy) */
int pw_parse_uring_files(const char *buf, size_t len, uint32_t **ret, size_t *ret_n);
/* /proc/PID/cgroup (v1 or v2 lines): the systemd unit; *ret_user_unit set
 * when it lives under user@UID.service. -ENOENT when none. */
int pw_parse_cgroup_unit(const char *buf, char **ret_unit, bool *ret_user_unit);
/* NUL-separated environ: value of key, malloc'ed; -ENOENT when absent */
int pw_environ_get(const char *buf, size_t len, const char *key, char **ret);
/* NUL-separated cmdline -> space-joined, malloc'ed; NULL-safe empty -> -ENODATA */
int pw_cmdline_join(const char *buf, size_t len, char **ret);
/* "socket:[12345]" -> 12345; -EINVAL otherwise */
int pw_parse_socket_link(const char *link, size_t len, uint32_t *ret_inode);
/* "net:[4026531840]" -> 4026531840 */
int pw_parse_ns_link(const char *link, size_t len, uint64_t *ret_ino);

/* Fill a pw_process from proc_root/PID (comm, ppid, uid, user, cmdline,
 * unit, start time, LISTEN_* env). -ESRCH/-ENOENT if it vanished. */
int pw_process_read(int procfd, pid_t pid, struct pw_process *p);
/* pw_process_read with PW_FACTS_* flags */
#define PW_FACTS_NO_CMDLINE 1u /* cmdline stays NULL (PID 1's is read anyway) */
#define PW_FACTS_NO_REASON_TEXT 2u /* pw_explain: no summary, no evidence */
int pw_process_read_some(int procfd, pid_t pid, unsigned flags, struct pw_process *p);
/* The same with the walk's facts of the process (tf, may be NULL): stat,
 * status and ns/net are not read again, the executable's link only when
 * its name could make it a systemd manager. PW_FACTS_NO_CGROUP: unit and
 * container are left for pw_process_copy_cgroup. */
#define PW_FACTS_NO_CGROUP 4u
int pw_process_read_known(int procfd, pid_t pid, unsigned flags, const struct pw_task_facts *tf,
			  struct pw_process *p);
/* Unit, user_unit, container (and is_systemd, which depends on the unit)
 * of a process in the same cgroups as from (same css_set), copied. */
int pw_process_copy_cgroup(struct pw_process *p, const struct pw_process *from);
void pw_process_clear(struct pw_process *p);

/* ---- containers (container-parse.c pure, container*.c I/O) -------------- */

/* /proc/PID/cgroup -> runtime and id (pod uid under kubepods; nspawn and
 * LXC named by their cgroup). -ENOENT when no runtime's layout matches. */
int pw_parse_cgroup_container(const char *buf, struct pw_container *ret);
/* NUL-separated systemd-nspawn argv -> machine name (-M, --machine=, or the
 * basename of -D/--directory/-i/--image). -ENOENT when none. */
int pw_nspawn_machine(const char *argv, size_t len, char **ret);
void pw_container_clear(struct pw_container *c);
/* nspawn or LXC around pid without a cgroup of its own (nspawn
 * --register=no): its ancestor that is PID 1 in its PID namespace has
 * container=systemd-nspawn|lxc in its environment; named from the nspawn
 * parent's argv, else the container's /etc/hostname. -ENOENT when none. */
int pw_container_from_init(int procfd, pid_t pid, struct pw_container *ret);
/* Pod namespace/name from log_root/pods/NS_NAME_UID, the container name
 * from log_root/containers/POD_NS_NAME-ID.log (kubelet's layout). */
int pw_k8s_name(const char *log_root, struct pw_container *c);
struct pw_snapshot;
/* Name every holder's container (asks each runtime at most once); finds
 * nspawn/LXC containers from their init. */
int pw_containers_resolve(struct pw_snapshot *snap, int procfd);
/* The same for the holders of forward targets (after the holders: a
 * container already named is not asked again). */
int pw_containers_resolve_targets(struct pw_snapshot *snap, int procfd);
void pw_docker_names(struct pw_snapshot *snap, int procfd);
/* netns-name.c: snap->netns_names and each group's netns_name/current */
struct pw_walk;
int pw_netns_names(struct pw_snapshot *snap, const struct pw_walk *w, int procfd,
		   const char *bound_dir);

/* ---- kernel-owned sockets (kernel-owner.c) ------------------------------ */

struct pw_kowner {
	uint64_t netns; /* where the device/receiver was found */
	uint16_t port;
	uint8_t proto;
	char *desc; /* "vxlan device vxlan0" */
};
struct pw_kowners {
	struct pw_kowner *v;
	size_t n, cap;
	char **wg; /* wireguard links seen in the current dump */
	size_t n_wg, cap_wg;
};
/* Tunnel ports of the caller's current namespace (rtnetlink + genetlink). */
int pw_kowners_collect(uint64_t netns, struct pw_kowners *out);
void pw_kowners_free(struct pw_kowners *o);
struct pw_snapshot;
void pw_kowners_attribute(struct pw_snapshot *snap, const struct pw_kowners *o);

/* ---- systemd socket units over D-Bus (units.c, optional) ---------------- */

struct pw_sockunit {
	char *unit; /* "dnsmasq.socket" */
	char *service; /* what it triggers, or NULL */
	uint8_t proto;
	uint16_t port;
	bool has_addr;
	struct pw_addr addr;
};
struct pw_sockunits {
	struct pw_sockunit *v;
	size_t n, cap;
};
/* Unit-name helpers shared by explain (what to say) and kill (what to do). */
bool pw_unit_is_service(const char *unit); /* *.service, not a user@ manager */
bool pw_unit_name_valid(const char *s, const char *suffix); /* systemd's charset */
/* the LISTEN_FDNAMES entry of fd when it names a socket unit, malloc'ed */
char *pw_listen_fdname_unit(const struct pw_process *p, int fd);
/* LISTEN_PID names the process itself: compared with the PID it sees
 * itself (NSpid), which differs from ours inside a container */
bool pw_listen_pid_is_self(const struct pw_process *p);
/* PID 1 of the host or of a child PID namespace (a container's init) */
bool pw_process_is_init(const struct pw_process *p);
/* "dnsmasq.service" -> "dnsmasq.socket" (Accept=yes instances too), malloc'ed */
char *pw_socket_unit_guess(const char *service);
/* bound and not a connection: LISTEN or bound-inactive TCP, unconnected UDP */
static inline bool pw_socket_is_bound(const struct pw_socket *s)
{
	if (s->proto == 6 /* IPPROTO_TCP */)
		return s->state == PW_ST_LISTEN || s->state == PW_ST_BOUND_INACTIVE;
	return s->state == PW_ST_CLOSE;
}

/* -errno (no bus, no systemd, not built) leaves *out empty */
int pw_sockunits_read(struct pw_sockunits *out);

#if HAVE_LIBSYSTEMD
#include <systemd/sd-bus.h>
/* sdbus.c: the sd-bus calls portwho makes, from libsystemd opened on first
 * use (NULL when it cannot be opened; open_user_machine may be NULL on
 * systemd before 248). */
struct pw_sdbus {
	__typeof__(sd_bus_open_system) *open_system;
	__typeof__(sd_bus_open_user) *open_user;
	__typeof__(sd_bus_open_user_machine) *open_user_machine;
	__typeof__(sd_bus_call_method) *call_method;
	__typeof__(sd_bus_get_property) *get_property;
	__typeof__(sd_bus_message_enter_container) *message_enter_container;
	__typeof__(sd_bus_message_read) *message_read;
	__typeof__(sd_bus_message_unref) *message_unref;
	__typeof__(sd_bus_error_free) *error_free;
	__typeof__(sd_bus_error_has_name) *error_has_name;
	__typeof__(sd_bus_flush_close_unref) *flush_close_unref;
};
const struct pw_sdbus *pw_sdbus(void);
#endif
void pw_sockunits_free(struct pw_sockunits *u);
const struct pw_sockunit *pw_sockunits_find(const struct pw_sockunits *u,
					    const struct pw_socket *s);

/* ---- forwarding rules (nft.c) and addresses (addrs.c) ------------------ */

struct nlmsghdr;
enum pw_nat_kind { PW_NAT_DNAT, PW_NAT_REDIRECT, PW_NAT_TPROXY };

/* One DNAT/REDIRECT/TPROXY rule as read from nftables. */
struct pw_nat_rule {
	uint64_t netns;
	uint8_t family; /* the table's NFPROTO_* */
	char *table, *chain;
	uint64_t handle;
	uint8_t proto; /* IPPROTO_TCP/UDP; 0 = any */
	uint16_t port_min, port_max; /* destination ports matched (0-65535: any) */
	bool has_daddr;
	struct pw_addr daddr; /* destination address matched */
	uint8_t daddr_plen;
	enum pw_nat_kind kind;
	bool has_to_addr;
	struct pw_addr to_addr;
	uint16_t to_port_min, to_port_max; /* 0: the port is kept */
	char *why; /* non-NULL: a match portwho could not decode (set lookup...) */
};
struct pw_nat_rules {
	struct pw_nat_rule *v;
	size_t n, cap;
};
/* Decode one NFT_MSG_NEWRULE message: 1 and *ret filled for a forward, 0
 * for any other rule, -EINVAL when malformed. Pure. */
int pw_nft_rule_decode(const struct nlmsghdr *nlh, uint64_t netns, struct pw_nat_rule *ret);
/* Forwarding rules of the caller's current namespace (needs CAP_NET_ADMIN). */
int pw_nft_collect(uint64_t netns, struct pw_nat_rules *out);
void pw_nat_rule_clear(struct pw_nat_rule *r);
void pw_nat_rules_free(struct pw_nat_rules *rs);

struct pw_netaddr {
	uint64_t netns;
	struct pw_addr addr;
};
struct pw_netaddrs {
	struct pw_netaddr *v;
	size_t n, cap;
};
/* The interface addresses of the caller's current namespace (RTM_GETADDR). */
int pw_netaddrs_collect(uint64_t netns, struct pw_netaddrs *out);
/* The id the caller's current namespace gives the namespace nsfd refers
 * to (RTM_GETNSID): set when a link (a veth peer) joins the two. -ENOENT
 * when none is assigned. */
int pw_netns_peer_id(int nsfd);

/* ---- snapshot internals ----------------------------------------------- */

/* Holders and their processes for one vector of sockets. */
struct pw_holderset {
	struct pw_process *procs; /* sorted by pid */
	size_t n_procs;
	struct pw_holder *holders;
	size_t n_holders;
};

struct pw_snapshot {
	unsigned facts_flags; /* PW_FACTS_* for pw_process_facts */
	struct pw_sockvec sockets;
	struct pw_process *procs; /* processes referenced by holders */
	size_t n_procs;
	struct pw_holder *holders; /* all holders; sockets point into this */
	size_t n_holders;
	struct pw_port_group *groups;
	size_t n_groups;
	struct pw_stats stats;
	struct pw_netns_sysctl *sysctls; /* one per netns in netns_ids */
	uint64_t *netns_ids;
	char **netns_names; /* parallel to netns_ids (netns-name.c) */
	uint64_t netns_current; /* the namespace portwho runs in */
	size_t n_netns;
	struct pw_kowners kowners; /* tunnel ports seen in every namespace */
	struct pw_sockunits sockunits; /* systemd socket units, when asked */
	struct pw_nat_rules natrules; /* forwarding rules of every namespace */
	struct pw_sockvec targets; /* where forwards land, when not in sockets */
	struct pw_holderset target_holders;
	size_t n_socket_groups; /* groups with sockets come first */
	/* the reasons of every group without forwards, one array (explain.c);
	 * a group with forwards has an array of its own (forward-explain.c
	 * grows it) */
	struct pw_reason *reason_pool;
	size_t n_reason_pool;
	/* reason-text.c: text told on demand (pw_snapshot_reason_text) */
	struct pw_reason_text *reason_text;
	struct pw_incomplete incomplete[PW_INC_MAX]; /* what was missed */
	size_t n_incomplete;
	char inc_detail[PW_INC_MAX][200];
};
/* forward.c: find forwards for the query, follow them, add their groups. */
struct pw_forward_ctx {
	const struct pw_query *q;
	const struct pw_walk *w;
	int procfd;
	uint64_t current;
};
int pw_forwards_build(struct pw_snapshot *snap, const struct pw_forward_ctx *c);
/* docker-proxy's command line -> where it forwards (-container-ip,
 * -container-port, -proto). -ENOENT when it names no target. Pure. */
int pw_proxy_parse(const char *cmdline, uint8_t *ret_proto, struct pw_addr *ret_addr,
		   uint16_t *ret_port);
/* forward-explain.c: the `forwarded` reason of each group with forwards. */
int pw_explain_forwards(struct pw_snapshot *snap);
void pw_forward_clear(struct pw_forward *f);

/* incomplete.c: fill snap->incomplete from snap->stats (and the processes). */
void pw_incomplete_build(struct pw_snapshot *snap);
/* /proc's hidepid mount option (0, 1, 2, 4) from /proc/self/mountinfo;
 * procfs.c. Processes that exist but are not listed under procfd (counted
 * by probing pids with signal 0, which sends nothing). */
int pw_proc_hidepid(void);
unsigned pw_proc_count_invisible(int procfd);

/* diag-netns.c: the sockets phase, every namespace of the scope (with
 * PW_NETNS_ALL, those the holder walk found and those under /run/netns),
 * appended to snap->sockets with their sysctls and kernel owners. */
struct pw_collect_ctx {
	const struct pw_query *q;
	struct pw_snapshot *snap;
	struct pw_diag_request req; /* the same in every namespace */
	bool use_bpf_opts;
	bool root;
};
/* The sockets phase in two parts: the namespace asked or the current one
 * (no walk needed: pw_snapshot_take runs it beside the walk), then with
 * ALL every other namespace the walk found or /run/netns names. */
int pw_collect_sockets_first(struct pw_collect_ctx *c, int procfd, enum pw_netns_scope scope);
int pw_collect_sockets_rest(struct pw_collect_ctx *c, int procfd, enum pw_netns_scope scope,
			    struct pw_walk *w);

/* correlate.c, the phases between collecting and explaining:
 * pw_join (sockets <-> holders) -> pw_process_facts -> pw_group (by netns,
 * proto, port, classified); pw_snapshot_take runs them in order. */
struct match;
struct pw_joined {
	struct match *matches; /* (socket, fd record), parallel to snap->holders */
	size_t n;
	const struct pw_task_facts *facts; /* the walk's (sorted by pid), borrowed */
	size_t n_facts;
};
int pw_join(struct pw_snapshot *snap, const struct pw_walk *w, struct pw_joined *ret);
/* The same, and the records that matched leave w (only the unmatched ones
 * stay, for the forward targets' join): the snapshot's own join. */
int pw_join_take(struct pw_snapshot *snap, struct pw_walk *w, struct pw_joined *ret);
/* Facts read beside the sockets phase (correlate.c): the processes of the
 * walk's facts, in a thread, until pw_process_facts stops it and takes
 * what it needs; pw_facts_early_free (also after a failure) stops and
 * frees. The walk must outlive it. */
struct pw_facts_early {
	pthread_t th;
	bool started;
	atomic_bool stop;
	size_t n, n_read; /* processes, and how many the worker read */
	pid_t *pids;	  /* sorted */
	const struct pw_task_facts **tf;
	uint32_t *rep; /* whose cgroup file each one shares */
	struct pw_process *procs;
	bool *taken; /* moved into the snapshot */
	int procfd;
	unsigned flags;
	size_t limit; /* read at most this many (tests), 0 = all */
};
int pw_facts_early_start(struct pw_facts_early *e, const struct pw_walk *w, int procfd,
			 unsigned flags, size_t limit);
void pw_facts_early_free(struct pw_facts_early *e);
int pw_process_facts(struct pw_snapshot *snap, const struct pw_joined *j, int procfd,
		     struct pw_facts_early *early);
void pw_joined_free(struct pw_joined *j);
int pw_group(struct pw_snapshot *snap);
/* lineage.c: exec and close-on-exec facts for sockets held by several
 * processes (separate inheriting from receiving); errors leave them unknown. */
void pw_lineage_read(struct pw_snapshot *snap, int procfd);
/* pure: field N (1-based, N >= 3) of /proc/PID/stat as a number */
int pw_parse_stat_field(const char *buf, size_t len, unsigned field, uint64_t *ret);
/* pure: the octal "flags:" line of /proc/PID/fdinfo/FD */
int pw_parse_fdinfo_flags(const char *buf, unsigned *ret_flags);
/* explain.c: fill group->reasons for every group (pure over the snapshot). */
int pw_explain(struct pw_snapshot *snap);
/* reason-text.c: give back the text lent to a group, free the work space */
void pw_reason_text_free(struct pw_snapshot *snap);
void pw_reason_clear(struct pw_reason *r);
/* its summary and evidence only, left NULL/0 (reason-text.c gives them back) */
void pw_reason_clear_text(struct pw_reason *r);

#endif
