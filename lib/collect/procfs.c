/* SPDX-License-Identifier: MIT */
/*
 * The /proc holder collector: every process's fd table -> (inode, pid, fd)
 * for socket fds. Sockets have no back-pointer to their holders, so this is
 * the walk every tool does; we make it cheap: getdents64 in large buffers,
 * readlinkat per fd, no stdio, no per-fd allocation, several threads pulling
 * pids from a shared cursor. Threads are visited only when kcmp(KCMP_FILES)
 * says their fd table is not the leader's.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "internal.h"

#define DENTS_BUF (64 * 1024)
#define PID_CHUNK 8
#define MAX_THREADS 8

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int parse_uint(const char *s, long max, long *ret)
{
	long v = 0;
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -ERANGE;
	}
	*ret = v;
	return 0;
}

/* List the numeric entries of an open directory. */
static int list_numeric(int dirfd, char *dbuf, pid_t **ret, size_t *ret_n)
{
	pid_t *v = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		long nr = syscall(SYS_getdents64, dirfd, dbuf, DENTS_BUF);
		if (nr < 0) {
			int e = -errno;
			free(v);
			return e;
		}
		if (nr == 0)
			break;
		for (long off = 0; off < nr;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(dbuf + off);
			off += d->d_reclen;
			long val;
			if (parse_uint(d->d_name, INT32_MAX, &val) < 0)
				continue;
			if (PW_GROW(v, cap, n + 1) < 0) {
				free(v);
				return -ENOMEM;
			}
			v[n++] = (pid_t)val;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

struct walker {
	int procfd;
	const pid_t *pids;
	size_t n_pids;
	atomic_size_t cursor;
	bool want_netns;
	bool have_kcmp;
	pid_t self;
	uint64_t self_ns;
	atomic_size_t held; /* namespaces held open, all workers */
	size_t max_held;
};

struct worker {
	pthread_t thread;
	struct walker *w;
	struct pw_walk out;
	char *dbuf;
	int err;
};

static int add_rec(struct pw_walk *o, uint32_t inode, pid_t pid, pid_t tid, int fd, uint8_t via)
{
	if (PW_GROW(o->recs, o->cap_recs, o->n_recs + 1) < 0)
		return -ENOMEM;
	o->recs[o->n_recs++] = (struct pw_fdrec){ inode, pid, tid, fd, via };
	return 0;
}

static void note_hidden(struct pw_walk *o, pid_t pid)
{
	o->hidden++;
	if (!o->hidden_min || pid < o->hidden_min)
		o->hidden_min = pid;
}

#define RING_LINK "anon_inode:[io_uring]"
#define FDINFO_MAX (1u << 20) /* a ring may register thousands of files */

/* The sockets registered with the io_uring that is fd of pid (tid's
 * private table when tid != pid), as PW_VIA_IO_URING records. -EACCES or
 * -EAGAIN when the table could not be read; -ENOENT/-ESRCH when gone. */
static int read_ring(int procfd, pid_t pid, pid_t tid, int fd, struct pw_walk *o)
{
	char path[80];
	if (tid == pid)
		snprintf(path, sizeof(path), "%d/fdinfo/%d", pid, fd);
	else
		snprintf(path, sizeof(path), "%d/task/%d/fdinfo/%d", pid, tid, fd);
	int r = -EAGAIN;
	/* the kernel skips the table while the ring's lock is taken: retry */
	for (int tries = 0; tries < 5 && r == -EAGAIN; tries++) {
		_cleanup_free_ char *buf = NULL;
		size_t len;
		r = pw_read_file_at(procfd, path, FDINFO_MAX, &buf, &len);
		if (r < 0)
			return r == -EPERM ? -EACCES : r;
		_cleanup_free_ uint32_t *inodes = NULL;
		size_t n = 0;
		r = pw_parse_uring_files(buf, len, &inodes, &n);
		for (size_t i = 0; r == 0 && i < n; i++)
			if (add_rec(o, inodes[i], pid, tid, -1, PW_VIA_IO_URING) < 0)
				return -ENOMEM;
		if (r == -EAGAIN)
			sched_yield();
	}
	return r;
}

/* Walk one fd directory (already opened); append socket fds and the
 * sockets of io_uring rings. *ring_unread: a ring's table was refused. */
static int scan_fd_dir(struct worker *wk, int dfd, pid_t pid, pid_t tid, bool *ring_unread)
{
	char link[64];
	for (;;) {
		long nr = syscall(SYS_getdents64, dfd, wk->dbuf, DENTS_BUF);
		if (nr < 0)
			return errno == ENOENT ? 0 : -errno; /* exited while listing */
		if (nr == 0)
			return 0;
		for (long off = 0; off < nr;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(wk->dbuf + off);
			off += d->d_reclen;
			if (d->d_name[0] == '.')
				continue;
			ssize_t l = readlinkat(dfd, d->d_name, link, sizeof(link) - 1);
			if (l < 0 && (errno == EACCES || errno == EPERM))
				return -EACCES; /* listable but not readable (protected init) */
			long fd;
			if (l == sizeof(RING_LINK) - 1 && !memcmp(link, RING_LINK, (size_t)l) &&
			    parse_uint(d->d_name, INT32_MAX, &fd) == 0) {
				int r = read_ring(wk->w->procfd, pid, tid, (int)fd, &wk->out);
				if (r == -ENOMEM)
					return r;
				if (r == -EACCES || r == -EAGAIN)
					*ring_unread = true;
				continue;
			}
			/* "socket:[N]": anything shorter or else is not a socket */
			if (l < 9 || link[0] != 's' || link[1] != 'o' || link[6] != ':')
				continue;
			uint32_t inode;
			if (pw_parse_socket_link(link, (size_t)l, &inode) < 0)
				continue;
			if (parse_uint(d->d_name, INT32_MAX, &fd) < 0)
				continue;
			if (add_rec(&wk->out, inode, pid, tid, (int)fd, PW_VIA_FD) < 0)
				return -ENOMEM;
		}
	}
}

static bool is_kernel_thread(int procfd, pid_t pid)
{
	char path[32], *buf = NULL;
	size_t len;
	snprintf(path, sizeof(path), "%d/stat", pid);
	if (pw_read_file_at(procfd, path, 4096, &buf, &len) < 0)
		return false;
	/* flags is the 9th field; fields after comm start at the last ')' */
	char *p = strrchr(buf, ')');
	unsigned long flags = 0;
	if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) == 1) {
		free(buf);
		return flags & 0x00200000; /* PF_KTHREAD */
	}
	free(buf);
	return false;
}

