/* SPDX-License-Identifier: MIT */
/* Userspace side of the BPF iterators: load the light skeletons once, run
 * the iterators, read their seq_files with large reads and turn the records
 * into pw_fdrec / pw_nsref / pw_bpf_sockopt.
 *
 * Three programs, each its own light skeleton (no libbpf BTF parsing at
 * load time; the kernel does the CO-RE relocations):
 *   fdwalk   iter/task, walks each fd table with bpf_loop (kernel 6.2+),
 *            several reader threads sharded by tgid;
 *   fdfile   iter/task_file, the fallback walker (one reader);
 *   sockopts iter/tcp + iter/udp, socket flags of the current netns.
 * Record layouts: pw-bpf-records.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/pw-bpf.h"
#include "internal.h"
#include "pw-bpf-records.h"
#include "pw-bpf-read.h"

#include "fdfile.lskel.h"
#include "fdwalk.lskel.h"
#include "sockopts.lskel.h"

#define READ_CHUNK (256u * 1024u) /* bpf_seq_read hands out <= 32 KiB a call anyway */

/* ---- loading ------------------------------------------------------------ */

static pthread_mutex_t bpf_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t loaded_by; /* the process the fds below belong to */

static struct pw_fdwalk *fw; /* iter/task walker */
static int fw_link = -1, fw_err;
static struct pw_fdfile *ff; /* iter/task_file walker */
static int ff_link = -1, ff_err;
static struct pw_sockopts *so;
static int so_tcp_link = -1, so_udp_link = -1, so_err;

static enum pw_bpf_walker walker_choice = PW_BPF_WALKER_AUTO;
static const char *walker_last;

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void release_locked(void)
{
	close_fd(&fw_link);
	close_fd(&ff_link);
	close_fd(&so_tcp_link);
	close_fd(&so_udp_link);
	pw_fdwalk__destroy(fw);
	pw_fdfile__destroy(ff);
	pw_sockopts__destroy(so);
	fw = NULL;
	ff = NULL;
	so = NULL;
	fw_err = ff_err = so_err = 0;
	walker_last = NULL;
}

void pw_bpf_release(void)
{
	pthread_mutex_lock(&bpf_lock);
	release_locked();
	loaded_by = 0;
	pthread_mutex_unlock(&bpf_lock);
}

/* Called with bpf_lock held before touching anything loaded. */
static void prepare_locked(void)
{
	pid_t me = getpid();
	if (loaded_by == me)
		return;
	/* First use, or a forked child: the parent's programs and maps are
	 * shared with it through the inherited fds; load our own. */
	release_locked();
	loaded_by = me;
	libbpf_set_print(silent_print);
}

static bool have_btf(void)
{
	return access("/sys/kernel/btf/vmlinux", R_OK) == 0;
}

/* pid: restrict a task iterator to that process (kernel 6.1+) */
static int iter_link(int prog_fd, __u32 pid)
{
	union bpf_iter_link_info info;
	LIBBPF_OPTS(bpf_link_create_opts, opts);

	if (pid) {
		memset(&info, 0, sizeof(info));
		info.task.pid = pid;
		opts.iter_info = &info;
		opts.iter_info_len = sizeof(info);
	}
	int fd = bpf_link_create(prog_fd, 0, BPF_TRACE_ITER, &opts);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE))
		return -EMFILE;
	return fd < 0 ? -EOPNOTSUPP : fd;
}

/* Out of fds is not "BPF cannot run here": say so, and try again next time. */
static int load_failed(int e, int *cached)
{
	if (e == -EMFILE || e == -ENFILE || errno == EMFILE || errno == ENFILE) {
		*cached = 0;
		return -EMFILE;
	}
	return *cached;
}

/* Load failures of any kind (no privilege, no BTF, a kernel without the
 * iterator, helper or kfunc) mean "BPF cannot run here": -EOPNOTSUPP, kept so
 * the next call does not pay for the attempt again. */
