/* SPDX-License-Identifier: MIT */
/* libsystemd is opened on first use (sdbus.c), not linked: when the build
 * found it, the runtime library must open and give every call portwho
 * makes, once per process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "internal.h"

static void test_opens_once(void **state)
{
	(void)state;
#if HAVE_LIBSYSTEMD
	const struct pw_sdbus *a = pw_sdbus();
	assert_non_null(a);
	assert_non_null(a->open_system);
	assert_non_null(a->open_user);
	assert_non_null(a->call_method);
	assert_non_null(a->get_property);
	assert_non_null(a->message_enter_container);
	assert_non_null(a->message_read);
	assert_non_null(a->message_unref);
	assert_non_null(a->error_free);
	assert_non_null(a->error_has_name);
	assert_non_null(a->flush_close_unref);
	assert_ptr_equal(pw_sdbus(), a);
	/* a call through the table works: an error struct is freed */
	sd_bus_error e = SD_BUS_ERROR_NULL;
	a->error_free(&e);
	assert_false(a->error_has_name(&e, "org.example.None"));
#else
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_opens_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
