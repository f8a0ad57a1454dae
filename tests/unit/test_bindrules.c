/* The Linux bind rules of `portwho check` (lib/check/bindrules.c), case by case.
 * Every expectation here was also seen on a real kernel (tests/e2e). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "portwho-check.h"
#include "internal.h"

#define PORT 8080

static struct pw_addr A(const char *s) {
	struct pw_addr a;
	assert_int_equal(pw_addr_parse(s, &a), 0);
	return a;
}

/* An existing socket: options -1 (unknown) unless given. */
static struct pw_socket
S(uint8_t proto, const char *addr, uint8_t state, uint32_t uid, int ra, int rp, int v6only) {
	struct pw_socket s = {
	    .proto = proto,
	    .state = state,
	    .uid = uid,
	    .laddr = A(addr),
	    .lport = PORT,
	    .inode = state == PW_ST_TIME_WAIT ? 0 : 1000,
	    .v6only = (int8_t)v6only,
	    .reuseaddr = (int8_t)ra,
	    .reuseport = (int8_t)rp,
	    .opts_source = ra >= 0 || rp >= 0 ? PW_OPTS_BPF : PW_OPTS_UNKNOWN,
	};
	s.family = s.laddr.family;
	s.raddr.family = s.family;
	return s;
}

#define TCP(addr, state, uid, ra, rp) S(IPPROTO_TCP, addr, state, uid, ra, rp, -1)
#define UDP(addr, uid, ra, rp) S(IPPROTO_UDP, addr, PW_ST_CLOSE, uid, ra, rp, -1)

static struct pw_bind_candidate
C(uint8_t proto, const char *addr, bool ra, bool rp, uint32_t uid) {
	return (struct pw_bind_candidate){
	    .proto = proto,
	    .addr = A(addr),
	    .port = PORT,
	    .reuseaddr = ra,
	    .reuseport = rp,
	    .uid = uid,
	    .can_bind_privileged = true,
	    .unprivileged_port_start = 1024,
	};
}

/* Predict c against the given sockets (by value). */
static void
predict(const struct pw_bind_candidate *c, struct pw_socket *v, size_t n,
	struct pw_bind_prediction *p)
{
	const struct pw_socket *ptrs[16];
	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].inode && v[i].state != PW_ST_TIME_WAIT)
			v[i].inode = (uint32_t)(2000 + i);
		if (v[i].inode)
			v[i].inode += (uint32_t)i; /* distinct sockets */
		ptrs[i] = &v[i];
	}
	assert_int_equal(pw_bind_predict(c, ptrs, n, p), 0);
	assert_non_null(p->why);
}

static bool has_advice(const struct pw_bind_prediction *p, const char *needle)
{
	for (size_t i = 0; i < p->n_advice; i++)
		if (strstr(p->advice[i], needle))
			return true;
	return false;
}

static void expect_fail(const struct pw_bind_prediction *p, enum pw_bind_rule rule)
{
	assert_false(p->would_succeed);
	assert_true(p->certain);
	assert_int_equal(p->err, EADDRINUSE);
	assert_int_equal(p->n_conflicts, 1);
	assert_int_equal(p->conflicts[0].outcome, PW_BIND_BLOCKS);
	assert_int_equal(p->conflicts[0].rule, rule);
	assert_non_null(p->conflicts[0].explanation);
}

static void expect_ok(const struct pw_bind_prediction *p)
{
	assert_true(p->would_succeed);
	assert_true(p->certain);
	assert_int_equal(p->err, 0);
	assert_int_equal(p->n_conflicts, 0);
}

static void test_empty(void **state)
{
	(void)state;
	struct pw_bind_candidate c = C(IPPROTO_TCP, "0.0.0.0", false, false, 0);
	struct pw_bind_prediction p;
	predict(&c, NULL, 0, &p);
	expect_ok(&p);
	assert_int_equal(p.n_shared, 0);
	assert_non_null(strstr(p.why, "nothing is bound"));
	pw_bind_prediction_clear(&p);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(pw_bind_rule_name(PW_RULE_EXCLUSIVE), "exclusive");
	assert_string_equal(pw_bind_rule_name(PW_RULE_TIME_WAIT), "time-wait");
	assert_string_equal(pw_bind_rule_name(PW_RULE_REUSEPORT_UID), "reuseport-uid");
	assert_null(pw_bind_rule_name(PW_RULE_MAX));
	assert_string_equal(pw_bind_outcome_name(PW_BIND_MAYBE), "maybe");
}

