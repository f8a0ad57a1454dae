/* Replays recorded sock_diag dumps (tools/record-diag.py; the sockets are
 * described in fixtures/diag/facts.json) and checks the inet_diag bytecode
 * against a model of the kernel's interpreter and audit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "internal.h"

#define MAXSOCK 32

struct replay {
	struct pw_socket s[MAXSOCK];
	size_t n;
	int done;
};

static void replay(const char *name, uint8_t proto, bool asked_bi, struct replay *out)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/diag/%s", FIXTURES, name);
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(pw_read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len), 0);
	memset(out, 0, sizeof(*out));
	size_t off = 0;
	while (off + 4 <= len) {
		uint32_t dlen;
		memcpy(&dlen, buf + off, 4);
		off += 4;
		assert_true(off + dlen <= len);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(buf + off);
		int rest = (int)dlen;
		for (; mnl_nlmsg_ok(nlh, rest); nlh = mnl_nlmsg_next(nlh, &rest)) {
			if (nlh->nlmsg_type == NLMSG_DONE) {
				out->done++;
				continue;
			}
			assert_int_equal(nlh->nlmsg_type, SOCK_DIAG_BY_FAMILY);
			assert_true(out->n < MAXSOCK);
			assert_int_equal(pw_diag_parse(nlh, proto, 42, asked_bi, &out->s[out->n]), 0);
			out->n++;
		}
		off += dlen;
	}
	free(buf);
	assert_int_equal(out->done, 1);
}

static const struct pw_socket *by_inode(const struct replay *r, uint32_t inode)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->s[i].inode == inode)
			return &r->s[i];
	return NULL;
}

static void test_tcp4_all_states(void **state)
{
	(void)state;
	struct replay r;
	replay("tcp4-all.bin", IPPROTO_TCP, true, &r);
	assert_int_equal(r.n, 4); /* listener, bound-inactive, client, accepted */

	const struct pw_socket *l = by_inode(&r, 9199);
	assert_non_null(l);
	assert_int_equal(l->state, PW_ST_LISTEN);
	assert_int_equal(l->lport, 8080);
	assert_int_equal(l->family, AF_INET);
	assert_int_equal(l->proto, IPPROTO_TCP);
	assert_int_equal(l->netns, 42);
	assert_memory_equal(l->laddr.bytes, "\x7f\0\0\x01", 4);
	assert_int_equal(l->uid, 0);
	assert_int_equal(l->v6only, -1);
	assert_int_equal(l->reuseport, -1);
	assert_true(l->cookie != 0);

	const struct pw_socket *b = by_inode(&r, 9202);
	assert_non_null(b);
	assert_int_equal(b->state, PW_ST_BOUND_INACTIVE);
	assert_int_equal(b->lport, 9000);
	assert_true(pw_addr_is_any(&b->laddr));

	const struct pw_socket *c = by_inode(&r, 9204);
	assert_non_null(c);
	assert_int_equal(c->state, PW_ST_ESTABLISHED);
	assert_int_equal(c->lport, 48088);
	assert_int_equal(c->rport, 8080);
	const struct pw_socket *a = by_inode(&r, 9205);
	assert_non_null(a);
	assert_int_equal(a->lport, 8080);
	assert_int_equal(a->rport, 48088);
}

static void test_bound_inactive_needs_the_bit(void **state)
{
	(void)state;
	/* same kind of dump without bit 13: no CLOSE sockets come back at all */
	struct replay r;
	replay("tcp4-nobound.bin", IPPROTO_TCP, false, &r);
	assert_int_equal(r.n, 3);
	assert_null(by_inode(&r, 9202));
}

static void test_tcp6_v6only(void **state)
{
	(void)state;
	struct replay r;
	replay("tcp6-listen.bin", IPPROTO_TCP, false, &r);
	assert_int_equal(r.n, 2);
	const struct pw_socket *only = by_inode(&r, 9200), *dual = by_inode(&r, 9201);
	assert_non_null(only);
	assert_non_null(dual);
	assert_int_equal(only->family, AF_INET6);
	assert_int_equal(only->v6only, 1);
	assert_int_equal(only->lport, 8443);
	assert_int_equal(dual->v6only, 0);
	assert_int_equal(dual->lport, 8444);
	assert_true(pw_addr_is_any(&dual->laddr));
}

