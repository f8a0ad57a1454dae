/* SPDX-License-Identifier: MIT */
/*
 * The trial of `portwho check` — the only change portwho ever makes — and the
 * facts of a target network namespace. Both run in a forked child when they
 * need another namespace or another user, so the caller's own namespace and
 * credentials never change. The child makes syscalls only (no malloc, no
 * stdio) and leaves with _exit().
 */
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "portwho-check.h"
#include "internal.h"

#define TRIAL_TIMEOUT_MS 2000

enum step {
	STEP_NONE,
	STEP_SETNS,
	STEP_SETUID,
	STEP_SOCKET,
	STEP_SETSOCKOPT,
	STEP_BIND,
	STEP_LISTEN,
};

static const char *const step_names[] = {
    [STEP_NONE] = NULL,	      [STEP_SETNS] = "setns",		[STEP_SETUID] = "setuid",
    [STEP_SOCKET] = "socket", [STEP_SETSOCKOPT] = "setsockopt", [STEP_BIND] = "bind",
    [STEP_LISTEN] = "listen",
};

struct report {
	int err;
	int step; /* enum step that failed, STEP_NONE on success */
};

static void sockaddr_of(const struct pw_addr *a, uint16_t port, struct sockaddr_storage *ss,
			socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a->bytes, 4);
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, a->bytes, 16);
		*len = sizeof(*in6);
	}
}

static int sock_type(uint8_t proto)
{
	return proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
}

static uint64_t ns_inode(const char *path)
{
	struct stat st;
	return stat(path, &st) < 0 ? 0 : st.st_ino;
}

/* A path naming the namespace we are already in needs no setns (and no root). */
static bool is_current_ns(const char *path)
{
	return !path || (ns_inode(path) && ns_inode(path) == pw_netns_current());
}

/* In the child: enter the namespace. Returns 0 or -errno. */
static int child_setns(const char *path)
{
	if (!path)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int setopt(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v)) < 0 ? -errno : 0;
}

static struct report child_trial(const struct pw_trial_request *q)
{
	struct report rep = {0};
	int r = child_setns(q->netns_path);
	if (r < 0)
		return (struct report){-r, STEP_SETNS};
	if (q->switch_user) {
		if (setgroups(0, NULL) < 0 || setresgid(q->gid, q->gid, q->gid) < 0 ||
		    setresuid(q->uid, q->uid, q->uid) < 0)
			return (struct report){errno, STEP_SETUID};
	}
	int fd = socket(q->addr.family, sock_type(q->proto) | SOCK_CLOEXEC, q->proto);
	if (fd < 0)
		return (struct report){errno, STEP_SOCKET};
	r = setopt(fd, SOL_SOCKET, SO_REUSEADDR, q->reuseaddr);
	if (r >= 0)
		r = setopt(fd, SOL_SOCKET, SO_REUSEPORT, q->reuseport);
	if (r >= 0 && q->addr.family == AF_INET6)
		r = setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, q->v6only);
	if (r >= 0 && q->ifname)
		r = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, q->ifname,
			       (socklen_t)strlen(q->ifname)) < 0
			? -errno
			: 0;
	if (r < 0) {
		close(fd);
		return (struct report){-r, STEP_SETSOCKOPT};
	}
	struct sockaddr_storage ss;
	socklen_t len;
	sockaddr_of(&q->addr, q->port, &ss, &len);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		rep = (struct report){errno, STEP_BIND};
	else if (q->listen && listen(fd, 1) < 0)
		rep = (struct report){errno, STEP_LISTEN};
	close(fd); /* the trial socket's whole life ends here */
	return rep;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read exactly len bytes from fd before the deadline: 0, -ETIMEDOUT, -EPIPE. */
static int read_all(int fd, void *buf, size_t len, int64_t deadline)
{
	char *p = buf;
	while (len) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0)
			return -ETIMEDOUT;
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE; /* the child died without reporting */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Run fn(arg, out) in a child and collect len bytes of its report. */
static int run_child(void (*fn)(const void *arg, void *out), const void *arg, void *out, size_t len,
		     int timeout_ms)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(p[0]);
		close(p[1]);
		return e;
	}
	if (pid == 0) {
		close(p[0]);
		fn(arg, out);
		_exit(write_all(p[1], out, len) < 0 ? 1 : 0);
	}
	close(p[1]);
	int r = read_all(p[0], out, len, now_ms() + timeout_ms);
	close(p[0]);
	if (r < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return r;
}