/* TCP rule 3: an overlapping listener without shared options blocks. */
static void test_tcp_exclusive(void **state)
{
	(void)state;
	struct pw_socket v[] = {TCP("0.0.0.0", PW_ST_LISTEN, 0, 0, 0)};
	struct pw_bind_candidate c = C(IPPROTO_TCP, "0.0.0.0", false, false, 0);
	struct pw_bind_prediction p;
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_EXCLUSIVE);
	/* nothing on our side alone helps against a plain listener */
	assert_false(has_advice(&p, "set SO_REUSEADDR on your socket"));
	assert_false(has_advice(&p, "set SO_REUSEPORT on your socket"));
	assert_true(has_advice(&p, "both sockets need SO_REUSEPORT"));
	assert_true(has_advice(&p, "no visible process holds"));
	/* the headline names the rule that blocks: a listener, not SO_REUSEADDR */
	assert_non_null(strstr(p.why, "it listens, and a listener shares its port only"));
	assert_null(strstr(p.why, "not set on both"));
	assert_non_null(strstr(p.conflicts[0].explanation, "it is listening"));
	assert_true(has_advice(&p, "run as root to see every holder"));
	pw_bind_prediction_clear(&p);

	/* as root, a socket with no visible holder is not a matter of permissions */
	c.root_view = true;
	predict(&c, v, 1, &p);
	assert_false(has_advice(&p, "run as root"));
	assert_true(has_advice(&p, "protected even from root"));
	pw_bind_prediction_clear(&p);
	c.root_view = false;

	/* SO_REUSEADDR on our side changes nothing against a listener */
	c.reuseaddr = true;
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_EXCLUSIVE);
	assert_non_null(strstr(p.why, "SO_REUSEADDR does not help"));
	pw_bind_prediction_clear(&p);

	/* a bound, never listening socket: SO_REUSEADDR on both would share */
	struct pw_socket b[] = {TCP("0.0.0.0", PW_ST_BOUND_INACTIVE, 0, 0, 0)};
	c.reuseaddr = false;
	predict(&c, b, 1, &p);
	expect_fail(&p, PW_RULE_EXCLUSIVE);
	assert_non_null(strstr(p.why, "not set on both"));
	pw_bind_prediction_clear(&p);
}

/* TCP rule 1 does not apply to a listener. */
static void test_tcp_reuseaddr_vs_listener(void **state)
{
	(void)state;
	struct pw_socket v[] = {TCP("0.0.0.0", PW_ST_LISTEN, 0, 1, 0)};
	struct pw_bind_candidate c = C(IPPROTO_TCP, "127.0.0.1", true, false, 0);
	struct pw_bind_prediction p;
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_REUSEADDR_LISTENER);
	assert_non_null(strstr(p.conflicts[0].explanation, "listening"));
	pw_bind_prediction_clear(&p);
}

/* TCP rule 1: both SO_REUSEADDR, the other bound but not listening. Only the
 * first to listen() gets to listen. */
static void test_tcp_listen_race(void **state)
{
	(void)state;
	struct pw_socket v[] = {TCP("0.0.0.0", PW_ST_BOUND_INACTIVE, 0, 1, 0)};
	struct pw_bind_candidate c = C(IPPROTO_TCP, "0.0.0.0", true, false, 65534);
	c.listen = true;
	struct pw_bind_prediction p;
	predict(&c, v, 1, &p);
	expect_ok(&p);
	assert_int_equal(p.n_shared, 1);
	assert_int_equal(p.shared[0].rule, PW_RULE_LISTEN_RACE);
	assert_non_null(strstr(p.shared[0].explanation, "could then never listen"));
	assert_true(has_advice(&p, "only the first to listen()"));
	pw_bind_prediction_clear(&p);

	/* without SO_REUSEADDR on the bound one, it blocks */
	v[0] = TCP("0.0.0.0", PW_ST_BOUND_INACTIVE, 0, 0, 0);
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_EXCLUSIVE);
	assert_true(has_advice(&p, "would need SO_REUSEADDR too"));
	pw_bind_prediction_clear(&p);
}