static bool is_fd_limit(int e)
{
	return e == EMFILE || e == ENFILE;
}

/* Hold each namespace by an fd opened while a process in it is known alive:
 * the dump comes later, and that process may be gone by then. */
static void record_netns(struct worker *wk, pid_t pid)
{
	char path[48], link[64];
	snprintf(path, sizeof(path), "%d/ns/net", pid);
	ssize_t l = readlinkat(wk->w->procfd, path, link, sizeof(link) - 1);
	if (l <= 0)
		return;
	uint64_t ino;
	if (pw_parse_ns_link(link, (size_t)l, &ino) < 0 || ino == wk->w->self_ns)
		return; /* the current namespace is collected without entering */
	struct pw_walk *o = &wk->out;
	/* processes of one namespace tend to be listed together: cheap dedupe
	 * first, then the whole list before paying for an fd */
	for (size_t i = o->n_ns; i > 0 && i + 8 > o->n_ns; i--)
		if (o->ns[i - 1].ino == ino)
			return;
	for (size_t i = 0; i < o->n_ns; i++)
		if (o->ns[i].ino == ino)
			return;
	if (PW_GROW(o->ns, o->cap_ns, o->n_ns + 1) < 0)
		return;
	struct pw_nsref *ref = &o->ns[o->n_ns++];
	*ref = (struct pw_nsref){.ino = ino, .pid = pid, .fd = -EBADF};
	/* not held (over the fd budget, or the process just left): the pid
	 * stays the way in */
	if (atomic_fetch_add(&wk->w->held, 1) >= wk->w->max_held ||
	    pw_nsref_hold(ref, wk->w->procfd, path, ino) < 0)
		atomic_fetch_sub(&wk->w->held, 1);
}

