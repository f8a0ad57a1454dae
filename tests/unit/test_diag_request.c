/* SPDX-License-Identifier: MIT */
/* pw_diag_request_build: which dumps a query asks sock_diag for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "internal.h"

#define TCP_STATES (PW_STATES_ALL & ~PW_STATE_BIT(PW_ST_CLOSE))

static void assert_dump(const struct pw_diag_request *rq, size_t i, uint8_t fam, uint8_t proto,
			uint32_t states)
{
	assert_true(i < rq->n_dumps);
	assert_int_equal(rq->dumps[i].family, fam);
	assert_int_equal(rq->dumps[i].proto, proto);
	assert_int_equal(rq->dumps[i].states, states);
}

/* Everything: TCP in one walk for both families, never CLOSE; UDP and
 * UDP-Lite per family; no port filter. */
static void test_everything(void **state)
{
	(void)state;
	struct pw_query q = {0};
	struct pw_diag_request rq;
	assert_int_equal(pw_diag_request_build(&q, &rq), 0);
	assert_int_equal(rq.protos, PW_PROTO_ALL);
	assert_int_equal(rq.states, PW_STATES_ALL);
	assert_int_equal(rq.sport, 0);
	assert_int_equal(rq.bc_len, 0);
	assert_int_equal(rq.n_dumps, 5);
	assert_dump(&rq, 0, AF_UNSPEC, IPPROTO_TCP, TCP_STATES);
	assert_dump(&rq, 1, AF_INET, IPPROTO_UDP, PW_STATES_ALL);
	assert_dump(&rq, 2, AF_INET6, IPPROTO_UDP, PW_STATES_ALL);
	assert_dump(&rq, 3, AF_INET, IPPROTO_UDPLITE, PW_STATES_ALL);
	assert_dump(&rq, 4, AF_INET6, IPPROTO_UDPLITE, PW_STATES_ALL);
}

/* -6: TCP is asked per family too. */
static void test_one_family(void **state)
{
	(void)state;
	struct pw_query q = {.protos = PW_PROTO_TCP | PW_PROTO_UDP, .families = PW_FAMILY_INET6};
	struct pw_diag_request rq;
	assert_int_equal(pw_diag_request_build(&q, &rq), 0);
	assert_int_equal(rq.n_dumps, 2);
	assert_dump(&rq, 0, AF_INET6, IPPROTO_TCP, TCP_STATES);
	assert_dump(&rq, 1, AF_INET6, IPPROTO_UDP, PW_STATES_ALL);
}

/* Only CLOSE asked: TCP has nothing to give, UDP does. */
static void test_close_only(void **state)
{
	(void)state;
	uint32_t close = PW_STATE_BIT(PW_ST_CLOSE);
	struct pw_query q = {.protos = PW_PROTO_TCP | PW_PROTO_UDP, .states = close};
	struct pw_diag_request rq;
	assert_int_equal(pw_diag_request_build(&q, &rq), 0);
	assert_int_equal(rq.n_dumps, 2);
	assert_dump(&rq, 0, AF_INET, IPPROTO_UDP, close);
	assert_dump(&rq, 1, AF_INET6, IPPROTO_UDP, close);
}

/* Specs narrow the protocols; one port everywhere becomes sport, two do
 * not; a port filter is built. */
static void test_specs(void **state)
{
	(void)state;
	struct pw_portspec one[] = {{.protos = PW_PROTO_UDP, .lo = 53, .hi = 53},
				    {.protos = PW_PROTO_UDP, .lo = 53, .hi = 53}};
	struct pw_query q = {.specs = one, .n_specs = 2};
	struct pw_diag_request rq;
	assert_int_equal(pw_diag_request_build(&q, &rq), 0);
	assert_int_equal(rq.protos, PW_PROTO_UDP);
	assert_int_equal(rq.sport, 53);
	assert_true(rq.bc_len > 0);
	assert_int_equal(rq.n_dumps, 2);
	assert_dump(&rq, 0, AF_INET, IPPROTO_UDP, PW_STATES_ALL);

	struct pw_portspec two[] = {{.lo = 80, .hi = 80},
				    {.protos = PW_PROTO_TCP, .lo = 443, .hi = 443}};
	q = (struct pw_query){.specs = two, .n_specs = 2};
	assert_int_equal(pw_diag_request_build(&q, &rq), 0);
	assert_int_equal(rq.protos, PW_PROTO_ALL);
	assert_int_equal(rq.sport, 0);
	assert_int_equal(rq.n_dumps, 5);

	struct pw_portspec range[] = {{.protos = PW_PROTO_TCP, .lo = 8000, .hi = 8100}};
	q = (struct pw_query){.specs = range, .n_specs = 1};
	assert_int_equal(pw_diag_request_build(&q, &rq), 0);
	assert_int_equal(rq.sport, 0);
	assert_int_equal(rq.n_dumps, 1);
	assert_dump(&rq, 0, AF_UNSPEC, IPPROTO_TCP, TCP_STATES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_everything),
	    cmocka_unit_test(test_one_family),
	    cmocka_unit_test(test_close_only),
	    cmocka_unit_test(test_specs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