/* TCP rule 2: SO_REUSEPORT on both, same owner uid. */
static void test_tcp_reuseport(void **state)
{
	(void)state;
	struct pw_socket v[] = {TCP("0.0.0.0", PW_ST_LISTEN, 0, 0, 1)};
	struct pw_bind_candidate c = C(IPPROTO_TCP, "0.0.0.0", false, true, 0);
	c.listen = true;
	struct pw_bind_prediction p;
	predict(&c, v, 1, &p);
	expect_ok(&p);
	assert_int_equal(p.n_shared, 1);
	assert_int_equal(p.shared[0].rule, PW_RULE_REUSEPORT_SHARED);
	assert_non_null(strstr(p.shared[0].explanation, "join its group"));
	pw_bind_prediction_clear(&p);

	c.uid = 65534; /* the uid rule applies to root's sockets too */
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_REUSEPORT_UID);
	assert_non_null(strstr(p.conflicts[0].explanation,
			       "the existing one was created by uid 0, you would be uid 65534"));
	assert_true(has_advice(&p, "create your socket as uid 0"));
	pw_bind_prediction_clear(&p);

	/* and SO_REUSEADDR does not rescue it from a listener */
	c.reuseaddr = true;
	v[0].reuseaddr = 1;
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_REUSEPORT_UID);
	pw_bind_prediction_clear(&p);

	/* but it does when the other is only bound */
	v[0].state = PW_ST_BOUND_INACTIVE;
	predict(&c, v, 1, &p);
	expect_ok(&p);
	pw_bind_prediction_clear(&p);
}

/* TIME_WAIT: SO_REUSEADDR on both sides, or SO_REUSEPORT on both (any uid). */
static void test_time_wait(void **state)
{
	(void)state;
	struct pw_socket v[] = {TCP("127.0.0.1", PW_ST_TIME_WAIT, 0, 0, 0)};
	struct pw_bind_candidate c = C(IPPROTO_TCP, "0.0.0.0", true, false, 0);
	struct pw_bind_prediction p;
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_TIME_WAIT);
	assert_non_null(strstr(p.why, "TIME_WAIT"));
	assert_true(has_advice(&p, "wait for the TIME_WAIT"));
	assert_true(has_advice(&p, "SO_REUSEADDR on both sides"));
	pw_bind_prediction_clear(&p);

	v[0].reuseaddr = 1;
	predict(&c, v, 1, &p);
	expect_ok(&p);
	assert_int_equal(p.shared[0].rule, PW_RULE_TIME_WAIT);
	pw_bind_prediction_clear(&p);

	/* the old socket had it, the new one does not */
	c.reuseaddr = false;
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_TIME_WAIT);
	assert_true(has_advice(&p, "set SO_REUSEADDR on your socket"));
	pw_bind_prediction_clear(&p);

	/* SO_REUSEPORT on both: no uid check against TIME_WAIT */
	v[0] = TCP("127.0.0.1", PW_ST_TIME_WAIT, 0, 0, 1);
	c = C(IPPROTO_TCP, "0.0.0.0", false, true, 65534);
	predict(&c, v, 1, &p);
	expect_ok(&p);
	pw_bind_prediction_clear(&p);

	/* a leftover on another address does not overlap */
	c = C(IPPROTO_TCP, "127.0.0.2", false, false, 0);
	predict(&c, v, 1, &p);
	expect_ok(&p);
	assert_int_equal(p.n_shared, 0);
	pw_bind_prediction_clear(&p);
}

/* Connections in the bind table: SO_REUSEADDR on both lets a bind past them,
 * and a not-yet-accepted one (inode 0) says so. */
