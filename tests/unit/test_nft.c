/* Decodes a recorded nf_tables rule dump (tools/record-nft.py: the rules are
 * tests/fixtures/nft/rules.nft and rules.iptables, loaded into a private
 * namespace on kernel 6.18) and docker-proxy command lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "internal.h"

#define MAXRULES 32

struct decoded {
	struct pw_nat_rule r[MAXRULES];
	size_t n;      /* forwards */
	size_t others; /* rules that are not forwards */
};

static void decode_fixture(struct decoded *d)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/nft/rules.bin", FIXTURES);
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(pw_read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len), 0);
	memset(d, 0, sizeof(*d));
	size_t off = 0;
	while (off + sizeof(struct nlmsghdr) <= len) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)(void *)(buf + off);
		assert_true(nlh->nlmsg_len >= sizeof(*nlh) && off + nlh->nlmsg_len <= len);
		assert_true(d->n < MAXRULES);
		int k = pw_nft_rule_decode(nlh, 77, &d->r[d->n]);
		assert_true(k == 0 || k == 1);
		if (k == 1)
			d->n++;
		else
			d->others++;
		off += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	free(buf);
}

static void clear(struct decoded *d)
{
	for (size_t i = 0; i < d->n; i++)
		pw_nat_rule_clear(&d->r[i]);
}

static const struct pw_nat_rule *find(const struct decoded *d, const char *table, const char *chain,
				      uint8_t proto, uint16_t port_min)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct pw_nat_rule *r = &d->r[i];
		if (!strcmp(r->table, table) && !strcmp(r->chain, chain) && r->proto == proto &&
		    r->port_min == port_min)
			return r;
	}
	fail_msg("no rule %s %s proto %u port %u", table, chain, proto, port_min);
	return NULL;
}

