/* SPDX-License-Identifier: MIT */
/*
 * Containers of holders: process.c found the runtime and id in each
 * process's cgroup (container-parse.c); here the runtimes are asked for
 * names, once per run and only when a container of theirs holds something:
 * Docker's API (container-docker.c), podman's store (or its conmon's -n),
 * kubelet's log directories. nspawn machines started without machined (--register=no) and
 * LXC have no cgroup of their own here: they are found from the container's
 * init (the ancestor that is PID 1 in its PID namespace), its `container=`
 * environment and, for nspawn, the nspawn process's --machine=.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <jansson.h>

#include "internal.h"

#define ENVIRON_MAX (1u << 20)
#define CMDLINE_MAX (64u << 10)
#define STORE_MAX (16u << 20)
#define MAX_DEPTH 64

/* ---- nspawn/LXC without a cgroup of their own ---------------------------- */

static int read_at(int procfd, pid_t pid, const char *file, size_t max, char **ret, size_t *ret_len)
{
	char path[64];
	snprintf(path, sizeof(path), "%d/%s", (int)pid, file);
	return pw_read_file_at(procfd, path, max, ret, ret_len);
}

static int ppid_nspid(int procfd, pid_t pid, pid_t *ret_ppid, pid_t *ret_nspid)
{
	_cleanup_free_ char *buf = NULL, *comm = NULL;
	size_t len;
	uint64_t start;
	int r = read_at(procfd, pid, "stat", 4096, &buf, &len);
	if (r < 0)
		return r;
	r = pw_parse_stat(buf, len, &comm, ret_ppid, &start);
	if (r < 0)
		return r;
	free(buf);
	buf = NULL;
	r = read_at(procfd, pid, "status", 16384, &buf, &len);
	if (r < 0)
		return r;
	return pw_parse_status_nspid(buf, ret_nspid);
}

static char *hostname_of(int procfd, pid_t init)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	if (read_at(procfd, init, "root/etc/hostname", 256, &buf, &len) < 0)
		return NULL;
	size_t n = strcspn(buf, "\n \t");
	if (!n)
		return NULL;
	return strndup(buf, n);
}

