/* SPDX-License-Identifier: MIT */
/* Process facts for watch events, read from /proc once per PID. A busy port
 * sees the same few processes again and again; a PID that exec'd or was
 * reused shows another comm in the kernel's record and is read again.
 *
 * Containers are named as a snapshot names them (lib/collect/container.c),
 * but once per container id: the runtime (Docker's API, podman's conmon,
 * kubelet's logs) is asked for a new id only, later PIDs in that container
 * copy the answer. Namespace names (lib/collect/netns-name.c) are read once
 * per namespace. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watch-int.h"

#define WPROCS_MAX 1024 /* forget everything beyond this: a cache, not a table */

struct wproc {
	pid_t pid;
	char kcomm[16]; /* the kernel's comm when it was read */
	bool ok;	/* p holds facts; false: the process could not be read */
	struct pw_process p;
};

struct wns {
	uint64_t ino;
	char *name;
};

struct pw_wprocs {
	int procfd;
	struct wproc *v;
	size_t n, cap;
	struct pw_container *ctr; /* every container seen, named or not */
	size_t n_ctr, cap_ctr;
	struct wns *ns; /* namespaces named so far */
	size_t n_ns, cap_ns;
};

int pw_wprocs_new(struct pw_wprocs **ret)
{
	struct pw_wprocs *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->procfd < 0) {
		int r = -errno;
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

static void forget_all(struct pw_wprocs *c)
{
	for (size_t i = 0; i < c->n; i++)
		pw_process_clear(&c->v[i].p);
	c->n = 0;
}

void pw_wprocs_free(struct pw_wprocs *c)
{
	if (!c)
		return;
	forget_all(c);
	free(c->v);
	for (size_t i = 0; i < c->n_ctr; i++)
		pw_container_clear(&c->ctr[i]);
	free(c->ctr);
	for (size_t i = 0; i < c->n_ns; i++)
		free(c->ns[i].name);
	free(c->ns);
	if (c->procfd >= 0)
		close(c->procfd);
	free(c);
}

static int dup_str(char **to, const char *from)
{
	if (!from)
		return 0;
	*to = strdup(from);
	return *to ? 0 : -ENOMEM;
}

/* to (same runtime and id) takes from's names */
static int copy_names(struct pw_container *to, const struct pw_container *from)
{
	if (to->name || !from->name)
		return 0;
	to->source = from->source;
	int r = dup_str(&to->name, from->name);
	if (r >= 0 && !to->pod_namespace)
		r = dup_str(&to->pod_namespace, from->pod_namespace);
	if (r >= 0 && !to->pod_name)
		r = dup_str(&to->pod_name, from->pod_name);
	if (r >= 0 && !to->pod_uid)
		r = dup_str(&to->pod_uid, from->pod_uid);
	return r;
}

static struct pw_container *known(struct pw_wprocs *c, const struct pw_container *ct)
{
	for (size_t i = 0; i < c->n_ctr; i++)
		if (c->ctr[i].runtime == ct->runtime && !strcmp(c->ctr[i].id, ct->id))
			return &c->ctr[i];
	return NULL;
}

/* Remember a container (as named now: the runtime is not asked again). */
static void remember(struct pw_wprocs *c, const struct pw_container *ct)
{
	if (c->n_ctr >= WPROCS_MAX || PW_GROW(c->ctr, c->cap_ctr, c->n_ctr + 1) < 0)
		return;
	struct pw_container *k = &c->ctr[c->n_ctr];
	*k = (struct pw_container){.runtime = ct->runtime};
	if (dup_str(&k->id, ct->id) < 0 || copy_names(k, ct) < 0) {
		pw_container_clear(k);
		return;
	}
	c->n_ctr++;
}

/* p's container, named: from the cache when its id was seen, else as a
 * snapshot names it (nspawn/LXC from the init, the runtime asked). */
static void name_container(struct pw_wprocs *c, struct pw_process *p)
{
	struct pw_container *k = p->container ? known(c, p->container) : NULL;
	if (k) {
		(void)copy_names(p->container, k); /* -ENOMEM: stays unnamed */
		return;
	}
	struct pw_snapshot one = {.procs = p, .n_procs = 1};
	if (pw_containers_resolve(&one, c->procfd) < 0 || !p->container)
		return;
	if (!known(c, p->container))
		remember(c, p->container);
}

const char *pw_wprocs_netns_name(struct pw_wprocs *c, uint64_t netns, const struct pw_process *p)
{
	if (!netns)
		return NULL;
	for (size_t i = 0; i < c->n_ns; i++)
		if (c->ns[i].ino == netns)
			return c->ns[i].name;
	/* the snapshot's rules over this one namespace and the event's
	 * process: /run/netns, its container, host, pid:N */
	struct pw_snapshot one = {.procs = (struct pw_process *)p,
				  .n_procs = p ? 1 : 0,
				  .netns_ids = &netns,
				  .n_netns = 1};
	if (p && p->netns != netns)
		one.n_procs = 0; /* a socket passed to a process elsewhere */
	if (pw_netns_names(&one, NULL, c->procfd, "/run/netns") < 0 || !one.netns_names)
		return NULL;
	char *name = one.netns_names[0];
	free(one.netns_names);
	if (!name)
		return NULL; /* nothing says yet: asked again next time */
	if (c->n_ns >= WPROCS_MAX || PW_GROW(c->ns, c->cap_ns, c->n_ns + 1) < 0) {
		free(name); /* a cache, not a table: unnamed rather than unbounded */
		return NULL;
	}
	c->ns[c->n_ns] = (struct wns){netns, name};
	return c->ns[c->n_ns++].name;
}

const struct pw_process *pw_wprocs_get(struct pw_wprocs *c, pid_t pid, const char *comm)
{
	if (pid <= 0)
		return NULL;
	struct wproc *e = NULL;
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].pid == pid) {
			e = &c->v[i];
			break;
		}
	if (e && comm && strncmp(e->kcomm, comm, sizeof(e->kcomm) - 1) != 0) {
		pw_process_clear(&e->p); /* exec or a new process with this PID */
		e->ok = false;
		e->kcomm[0] = '\0';
		e->pid = 0;
	} else if (e && e->ok) {
		return &e->p;
	}
	if (!e || !e->pid) {
		if (!e) {
			if (c->n >= WPROCS_MAX)
				forget_all(c);
			if (pw_grow((void **)&c->v, &c->cap, c->n + 1, sizeof(*c->v)) < 0)
				return NULL;
			e = &c->v[c->n++];
			*e = (struct wproc){0};
		}
		e->pid = pid;
		if (comm)
			strncpy(e->kcomm, comm, sizeof(e->kcomm) - 1);
	}
	/* gone (or hidden) processes are asked again next time: cheap, and a
	 * hidepid mount may let a later event's process through */
	e->ok = pw_process_read(c->procfd, pid, &e->p) == 0;
	if (e->ok)
		name_container(c, &e->p);
	return e->ok ? &e->p : NULL;
}
