/* SPDX-License-Identifier: MIT */
/* The polling watcher's diff: two snapshots' sockets in, events out. */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "watch-int.h"

static struct pw_watch_event sock(uint64_t netns, uint64_t cookie, uint8_t proto, uint8_t state,
				  uint16_t lport, uint16_t rport, pid_t pid)
{
	struct pw_watch_event e = {
	    .polled = true,
	    .netns = netns,
	    .cookie = cookie,
	    .family = AF_INET,
	    .proto = proto,
	    .state = state,
	    .lport = lport,
	    .rport = rport,
	    .pid = pid,
	};
	e.laddr.family = e.raddr.family = AF_INET;
	snprintf(e.command, sizeof(e.command), "p%d", (int)pid);
	return e;
}

struct out {
	struct pw_watch_event *v;
	size_t n, cap;
};

static void diff(const struct pw_watch_event *old, size_t n_old, const struct pw_watch_event *cur,
		 size_t n_cur, struct out *o)
{
	struct timespec now = {1000, 5};
	*o = (struct out){0};
	assert_int_equal(pw_wpoll_diff(old, n_old, cur, n_cur, &now, &o->v, &o->n, &o->cap), 0);
}

static void test_appeared(void **state)
{
	(void)state;
	struct pw_watch_event cur[] = {
	    sock(1, 10, IPPROTO_TCP, PW_ST_LISTEN, 80, 0, 100),
	    sock(1, 11, IPPROTO_UDP, PW_ST_CLOSE, 53, 0, 101),
	    sock(1, 12, IPPROTO_TCP, PW_ST_BOUND_INACTIVE, 81, 0, 102),
	    sock(1, 13, IPPROTO_TCP, PW_ST_ESTABLISHED, 80, 40000, 100),  /* accepted */
	    sock(1, 14, IPPROTO_TCP, PW_ST_ESTABLISHED, 40001, 443, 103), /* a client */
	    sock(2, 13, IPPROTO_TCP, PW_ST_ESTABLISHED, 80, 40000, 104),  /* no listener in 2 */
	};
	struct out o;
	diff(NULL, 0, cur, 6, &o);
	assert_int_equal(o.n, 6);
	enum pw_watch_kind want[] = {PW_WATCH_LISTEN, PW_WATCH_BIND,	PW_WATCH_BIND,
				     PW_WATCH_ACCEPT, PW_WATCH_CONNECT, PW_WATCH_CONNECT};
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(o.v[i].kind, want[i]);
		assert_int_equal(o.v[i].pid, cur[i].pid);
		assert_true(o.v[i].polled);
	}
	free(o.v);
}

static void test_gone_changed_kept(void **state)
{
	(void)state;
	struct pw_watch_event old[] = {
	    sock(1, 10, IPPROTO_TCP, PW_ST_LISTEN, 80, 0, 100),		/* stays */
	    sock(1, 11, IPPROTO_TCP, PW_ST_BOUND_INACTIVE, 81, 0, 101), /* starts listening */
	    sock(1, 12, IPPROTO_UDP, PW_ST_CLOSE, 53, 0, 102),		/* goes */
	};
	struct pw_watch_event cur[] = {
	    sock(1, 10, IPPROTO_TCP, PW_ST_LISTEN, 80, 0, 100),
	    sock(1, 11, IPPROTO_TCP, PW_ST_LISTEN, 81, 0, 101),
	};
	struct out o;
	diff(old, 3, cur, 2, &o);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.v[0].kind, PW_WATCH_LISTEN);
	assert_int_equal(o.v[0].cookie, 11);
	assert_int_equal(o.v[1].kind, PW_WATCH_CLOSE);
	assert_int_equal(o.v[1].cookie, 12);
	/* the facts of the socket that went, at the time of the poll */
	assert_int_equal(o.v[1].pid, 102);
	assert_string_equal(o.v[1].command, "p102");
	assert_int_equal(o.v[1].state, PW_ST_CLOSE);
	assert_int_equal(o.v[1].time.tv_sec, 1000);
	free(o.v);

	diff(cur, 2, cur, 2, &o); /* nothing changed: nothing to say */
	assert_int_equal(o.n, 0);
	free(o.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_appeared),
	    cmocka_unit_test(test_gone_changed_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
