/* SPDX-License-Identifier: MIT */
/* Finding and entering network namespaces. sock_diag answers for the
 * namespace its netlink socket was created in, so we visit each one. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "internal.h"

uint64_t pw_netns_current(void)
{
	struct stat st;
	if (stat("/proc/thread-self/ns/net", &st) < 0 && stat("/proc/self/ns/net", &st) < 0)
		return 0;
	return st.st_ino;
}

int pw_nsref_hold(struct pw_nsref *ref, int dirfd, const char *path, uint64_t ino)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (ino && st.st_ino != ino)
		return -ESRCH; /* the pid now names another process */
	pw_nsref_release(ref);
	ref->ino = st.st_ino;
	ref->fd = TAKE_FD(fd);
	ref->held = true;
	return 0;
}

size_t pw_nsref_budget(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 1024;
	return rl.rlim_cur > 64 ? (size_t)(rl.rlim_cur - 64) : 0;
}

void pw_nsref_release(struct pw_nsref *ref)
{
	if (ref->held)
		close(ref->fd);
	ref->held = false;
	ref->fd = -EBADF;
}

/* A bound namespace already found through a process is not a duplicate to
 * drop: when that process could not be held, the bind mount is the way in. */
int pw_netns_add_bound(const char *dir, struct pw_walk *w)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *de;
	int r = 0;
	size_t budget = pw_nsref_budget(), held = 0;
	for (size_t i = 0; i < w->n_ns; i++)
		held += w->ns[i].held;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue;
		struct pw_nsref *known = NULL;
		for (size_t i = 0; i < w->n_ns && !known; i++)
			if (w->ns[i].ino == st.st_ino)
				known = &w->ns[i];
		if (known && (known->held || known->path))
			continue;
		char *path;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			r = -ENOMEM;
			break;
		}
		if (!known) {
			if (PW_GROW(w->ns, w->cap_ns, w->n_ns + 1) < 0) {
				free(path);
				r = -ENOMEM;
				break;
			}
			known = &w->ns[w->n_ns++];
			*known = (struct pw_nsref){.ino = st.st_ino, .fd = -EBADF};
		}
		known->path = path;
		/* held now: deleting the name later (ip netns del) cannot lose it */
		if (held < budget && pw_nsref_hold(known, dirfd(d), de->d_name, st.st_ino) == 0)
			held++;
	}
	closedir(d);
	return r;
}

struct ns_job {
	int fd;
	uint64_t ino;
	int (*fn)(uint64_t netns, void *arg);
	void *arg;
	int r;
};

static void *ns_thread(void *p)
{
	struct ns_job *j = p;
	j->r = setns(j->fd, CLONE_NEWNET) < 0 ? -errno : j->fn(j->ino, j->arg);
	return NULL; /* the thread ends inside; nothing to switch back */
}

int pw_netns_run(int procfd, const struct pw_nsref *ref, int (*fn)(uint64_t netns, void *arg),
		 void *arg)
{
	char buf[48];
	_cleanup_close_ int opened = -EBADF;
	int fd = ref->held ? ref->fd : -EBADF;
	if (fd < 0) {
		if (ref->path) {
			opened = open(ref->path, O_RDONLY | O_CLOEXEC);
		} else {
			snprintf(buf, sizeof(buf), "%d/ns/net", ref->pid);
			opened = openat(procfd, buf, O_RDONLY | O_CLOEXEC);
		}
		if (opened < 0)
			return -errno;
		struct stat st;
		if (fstat(opened, &st) < 0)
			return -errno;
		if (ref->ino && st.st_ino != ref->ino)
			return -ESRCH; /* the process left, its pid now names another */
		fd = opened;
	}
	struct ns_job j = {fd, ref->ino, fn, arg, 0};
	pthread_t t;
	int e = pthread_create(&t, NULL, ns_thread, &j);
	if (e)
		return -e;
	pthread_join(t, NULL);
	return j.r;
}