/* Threads with their own fd table (unshare(CLONE_FILES)) are visible only
 * under /proc/PID/task/TID/fd. */
static int scan_private_tables(struct worker *wk, pid_t pid, bool *ring_unread)
{
	char path[64];
	snprintf(path, sizeof(path), "%d/task", pid);
	_cleanup_close_ int tfd = openat(wk->w->procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0) {
		if (is_fd_limit(errno))
			wk->out.fd_limit++; /* its threads' private tables went unread */
		return 0;
	}
	pid_t *tids = NULL;
	size_t n = 0;
	if (list_numeric(tfd, wk->dbuf, &tids, &n) < 0 || n <= 1) {
		free(tids);
		return 0;
	}
	int r = 0;
	for (size_t i = 0; i < n && r >= 0; i++) {
		pid_t tid = tids[i];
		if (tid == pid)
			continue;
		if (wk->w->have_kcmp) {
			long k = syscall(SYS_kcmp, pid, tid, KCMP_FILES, 0, 0);
			if (k == 0 || (k < 0 && errno == ESRCH))
				continue; /* shares the leader's table, or gone */
		}
		snprintf(path, sizeof(path), "%d/fd", tid);
		_cleanup_close_ int dfd = openat(tfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			if (is_fd_limit(errno)) {
				wk->out.fd_limit++;
				break;
			}
			continue;
		}
		r = scan_fd_dir(wk, dfd, pid, tid, ring_unread);
	}
	free(tids);
	return r;
}

static int scan_pid(struct worker *wk, pid_t pid)
{
	char path[32];
	struct walker *w = wk->w;
	snprintf(path, sizeof(path), "%d/fd", pid);
	_cleanup_close_ int dfd = openat(w->procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == EACCES || errno == EPERM) {
			if (!is_kernel_thread(w->procfd, pid))
				note_hidden(&wk->out, pid);
		} else if (errno == ENOENT || errno == ESRCH) {
			wk->out.vanished++;
		} else if (is_fd_limit(errno)) {
			wk->out.fd_limit++; /* not "protected": we ran out of fds */
		}
		return 0;
	}
	if (w->want_netns)
		record_netns(wk, pid);
	bool ring_unread = false;
	int r = scan_fd_dir(wk, dfd, pid, pid, &ring_unread);
	if (r == -EACCES) {
		note_hidden(&wk->out, pid);
		return 0;
	}
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	wk->out.processes++;
	r = scan_private_tables(wk, pid, &ring_unread);
	if (ring_unread)
		note_hidden(&wk->out, pid); /* an io_uring table we could not read */
	return r;
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct walker *w = wk->w;
	for (;;) {
		size_t i = atomic_fetch_add(&w->cursor, PID_CHUNK);
		if (i >= w->n_pids)
			break;
		size_t end = i + PID_CHUNK < w->n_pids ? i + PID_CHUNK : w->n_pids;
		for (; i < end; i++) {
			int r = scan_pid(wk, w->pids[i]);
			if (r < 0) {
				wk->err = r;
				return NULL;
			}
		}
	}
	return NULL;
}

void pw_walk_free(struct pw_walk *w)
{
	free(w->recs);
	free(w->visited);
	free(w->facts);
	for (size_t i = 0; i < w->n_ns; i++) {
		free(w->ns[i].path);
		pw_nsref_release(&w->ns[i]);
	}
	free(w->ns);
	*w = (struct pw_walk){ 0 };
}

