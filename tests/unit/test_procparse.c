/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "internal.h"

/* An exact-size heap copy, so ASan catches any read past len. */
static char *dup_exact(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);
	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

#define STAT_TAIL                                                                                  \
	" S 812 4242 4242 0 -1 4194560 210 0 0 0 3 1 0 0 20 0 1 0 987654321 9154560 1024 "         \
	"18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"

static int parse_stat_exact(const char *s, size_t len, char **comm, pid_t *ppid, uint64_t *start)
{
	char *b = dup_exact(s, len);
	int r = pw_parse_stat(b, len, comm, ppid, start);
	free(b);
	return r;
}

/* ---- stat --------------------------------------------------------------- */

static void test_stat_plain(void **state)
{
	(void)state;
	const char *s = "4242 (nginx)" STAT_TAIL;
	char *comm = NULL;
	pid_t ppid = 0;
	uint64_t start = 0;
	assert_int_equal(parse_stat_exact(s, strlen(s), &comm, &ppid, &start), 0);
	assert_string_equal(comm, "nginx");
	assert_int_equal(ppid, 812);
	assert_true(start == 987654321u);
	free(comm);
}

static void test_stat_hostile_comm(void **state)
{
	(void)state;
	static const struct {
		const char *line, *comm;
	} cases[] = {
	    {"7 (a) S 1 2)" STAT_TAIL, "a) S 1 2"},
	    {"7 (x\ny) (z)" STAT_TAIL, "x\ny) (z"},
	    {"7 (()" STAT_TAIL, "("},
	    {"7 ())" STAT_TAIL, ")"},
	    {"7 ()" STAT_TAIL, ""},
	    {"7 ( )" STAT_TAIL, " "},
	    {"7 (\033[2J\377\376) 9 )" STAT_TAIL, "\033[2J\377\376) 9 "},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *comm = NULL;
		pid_t ppid = 0;
		uint64_t start = 0;
		const char *s = cases[i].line;
		assert_int_equal(parse_stat_exact(s, strlen(s), &comm, &ppid, &start), 0);
		assert_string_equal(comm, cases[i].comm);
		assert_int_equal(ppid, 812);
		assert_true(start == 987654321u);
		free(comm);
	}
}

/* Every prefix of a line either fails or yields the full line's facts. */
static void test_stat_truncated(void **state)
{
	(void)state;
	const char *s = "4242 (a) b\n(c)" STAT_TAIL;
	size_t n = strlen(s);
	unsigned ok = 0;
	for (size_t len = 0; len <= n; len++) {
		char *comm = (char *)"untouched";
		pid_t ppid = -7;
		uint64_t start = 7;
		int r = parse_stat_exact(s, len, &comm, &ppid, &start);
		if (r == 0) {
			assert_string_equal(comm, "a) b\n(c");
			assert_int_equal(ppid, 812);
			assert_true(start == 987654321u);
			free(comm);
			ok++;
		} else {
			assert_int_equal(r, -EINVAL);
			assert_string_equal(comm, "untouched");
			assert_int_equal(ppid, -7);
			assert_true(start == 7);
		}
	}
	/* only prefixes that keep starttime and the space after it */
	assert_int_equal(ok, strlen(strstr(s, "987654321") + 9));
}

