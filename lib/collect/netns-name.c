/* SPDX-License-Identifier: MIT */
/*
 * One name for each network namespace in a snapshot (PRODUCT.md
 * "Namespaces"): the /run/netns name, else the container living in it
 * ("docker:web"), else "host" for the initial namespace, else "pid:N" for a
 * process inside. The initial namespace is the one kernel thread 2
 * (kthreadd) lives in: /proc/1/ns is refused here (KERNEL.md §8).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "internal.h"

static uint64_t initial_netns(int procfd)
{
	struct stat st;
	if (fstatat(procfd, "2/ns/net", &st, 0) == 0)
		return st.st_ino;
	if (fstatat(procfd, "1/ns/net", &st, 0) == 0)
		return st.st_ino;
	return 0;
}

struct bound {
	uint64_t ino;
	char *name;
};

/* Every namespace bound under dir, read once (ino, name). */
static size_t bound_read(const char *dir, struct bound **ret)
{
	*ret = NULL;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct bound *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue;
		char *name = strdup(de->d_name);
		if (!name || PW_GROW(v, cap, n + 1) < 0) {
			free(name);
			break;
		}
		v[n++] = (struct bound){st.st_ino, name};
	}
	closedir(d);
	*ret = v;
	return n;
}

static char *bound_name(const struct bound *v, size_t n, uint64_t ino)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].ino == ino)
			return strdup(v[i].name);
	return NULL;
}

static char *container_name(const struct pw_snapshot *snap, uint64_t ino)
{
	const struct pw_process *best = NULL;
	/* the holders, then the holders of forward targets */
	size_t n = snap->n_procs + snap->target_holders.n_procs;
	for (size_t i = 0; i < n; i++) {
		const struct pw_process *p = i < snap->n_procs
						 ? &snap->procs[i]
						 : &snap->target_holders.procs[i - snap->n_procs];
		if (p->netns != ino || !p->container)
			continue;
		/* a named container wins over an id, then the lowest PID */
		if (!best || (!best->container->name && p->container->name))
			best = p;
	}
	if (!best)
		return NULL;
	char buf[512];
	if (pw_container_label(best->container, buf, sizeof(buf)) < 0)
		return NULL;
	return strdup(buf);
}

static pid_t pid_in(const struct pw_snapshot *snap, const struct pw_walk *w, uint64_t ino)
{
	for (size_t i = 0; i < snap->n_procs; i++)
		if (snap->procs[i].netns == ino)
			return snap->procs[i].pid;
	for (size_t i = 0; w && i < w->n_ns; i++)
		if (w->ns[i].ino == ino && w->ns[i].pid > 0)
			return w->ns[i].pid;
	return 0;
}

int pw_netns_names(struct pw_snapshot *snap, const struct pw_walk *w, int procfd,
		   const char *bound_dir)
{
	if (!snap->n_netns)
		return 0;
	snap->netns_names = calloc(snap->n_netns, sizeof(char *));
	if (!snap->netns_names)
		return -ENOMEM;
	uint64_t init = initial_netns(procfd);
	struct bound *bv;
	size_t nb = bound_read(bound_dir, &bv);
	for (size_t i = 0; i < snap->n_netns; i++) {
		uint64_t ino = snap->netns_ids[i];
		char *n = bound_name(bv, nb, ino);
		if (!n)
			n = container_name(snap, ino);
		if (!n && ino == init)
			n = strdup("host");
		pid_t pid;
		if (!n && (pid = pid_in(snap, w, ino)) > 0 && asprintf(&n, "pid:%d", (int)pid) < 0)
			n = NULL;
		snap->netns_names[i] = n; /* NULL: nothing says (a path given by -N) */
	}
	for (size_t i = 0; i < nb; i++)
		free(bv[i].name);
	free(bv);
	for (size_t i = 0; i < snap->n_groups; i++) {
		struct pw_port_group *g = &snap->groups[i];
		g->netns_name = pw_snapshot_netns_name(snap, g->netns);
		g->netns_current = g->netns == snap->netns_current;
		for (size_t j = 0; j < g->n_forwards; j++)
			g->forwards[j].to_netns_name =
			    pw_snapshot_netns_name(snap, g->forwards[j].to_netns);
	}
	return 0;
}

const char *pw_snapshot_netns_name(const struct pw_snapshot *snap, uint64_t netns)
{
	for (size_t i = 0; snap->netns_names && i < snap->n_netns; i++)
		if (snap->netns_ids[i] == netns)
			return snap->netns_names[i];
	return NULL;
}

uint64_t pw_snapshot_netns_current(const struct pw_snapshot *snap)
{
	return snap->netns_current;
}
