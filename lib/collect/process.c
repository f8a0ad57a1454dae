/* SPDX-License-Identifier: MIT */
/*
 * Process facts for holders: everything is read relative to one open
 * /proc/PID directory, so a PID reused mid-read cannot mix two processes.
 */
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>

#include "internal.h"

#define STAT_MAX (4u << 10)
/* NSpid: comes after Groups:, which may be long; the file is read to its
 * end in 4 KiB steps, so the bound costs nothing for ordinary processes */
#define STATUS_MAX (64u << 10)
#define CMDLINE_MAX (256u << 10)
#define CGROUP_MAX (64u << 10)
#define ENVIRON_MAX (1u << 20)

/* ---- uid -> user name, cached ------------------------------------------ */

struct uname_ent {
	uid_t uid;
	char *name; /* NULL: no such user */
};

#define UNAME_CACHE_MAX 4096

static pthread_mutex_t uname_lock = PTHREAD_MUTEX_INITIALIZER;
static struct uname_ent *uname_cache;
static size_t uname_n, uname_cap;

/* Cached entry for uid, or NULL; call with uname_lock held. */
static struct uname_ent *uname_find(uid_t uid)
{
	for (size_t i = 0; i < uname_n; i++)
		if (uname_cache[i].uid == uid)
			return &uname_cache[i];
	return NULL;
}

/* 0 with *ret = name or NULL (not found); -errno when the lookup failed. */
static int getpw_name(uid_t uid, char **ret)
{
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t sz = hint > 0 ? (size_t)hint : 1024;
	for (;;) {
		_cleanup_free_ char *buf = malloc(sz);
		if (!buf)
			return -ENOMEM;
		struct passwd pw, *res = NULL;
		int r = getpwuid_r(uid, &pw, buf, sz, &res);
		if (r == ERANGE && sz < (1u << 20)) {
			sz *= 2;
			continue;
		}
		if (r != 0)
			return -r;
		if (!res || !pw.pw_name) {
			*ret = NULL;
			return 0;
		}
		char *n = strdup(pw.pw_name);
		if (!n)
			return -ENOMEM;
		*ret = n;
		return 0;
	}
}

/* malloc'ed user name of uid in *ret, or NULL when it has none. */
static int user_name(uid_t uid, char **ret)
{
	char *copy = NULL;
	pthread_mutex_lock(&uname_lock);
	struct uname_ent *e = uname_find(uid);
	if (e) {
		bool has = e->name != NULL;
		copy = has ? strdup(e->name) : NULL;
		pthread_mutex_unlock(&uname_lock);
		if (has && !copy)
			return -ENOMEM;
		*ret = copy;
		return 0;
	}
	pthread_mutex_unlock(&uname_lock);

	/* NSS may be slow (LDAP, sssd): look up without holding the lock */
	char *name = NULL;
	int r = getpw_name(uid, &name);
	if (r < 0)
		return r; /* transient failures are not cached */

	pthread_mutex_lock(&uname_lock);
	if (!uname_find(uid) && uname_n < UNAME_CACHE_MAX &&
	    PW_GROW(uname_cache, uname_cap, uname_n + 1) == 0) {
		char *keep = name ? strdup(name) : NULL;
		if (!name || keep)
			uname_cache[uname_n++] = (struct uname_ent){uid, keep};
	}
	pthread_mutex_unlock(&uname_lock);
	*ret = name;
	return 0;
}

/* ---- reading one process ----------------------------------------------- */

/* Where a process's files are: a directory fd of /proc/PID (pre ""), or
 * /proc itself with the prefix "PID/" when the walk read the identity and
 * the directory would be one more open and close per process. */
struct pdir {
	int fd;
	char pre[16];
};

static const char *at(const struct pdir *d, const char *name, char buf[48])
{
	if (!d->pre[0])
		return name;
	snprintf(buf, 48, "%s%s", d->pre, name);
	return buf;
}

static bool starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_systemd_exe(const char *exe)
{
	static const char *const paths[] = {"/usr/lib/systemd/systemd", "/lib/systemd/systemd"};
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		size_t n = strlen(paths[i]);
		/* " (deleted)": the package was upgraded under the running manager */
		if (!strncmp(exe, paths[i], n) && (!exe[n] || !strcmp(exe + n, " (deleted)")))
			return true;
	}
	return false;
}

/* A systemd manager (PID 1 or a "systemd --user"), decided from facts a
 * process cannot choose: the executable it runs, being PID 1, running as
 * root, or being the process of its own user@UID.service. Its name is only
 * a hint: any user can call a process "systemd" (PR_SET_NAME). The one
 * helper explain (socket activation) and kill (never signal a manager) use,
 * through pw_process.is_systemd. */