static int merge(struct pw_walk *dst, struct pw_walk *src)
{
	if (PW_GROW(dst->recs, dst->cap_recs, dst->n_recs + src->n_recs) < 0 ||
	    PW_GROW(dst->ns, dst->cap_ns, dst->n_ns + src->n_ns) < 0)
		return -ENOMEM;
	if (src->n_recs)
		memcpy(dst->recs + dst->n_recs, src->recs, src->n_recs * sizeof(*src->recs));
	dst->n_recs += src->n_recs;
	for (size_t i = 0; i < src->n_ns; i++) {
		struct pw_nsref *dup = NULL;
		for (size_t j = 0; j < dst->n_ns && !dup; j++)
			if (dst->ns[j].ino == src->ns[i].ino)
				dup = &dst->ns[j];
		if (dup && !dup->held && src->ns[i].held) { /* keep the held one */
			struct pw_nsref t = *dup;
			*dup = src->ns[i];
			src->ns[i] = t;
		}
		if (!dup) {
			dst->ns[dst->n_ns++] = src->ns[i];
		} else {
			free(src->ns[i].path);
			pw_nsref_release(&src->ns[i]);
		}
	}
	src->n_ns = 0;
	if (src->hidden_min && (!dst->hidden_min || src->hidden_min < dst->hidden_min))
		dst->hidden_min = src->hidden_min;
	dst->hidden += src->hidden;
	dst->fd_limit += src->fd_limit;
	dst->vanished += src->vanished;
	dst->processes += src->processes;
	return 0;
}

static int procfs_walk(const struct pw_walk_opts *o, struct pw_walk *out)
{
	const char *root = o->proc_root ? o->proc_root : "/proc";
	_cleanup_close_ int procfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return -errno;
	_cleanup_free_ char *dbuf = malloc(DENTS_BUF);
	if (!dbuf)
		return -ENOMEM;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n_pids = 0;
	int r = list_numeric(procfd, dbuf, &pids, &n_pids);
	if (r < 0)
		return r;

	struct walker w = {
		.procfd = procfd,
		.pids = pids,
		.n_pids = n_pids,
		.want_netns = o->want_netns,
		.self = getpid(),
	    .self_ns = pw_netns_current(),
	    .max_held = pw_nsref_budget(),
	};
	w.have_kcmp = syscall(SYS_kcmp, w.self, w.self, KCMP_FILES, 0, 0) == 0;

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nthreads = o->threads > 0 ? o->threads : (int)(ncpu > 0 ? ncpu : 1);
	if (nthreads > MAX_THREADS)
		nthreads = MAX_THREADS;
	if ((size_t)nthreads > n_pids / 64 + 1)
		nthreads = (int)(n_pids / 64 + 1); /* threads cost more than a small walk */

	struct worker wks[MAX_THREADS] = { 0 };
	int started = 0;
	for (int i = 0; i < nthreads; i++) {
		wks[i].w = &w;
		wks[i].dbuf = i == 0 ? dbuf : malloc(DENTS_BUF);
		if (!wks[i].dbuf) {
			r = -ENOMEM;
			break;
		}
		if (i > 0 && pthread_create(&wks[i].thread, NULL, worker_main, &wks[i]) != 0) {
			free(wks[i].dbuf);
			wks[i].dbuf = NULL;
			break;
		}
		started++;
	}
	if (started > 0)
		worker_main(&wks[0]); /* the calling thread works too */
	for (int i = 1; i < started; i++)
		pthread_join(wks[i].thread, NULL);

	for (int i = 0; i < started; i++) {
		if (wks[i].err < 0 && r >= 0)
			r = wks[i].err;
		if (r >= 0)
			r = merge(out, &wks[i].out);
		pw_walk_free(&wks[i].out);
		if (i > 0)
			free(wks[i].dbuf);
	}
	return r < 0 ? r : 0;
}

int pw_proc_list_pids(int procfd, pid_t **ret, size_t *ret_n)
{
	_cleanup_free_ char *dbuf = malloc(DENTS_BUF);
	if (!dbuf)
		return -ENOMEM;
	if (lseek(procfd, 0, SEEK_SET) < 0)
		return -errno;
	return list_numeric(procfd, dbuf, ret, ret_n);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return x < y ? -1 : x > y;
}

