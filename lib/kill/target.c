/* SPDX-License-Identifier: MIT */
/*
 * portwho kill: who is asking, and the processes it may signal: pidfds
 * opened and checked against the scan's start time, signals sent through
 * them (include/portwho-kill.h). The decision itself is signal.c.
 */
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "internal.h"
#include "portwho-kill.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* ---- who is asking --------------------------------------------------------- */

int pw_caller_read(struct pw_caller *ret)
{
	uid_t r, e, s;
	if (getresuid(&r, &e, &s) < 0)
		return -errno;
	bool cap = pw_have_cap(CAP_KILL);
	*ret = (struct pw_caller){.pid = getpid(), .ruid = r, .euid = e, .cap_kill = cap};
	return 0;
}

int pw_proc_is_ours(const char *proc_root)
{
	char path[64], link[32];
	snprintf(path, sizeof(path), "%s/self", proc_root ? proc_root : "/proc");
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno; /* no "self": we are not in its namespace */
	link[n] = '\0';
	char want[16];
	snprintf(want, sizeof(want), "%d", (int)getpid());
	return strcmp(link, want) == 0;
}

bool pw_may_signal(const struct pw_caller *c, uid_t t_ruid, uid_t t_suid)
{
	/* kernel/signal.c kill_ok_by_cred() */
	return c->cap_kill || c->euid == t_suid || c->euid == t_ruid || c->ruid == t_suid ||
	       c->ruid == t_ruid;
}

/* ---- pidfds ------------------------------------------------------------------ */

int pw_parse_status_uids(const char *buf, uid_t ret[4])
{
	if (!buf)
		return -EINVAL;
	const char *p = strstr(buf, "\nUid:");
	if (p)
		p += 5;
	else if (!strncmp(buf, "Uid:", 4))
		p = buf + 4;
	else
		return -ENOENT;
	uid_t v[4];
	for (int i = 0; i < 4; i++) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		uint64_t x = 0;
		for (; *p >= '0' && *p <= '9'; p++) {
			x = x * 10 + (uint64_t)(*p - '0');
			if (x >= UINT32_MAX) /* (uid_t)-1 is no uid */
				return -EINVAL;
		}
		v[i] = (uid_t)x;
	}
	if (*p != '\n' && *p != '\0')
		return -EINVAL;
	memcpy(ret, v, sizeof(v));
	return 0;
}

int pw_parse_fdinfo_pid(const char *buf, pid_t *ret)
{
	if (!buf)
		return -EINVAL;
	const char *p = strstr(buf, "\nPid:");
	if (p)
		p += 5;
	else if (!strncmp(buf, "Pid:", 4))
		p = buf + 4;
	else
		return -ENOENT;
	while (*p == ' ' || *p == '\t')
		p++;
	bool neg = *p == '-';
	if (neg)
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	int64_t v = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > INT32_MAX)
			return -EINVAL;
	}
	if (*p != '\n' && *p != '\0')
		return -EINVAL;
	*ret = (pid_t)(neg ? -v : v);
	return 0;
}

int pw_target_exited(int pidfd)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
	int r = poll(&pfd, 1, 0);
	if (r < 0)
		return -errno;
	return r > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR));
}

int pw_target_signal(int pidfd, int sig)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

static bool gone_errno(int r)
{
	return r == -ENOENT || r == -ESRCH;
}

int pw_target_open(const char *proc_root, pid_t pid, uint64_t start_time, int *ret_pidfd,
		   struct pw_target_facts *ret_facts)
{
	struct pw_target_facts f = {0};
	if (pid <= 0)
		return -EINVAL;
	_cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0) {
		if (errno != ESRCH)
			return -errno;
		f.gone = true;
		goto out;
	}

	char path[64];
	_cleanup_free_ char *buf = NULL;
	size_t len;
	const char *root = proc_root ? proc_root : "/proc";
	/* the pidfd's PID as /proc numbers it: another number means /proc belongs
	 * to another PID namespace, and its PIDs must not pick what we signal */
	snprintf(path, sizeof(path), "%s/self/fdinfo/%d", root, pfd);
	int r = pw_read_file_at(AT_FDCWD, path, 4096, &buf, &len);
	pid_t seen;
	if (r == 0 && pw_parse_fdinfo_pid(buf, &seen) == 0) {
		if (seen == -1) {
			f.gone = true;
			goto out;
		}
		if (seen != pid)
			return -EXDEV;
	}
	free(buf);
	buf = NULL;

	snprintf(path, sizeof(path), "%s/%d/stat", root, (int)pid);
	r = pw_read_file_at(AT_FDCWD, path, 4096, &buf, &len);
	if (gone_errno(r)) {
		f.gone = true;
		goto out;
	}
	if (r < 0)
		return r;
	_cleanup_free_ char *comm = NULL;
	pid_t ppid;
	uint64_t start;
	r = pw_parse_stat(buf, len, &comm, &ppid, &start);
	if (r < 0)
		return r;
	if (start != start_time) {
		/* the scan's process exited and its PID went to another */
		f.gone = true;
		goto out;
	}
	free(buf);
	buf = NULL;
	snprintf(path, sizeof(path), "%s/%d/status", root, (int)pid);
	r = pw_read_file_at(AT_FDCWD, path, 16384, &buf, &len);
	uid_t u[4];
	if (r == 0 && pw_parse_status_uids(buf, u) == 0) {
		f.uids_known = true;
		f.ruid = u[0];
		f.suid = u[2];
	}
	/* /proc named the pidfd's process only if that one still runs now */
	r = pw_target_exited(pfd);
	if (r < 0)
		return r;
	if (r > 0)
		f.gone = true;
out:
	if (f.gone) {
		f.uids_known = false;
		*ret_pidfd = -EBADF;
	} else {
		*ret_pidfd = TAKE_FD(pfd);
	}
	*ret_facts = f;
	return 0;
}
