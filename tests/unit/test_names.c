/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "internal.h"

#define B(s) PW_STATE_BIT(PW_ST_##s)

static void test_state_names(void **state)
{
	(void)state;
	static const struct {
		uint8_t st;
		const char *name;
	} t[] = {
	    {PW_ST_ESTABLISHED, "ESTAB"},    {PW_ST_SYN_SENT, "SYN-SENT"},
	    {PW_ST_SYN_RECV, "SYN-RECV"},    {PW_ST_FIN_WAIT1, "FIN-WAIT-1"},
	    {PW_ST_FIN_WAIT2, "FIN-WAIT-2"}, {PW_ST_TIME_WAIT, "TIME-WAIT"},
	    {PW_ST_CLOSE, "UNCONN"},	     {PW_ST_CLOSE_WAIT, "CLOSE-WAIT"},
	    {PW_ST_LAST_ACK, "LAST-ACK"},    {PW_ST_LISTEN, "LISTEN"},
	    {PW_ST_CLOSING, "CLOSING"},	     {PW_ST_NEW_SYN_RECV, "SYN-RECV"},
	    {PW_ST_BOUND_INACTIVE, "BOUND"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		assert_string_equal(pw_state_name(IPPROTO_TCP, t[i].st), t[i].name);
	assert_string_equal(pw_state_name(IPPROTO_UDP, PW_ST_CLOSE), "UNCONN");
	assert_string_equal(pw_state_name(IPPROTO_UDP, PW_ST_ESTABLISHED), "ESTAB");
	assert_string_equal(pw_state_name(IPPROTO_UDPLITE, PW_ST_CLOSE), "UNCONN");
	/* never NULL: explain.c prints it with %s */
	assert_string_equal(pw_state_name(IPPROTO_TCP, 0), "UNKNOWN");
	assert_string_equal(pw_state_name(IPPROTO_TCP, PW_ST_MAX), "UNKNOWN");
	assert_string_equal(pw_state_name(IPPROTO_TCP, 255), "UNKNOWN");
}

static uint32_t parse_ok(const char *w)
{
	uint32_t m = 0xdeadbeef;
	assert_int_equal(pw_state_parse(w, &m), 0);
	return m;
}

static void test_state_parse_words(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("established"), B(ESTABLISHED));
	assert_int_equal(parse_ok("ESTAB"), B(ESTABLISHED));
	assert_int_equal(parse_ok("Established"), B(ESTABLISHED));
	assert_int_equal(parse_ok("syn-sent"), B(SYN_SENT));
	assert_int_equal(parse_ok("syn-recv"), B(SYN_RECV) | B(NEW_SYN_RECV));
	assert_int_equal(parse_ok("SYN-RCV"), B(SYN_RECV) | B(NEW_SYN_RECV));
	assert_int_equal(parse_ok("new-syn-recv"), B(NEW_SYN_RECV));
	assert_int_equal(parse_ok("fin-wait-1"), B(FIN_WAIT1));
	assert_int_equal(parse_ok("fin-wait-2"), B(FIN_WAIT2));
	assert_int_equal(parse_ok("time-wait"), B(TIME_WAIT));
	assert_int_equal(parse_ok("TIME-WAIT"), B(TIME_WAIT));
	assert_int_equal(parse_ok("unconn"), B(CLOSE));
	assert_int_equal(parse_ok("unconnected"), B(CLOSE));
	assert_int_equal(parse_ok("close"), B(CLOSE));
	assert_int_equal(parse_ok("closed"), B(CLOSE));
	assert_int_equal(parse_ok("close-wait"), B(CLOSE_WAIT));
	assert_int_equal(parse_ok("last-ack"), B(LAST_ACK));
	assert_int_equal(parse_ok("listen"), B(LISTEN));
	assert_int_equal(parse_ok("listening"), B(LISTEN));
	assert_int_equal(parse_ok("LISTEN"), B(LISTEN));
	assert_int_equal(parse_ok("closing"), B(CLOSING));
	assert_int_equal(parse_ok("bound"), B(BOUND_INACTIVE));
	assert_int_equal(parse_ok("bound-inactive"), B(BOUND_INACTIVE));
	assert_int_equal(parse_ok("BOUND"), B(BOUND_INACTIVE));
}

static void test_state_parse_groups(void **state)
{
	(void)state;
	uint32_t all = B(ESTABLISHED) | B(SYN_SENT) | B(SYN_RECV) | B(FIN_WAIT1) | B(FIN_WAIT2) |
		       B(TIME_WAIT) | B(CLOSE) | B(CLOSE_WAIT) | B(LAST_ACK) | B(LISTEN) |
		       B(CLOSING) | B(NEW_SYN_RECV) | B(BOUND_INACTIVE);
	assert_int_equal(all, PW_STATES_ALL);
	assert_int_equal(parse_ok("all"), all);
	assert_int_equal(parse_ok("ALL"), all);
	/* ss: connected = everything but listening and closed */
	assert_int_equal(parse_ok("connected"), B(ESTABLISHED) | B(SYN_SENT) | B(SYN_RECV) |
						    B(FIN_WAIT1) | B(FIN_WAIT2) | B(TIME_WAIT) |
						    B(CLOSE_WAIT) | B(LAST_ACK) | B(CLOSING) |
						    B(NEW_SYN_RECV));
	assert_int_equal(parse_ok("synchronized"), B(ESTABLISHED) | B(SYN_RECV) | B(FIN_WAIT1) |
						       B(FIN_WAIT2) | B(TIME_WAIT) | B(CLOSE_WAIT) |
						       B(LAST_ACK) | B(CLOSING) | B(NEW_SYN_RECV));
	assert_int_equal(parse_ok("bucket"), B(SYN_RECV) | B(NEW_SYN_RECV) | B(TIME_WAIT));
	assert_int_equal(parse_ok("big"), B(ESTABLISHED) | B(SYN_SENT) | B(FIN_WAIT1) |
					      B(FIN_WAIT2) | B(CLOSE) | B(CLOSE_WAIT) |
					      B(LAST_ACK) | B(LISTEN) | B(CLOSING) |
					      B(BOUND_INACTIVE));
	assert_int_equal(parse_ok("bucket") | parse_ok("big"), all);
}

static void test_state_parse_lists(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("listen,estab"), B(LISTEN) | B(ESTABLISHED));
	assert_int_equal(parse_ok("LISTEN,unconn,bound"), B(LISTEN) | B(CLOSE) | B(BOUND_INACTIVE));
	assert_int_equal(parse_ok("time-wait,time-wait"), B(TIME_WAIT));
	assert_int_equal(parse_ok("bucket,listen"),
			 B(SYN_RECV) | B(NEW_SYN_RECV) | B(TIME_WAIT) | B(LISTEN));
}