static void test_connections(void **state)
{
	(void)state;
	struct pw_socket v[] = {TCP("127.0.0.1", PW_ST_ESTABLISHED, 0, 1, 0)};
	v[0].inode = 0;
	struct pw_bind_candidate c = C(IPPROTO_TCP, "0.0.0.0", false, false, 0);
	struct pw_bind_prediction p;
	const struct pw_socket *ptr = &v[0];
	assert_int_equal(pw_bind_predict(&c, &ptr, 1, &p), 0);
	expect_fail(&p, PW_RULE_EXCLUSIVE);
	assert_true(has_advice(&p, "not yet accepted"));
	assert_true(has_advice(&p, "set SO_REUSEADDR on your socket"));
	pw_bind_prediction_clear(&p);

	c.reuseaddr = true;
	assert_int_equal(pw_bind_predict(&c, &ptr, 1, &p), 0);
	expect_ok(&p);
	assert_int_equal(p.shared[0].rule, PW_RULE_REUSEADDR_SHARED);
	pw_bind_prediction_clear(&p);

	/* request sockets are not in the bind table */
	v[0].state = PW_ST_SYN_RECV;
	c.reuseaddr = false;
	assert_int_equal(pw_bind_predict(&c, &ptr, 1, &p), 0);
	expect_ok(&p);
	assert_int_equal(p.n_shared, 0);
	pw_bind_prediction_clear(&p);
}

struct overlap_case {
	const char *existing;
	int ex_v6only;
	const char *cand;
	bool cand_v6only;
	bool overlaps;
};

/* Seen on 6.18, TCP and UDP alike. */
static void test_address_overlap(void **state)
{
	(void)state;
	static const struct overlap_case cases[] = {
	    {"0.0.0.0", -1, "0.0.0.0", false, true},
	    {"0.0.0.0", -1, "127.0.0.1", false, true},
	    {"127.0.0.1", -1, "0.0.0.0", false, true},
	    {"127.0.0.1", -1, "127.0.0.2", false, false},
	    {"0.0.0.0", -1, "::", false, true},
	    {"0.0.0.0", -1, "::", true, false},
	    {"0.0.0.0", -1, "::1", false, false},
	    {"127.0.0.1", -1, "::ffff:127.0.0.1", false, true},
	    {"0.0.0.0", -1, "::ffff:0.0.0.0", false, true},
	    {"::", 0, "0.0.0.0", false, true},
	    {"::", 0, "127.0.0.1", false, true},
	    {"::", 1, "0.0.0.0", false, false},
	    {"::", 1, "127.0.0.1", false, false},
	    {"::", 1, "::", false, true},
	    {"::", 0, "::", true, true},
	    {"::", 1, "::1", false, true},
	    {"::", 1, "::ffff:127.0.0.1", false, false},
	    {"::1", 0, "0.0.0.0", false, false},
	    {"::1", 0, "::ffff:127.0.0.1", false, false},
	    {"::1", 1, "::", true, true},
	    {"::ffff:127.0.0.1", 0, "0.0.0.0", false, true},
	    {"::ffff:127.0.0.1", 0, "::", true, false},
	    {"::ffff:0.0.0.0", 0, "127.0.0.1", false, true},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct overlap_case *k = &cases[i];
		for (int udp = 0; udp < 2; udp++) {
			struct pw_socket v[] = {S(udp ? IPPROTO_UDP : IPPROTO_TCP, k->existing,
						  udp ? PW_ST_CLOSE : PW_ST_LISTEN, 0, 0, 0,
						  k->ex_v6only)};
			struct pw_bind_candidate c =
			    C(udp ? IPPROTO_UDP : IPPROTO_TCP, k->cand, false, false, 0);
			c.v6only = k->cand_v6only;
			struct pw_bind_prediction p;
			predict(&c, v, 1, &p);
			if (p.would_succeed == k->overlaps)
				fail_msg("%s (v6only %d) then %s (v6only %d), %s: expected %s",
					 k->existing, k->ex_v6only, k->cand, k->cand_v6only,
					 udp ? "udp" : "tcp", k->overlaps ? "conflict" : "success");
			assert_true(p.certain);
			pw_bind_prediction_clear(&p);
		}
	}
}

