/* SPDX-License-Identifier: MIT */
/*
 * Forwarding rules from nftables, read over netlink with libnftnl: DNAT,
 * REDIRECT and TPROXY rules with a tcp/udp destination-port match, in native
 * nft form and in iptables-nft form (xt matches and targets inside nft
 * rules, as Docker writes them on Debian). Run inside the namespace being
 * collected; reading only. pw_nft_rule_decode is pure (unit tests replay
 * recorded kernel replies).
 */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <stdio.h>

#include "internal.h"

/* What a register holds while the rule's expressions are walked. */
enum reg_kind { REG_NONE, REG_L4PROTO, REG_NFPROTO, REG_DPORT, REG_DADDR, REG_IMM };

struct reg {
	enum reg_kind kind;
	uint8_t len;	  /* bytes loaded */
	uint8_t data[16]; /* REG_IMM value, or the DADDR mask after a bitwise */
	bool masked;
};

/* one slot per 32-bit register: NFT_REG_1..4 cover four slots each */
#define NSLOTS 16
static int slot_of(uint32_t reg)
{
	if (reg >= NFT_REG_1 && reg <= NFT_REG_4)
		return (int)(reg - NFT_REG_1) * 4;
	if (reg >= NFT_REG32_00 && reg < NFT_REG32_00 + NSLOTS)
		return (int)(reg - NFT_REG32_00);
	return -1;
}

struct walk {
	struct pw_nat_rule *r;
	uint8_t table_family; /* NFPROTO_* */
	uint8_t nfproto;      /* inet tables: the family a "meta nfproto" picked */
	struct reg regs[NSLOTS];
	bool unsupported; /* a match we cannot express (negation, set lookup) */
	const char *why;
	bool is_forward;
	bool port_seen; /* a destination port match */
};

static struct reg *reg_at(struct walk *w, const struct nftnl_expr *e, uint16_t attr)
{
	if (!nftnl_expr_is_set(e, attr))
		return NULL;
	int s = slot_of(nftnl_expr_get_u32(e, attr));
	return s < 0 ? NULL : &w->regs[s];
}

static uint8_t addr_family(const struct walk *w)
{
	uint8_t f = w->table_family == NFPROTO_INET ? w->nfproto : w->table_family;
	return f == NFPROTO_IPV6 ? AF_INET6 : f == NFPROTO_IPV4 ? AF_INET : 0;
}

static void give_up(struct walk *w, const char *why)
{
	w->unsupported = true;
	if (!w->why)
		w->why = why;
}

static void on_meta(struct walk *w, const struct nftnl_expr *e)
{
	struct reg *d = reg_at(w, e, NFTNL_EXPR_META_DREG);
	if (!d)
		return;
	uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);
	*d = (struct reg){key == NFT_META_L4PROTO   ? REG_L4PROTO
			  : key == NFT_META_NFPROTO ? REG_NFPROTO
						    : REG_NONE};
}

static void on_payload(struct walk *w, const struct nftnl_expr *e)
{
	struct reg *d = reg_at(w, e, NFTNL_EXPR_PAYLOAD_DREG);
	if (!d)
		return; /* a payload write (mangling): not a match */
	uint32_t base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
	uint32_t off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
	uint32_t len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);
	uint8_t fam = addr_family(w);
	*d = (struct reg){REG_NONE, (uint8_t)(len > 16 ? 16 : len)};
	if (base == NFT_PAYLOAD_TRANSPORT_HEADER && off == 2 && len == 2)
		d->kind = REG_DPORT;
	else if (base == NFT_PAYLOAD_NETWORK_HEADER && fam == AF_INET && off == 9 && len == 1)
		d->kind = REG_L4PROTO;
	else if (base == NFT_PAYLOAD_NETWORK_HEADER && fam == AF_INET6 && off == 6 && len == 1)
		d->kind = REG_L4PROTO;
	else if (base == NFT_PAYLOAD_NETWORK_HEADER && fam == AF_INET && off == 16 && len <= 4)
		d->kind = REG_DADDR; /* a shorter load is a prefix: 1b = /8 */
	else if (base == NFT_PAYLOAD_NETWORK_HEADER && fam == AF_INET6 && off == 24 && len <= 16)
		d->kind = REG_DADDR;
}

