/* SPDX-License-Identifier: MIT */
/* Pure sock_diag helpers: reply parsing and the port-range bytecode. No I/O,
 * so recorded dumps can be replayed in unit tests. */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "internal.h"

int pw_diag_build_bytecode(const struct pw_portspec *specs, size_t n, void *buf, size_t len)
{
	return pw_diag_build_bytecode_ends(specs, n, false, buf, len);
}

int pw_diag_build_bytecode_ends(const struct pw_portspec *specs, size_t n, bool remote, void *buf,
				size_t len)
{
	if (!specs || n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (specs[i].lo == 0 && specs[i].hi == 65535)
			return 0; /* one spec takes every port: nothing to filter */

	/* The kernel's audit only accepts a jump whose target lies on the chain
	 * of "yes" steps from the start, so every op must be on that chain:
	 *   block j (not last): [GE lo][LE hi][JMP -> end]   20 bytes
	 *   last block:         [GE lo][LE hi]               16 bytes
	 * A miss jumps to the next block (on the chain); a hit falls through to
	 * the JMP, which jumps to the end (accept). A miss in the last block
	 * jumps 4 bytes past the end, which the kernel reads as reject. Each
	 * spec is one block on the local port, and with remote a second one on
	 * the remote port (the client ends of connections made to it). */
	const size_t per = 5 * sizeof(struct inet_diag_bc_op);
	const size_t last = 4 * sizeof(struct inet_diag_bc_op);
	size_t m = remote ? 2 : 1, k = n * m;
	size_t total = (k - 1) * per + last;
	if (total > len || total > 4096)
		return -ENOSPC;
	struct inet_diag_bc_op *op = buf;
	for (size_t j = 0; j < k; j++) {
		const struct pw_portspec *sp = &specs[j / m];
		bool dst = j % m == 1;
		bool is_last = j + 1 == k;
		size_t here = j * per;
		size_t rest_ge = total - here; /* bytes from GE to the end */
		unsigned short miss_ge = (unsigned short)(is_last ? rest_ge + 4 : per);
		unsigned short miss_le = (unsigned short)(is_last ? rest_ge - 8 + 4 : per - 8);

		op[0] = (struct inet_diag_bc_op){dst ? INET_DIAG_BC_D_GE : INET_DIAG_BC_S_GE, 8,
						 miss_ge};
		op[1] = (struct inet_diag_bc_op){0, 0, sp->lo};
		op[2] = (struct inet_diag_bc_op){dst ? INET_DIAG_BC_D_LE : INET_DIAG_BC_S_LE, 8,
						 miss_le};
		op[3] = (struct inet_diag_bc_op){0, 0, sp->hi};
		if (!is_last) {
			op[4] = (struct inet_diag_bc_op){INET_DIAG_BC_JMP, 4,
							 (unsigned short)(rest_ge - 16)};
			op += 5;
		} else {
			op += 4;
		}
	}
	return (int)total;
}

struct attr_tb {
	const struct nlattr *a[INET_DIAG_MAX + 1];
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	struct attr_tb *tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, INET_DIAG_MAX) < 0)
		return MNL_CB_OK; /* newer kernel, newer attribute: ignore */
	tb->a[type] = attr;
	return MNL_CB_OK;
}

int pw_diag_parse(const struct nlmsghdr *nlh, uint8_t proto, uint64_t netns,
		  bool asked_bound_inactive, struct pw_socket *ret)
{
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
		return -EINVAL;
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -EINVAL;

	struct attr_tb tb = { 0 };
	if (mnl_attr_parse(nlh, sizeof(*m), attr_cb, &tb) < 0)
		return -EINVAL;

	struct pw_socket s = {
		.netns = netns,
		.cookie = (uint64_t)m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32,
		.inode = m->idiag_inode,
		.uid = m->idiag_uid,
		.ifindex = m->id.idiag_if,
		.family = m->idiag_family,
		.proto = proto,
		.state = m->idiag_state,
		.lport = ntohs(m->id.idiag_sport),
		.rport = ntohs(m->id.idiag_dport),
		.v6only = -1,
		.reuseaddr = -1,
		.reuseport = -1,
	};
	size_t alen = m->idiag_family == AF_INET ? 4 : 16;
	s.laddr.family = s.raddr.family = m->idiag_family;
	memcpy(s.laddr.bytes, m->id.idiag_src, alen);
	memcpy(s.raddr.bytes, m->id.idiag_dst, alen);

	if (tb.a[INET_DIAG_PROTOCOL] && mnl_attr_get_payload_len(tb.a[INET_DIAG_PROTOCOL]) >= 1)
		s.proto = mnl_attr_get_u8(tb.a[INET_DIAG_PROTOCOL]);
	if (m->idiag_family == AF_INET6 && tb.a[INET_DIAG_SKV6ONLY] &&
	    mnl_attr_get_payload_len(tb.a[INET_DIAG_SKV6ONLY]) >= 1)
		s.v6only = mnl_attr_get_u8(tb.a[INET_DIAG_SKV6ONLY]) ? 1 : 0;

	/* Bound-inactive TCP sockets come back as CLOSE; nothing else in the
	 * TCP tables is CLOSE, so the request's bit 13 tells them apart. */
	if (s.proto == IPPROTO_TCP && s.state == PW_ST_CLOSE && asked_bound_inactive)
		s.state = PW_ST_BOUND_INACTIVE;
	if (s.state == 0 || s.state >= PW_ST_MAX)
		return -EINVAL;
	*ret = s;
	return 0;
}

int pw_diag_consume(const void *buf, size_t n, uint32_t seq, uint32_t portid, uint8_t proto,
		    uint32_t states, bool asked_bi, uint64_t netns, struct pw_sockvec *out,
		    bool *intr)
{
	const struct nlmsghdr *nlh = buf;
	int len = n > INT32_MAX ? INT32_MAX : (int)n;
	/* mnl_nlmsg_ok compares nlmsg_len as an int: a length above 2 GiB
	 * would pass as negative (found by tests/fuzz/fuzz_diag) */
	for (; mnl_nlmsg_ok(nlh, len) && nlh->nlmsg_len <= (uint32_t)len;
	     nlh = mnl_nlmsg_next(nlh, &len)) {
		if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != portid)
			continue; /* not ours (a stale reply) */
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
			*intr = true;
		if (nlh->nlmsg_type == NLMSG_DONE)
			return 1;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				return -EBADMSG;
			return e->error < 0 ? e->error : -EBADMSG;
		}
		if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY && nlh->nlmsg_type != TCPDIAG_GETSOCK)
			continue;
		if (PW_GROW(out->v, out->cap, out->n + 1) < 0)
			return -ENOMEM;
		struct pw_socket *s = &out->v[out->n];
		if (pw_diag_parse(nlh, proto, netns, asked_bi, s) < 0)
			continue; /* malformed entry: skip, keep the rest */
		if (states && !(states & PW_STATE_BIT(s->state)))
			continue;
		out->n++;
	}
	return 0;
}