static void test_stat_garbage(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "(",
	    ")",
	    "()",
	    "garbage",
	    "4242 (x",
	    "(x)" STAT_TAIL,
	    " (x)" STAT_TAIL,
	    "42a (x)" STAT_TAIL,
	    "4242(x)" STAT_TAIL,
	    "-1 (x)" STAT_TAIL,
	    "99999999999 (x)" STAT_TAIL,
	    "4242 (x)S 1 2",
	    "4242 (x) SS 812 4242 4242 0 -1 4194560 210 0 0 0 3 1 0 0 20 0 1 0 5 6\n",
	    "4242 (x) S -1 4242 4242 0 -1 4194560 210 0 0 0 3 1 0 0 20 0 1 0 5 6\n",
	    "4242 (x) S 2147483648 4242 4242 0 -1 4194560 210 0 0 0 3 1 0 0 20 0 1 0 5 6\n",
	    "4242 (x) S 1 4242 4242 0 -1 4194560 210 0 0 0 3 1 0 0 20 0 1 0 -5 6\n",
	    "4242 (x) S 1 4242 4242 0 -1 4194560 210 0 0 0 3 1 0 0 20 0 1 0 5x 6\n",
	    ("4242 (x) S 1 4242 4242 0 -1 4194560 210 0 0 0 3 1 0 0 20 0 1 0 "
	     "18446744073709551616 6\n"),
	    "4242 (x) S 1  4242 4242 0 -1 4194560 210 0 0 0 3 1 0 0 20 0 1 0 5 6\n",
	    "4242 (x) S 1 4242 4242 0 -1 4194560 210 0 0 0 3 1 0 0 20 0 1 0 5",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *comm = NULL;
		pid_t ppid = 0;
		uint64_t start = 0;
		assert_int_equal(parse_stat_exact(bad[i], strlen(bad[i]), &comm, &ppid, &start),
				 -EINVAL);
		assert_null(comm);
	}
	/* a NUL inside comm or among the fields */
	static const char nul_comm[] = "4242 (a\0b)" STAT_TAIL;
	assert_int_equal(parse_stat_exact(nul_comm, sizeof(nul_comm) - 1, NULL, NULL, NULL),
			 -EINVAL);
	static const char nul_field[] = "4242 (ab) S 8\0" STAT_TAIL;
	assert_int_equal(parse_stat_exact(nul_field, sizeof(nul_field) - 1, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(pw_parse_stat(NULL, 0, NULL, NULL, NULL), -EINVAL);
	/* the maximum starttime and NULL out-parameters */
	const char *big = "1 (x) S 0 1 1 0 -1 4194560 210 0 0 0 3 1 0 0 20 0 1 0 "
			  "18446744073709551615 6\n";
	uint64_t start = 0;
	assert_int_equal(parse_stat_exact(big, strlen(big), NULL, NULL, &start), 0);
	assert_true(start == UINT64_MAX);
}

/* ---- status ------------------------------------------------------------- */

static void test_status_euid(void **state)
{
	(void)state;
	uid_t uid = 0;
	assert_int_equal(pw_parse_status_euid("Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\n"
					      "Uid:\t1000\t0\t1000\t1000\nGid:\t5\t5\t5\t5\n",
					      &uid),
			 0);
	assert_int_equal(uid, 0);
	assert_int_equal(pw_parse_status_euid("Uid:\t0\t4294967294\t0\t0\n", &uid), 0);
	assert_int_equal(uid, 4294967294u);
	assert_int_equal(pw_parse_status_euid("Uid:\t1\t2\n", &uid), 0);
	assert_int_equal(uid, 2);
	/* a Name that says Uid: is not the Uid line */
	assert_int_equal(pw_parse_status_euid("Name:\tUid:\t7\t7\nUid:\t3\t4\t5\t6\n", &uid), 0);
	assert_int_equal(uid, 4);

	static const char *const bad[] = {
	    "",
	    "Name:\tx\n",
	    "Uid:\n",
	    "Uid:\t1000\n",
	    "Uid:\t1000\t\n",
	    "Uid:\t1000\t100", /* cut: the effective uid may be 1000 */
	    "Uid:\tabc\tdef\t0\t0\n",
	    "Uid:\t1\t-2\t0\t0\n",
	    "Uid:\t1\t4294967295\t0\t0\n",
	    "Uid:\t1\t99999999999\t0\t0\n",
	    "Uid:1\t2\t3\t4\n",
	    "Uid:\t1\t2x\t3\t4\n",
	    " Uid:\t1\t2\t3\t4\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uid = 77;
		assert_int_equal(pw_parse_status_euid(bad[i], &uid), -EINVAL);
		assert_int_equal(uid, 77);
	}
	assert_int_equal(pw_parse_status_euid(NULL, &uid), -EINVAL);
}

/* ---- cgroup ------------------------------------------------------------- */

static void check_unit(const char *cgroup, const char *unit, bool user)
{
	char *u = NULL;
	bool uu = !user;
	int r = pw_parse_cgroup_unit(cgroup, &u, &uu);
	if (!unit) {
		if (r != -ENOENT)
			fail_msg("%s: got %d %s", cgroup, r, u ? u : "(null)");
		assert_null(u);
		assert_true(uu == !user);
		return;
	}
	if (r != 0)
		fail_msg("%s: got %d", cgroup, r);
	assert_string_equal(u, unit);
	assert_true(uu == user);
	free(u);
}

static void test_cgroup_v2(void **state)
{
	(void)state;
	check_unit("0::/system.slice/nginx.service\n", "nginx.service", false);
	check_unit("0::/system.slice/dnsmasq.service", "dnsmasq.service", false);
	check_unit("0::/init.scope\n", "init.scope", false);
	check_unit("0::/system.slice/foo.service/sub\n", "foo.service", false);
	check_unit("0::/system.slice/foo.service/a/b/c\n", "foo.service", false);
	check_unit("0::/user.slice/user-1000.slice/session-3.scope\n", "session-3.scope", false);
	check_unit("0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n",
		   "foo.service", true);
	check_unit("0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
		   "app-gnome-firefox-1234.scope/sub\n",
		   "app-gnome-firefox-1234.scope", true);
	check_unit("0::/user.slice/user-1000.slice/user@1000.service/init.scope\n",
		   "user@1000.service", false);
	check_unit("0::/user.slice/user-1000.slice/user@1000.service\n", "user@1000.service",
		   false);
	check_unit("0::/system.slice/system-getty.slice/getty@tty1.service\n", "getty@tty1.service",
		   false);
	check_unit("0::/system.slice/systemd-fsck@dev-disk-by\\x2duuid-1234.service\n",
		   "systemd-fsck@dev-disk-by\\x2duuid-1234.service", false);
	check_unit("0::/system.slice/nginx.service (deleted)\n", "nginx.service", false);
	check_unit("0::/system.slice/docker-0123abcd.scope/system.slice/sshd.service\n",
		   "docker-0123abcd.scope", false);
	check_unit("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope\n",
		   "cri-containerd-ab12.scope", false);
	check_unit("0::/system.slice//nginx.service\n", "nginx.service", false);
	/* no unit */
	check_unit("0::/\n", NULL, false);
	check_unit("0::/system.slice\n", NULL, false);
	check_unit("0::/user.slice/user-1000.slice\n", NULL, false);
	check_unit("0::/docker/0123abcd\n", NULL, false);
	check_unit("0::/.service\n", NULL, false);
	check_unit("0::/foo.target\n", NULL, false);
	check_unit("0::/foo bar.service\n", NULL, false);
	check_unit("", NULL, false);
	check_unit("\n\n", NULL, false);
	check_unit("garbage", NULL, false);
	check_unit("0::", NULL, false);
	check_unit("0::system.slice/x.service\n", NULL, false);
	check_unit(":::/x.service\n", NULL, false);
	check_unit("0:x:/x.service\n", NULL, false);
	assert_int_equal(pw_parse_cgroup_unit(NULL, NULL, NULL), -EINVAL);
}

/* systemd-nspawn: the container's own tree lives below "payload" */
static void test_cgroup_container(void **state)
{
	(void)state;
	check_unit("0::/machine.slice/machine-demo.scope/payload/system.slice/echo-demo.service\n",
		   "echo-demo.service", false);
	check_unit("0::/user.slice/user-0.slice/session-3.scope/payload/system.slice/"
		   "echo-demo.service\n",
		   "echo-demo.service", false);
	check_unit("0::/pw-x/payload/init.scope\n", "init.scope", false);
	check_unit("0::/machine.slice/machine-demo.scope/supervisor\n", "machine-demo.scope", false);
	/* hybrid hierarchy: the v1 name=systemd line carries the same path */
	check_unit("12:pids:/payload/system.slice/a.service\n"
		   "1:name=systemd:/machine.slice/m.scope/payload/system.slice/echo-demo.service\n"
		   "0::/\n",
		   "echo-demo.service", false);
	/* a container in a container: the innermost names the unit */
	check_unit("0::/a.scope/payload/system.slice/b.scope/payload/system.slice/c.service\n",
		   "c.service", false);
	check_unit("0::/x.slice/payload/user.slice/user@1000.service/app.slice/d.service\n",
		   "d.service", true);
	check_unit("0::/m.scope/payload\n", NULL, false);
}

static void test_status_nspid(void **state)
{
	(void)state;
	pid_t pid = 0;
	assert_int_equal(pw_parse_status_nspid("Name:\tsleep\nNStgid:\t4180\t52\n"
					       "NSpid:\t4180\t52\nNSpgid:\t4180\t52\n",
					       &pid),
			 0);
	assert_int_equal(pid, 52);
	assert_int_equal(pw_parse_status_nspid("NSpid:\t812\n", &pid), 0);
	assert_int_equal(pid, 812);
	assert_int_equal(pw_parse_status_nspid("NSpid:\t4100\t1\n", &pid), 0);
	assert_int_equal(pid, 1);
	assert_int_equal(pw_parse_status_nspid("Name:\tx\nUid:\t0\t0\t0\t0\n", &pid), -ENOENT);
	/* cut by the read, empty, junk, zero: never a made-up PID */
	assert_int_equal(pw_parse_status_nspid("NSpid:\t4180\t5", &pid), -EINVAL);
	assert_int_equal(pw_parse_status_nspid("NSpid:\n", &pid), -EINVAL);
	assert_int_equal(pw_parse_status_nspid("NSpid:\t12x\n", &pid), -EINVAL);
	assert_int_equal(pw_parse_status_nspid("NSpid:\t0\n", &pid), -EINVAL);
	assert_int_equal(pw_parse_status_nspid("NSpid:\t99999999999\n", &pid), -EINVAL);
	assert_int_equal(pw_parse_status_nspid(NULL, &pid), -EINVAL);
}

static void check_uring(const char *fdinfo, int want_r, size_t want_n, const uint32_t *want)
{
	uint32_t *v = NULL;
	size_t n = 0;
	int r = pw_parse_uring_files(fdinfo, strlen(fdinfo), &v, &n);
	assert_int_equal(r, want_r);
	if (r == 0) {
		assert_int_equal(n, want_n);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(v[i], want[i]);
	}
	free(v);
}

/* /proc/PID/fdinfo of an io_uring as kernel 6.18 prints it */
static void test_uring_fdinfo(void **state)
{
	(void)state;
	static const uint32_t one[] = {76896};
	check_uring("pos:\t0\nflags:\t02000002\nSqThread:\t-1\nUserFiles:\t1\n"
		    "    0: socket:[76896]\nUserBufs:\t0\nPollList:\n",
		    0, 1, one);
	static const uint32_t two[] = {11, 4000000000u};
	check_uring("UserFiles:\t5\n    0: /tmp/socket:[99]\n    1: socket:[11]\n"
		    "    3: pipe:[77]\n12345: socket:[4000000000]\nUserBufs:\t0\n"
		    "    7: socket:[55]\n",
		    0, 2, two);
	check_uring("UserFiles:\t0\nUserBufs:\t0\n", 0, 0, NULL);
	/* the kernel printed no table (the ring's lock was taken) */
	check_uring("pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t9\n", -EAGAIN, 0, NULL);
	/* a last line cut by the read is not trusted */
	static const uint32_t cut[] = {11};
	check_uring("UserFiles:\t2\n    0: socket:[11]\n    1: socket:[12", 0, 1, cut);
	check_uring("UserFiles:\t1\n    0: socket:[1x]\n    1:socket:[3]\n", 0, 0, NULL);
}

static void test_cgroup_v1(void **state)
{
	(void)state;
	check_unit("12:pids:/system.slice/a.service\n11:cpu,cpuacct:/system.slice/b.service\n"
		   "1:name=systemd:/system.slice/sshd.service\n",
		   "sshd.service", false);
	check_unit("11:cpu,cpuacct:/system.slice/b.service\n", NULL, false);
	check_unit("1:name=systemd:/user.slice/user-1000.slice/user@1000.service/app.slice/"
		   "foo.service\n",
		   "foo.service", true);
	check_unit("1:name=systemd:/user.slice/user-1000.slice/session-3.scope", "session-3.scope",
		   false);
	/* v2 preferred; a v2 line at the root (not systemd's) falls back to v1 */
	check_unit("1:name=systemd:/system.slice/old.service\n0::/system.slice/new.service\n",
		   "new.service", false);
	check_unit("1:name=systemd:/system.slice/old.service\n0::/\n", "old.service", false);
	check_unit("9:name=systemd:/\n4:memory:/process_api/7632f7\n0::/\n", NULL, false);
	check_unit("1:name=other:/system.slice/x.service\n", NULL, false);
	check_unit("0:name=systemd:/system.slice/x.service\n", NULL, false);
	/* a user unit needs no out-parameters */
	assert_int_equal(pw_parse_cgroup_unit("0::/init.scope\n", NULL, NULL), 0);
}

/* ---- environ ------------------------------------------------------------ */

static int env_exact(const char *s, size_t len, const char *key, char **ret)
{
	char *b = dup_exact(s, len);
	int r = pw_environ_get(b, len, key, ret);
	free(b);
	return r;
}

static void test_environ(void **state)
{
	(void)state;
	static const char env[] = "LISTEN_FDSX=9\0PATH=/bin\0LISTEN_FDS=2\0EMPTY=\0"
				  "LISTEN_FDNAMES=web:admin\0LISTEN_PID=4242";
	size_t len = sizeof(env) - 1; /* last entry without its NUL */
	char *v = NULL;
	assert_int_equal(env_exact(env, len, "LISTEN_FDS", &v), 0);
	assert_string_equal(v, "2");
	free(v);
	assert_int_equal(env_exact(env, len, "LISTEN_FDNAMES", &v), 0);
	assert_string_equal(v, "web:admin");
	free(v);
	assert_int_equal(env_exact(env, len, "LISTEN_PID", &v), 0);
	assert_string_equal(v, "4242");
	free(v);
	assert_int_equal(env_exact(env, len, "EMPTY", &v), 0);
	assert_string_equal(v, "");
	free(v);
	/* cut inside the last value */
	assert_int_equal(env_exact(env, len - 2, "LISTEN_PID", &v), 0);
	assert_string_equal(v, "42");
	free(v);

	v = (char *)"untouched";
	assert_int_equal(env_exact(env, len, "LISTEN", &v), -ENOENT);
	assert_int_equal(env_exact(env, len, "PAT", &v), -ENOENT);
	assert_int_equal(env_exact(env, len, "HOME", &v), -ENOENT);
	assert_int_equal(env_exact(env, len - 5, "LISTEN_PID", &v), -ENOENT);
	assert_int_equal(env_exact(env, 0, "PATH", &v), -ENOENT);
	assert_int_equal(pw_environ_get(NULL, 0, "PATH", &v), -ENOENT);
	assert_int_equal(env_exact(env, len, "", &v), -EINVAL);
	assert_int_equal(env_exact(env, len, "A=B", &v), -EINVAL);
	assert_int_equal(pw_environ_get(env, len, NULL, &v), -EINVAL);
	assert_string_equal(v, "untouched");

	/* first of duplicates, like getenv; empty entries are skipped */
	static const char dup[] = "\0\0A=1\0A=2\0";
	assert_int_equal(env_exact(dup, sizeof(dup) - 1, "A", &v), 0);
	assert_string_equal(v, "1");
	free(v);
}

/* ---- cmdline ------------------------------------------------------------ */

static void check_join(const char *buf, size_t len, const char *want)
{
	char *b = dup_exact(buf, len);
	char *s = (char *)"untouched";
	int r = pw_cmdline_join(b, len, &s);
	free(b);
	if (!want) {
		assert_int_equal(r, -ENODATA);
		assert_string_equal(s, "untouched");
		return;
	}
	assert_int_equal(r, 0);
	assert_string_equal(s, want);
	free(s);
}

static void test_cmdline(void **state)
{
	(void)state;
#define J(lit, want) check_join(lit, sizeof(lit) - 1, want)
	J("/usr/sbin/nginx\0-g\0daemon off;\0", "/usr/sbin/nginx -g daemon off;");
	J("/usr/sbin/nginx\0-g\0daemon off;", "/usr/sbin/nginx -g daemon off;");
	J("nginx: worker process", "nginx: worker process");
	J("nginx: worker process\0\0\0\0\0\0", "nginx: worker process");
	J("prog\0\0arg\0", "prog  arg");
	J("\0lead\0", " lead");
	J("x", "x");
	J("a\nb\033[0m\0c\0", "a\nb\033[0m c");
	J("", NULL);
	J("\0", NULL);
	J("\0\0\0", NULL);
#undef J
	char *s = (char *)"untouched";
	assert_int_equal(pw_cmdline_join(NULL, 10, &s), -ENODATA);
	assert_string_equal(s, "untouched");
}

/* ---- links -------------------------------------------------------------- */

static void test_socket_link(void **state)
{
	(void)state;
	uint32_t ino = 0;
#define L(lit) lit, sizeof(lit) - 1
	assert_int_equal(pw_parse_socket_link(L("socket:[12345]"), &ino), 0);
	assert_int_equal(ino, 12345);
	assert_int_equal(pw_parse_socket_link(L("socket:[4294967295]"), &ino), 0);
	assert_int_equal(ino, 4294967295u);
	/* len counts, not the NUL */
	assert_int_equal(pw_parse_socket_link("socket:[77]trailing", 11, &ino), 0);
	assert_int_equal(ino, 77);

	static const char *const bad[] = {
	    "",
	    "socket:",
	    "socket:[",
	    "socket:[]",
	    "socket:[12",
	    "socket:12]",
	    "socket:[12]x",
	    "socket:[1 2]",
	    "socket:[-1]",
	    "socket:[+1]",
	    "socket:[4294967296]",
	    "Socket:[1]",
	    "pipe:[12345]",
	    "anon_inode:[eventfd]",
	    "/dev/null",
	    "socket[1]",
	    "socket:[0x10]",
	    " socket:[1]",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ino = 99;
		char *b = dup_exact(bad[i], strlen(bad[i]));
		assert_int_equal(pw_parse_socket_link(b, strlen(bad[i]), &ino), -EINVAL);
		free(b);
		assert_int_equal(ino, 99);
	}
	/* a NUL inside the counted length */
	assert_int_equal(pw_parse_socket_link(L("socket:[1\0002]"), &ino), -EINVAL);
	assert_int_equal(pw_parse_socket_link(NULL, 0, &ino), -EINVAL);
}

static void test_ns_link(void **state)
{
	(void)state;
	uint64_t ino = 0;
	assert_int_equal(pw_parse_ns_link(L("net:[4026531840]"), &ino), 0);
	assert_true(ino == 4026531840u);
	assert_int_equal(pw_parse_ns_link(L("net:[18446744073709551615]"), &ino), 0);
	assert_true(ino == UINT64_MAX);

	static const char *const bad[] = {
	    "",
	    "net:",
	    "net:[]",
	    "net:[1",
	    "net:1]",
	    "net:[1]\n",
	    "mnt:[4026531840]",
	    "user:[1]",
	    "net:[18446744073709551616]",
	    "net:[a]",
	    "socket:[1]",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ino = 99;
		char *b = dup_exact(bad[i], strlen(bad[i]));
		assert_int_equal(pw_parse_ns_link(b, strlen(bad[i]), &ino), -EINVAL);
		free(b);
		assert_true(ino == 99);
	}
	assert_int_equal(pw_parse_ns_link(NULL, 5, &ino), -EINVAL);
#undef L
}

/* ---- pw_process_read over fake /proc trees ----------------------------- */

static int open_root(const char *sub)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", FIXTURES, sub);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static const char *name_of(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);
	return pw ? pw->pw_name : NULL;
}