static void on_bitwise(struct walk *w, const struct nftnl_expr *e)
{
	struct reg *s = reg_at(w, e, NFTNL_EXPR_BITWISE_SREG);
	struct reg *d = reg_at(w, e, NFTNL_EXPR_BITWISE_DREG);
	if (!s || !d)
		return;
	uint32_t ml = 0;
	const void *mask = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &ml);
	if (s->kind != REG_DADDR || !mask || ml > 16) {
		*d = (struct reg){REG_NONE};
		return;
	}
	struct reg t = *s;
	memcpy(t.data, mask, ml);
	t.masked = true;
	*d = t;
}

static int prefix_len(const uint8_t *mask, size_t len)
{
	int n = 0;
	for (size_t i = 0; i < len; i++)
		for (int b = 7; b >= 0; b--) {
			if (!(mask[i] >> b & 1))
				return n;
			n++;
		}
	return n;
}

static void set_daddr(struct walk *w, const struct reg *s, const void *data, uint32_t dl)
{
	uint8_t fam = addr_family(w);
	size_t full = fam == AF_INET ? 4 : 16;
	if (!fam || dl != s->len || dl > full)
		return give_up(w, "an address match portwho cannot decode");
	struct pw_nat_rule *r = w->r;
	r->has_daddr = true;
	r->daddr = (struct pw_addr){.family = fam};
	memcpy(r->daddr.bytes, data, dl);
	r->daddr_plen = (uint8_t)(s->masked ? prefix_len(s->data, dl) : (int)dl * 8);
}

static void on_cmp(struct walk *w, const struct nftnl_expr *e)
{
	struct reg *s = reg_at(w, e, NFTNL_EXPR_CMP_SREG);
	if (!s)
		return;
	uint32_t op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP);
	uint32_t dl = 0;
	const uint8_t *data = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &dl);
	if (!data || !dl)
		return;
	struct pw_nat_rule *r = w->r;
	switch (s->kind) {
	case REG_NFPROTO:
		if (op == NFT_CMP_EQ)
			w->nfproto = data[0];
		break;
	case REG_L4PROTO:
		if (op != NFT_CMP_EQ)
			return give_up(w, "a negated protocol match");
		r->proto = data[0];
		break;
	case REG_DPORT: {
		if (dl < 2)
			return;
		w->port_seen = true;
		uint16_t p = (uint16_t)(data[0] << 8 | data[1]);
		if (op == NFT_CMP_EQ)
			r->port_min = r->port_max = p;
		else if (op == NFT_CMP_GTE)
			r->port_min = p;
		else if (op == NFT_CMP_GT)
			r->port_min = (uint16_t)(p + 1);
		else if (op == NFT_CMP_LTE)
			r->port_max = p;
		else if (op == NFT_CMP_LT)
			r->port_max = (uint16_t)(p - 1);
		else
			give_up(w, "a negated port match");
		break;
	}
	case REG_DADDR:
		if (op != NFT_CMP_EQ)
			return give_up(w, "a negated address match");
		set_daddr(w, s, data, dl);
		break;
	default:
		break; /* interface names, marks...: they narrow, not redirect */
	}
}

static void on_range(struct walk *w, const struct nftnl_expr *e)
{
	struct reg *s = reg_at(w, e, NFTNL_EXPR_RANGE_SREG);
	if (!s || s->kind != REG_DPORT)
		return;
	uint32_t fl = 0, tl = 0;
	const uint8_t *from = nftnl_expr_get(e, NFTNL_EXPR_RANGE_FROM_DATA, &fl);
	const uint8_t *to = nftnl_expr_get(e, NFTNL_EXPR_RANGE_TO_DATA, &tl);
	if (nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_OP) != NFT_RANGE_EQ || fl < 2 || tl < 2)
		return give_up(w, "a negated port range");
	w->port_seen = true;
	w->r->port_min = (uint16_t)(from[0] << 8 | from[1]);
	w->r->port_max = (uint16_t)(to[0] << 8 | to[1]);
}

