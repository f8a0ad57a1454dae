/* SPDX-License-Identifier: MIT */
/* pw-bpf-selftest: checks the BPF iterators against sockets it opens itself.
 * Root only (loading BPF needs it). Not a unit test: it needs a real kernel.
 *
 *   pw-bpf-selftest                 run the checks; last line "N passed, N failed"
 *   pw-bpf-selftest --bench [--walker task|task_file] [--threads N] [--sockopts]
 *                   [--no-walk] [--repeat N]
 *                                   one walk (and/or one sockopts read) for timing
 *                                   with hyperfine; prints what it found and the
 *                                   time of each call (the first one loads)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpf/pw-bpf.h" /* lib/collect/bpf/pw-bpf.h */
#include "internal.h"

static unsigned passed, failed;

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s - ", ok ? "ok  " : "FAIL");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (ok)
		passed++;
	else
		failed++;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void walk_clear(struct pw_walk *w)
{
	for (size_t i = 0; i < w->n_ns; i++)
		free(w->ns[i].path);
	free(w->ns);
	free(w->recs);
	free(w->visited);
	memset(w, 0, sizeof(*w));
}

static uint32_t ino_of(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint32_t)st.st_ino : 0;
}

static uint64_t netns_self(void)
{
	struct stat st;
	return stat("/proc/self/ns/net", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static uint16_t port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v));
}

static int bind_lo4(int fd, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	return bind(fd, (struct sockaddr *)&a, sizeof(a));
}

static int bind_lo6(int fd)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	return bind(fd, (struct sockaddr *)&a, sizeof(a));
}

static const struct pw_bpf_sockopt *find_opt(const struct pw_bpf_sockopt *v, size_t n,
					     uint32_t inode)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].inode == inode)
			return &v[i];
	return NULL;
}

static size_t count_rec(const struct pw_walk *w, uint32_t inode, pid_t pid, pid_t tid, int fd)
{
	size_t k = 0;
	for (size_t i = 0; i < w->n_recs; i++) {
		const struct pw_fdrec *r = &w->recs[i];
		if (r->inode == inode && r->pid == pid && (tid < 0 || r->tid == tid) &&
		    (fd < 0 || r->fd == fd))
			k++;
	}
	return k;
}

/* ---- sockets made under another uid -------------------------------------- */

/* Credentials are per thread in the kernel; the raw syscall (unlike glibc's
 * setresuid) changes only this thread. Saved uid stays 0 to come back. */
struct uidsocks {
	int before; /* created as root, then the thread drops to 4243 */
	int after; /* created with euid 4242: IPv6, v6only, SO_REUSEADDR */
	int err;
};

static void *uid_thread(void *arg)
{
	struct uidsocks *u = arg;
	u->before = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u->before < 0 || bind_lo4(u->before, 0) < 0 || listen(u->before, 4) < 0)
		goto fail;
	if (syscall(SYS_setresuid, 4243, 4243, 0) < 0)
		goto fail;
	if (syscall(SYS_setresuid, 0, 0, 0) < 0)
		goto fail;
	if (syscall(SYS_setresuid, 4242, 4242, 0) < 0)
		goto fail;
	u->after = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u->after < 0 || set_int(u->after, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0 ||
	    set_int(u->after, SOL_SOCKET, SO_REUSEADDR, 1) < 0 || bind_lo6(u->after) < 0 ||
	    listen(u->after, 4) < 0)
		goto fail;
	if (syscall(SYS_setresuid, 0, 0, 0) < 0)
		goto fail;
	return NULL;
fail:
	u->err = errno ? errno : EIO;
	syscall(SYS_setresuid, 0, 0, 0);
	return NULL;
}

/* ---- a thread with a private fd table ------------------------------------ */

struct private_thread {
	pthread_mutex_t m;
	pthread_cond_t cv;
	int state; /* 0 starting, 1 ready, 2 release, 3 failed */
	pid_t tid;
	int fd;
	uint32_t inode;
	int nextra; /* more sockets to open in the private table */
	int *extra;
};

