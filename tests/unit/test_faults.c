/* Faults made pure: a recorded sock_diag dump replayed with NLM_F_DUMP_INTR
 * set (as the kernel marks a dump whose table changed under it), the
 * incomplete list built from what a snapshot missed, and JSON text made
 * safe for a terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdio.h>

#include "internal.h"

/* Replay fixtures/diag/NAME ([u32 length][datagram]...) through the same
 * pw_diag_consume the live dump uses; intr_flag is OR-ed into every message
 * header. Returns what consume returned for the last datagram. */
static int replay(const char *name, uint16_t intr_flag, struct pw_sockvec *out, bool *intr)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/diag/%s", FIXTURES, name);
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(pw_read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len), 0);
	size_t off = 0;
	int r = 0;
	uint32_t seq = 0, portid = 0;
	*intr = false;
	while (off + 4 <= len && r == 0) {
		uint32_t dlen;
		memcpy(&dlen, buf + off, 4);
		off += 4;
		assert_true(off + dlen <= len);
		struct nlmsghdr *nlh = (struct nlmsghdr *)(buf + off);
		int rest = (int)dlen;
		if (off == 4) {
			seq = nlh->nlmsg_seq;
			portid = nlh->nlmsg_pid;
		}
		for (; mnl_nlmsg_ok(nlh, rest); nlh = mnl_nlmsg_next(nlh, &rest))
			nlh->nlmsg_flags |= intr_flag;
		r = pw_diag_consume(buf + off, dlen, seq, portid, IPPROTO_TCP, 0, true, 42, out,
				    intr);
		off += dlen;
	}
	free(buf);
	return r;
}

static void test_dump_replayed(void **state)
{
	(void)state;
	struct pw_sockvec sv = {0};
	bool intr = true;
	assert_int_equal(replay("tcp4-all.bin", 0, &sv, &intr), 1);
	assert_false(intr);
	assert_int_equal(sv.n, 4); /* listener, bound-inactive, client, accepted */
	pw_sockvec_free(&sv);
}

static void test_dump_interrupted(void **state)
{
	(void)state;
	struct pw_sockvec sv = {0};
	bool intr = false;
	/* the same sockets, but the kernel says the table changed meanwhile */
	assert_int_equal(replay("tcp4-all.bin", NLM_F_DUMP_INTR, &sv, &intr), 1);
	assert_true(intr);
	assert_int_equal(sv.n, 4);
	pw_sockvec_free(&sv);
}

static void test_dump_stale_reply_ignored(void **state)
{
	(void)state;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_flags = NLM_F_MULTI | NLM_F_DUMP_INTR;
	nlh->nlmsg_seq = 7;
	nlh->nlmsg_pid = 99;
	mnl_nlmsg_put_extra_header(nlh, sizeof(int));
	struct pw_sockvec sv = {0};
	bool intr = false;
	/* another request's DONE (seq 7) neither ends ours nor marks it */
	assert_int_equal(
	    pw_diag_consume(buf, nlh->nlmsg_len, 8, 99, IPPROTO_TCP, 0, false, 1, &sv, &intr), 0);
	assert_false(intr);
	assert_int_equal(
	    pw_diag_consume(buf, nlh->nlmsg_len, 7, 99, IPPROTO_TCP, 0, false, 1, &sv, &intr), 1);
	assert_true(intr);
	assert_int_equal(sv.n, 0);
	pw_sockvec_free(&sv);
}

static const struct pw_incomplete *find_kind(const struct pw_snapshot *snap,
					     enum pw_incomplete_kind k)
{
	for (size_t i = 0; i < pw_snapshot_n_incomplete(snap); i++)
		if (pw_snapshot_incomplete(snap, i)->kind == k)
			return pw_snapshot_incomplete(snap, i);
	return NULL;
}

static void test_incomplete_empty(void **state)
{
	(void)state;
	struct pw_snapshot *snap = calloc(1, sizeof(*snap));
	assert_non_null(snap);
	snap->stats.privileged = true;
	pw_incomplete_build(snap);
	assert_int_equal(pw_snapshot_n_incomplete(snap), 0);
	assert_null(pw_snapshot_incomplete(snap, 0));
	free(snap);
}

