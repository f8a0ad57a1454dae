/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/socket.h>

#include "internal.h"

static struct pw_addr addr(const char *s)
{
	struct pw_addr a;
	assert_int_equal(pw_addr_parse(s, &a), 0);
	return a;
}

static void test_parse(void **state)
{
	(void)state;
	struct pw_addr a = addr("127.0.0.1");
	const uint8_t lo4[16] = {127, 0, 0, 1};
	assert_int_equal(a.family, AF_INET);
	assert_memory_equal(a.bytes, lo4, 16); /* the unused 12 bytes are zero */

	a = addr("::1");
	const uint8_t lo6[16] = {[15] = 1};
	assert_int_equal(a.family, AF_INET6);
	assert_memory_equal(a.bytes, lo6, 16);

	a = addr("::ffff:10.1.2.3");
	const uint8_t m[16] = {[10] = 0xff, [11] = 0xff, [12] = 10, [13] = 1, [14] = 2, [15] = 3};
	assert_int_equal(a.family, AF_INET6);
	assert_memory_equal(a.bytes, m, 16);

	a = addr("2001:DB8::A");
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.bytes[0], 0x20);
	assert_int_equal(a.bytes[15], 0x0a);

	static const char *const bad[] = {
	    "",		"1.2.3",     "1.2.3.4.5",    "256.1.1.1", " 1.2.3.4",
	    "1.2.3.4 ", "localhost", "fe80::1%eth0", "[::1]",	  "1.2.3.4:80",
	    ":::",	"1::2::3",   "0x7f.0.0.1",   "-1.2.3.4",  "12345::",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct pw_addr b = {.family = 99};
		assert_int_equal(pw_addr_parse(bad[i], &b), -EINVAL);
		assert_int_equal(b.family, 99); /* untouched */
	}
	assert_int_equal(pw_addr_parse(NULL, &a), -EINVAL);
}

static void test_any_and_mapped(void **state)
{
	(void)state;
	struct pw_addr a = addr("0.0.0.0");
	assert_true(pw_addr_is_any(&a));
	assert_false(pw_addr_is_v4mapped(&a));
	a = addr("::");
	assert_true(pw_addr_is_any(&a));
	assert_false(pw_addr_is_v4mapped(&a));
	a = addr("0.0.0.1");
	assert_false(pw_addr_is_any(&a));
	a = addr("::1");
	assert_false(pw_addr_is_any(&a));
	a = addr("::ffff:127.0.0.1");
	assert_false(pw_addr_is_any(&a));
	assert_true(pw_addr_is_v4mapped(&a));
	a = addr("::ffff:0.0.0.0");
	assert_true(pw_addr_is_v4mapped(&a));
	assert_false(pw_addr_is_any(&a));
	a = addr("::127.0.0.1"); /* deprecated v4-compatible form, not mapped */
	assert_false(pw_addr_is_v4mapped(&a));

	/* garbage beyond an IPv4 address's 4 bytes does not matter */
	struct pw_addr b = {.family = AF_INET, .bytes = {0, 0, 0, 0, 1, 2, 3}};
	assert_true(pw_addr_is_any(&b));
	struct pw_addr none = {0};
	assert_false(pw_addr_is_any(&none));
	assert_false(pw_addr_is_v4mapped(&none));
}

static void fmt_is(const char *in, bool star, const char *want)
{
	char buf[64];
	struct pw_addr a = addr(in);
	assert_int_equal(pw_addr_format(&a, star, buf, sizeof(buf)), strlen(want));
	assert_string_equal(buf, want);
}

static void test_format(void **state)
{
	(void)state;
	fmt_is("127.0.0.1", false, "127.0.0.1");
	fmt_is("127.0.0.1", true, "127.0.0.1");
	fmt_is("0.0.0.0", false, "0.0.0.0");
	fmt_is("0.0.0.0", true, "*");
	fmt_is("::", false, "::");
	fmt_is("::", true, "*");
	fmt_is("::1", true, "::1");
	fmt_is("2001:db8:0:0:0:0:0:1", false, "2001:db8::1");
	fmt_is("::ffff:127.0.0.1", true, "::ffff:127.0.0.1");

	/* exact fit and one byte short */
	struct pw_addr a = addr("10.0.0.1");
	char buf[9];
	assert_int_equal(pw_addr_format(&a, false, buf, 9), 8);
	assert_string_equal(buf, "10.0.0.1");
	assert_int_equal(pw_addr_format(&a, false, buf, 8), -ENOSPC);
	assert_int_equal(pw_addr_format(&a, true, NULL, 0), -ENOSPC);
	a = addr("::");
	assert_int_equal(pw_addr_format(&a, true, buf, 2), 1);
	assert_int_equal(pw_addr_format(&a, true, buf, 1), -ENOSPC);

	struct pw_addr bad = {.family = 99};
	assert_int_equal(pw_addr_format(&bad, false, buf, sizeof(buf)), -EAFNOSUPPORT);
}

static void ep_is(const char *in, uint16_t port, const char *ifname, const char *want)
{
	char buf[80];
	struct pw_addr a = addr(in);
	assert_int_equal(pw_endpoint_format(&a, port, ifname, buf, sizeof(buf)), strlen(want));
	assert_string_equal(buf, want);
}

static void test_endpoint(void **state)
{
	(void)state;
	ep_is("0.0.0.0", 80, NULL, "*:80");
	ep_is("::", 80, NULL, "*:80");
	ep_is("127.0.0.1", 25, NULL, "127.0.0.1:25");
	ep_is("::1", 53, NULL, "[::1]:53");
	ep_is("::ffff:127.0.0.1", 80, NULL, "[::ffff:127.0.0.1]:80");
	ep_is("0.0.0.0", 53, "eth0", "*:53%eth0");
	ep_is("fe80::1", 546, "enp0s31f6", "[fe80::1]:546%enp0s31f6");
	ep_is("10.0.0.1", 0, NULL, "10.0.0.1:0");
	ep_is("255.255.255.255", 65535, NULL, "255.255.255.255:65535");
	ep_is("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, NULL,
	      "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");

	struct pw_addr a = addr("::1");
	char buf[9];
	assert_int_equal(pw_endpoint_format(&a, 53, NULL, buf, 9), 8);
	assert_string_equal(buf, "[::1]:53");
	assert_int_equal(pw_endpoint_format(&a, 53, NULL, buf, 8), -ENOSPC);
	assert_int_equal(pw_endpoint_format(&a, 53, "lo", buf, 9), -ENOSPC);
	struct pw_addr bad = {.family = 99};
	assert_int_equal(pw_endpoint_format(&bad, 1, NULL, buf, sizeof(buf)), -EAFNOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_any_and_mapped),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_endpoint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
