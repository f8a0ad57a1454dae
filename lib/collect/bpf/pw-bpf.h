/* SPDX-License-Identifier: MIT */
/* BPF iterators inside libportwho (internal API).
 *
 * Built only when libbpf, clang, bpftool and a BTF-enabled kernel were found
 * at build time (meson -Dbpf=auto|enabled|disabled); otherwise every entry
 * point returns -EOPNOTSUPP and the library uses its /proc and sock_diag
 * routes. At run time BPF needs root (CAP_BPF + CAP_PERFMON, or
 * CAP_SYS_ADMIN), kernel BTF and, for the holder walk, kernel 5.17+.
 *
 * Programs are loaded on first use and kept for the life of the process
 * (the second call costs no load); pw_bpf_release() drops them. A forked
 * child loads its own.
 */
#ifndef PW_BPF_H
#define PW_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pw_bpf_sockopt {
	uint64_t cookie; /* 0 if the kernel never generated one */
	uint32_t inode; /* 0 for TIME_WAIT / request socks */
	uint32_t uid; /* sk_uid: owner uid */
	uint8_t family, proto, state;
	uint8_t reuse; /* skc_reuse: 0, 1, 2 (forced) */
	uint8_t reuseport; /* skc_reuseport */
	uint8_t v6only; /* skc_ipv6only */
	uint32_t ifindex; /* skc_bound_dev_if */
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport; /* host order */
};

/* Every TCP (incl. TIME_WAIT and request socks as iter/tcp shows them) and UDP
 * socket of the caller's current network namespace, both families, via
 * iter/tcp and iter/udp. -EOPNOTSUPP when BPF is unavailable here (not built,
 * no privileges, no BTF, old kernel) — the caller then falls back silently.
 *
 * *ret is malloc'ed (free() it; NULL when *ret_n is 0). The namespace is the
 * calling thread's at the time of the call, so setns() first to read another.
 * States as sock_diag reports them. TIME_WAIT entries (state TIME_WAIT or
 * FIN_WAIT2): flags of the socket they came from, uid 0 (the kernel keeps
 * none). Request socks (state SYN_RECV): the listener's flags and uid.
 * Not included: TCP sockets bound but never listened on (they sit only in
 * the bind hash, which iter/tcp does not walk) and unbound UDP sockets. */
int pw_bpf_sockopts_read(struct pw_bpf_sockopt **ret, size_t *ret_n);
/* The same; with tcp_listen_only, of TCP only the listening sockets (the
 * kernel's walk stops before the connections): UDP is read whole. */
int pw_bpf_sockopts_read_some(bool tcp_listen_only, struct pw_bpf_sockopt **ret, size_t *ret_n);
/* The same records handed to cb one by one as they are read (no array); a
 * negative cb result stops the read and is returned. */
int pw_bpf_sockopts_each(bool tcp_listen_only, int (*cb)(const struct pw_bpf_sockopt *o, void *arg),
			 void *arg);

/* Which program pw_collector_bpf walks fd tables with. AUTO: the iter/task
 * walker (kernel 6.2+), else iter/task_file. The others force one (tests,
 * benchmarks); a forced walker that cannot load gives -EOPNOTSUPP. */
enum pw_bpf_walker {
	PW_BPF_WALKER_AUTO = 0,
	PW_BPF_WALKER_TASK, /* iter/task + bpf_loop over each fd table */
	PW_BPF_WALKER_TASK_FILE, /* iter/task_file, one program run per fd */
};
void pw_bpf_set_walker(enum pw_bpf_walker w);
/* The walker the last successful pw_collector_bpf walk used: "task",
 * "task_file", or NULL if none ran yet. */
const char *pw_bpf_walker_name(void);

/* Unload everything loaded so far (idempotent). Not to be called while
 * another thread is inside a pw_bpf_* call or pw_collector_bpf.walk. */
void pw_bpf_release(void);

#endif