static void *private_main(void *arg)
{
	struct private_thread *p = arg;
	int st = 3;
	p->tid = (pid_t)syscall(SYS_gettid);
	if (unshare(CLONE_FILES) == 0) {
		p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (p->fd >= 0) {
			p->inode = ino_of(p->fd);
			st = 1;
		}
		for (int i = 0; i < p->nextra && st == 1; i++) {
			p->extra[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (p->extra[i] < 0)
				st = 3;
		}
	}
	pthread_mutex_lock(&p->m);
	p->state = st;
	pthread_cond_broadcast(&p->cv);
	while (p->state != 2)
		pthread_cond_wait(&p->cv, &p->m);
	pthread_mutex_unlock(&p->m);
	return NULL;
}

/* ---- checks --------------------------------------------------------------- */

static void check_sockopts(void)
{
	int lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	set_int(lst, SOL_SOCKET, SO_REUSEPORT, 1);
	bool ok = bind_lo4(lst, 0) == 0 && listen(lst, 16) == 0;
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	set_int(udp, SOL_SOCKET, SO_REUSEADDR, 1);
	ok = ok && bind_lo4(udp, 0) == 0;
	struct uidsocks u = { .before = -1, .after = -1 };
	pthread_t th;
	ok = ok && pthread_create(&th, NULL, uid_thread, &u) == 0 && pthread_join(th, NULL) == 0;
	check(ok && !u.err, "set up sockets (uid thread errno %d)", u.err);

	/* a TIME_WAIT from a SO_REUSEADDR client: connect, client closes first */
	int cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	set_int(cli, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port_of(lst)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool tw_ok = bind_lo4(cli, 0) == 0 && connect(cli, (struct sockaddr *)&a, sizeof(a)) == 0;
	uint16_t tw_port = port_of(cli);
	int acc = tw_ok ? accept(lst, NULL, NULL) : -1;
	close(cli);
	/* a connection the listener has not accepted yet: no inode, flags
	 * inherited from the listener */
	int pend = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool pend_ok = connect(pend, (struct sockaddr *)&a, sizeof(a)) == 0;
	uint16_t pend_port = port_of(pend);
	usleep(20000);
	if (acc >= 0)
		close(acc);
	usleep(20000);

	struct pw_bpf_sockopt *v = NULL;
	size_t n = 0;
	double t0 = now_ms();
	int r = pw_bpf_sockopts_read(&v, &n);
	check(r == 0 && n > 0, "pw_bpf_sockopts_read: %d, %zu sockets in %.1f ms", r, n,
	      now_ms() - t0);

	const struct pw_bpf_sockopt *o = find_opt(v, n, ino_of(lst));
	check(o && o->family == AF_INET && o->proto == IPPROTO_TCP && o->state == PW_ST_LISTEN &&
		      o->reuse == 0 && o->reuseport == 1 && o->uid == 0 &&
		      o->lport == port_of(lst) && o->rport == 0 &&
		      !memcmp(o->laddr, "\x7f\0\0\1", 4),
	      "TCP listener with SO_REUSEPORT: reuse=%d reuseport=%d uid=%d state=%d port %d",
	      o ? o->reuse : -1, o ? o->reuseport : -1, o ? (int)o->uid : -1,
	      o ? o->state : -1, o ? o->lport : -1);
	/* listening only: our listener and UDP socket with the same flags as
	 * the whole read gave, and no TCP socket in another state */
	{
		struct pw_bpf_sockopt *lv = NULL;
		size_t ln = 0, other = 0;
		int lr = pw_bpf_sockopts_read_some(true, &lv, &ln);
		const struct pw_bpf_sockopt *ol = lr == 0 ? find_opt(lv, ln, ino_of(lst)) : NULL;
		const struct pw_bpf_sockopt *ou = lr == 0 ? find_opt(lv, ln, ino_of(udp)) : NULL;
		for (size_t j = 0; j < ln; j++)
			other += lv[j].proto == IPPROTO_TCP && lv[j].state != PW_ST_LISTEN;
		check(lr == 0 && ol && ou && ol->reuseport == 1 && ou->reuse == 1 && other == 0,
		      "listening-only read: %d, %zu records, listener %s, UDP %s, %zu TCP "
		      "sockets not listening (of %zu in the whole read)",
		      lr, ln, ol ? "found" : "missing", ou ? "found" : "missing", other, n);
		free(lv);
	}
	o = find_opt(v, n, ino_of(udp));
	check(o && o->family == AF_INET && o->proto == IPPROTO_UDP && o->state == PW_ST_CLOSE &&
		      o->reuse == 1 && o->reuseport == 0 && o->uid == 0 && o->lport == port_of(udp),
	      "UDP socket with SO_REUSEADDR: reuse=%d reuseport=%d uid=%d state=%d",
	      o ? o->reuse : -1, o ? o->reuseport : -1, o ? (int)o->uid : -1, o ? o->state : -1);
	o = u.after >= 0 ? find_opt(v, n, ino_of(u.after)) : NULL;
	static const uint8_t lo6[16] = { [15] = 1 };
	check(o && o->family == AF_INET6 && o->uid == 4242 && o->reuse == 1 && o->reuseport == 0 &&
		      o->v6only == 1 && o->state == PW_ST_LISTEN && !memcmp(o->laddr, lo6, 16),
	      "IPv6 v6only socket created under euid 4242: uid=%d v6only=%d reuse=%d",
	      o ? (int)o->uid : -1, o ? o->v6only : -1, o ? o->reuse : -1);
	o = u.before >= 0 ? find_opt(v, n, ino_of(u.before)) : NULL;
	check(o && o->uid == 0 && o->reuse == 0 && o->reuseport == 0,
	      "socket created as root before setresuid keeps uid 0: uid=%d",
	      o ? (int)o->uid : -1);

	const struct pw_bpf_sockopt *tw = NULL;
	for (size_t i = 0; i < n; i++)
		if (v[i].proto == IPPROTO_TCP && v[i].state == PW_ST_TIME_WAIT &&
		    v[i].lport == tw_port && v[i].rport == port_of(lst))
			tw = &v[i];
	check(tw_ok && tw && tw->inode == 0 && tw->reuse == 1 && tw->reuseport == 0,
	      "TIME_WAIT of a SO_REUSEADDR client: inode=%d reuse=%d",
	      tw ? (int)tw->inode : -1, tw ? tw->reuse : -1);
	const struct pw_bpf_sockopt *pe = NULL;
	for (size_t i = 0; i < n; i++)
		if (v[i].proto == IPPROTO_TCP && v[i].lport == port_of(lst) &&
		    v[i].rport == pend_port)
			pe = &v[i];
	check(pend_ok && pe && pe->inode == 0 && pe->state == PW_ST_ESTABLISHED &&
		      pe->reuseport == 1 && pe->uid == 0,
	      "connection not accepted yet: inode=%d state=%d reuseport=%d",
	      pe ? (int)pe->inode : -1, pe ? pe->state : -1, pe ? pe->reuseport : -1);
	free(v);

	/* the walk finds each of them as (inode, getpid(), fd) */
	struct pw_walk w = { 0 };
	struct pw_walk_opts wo = { .proc_root = "/proc", .threads = 0, .want_netns = true };
	r = pw_collector_bpf.walk(&wo, &w);
	check(r == 0, "walk: %d (%s), %zu records, %u processes, %zu netns", r,
	      pw_bpf_walker_name() ? pw_bpf_walker_name() : "-", w.n_recs, w.processes, w.n_ns);
	int fds[] = { lst, udp, u.before, u.after };
	const char *what[] = { "TCP listener", "UDP socket", "root socket", "uid 4242 socket" };
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		check(fds[i] >= 0 && count_rec(&w, ino_of(fds[i]), getpid(), getpid(), fds[i]) == 1,
		      "walk finds the %s (fd %d) once", what[i], fds[i]);
	bool ns_found = false;
	for (size_t i = 0; i < w.n_ns; i++)
		ns_found |= w.ns[i].ino == netns_self() && w.ns[i].pid > 0;
	check(ns_found, "walk lists our network namespace");
	walk_clear(&w);

	close(lst);
	close(udp);
	close(pend);
	if (u.before >= 0)
		close(u.before);
	if (u.after >= 0)
		close(u.after);
}

static void check_private_table(void)
{
	struct private_thread p = { .m = PTHREAD_MUTEX_INITIALIZER,
				    .cv = PTHREAD_COND_INITIALIZER, .fd = -1 };
	int shared = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	pthread_t th;
	if (pthread_create(&th, NULL, private_main, &p) != 0) {
		check(false, "start a thread");
		return;
	}
	pthread_mutex_lock(&p.m);
	while (p.state == 0)
		pthread_cond_wait(&p.cv, &p.m);
	pthread_mutex_unlock(&p.m);
	check(p.state == 1, "thread %d unshared its fd table and opened fd %d", p.tid, p.fd);

	struct pw_walk w = { 0 };
	struct pw_walk_opts wo = { .proc_root = "/proc" };
	int r = pw_collector_bpf.walk(&wo, &w);
	pid_t pid = getpid();
	check(r == 0 && count_rec(&w, p.inode, pid, p.tid, p.fd) == 1 &&
		      count_rec(&w, p.inode, pid, -1, -1) == 1,
	      "socket only in the thread's table: found once, as tid %d", p.tid);
	/* the copy of the table holds what the process held at unshare() */
	check(count_rec(&w, ino_of(shared), pid, pid, shared) == 1 &&
		      count_rec(&w, ino_of(shared), pid, p.tid, shared) == 1,
	      "socket opened before unshare: in both tables");
	walk_clear(&w);

	pthread_mutex_lock(&p.m);
	p.state = 2;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.m);
	pthread_join(th, NULL);
	close(shared);
}

/* More socket fds than one seq_file object carries: the walk resumes. */
static void check_big_table(void)
{
	enum { N = 9000 };
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < N + 256) {
		rl.rlim_cur = rl.rlim_max = N + 1024;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int *fds = calloc(N, sizeof(int));
	size_t made = 0;
	for (; made < N; made++) {
		fds[made] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[made] < 0)
			break;
	}
	check(made == N, "opened %zu sockets", made);
	struct pw_walk w = { 0 };
	struct pw_walk_opts wo = { .proc_root = "/proc" };
	int r = pw_collector_bpf.walk(&wo, &w);
	size_t found = 0, dup = 0;
	for (size_t i = 0; i < made; i++) {
		size_t k = count_rec(&w, ino_of(fds[i]), getpid(), getpid(), fds[i]);
		found += k == 1;
		dup += k > 1;
	}
	check(r == 0 && found == made && !dup, "walk finds all %zu (found %zu, duplicated %zu)",
	      made, found, dup);
	walk_clear(&w);

	/* the same in a thread's private table: the rest is walked through a
	 * link restricted to that thread */
	struct private_thread p = { .m = PTHREAD_MUTEX_INITIALIZER,
				    .cv = PTHREAD_COND_INITIALIZER, .fd = -1, .nextra = 5000 };
	p.extra = calloc((size_t)p.nextra, sizeof(int));
	pthread_t th;
	if (pthread_create(&th, NULL, private_main, &p) == 0) {
		pthread_mutex_lock(&p.m);
		while (p.state == 0)
			pthread_cond_wait(&p.cv, &p.m);
		pthread_mutex_unlock(&p.m);
		memset(&w, 0, sizeof(w));
		r = pw_collector_bpf.walk(&wo, &w);
		found = dup = 0;
		for (int i = 0; i < p.nextra && p.state == 1; i++) {
			/* fds numbers are the thread's; inodes via /proc */
			char path[64], link[64];
			snprintf(path, sizeof(path), "/proc/self/task/%d/fd/%d", (int)p.tid, p.extra[i]);
			ssize_t l = readlink(path, link, sizeof(link) - 1);
			uint32_t ino = 0;
			if (l > 0) {
				link[l] = 0;
				sscanf(link, "socket:[%u]", &ino);
			}
			size_t k = count_rec(&w, ino, getpid(), p.tid, p.extra[i]);
			found += k == 1;
			dup += k > 1;
		}
		check(p.state == 1 && r == 0 && found == (size_t)p.nextra && !dup,
		      "thread %d with %d sockets in its private table: found %zu, duplicated %zu",
		      (int)p.tid, p.nextra, found, dup);
		walk_clear(&w);
		pthread_mutex_lock(&p.m);
		p.state = 2;
		pthread_cond_broadcast(&p.cv);
		pthread_mutex_unlock(&p.m);
		pthread_join(th, NULL);
	} else {
		check(false, "start a thread");
	}
	free(p.extra);
	for (size_t i = 0; i < made; i++)
		close(fds[i]);
	free(fds);
}