static void test_udp(void **state)
{
	(void)state;
	struct replay r;
	replay("udp4-all.bin", IPPROTO_UDP, true, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.s[0].inode, 9203);
	assert_int_equal(r.s[0].state, PW_ST_CLOSE); /* UDP CLOSE is "bound" */
	assert_int_equal(r.s[0].proto, IPPROTO_UDP);
	assert_int_equal(r.s[0].lport, 5353);
}

static void test_malformed(void **state)
{
	(void)state;
	char buf[64] = { 0 };
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	nlh->nlmsg_len = sizeof(buf); /* shorter than an inet_diag_msg */
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	struct pw_socket s;
	assert_int_equal(pw_diag_parse(nlh, IPPROTO_TCP, 0, false, &s), -EINVAL);

	char big[256] = { 0 };
	nlh = (struct nlmsghdr *)big;
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(struct inet_diag_msg));
	struct inet_diag_msg *m = NLMSG_DATA(nlh);
	m->idiag_family = AF_UNIX;
	m->idiag_state = PW_ST_LISTEN;
	assert_int_equal(pw_diag_parse(nlh, IPPROTO_TCP, 0, false, &s), -EINVAL);
	m->idiag_family = AF_INET;
	m->idiag_state = 0; /* no such state */
	assert_int_equal(pw_diag_parse(nlh, IPPROTO_TCP, 0, false, &s), -EINVAL);
	m->idiag_state = PW_ST_LISTEN;
	assert_int_equal(pw_diag_parse(nlh, IPPROTO_TCP, 0, false, &s), 0);
}

/* ---- bytecode: a model of inet_diag_bc_audit + inet_diag_bc_run ---------- */

/* The kernel's valid_cc(): is cc (bytes left) reached by yes-steps? */
static bool valid_cc(const unsigned char *bc, int len, int cc)
{
	while (len >= 0) {
		const struct inet_diag_bc_op *op = (const void *)bc;
		if (cc > len)
			return false;
		if (cc == len)
			return true;
		if (op->yes < 4 || op->yes & 3)
			return false;
		len -= op->yes;
		bc += op->yes;
	}
	return false;
}

/* A model of inet_diag_bc_audit() for the ops we emit. */
static bool audit(const unsigned char *bc, int total)
{
	const unsigned char *p = bc;
	int len = total;
	while (len > 0) {
		const struct inet_diag_bc_op *op = (const void *)p;
		int min = 4;
		if (op->code == INET_DIAG_BC_S_GE || op->code == INET_DIAG_BC_S_LE ||
		    op->code == INET_DIAG_BC_D_GE || op->code == INET_DIAG_BC_D_LE) {
			min += 4;
			if (len < min)
				return false;
		} else if (op->code != INET_DIAG_BC_JMP) {
			return false;
		}
		if (op->no < min || op->no > len + 4 || (op->no & 3))
			return false;
		if (op->no < len && !valid_cc(bc, total, len - op->no))
			return false;
		if (op->yes < min || op->yes > len + 4 || (op->yes & 3))
			return false;
		p += op->yes;
		len -= op->yes;
	}
	return true;
}

static bool run2(const unsigned char *bc, int len, uint16_t sport, uint16_t dport)
{
	const unsigned char *p = bc;
	while (len > 0) {
		const struct inet_diag_bc_op *op = (const void *)p;
		bool yes;
		if (op->code == INET_DIAG_BC_JMP)
			yes = false;
		else if (op->code == INET_DIAG_BC_S_GE)
			yes = sport >= op[1].no;
		else if (op->code == INET_DIAG_BC_S_LE)
			yes = sport <= op[1].no;
		else if (op->code == INET_DIAG_BC_D_GE)
			yes = dport >= op[1].no;
		else
			yes = dport <= op[1].no;
		int step = yes ? op->yes : op->no;
		len -= step;
		p += step;
	}
	return len == 0;
}

static bool run(const unsigned char *bc, int len, uint16_t sport)
{
	return run2(bc, len, sport, 0);
}