static void assert_addr(const struct pw_addr *a, const char *want)
{
	char buf[64];
	assert_true(pw_addr_format(a, false, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, want);
}

static void test_counts(void **state)
{
	(void)state;
	struct decoded d;
	decode_fixture(&d);
	/* 6 inet + 1 tproxy + 5 iptables-nft forwards; masquerade and the
	 * PREROUTING jump are not forwards */
	assert_int_equal(d.n, 12);
	assert_int_equal(d.others, 2);
	for (size_t i = 0; i < d.n; i++)
		assert_int_equal(d.r[i].netns, 77);
	clear(&d);
}

static void test_native_dnat(void **state)
{
	(void)state;
	struct decoded d;
	decode_fixture(&d);
	const struct pw_nat_rule *r = find(&d, "portfw", "pre", IPPROTO_TCP, 100);
	assert_int_equal(r->family, NFPROTO_INET);
	assert_int_equal(r->kind, PW_NAT_DNAT);
	assert_int_equal(r->port_max, 200);
	assert_true(r->has_daddr);
	assert_addr(&r->daddr, "10.1.0.0");
	assert_int_equal(r->daddr_plen, 16);
	assert_true(r->has_to_addr);
	assert_addr(&r->to_addr, "10.2.0.1");
	assert_int_equal(r->to_port_min, 300);
	assert_int_equal(r->to_port_max, 300);
	assert_null(r->why);
	assert_true(r->handle > 0);

	/* a /12 is a 2-byte load and a bitwise mask */
	r = find(&d, "portfw", "pre", IPPROTO_TCP, 7000);
	assert_addr(&r->daddr, "10.0.0.0"); /* nft masks 10.9.0.0/12 itself */
	assert_int_equal(r->daddr_plen, 12);
	assert_addr(&r->to_addr, "10.9.0.5");
	assert_int_equal(r->to_port_min, 0); /* the port is kept */

	r = find(&d, "portfw", "pre", IPPROTO_TCP, 8443);
	assert_int_equal(r->daddr.family, AF_INET6);
	assert_addr(&r->daddr, "fd00::1");
	assert_int_equal(r->daddr_plen, 128);
	assert_addr(&r->to_addr, "fd00::2");
	assert_int_equal(r->to_port_min, 443);
	clear(&d);
}

static void test_native_redirect_tproxy(void **state)
{
	(void)state;
	struct decoded d;
	decode_fixture(&d);
	const struct pw_nat_rule *r = find(&d, "portfw", "pre", IPPROTO_UDP, 53);
	assert_int_equal(r->kind, PW_NAT_REDIRECT);
	assert_int_equal(r->port_max, 53);
	assert_false(r->has_daddr);
	assert_false(r->has_to_addr);
	assert_int_equal(r->to_port_min, 5353);

	r = find(&d, "tp", "pre", IPPROTO_TCP, 80);
	assert_int_equal(r->family, NFPROTO_IPV4);
	assert_int_equal(r->kind, PW_NAT_TPROXY);
	assert_addr(&r->to_addr, "127.0.0.1");
	assert_int_equal(r->to_port_min, 8080);
	clear(&d);
}

static void test_not_decoded(void **state)
{
	(void)state;
	struct decoded d;
	decode_fixture(&d);
	size_t sets = 0, negated = 0, lists = 0, portless = 0;
	for (size_t i = 0; i < d.n; i++) {
		if (!d.r[i].why)
			continue;
		sets += !strcmp(d.r[i].why, "a set lookup");
		negated += !strcmp(d.r[i].why, "a negated port match");
		lists += !strcmp(d.r[i].why, "an xt port list or ipset match");
		portless +=
		    !strcmp(d.r[i].why, "no destination port match (a jump target, or every port)");
	}
	assert_int_equal(sets, 1);     /* tcp dport { 1, 2 } */
	assert_int_equal(negated, 1);  /* tcp dport != 22 */
	assert_int_equal(lists, 1);    /* -m multiport --dports 81,82 */
	assert_int_equal(portless, 1); /* kube-proxy's KUBE-SEP-... DNAT */
	clear(&d);
}

static void test_iptables_nft(void **state)
{
	(void)state;
	struct decoded d;
	decode_fixture(&d);
	/* Docker's rule: native payload matches, an xt DNAT target (rev 2) */
	const struct pw_nat_rule *r = find(&d, "nat", "DOCKER", IPPROTO_TCP, 8088);
	assert_int_equal(r->family, NFPROTO_IPV4);
	assert_int_equal(r->kind, PW_NAT_DNAT);
	assert_int_equal(r->port_max, 8088);
	assert_true(r->has_daddr);
	assert_addr(&r->daddr, "127.0.0.1");
	assert_int_equal(r->daddr_plen, 32);
	assert_addr(&r->to_addr, "172.17.0.2");
	assert_int_equal(r->to_port_min, 80);
	assert_null(r->why);

	r = find(&d, "nat", "DOCKER", IPPROTO_UDP, 5000);
	assert_int_equal(r->kind, PW_NAT_REDIRECT); /* xt REDIRECT rev 0 */
	assert_int_equal(r->port_max, 5010);
	assert_int_equal(r->to_port_min, 6000);

	r = find(&d, "nat", "DOCKER", IPPROTO_TCP, 99);
	assert_addr(&r->to_addr, "172.17.0.3");
	assert_int_equal(r->to_port_min, 0);
	assert_false(r->has_daddr);
	clear(&d);
}

static void test_proxy_parse(void **state)
{
	(void)state;
	uint8_t proto = 0;
	struct pw_addr a;
	uint16_t port = 0;
	assert_int_equal(
	    pw_proxy_parse("/usr/sbin/docker-proxy -proto tcp -host-ip 127.0.0.1 "
			   "-host-port 8088 -container-ip 172.17.0.2 -container-port 80",
			   &proto, &a, &port),
	    0);
	assert_int_equal(proto, IPPROTO_TCP);
	assert_addr(&a, "172.17.0.2");
	assert_int_equal(port, 80);
	assert_int_equal(pw_proxy_parse("docker-proxy -proto udp -host-ip :: -host-port 53 "
					"-container-ip fd00::5 -container-port 5353",
					&proto, &a, &port),
			 0);
	assert_int_equal(proto, IPPROTO_UDP);
	assert_addr(&a, "fd00::5");
	assert_int_equal(port, 5353);
	assert_int_equal(pw_proxy_parse("docker-proxy -proto tcp", &proto, &a, &port), -ENOENT);
	assert_int_equal(
	    pw_proxy_parse("docker-proxy -container-ip x -container-port 80", &proto, &a, &port),
	    -EINVAL);
	assert_int_equal(pw_proxy_parse("docker-proxy -container-ip 1.2.3.4 -container-port 0",
					&proto, &a, &port),
			 -EINVAL);
	/* a flag name inside another word is not the flag */
	assert_int_equal(
	    pw_proxy_parse("x--container-ip 1.2.3.4 -container-port 80", &proto, &a, &port),
	    -ENOENT);
	assert_int_equal(pw_proxy_parse(NULL, &proto, &a, &port), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counts),
	    cmocka_unit_test(test_native_dnat),
	    cmocka_unit_test(test_native_redirect_tproxy),
	    cmocka_unit_test(test_not_decoded),
	    cmocka_unit_test(test_iptables_nft),
	    cmocka_unit_test(test_proxy_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