/* The container around pid found from its init; -ENOENT when none. */
int pw_container_from_init(int procfd, pid_t pid, struct pw_container *ret)
{
	pid_t cur = pid, init = 0;
	for (int depth = 0; depth < MAX_DEPTH && cur > 1; depth++) {
		pid_t ppid, nspid;
		if (ppid_nspid(procfd, cur, &ppid, &nspid) < 0)
			return -ENOENT;
		if (nspid == 1) {
			init = cur;
			break;
		}
		cur = ppid;
	}
	if (!init)
		return -ENOENT;
	_cleanup_free_ char *env = NULL, *kind = NULL;
	size_t len;
	if (read_at(procfd, init, "environ", ENVIRON_MAX, &env, &len) < 0 ||
	    pw_environ_get(env, len, "container", &kind) < 0)
		return -ENOENT;
	struct pw_container c = {0};
	if (!strcmp(kind, "systemd-nspawn")) {
		c.runtime = "nspawn";
		pid_t parent, nsp;
		_cleanup_free_ char *argv = NULL, *pcomm = NULL;
		if (ppid_nspid(procfd, init, &parent, &nsp) == 0 && parent > 1 &&
		    read_at(procfd, parent, "cmdline", CMDLINE_MAX, &argv, &len) == 0 &&
		    strstr(argv, "systemd-nspawn") && pw_nspawn_machine(argv, len, &c.name) == 0)
			c.source = "nspawn-cmdline";
	} else if (!strcmp(kind, "lxc")) {
		c.runtime = "lxc";
	} else {
		return -ENOENT; /* docker, podman, ...: their cgroup says it */
	}
	if (!c.name && (c.name = hostname_of(procfd, init)))
		c.source = "hostname";
	if (c.name && !(c.id = strdup(c.name))) {
		pw_container_clear(&c);
		return -ENOMEM;
	}
	if (!c.id && asprintf(&c.id, "init-%d", (int)init) < 0) {
		c.id = NULL;
		pw_container_clear(&c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

/* ---- podman's store ----------------------------------------------------- */

/* conmon, podman's per-container monitor and the parent of the container's
 * init, carries the container's id and name: -c ID ... -n NAME. It finds
 * the name whatever --root the store was given. */
static char *conmon_name(int procfd, pid_t pid, const char *id)
{
	pid_t cur = pid;
	for (int depth = 0; depth < MAX_DEPTH && cur > 1; depth++) {
		_cleanup_free_ char *st = NULL, *comm = NULL, *argv = NULL;
		size_t len;
		pid_t ppid;
		uint64_t start;
		if (read_at(procfd, cur, "stat", 4096, &st, &len) < 0 ||
		    pw_parse_stat(st, len, &comm, &ppid, &start) < 0)
			return NULL;
		if (strcmp(comm, "conmon")) {
			cur = ppid;
			continue;
		}
		if (read_at(procfd, cur, "cmdline", CMDLINE_MAX, &argv, &len) < 0)
			return NULL;
		const char *name = NULL, *cid = NULL, *end = argv + len;
		for (const char *a = argv; a < end; a += strlen(a) + 1) {
			const char *next = a + strlen(a) + 1;
			if (next >= end)
				break;
			if (!strcmp(a, "-n") || !strcmp(a, "--name"))
				name = next;
			else if (!strcmp(a, "-c") || !strcmp(a, "--cid"))
				cid = next;
		}
		return name && *name && cid && !strcmp(cid, id) ? strdup(name) : NULL;
	}
	return NULL;
}

static void podman_names(struct pw_snapshot *snap, int procfd)
{
	static const char *const stores[] = {
	    "/var/lib/containers/storage/overlay-containers/containers.json",
	    "/var/lib/containers/storage/vfs-containers/containers.json",
	};
	for (size_t k = 0; k < ARRAY_SIZE(stores); k++) {
		json_t *doc = json_load_file(stores[k], 0, NULL);
		if (!doc)
			continue;
		size_t i;
		json_t *e;
		json_array_foreach(doc, i, e)
		{
			const char *id = json_string_value(json_object_get(e, "id"));
			const char *name =
			    json_string_value(json_array_get(json_object_get(e, "names"), 0));
			if (!id || !name)
				continue;
			for (size_t j = 0; j < snap->n_procs; j++) {
				struct pw_container *c = snap->procs[j].container;
				if (c && !c->name && !strcmp(c->runtime, "podman") &&
				    !strcmp(c->id, id) && (c->name = strdup(name)))
					c->source = "podman-store";
			}
		}
		json_decref(doc);
	}
	for (size_t j = 0; j < snap->n_procs; j++) {
		struct pw_container *c = snap->procs[j].container;
		if (c && !c->name && !strcmp(c->runtime, "podman") &&
		    (c->name = conmon_name(procfd, snap->procs[j].pid, c->id)))
			c->source = "podman-conmon";
	}
}

/* ---- kubelet's log directories ------------------------------------------ */

/* "NS_NAME_UID" -> its three parts; false when it has another shape */
static bool split3(const char *s, char **a, char **b, const char **c)
{
	const char *u1 = strchr(s, '_');
	const char *u2 = u1 ? strchr(u1 + 1, '_') : NULL;
	if (!u1 || !u2 || u1 == s || u2 == u1 + 1 || !u2[1])
		return false;
	*a = strndup(s, (size_t)(u1 - s));
	*b = strndup(u1 + 1, (size_t)(u2 - u1 - 1));
	*c = u2 + 1;
	return *a && *b;
}

int pw_k8s_name(const char *log_root, struct pw_container *c)
{
	if (!c->pod_uid && !c->id)
		return -ENOENT;
	char path[4096];
	int found = -ENOENT;
	snprintf(path, sizeof(path), "%s/pods", log_root);
	DIR *d = c->pod_uid ? opendir(path) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char *ns = NULL, *name = NULL;
		const char *uid;
		if (de->d_name[0] != '.' && split3(de->d_name, &ns, &name, &uid) &&
		    !strcmp(uid, c->pod_uid)) {
			free(c->pod_namespace);
			free(c->pod_name);
			c->pod_namespace = ns;
			c->pod_name = name;
			c->source = "kubelet-logs";
			found = 0;
			break;
		}
		free(ns);
		free(name);
	}
	if (d)
		closedir(d);
	/* containers/POD_NS_CONTAINER-ID.log names the container */
	snprintf(path, sizeof(path), "%s/containers", log_root);
	d = c->id && !c->name ? opendir(path) : NULL;
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name), k = strlen(c->id);
		if (n < k + 5 || strcmp(de->d_name + n - 4, ".log") ||
		    memcmp(de->d_name + n - 4 - k, c->id, k) || de->d_name[n - 5 - k] != '-')
			continue;
		const char *u = memrchr(de->d_name, '_', n - 5 - k);
		if (u && (c->name = strndup(u + 1, (size_t)(de->d_name + n - 5 - k - u - 1))))
			found = 0;
		break;
	}
	if (d)
		closedir(d);
	return found;
}

