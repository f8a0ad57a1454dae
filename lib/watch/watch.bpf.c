// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
/* portwho watch: bind, failed bind, listen, close and (on request) connect
 * and accept of TCP/UDP sockets, one struct pw_wrec per event on a ring
 * buffer.
 *
 * This kernel loads neither kprobes nor fentry/fexit/LSM programs (EPERM;
 * KERNEL.md §8), so everything hangs off BTF tracepoints, in the task that
 * makes the call (its PID and comm are taken here, so a process that exits a
 * microsecond later is still named):
 *   sys_enter    bind/listen/connect/accept: the fd's socket and, for bind,
 *                the sockaddr asked for, kept per thread until...
 *   sys_exit     ...the result: bind, bind-failed (errno), listen, connect
 *                (the source port just chosen), accept (the new fd);
 *                close(fd) on the last reference to a socket: close
 *   sched_process_exit   the sockets a dying process still holds (when it is
 *                the last user of its fd table): close
 * A port bitmap set by userspace drops unwatched ports here, before the ring
 * buffer. Not seen: io_uring's bind/listen/accept, 32-bit compat calls,
 * sockets whose last reference goes away elsewhere (SCM_RIGHTS in flight,
 * io_uring registered files).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "watch-records.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define PW_AF_INET 2
#define PW_AF_INET6 10
#define PW_IPPROTO_TCP 6
#define PW_IPPROTO_UDP 17
#define PW_IPPROTO_UDPLITE 136
#define PW_TCP_LISTEN 10
#define PW_TCP_CLOSE 7
#define SOCKFS_MAGIC 0x534F434Bu

/* x86_64 system call numbers (the loader refuses other architectures) */
#define NR_CLOSE 3
#define NR_CONNECT 42
#define NR_ACCEPT 43
#define NR_BIND 49
#define NR_LISTEN 50
#define NR_ACCEPT4 288

/* Set by userspace before attaching. */
__u32 pw_watch_flags;
__u8 pw_watch_ports[65536 / 8];
/* Events dropped because the ring buffer was full (userspace reports it). */
__u64 pw_watch_lost;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} pw_events SEC(".maps");

/* A bind/listen/connect/accept between its entry and its exit, per thread. */
struct pending {
	__u64 sk; /* struct sock * of the fd at entry (0 for accept) */
	__u32 nr; /* system call number */
	__u32 pad;
	__u8 sa[28]; /* bind: the sockaddr asked for (sockaddr_in6 at most) */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct pending);
} pw_pending SEC(".maps");

static __always_inline bool port_watched(__u16 port)
{
	if (!(pw_watch_flags & PW_WF_PORTS))
		return true;
	return pw_watch_ports[(port >> 3) & 8191] & (1u << (port & 7));
}

static __always_inline bool proto_watched(__u8 proto)
{
	if (proto == PW_IPPROTO_TCP)
		return pw_watch_flags & PW_WF_TCP;
	if (proto == PW_IPPROTO_UDP || proto == PW_IPPROTO_UDPLITE)
		return pw_watch_flags & PW_WF_UDP;
	return false;
}

/* An inet TCP/UDP socket the filter lets through, or NULL. */
static __always_inline struct sock *inet_sock_of(struct sock *sk)
{
	if (!sk)
		return NULL;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != PW_AF_INET && family != PW_AF_INET6)
		return NULL;
	if (!proto_watched((__u8)BPF_CORE_READ(sk, sk_protocol)))
		return NULL;
	return sk;
}

/* fd of the current task -> its struct file, if it is a socket */
static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f || BPF_CORE_READ(f, f_inode, i_sb, s_magic) != SOCKFS_MAGIC)
		return NULL;
	return f;
}

static __always_inline struct sock *file_sock(struct file *f)
{
	struct socket *so = BPF_CORE_READ(f, private_data);
	return so ? BPF_CORE_READ(so, sk) : NULL;
}

