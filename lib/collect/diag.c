/* SPDX-License-Identifier: MIT */
/* sock_diag dumps over libmnl: the only file that speaks NETLINK_SOCK_DIAG. */
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "internal.h"

/* Replies are at most 32 KiB per datagram (the kernel caps dump skbs). */
#define DIAG_BUF_SIZE (64 * 1024)
#define DIAG_RETRIES 3

void pw_sockvec_free(struct pw_sockvec *sv)
{
	for (size_t i = 0; i < sv->n; i++) {
		free(sv->v[i].ifname);
		free(sv->v[i].kernel_owner);
	}
	free(sv->v);
	*sv = (struct pw_sockvec){ 0 };
}

void pw_sockvec_fit(struct pw_sockvec *sv)
{
	if (sv->n == sv->cap || sv->n == 0)
		return;
	struct pw_socket *v = realloc(sv->v, sv->n * sizeof(*v));
	if (v) {
		sv->v = v;
		sv->cap = sv->n;
	}
}

static int send_request(struct mnl_socket *nl, uint8_t family, uint8_t proto, uint32_t states,
			uint16_t sport, const void *bc, size_t bc_len, uint32_t seq)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;

	if (family == AF_UNSPEC) {
		/* The old TCPDIAG request is the only one that may leave the family
		 * open: one walk of the TCP tables returns IPv4 and IPv6 alike,
		 * half the kernel work of one request per family. TCP only. */
		if (proto != IPPROTO_TCP)
			return -EINVAL;
		nlh->nlmsg_type = TCPDIAG_GETSOCK;
		struct inet_diag_req *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
		req->idiag_family = AF_UNSPEC;
		req->idiag_states = states;
		req->id.idiag_sport = htons(sport);
	} else {
		nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
		struct inet_diag_req_v2 *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
		req->sdiag_family = family;
		req->sdiag_protocol = proto;
		req->idiag_states = states;
		req->id.idiag_sport = htons(sport); /* 0: any; else checked before bytecode */
	}
	if (bc_len > 0) {
		if (bc_len > sizeof(buf) - nlh->nlmsg_len - 64)
			return -ENOSPC;
		mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, bc_len, bc);
	}
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

/* One dump attempt. Returns 0, or -errno; *intr set when the kernel flagged
 * the dump as inconsistent (the table changed while it was walked). */
static int dump_once(struct mnl_socket *nl, char *buf, uint8_t family, uint8_t proto,
		     uint32_t states, uint16_t sport, const void *bc, size_t bc_len, uint64_t netns,
		     struct pw_sockvec *out, bool *intr)
{
	uint32_t seq = (uint32_t)time(NULL) ^ (uint32_t)out->n ^ ((uint32_t)proto << 16);
	uint32_t portid = mnl_socket_get_portid(nl);
	bool asked_bi = proto == IPPROTO_TCP && (states & PW_STATE_BIT(PW_ST_BOUND_INACTIVE));
	int r = send_request(nl, family, proto, states, sport, bc, bc_len, seq);
	if (r < 0)
		return r;

	*intr = false;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, DIAG_BUF_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		r = pw_diag_consume(buf, (size_t)n, seq, portid, proto, states, asked_bi, netns,
				    out, intr);
		if (r != 0)
			return r < 0 ? r : 0;
	}
}

int pw_diag_dump(struct mnl_socket *nl, uint8_t family, uint8_t proto, uint32_t states,
		 uint16_t sport, const void *bytecode, size_t bc_len, uint64_t netns, struct pw_sockvec *out,
		 bool *interrupted)
{
	_cleanup_free_ char *buf = malloc(DIAG_BUF_SIZE);
	if (!buf)
		return -ENOMEM;
	size_t start = out->n;
	bool intr = false;
	int r = 0;
	for (int attempt = 0; attempt < DIAG_RETRIES; attempt++) {
		out->n = start;
		r = dump_once(nl, buf, family, proto, states, sport, bytecode, bc_len, netns, out, &intr);
		if (r < 0 || !intr)
			break;
	}
	if (interrupted)
		*interrupted = intr;
	if (r == -ENOENT || r == -EPROTONOSUPPORT || r == -EOPNOTSUPP) {
		out->n = start; /* this kernel has no handler for it (udplite) */
		return 0;
	}
	return r;
}

int pw_nl_talk(struct mnl_socket *nl, struct nlmsghdr *req,
	       int (*cb)(const struct nlmsghdr *, void *), void *data, const int *cb_err)
{
	uint32_t seq = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)req;
	req->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -errno;
	char buf[32768]; /* the largest datagram a netlink dump sends */
	uint32_t portid = mnl_socket_get_portid(nl);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		int k = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (k < 0)
			return cb_err && *cb_err ? *cb_err : -errno;
		if (k == MNL_CB_STOP)
			return 0;
	}
}

int pw_nl_ask(int protocol, struct nlmsghdr *req, int (*cb)(const struct nlmsghdr *, void *),
	      void *data, const int *cb_err)
{
	struct mnl_socket *nl = mnl_socket_open2(protocol, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	int r = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ? -errno : 0;
	if (r == 0)
		r = pw_nl_talk(nl, req, cb, data, cb_err);
	mnl_socket_close(nl);
	return r;
}