static void trial_fn(const void *arg, void *out)
{
	*(struct report *)out = child_trial(arg);
}

int pw_trial_run(const struct pw_trial_request *req, struct pw_trial_result *ret)
{
	if (req->addr.family != AF_INET && req->addr.family != AF_INET6)
		return -EAFNOSUPPORT;
	struct pw_trial_request q = *req;
	if (is_current_ns(q.netns_path))
		q.netns_path = NULL;
	if (q.switch_user && q.uid == geteuid() && q.gid == getegid())
		q.switch_user = false;
	if (geteuid() != 0 && (q.switch_user || q.netns_path))
		return -EPERM; /* not root: a trial only as yourself, where you are */

	struct report rep;
	int r = run_child(trial_fn, &q, &rep, sizeof(rep),
			  q.timeout_ms > 0 ? q.timeout_ms : TRIAL_TIMEOUT_MS);
	if (r < 0)
		return r;
	if (rep.step < STEP_NONE || rep.step > STEP_LISTEN)
		return -EPROTO;
	*ret = (struct pw_trial_result){
	    .succeeded = rep.step == STEP_NONE,
	    .err = rep.err,
	    .step = step_names[rep.step],
	};
	return 0;
}

/* ---- facts of a namespace ---------------------------------------------------- */

struct facts_request {
	const char *netns_path;
	uint8_t proto;
	const char *ifname;
	const struct pw_addr *addr;
};

struct facts_report {
	int err; /* -errno of the whole read */
	struct pw_netns_facts f;
};

static int read_int_file(const char *path, int *ret)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	*ret = atoi(buf);
	return 0;
}

/* Can addr be bound here? IP_BIND_ADDRESS_NO_PORT makes bind() check the
 * address and stop before taking a port: nothing becomes visible. */
static int addr_bindable(uint8_t proto, const struct pw_addr *a)
{
	int fd = socket(a->family, sock_type(proto) | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return errno;
	int r = 0;
	struct sockaddr_storage ss;
	socklen_t len;
	sockaddr_of(a, 0, &ss, &len);
	if (setopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1) < 0)
		r = -1; /* unknown: do not risk taking a port */
	else if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		r = errno;
	close(fd);
	return r;
}

static void facts_here(const struct facts_request *q, struct facts_report *rep)
{
	struct pw_netns_facts *f = &rep->f;
	f->netns = pw_netns_current();
	rep->err = pw_netns_sysctl_read(NULL, &f->sysctl);
	if (rep->err < 0)
		return;
	if (read_int_file("/proc/sys/net/ipv6/bindv6only", &f->bindv6only) < 0)
		f->bindv6only = 0; /* no IPv6 here: the default */
	f->ifindex = q->ifname ? if_nametoindex(q->ifname) : 0;
	f->addr_err = q->addr ? addr_bindable(q->proto, q->addr) : 0;
}

static void facts_fn(const void *arg, void *out)
{
	const struct facts_request *q = arg;
	struct facts_report *rep = out;
	memset(rep, 0, sizeof(*rep));
	int r = child_setns(q->netns_path);
	if (r < 0) {
		rep->err = r;
		return;
	}
	facts_here(q, rep);
}

int pw_netns_facts_read(const char *netns_path, uint8_t proto, const char *ifname,
			const struct pw_addr *addr, struct pw_netns_facts *ret)
{
	struct facts_request q = {netns_path, proto, ifname, addr};
	_cleanup_free_ struct facts_report *rep = calloc(1, sizeof(*rep));
	if (!rep)
		return -ENOMEM;
	if (is_current_ns(netns_path)) {
		q.netns_path = NULL;
		facts_here(&q, rep);
	} else {
		if (geteuid() != 0)
			return -EPERM; /* setns needs CAP_SYS_ADMIN */
		int r = run_child(facts_fn, &q, rep, sizeof(*rep), TRIAL_TIMEOUT_MS);
		if (r < 0)
			return r;
	}
	if (rep->err < 0)
		return rep->err;
	if (rep->f.addr_err < 0)
		rep->f.addr_err = 0; /* could not check: let the trial tell */
	*ret = rep->f;
	return 0;
}
