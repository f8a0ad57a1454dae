// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
/* SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY and the owner uid of every TCP and
 * UDP socket of the reader's network namespace: what sock_diag leaves out.
 * One struct pw_sk_rec per socket (pw-bpf-records.h).
 *
 * iter/tcp shows full sockets, TIME_WAIT socks (which carry the flags of
 * the socket they came from) and request socks (NEW_SYN_RECV; they have no
 * flags of their own, so the listener's are reported: the accepted socket
 * will inherit those). States are reported the way sock_diag does: request
 * socks as SYN_RECV, TIME_WAIT socks by their substate (TIME_WAIT or
 * FIN_WAIT2). Bound-but-not-listening TCP sockets live only in the bind
 * hash, which iter/tcp does not walk: they are missing here. Needs iter/tcp
 * and iter/udp (5.9).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "pw-bpf-records.h"
#include "pw-iter.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by userspace when only listening TCP sockets are wanted: iter/tcp
 * walks the listening hash before the established one, so the first other
 * socket gets a record with family 0, and the reader stops there instead of
 * having the kernel lock and show every connection. */
__u32 pw_tcp_listen_only;

#define PW_AF_INET 2
#define PW_AF_INET6 10
#define PW_IPPROTO_TCP 6
#define PW_TCP_SYN_RECV 3
#define PW_TCP_LISTEN 10
#define PW_TCP_TIME_WAIT 6
#define PW_TCP_NEW_SYN_RECV 12

/* Kernels since 6.18 keep the inode number in the sock itself. */
struct sock___ino {
	unsigned long sk_ino;
} __attribute__((preserve_access_index));

static __always_inline void fill_common(struct pw_sk_rec *r, const struct sock_common *skc)
{
	r->family = (__u8)skc->skc_family;
	r->state = skc->skc_state;
	r->ifindex = (__u32)skc->skc_bound_dev_if;
	r->cookie = (__u64)skc->skc_cookie.counter;
	r->lport = skc->skc_num;
	r->rport = bpf_ntohs(skc->skc_dport);
	if (r->family == PW_AF_INET6) {
		__builtin_memcpy(r->laddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(r->raddr, &skc->skc_v6_daddr, 16);
	} else {
		__builtin_memcpy(r->laddr, &skc->skc_rcv_saddr, 4);
		__builtin_memcpy(r->raddr, &skc->skc_daddr, 4);
	}
	r->reuse = (__u8)BPF_CORE_READ_BITFIELD(skc, skc_reuse);
	r->reuseport = (__u8)BPF_CORE_READ_BITFIELD(skc, skc_reuseport);
	r->v6only = (__u8)BPF_CORE_READ_BITFIELD(skc, skc_ipv6only);
}

static __always_inline __u32 sock_ino(const struct sock *sk)
{
	struct socket *so;

	if (bpf_core_field_exists(struct sock___ino, sk_ino))
		return (__u32)BPF_CORE_READ((struct sock___ino *)sk, sk_ino);
	so = BPF_CORE_READ(sk, sk_socket);
	if (!so)
		return 0; /* orphaned */
	return (__u32)BPF_CORE_READ((struct socket_alloc *)so, vfs_inode.i_ino);
}

SEC("iter/tcp")
int pw_sk_tcp(struct pw_iter_tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct pw_sk_rec r = {};

	if (!skc)
		return 0;
	if (pw_tcp_listen_only && skc->skc_state != PW_TCP_LISTEN) {
		bpf_seq_write(ctx->meta->seq, &r, sizeof(r)); /* family 0: the end */
		return 0;
	}
	fill_common(&r, skc);
	r.proto = PW_IPPROTO_TCP;
	r.uid = ctx->uid; /* 0 for TIME_WAIT, the listener's for requests */
	if (r.state == PW_TCP_NEW_SYN_RECV) {
		struct sock *l = BPF_CORE_READ(skc, skc_listener);

		r.state = PW_TCP_SYN_RECV;
		if (l) {
			struct sock_common *lc = &l->__sk_common;

			r.reuse = (__u8)BPF_CORE_READ_BITFIELD_PROBED(lc, skc_reuse);
			r.reuseport = (__u8)BPF_CORE_READ_BITFIELD_PROBED(lc, skc_reuseport);
			r.v6only = (__u8)BPF_CORE_READ_BITFIELD_PROBED(lc, skc_ipv6only);
		}
	} else if (r.state == PW_TCP_TIME_WAIT) {
		r.state = BPF_CORE_READ((struct inet_timewait_sock *)skc, tw_substate);
	} else {
		r.inode = sock_ino((const struct sock *)skc);
	}
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

SEC("iter/udp")
int pw_sk_udp(struct pw_iter_udp *ctx)
{
	struct udp_sock *up = ctx->udp_sk;
	struct pw_sk_rec r = {};

	if (!up)
		return 0;
	fill_common(&r, &up->inet.sk.__sk_common);
	r.proto = (__u8)up->inet.sk.sk_protocol;
	r.uid = ctx->uid;
	r.inode = sock_ino(&up->inet.sk);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