/* With remote ends: accept when the local or the remote port is in a spec. */
static void check_specs_remote(const struct pw_portspec *specs, size_t n)
{
	unsigned char bc[4096];
	int len = pw_diag_build_bytecode_ends(specs, n, true, bc, sizeof(bc));
	assert_true(len > 0);
	assert_true(audit(bc, len));
	static const uint16_t others[] = {1, 7102, 7104, 45678, 65535};
	for (unsigned port = 0; port <= 65535; port++) {
		bool want = false;
		for (size_t i = 0; i < n; i++)
			want |= port >= specs[i].lo && port <= specs[i].hi;
		for (size_t k = 0; k < ARRAY_SIZE(others); k++) {
			bool other = false;
			for (size_t i = 0; i < n; i++)
				other |= others[k] >= specs[i].lo && others[k] <= specs[i].hi;
			if (run2(bc, len, (uint16_t)port, others[k]) != (want || other))
				fail_msg("sport %u dport %u: wrong answer", port, others[k]);
			if (run2(bc, len, others[k], (uint16_t)port) != (want || other))
				fail_msg("sport %u dport %u: wrong answer", others[k], port);
		}
	}
}

static void test_bytecode_remote(void **state)
{
	(void)state;
	struct pw_portspec one = {.lo = 7103, .hi = 7103};
	check_specs_remote(&one, 1);
	struct pw_portspec two[] = {{.lo = 22, .hi = 22}, {.lo = 8000, .hi = 8100}};
	check_specs_remote(two, 2);
	unsigned char bc[4096];
	struct pw_portspec all = {.lo = 0, .hi = 65535};
	assert_int_equal(pw_diag_build_bytecode_ends(&all, 1, true, bc, sizeof(bc)), 0);
}

static void check_specs(const struct pw_portspec *specs, size_t n)
{
	unsigned char bc[4096];
	int len = pw_diag_build_bytecode(specs, n, bc, sizeof(bc));
	assert_true(len > 0);
	assert_true(audit(bc, len));
	for (unsigned port = 0; port <= 65535; port++) {
		bool want = false;
		for (size_t i = 0; i < n; i++)
			want |= port >= specs[i].lo && port <= specs[i].hi;
		if (run(bc, len, (uint16_t)port) != want)
			fail_msg("port %u: bytecode says %d, want %d", port, !want, want);
	}
}

static void test_bytecode(void **state)
{
	(void)state;
	struct pw_portspec one = { .lo = 53, .hi = 53 };
	check_specs(&one, 1);
	struct pw_portspec range = { .lo = 8000, .hi = 8100 };
	check_specs(&range, 1);
	struct pw_portspec three[] = { { .lo = 22, .hi = 22 },
				       { .lo = 8000, .hi = 8100 },
				       { .lo = 65535, .hi = 65535 } };
	check_specs(three, 3);
	struct pw_portspec edges[] = { { .lo = 0, .hi = 0 }, { .lo = 1, .hi = 1023 } };
	check_specs(edges, 2);
}

static void test_bytecode_not_needed(void **state)
{
	(void)state;
	unsigned char bc[64];
	assert_int_equal(pw_diag_build_bytecode(NULL, 0, bc, sizeof(bc)), 0);
	struct pw_portspec all[] = { { .lo = 80, .hi = 80 }, { .lo = 0, .hi = 65535 } };
	assert_int_equal(pw_diag_build_bytecode(all, 2, bc, sizeof(bc)), 0);
	struct pw_portspec many[8] = { { .lo = 1, .hi = 1 } };
	for (int i = 0; i < 8; i++)
		many[i] = (struct pw_portspec){ .lo = (uint16_t)i, .hi = (uint16_t)i };
	assert_int_equal(pw_diag_build_bytecode(many, 8, bc, sizeof(bc)), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp4_all_states),
		cmocka_unit_test(test_bound_inactive_needs_the_bit),
		cmocka_unit_test(test_tcp6_v6only),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bytecode),
		cmocka_unit_test(test_bytecode_not_needed),
		cmocka_unit_test(test_bytecode_remote),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