static void test_state_parse_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",		",",	     "listen,",	     ",listen",	     "listen,,estab", "foo",
	    "listen ",	" listen",   "listen;estab", "established2", "estab-",	      "syn",
	    "fin-wait", "time_wait", "unknown",	     "connected,x",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint32_t m = 0x1234;
		assert_int_equal(pw_state_parse(bad[i], &m), -EINVAL);
		assert_int_equal(m, 0x1234); /* untouched on failure */
	}
	uint32_t m = 0x1234;
	assert_int_equal(pw_state_parse(NULL, &m), -EINVAL);
}

static void test_proto_names(void **state)
{
	(void)state;
	assert_string_equal(pw_proto_name(IPPROTO_TCP), "tcp");
	assert_string_equal(pw_proto_name(IPPROTO_UDP), "udp");
	assert_string_equal(pw_proto_name(IPPROTO_UDPLITE), "udplite");
	assert_null(pw_proto_name(IPPROTO_SCTP));
	assert_null(pw_proto_name(0));
}

static void test_reason_names(void **state)
{
	(void)state;
	static const char *const want[PW_R_MAX] = {
	    [PW_R_SINGLE] = "single",
	    [PW_R_FORKED] = "forked",
	    [PW_R_SOCKET_ACTIVATION] = "socket-activation",
	    [PW_R_PASSED] = "passed",
	    [PW_R_REUSEPORT] = "reuseport",
	    [PW_R_REUSEADDR_DUPLICATE] = "reuseaddr-duplicate",
	    [PW_R_ADDRESS_SPLIT] = "address-split",
	    [PW_R_FAMILY_SPLIT] = "family-split",
	    [PW_R_KERNEL] = "kernel",
	    [PW_R_HIDDEN] = "hidden",
	    [PW_R_CONNECTIONS] = "connections",
	    [PW_R_UNHELD] = "unheld",
	    [PW_R_FORWARDED] = "forwarded",
	};
	for (int k = 0; k < PW_R_MAX; k++) {
		assert_non_null(want[k]); /* a new kind needs a name here and in names.c */
		assert_string_equal(pw_reason_kind_name((enum pw_reason_kind)k), want[k]);
	}
	assert_null(pw_reason_kind_name(PW_R_MAX));
	assert_null(pw_reason_kind_name((enum pw_reason_kind) - 1));
}

static void test_confidence_and_opts(void **state)
{
	(void)state;
	assert_string_equal(pw_confidence_name(PW_CONF_INFERRED), "inferred");
	assert_string_equal(pw_confidence_name(PW_CONF_VERIFIED), "verified");
	assert_null(pw_confidence_name((enum pw_confidence)7));
	assert_string_equal(pw_opt_source_name(PW_OPTS_BPF), "bpf");
	assert_string_equal(pw_opt_source_name(PW_OPTS_PROBE), "probe");
	assert_string_equal(pw_opt_source_name(PW_OPTS_INFERRED), "inferred");
	assert_null(pw_opt_source_name(PW_OPTS_UNKNOWN));
	assert_null(pw_opt_source_name((enum pw_opt_source)42));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_state_names),	       cmocka_unit_test(test_state_parse_words),
	    cmocka_unit_test(test_state_parse_groups), cmocka_unit_test(test_state_parse_lists),
	    cmocka_unit_test(test_state_parse_bad),    cmocka_unit_test(test_proto_names),
	    cmocka_unit_test(test_reason_names),       cmocka_unit_test(test_confidence_and_opts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