/* Run the walk from a new pid namespace: we are pid 1 there, and the
 * iterator shows only the tasks of that namespace. */
static void check_pid_namespace(void)
{
	int pfd[2];
	if (pipe(pfd) < 0 || unshare(CLONE_NEWPID) < 0) {
		check(false, "unshare(CLONE_NEWPID): %s", strerror(errno));
		return;
	}
	pid_t c = fork();
	if (c == 0) {
		close(pfd[0]);
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct pw_walk w = { 0 };
		struct pw_walk_opts wo = { .proc_root = "/proc", .want_netns = true };
		int r = pw_collector_bpf.walk(&wo, &w);
		char msg[256];
		bool others = false;
		for (size_t i = 0; i < w.n_recs; i++)
			others |= w.recs[i].pid != 1;
		int len = snprintf(msg, sizeof(msg), "%d %zu %zu %u %d %d", r,
				   count_rec(&w, ino_of(s), 1, 1, s), w.n_ns, w.processes,
				   (int)getpid(), others);
		if (write(pfd[1], msg, (size_t)len) < 0)
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	char buf[256] = { 0 };
	ssize_t l = c > 0 ? read(pfd[0], buf, sizeof(buf) - 1) : -1;
	close(pfd[0]);
	if (c > 0)
		waitpid(c, NULL, 0);
	int r = -1, mypid = -1, others = 1;
	size_t hits = 0, nns = 0;
	unsigned procs = 0;
	if (l > 0)
		sscanf(buf, "%d %zu %zu %u %d %d", &r, &hits, &nns, &procs, &mypid, &others);
	check(r == 0 && mypid == 1 && hits == 1 && procs == 1 && nns == 1 && !others,
	      "walk inside a new pid namespace: r=%d, pid %d, own socket found %zu, "
	      "%u processes, %zu netns",
	      r, mypid, hits, procs, nns);
}

/* A process in another network namespace: the walk sees its socket and
 * its namespace; sockopts read from inside that namespace sees its socket
 * and none of ours. */
struct netns_read {
	int nsfd;
	uint32_t want, not_want;
	int r;
	bool found, leaked;
};

static void *netns_reader(void *arg)
{
	struct netns_read *nr = arg;
	nr->r = setns(nr->nsfd, CLONE_NEWNET) < 0 ? -errno : 0;
	if (nr->r < 0)
		return NULL;
	struct pw_bpf_sockopt *v = NULL;
	size_t n = 0;
	nr->r = pw_bpf_sockopts_read(&v, &n);
	nr->found = find_opt(v, n, nr->want) != NULL;
	nr->leaked = find_opt(v, n, nr->not_want) != NULL;
	free(v);
	return NULL;
}

static void check_other_netns(void)
{
	int up[2], down[2];
	if (pipe(up) < 0 || pipe(down) < 0) {
		check(false, "pipe");
		return;
	}
	pid_t c = fork();
	if (c == 0) {
		uint32_t msg[2] = { 0, 0 };
		if (unshare(CLONE_NEWNET) == 0) {
			int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			struct sockaddr_in a = { .sin_family = AF_INET };
			if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
				msg[0] = ino_of(s);
				msg[1] = (uint32_t)s;
			}
		}
		char x;
		if (write(up[1], msg, sizeof(msg)) != sizeof(msg) || read(down[0], &x, 1) < 0)
			_exit(1);
		_exit(0);
	}
	uint32_t msg[2] = { 0, 0 };
	if (c < 0 || read(up[0], msg, sizeof(msg)) != sizeof(msg) || !msg[0]) {
		check(false, "child in a new network namespace");
		goto out;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)c);
	struct stat st;
	uint64_t ns = stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;

	struct pw_walk w = { 0 };
	struct pw_walk_opts wo = { .proc_root = "/proc", .want_netns = true };
	int r = pw_collector_bpf.walk(&wo, &w);
	bool ns_listed = false;
	for (size_t i = 0; i < w.n_ns; i++)
		ns_listed |= w.ns[i].ino == ns && w.ns[i].pid == c;
	check(r == 0 && count_rec(&w, msg[0], c, c, (int)msg[1]) == 1 && ns_listed && ns != netns_self(),
	      "socket of PID %d in netns %llu found, namespace listed with that PID", (int)c,
	      (unsigned long long)ns);
	walk_clear(&w);

	int mine = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bind_lo4(mine, 0);
	struct netns_read nr = { .nsfd = open(path, O_RDONLY | O_CLOEXEC), .want = msg[0],
				 .not_want = ino_of(mine) };
	pthread_t th;
	if (nr.nsfd >= 0 && pthread_create(&th, NULL, netns_reader, &nr) == 0)
		pthread_join(th, NULL);
	else
		nr.r = -errno;
	check(nr.r == 0 && nr.found && !nr.leaked,
	      "sockopts inside that namespace: %d, its socket %s, ours %s", nr.r,
	      nr.found ? "seen" : "missing", nr.leaked ? "seen too" : "not seen");
	if (nr.nsfd >= 0)
		close(nr.nsfd);
	close(mine);
