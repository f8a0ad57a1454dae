/* SPDX-License-Identifier: MIT */
/*
 * Who owns a socket no process holds: UDP tunnels keep their sockets in the
 * kernel. rtnetlink link dumps give vxlan/geneve/bareudp destination ports,
 * generic netlink gives WireGuard listen ports and FOU ports. Run inside the
 * namespace being collected; netlink only, nothing is changed.
 */
#include <libmnl/libmnl.h>
#include <linux/fou.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/wireguard.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <time.h>

#include "internal.h"

struct ko_ctx {
	struct pw_kowners *out;
	uint64_t netns;
	int err;
	/* for WireGuard: the ifindex/name of the link being asked about */
	const char *ifname;
	uint16_t genl_id;
};

static int ko_add(struct ko_ctx *c, uint8_t proto, uint16_t port, const char *fmt, const char *a,
		  const char *b)
{
	struct pw_kowners *o = c->out;
	if (PW_GROW(o->v, o->cap, o->n + 1) < 0)
		return -ENOMEM;
	char *desc = NULL;
	if (asprintf(&desc, fmt, a, b) < 0)
		return -ENOMEM;
	o->v[o->n++] = (struct pw_kowner){ c->netns, port, proto, desc };
	return 0;
}

static int attr_table_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = ((const struct nlattr ***)data)[0];
	uintptr_t max = (uintptr_t)((void **)data)[1];
	uint16_t type = mnl_attr_get_type(a);
	if (type <= max)
		tb[type] = a;
	return MNL_CB_OK;
}

static void parse_nested(const struct nlattr *nest, const struct nlattr **tb, uintptr_t max)
{
	void *data[2] = { tb, (void *)max };
	mnl_attr_parse_nested(nest, attr_table_cb, data);
}

static uint16_t be16_attr(const struct nlattr *a)
{
	return a && mnl_attr_get_payload_len(a) >= 2 ? ntohs(mnl_attr_get_u16(a)) : 0;
}

/* ---- rtnetlink: vxlan, geneve, bareudp --------------------------------- */

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ko_ctx *c = data;
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
	void *arg[2] = { tb, (void *)(uintptr_t)IFLA_MAX };
	mnl_attr_parse(nlh, sizeof(struct ifinfomsg), attr_table_cb, arg);
	if (!tb[IFLA_LINKINFO] || !tb[IFLA_IFNAME])
		return MNL_CB_OK;
	const struct nlattr *li[IFLA_INFO_MAX + 1] = { 0 };
	parse_nested(tb[IFLA_LINKINFO], li, IFLA_INFO_MAX);
	if (!li[IFLA_INFO_KIND] || !li[IFLA_INFO_DATA])
		return MNL_CB_OK;
	const char *kind = mnl_attr_get_str(li[IFLA_INFO_KIND]);
	const char *name = mnl_attr_get_str(tb[IFLA_IFNAME]);
	uint16_t port = 0;
	if (!strcmp(kind, "vxlan")) {
		const struct nlattr *d[IFLA_VXLAN_MAX + 1] = { 0 };
		parse_nested(li[IFLA_INFO_DATA], d, IFLA_VXLAN_MAX);
		port = be16_attr(d[IFLA_VXLAN_PORT]);
	} else if (!strcmp(kind, "geneve")) {
		const struct nlattr *d[IFLA_GENEVE_MAX + 1] = { 0 };
		parse_nested(li[IFLA_INFO_DATA], d, IFLA_GENEVE_MAX);
		port = be16_attr(d[IFLA_GENEVE_PORT]);
	} else if (!strcmp(kind, "bareudp")) {
		const struct nlattr *d[IFLA_BAREUDP_MAX + 1] = { 0 };
		parse_nested(li[IFLA_INFO_DATA], d, IFLA_BAREUDP_MAX);
		port = be16_attr(d[IFLA_BAREUDP_PORT]);
	} else if (!strcmp(kind, "wireguard")) {
		/* listen port comes from generic netlink, asked per device later */
		struct pw_kowners *o = c->out;
		if (PW_GROW(o->wg, o->cap_wg, o->n_wg + 1) == 0 && (o->wg[o->n_wg] = strdup(name)))
			o->n_wg++;
		return MNL_CB_OK;
	}
	if (port && ko_add(c, IPPROTO_UDP, port, "%s device %s", kind, name) < 0)
		c->err = -ENOMEM;
	return MNL_CB_OK;
}

static int dump_links(struct ko_ctx *c)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	int r = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ? -errno : 0;
	if (r == 0) {
		char buf[256];
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = RTM_GETLINK;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
		ifm->ifi_family = AF_UNSPEC;
		r = pw_nl_talk(nl, nlh, link_cb, c, NULL);
	}
	mnl_socket_close(nl);
	return r;
}

/* ---- generic netlink: WireGuard, FOU ----------------------------------- */

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	uint16_t *id = data;
	const struct nlattr *tb[CTRL_ATTR_MAX + 1] = { 0 };
	void *arg[2] = { tb, (void *)(uintptr_t)CTRL_ATTR_MAX };
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), attr_table_cb, arg);
	if (tb[CTRL_ATTR_FAMILY_ID])
		*id = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	return MNL_CB_OK;
}