int pw_walk_complete(int procfd, const pid_t *before, size_t n_before, struct pw_walk *w)
{
	_cleanup_free_ char *dbuf = malloc(DENTS_BUF);
	_cleanup_free_ pid_t *todo = NULL;
	size_t n_todo = 0, cap_todo = 0;
	if (!dbuf)
		return -ENOMEM;
	struct walker wl = { .procfd = procfd, .self = getpid() };
	wl.have_kcmp = syscall(SYS_kcmp, wl.self, wl.self, KCMP_FILES, 0, 0) == 0;
	struct worker wk = { .w = &wl, .dbuf = dbuf };

	/* processes the walk never visited: their fd tables through /proc */
	if (w->visited_known) {
		if (w->n_visited > 1)
			qsort(w->visited, w->n_visited, sizeof(*w->visited), cmp_pid);
		for (size_t i = 0; i < n_before; i++) {
			if (w->n_visited && bsearch(&before[i], w->visited, w->n_visited,
						    sizeof(*w->visited), cmp_pid))
				continue;
			if (PW_GROW(todo, cap_todo, n_todo + 1) < 0)
				return -ENOMEM;
			todo[n_todo++] = before[i];
		}
		wl.pids = todo;
		wl.n_pids = n_todo;
		worker_main(&wk);
		w->unvisited_hidden += wk.out.hidden;
	}

	/* io_uring rings the walk found but could not read */
	size_t k = 0;
	for (size_t i = 0; i < w->n_recs && wk.err >= 0; i++) {
		struct pw_fdrec rec = w->recs[i];
		if (rec.via != PW_FDREC_RING) {
			w->recs[k++] = rec;
			continue;
		}
		int r = read_ring(procfd, rec.pid, rec.tid, rec.fd, &wk.out);
		if (r == -ENOMEM)
			wk.err = r;
		else if (r == -EACCES || r == -EAGAIN)
			note_hidden(&wk.out, rec.pid); /* counted once per ring */
	}
	if (wk.err >= 0)
		w->n_recs = k;
	int r = wk.err < 0 ? wk.err : merge(w, &wk.out);
	pw_walk_free(&wk.out);
	return r;
}

const struct pw_collector pw_collector_procfs = {
	.name = "procfs",
	.walk = procfs_walk,
};

/* ---- hidepid: processes /proc does not list --------------------------- */

static int hidepid_value(const char *v, size_t n)
{
	static const struct {
		const char *word;
		int value;
	} words[] = {{"0", 0}, {"off", 0},	 {"1", 1}, {"noaccess", 1},
		     {"2", 2}, {"invisible", 2}, {"4", 4}, {"ptraceable", 4}};
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strlen(words[i].word) == n && !strncmp(v, words[i].word, n))
			return words[i].value;
	return 0;
}

int pw_proc_hidepid(void)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	if (pw_read_file_at(AT_FDCWD, "/proc/self/mountinfo", 4u << 20, &buf, &len) < 0)
		return 0;
	int value = 0;
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS] - FSTYPE SOURCE SUPEROPTS */
		char *f[5] = {0}, *p = line;
		for (int i = 0; i < 5 && p; i++) {
			f[i] = p;
			p = strchr(p, ' ');
			if (p)
				*p++ = '\0';
		}
		if (!p || !f[4] || strcmp(f[4], "/proc"))
			continue;
		char *dash = strstr(p, " - proc ");
		if (!dash && !strncmp(p, "- proc ", 7))
			dash = p - 1;
		if (!dash)
			continue;
		char *opts = strchr(dash + 8, ' '); /* after the source */
		const char *h = opts ? strstr(opts, "hidepid=") : NULL;
		/* the last /proc mount in the list is the one on top */
		value = h ? hidepid_value(h + 8, strcspn(h + 8, ", \n")) : 0;
	}
	return value;
}

unsigned pw_proc_count_invisible(int procfd)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	long max = 32768;
	if (pw_read_file_at(procfd, "sys/kernel/pid_max", 64, &buf, &len) == 0)
		max = strtol(buf, NULL, 10);
	if (max <= 0 || max > (1L << 22))
		max = 1L << 22;
	unsigned n = 0;
	char name[16];
	for (long pid = 1; pid < max; pid++) {
		/* signal 0 sends nothing: EPERM means "exists, not yours" */
		if (kill((pid_t)pid, 0) == 0 || errno != EPERM)
			continue;
		snprintf(name, sizeof(name), "%d", (int)pid);
		if (faccessat(procfd, name, F_OK, 0) < 0 && errno == ENOENT)
			n++;
	}
	return n;
}
