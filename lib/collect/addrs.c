/* SPDX-License-Identifier: MIT */
/* Which addresses a namespace owns (RTM_GETADDR), to follow a DNAT rule to
 * the namespace its target address lives in. Run inside that namespace. */
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "internal.h"

struct addr_ctx {
	struct pw_netaddrs *out;
	uint64_t netns;
	int err;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_ctx *c = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	if (nlh->nlmsg_type != RTM_NEWADDR || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifa)))
		return MNL_CB_OK;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return MNL_CB_OK;
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;
	const struct nlattr *a;
	const void *local = NULL, *addr = NULL;
	mnl_attr_for_each(a, nlh, sizeof(*ifa))
	{
		uint16_t t = mnl_attr_get_type(a);
		if (mnl_attr_get_payload_len(a) != alen)
			continue;
		if (t == IFA_LOCAL)
			local = mnl_attr_get_payload(a);
		else if (t == IFA_ADDRESS)
			addr = mnl_attr_get_payload(a);
	}
	const void *own = local ? local : addr; /* IFA_ADDRESS is the peer on p2p links */
	if (!own)
		return MNL_CB_OK;
	if (PW_GROW(c->out->v, c->out->cap, c->out->n + 1) < 0) {
		c->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	struct pw_netaddr *n = &c->out->v[c->out->n++];
	*n = (struct pw_netaddr){.netns = c->netns, .addr = {.family = ifa->ifa_family}};
	memcpy(n->addr.bytes, own, alen);
	return MNL_CB_OK;
}

int pw_netaddrs_collect(uint64_t netns, struct pw_netaddrs *out)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	struct addr_ctx c = {out, netns, 0};
	return pw_nl_ask(NETLINK_ROUTE, nlh, addr_cb, &c, &c.err);
}

struct nsid_ctx {
	int32_t nsid;
};

static int nsid_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nsid_ctx *c = data;
	const struct nlattr *a;
	if (nlh->nlmsg_type != RTM_NEWNSID)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(struct rtgenmsg))
	{
		if (mnl_attr_get_type(a) == NETNSA_NSID && mnl_attr_get_payload_len(a) >= 4)
			c->nsid = (int32_t)mnl_attr_get_u32(a);
	}
	return MNL_CB_OK;
}

int pw_netns_peer_id(int nsfd)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNSID;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK; /* the ACK ends the exchange */
	struct rtgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)nsfd);
	struct nsid_ctx c = {NETNSA_NSID_NOT_ASSIGNED};
	int r = pw_nl_ask(NETLINK_ROUTE, nlh, nsid_cb, &c, NULL);
	if (r < 0)
		return r;
	return c.nsid >= 0 ? c.nsid : -ENOENT;
}