static void test_device(void **state)
{
	(void)state;
	struct pw_socket v[] = {TCP("0.0.0.0", PW_ST_LISTEN, 0, 0, 0)};
	v[0].ifindex = 2;
	struct pw_bind_candidate c = C(IPPROTO_TCP, "0.0.0.0", false, false, 0);
	c.ifindex = 3;
	struct pw_bind_prediction p;
	predict(&c, v, 1, &p);
	expect_ok(&p);
	pw_bind_prediction_clear(&p);
	c.ifindex = 2;
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_EXCLUSIVE);
	pw_bind_prediction_clear(&p);
	c.ifindex = 0; /* no device: every device */
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_EXCLUSIVE);
	pw_bind_prediction_clear(&p);
}

/* udp_lib_lport_inuse: both SO_REUSEADDR (no uid check), or both
 * SO_REUSEPORT with one uid. */
static void test_udp(void **state)
{
	(void)state;
	struct pw_socket v[] = {UDP("0.0.0.0", 0, 0, 0)};
	struct pw_bind_candidate c = C(IPPROTO_UDP, "0.0.0.0", true, false, 65534);
	struct pw_bind_prediction p;
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_EXCLUSIVE);
	assert_non_null(strstr(p.conflicts[0].explanation, "UDP shares a port"));
	pw_bind_prediction_clear(&p);

	v[0].reuseaddr = 1; /* anyone may join with SO_REUSEADDR */
	predict(&c, v, 1, &p);
	expect_ok(&p);
	assert_int_equal(p.shared[0].rule, PW_RULE_REUSEADDR_SHARED);
	assert_true(has_advice(&p, "reaches only the socket bound last"));
	pw_bind_prediction_clear(&p);

	v[0] = UDP("0.0.0.0", 0, 0, 1);
	c = C(IPPROTO_UDP, "0.0.0.0", false, true, 0);
	predict(&c, v, 1, &p);
	expect_ok(&p);
	assert_int_equal(p.shared[0].rule, PW_RULE_REUSEPORT_SHARED);
	pw_bind_prediction_clear(&p);

	c.uid = 1000;
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_REUSEPORT_UID);
	pw_bind_prediction_clear(&p);
}

/* UDP stops at the first SO_REUSEPORT match it meets: with a blocker and a
 * match on the port, the answer depends on bind order. */
static void test_udp_bind_order(void **state)
{
	(void)state;
	struct pw_socket v[] = {UDP("127.0.0.1", 0, 0, 1), UDP("127.0.0.2", 0, 0, 0)};
	struct pw_bind_candidate c = C(IPPROTO_UDP, "0.0.0.0", false, true, 0);
	struct pw_bind_prediction p;
	predict(&c, v, 2, &p);
	assert_false(p.would_succeed);
	assert_false(p.certain);
	assert_int_equal(p.n_conflicts, 1);
	assert_int_equal(p.n_shared, 1);
	assert_true(p.n_uncertain >= 1);
	assert_non_null(strstr(p.uncertain[p.n_uncertain - 1], "bound last"));
	pw_bind_prediction_clear(&p);

	/* TCP checks them all */
	struct pw_socket t[] = {TCP("127.0.0.1", PW_ST_LISTEN, 0, 0, 1),
				TCP("127.0.0.2", PW_ST_LISTEN, 0, 0, 0)};
	c.proto = IPPROTO_TCP;
	predict(&c, t, 2, &p);
	assert_false(p.would_succeed);
	assert_true(p.certain);
	pw_bind_prediction_clear(&p);
}

