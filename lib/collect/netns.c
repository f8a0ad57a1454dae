/* SPDX-License-Identifier: MIT */
/* Finding and entering network namespaces. sock_diag answers for the
 * namespace its netlink socket was created in, so we visit each one. */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>

#include "internal.h"

uint64_t pw_netns_current(void)
{
	struct stat st;
	if (stat("/proc/thread-self/ns/net", &st) < 0 && stat("/proc/self/ns/net", &st) < 0)
		return 0;
	return st.st_ino;
}

int pw_netns_add_bound(const char *dir, struct pw_walk *w)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue;
		bool dup = false;
		for (size_t i = 0; i < w->n_ns && !dup; i++)
			dup = w->ns[i].ino == st.st_ino;
		if (dup)
			continue;
		char *path;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0 ||
		    PW_GROW(w->ns, w->cap_ns, w->n_ns + 1) < 0) {
			r = -ENOMEM;
			break;
		}
		w->ns[w->n_ns++] = (struct pw_nsref){ .ino = st.st_ino, .path = path };
	}
	closedir(d);
	return r;
}

int pw_netns_enter(int procfd, const struct pw_nsref *ref, int *ret_orig)
{
	char buf[48];
	_cleanup_close_ int fd = -EBADF;
	if (ref->path) {
		fd = open(ref->path, O_RDONLY | O_CLOEXEC);
	} else {
		snprintf(buf, sizeof(buf), "%d/ns/net", ref->pid);
		fd = openat(procfd, buf, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (ref->ino && st.st_ino != ref->ino)
		return -ESRCH; /* the process left, its pid now names another */
	_cleanup_close_ int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		return -errno;
	*ret_orig = TAKE_FD(orig);
	return 0;
}

int pw_netns_leave(int orig)
{
	int r = setns(orig, CLONE_NEWNET) < 0 ? -errno : 0;
	close(orig);
	return r;
}