static struct nlmsghdr *genl_put(char *buf, uint16_t type, uint8_t cmd, uint8_t version,
				 uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

static uint16_t genl_family(struct mnl_socket *nl, const char *name)
{
	char buf[256];
	struct nlmsghdr *nlh = genl_put(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_ACK);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);
	uint16_t id = 0;
	if (pw_nl_talk(nl, nlh, family_cb, &id, NULL) < 0)
		return 0; /* module not loaded: nothing of that kind here */
	return id;
}

static int wg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ko_ctx *c = data;
	const struct nlattr *tb[WGDEVICE_A_MAX + 1] = { 0 };
	void *arg[2] = { tb, (void *)(uintptr_t)WGDEVICE_A_MAX };
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), attr_table_cb, arg);
	uint16_t port = tb[WGDEVICE_A_LISTEN_PORT] ? mnl_attr_get_u16(tb[WGDEVICE_A_LISTEN_PORT]) : 0;
	if (port && ko_add(c, IPPROTO_UDP, port, "wireguard device %s%s", c->ifname, "") < 0)
		c->err = -ENOMEM;
	return MNL_CB_STOP; /* peers may follow in more messages: the port is in the first */
}

static int fou_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ko_ctx *c = data;
	const struct nlattr *tb[FOU_ATTR_MAX + 1] = { 0 };
	void *arg[2] = { tb, (void *)(uintptr_t)FOU_ATTR_MAX };
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), attr_table_cb, arg);
	uint16_t port = be16_attr(tb[FOU_ATTR_PORT]);
	char proto[16] = "";
	if (tb[FOU_ATTR_IPPROTO])
		snprintf(proto, sizeof(proto), "ipproto %u", mnl_attr_get_u8(tb[FOU_ATTR_IPPROTO]));
	if (port && ko_add(c, IPPROTO_UDP, port, "fou receiver (%s%s)", proto, "") < 0)
		c->err = -ENOMEM;
	return MNL_CB_OK;
}

static int ask_genl(struct ko_ctx *c)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return -errno;
	}
	char buf[512];
	struct pw_kowners *o = c->out;
	if (o->n_wg) {
		uint16_t wg = genl_family(nl, WG_GENL_NAME);
		for (size_t i = 0; wg && i < o->n_wg; i++) {
			struct nlmsghdr *nlh =
				genl_put(buf, wg, WG_CMD_GET_DEVICE, WG_GENL_VERSION, NLM_F_DUMP);
			mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, o->wg[i]);
			c->ifname = o->wg[i];
			pw_nl_talk(nl, nlh, wg_cb, c, NULL);
		}
	}
	uint16_t fou = genl_family(nl, FOU_GENL_NAME);
	if (fou) {
		struct nlmsghdr *nlh = genl_put(buf, fou, FOU_CMD_GET, FOU_GENL_VERSION, NLM_F_DUMP);
		pw_nl_talk(nl, nlh, fou_cb, c, NULL);
	}
	mnl_socket_close(nl);
	return 0;
}

int pw_kowners_collect(uint64_t netns, struct pw_kowners *out)
{
	struct ko_ctx c = { .out = out, .netns = netns };
	/* WireGuard links are asked about in the namespace they were seen in */
	for (size_t i = 0; i < out->n_wg; i++)
		free(out->wg[i]);
	out->n_wg = 0;
	int r = dump_links(&c);
	if (r == 0)
		r = ask_genl(&c); /* FOU has no link to announce it: always ask */
	return c.err ? c.err : r;
}

void pw_kowners_free(struct pw_kowners *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->v[i].desc);
	for (size_t i = 0; i < o->n_wg; i++)
		free(o->wg[i]);
	free(o->v);
	free(o->wg);
	*o = (struct pw_kowners){ 0 };
}

/* Name the owner of unheld sockets. A tunnel's socket lives in the namespace
 * the device was created in, which may not be where the device is now, so
 * a match in the same namespace wins, then any namespace. */
void pw_kowners_attribute(struct pw_snapshot *snap, const struct pw_kowners *o)
{
	for (size_t i = 0; i < snap->sockets.n; i++) {
		struct pw_socket *s = &snap->sockets.v[i];
		if (s->n_holders || !s->inode || s->kernel_owner)
			continue;
		const struct pw_kowner *best = NULL;
		for (size_t j = 0; j < o->n; j++) {
			const struct pw_kowner *k = &o->v[j];
			if (k->proto != s->proto || k->port != s->lport)
				continue;
			if (!best || (k->netns == s->netns && best->netns != s->netns))
				best = k;
		}
		if (!best)
			continue;
		if (best->netns == s->netns)
			s->kernel_owner = strdup(best->desc);
		else if (asprintf(&s->kernel_owner, "%s (in netns %llu)", best->desc,
				  (unsigned long long)best->netns) < 0)
			s->kernel_owner = NULL;
	}
}