static void on_immediate(struct walk *w, const struct nftnl_expr *e)
{
	struct reg *d = reg_at(w, e, NFTNL_EXPR_IMM_DREG);
	uint32_t dl = 0;
	const void *data = nftnl_expr_get(e, NFTNL_EXPR_IMM_DATA, &dl);
	if (!d || !data)
		return;
	*d = (struct reg){REG_IMM, (uint8_t)(dl > 16 ? 16 : dl)};
	memcpy(d->data, data, d->len);
}

static bool imm_port(struct walk *w, const struct nftnl_expr *e, uint16_t attr, uint16_t *ret)
{
	struct reg *s = reg_at(w, e, attr);
	if (!s || s->kind != REG_IMM || s->len < 2)
		return false;
	*ret = (uint16_t)(s->data[0] << 8 | s->data[1]);
	return true;
}

static void on_nat(struct walk *w, const struct nftnl_expr *e)
{
	if (nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_TYPE) != NFT_NAT_DNAT)
		return;
	struct pw_nat_rule *r = w->r;
	w->is_forward = true;
	r->kind = PW_NAT_DNAT;
	uint32_t fam = nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_FAMILY);
	struct reg *a = reg_at(w, e, NFTNL_EXPR_NAT_REG_ADDR_MIN);
	if (a) {
		uint8_t af = fam == NFPROTO_IPV6 ? AF_INET6 : AF_INET;
		if (a->kind != REG_IMM || a->len < (af == AF_INET ? 4 : 16))
			return give_up(w, "a DNAT address taken from a map");
		r->has_to_addr = true;
		r->to_addr = (struct pw_addr){.family = af};
		memcpy(r->to_addr.bytes, a->data, af == AF_INET ? 4 : 16);
	}
	if (imm_port(w, e, NFTNL_EXPR_NAT_REG_PROTO_MIN, &r->to_port_min) &&
	    !imm_port(w, e, NFTNL_EXPR_NAT_REG_PROTO_MAX, &r->to_port_max))
		r->to_port_max = r->to_port_min;
}

static void on_redir(struct walk *w, const struct nftnl_expr *e)
{
	struct pw_nat_rule *r = w->r;
	w->is_forward = true;
	r->kind = PW_NAT_REDIRECT;
	if (imm_port(w, e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, &r->to_port_min) &&
	    !imm_port(w, e, NFTNL_EXPR_REDIR_REG_PROTO_MAX, &r->to_port_max))
		r->to_port_max = r->to_port_min;
}

static void on_tproxy(struct walk *w, const struct nftnl_expr *e)
{
	struct pw_nat_rule *r = w->r;
	w->is_forward = true;
	r->kind = PW_NAT_TPROXY;
	struct reg *a = reg_at(w, e, NFTNL_EXPR_TPROXY_REG_ADDR);
	if (a && a->kind == REG_IMM) {
		uint32_t fam = nftnl_expr_get_u32(e, NFTNL_EXPR_TPROXY_FAMILY);
		uint8_t af = fam == NFPROTO_IPV6 ? AF_INET6 : AF_INET;
		r->has_to_addr = true;
		r->to_addr = (struct pw_addr){.family = af};
		memcpy(r->to_addr.bytes, a->data, af == AF_INET ? 4 : 16);
	}
	if (imm_port(w, e, NFTNL_EXPR_TPROXY_REG_PORT, &r->to_port_min))
		r->to_port_max = r->to_port_min;
}

/* ---- iptables-nft: xt matches and targets carried inside nft rules ---- */

struct xt_ports_info { /* the head of xt_tcp and xt_udp: ports in host order */
	uint16_t spts[2], dpts[2];
};

static void on_xt_match(struct walk *w, const struct nftnl_expr *e)
{
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_MT_NAME);
	uint32_t len = 0;
	const uint8_t *info = nftnl_expr_get(e, NFTNL_EXPR_MT_INFO, &len);
	if (!name || !info)
		return;
	bool tcp = !strcmp(name, "tcp"), udp = !strcmp(name, "udp");
	if (!strcmp(name, "multiport") || !strcmp(name, "set"))
		return give_up(w, "an xt port list or ipset match");
	if (!tcp && !udp)
		return; /* addrtype, comment, conntrack...: they narrow */
	struct xt_ports_info p;
	size_t inv_off = tcp ? 10 : 8; /* xt_tcp: option, flg, invflags; xt_udp: invflags */
	if (len < inv_off + 1)
		return give_up(w, "a short xt port match");
	memcpy(&p, info, sizeof(p));
	if (info[inv_off] & 0x02) /* XT_TCP_INV_DSTPT == XT_UDP_INV_DSTPT */
		return give_up(w, "a negated port match");
	w->port_seen = true;
	w->r->port_min = p.dpts[0];
	w->r->port_max = p.dpts[1];
	if (!w->r->proto)
		w->r->proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
}