/* The socket's own facts: family, proto, state, addresses, flags, netns. */
static __always_inline void fill_sock(struct pw_wrec *r, struct sock *sk)
{
	r->family = (__u8)BPF_CORE_READ(sk, __sk_common.skc_family);
	r->proto = (__u8)BPF_CORE_READ(sk, sk_protocol);
	r->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	r->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	r->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	r->ifindex = (__u32)BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
	r->cookie = (__u64)BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	r->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	r->sk_uid = BPF_CORE_READ(sk, sk_uid.val);
	r->reuse = (__u8)BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuse);
	r->reuseport = (__u8)BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuseport);
	r->v6only = (__u8)BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_ipv6only);
	if (r->family == PW_AF_INET6) {
		BPF_CORE_READ_INTO(&r->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&r->raddr, sk, __sk_common.skc_v6_daddr);
	} else {
		BPF_CORE_READ_INTO((__u32 *)r->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)r->raddr, sk, __sk_common.skc_daddr);
	}
}

static __always_inline void fill_task(struct pw_wrec *r)
{
	__u64 id = bpf_get_current_pid_tgid();
	r->tgid = id >> 32;
	r->tid = (__u32)id;
	r->uid = (__u32)bpf_get_current_uid_gid();
	r->ts_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(r->comm, sizeof(r->comm));
}

/* Waking the reader for every record costs the calling task an interrupt
 * round trip (tens of microseconds in a VM): wake it for a failed bind (its
 * blocker is looked up at once, while it is still there) or once 64 KiB are
 * waiting; otherwise the reader comes by itself every PW_WATCH_POLL_MS. */
static __always_inline void submit(struct pw_wrec *r)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (r->kind == PW_WREC_BIND_FAILED ||
	    bpf_ringbuf_query(&pw_events, BPF_RB_AVAIL_DATA) >= (64u << 10))
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(r, flags);
}

static __always_inline struct pw_wrec *reserve(void)
{
	struct pw_wrec *r = bpf_ringbuf_reserve(&pw_events, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&pw_watch_lost, 1);
		return NULL;
	}
	__builtin_memset(r, 0, sizeof(*r));
	return r;
}

/* listen, close, connect, accept: one socket with its port known. */
static __noinline int emit(struct sock *sk, __u8 kind)
{
	if (!inet_sock_of(sk))
		return 0;
	__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!lport)
		return 0; /* never bound: nothing to watch */
	__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (kind == PW_WREC_CLOSE && !(pw_watch_flags & PW_WF_CONNS)) {
		__u8 st = BPF_CORE_READ(sk, __sk_common.skc_state);
		if (st != PW_TCP_LISTEN && st != PW_TCP_CLOSE)
			return 0; /* a connection: only with -a */
	}
	/* a connection is watched for either end (a client of a watched port) */
	if (!port_watched(lport) &&
	    !((kind == PW_WREC_CONNECT || kind == PW_WREC_CLOSE) && rport && port_watched(rport)))
		return 0;
	struct pw_wrec *r = reserve();
	if (!r)
		return 0;
	fill_sock(r, sk);
	fill_task(r);
	r->kind = kind;
	submit(r);
	return 0;
}

/* bind's exit: on success the socket's own address and port (port 0 became
 * an ephemeral one); on failure what was asked for. */
static __noinline int emit_bind(struct sock *sk, const struct pending *p, long ret)
{
	if (!inet_sock_of(sk))
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 ufam = *(__u16 *)p->sa;
	__u16 port =
	    ret == 0 ? BPF_CORE_READ(sk, __sk_common.skc_num) : bpf_ntohs(*(__be16 *)(p->sa + 2));
	if (!port_watched(port))
		return 0;
	struct pw_wrec *r = reserve();
	if (!r)
		return 0;
	fill_sock(r, sk);
	fill_task(r);
	if (ret == 0) {
		r->kind = PW_WREC_BIND;
	} else {
		r->kind = PW_WREC_BIND_FAILED;
		r->err = (__s32)-ret;
		r->lport = port;
		__builtin_memset(r->laddr, 0, sizeof(r->laddr));
		if (family == PW_AF_INET6 && ufam == PW_AF_INET6)
			__builtin_memcpy(r->laddr, p->sa + 8, 16);
		else if (ufam == PW_AF_INET)
			__builtin_memcpy(r->laddr, p->sa + 4, 4);
	}
	submit(r);
	return 0;
}