static int load_fdwalk(void)
{
	if (fw)
		return 0;
	if (fw_err)
		return fw_err;
	fw_err = -EOPNOTSUPP;
	if (!have_btf())
		return fw_err;
	struct pw_fdwalk *s = pw_fdwalk__open();
	if (!s) {
		fw_err = 0; /* worth another try later */
		return -ENOMEM;
	}
	errno = 0;
	int e = pw_fdwalk__load(s);
	if (e != 0) {
		pw_fdwalk__destroy(s);
		return load_failed(e, &fw_err);
	}
	int l = iter_link(s->progs.pw_fd_walk.prog_fd, 0);
	if (l < 0) {
		pw_fdwalk__destroy(s);
		return load_failed(l, &fw_err);
	}
	fw = s;
	fw_link = l;
	fw_err = 0;
	return 0;
}

static int load_fdfile(void)
{
	if (ff)
		return 0;
	if (ff_err)
		return ff_err;
	ff_err = -EOPNOTSUPP;
	if (!have_btf())
		return ff_err;
	struct pw_fdfile *s = pw_fdfile__open();
	if (!s) {
		ff_err = 0; /* worth another try later */
		return -ENOMEM;
	}
	errno = 0;
	int e = pw_fdfile__load(s);
	if (e != 0) {
		pw_fdfile__destroy(s);
		return load_failed(e, &ff_err);
	}
	int l = iter_link(s->progs.pw_fd_file.prog_fd, 0);
	if (l < 0) {
		pw_fdfile__destroy(s);
		return load_failed(l, &ff_err);
	}
	ff = s;
	ff_link = l;
	ff_err = 0;
	return 0;
}

static int load_sockopts(void)
{
	if (so)
		return 0;
	if (so_err)
		return so_err;
	so_err = -EOPNOTSUPP;
	if (!have_btf())
		return so_err;
	struct pw_sockopts *s = pw_sockopts__open();
	if (!s) {
		so_err = 0; /* worth another try later */
		return -ENOMEM;
	}
	errno = 0;
	int e = pw_sockopts__load(s);
	if (e != 0) {
		pw_sockopts__destroy(s);
		return load_failed(e, &so_err);
	}
	int t = iter_link(s->progs.pw_sk_tcp.prog_fd, 0);
	int u = t < 0 ? -1 : iter_link(s->progs.pw_sk_udp.prog_fd, 0);
	if (t < 0 || u < 0) {
		if (t >= 0)
			close(t);
		pw_sockopts__destroy(s);
		return so_err;
	}
	so = s;
	so_tcp_link = t;
	so_udp_link = u;
	so_err = 0;
	return 0;
}

void pw_bpf_set_walker(enum pw_bpf_walker w)
{
	pthread_mutex_lock(&bpf_lock);
	walker_choice = w;
	pthread_mutex_unlock(&bpf_lock);
}

const char *pw_bpf_walker_name(void)
{
	pthread_mutex_lock(&bpf_lock);
	const char *n = walker_last;
	pthread_mutex_unlock(&bpf_lock);
	return n;
}

/* ---- reading iterators -------------------------------------------------- */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return 0;
	size_t cap = b->cap ? b->cap : 1024 * 1024;
	while (cap - b->len < more)
		cap *= 2;
	unsigned char *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Run one iterator of link to the end, appending its output to b. */
