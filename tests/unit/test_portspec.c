/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "internal.h"

static struct pw_services *sv; /* tests/fixtures/services */

static int setup(void **state)
{
	(void)state;
	return pw_services_load(FIXTURES "/services", &sv) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	pw_services_free(sv);
	return 0;
}

#define T PW_PROTO_TCP
#define U PW_PROTO_UDP
#define L PW_PROTO_UDPLITE

static void test_good(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		unsigned protos;
		uint16_t lo, hi;
		const char *addr; /* NULL: no address */
	} t[] = {
	    {"53", 0, 53, 53, NULL},
	    {"0", 0, 0, 0, NULL},
	    {"65535", 0, 65535, 65535, NULL},
	    {"00080", 0, 80, 80, NULL},
	    {"53/udp", U, 53, 53, NULL},
	    {"53/UDP", U, 53, 53, NULL},
	    {"udp/53", U, 53, 53, NULL},
	    {"tcp/53", T, 53, 53, NULL},
	    {"udplite/53", L, 53, 53, NULL},
	    {"53/udplite", L, 53, 53, NULL},
	    {"tcp:8080", T, 8080, 8080, NULL},
	    {"UDP:53", U, 53, 53, NULL},
	    {":http", 0, 80, 80, NULL},
	    {":80", 0, 80, 80, NULL},
	    {"http", 0, 80, 80, NULL},
	    {"www", 0, 80, 80, NULL},
	    {"HTTP", 0, 80, 80, NULL},
	    {"http/tcp", T, 80, 80, NULL},
	    {"tcp/http", T, 80, 80, NULL},
	    {"tcp:http", T, 80, 80, NULL},
	    {"ntp/tcp", T, 123, 123, NULL}, /* only a udp entry: the number still applies */
	    {"split/udp", U, 5001, 5001, NULL},
	    {"split/tcp", T, 5000, 5000, NULL},
	    {"split", 0, 5000, 5000, NULL},
	    {"split/udplite", L, 5001, 5001, NULL},
	    {"9pfs", 0, 564, 564, NULL},
	    {"http-alt", 0, 8080, 8080, NULL},
	    {"8000-8100", 0, 8000, 8100, NULL},
	    {"80-80", 0, 80, 80, NULL},
	    {"0-65535", 0, 0, 65535, NULL},
	    {"8000-8100/tcp", T, 8000, 8100, NULL},
	    {"udp/8000-8100", U, 8000, 8100, NULL},
	    {"127.0.0.1:25", 0, 25, 25, "127.0.0.1"},
	    {"0.0.0.0:25", 0, 25, 25, "0.0.0.0"},
	    {"127.0.0.1:smtp", 0, 25, 25, "127.0.0.1"},
	    {"127.0.0.1:1000-2000", 0, 1000, 2000, "127.0.0.1"},
	    {"127.0.0.1:25/tcp", T, 25, 25, "127.0.0.1"},
	    {"tcp:127.0.0.1:25", T, 25, 25, "127.0.0.1"},
	    {"tcp/127.0.0.1:25", T, 25, 25, "127.0.0.1"},
	    {"[::1]:53", 0, 53, 53, "::1"},
	    {"[::]:53", 0, 53, 53, "::"},
	    {"[::ffff:127.0.0.1]:53", 0, 53, 53, "::ffff:127.0.0.1"},
	    {"[2001:db8::1]:domain", 0, 53, 53, "2001:db8::1"},
	    {"[::1]:53/udp", U, 53, 53, "::1"},
	    {"udp/[::1]:53", U, 53, 53, "::1"},
	    {"udp:[::1]:53", U, 53, 53, "::1"},
	    {"tcp/:80", T, 80, 80, NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct pw_portspec spec;
		char err[128] = "unchanged";
		if (pw_portspec_parse(t[i].in, sv, &spec, err, sizeof(err)) != 0)
			fail_msg("\"%s\" was refused: %s", t[i].in, err);
		assert_int_equal(spec.protos, t[i].protos);
		assert_int_equal(spec.lo, t[i].lo);
		assert_int_equal(spec.hi, t[i].hi);
		assert_int_equal(spec.has_addr, t[i].addr != NULL);
		if (t[i].addr) {
			struct pw_addr a;
			assert_int_equal(pw_addr_parse(t[i].addr, &a), 0);
			assert_int_equal(spec.addr.family, a.family);
			assert_memory_equal(spec.addr.bytes, a.bytes, 16);
		}
	}
}