/* The last reference to a socket file is going away: the socket closes. */
static __always_inline void maybe_close(struct file *f)
{
	if (BPF_CORE_READ(f, f_ref.refcnt.counter) != 0) /* file_ref: 0 is one reference */
		return;
	emit(file_sock(f), PW_WREC_CLOSE);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(pw_sys_enter, struct pt_regs *regs, long id)
{
	if (id != NR_BIND && id != NR_LISTEN && id != NR_CLOSE &&
	    !((pw_watch_flags & PW_WF_CONNS) &&
	      (id == NR_CONNECT || id == NR_ACCEPT || id == NR_ACCEPT4)))
		return 0;
	int fd = (int)regs->di; /* a BTF pointer: plain loads, no helper call */
	struct file *f = fd_file(fd);
	if (!f)
		return 0;
	if (id == NR_CLOSE) {
		maybe_close(f);
		return 0;
	}
	struct sock *sk = inet_sock_of(file_sock(f));
	if (!sk)
		return 0;
	struct pending p = {.sk = (__u64)sk, .nr = (__u32)id};
	if (id == NR_BIND) {
		void *ua = (void *)regs->si;
		__u64 len = regs->dx;
		if (len > sizeof(p.sa))
			len = sizeof(p.sa);
		if (ua && bpf_probe_read_user(p.sa, len & 31, ua) != 0)
			return 0;
	}
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pw_pending, &tid, &p, BPF_ANY);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(pw_sys_exit, struct pt_regs *regs, long ret)
{
	/* every system call of the host comes through here: decide on the
	 * number before touching the map */
	long id = (long)regs->orig_ax;
	if (id != NR_BIND && id != NR_LISTEN && id != NR_CONNECT && id != NR_ACCEPT &&
	    id != NR_ACCEPT4)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&pw_pending, &tid);
	if (!p)
		return 0;
	if (id != (long)p->nr) {
		bpf_map_delete_elem(&pw_pending, &tid);
		return 0;
	}
	struct sock *sk = (struct sock *)p->sk;
	if (id == NR_BIND) {
		emit_bind(sk, p, ret);
	} else if (id == NR_LISTEN) {
		if (ret == 0)
			emit(sk, PW_WREC_LISTEN);
	} else if (id == NR_CONNECT) {
		if (ret == 0 || ret == -115 /* EINPROGRESS */)
			emit(sk, PW_WREC_CONNECT);
	} else if (ret >= 0) { /* accept: ret is the new fd */
		struct file *f = fd_file((int)ret);
		if (f)
			emit(file_sock(f), PW_WREC_ACCEPT);
	}
	bpf_map_delete_elem(&pw_pending, &tid);
	return 0;
}

/* A process exits without closing its sockets: walk its fd table (when it
 * is the table's last user) before exit_files() drops the references. */
struct exit_walk {
	struct file **fds;
	unsigned long *open;
	__u32 nwords;
};

static long exit_word(__u32 i, struct exit_walk *c)
{
	if (i >= c->nwords)
		return 1;
	unsigned long w = 0;
	bpf_probe_read_kernel(&w, sizeof(w), &c->open[i]);
	for (int b = 0; b < 64 && w; b++, w >>= 1) {
		if (!(w & 1))
			continue;
		struct file *f = NULL;
		bpf_probe_read_kernel(&f, sizeof(f), &c->fds[i * 64 + b]);
		if (f && BPF_CORE_READ(f, f_inode, i_sb, s_magic) == SOCKFS_MAGIC)
			maybe_close(f);
	}
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(pw_process_exit, struct task_struct *task, bool group_dead)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct files_struct *files = BPF_CORE_READ(t, files);
	if (!files || BPF_CORE_READ(files, count.counter) != 1)
		return 0;
	struct fdtable *fdt = BPF_CORE_READ(files, fdt);
	struct exit_walk c = {
	    .fds = BPF_CORE_READ(fdt, fd),
	    .open = BPF_CORE_READ(fdt, open_fds),
	    .nwords = BPF_CORE_READ(fdt, max_fds) / 64,
	};
	if (c.nwords > 1024)
		c.nwords = 1024; /* 65536 fds */
	bpf_loop(c.nwords, exit_word, &c, 0);
	return 0;
}
