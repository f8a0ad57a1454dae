/* SPDX-License-Identifier: MIT */
/* The record watch.bpf.c puts on its ring buffer, shared by the BPF program
 * (types from vmlinux.h) and the loader (linux/types.h). Host order unless
 * said otherwise; explicit padding so both compilers agree on the layout. */
#ifndef PW_WATCH_RECORDS_H
#define PW_WATCH_RECORDS_H

enum pw_wrec_kind {
	PW_WREC_BIND = 1,    /* bind() returned 0 */
	PW_WREC_BIND_FAILED, /* bind() failed: err */
	PW_WREC_LISTEN,	     /* listen() returned 0 */
	PW_WREC_CLOSE,	     /* the last reference to a bound socket went away */
	PW_WREC_CONNECT,     /* a connect gave the socket its local port */
	PW_WREC_ACCEPT,	     /* accept() returned a connection */
};

/* The reader looks at the ring buffer at least this often (ms): the BPF
 * side wakes it only for failed binds and when much is waiting. */
#define PW_WATCH_POLL_MS 50

/* Filter flags (bss pw_watch_flags) */
#define PW_WF_PORTS (1u << 0) /* only ports set in pw_watch_ports */
#define PW_WF_CONNS (1u << 1) /* connect, accept, close of connections */
#define PW_WF_TCP (1u << 2)
#define PW_WF_UDP (1u << 3)

struct pw_wrec {
	__u64 ts_ns;	 /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 cookie;	 /* socket cookie, 0 if none was ever made */
	__u32 netns;	 /* inode of the socket's network namespace */
	__u32 tgid, tid; /* as the initial pid namespace sees them */
	__u32 uid;	 /* current task's uid */
	__u32 sk_uid;	 /* owner uid of the socket */
	__s32 err;	 /* positive errno for BIND_FAILED */
	__u32 ifindex;	 /* bound device */
	__u8 kind, family, proto, state;
	__u8 reuse, reuseport, v6only, pad;
	__u16 lport, rport;	   /* host order */
	__u8 laddr[16], raddr[16]; /* network order; IPv4 in the first 4 */
	char comm[16];
};

#endif