static void test_process_activated(void **state)
{
	(void)state;
	int fd = open_root("proc");
	struct pw_process p;
	memset(&p, 0xa5, sizeof(p));
	assert_int_equal(pw_process_read(fd, 4242, &p), 0);
	assert_true(p.facts_read);
	assert_int_equal(p.pid, 4242);
	assert_int_equal(p.ppid, 1);
	assert_int_equal(p.uid, 0);
	assert_string_equal(p.user, "root");
	assert_string_equal(p.comm, "mydaemon");
	assert_string_equal(p.cmdline,
			    "/usr/bin/mydaemon --foreground --config=/etc/my daemon.conf");
	assert_string_equal(p.unit, "mydaemon.service");
	assert_false(p.user_unit);
	assert_true(p.start_time == 123456);
	assert_true(p.netns == 4026531840u);
	assert_int_equal(p.listen_pid, 4242);
	assert_int_equal(p.listen_fds, 2);
	assert_string_equal(p.listen_fdnames, "web:admin");
	assert_false(p.is_systemd);
	pw_process_clear(&p);
	assert_null(p.comm);
	assert_false(p.facts_read);
	pw_process_clear(&p); /* twice is harmless */

	/* the cache answers the second time the same way */
	assert_int_equal(pw_process_read(fd, 4242, &p), 0);
	assert_string_equal(p.user, "root");
	pw_process_clear(&p);
	close(fd);
}