static void test_bad(void **state)
{
	(void)state;
	static const struct {
		const char *in, *msg;
	} t[] = {
	    {"", "empty port specification"},
	    {"70000", "port 70000 is out of range (0-65535)"},
	    {"65536", "port 65536 is out of range (0-65535)"},
	    {"99999999999999999999", "port 99999999999999999999 is out of range (0-65535)"},
	    {"000080", "port 000080 has more than 5 digits"},
	    {"1-70000", "port 70000 is out of range (0-65535)"},
	    {"sctpx/53", "unknown protocol \"sctpx\" (use tcp, udp or udplite)"},
	    {"53/sctpx", "unknown protocol \"sctpx\" (use tcp, udp or udplite)"},
	    {"http/sctp", "unknown protocol \"sctp\" (use tcp, udp or udplite)"},
	    {"sctp/http", "unknown protocol \"sctp\" (use tcp, udp or udplite)"},
	    {"53/80", "unknown protocol \"80\" (use tcp, udp or udplite)"},
	    {"90-80", "range \"90-80\" is reversed"},
	    {"abc-", "\"abc-\" is not a port, range or service name"},
	    {"80-", "\"80-\" is not a port, range or service name"},
	    {"-80", "\"-80\" is not a port, range or service name"},
	    {"-1", "\"-1\" is not a port, range or service name"},
	    {"+80", "\"+80\" is not a port, range or service name"},
	    {"80x", "\"80x\" is not a port, range or service name"},
	    {"80-90-100", "\"80-90-100\" is not a port, range or service name"},
	    {"1.5", "\"1.5\" is not a port, range or service name"},
	    {"http_", "unknown service \"http_\""},
	    {"foo", "unknown service \"foo\""},
	    {"http-https", "unknown service \"http-https\""},
	    {"tcp/foo", "unknown service \"foo\""},
	    {"1.2.3.4.5:80", "bad address \"1.2.3.4.5\""},
	    {"localhost:80", "bad address \"localhost\""},
	    {"300.1.1.1:80", "bad address \"300.1.1.1\""},
	    {"1.2.3.4", "missing port after address \"1.2.3.4\""},
	    {"[::1", "unclosed \"[\" in \"[::1\""},
	    {"[::1:53", "unclosed \"[\" in \"[::1:53\""},
	    {"[::1]", "missing port in \"[::1]\""},
	    {"[::1]:", "missing port in \"[::1]:\""},
	    {"[::1]53", "unexpected \"53\" after \"]\" in \"[::1]53\""},
	    {"[]:53", "missing address between \"[\" and \"]\" in \"[]:53\""},
	    {"[::g]:53", "bad address \"::g\""},
	    {"[1.2.3.4]:53", "bad address \"[1.2.3.4]\" (brackets are only for IPv6)"},
	    {"[fe80::1%eth0]:53", "bad address \"fe80::1%eth0\" (zone indexes are not supported)"},
	    {"::1:53", "IPv6 address in \"::1:53\" needs brackets, as in [::1]:53"},
	    {"::1", "IPv6 address in \"::1\" needs brackets, as in [::1]:53"},
	    {":", "missing port in \":\""},
	    {"127.0.0.1:", "missing port in \"127.0.0.1:\""},
	    {"tcp/", "missing port in \"tcp/\""},
	    {"tcp:", "missing port in \"tcp:\""},
	    {"/udp", "missing port in \"/udp\""},
	    {"tcp", "missing port after protocol \"tcp\""},
	    {"udplite", "missing port after protocol \"udplite\""},
	    {"53/", "missing protocol after \"/\" in \"53/\""},
	    {"tcp/53/udp", "protocol given twice in \"tcp/53/udp\""},
	    {"tcp:53/tcp", "protocol given twice in \"tcp:53/tcp\""},
	    {"53/tcp/udp", "too many \"/\" in \"53/tcp/udp\""},
	    {"tcp/53/x", "too many \"/\" in \"tcp/53/x\""},
	    {" 80", "unexpected space in \" 80\""},
	    {"80 ", "unexpected space in \"80 \""},
	    {"80 /tcp", "unexpected space in \"80 /tcp\""},
	    {"80\t", "control or non-ASCII character in port specification"},
	    {"80\n", "control or non-ASCII character in port specification"},
	    {"\x1b[2J80", "control or non-ASCII character in port specification"},
	    {"8\xc3\xa9", "control or non-ASCII character in port specification"},
	    {"[::1]:53%eth0", "\"53%eth0\" is not a port, range or service name"},
	    {"127.0.0.1:25:25", "IPv6 address in \"127.0.0.1:25:25\" needs brackets, as in "
				"[::1]:53"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct pw_portspec spec = {.lo = 4242};
		char err[160] = "";
		int r = pw_portspec_parse(t[i].in, sv, &spec, err, sizeof(err));
		if (r != -EINVAL || strcmp(err, t[i].msg) != 0) {
			char *in = pw_escape_text(t[i].in); /* some inputs hold escape codes */
			fail_msg("\"%s\": got %d \"%s\", want \"%s\"", in, r, err, t[i].msg);
		}
		assert_int_equal(spec.lo, 4242); /* untouched on failure */
	}
}

static void test_edges(void **state)
{
	(void)state;
	struct pw_portspec spec;
	char err[128];

	/* without a services table only numbers work */
	assert_int_equal(pw_portspec_parse("80/tcp", NULL, &spec, err, sizeof(err)), 0);
	assert_int_equal(spec.lo, 80);
	assert_int_equal(pw_portspec_parse("http", NULL, &spec, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "\"http\" is not a port number (service names are unavailable)");
	assert_int_equal(pw_portspec_parse("sctpx/53", NULL, &spec, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown protocol \"sctpx\" (use tcp, udp or udplite)");

	/* errbuf is optional, and a short one is cut, still terminated */
	assert_int_equal(pw_portspec_parse("70000", sv, &spec, NULL, 0), -EINVAL);
	char tiny[8];
	assert_int_equal(pw_portspec_parse("70000", sv, &spec, tiny, sizeof(tiny)), -EINVAL);
	assert_string_equal(tiny, "port 70");
	assert_int_equal(pw_portspec_parse(NULL, sv, &spec, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "empty port specification");

	/* overlong input */
	char longs[300];
	memset(longs, '1', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	assert_int_equal(pw_portspec_parse(longs, sv, &spec, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "port specification is longer than 255 characters");

	/* success clears errbuf */
	strcpy(err, "stale");
	assert_int_equal(pw_portspec_parse("22", sv, &spec, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

static struct pw_portspec spec_of(const char *s)
{
	struct pw_portspec spec;
	char err[128];
	assert_int_equal(pw_portspec_parse(s, sv, &spec, err, sizeof(err)), 0);
	return spec;
}

static bool m(const char *spec, uint8_t proto, const char *addr, uint16_t port, bool v6only)
{
	struct pw_portspec sp = spec_of(spec);
	struct pw_addr a;
	assert_int_equal(pw_addr_parse(addr, &a), 0);
	return pw_portspec_match(&sp, proto, &a, port, v6only);
}

static void test_match_ports_protos(void **state)
{
	(void)state;
	assert_true(m("53", IPPROTO_UDP, "0.0.0.0", 53, false));
	assert_true(m("53", IPPROTO_TCP, "10.0.0.1", 53, false));
	assert_true(m("53", IPPROTO_UDPLITE, "::", 53, true));
	assert_false(m("53", IPPROTO_UDP, "0.0.0.0", 54, false));
	assert_true(m("53/udp", IPPROTO_UDP, "0.0.0.0", 53, false));
	assert_false(m("53/udp", IPPROTO_TCP, "0.0.0.0", 53, false));
	assert_false(m("53/udp", IPPROTO_UDPLITE, "0.0.0.0", 53, false));
	assert_true(m("udplite/53", IPPROTO_UDPLITE, "0.0.0.0", 53, false));
	assert_false(m("tcp/53", 0, "0.0.0.0", 53, false)); /* unknown protocol */
	assert_true(m("8000-8100", IPPROTO_TCP, "0.0.0.0", 8000, false));
	assert_true(m("8000-8100", IPPROTO_TCP, "0.0.0.0", 8100, false));
	assert_false(m("8000-8100", IPPROTO_TCP, "0.0.0.0", 7999, false));
	assert_false(m("8000-8100", IPPROTO_TCP, "0.0.0.0", 8101, false));
	assert_true(m("0-65535", IPPROTO_TCP, "::1", 65535, false));
}

static void test_match_addresses(void **state)
{
	(void)state;
	/* exact addresses */
	assert_true(m("127.0.0.1:25", IPPROTO_TCP, "127.0.0.1", 25, false));
	assert_false(m("127.0.0.1:25", IPPROTO_TCP, "127.0.0.2", 25, false));
	assert_false(m("127.0.0.1:25", IPPROTO_TCP, "127.0.0.1", 26, false));
	assert_true(m("[::1]:53", IPPROTO_UDP, "::1", 53, true));
	assert_false(m("[::1]:53", IPPROTO_UDP, "::2", 53, true));
	assert_false(m("[::1]:53", IPPROTO_UDP, "127.0.0.1", 53, false));

	/* a wildcard socket receives for every address of its family */
	assert_true(m("127.0.0.1:25", IPPROTO_TCP, "0.0.0.0", 25, false));
	assert_true(m("[::1]:53", IPPROTO_UDP, "::", 53, true));
	assert_true(m("[::1]:53", IPPROTO_UDP, "::", 53, false));
	assert_false(m("[::1]:53", IPPROTO_UDP, "0.0.0.0", 53, false));
	/* ... and a dual-stack [::] socket for IPv4 too, a v6only one not */
	assert_true(m("127.0.0.1:25", IPPROTO_TCP, "::", 25, false));
	assert_false(m("127.0.0.1:25", IPPROTO_TCP, "::", 25, true));

	/* v4-mapped socket addresses compare as IPv4, either way round */
	assert_true(m("127.0.0.1:80", IPPROTO_TCP, "::ffff:127.0.0.1", 80, false));
	assert_false(m("127.0.0.1:80", IPPROTO_TCP, "::ffff:127.0.0.2", 80, false));
	assert_true(m("[::ffff:127.0.0.1]:80", IPPROTO_TCP, "127.0.0.1", 80, false));
	assert_true(m("[::ffff:127.0.0.1]:80", IPPROTO_TCP, "0.0.0.0", 80, false));
	assert_true(m("[::ffff:127.0.0.1]:80", IPPROTO_TCP, "::", 80, false));
	assert_false(m("[::ffff:127.0.0.1]:80", IPPROTO_TCP, "::", 80, true));
	assert_false(m("[::1]:80", IPPROTO_TCP, "::ffff:0.0.0.1", 80, false));

	/* a wildcard spec address asks for every socket of its family */
	assert_true(m("0.0.0.0:80", IPPROTO_TCP, "10.1.2.3", 80, false));
	assert_true(m("0.0.0.0:80", IPPROTO_TCP, "0.0.0.0", 80, false));
	assert_true(m("0.0.0.0:80", IPPROTO_TCP, "::ffff:10.1.2.3", 80, false));
	assert_true(m("0.0.0.0:80", IPPROTO_TCP, "::", 80, false));
	assert_false(m("0.0.0.0:80", IPPROTO_TCP, "::", 80, true));
	assert_false(m("0.0.0.0:80", IPPROTO_TCP, "::1", 80, false));
	assert_true(m("[::]:80", IPPROTO_TCP, "::1", 80, false));
	assert_false(m("[::]:80", IPPROTO_TCP, "127.0.0.1", 80, false));
	assert_false(m("[::]:80", IPPROTO_TCP, "0.0.0.0", 80, false));

	/* no address in the spec: everything */
	assert_true(m("80", IPPROTO_TCP, "fe80::1", 80, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_edges),
	    cmocka_unit_test(test_match_ports_protos),
	    cmocka_unit_test(test_match_addresses),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