/* ---- the pass ------------------------------------------------------------ */

static int copy_k8s(const struct pw_container *from, struct pw_container *to)
{
	to->pod_namespace = from->pod_namespace ? strdup(from->pod_namespace) : NULL;
	to->pod_name = from->pod_name ? strdup(from->pod_name) : NULL;
	to->name = from->name ? strdup(from->name) : NULL;
	to->source = from->source;
	if ((from->pod_namespace && !to->pod_namespace) || (from->pod_name && !to->pod_name) ||
	    (from->name && !to->name))
		return -ENOMEM;
	return 0;
}

int pw_containers_resolve(struct pw_snapshot *snap, int procfd)
{
	bool docker = false, podman = false;
	for (size_t i = 0; i < snap->n_procs; i++) {
		struct pw_process *p = &snap->procs[i];
		if (!p->facts_read)
			continue;
		if (!p->container && p->nspid > 0 && p->nspid != p->pid) {
			struct pw_container c;
			if (pw_container_from_init(procfd, p->pid, &c) == 0) {
				p->container = malloc(sizeof(c));
				if (!p->container) {
					pw_container_clear(&c);
					return -ENOMEM;
				}
				*p->container = c;
			}
		}
		struct pw_container *c = p->container;
		if (!c || c->name)
			continue;
		if (c->pod_uid) {
			/* once per container: another holder of it may be named */
			const struct pw_container *same = NULL;
			for (size_t j = 0; j < i && !same; j++) {
				const struct pw_container *o = snap->procs[j].container;
				if (o && o->pod_name && !strcmp(o->id, c->id))
					same = o;
			}
			if (same) {
				int r = copy_k8s(same, c);
				if (r < 0)
					return r;
			} else {
				(void)pw_k8s_name("/var/log", c);
			}
		} else if (!strcmp(c->runtime, "docker"))
			docker = true;
		else if (!strcmp(c->runtime, "podman"))
			podman = true;
	}
	if (docker)
		pw_docker_names(snap, procfd);
	if (podman)
		podman_names(snap, procfd);
	return 0;
}

/* The processes holding forward targets (snap->target_holders) are named
 * after the holders: a container some holder is in gives its names, the
 * runtimes are asked only for the others. */
int pw_containers_resolve_targets(struct pw_snapshot *snap, int procfd)
{
	struct pw_holderset *t = &snap->target_holders;
	for (size_t i = 0; i < t->n_procs; i++) {
		struct pw_container *c = t->procs[i].container;
		if (!c || c->name || c->pod_namespace || c->pod_name)
			continue;
		for (size_t j = 0; j < snap->n_procs; j++) {
			const struct pw_container *o = snap->procs[j].container;
			if (o && o->name && o->runtime == c->runtime && !strcmp(o->id, c->id)) {
				int r = copy_k8s(o, c);
				if (r < 0)
					return r;
				break;
			}
		}
	}
	struct pw_snapshot *one = calloc(1, sizeof(*one));
	if (!one)
		return -ENOMEM;
	one->procs = t->procs;
	one->n_procs = t->n_procs;
	int r = t->n_procs ? pw_containers_resolve(one, procfd) : 0;
	free(one);
	return r;
}