static int read_iter(int link, struct buf *b)
{
	int fd = bpf_iter_create(link); /* libbpf >= 1.0: -errno on failure */
	if (fd < 0)
		return fd;
	int r = 0;
	for (;;) {
		r = buf_reserve(b, READ_CHUNK);
		if (r < 0)
			break;
		ssize_t n = read(fd, b->p + b->len, b->cap - b->len);
		if (n < 0) {
			/* EAGAIN: a million objects without output in one
			 * call; the iterator moved on, read again */
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	close(fd);
	return r;
}

/* ---- the walk: output ---------------------------------------------------- */

struct nspair {
	uint64_t ino;
	pid_t pid;
};

struct resume {
	__u32 tgid, tid;
	__u32 word;
};

struct collect {
	struct pw_walk *out;
	bool want_netns;
	struct nspair *ns;
	size_t n_ns, cap_ns;
	struct resume *res;
	size_t n_res, cap_res;
};

static int grow(void **p, size_t *cap, size_t need, size_t el)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * el);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}
#define GROW(arr, cap, need) grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

static int add_ns(struct collect *c, uint64_t ino, pid_t pid)
{
	/* tasks of one namespace tend to come in runs: cheap first dedupe */
	if (c->n_ns && c->ns[c->n_ns - 1].ino == ino)
		return 0;
	if (GROW(c->ns, c->cap_ns, c->n_ns + 1) < 0)
		return -ENOMEM;
	c->ns[c->n_ns++] = (struct nspair){ .ino = ino, .pid = pid };
	return 0;
}

static int cmp_ns(const void *a, const void *b)
{
	const struct nspair *x = a, *y = b;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* One pw_nsref per namespace not already in out->ns, with the lowest pid
 * seen in it. */
static int flush_ns(struct collect *c)
{
	struct pw_walk *w = c->out;
	if (!c->n_ns)
		return 0;
	uint64_t self = pw_netns_current();
	size_t budget = pw_nsref_budget(), held = 0;
	qsort(c->ns, c->n_ns, sizeof(*c->ns), cmp_ns);
	for (size_t i = 0; i < c->n_ns; i++) {
		if (i && c->ns[i].ino == c->ns[i - 1].ino)
			continue;
		bool dup = false;
		for (size_t j = 0; j < w->n_ns && !dup; j++)
			dup = w->ns[j].ino == c->ns[i].ino;
		if (dup)
			continue;
		if (GROW(w->ns, w->cap_ns, w->n_ns + 1) < 0)
			return -ENOMEM;
		struct pw_nsref *ref = &w->ns[w->n_ns++];
		*ref = (struct pw_nsref){.ino = c->ns[i].ino, .pid = c->ns[i].pid, .fd = -EBADF};
		if (ref->ino == self || held >= budget)
			continue; /* collected without entering; or kept by pid */
		/* hold it through any of its processes still alive: the first may
		 * have exited since the walk */
		for (size_t k = i; k < c->n_ns && c->ns[k].ino == ref->ino && !ref->held; k++) {
			char path[48];
			snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)c->ns[k].pid);
			int h = pw_nsref_hold(ref, AT_FDCWD, path, ref->ino);
			if (h == 0) {
				ref->pid = c->ns[k].pid;
				held++;
			} else if (h == -EMFILE || h == -ENFILE)
				break;
		}
	}
	return 0;
}

/* Parse fdwalk output (pw-bpf-records.h). count: headers count as visited
 * processes and namespaces (not on a resume pass, which repeats a header). */