out:
	if (c > 0 && write(down[1], "x", 1) < 0)
		kill(c, SIGKILL);
	if (c > 0)
		waitpid(c, NULL, 0);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

/* Both walkers agree on this process's sockets. */
static void check_walkers_agree(void)
{
	int s[3];
	for (int i = 0; i < 3; i++)
		s[i] = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	/* an io_uring: both walkers mark it for userspace to read its table */
	struct io_uring_params up;
	memset(&up, 0, sizeof(up));
	int ring = (int)syscall(SYS_io_uring_setup, 4, &up);
	struct pw_walk a = { 0 }, b = { 0 };
	struct pw_walk_opts wo = { .proc_root = "/proc", .want_netns = true };
	pw_bpf_set_walker(PW_BPF_WALKER_TASK_FILE);
	int ra = pw_collector_bpf.walk(&wo, &a);
	const char *na = pw_bpf_walker_name();
	pw_bpf_set_walker(PW_BPF_WALKER_TASK);
	int rb = pw_collector_bpf.walk(&wo, &b);
	const char *nb = pw_bpf_walker_name();
	pw_bpf_set_walker(PW_BPF_WALKER_AUTO);
	size_t mine_a = 0, mine_b = 0, same = 0;
	for (size_t i = 0; i < a.n_recs; i++) {
		if (a.recs[i].pid != getpid() || a.recs[i].via != PW_VIA_FD)
			continue;
		mine_a++;
		same += count_rec(&b, a.recs[i].inode, a.recs[i].pid, a.recs[i].tid,
				  a.recs[i].fd) == 1;
	}
	for (size_t i = 0; i < b.n_recs; i++)
		mine_b += b.recs[i].pid == getpid() && b.recs[i].via == PW_VIA_FD;
	size_t ring_a = 0, ring_b = 0, me_a = 0, me_b = 0;
	for (size_t i = 0; i < a.n_recs; i++)
		ring_a += a.recs[i].pid == getpid() && a.recs[i].via == PW_FDREC_RING &&
			  a.recs[i].fd == ring && a.recs[i].inode == 0;
	for (size_t i = 0; i < b.n_recs; i++)
		ring_b += b.recs[i].pid == getpid() && b.recs[i].via == PW_FDREC_RING &&
			  b.recs[i].fd == ring && b.recs[i].inode == 0;
	for (size_t i = 0; i < a.n_visited; i++)
		me_a += a.visited[i] == getpid();
	for (size_t i = 0; i < b.n_visited; i++)
		me_b += b.visited[i] == getpid();
	check(ring >= 0 && ring_a == 1 && ring_b == 1,
	      "both walkers mark our io_uring (fd %d) once: task_file %zu, task %zu", ring, ring_a,
	      ring_b);
	check(a.visited_known && b.visited_known && me_a == 1 && me_b == 1,
	      "both walkers list our PID as visited once: task_file %zu, task %zu", me_a, me_b);
	check(ra == 0 && rb == 0 && na && nb && !strcmp(na, "task_file") && !strcmp(nb, "task") &&
		      mine_a >= 3 && mine_a == mine_b && same == mine_a,
	      "task_file (%d) and task (%d) walkers agree on our %zu/%zu socket fds", ra, rb,
	      mine_a, mine_b);
	bool ns_ok = a.n_ns > 0 && b.n_ns > 0;
	for (size_t i = 0; i < a.n_ns && ns_ok; i++) {
		bool hit = false;
		for (size_t j = 0; j < b.n_ns; j++)
			hit |= a.ns[i].ino == b.ns[j].ino;
		ns_ok = hit;
	}
	check(ns_ok, "namespaces seen by task_file (%zu) are seen by task (%zu)", a.n_ns, b.n_ns);
	walk_clear(&a);
	walk_clear(&b);
	for (int i = 0; i < 3; i++)
		close(s[i]);
	if (ring >= 0)
		close(ring);
}