/* Unknown options: not pretended. */
static void test_unknown_options(void **state)
{
	(void)state;
	struct pw_socket v[] = {TCP("0.0.0.0", PW_ST_BOUND_INACTIVE, 0, -1, -1)};
	struct pw_bind_candidate c = C(IPPROTO_TCP, "0.0.0.0", false, false, 0);
	struct pw_bind_prediction p;
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_EXCLUSIVE); /* nothing on its side can help */
	pw_bind_prediction_clear(&p);

	c.reuseaddr = true;
	predict(&c, v, 1, &p);
	assert_false(p.would_succeed);
	assert_false(p.certain);
	assert_int_equal(p.err, EADDRINUSE);
	assert_int_equal(p.conflicts[0].outcome, PW_BIND_MAYBE);
	assert_non_null(strstr(p.conflicts[0].explanation, "could not read"));
	assert_int_equal(p.n_uncertain, 1);
	assert_non_null(strstr(p.uncertain[0], "unless it was created with SO_REUSEADDR"));
	assert_true(has_advice(&p, "run as root"));
	pw_bind_prediction_clear(&p);

	/* inferred options count as unknown */
	v[0].reuseaddr = 1;
	v[0].reuseport = -1;
	v[0].opts_source = PW_OPTS_INFERRED;
	predict(&c, v, 1, &p);
	assert_false(p.certain);
	pw_bind_prediction_clear(&p);

	/* the v6only of a [::] socket may be unknown too */
	struct pw_socket w[] = {S(IPPROTO_TCP, "::", PW_ST_LISTEN, 0, 0, 0, -1)};
	c = C(IPPROTO_TCP, "127.0.0.1", false, false, 0);
	predict(&c, w, 1, &p);
	assert_false(p.certain);
	assert_non_null(strstr(p.uncertain[0], "IPv6-only"));
	pw_bind_prediction_clear(&p);
}

/* Two listeners on one address prove SO_REUSEPORT and one uid. */
static void test_inference(void **state)
{
	(void)state;
	struct pw_socket v[] = {TCP("0.0.0.0", PW_ST_LISTEN, 0, -1, -1),
				TCP("0.0.0.0", PW_ST_LISTEN, 0, -1, -1)};
	struct pw_bind_candidate c = C(IPPROTO_TCP, "0.0.0.0", false, true, 0);
	c.listen = true;
	struct pw_bind_prediction p;
	predict(&c, v, 2, &p);
	expect_ok(&p);
	assert_int_equal(p.n_shared, 2);
	assert_true(p.shared[0].inferred);
	pw_bind_prediction_clear(&p);

	c.uid = 1000;
	predict(&c, v, 2, &p);
	assert_false(p.would_succeed);
	assert_true(p.certain);
	assert_int_equal(p.conflicts[0].rule, PW_RULE_REUSEPORT_UID);
	assert_non_null(strstr(p.conflicts[0].explanation, "deduced"));
	pw_bind_prediction_clear(&p);

	/* a listener and a bound socket: SO_REUSEADDR on both, or SO_REUSEPORT */
	v[1].state = PW_ST_BOUND_INACTIVE;
	c = C(IPPROTO_TCP, "0.0.0.0", true, false, 0);
	predict(&c, v, 2, &p);
	assert_false(p.would_succeed); /* the listener blocks SO_REUSEADDR anyway */
	assert_true(p.certain);
	pw_bind_prediction_clear(&p);
}

static void test_eacces(void **state)
{
	(void)state;
	struct pw_socket v[] = {TCP("0.0.0.0", PW_ST_LISTEN, 0, 0, 0)};
	struct pw_bind_candidate c = C(IPPROTO_TCP, "0.0.0.0", false, false, 65534);
	c.port = 80;
	c.can_bind_privileged = false;
	struct pw_bind_prediction p;
	predict(&c, NULL, 0, &p);
	assert_false(p.would_succeed);
	assert_true(p.certain);
	assert_int_equal(p.err, EACCES);
	assert_non_null(strstr(p.why, "CAP_NET_BIND_SERVICE"));
	assert_true(has_advice(&p, "CAP_NET_BIND_SERVICE"));
	pw_bind_prediction_clear(&p);

	c.unprivileged_port_start = 80; /* the sysctl lowered in this netns */
	predict(&c, NULL, 0, &p);
	expect_ok(&p);
	pw_bind_prediction_clear(&p);

	/* EACCES comes first; the conflict is still shown */
	c.unprivileged_port_start = 1024;
	v[0].lport = 80;
	predict(&c, v, 1, &p);
	assert_int_equal(p.err, EACCES);
	assert_int_equal(p.n_conflicts, 1);
	assert_true(has_advice(&p, "even with the capability"));
	pw_bind_prediction_clear(&p);
}