static int parse_fdwalk(const struct buf *b, struct collect *c, bool count)
{
	struct pw_walk *w = c->out;
	size_t off = 0;
	__u32 tgid = 0, tid = 0;
	bool have = false;

	/* records are 8 bytes, so len / 8 bounds the count */
	if (GROW(w->recs, w->cap_recs, w->n_recs + b->len / sizeof(struct pw_fd_rec)) < 0)
		return -ENOMEM;
	while (off + sizeof(__u32) * 2 <= b->len) {
		__u32 word;
		memcpy(&word, b->p + off, sizeof(word));
		if (word == PW_FD_HDR_MAGIC) {
			struct pw_fd_hdr h;
			if (off + sizeof(h) > b->len)
				return -EBADMSG;
			memcpy(&h, b->p + off, sizeof(h));
			off += sizeof(h);
			tgid = h.tgid;
			tid = h.tid;
			have = true;
			if (!count)
				continue;
			if (tid == tgid) {
				w->processes++;
				if (GROW(w->visited, w->cap_visited, w->n_visited + 1) < 0)
					return -ENOMEM;
				w->visited[w->n_visited++] = (pid_t)tgid;
			}
			if (c->want_netns && h.netns && add_ns(c, h.netns, (pid_t)tgid) < 0)
				return -ENOMEM;
		} else if (word == PW_FD_FACTS_MAGIC) {
			struct pw_fd_facts f;
			if (off + sizeof(f) > b->len)
				return -EBADMSG;
			memcpy(&f, b->p + off, sizeof(f));
			off += sizeof(f);
			if (pw_bpf_add_facts(w, &f) < 0)
				return -ENOMEM;
		} else if (word == PW_FD_RESUME_MAGIC) {
			struct pw_fd_resume rs;
			memcpy(&rs, b->p + off, sizeof(rs));
			off += sizeof(rs);
			if (!have)
				return -EBADMSG;
			if (GROW(c->res, c->cap_res, c->n_res + 1) < 0)
				return -ENOMEM;
			c->res[c->n_res++] = (struct resume){ .tgid = tgid, .tid = tid, .word = rs.word };
		} else {
			struct pw_fd_rec r;
			memcpy(&r, b->p + off, sizeof(r));
			off += sizeof(r);
			if (!have)
				return -EBADMSG;
			bool ring = r.fd & PW_FD_RING_FLAG;
			w->recs[w->n_recs++] = (struct pw_fdrec){
				.inode = r.inode,
				.pid = (pid_t)tgid,
				.tid = (pid_t)tid,
				.fd = (int)(r.fd & ~PW_FD_RING_FLAG),
				.via = ring ? PW_FDREC_RING : PW_VIA_FD,
			};
		}
	}
	return off == b->len ? 0 : -EBADMSG;
}

/* ---- the walk: iter/task ------------------------------------------------- */

struct shard {
	pthread_t th;
	unsigned idx;
	int err;
	struct buf b;
};

static void *shard_main(void *arg)
{
	struct shard *s = arg;
	fw->bss->pw_reader_tid[s->idx] = (__u32)gettid();
	s->err = read_iter(fw_link, &s->b);
	fw->bss->pw_reader_tid[s->idx] = 0;
	return NULL;
}

static unsigned auto_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > (long)PW_FD_MAX_SHARDS ? PW_FD_MAX_SHARDS : (unsigned)n;
}

/* A table cut short (more sockets than one seq_file object holds): walk the
 * rest with a link restricted to that process, the program skipping all
 * but that task, as often as it takes. */
static int finish_big_tables(struct collect *c)
{
	int r = 0;
	fw->bss->pw_reader_tid[PW_FD_RESUME_SLOT] = (__u32)gettid();
	for (size_t i = 0; i < c->n_res && r >= 0; i++) {
		struct resume rs = c->res[i];
		int link = iter_link(fw->progs.pw_fd_walk.prog_fd, rs.tgid);
		if (link < 0) {
			/* kernels before 6.1 reject the process restriction;
			 * one that ignored it would still be right (the program
			 * filters by tid), only slower */
			r = link;
			break;
		}
		struct buf b = { 0 };
		fw->bss->pw_resume_tid = rs.tid;
		fw->bss->pw_resume_word = rs.word;
		r = read_iter(link, &b);
		close(link);
		/* a task gone meanwhile just gives no output */
		if (r >= 0)
			r = parse_fdwalk(&b, c, false);
		free(b.p);
	}
	fw->bss->pw_reader_tid[PW_FD_RESUME_SLOT] = 0;
	fw->bss->pw_resume_tid = 0;
	fw->bss->pw_resume_word = 0;
	return r;
}

