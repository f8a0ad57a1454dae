/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"

static bool bit(const uint8_t *bm, unsigned port)
{
	return bm[port / 8] & (1u << (port % 8));
}

static unsigned count_bits(const uint8_t *bm)
{
	unsigned n = 0;
	for (unsigned p = 0; p < 65536; p++)
		n += bit(bm, p);
	return n;
}

static void test_classify_defaults(void **state)
{
	(void)state;
	struct pw_port_class c;
	pw_port_classify(NULL, 0, &c);
	assert_string_equal(c.iana, "system");
	assert_true(c.privileged);
	pw_port_classify(NULL, 1023, &c);
	assert_string_equal(c.iana, "system");
	assert_true(c.privileged);
	assert_false(c.ephemeral);
	assert_false(c.reserved);
	pw_port_classify(NULL, 1024, &c);
	assert_string_equal(c.iana, "user");
	assert_false(c.privileged);
	pw_port_classify(NULL, 32767, &c);
	assert_false(c.ephemeral);
	pw_port_classify(NULL, 32768, &c);
	assert_true(c.ephemeral);
	pw_port_classify(NULL, 49151, &c);
	assert_string_equal(c.iana, "user");
	pw_port_classify(NULL, 49152, &c);
	assert_string_equal(c.iana, "dynamic");
	pw_port_classify(NULL, 60999, &c);
	assert_true(c.ephemeral);
	pw_port_classify(NULL, 61000, &c);
	assert_false(c.ephemeral);
	pw_port_classify(NULL, 65535, &c);
	assert_string_equal(c.iana, "dynamic");
	assert_false(c.privileged);
	assert_false(c.ephemeral);
}

static void test_classify_custom(void **state)
{
	(void)state;
	struct pw_netns_sysctl sys = {.unprivileged_port_start = 0, .local_lo = 1, .local_hi = 1};
	sys.reserved[65535 / 8] |= 0x80;
	struct pw_port_class c;
	pw_port_classify(&sys, 0, &c);
	assert_false(c.privileged); /* start 0: nobody needs CAP_NET_BIND_SERVICE */
	assert_false(c.ephemeral);
	pw_port_classify(&sys, 1, &c);
	assert_true(c.ephemeral);
	pw_port_classify(&sys, 65535, &c);
	assert_true(c.reserved);
	pw_port_classify(&sys, 65534, &c);
	assert_false(c.reserved);
}

static void test_read_custom(void **state)
{
	(void)state;
	struct pw_netns_sysctl sys;
	assert_int_equal(pw_netns_sysctl_read(FIXTURES "/sysctl/custom", &sys), 0);
	assert_int_equal(sys.unprivileged_port_start, 80);
	assert_int_equal(sys.local_lo, 10000);
	assert_int_equal(sys.local_hi, 20000);
	assert_int_equal(count_bits(sys.reserved), 5);
	assert_true(bit(sys.reserved, 8080));
	assert_true(bit(sys.reserved, 9000));
	assert_true(bit(sys.reserved, 9001));
	assert_true(bit(sys.reserved, 9002));
	assert_true(bit(sys.reserved, 65535));

	struct pw_port_class c;
	pw_port_classify(&sys, 79, &c);
	assert_true(c.privileged);
	pw_port_classify(&sys, 80, &c);
	assert_false(c.privileged);
	assert_string_equal(c.iana, "system");
	pw_port_classify(&sys, 9001, &c);
	assert_true(c.reserved);
	assert_false(c.ephemeral);
	pw_port_classify(&sys, 20000, &c);
	assert_true(c.ephemeral);
}

static void test_read_partial_and_missing(void **state)
{
	(void)state;
	struct pw_netns_sysctl sys;
	/* only the range file exists; the reserved list is an empty line */
	assert_int_equal(pw_netns_sysctl_read(FIXTURES "/sysctl/partial", &sys), 0);
	assert_int_equal(sys.unprivileged_port_start, 1024);
	assert_int_equal(sys.local_lo, 1024);
	assert_int_equal(sys.local_hi, 65000);
	assert_int_equal(count_bits(sys.reserved), 0);

	memset(&sys, 0xaa, sizeof(sys));
	assert_int_equal(pw_netns_sysctl_read(FIXTURES "/sysctl/does-not-exist", &sys), 0);
	assert_int_equal(sys.unprivileged_port_start, 1024);
	assert_int_equal(sys.local_lo, 32768);
	assert_int_equal(sys.local_hi, 60999);
	assert_int_equal(count_bits(sys.reserved), 0);
}

static void test_read_bad(void **state)
{
	(void)state;
	struct pw_netns_sysctl sys = {.unprivileged_port_start = 4242};
	/* a reversed range cannot come from the kernel: refuse it */
	assert_int_equal(pw_netns_sysctl_read(FIXTURES "/sysctl/bad", &sys), -EINVAL);
	assert_int_equal(sys.unprivileged_port_start, 4242); /* untouched */
	assert_int_equal(pw_netns_sysctl_read(FIXTURES "/services", &sys), -ENOTDIR);
}

static void test_read_real(void **state)
{
	(void)state;
	struct pw_netns_sysctl sys;
	/* whatever this machine says, it must parse */
	assert_int_equal(pw_netns_sysctl_read(NULL, &sys), 0);
	assert_true(sys.local_lo <= sys.local_hi);
}

static void test_port_list(void **state)
{
	(void)state;
	static uint8_t bm[65536 / 8];

	assert_int_equal(pw_parse_port_list("1,2-5,7", bm), 0);
	assert_int_equal(count_bits(bm), 6);
	assert_true(bit(bm, 1) && bit(bm, 2) && bit(bm, 5) && bit(bm, 7));
	assert_false(bit(bm, 0) || bit(bm, 6) || bit(bm, 8));

	/* the previous contents are replaced, not merged */
	assert_int_equal(pw_parse_port_list("\n", bm), 0);
	assert_int_equal(count_bits(bm), 0);
	assert_int_equal(pw_parse_port_list("", bm), 0);
	assert_int_equal(pw_parse_port_list("0-65535\n", bm), 0);
	assert_int_equal(count_bits(bm), 65536);
	assert_int_equal(pw_parse_port_list("8080", bm), 0);
	assert_int_equal(count_bits(bm), 1);
	assert_int_equal(pw_parse_port_list("5-5,3-4\n", bm), 0);
	assert_int_equal(count_bits(bm), 3);

	static const char *const bad[] = {
	    "65536", "1,", ",1", "1,,2", "5-3",
	    "1-",    "-1", "a",	 "1 2",	 "1;2",
	    "1-2-3", "+1", " 1", "1,x",	 "99999999999999999999",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(pw_parse_port_list(bad[i], bm), -EINVAL);
		assert_int_equal(count_bits(bm), 3); /* untouched */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify_defaults),
	    cmocka_unit_test(test_classify_custom),
	    cmocka_unit_test(test_read_custom),
	    cmocka_unit_test(test_read_partial_and_missing),
	    cmocka_unit_test(test_read_bad),
	    cmocka_unit_test(test_read_real),
	    cmocka_unit_test(test_port_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