static bool is_systemd_manager(const struct pdir *d, const struct pw_process *p)
{
	char exe[256], b[48];
	ssize_t l = !d ? -1 : readlinkat(d->fd, at(d, "exe", b), exe, sizeof(exe) - 1);
	if (l > 0) {
		exe[l] = '\0';
		if (is_systemd_exe(exe))
			return true;
	}
	/* systemd renames itself "systemd" even when started as /sbin/init */
	bool named = p->comm && strcmp(p->comm, "systemd") == 0;
	/* the init of the host, or of a container's PID namespace */
	bool init = p->pid == 1 || p->nspid == 1;
	if (!named && !(init && (starts_with(p->cmdline, "/lib/systemd/systemd") ||
				 starts_with(p->cmdline, "/usr/lib/systemd/systemd"))))
		return false;
	if (init || p->uid == 0)
		return true; /* nobody becomes an init or root by renaming itself */
	/* the manager of user@UID.service runs as UID in that unit's init.scope */
	char unit[64];
	snprintf(unit, sizeof(unit), "user@%u.service", (unsigned)p->uid);
	return p->unit && !p->user_unit && strcmp(p->unit, unit) == 0;
}

static bool is_gone(int r)
{
	return r == -ENOENT || r == -ESRCH;
}

/* Out of fds is not "unreadable": the caller must know the facts are not in. */
static bool no_fds(int r)
{
	return r == -EMFILE || r == -ENFILE;
}


/* An optional file could not be read: was it because the process exited? */
static bool vanished(const struct pdir *d)
{
	char b[48];
	return faccessat(d->fd, at(d, "stat", b), F_OK, 0) < 0 && (errno == ENOENT || errno == ESRCH);
}

static int parse_int_env(const char *buf, size_t len, const char *key, long max, long *ret)
{
	_cleanup_free_ char *v = NULL;
	int r = pw_environ_get(buf, len, key, &v);
	if (r < 0)
		return r;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 0 || n > max)
		return -EINVAL;
	*ret = n;
	return 0;
}

static int read_environ(const struct pdir *d, struct pw_process *p, bool *gone)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	char b[48];
	int r = pw_read_proc_at(d->fd, at(d, "environ", b), ENVIRON_MAX, &buf, &len);
	if (r < 0) {
		/* another user's environment needs ptrace access: not an error */
		*gone = *gone || is_gone(r);
		return r == -ENOMEM || no_fds(r) ? r : 0;
	}
	long v;
	if (parse_int_env(buf, len, "LISTEN_PID", INT32_MAX, &v) == 0)
		p->listen_pid = (pid_t)v;
	if (parse_int_env(buf, len, "LISTEN_FDS", INT32_MAX - 3, &v) == 0)
		p->listen_fds = (int)v;
	char *names = NULL;
	r = pw_environ_get(buf, len, "LISTEN_FDNAMES", &names);
	if (r == -ENOMEM)
		return r;
	if (r == 0 && !*names) {
		free(names);
		names = NULL;
	}
	p->listen_fdnames = names;
	return 0;
}

/* stat, status and ns/net: what the BPF walk read already when tf is set */
static int read_identity(const struct pdir *d, const struct pw_task_facts *tf,
			 struct pw_process *p)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	char b[48];
	int r;

	if (tf) {
		p->comm = strdup(tf->comm);
		if (!p->comm)
			return -ENOMEM;
		p->ppid = tf->ppid;
		p->start_time = tf->start_time;
		p->uid = tf->uid;
		p->nspid = tf->nspid;
		p->netns = tf->netns;
		return 0;
	}
	r = pw_read_proc_at(d->fd, at(d, "stat", b), STAT_MAX, &buf, &len);
	if (r < 0)
		return r;
	r = pw_parse_stat(buf, len, &p->comm, &p->ppid, &p->start_time);
	if (r < 0)
		return r;
	free(buf);
	buf = NULL;

	r = pw_read_proc_at(d->fd, at(d, "status", b), STATUS_MAX, &buf, &len);
	if (r < 0)
		return r;
	r = pw_parse_status_euid(buf, &p->uid);
	if (r < 0)
		return r;
	if (pw_parse_status_nspid(buf, &p->nspid) < 0)
		p->nspid = 0; /* unknown: an old kernel, or a Groups: line too long */

	char link[64];
	ssize_t l = readlinkat(d->fd, at(d, "ns/net", b), link, sizeof(link));
	if (l > 0 && (size_t)l < sizeof(link))
		(void)pw_parse_ns_link(link, (size_t)l, &p->netns); /* stays 0 if unreadable */
	return 0;
}