static int bench(const char *walker, int threads, bool walk, bool sockopts, int repeat)
{
	if (walker && !strcmp(walker, "task"))
		pw_bpf_set_walker(PW_BPF_WALKER_TASK);
	else if (walker && !strcmp(walker, "task_file"))
		pw_bpf_set_walker(PW_BPF_WALKER_TASK_FILE);
	int r = 0;
	for (int i = 0; walk && i < repeat && r == 0; i++) {
		struct pw_walk w = { 0 };
		struct pw_walk_opts wo = { .proc_root = "/proc", .threads = threads,
					   .want_netns = true };
		double t0 = now_ms();
		r = pw_collector_bpf.walk(&wo, &w);
		printf("walk (%s): %d, %zu socket fds, %u processes, %zu netns, %.1f ms\n",
		       pw_bpf_walker_name() ? pw_bpf_walker_name() : "-", r, w.n_recs,
		       w.processes, w.n_ns, now_ms() - t0);
		walk_clear(&w);
	}
	for (int i = 0; sockopts && i < repeat && r == 0; i++) {
		struct pw_bpf_sockopt *v = NULL;
		size_t n = 0;
		double t0 = now_ms();
		r = pw_bpf_sockopts_read(&v, &n);
		printf("sockopts: %d, %zu sockets, %.1f ms\n", r, n, now_ms() - t0);
		free(v);
	}
	return r == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bench", no_argument, NULL, 'b' },
		{ "walker", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' },
		{ "sockopts", no_argument, NULL, 's' },
		{ "no-walk", no_argument, NULL, 'n' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool do_bench = false, sockopts = false, walk = true;
	const char *walker = NULL;
	int threads = 0, repeat = 1, c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			do_bench = true;
			break;
		case 'w':
			walker = optarg;
			break;
		case 't':
			threads = atoi(optarg);
			break;
		case 's':
			sockopts = true;
			break;
		case 'n':
			walk = false;
			break;
		case 'r':
			repeat = atoi(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: %s [--bench [--walker task|task_file] [--threads N] "
				"[--sockopts] [--no-walk] [--repeat N]]\n",
				argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (do_bench)
		return bench(walker, threads, walk, sockopts, repeat);

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("pw-bpf-selftest needs root\n0 passed, 1 failed\n");
		return 1;
	}
	double t0 = now_ms();
	struct pw_walk w = { 0 };
	struct pw_walk_opts wo = { .proc_root = "/proc" };
	int r = pw_collector_bpf.walk(&wo, &w);
	check(r == 0, "first walk (loads the programs): %d, %s, %.1f ms", r,
	      pw_bpf_walker_name() ? pw_bpf_walker_name() : "-", now_ms() - t0);
	walk_clear(&w);
	if (r == 0) {
		check_sockopts();
		check_private_table();
		check_big_table();
		check_walkers_agree();
		check_other_netns();
		check_pid_namespace(); /* last: leaves us in a new pid namespace for children */
	}
	pw_bpf_release();
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