/* The nat range of an xt DNAT/REDIRECT target by revision: 0 is the IPv4
 * multi-range (rangesize, then nf_nat_ipv4_range), 1 nf_nat_range, 2
 * nf_nat_range2 (nf_nat_range plus base_proto). */
static bool xt_range(const uint8_t *info, uint32_t len, uint32_t rev, uint8_t af, unsigned *flags,
		     struct pw_addr *addr, uint16_t *pmin, uint16_t *pmax)
{
	union nf_conntrack_man_proto lo, hi;
	*addr = (struct pw_addr){.family = af};
	if (rev == 0) {
		struct nf_nat_ipv4_multi_range_compat m;
		if (len < sizeof(m))
			return false;
		memcpy(&m, info, sizeof(m));
		*flags = m.range[0].flags;
		memcpy(addr->bytes, &m.range[0].min_ip, 4);
		addr->family = AF_INET;
		lo = m.range[0].min, hi = m.range[0].max;
	} else {
		struct nf_nat_range n;
		if (len < sizeof(n))
			return false;
		memcpy(&n, info, sizeof(n));
		*flags = n.flags;
		memcpy(addr->bytes, &n.min_addr, af == AF_INET ? 4 : 16);
		lo = n.min_proto, hi = n.max_proto;
	}
	*pmin = ntohs(lo.all);
	*pmax = ntohs(hi.all);
	return true;
}

static void on_xt_target(struct walk *w, const struct nftnl_expr *e)
{
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME);
	uint32_t len = 0, rev = nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV);
	const uint8_t *info = nftnl_expr_get(e, NFTNL_EXPR_TG_INFO, &len);
	if (!name || !info)
		return;
	struct pw_nat_rule *r = w->r;
	uint8_t af = w->table_family == NFPROTO_IPV6 ? AF_INET6 : AF_INET;
	bool dnat = !strcmp(name, "DNAT"), redir = !strcmp(name, "REDIRECT");
	if (dnat || redir) {
		w->is_forward = true;
		r->kind = dnat ? PW_NAT_DNAT : PW_NAT_REDIRECT;
		unsigned flags = 0;
		struct pw_addr a;
		uint16_t lo, hi;
		if (rev > 2 || !xt_range(info, len, rev, af, &flags, &a, &lo, &hi))
			return give_up(w, "an xt target revision portwho cannot decode");
		if (dnat && (flags & NF_NAT_RANGE_MAP_IPS)) {
			r->has_to_addr = true;
			r->to_addr = a;
		}
		if (flags & NF_NAT_RANGE_PROTO_SPECIFIED) {
			r->to_port_min = lo;
			r->to_port_max = hi;
		}
	} else if (!strcmp(name, "TPROXY")) {
		w->is_forward = true;
		r->kind = PW_NAT_TPROXY;
		/* xt_tproxy_target_info_v1: mark_mask, mark_value, laddr, lport */
		if (rev != 1 || len < 26)
			return give_up(w, "an xt TPROXY revision portwho cannot decode");
		struct pw_addr a = {.family = af};
		memcpy(a.bytes, info + 8, af == AF_INET ? 4 : 16);
		if (!pw_addr_is_any(&a)) {
			r->has_to_addr = true;
			r->to_addr = a;
		}
		r->to_port_min = r->to_port_max = (uint16_t)(info[24] << 8 | info[25]);
	}
}