static int read_cgroup(const struct pdir *d, struct pw_process *p, bool *gone)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	char b[48];
	int r = pw_read_proc_at(d->fd, at(d, "cgroup", b), CGROUP_MAX, &buf, &len);
	if (no_fds(r))
		return r;
	if (r == 0) {
		struct pw_container c;
		if (pw_parse_cgroup_container(buf, &c) == 0) {
			p->container = malloc(sizeof(c));
			if (!p->container) {
				pw_container_clear(&c);
				return -ENOMEM;
			}
			*p->container = c;
		}
		r = pw_parse_cgroup_unit(buf, &p->unit, &p->user_unit);
	} else {
		*gone = *gone || is_gone(r); /* the parser's -ENOENT means "no unit" */
	}
	return r == -ENOMEM ? r : 0;
}

static int read_facts(const struct pdir *d, pid_t pid, unsigned flags,
		      const struct pw_task_facts *tf, struct pw_process *p)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	bool gone = false;
	char b[48];
	int r;

	p->pid = pid;
	r = read_identity(d, tf, p);
	if (r < 0)
		return r;

	if (!(flags & PW_FACTS_NO_CMDLINE) || pid == 1) { /* PID 1's tells systemd */
		/* one byte past the cap tells a cut command line from one that fits */
		r = pw_read_proc_at(d->fd, at(d, "cmdline", b), CMDLINE_MAX + 1, &buf, &len);
		if (no_fds(r))
			return r;
		if (r == 0 && len > CMDLINE_MAX) {
			len = CMDLINE_MAX;
			buf[len] = '\0';
			p->cmdline_truncated = true;
		}
		if (r == 0)
			r = pw_cmdline_join(buf, len, &p->cmdline);
		if (r == -ENOMEM)
			return r;
		gone = gone || is_gone(r);
		free(buf);
		buf = NULL;
	}

	if (!(flags & PW_FACTS_NO_CGROUP)) {
		r = read_cgroup(d, p, &gone);
		if (r < 0)
			return r;
	}

	r = read_environ(d, p, &gone);
	if (r < 0)
		return r;

	if (gone && vanished(d))
		return -ESRCH;

	r = user_name(p->uid, &p->user);
	if (r == -ENOMEM)
		return r;

	/* the link is worth reading only when it can name systemd's binary */
	p->is_systemd = is_systemd_manager(tf && strcmp(tf->exe, "systemd") ? NULL : d, p);
	p->facts_read = true;
	return 0;
}

int pw_process_read(int procfd, pid_t pid, struct pw_process *p)
{
	return pw_process_read_some(procfd, pid, 0, p);
}

int pw_process_read_some(int procfd, pid_t pid, unsigned flags, struct pw_process *p)
{
	return pw_process_read_known(procfd, pid, flags, NULL, p);
}

int pw_process_read_known(int procfd, pid_t pid, unsigned flags, const struct pw_task_facts *tf,
			  struct pw_process *p)
{
	if (!p)
		return -EINVAL;
	*p = (struct pw_process){0};
	if (pid <= 0)
		return -EINVAL;

	struct pdir d = {.fd = procfd};
	_cleanup_close_ int dfd = -EBADF;
	if (tf) {
		/* the walk read the identity: the few files left are opened by
		 * path (a gone process shows as ENOENT, checked by vanished()) */
		snprintf(d.pre, sizeof(d.pre), "%d/", (int)pid);
	} else {
		char name[16];
		snprintf(name, sizeof(name), "%d", (int)pid);
		dfd = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
		d.fd = dfd;
	}

	struct pw_process n = {0};
	int r = read_facts(&d, pid, flags, tf, &n);
	if (r < 0) {
		pw_process_clear(&n);
		return r;
	}
	*p = n;
	return 0;
}

int pw_process_copy_cgroup(struct pw_process *p, const struct pw_process *from)
{
	p->user_unit = from->user_unit;
	if (from->unit && !(p->unit = strdup(from->unit)))
		return -ENOMEM;
	if (!from->container)
		return 0;
	const struct pw_container *c = from->container;
	struct pw_container *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	p->container = d;
	*d = *c; /* runtime and source are static strings */
	d->id = d->name = d->pod_namespace = d->pod_name = d->pod_uid = NULL;
	if ((c->id && !(d->id = strdup(c->id))) || (c->name && !(d->name = strdup(c->name))) ||
	    (c->pod_namespace && !(d->pod_namespace = strdup(c->pod_namespace))) ||
	    (c->pod_name && !(d->pod_name = strdup(c->pod_name))) ||
	    (c->pod_uid && !(d->pod_uid = strdup(c->pod_uid))))
		return -ENOMEM;
	return 0;
}

void pw_process_clear(struct pw_process *p)
{
	if (!p)
		return;
	free(p->comm);
	free(p->cmdline);
	free(p->user);
	free(p->unit);
	free(p->listen_fdnames);
	if (p->container) {
		pw_container_clear(p->container);
		free(p->container);
	}
	*p = (struct pw_process){0};
}