static int walk_task(const struct pw_walk_opts *o, struct collect *c)
{
	unsigned n = o->threads > 0 ? (unsigned)o->threads : auto_threads();
	if (n > PW_FD_MAX_SHARDS)
		n = PW_FD_MAX_SHARDS;
	struct shard sh[PW_FD_MAX_SHARDS];
	memset(sh, 0, sizeof(sh));
	memset(fw->bss->pw_reader_tid, 0, sizeof(fw->bss->pw_reader_tid));
	fw->data->pw_nshards = n;

	unsigned started = 1;
	for (unsigned i = 1; i < n; i++) {
		sh[i].idx = i;
		if (pthread_create(&sh[i].th, NULL, shard_main, &sh[i]) != 0)
			break;
		started++;
	}
	/* shards whose thread did not start are read by this one, in turn */
	sh[0].idx = 0;
	shard_main(&sh[0]);
	for (unsigned i = started; i < n; i++) {
		sh[i].idx = i;
		shard_main(&sh[i]);
	}
	for (unsigned i = 1; i < started; i++)
		pthread_join(sh[i].th, NULL);

	int r = 0;
	for (unsigned i = 0; i < n; i++) {
		if (r >= 0 && sh[i].err < 0)
			r = sh[i].err;
		if (r >= 0)
			r = parse_fdwalk(&sh[i].b, c, true);
		free(sh[i].b.p);
	}
	if (r >= 0 && c->n_res)
		r = finish_big_tables(c);
	return r;
}

/* ---- the walk: iter/task_file -------------------------------------------- */

static int walk_task_file(struct collect *c)
{
	struct pw_walk *w = c->out;
	struct buf b = { 0 };
	int mfd = ff->maps.pw_ff_netns.map_fd;

	ff->bss->pw_ff_last_tid = 0;
	ff->bss->pw_ff_processes = 0;
	ff->bss->pw_ff_tgid = ff->bss->pw_ff_tid = 0;
	int r = read_iter(ff_link, &b);
	if (r >= 0 && b.len % sizeof(struct pw_ff_rec))
		r = -EBADMSG;
	size_t n = b.len / sizeof(struct pw_ff_rec);
	if (r >= 0 && GROW(w->recs, w->cap_recs, w->n_recs + n) < 0)
		r = -ENOMEM;
	for (size_t i = 0; r >= 0 && i < n; i++) {
		struct pw_ff_rec x;
		memcpy(&x, b.p + i * sizeof(x), sizeof(x));
		if (x.fd == PW_FF_VISIT) {
			if (GROW(w->visited, w->cap_visited, w->n_visited + 1) < 0)
				r = -ENOMEM;
			else
				w->visited[w->n_visited++] = (pid_t)x.tgid;
			continue;
		}
		bool ring = x.fd & PW_FD_RING_FLAG;
		w->recs[w->n_recs++] = (struct pw_fdrec){
			.inode = x.inode,
			.pid = (pid_t)x.tgid,
			.tid = (pid_t)x.tid,
			.fd = (int)(x.fd & ~PW_FD_RING_FLAG),
			.via = ring ? PW_FDREC_RING : PW_VIA_FD,
		};
	}
	free(b.p);
	if (r >= 0)
		w->processes += ff->bss->pw_ff_processes;

	/* namespaces: read and empty the map */
	__u32 key, next, val;
	bool first = true;
	while (bpf_map_get_next_key(mfd, first ? NULL : &key, &next) == 0) {
		first = false;
		if (r >= 0 && c->want_netns && bpf_map_lookup_elem(mfd, &next, &val) == 0 &&
		    add_ns(c, next, (pid_t)val) < 0)
			r = -ENOMEM;
		key = next;
	}
	while (bpf_map_get_next_key(mfd, NULL, &next) == 0)
		if (bpf_map_delete_elem(mfd, &next) < 0)
			break;
	return r;
}

/* ---- the collector -------------------------------------------------------- */