static void test_process_hostile(void **state)
{
	(void)state;
	int fd = open_root("proc");
	struct pw_process p;
	assert_int_equal(pw_process_read(fd, 4343, &p), 0);
	assert_true(p.facts_read);
	assert_string_equal(p.comm, "\033]0;x\a\377\376) (\nz");
	assert_int_equal(p.ppid, 4242);
	assert_int_equal(p.uid, 3999998);
	const char *n = name_of(3999998);
	if (n)
		assert_string_equal(p.user, n);
	else
		assert_null(p.user);
	assert_true(p.start_time == 777);
	assert_string_equal(p.cmdline, "one string with spaces: worker");
	assert_string_equal(p.unit, "foo.service");
	assert_true(p.user_unit);
	/* no environ, no ns/net: facts still read */
	assert_int_equal(p.listen_pid, 0);
	assert_int_equal(p.listen_fds, 0);
	assert_null(p.listen_fdnames);
	assert_true(p.netns == 0);
	assert_false(p.is_systemd);
	pw_process_clear(&p);
	close(fd);
}

static void test_process_systemd(void **state)
{
	(void)state;
	int fd = open_root("proc");
	struct pw_process p;
	assert_int_equal(pw_process_read(fd, 1, &p), 0);
	assert_string_equal(p.comm, "systemd");
	assert_string_equal(p.cmdline, "/sbin/init splash");
	assert_string_equal(p.unit, "init.scope");
	assert_false(p.user_unit);
	assert_int_equal(p.ppid, 0);
	assert_null(p.listen_fdnames);
	assert_true(p.is_systemd);
	pw_process_clear(&p);

	/* systemd --user */
	assert_int_equal(pw_process_read(fd, 2000, &p), 0);
	assert_string_equal(p.comm, "systemd");
	assert_int_equal(p.uid, 1000);
	assert_string_equal(p.unit, "user@1000.service");
	assert_false(p.user_unit);
	assert_true(p.is_systemd);
	assert_string_equal(p.cmdline, "/usr/lib/systemd/systemd --user");
	const char *n = name_of(1000);
	if (n)
		assert_string_equal(p.user, n);
	else
		assert_null(p.user);
	pw_process_clear(&p);
	close(fd);

	/* a PID 1 that is not systemd */
	fd = open_root("proc/other-root");
	assert_int_equal(pw_process_read(fd, 1, &p), 0);
	assert_string_equal(p.comm, "process_api");
	assert_string_equal(p.cmdline, "/process_api --addr 0.0.0.0:2024");
	assert_null(p.unit);
	assert_false(p.is_systemd);
	assert_true(p.facts_read);
	pw_process_clear(&p);
	close(fd);
}