static int on_expr(struct nftnl_expr *e, void *data)
{
	struct walk *w = data;
	const char *n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	if (!n)
		return 0;
	if (!strcmp(n, "meta"))
		on_meta(w, e);
	else if (!strcmp(n, "payload"))
		on_payload(w, e);
	else if (!strcmp(n, "bitwise"))
		on_bitwise(w, e);
	else if (!strcmp(n, "cmp"))
		on_cmp(w, e);
	else if (!strcmp(n, "range"))
		on_range(w, e);
	else if (!strcmp(n, "immediate"))
		on_immediate(w, e);
	else if (!strcmp(n, "nat"))
		on_nat(w, e);
	else if (!strcmp(n, "redir"))
		on_redir(w, e);
	else if (!strcmp(n, "tproxy"))
		on_tproxy(w, e);
	else if (!strcmp(n, "match"))
		on_xt_match(w, e);
	else if (!strcmp(n, "target"))
		on_xt_target(w, e);
	else if (!strcmp(n, "lookup") || !strcmp(n, "dynset")) {
		struct reg *s = reg_at(w, e, NFTNL_EXPR_LOOKUP_SREG);
		if (s && (s->kind == REG_DPORT || s->kind == REG_DADDR))
			give_up(w, "a set lookup");
	}
	return 0;
}

void pw_nat_rule_clear(struct pw_nat_rule *r)
{
	free(r->table);
	free(r->chain);
	free(r->why);
	*r = (struct pw_nat_rule){0};
}

int pw_nft_rule_decode(const struct nlmsghdr *nlh, uint64_t netns, struct pw_nat_rule *ret)
{
	struct nftnl_rule *nr = nftnl_rule_alloc();
	if (!nr)
		return -ENOMEM;
	int r = 0;
	if (nftnl_rule_nlmsg_parse(nlh, nr) < 0) {
		r = -EINVAL;
		goto out;
	}
	struct pw_nat_rule rule = {.netns = netns, .port_max = 65535};
	struct walk w = {.r = &rule};
	w.table_family = (uint8_t)nftnl_rule_get_u32(nr, NFTNL_RULE_FAMILY);
	w.nfproto = w.table_family == NFPROTO_INET ? 0 : w.table_family;
	nftnl_expr_foreach(nr, on_expr, &w);
	if (!w.is_forward)
		goto out; /* r = 0: not a forward */
	if (!w.port_seen) /* kube-proxy's KUBE-SEP chains: the port was matched at the jump */
		give_up(&w, "no destination port match (a jump target, or every port)");
	const char *t = nftnl_rule_get_str(nr, NFTNL_RULE_TABLE);
	const char *c = nftnl_rule_get_str(nr, NFTNL_RULE_CHAIN);
	rule.family = w.table_family;
	rule.handle = nftnl_rule_get_u64(nr, NFTNL_RULE_HANDLE);
	rule.table = strdup(t ? t : "?");
	rule.chain = strdup(c ? c : "?");
	if (w.unsupported)
		rule.why = strdup(w.why);
	if (!rule.table || !rule.chain || (w.unsupported && !rule.why)) {
		pw_nat_rule_clear(&rule);
		r = -ENOMEM;
		goto out;
	}
	if (rule.port_min > rule.port_max)
		rule.port_min = rule.port_max;
	*ret = rule;
	r = 1;
out:
	nftnl_rule_free(nr);
	return r;
}

struct dump_ctx {
	struct pw_nat_rules *out;
	uint64_t netns;
	int err;
};

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *c = data;
	struct pw_nat_rule r;
	int k = pw_nft_rule_decode(nlh, c->netns, &r);
	if (k == -ENOMEM) {
		c->err = k;
		return MNL_CB_ERROR;
	}
	if (k <= 0)
		return MNL_CB_OK;
	if (PW_GROW(c->out->v, c->out->cap, c->out->n + 1) < 0) {
		pw_nat_rule_clear(&r);
		c->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	c->out->v[c->out->n++] = r;
	return MNL_CB_OK;
}

int pw_nft_collect(uint64_t netns, struct pw_nat_rules *out)
{
	char buf[256];
	struct nlmsghdr *nlh =
	    nftnl_rule_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_UNSPEC, NLM_F_DUMP, 0);
	struct dump_ctx c = {out, netns, 0};
	return pw_nl_ask(NETLINK_NETFILTER, nlh, rule_cb, &c, &c.err);
}

void pw_nat_rules_free(struct pw_nat_rules *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		pw_nat_rule_clear(&rs->v[i]);
	free(rs->v);
	*rs = (struct pw_nat_rules){0};
}