static int walk_bpf(const struct pw_walk_opts *o, struct pw_walk *out)
{
	pthread_mutex_lock(&bpf_lock);
	prepare_locked();

	/* on failure out is put back as it was */
	size_t n_recs = out->n_recs, n_ns = out->n_ns;
	unsigned processes = out->processes;
	struct collect c = { .out = out, .want_netns = o->want_netns };
	int r = -EOPNOTSUPP;

	size_t n_visited = out->n_visited, n_facts = out->n_facts;
	if (walker_choice != PW_BPF_WALKER_TASK_FILE) {
		r = load_fdwalk();
		if (r >= 0)
			r = walk_task(o, &c);
		if (r >= 0) {
			walker_last = "task";
			out->visited_known = true;
		}
	}
	if (r == -EOPNOTSUPP && walker_choice != PW_BPF_WALKER_TASK) {
		out->n_recs = n_recs;
		out->n_visited = n_visited;
		out->n_facts = n_facts;
		out->processes = processes;
		c.n_ns = c.n_res = 0;
		r = load_fdfile();
		if (r >= 0)
			r = walk_task_file(&c);
		if (r >= 0) {
			walker_last = "task_file";
			out->visited_known = true;
		}
	}
	if (r >= 0)
		r = flush_ns(&c);
	if (r >= 0)
		pw_bpf_sort_facts(out);
	if (r < 0) {
		out->n_recs = n_recs;
		for (size_t i = n_ns; i < out->n_ns; i++)
			pw_nsref_release(&out->ns[i]);
		out->n_ns = n_ns;
		out->n_visited = n_visited;
		out->n_facts = n_facts;
		out->visited_known = false;
		out->processes = processes;
	}
	free(c.ns);
	free(c.res);
	pthread_mutex_unlock(&bpf_lock);
	return r < 0 ? r : 0;
}

const struct pw_collector pw_collector_bpf = {
	.name = "bpf",
	.walk = walk_bpf,
};

/* ---- socket options -------------------------------------------------------- */

/* the array form: every record appended */
struct collect_opts {
	struct pw_bpf_sockopt *v;
	size_t n, cap;
};

static int append_opt(const struct pw_bpf_sockopt *o, void *arg)
{
	struct collect_opts *c = arg;
	if (GROW(c->v, c->cap, c->n + 1) < 0)
		return -ENOMEM;
	c->v[c->n++] = *o;
	return 0;
}

int pw_bpf_sockopts_read(struct pw_bpf_sockopt **ret, size_t *ret_n)
{
	return pw_bpf_sockopts_read_some(false, ret, ret_n);
}

int pw_bpf_sockopts_read_some(bool tcp_listen_only, struct pw_bpf_sockopt **ret, size_t *ret_n)
{
	struct collect_opts c = {0};
	int r = pw_bpf_sockopts_each(tcp_listen_only, append_opt, &c);
	if (r < 0) {
		free(c.v);
		return r;
	}
	*ret = c.v;
	*ret_n = c.n;
	return 0;
}

int pw_bpf_sockopts_each(bool tcp_listen_only, int (*cb)(const struct pw_bpf_sockopt *o, void *arg),
			 void *arg)
{
	static pthread_mutex_t tcp_lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&bpf_lock);
	prepare_locked();
	int r = load_sockopts();
	int tcp = so_tcp_link, udp = so_udp_link;
	pthread_mutex_unlock(&bpf_lock);
	if (r < 0)
		return r;

	/* iterators are independent of each other and of the walk; the TCP
	 * one's mode is a global of its program: one reader at a time */
	pthread_mutex_lock(&tcp_lock);
	so->bss->pw_tcp_listen_only = tcp_listen_only;
	r = pw_bpf_read_sockopts(tcp, tcp_listen_only, cb, arg);
	so->bss->pw_tcp_listen_only = 0;
	pthread_mutex_unlock(&tcp_lock);
	if (r >= 0)
		r = pw_bpf_read_sockopts(udp, false, cb, arg);
	return r;
}