static void test_process_errors(void **state)
{
	(void)state;
	int fd = open_root("proc");
	struct pw_process p;
	memset(&p, 0xa5, sizeof(p));
	assert_int_equal(pw_process_read(fd, 9999, &p), -ENOENT);
	assert_false(p.facts_read);
	assert_null(p.comm);
	assert_int_equal(p.pid, 0);

	memset(&p, 0xa5, sizeof(p));
	assert_int_equal(pw_process_read(fd, 4444, &p), -EINVAL);
	assert_false(p.facts_read);
	assert_null(p.comm);
	assert_null(p.user);

	assert_int_equal(pw_process_read(fd, 0, &p), -EINVAL);
	assert_int_equal(pw_process_read(fd, -1, &p), -EINVAL);
	assert_int_equal(pw_process_read(fd, 1, NULL), -EINVAL);
	assert_true(pw_process_read(-1, 4242, &p) < 0);
	assert_false(p.facts_read);
	close(fd);
	pw_process_clear(NULL);
}

/* The real /proc: our own process. */
static void test_process_self(void **state)
{
	(void)state;
	int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct pw_process p;
	assert_int_equal(pw_process_read(fd, getpid(), &p), 0);
	assert_true(p.facts_read);
	assert_int_equal(p.pid, getpid());
	assert_int_equal(p.ppid, getppid());
	assert_int_equal(p.uid, geteuid());
	assert_non_null(p.comm);
	assert_non_null(p.cmdline);
	assert_true(strstr(p.cmdline, "test_procparse") != NULL);
	assert_true(p.netns != 0);
	assert_true(p.start_time > 0 || getpid() < 100);
	pw_process_clear(&p);
	close(fd);
}