static void test_incomplete_kinds(void **state)
{
	(void)state;
	struct pw_snapshot *snap = calloc(1, sizeof(*snap));
	assert_non_null(snap);
	struct pw_stats *st = &snap->stats;
	st->privileged = false;
	st->hidepid = 2;
	st->hidepid_processes = 3;
	st->fd_limit_processes = 5;
	st->hidden_processes = 2 + 3 + 5; /* 2 refused, 3 invisible, 5 out of fds */
	st->netns_skipped = 1;
	st->netns_skipped_fd_limit = 1;
	st->dumps_interrupted = 2;
	st->cmdline_truncated = 1;
	pw_incomplete_build(snap);
	assert_int_equal(pw_snapshot_n_incomplete(snap), 6);
	const struct pw_incomplete *i = find_kind(snap, PW_INC_NOT_ROOT);
	assert_non_null(i);
	assert_int_equal(i->count, 2);
	assert_int_equal(find_kind(snap, PW_INC_HIDEPID)->count, 3);
	assert_int_equal(find_kind(snap, PW_INC_FD_LIMIT)->count, 5);
	assert_int_equal(find_kind(snap, PW_INC_NAMESPACE_SKIPPED)->count, 1);
	assert_int_equal(find_kind(snap, PW_INC_DUMP_INTERRUPTED)->count, 2);
	assert_int_equal(find_kind(snap, PW_INC_CMDLINE_TRUNCATED)->count, 1);
	assert_null(find_kind(snap, PW_INC_PROTECTED)); /* not root: not-root, not protected */
	assert_string_equal(find_kind(snap, PW_INC_HIDEPID)->detail,
			    "/proc is mounted hidepid=2: 3 processes (kernel threads included) "
			    "are not listed for this user");
	assert_string_equal(find_kind(snap, PW_INC_NAMESPACE_SKIPPED)->detail,
			    "1 network namespace could not be entered (1 for want of file "
			    "descriptors); its sockets are not listed");
	assert_string_equal(pw_incomplete_kind_name(PW_INC_FD_LIMIT), "fd-limit");
	assert_string_equal(pw_incomplete_kind_name(PW_INC_CMDLINE_TRUNCATED), "cmdline-truncated");
	assert_null(pw_incomplete_kind_name(PW_INC_MAX));

	st->privileged = true; /* as root the same refusals are "protected" */
	pw_incomplete_build(snap);
	assert_null(find_kind(snap, PW_INC_NOT_ROOT));
	assert_int_equal(find_kind(snap, PW_INC_PROTECTED)->count, 2);
	free(snap);
}

static void check_safe(const char *in, const char *want)
{
	size_t n = 0;
	char *out = pw_json_terminal_safe(in, strlen(in), &n);
	assert_non_null(out);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	free(out);
}

static void test_json_terminal_safe(void **state)
{
	(void)state;
	check_safe("{\"a\": \"plain\"}", "{\"a\": \"plain\"}");
	check_safe("\"x\x7fy\"", "\"x\\u007Fy\"");					 /* DEL */
	check_safe("\"\xc2\x80\xc2\x9b[31m\xc2\x9f\"", "\"\\u0080\\u009B[31m\\u009F\""); /* C1 */
	check_safe("\"\xe2\x80\xae\xe2\x81\xa6\xe2\x81\xa9\"",
		   "\"\\u202E\\u2066\\u2069\"");		    /* bidi */
	check_safe("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", /* ordinary text stays */
		   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	check_safe("\xff\xfe", "\xff\xfe"); /* not UTF-8 (jansson never writes it): as is */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dump_replayed),
	    cmocka_unit_test(test_dump_interrupted),
	    cmocka_unit_test(test_dump_stale_reply_ignored),
	    cmocka_unit_test(test_incomplete_empty),
	    cmocka_unit_test(test_incomplete_kinds),
	    cmocka_unit_test(test_json_terminal_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