static void test_other_ports_and_protos(void **state)
{
	(void)state;
	struct pw_socket v[] = {TCP("0.0.0.0", PW_ST_LISTEN, 0, 0, 0), UDP("0.0.0.0", 0, 0, 0)};
	v[0].lport = PORT + 1;
	struct pw_bind_candidate c = C(IPPROTO_TCP, "0.0.0.0", false, false, 0);
	struct pw_bind_prediction p;
	predict(&c, v, 2, &p);
	expect_ok(&p);
	assert_non_null(strstr(p.why, "nothing is bound"));
	pw_bind_prediction_clear(&p);
}

static void test_advice(void **state)
{
	(void)state;
	struct pw_bind_prediction p;
	/* dual-stack [::] against an IPv4 listener: IPV6_V6ONLY helps */
	struct pw_socket v[] = {TCP("0.0.0.0", PW_ST_LISTEN, 0, 0, 0)};
	struct pw_bind_candidate c = C(IPPROTO_TCP, "::", false, false, 0);
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_EXCLUSIVE);
	assert_non_null(strstr(p.conflicts[0].explanation, "your [::] without IPV6_V6ONLY"));
	assert_true(has_advice(&p, "IPV6_V6ONLY"));
	pw_bind_prediction_clear(&p);

	/* and the other way round: the explanation names the dual-stack socket */
	v[0] = S(IPPROTO_TCP, "::", PW_ST_LISTEN, 0, 0, 0, 0);
	c = C(IPPROTO_TCP, "127.0.0.1", false, false, 0);
	predict(&c, v, 1, &p);
	expect_fail(&p, PW_RULE_EXCLUSIVE);
	assert_non_null(strstr(p.conflicts[0].explanation, "it is bound to [::] without"));
	pw_bind_prediction_clear(&p);

	/* a wildcard against a specific address: bind another specific one */
	v[0] = TCP("127.0.0.1", PW_ST_LISTEN, 0, 0, 0);
	c = C(IPPROTO_TCP, "0.0.0.0", false, false, 0);
	predict(&c, v, 1, &p);
	assert_true(has_advice(&p, "specific address"));
	pw_bind_prediction_clear(&p);

	/* holders are named */
	struct pw_process proc = {.pid = 4242, .comm = "nginx", .facts_read = true};
	struct pw_holder h = {.proc = &proc, .tid = 4242, .fd = 5};
	v[0].holders = &h;
	v[0].n_holders = 1;
	predict(&c, v, 1, &p);
	assert_true(has_advice(&p, "stop nginx (PID 4242)"));
	pw_bind_prediction_clear(&p);

	/* a bound socket with SO_REUSEADDR: set it on ours too */
	v[0] = TCP("0.0.0.0", PW_ST_BOUND_INACTIVE, 0, 1, 0);
	predict(&c, v, 1, &p);
	assert_true(has_advice(&p, "set SO_REUSEADDR on your socket"));
	pw_bind_prediction_clear(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_tcp_exclusive),
	    cmocka_unit_test(test_tcp_reuseaddr_vs_listener),
	    cmocka_unit_test(test_tcp_listen_race),
	    cmocka_unit_test(test_tcp_reuseport),
	    cmocka_unit_test(test_time_wait),
	    cmocka_unit_test(test_connections),
	    cmocka_unit_test(test_address_overlap),
	    cmocka_unit_test(test_device),
	    cmocka_unit_test(test_udp),
	    cmocka_unit_test(test_udp_bind_order),
	    cmocka_unit_test(test_unknown_options),
	    cmocka_unit_test(test_inference),
	    cmocka_unit_test(test_eacces),
	    cmocka_unit_test(test_other_ports_and_protos),
	    cmocka_unit_test(test_advice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