/* A zombie still has facts; a reaped child is gone. */
static void test_process_exited(void **state)
{
	(void)state;
	int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	/* wait until it is a zombie without reaping it */
	siginfo_t si;
	assert_int_equal(waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT), 0);

	struct pw_process p;
	assert_int_equal(pw_process_read(fd, child, &p), 0);
	assert_true(p.facts_read);
	assert_int_equal(p.ppid, getpid());
	assert_non_null(p.comm);
	assert_null(p.cmdline);
	assert_int_equal(p.listen_pid, 0);
	pw_process_clear(&p);

	assert_int_equal(waitpid(child, NULL, 0), child);
	memset(&p, 0xa5, sizeof(p));
	int r = pw_process_read(fd, child, &p);
	assert_true(r == -ENOENT || r == -ESRCH);
	assert_false(p.facts_read);
	assert_null(p.comm);
	close(fd);
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_plain),
		cmocka_unit_test(test_stat_hostile_comm),
		cmocka_unit_test(test_stat_truncated),
		cmocka_unit_test(test_stat_garbage),
		cmocka_unit_test(test_status_euid),
		cmocka_unit_test(test_cgroup_v2),
		cmocka_unit_test(test_cgroup_v1),
		cmocka_unit_test(test_cgroup_container),
		cmocka_unit_test(test_status_nspid),
		cmocka_unit_test(test_uring_fdinfo),
		cmocka_unit_test(test_environ),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_socket_link),
		cmocka_unit_test(test_ns_link),
		cmocka_unit_test(test_process_activated),
		cmocka_unit_test(test_process_hostile),
		cmocka_unit_test(test_process_systemd),
		cmocka_unit_test(test_process_errors),
		cmocka_unit_test(test_process_self),
		cmocka_unit_test(test_process_exited),
	};
	/* clang-format on */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
