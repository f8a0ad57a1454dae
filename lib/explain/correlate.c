/* SPDX-License-Identifier: MIT */
/* The middle phases of a snapshot: join sockets (sock_diag) and holders
 * (fd walk), read the holders' process facts, group by (netns, proto,
 * port). Linear in sockets + fds apart from sorting. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "internal.h"

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* The port a socket is grouped under: its local port, or for the client end
 * of a connection made to a port asked about, that (remote) port. */
static uint16_t group_port(const struct pw_socket *s)
{
	return s->matched_end == PW_END_REMOTE ? s->rport : s->lport;
}

/* Groups by (netns, proto, port); inside a group the display order (local
 * port, family, address, device, state, remote, inode), the order the
 * command's view shows, so it need not sort again. */
static int cmp_socket(const void *pa, const void *pb)
{
	const struct pw_socket *a = pa, *b = pb;
	int r;
	if ((r = cmp_u64(a->netns, b->netns)) || (r = cmp_u64(a->proto, b->proto)) ||
	    (r = cmp_u64(group_port(a), group_port(b))) || (r = cmp_u64(a->lport, b->lport)) ||
	    (r = cmp_u64(a->family, b->family)) ||
	    (r = memcmp(a->laddr.bytes, b->laddr.bytes, 16)) ||
	    (r = strcmp(a->ifname ? a->ifname : "", b->ifname ? b->ifname : "")) ||
	    (r = pw_state_rank(a->state) - pw_state_rank(b->state)) ||
	    (r = memcmp(a->raddr.bytes, b->raddr.bytes, 16)) || (r = cmp_u64(a->rport, b->rport)) ||
	    (r = cmp_u64(a->inode, b->inode)))
		return r;
	return cmp_u64(a->cookie, b->cookie);
}

/* inode -> socket index, open addressing */
struct inode_map {
	uint32_t *keys;
	uint32_t *vals;
	size_t mask;
};

static int map_init(struct inode_map *m, size_t n)
{
	size_t cap = 64;
	while (cap < n * 2)
		cap <<= 1;
	m->keys = calloc(cap, sizeof(*m->keys));
	m->vals = calloc(cap, sizeof(*m->vals));
	m->mask = cap - 1;
	return m->keys && m->vals ? 0 : -ENOMEM;
}

static size_t map_slot(const struct inode_map *m, uint32_t key)
{
	return (key * 2654435761u) & m->mask;
}

static void map_put(struct inode_map *m, uint32_t key, uint32_t val)
{
	size_t i = map_slot(m, key);
	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & m->mask;
	m->keys[i] = key;
	m->vals[i] = val;
}

static bool map_get(const struct inode_map *m, uint32_t key, uint32_t *val)
{
	for (size_t i = map_slot(m, key); m->keys[i]; i = (i + 1) & m->mask)
		if (m->keys[i] == key) {
			*val = m->vals[i];
			return true;
		}
	return false;
}

struct match {
	uint32_t sock; /* index in snap->sockets */
	struct pw_fdrec rec;
};

static int cmp_match(const void *pa, const void *pb)
{
	const struct match *a = pa, *b = pb;
	int r;
	if ((r = cmp_u64(a->sock, b->sock)) || (r = cmp_u64(a->rec.pid, b->rec.pid)) ||
	    (r = cmp_u64(a->rec.fd, b->rec.fd)))
		return r;
	/* the leader's own table first, so duplicates keep tid == pid */
	return (a->rec.tid != a->rec.pid) - (b->rec.tid != b->rec.pid);
}

static int cmp_pid(const void *a, const void *b)
{
	return cmp_u64(*(const pid_t *)a, *(const pid_t *)b);
}

/* The element of base[0..n) (sorted by pid, one each) whose pid is pid, or
 * NULL. Both arrays searched here start with their pid_t pid. */
static void *find_pid(const void *base, size_t n, size_t size, pid_t pid)
{
	return n ? bsearch(&pid, base, n, size, cmp_pid) : NULL;
}

static struct pw_process *find_proc(struct pw_snapshot *snap, pid_t pid)
{
	return find_pid(snap->procs, snap->n_procs, sizeof(*snap->procs), pid);
}

#define NO_REP UINT32_MAX

struct facts_job {
	struct pw_process *procs;
	const pid_t *pids;
	const struct pw_task_facts **tf; /* the walk's facts of pids[i], or NULL */
	const uint32_t *rep;		 /* index of a process in the same cgroups whose
					    cgroup file is read instead, or NO_REP */
	size_t n;
	int procfd;
	unsigned flags; /* PW_FACTS_* */
	atomic_size_t *cursor;
};

/* One process's facts into p (zeroed but for its pid when it exited since
 * the walk); shares_cgroup: another process reads the file of its css_set.
 * Returns what pw_process_read_known returned. */
static int read_one(struct pw_process *p, int procfd, pid_t pid, unsigned flags,
		    bool shares_cgroup, const struct pw_task_facts *tf)
{
	int r = pw_process_read_known(procfd, pid, flags | (shares_cgroup ? PW_FACTS_NO_CGROUP : 0),
				      tf, p);
	if (r < 0)
		*p = (struct pw_process){0};
	p->pid = pid; /* kept either way */
	return r;
}

/* p's cgroup facts from the process read for its css_set (from), or, when
 * that one had exited, all of p read again with its own. */
static void take_cgroup(struct pw_process *p, const struct pw_process *from, int procfd,
			pid_t pid, unsigned flags, const struct pw_task_facts *tf)
{
	if (from->facts_read && pw_process_copy_cgroup(p, from) == 0)
		return;
	pw_process_clear(p);
	read_one(p, procfd, pid, flags, false, tf);
}

static void *facts_worker(void *arg)
{
	struct facts_job *j = arg;
	for (;;) {
		size_t i = atomic_fetch_add(j->cursor, 16);
		if (i >= j->n)
			return NULL;
		size_t end = i + 16 < j->n ? i + 16 : j->n;
		for (; i < end; i++)
			read_one(&j->procs[i], j->procfd, j->pids[i], j->flags, j->rep[i] != NO_REP,
				 j->tf[i]);
	}
}

/* Facts of the holders we report: a handful of small /proc reads each, all
 * syscalls, so on a busy host they are spread over the cores like the walk. */
static void read_facts(struct pw_process *procs, const pid_t *pids, const struct pw_task_facts **tf,
		       const uint32_t *rep, size_t n, int procfd, unsigned flags)
{
	atomic_size_t cursor = 0;
	struct facts_job job = {procs, pids, tf, rep, n, procfd, flags, &cursor};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = n / 128 + 1;
	size_t nthreads = ncpu > 1 ? (size_t)ncpu : 1;
	if (nthreads > want)
		nthreads = want;
	if (nthreads > 8)
		nthreads = 8;
	pthread_t th[8];
	size_t started = 0;
	for (size_t i = 1; i < nthreads; i++)
		if (pthread_create(&th[started], NULL, facts_worker, &job) == 0)
			started++;
	facts_worker(&job);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}

static const struct pw_task_facts *find_facts(const struct pw_joined *j, pid_t pid)
{
	return find_pid(j->facts, j->n_facts, sizeof(*j->facts), pid); /* pw-bpf-read.c sorts */
}

struct css_ref {
	uint64_t key;
	uint32_t idx;
};

static int cmp_css(const void *pa, const void *pb)
{
	const struct css_ref *a = pa, *b = pb;
	int r = cmp_u64(a->key, b->key);
	return r ? r : cmp_u64(a->idx, b->idx);
}

/* Processes in one css_set have the same /proc/PID/cgroup: one of them is
 * read, the others copy it. Not for processes named "systemd", whose unit
 * decides whether they are a manager (read when their facts are). */
static int plan_cgroups(const struct pw_task_facts **tf, size_t n, uint32_t *rep)
{
	struct css_ref *v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		rep[i] = NO_REP;
		if (tf[i] && tf[i]->cgroups)
			v[k++] = (struct css_ref){tf[i]->cgroups, (uint32_t)i};
	}
	if (k > 1)
		qsort(v, k, sizeof(*v), cmp_css);
	/* the first of each run of one key reads for all of it */
	for (size_t i = 0, first = 0; i < k; i++) {
		if (v[i].key != v[first].key)
			first = i;
		if (i != first && strcmp(tf[v[i].idx]->comm, "systemd"))
			rep[v[i].idx] = v[first].idx;
	}
	free(v);
	return 0;
}

/* After the parallel reads: copy each process's cgroup facts from the one
 * read for its css_set; when that one had exited, read its own. */
static void copy_cgroups(struct pw_process *procs, size_t n, const pid_t *pids,
			 const struct pw_task_facts **tf, const uint32_t *rep, int procfd,
			 unsigned flags)
{
	for (size_t i = 0; i < n; i++)
		if (rep[i] != NO_REP && procs[i].facts_read)
			take_cgroup(&procs[i], &procs[rep[i]], procfd, pids[i], flags, tf[i]);
}

/* Join: which fd of which process holds which socket. Holders are laid out
 * in socket order with no process yet (pw_process_facts fills that in).
 * With take, the records that matched leave the walk (holders carry them
 * now) and its array shrinks to what is left: -a matches nearly all. */
static int join(struct pw_snapshot *snap, const struct pw_walk *w, struct pw_walk *take,
		struct pw_joined *ret)
{
	ret->facts = w->facts; /* borrowed: the walk outlives the join */
	ret->n_facts = w->n_facts;
	struct pw_sockvec *sv = &snap->sockets;
	if (sv->n > 1)
		qsort(sv->v, sv->n, sizeof(*sv->v), cmp_socket);
	struct inode_map map = { 0 };
	struct match *m = NULL;
	int r = map_init(&map, sv->n);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < sv->n; i++)
		if (sv->v[i].inode)
			map_put(&map, sv->v[i].inode, (uint32_t)i);

	/* counted first: the array is exactly as long as the matches */
	size_t n = 0, kept = 0;
	for (size_t i = 0; i < w->n_recs; i++) {
		uint32_t idx;
		n += map_get(&map, w->recs[i].inode, &idx);
	}
	m = malloc((n ? n : 1) * sizeof(*m));
	if (!m) {
		r = -ENOMEM;
		goto out;
	}
	n = 0;
	for (size_t i = 0; i < w->n_recs; i++) {
		uint32_t idx;
		if (map_get(&map, w->recs[i].inode, &idx))
			m[n++] = (struct match){ idx, w->recs[i] };
		else if (take)
			take->recs[kept++] = w->recs[i];
	}
	if (take) {
		take->n_recs = kept;
		struct pw_fdrec *fit = realloc(take->recs, (kept ? kept : 1) * sizeof(*fit));
		if (fit) {
			take->recs = fit;
			take->cap_recs = kept ? kept : 1;
		}
	}
	free(map.keys);
	free(map.vals);
	map = (struct inode_map){ 0 };
	if (n > 1)
		qsort(m, n, sizeof(*m), cmp_match);
	size_t k = 0; /* drop threads that repeat the leader's (inode, fd) */
	for (size_t i = 0; i < n; i++)
		if (k == 0 || m[k - 1].sock != m[i].sock || m[k - 1].rec.pid != m[i].rec.pid ||
		    m[k - 1].rec.fd != m[i].rec.fd)
			m[k++] = m[i];
	n = k;

	snap->holders = calloc(n ? n : 1, sizeof(*snap->holders));
	if (!snap->holders) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct pw_socket *s = &sv->v[m[i].sock];
		struct pw_holder *h = &snap->holders[i];
		*h = (struct pw_holder){
			.tid = m[i].rec.tid, .fd = m[i].rec.fd, .via = m[i].rec.via, .cloexec = -1
		};
		if (!s->holders)
			s->holders = h; /* matches are sorted by socket: one run each */
		s->n_holders++;
	}
	snap->n_holders = n;
	ret->matches = m;
	ret->n = n;
	m = NULL;
out:
	free(m);
	free(map.keys);
	free(map.vals);
	return r;
}

int pw_join(struct pw_snapshot *snap, const struct pw_walk *w, struct pw_joined *ret)
{
	return join(snap, w, NULL, ret);
}

int pw_join_take(struct pw_snapshot *snap, struct pw_walk *w, struct pw_joined *ret)
{
	return join(snap, w, w, ret);
}

/* ---- facts read early ---------------------------------------------------
 * Without a port asked, nearly every process the walk saw with sockets will
 * hold one the snapshot reports. Their facts are read in a thread while the
 * sockets are dumped (a core the dumps leave idle), in pid order; the facts
 * phase stops it, takes what it read for the processes it needs and reads
 * the rest as before. Reads of processes no reported socket needs are
 * wasted, but only on that idle core, and stop when the dumps are done. */

static void *early_worker(void *arg)
{
	struct pw_facts_early *e = arg;
	size_t i = 0, end = e->limit && e->limit < e->n ? e->limit : e->n;
	for (; i < end && !atomic_load_explicit(&e->stop, memory_order_relaxed); i++) {
		int r = read_one(&e->procs[i], e->procfd, e->pids[i], e->flags,
				 e->rep[i] != NO_REP, e->tf[i]);
		if (r == -EMFILE || r == -ENFILE)
			break; /* not "exited": the facts phase reads it and the rest */
	}
	e->n_read = i;
	return NULL;
}

static void early_release(struct pw_facts_early *e)
{
	free(e->pids);
	free(e->tf);
	free(e->rep);
	free(e->procs);
	free(e->taken);
	*e = (struct pw_facts_early){0};
}

int pw_facts_early_start(struct pw_facts_early *e, const struct pw_walk *w, int procfd,
			 unsigned flags, size_t limit)
{
	*e = (struct pw_facts_early){.procfd = procfd, .flags = flags, .limit = limit};
	size_t n = 0, nf = w->n_facts;
	e->pids = malloc((nf ? nf : 1) * sizeof(*e->pids));
	e->tf = malloc((nf ? nf : 1) * sizeof(*e->tf));
	e->rep = malloc((nf ? nf : 1) * sizeof(*e->rep));
	e->procs = calloc(nf ? nf : 1, sizeof(*e->procs));
	e->taken = calloc(nf ? nf : 1, sizeof(*e->taken));
	if (!e->pids || !e->tf || !e->rep || !e->procs || !e->taken || nf >= NO_REP) {
		early_release(e);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nf; i++) /* sorted by pid (pw-bpf-read.c) */
		if (n == 0 || e->pids[n - 1] != w->facts[i].pid) {
			e->pids[n] = w->facts[i].pid;
			e->tf[n++] = &w->facts[i];
		}
	e->n = n;
	/* the first of each css_set reads its cgroup file: the lowest index,
	 * so the worker reads it before the others that copy it */
	int r = plan_cgroups(e->tf, n, e->rep);
	if (r >= 0)
		r = -pthread_create(&e->th, NULL, early_worker, e);
	if (r < 0) {
		early_release(e);
		return r;
	}
	e->started = true;
	return 0;
}

/* Stop the reads and wait for the worker. */
static void early_stop(struct pw_facts_early *e)
{
	if (!e->started)
		return;
	atomic_store(&e->stop, true);
	pthread_join(e->th, NULL);
	e->started = false;
}

void pw_facts_early_free(struct pw_facts_early *e)
{
	early_stop(e);
	for (size_t i = 0; i < e->n_read; i++)
		if (!e->taken[i])
			pw_process_clear(&e->procs[i]);
	early_release(e);
}

/* Move the processes the worker read into procs[i] (pids[i]); the indices
 * of those it did not read go to rest. Returns how many are in rest. */
static size_t early_take(struct pw_facts_early *e, struct pw_process *procs, const pid_t *pids,
			 size_t np, size_t *rest, int procfd, unsigned flags)
{
	early_stop(e);
	size_t nrest = 0;
	for (size_t i = 0; i < np; i++) {
		const pid_t *at = find_pid(e->pids, e->n_read, sizeof(*e->pids), pids[i]);
		if (!at) {
			rest[nrest++] = i;
			continue;
		}
		size_t k = (size_t)(at - e->pids);
		procs[i] = e->procs[k];
		e->taken[k] = true;
		if (e->rep[k] == NO_REP || !procs[i].facts_read)
			continue;
		/* the first of its css_set was read before it (possibly taken
		 * too: its strings are still there) */
		take_cgroup(&procs[i], &e->procs[e->rep[k]], procfd, pids[i], flags, e->tf[k]);
	}
	return nrest;
}

/* Facts of n processes (pids[i] into procs[i]), cgroup files shared. */
static int facts_of(struct pw_process *procs, const pid_t *pids, size_t n,
		    const struct pw_joined *j, int procfd, unsigned flags)
{
	const struct pw_task_facts **tf = calloc(n ? n : 1, sizeof(*tf));
	uint32_t *rep = calloc(n ? n : 1, sizeof(*rep));
	int r = !tf || !rep || (n && n >= NO_REP) ? -ENOMEM : 0;
	for (size_t i = 0; i < n && r >= 0; i++)
		tf[i] = find_facts(j, pids[i]);
	if (r >= 0)
		r = plan_cgroups(tf, n, rep);
	if (r >= 0) {
		read_facts(procs, pids, tf, rep, n, procfd, flags);
		copy_cgroups(procs, n, pids, tf, rep, procfd, flags);
	}
	free(tf);
	free(rep);
	return r;
}

/* Process facts, only for processes that hold a socket we will report; each
 * holder then points at its process. early: what was read beside the dumps
 * (NULL when nothing was), taken from and freed. */
int pw_process_facts(struct pw_snapshot *snap, const struct pw_joined *j, int procfd,
		     struct pw_facts_early *early)
{
	const struct match *m = j->matches;
	size_t n = j->n;
	pid_t *pids = malloc((n ? n : 1) * sizeof(*pids));
	if (!pids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		pids[i] = m[i].rec.pid;
	if (n > 1)
		qsort(pids, n, sizeof(*pids), cmp_pid);
	size_t np = 0;
	for (size_t i = 0; i < n; i++)
		if (np == 0 || pids[np - 1] != pids[i])
			pids[np++] = pids[i];
	snap->procs = calloc(np ? np : 1, sizeof(*snap->procs));
	if (!snap->procs) {
		free(pids);
		return -ENOMEM;
	}
	snap->n_procs = np;
	int r = 0;
	if (early && early->n) {
		size_t *rest = malloc((np ? np : 1) * sizeof(*rest));
		pid_t *rpids = malloc((np ? np : 1) * sizeof(*rpids));
		struct pw_process *rprocs = calloc(np ? np : 1, sizeof(*rprocs));
		if (!rest || !rpids || !rprocs) {
			r = -ENOMEM;
		} else {
			size_t nr = early_take(early, snap->procs, pids, np, rest, procfd,
					       snap->facts_flags);
			for (size_t i = 0; i < nr; i++)
				rpids[i] = pids[rest[i]];
			r = facts_of(rprocs, rpids, nr, j, procfd, snap->facts_flags);
			for (size_t i = 0; i < nr; i++)
				snap->procs[rest[i]] = rprocs[i]; /* moved, or zeroed on failure */
		}
		free(rest);
		free(rpids);
		free(rprocs);
	} else {
		r = facts_of(snap->procs, pids, np, j, procfd, snap->facts_flags);
	}
	if (early)
		pw_facts_early_free(early);
	free(pids);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		snap->holders[i].proc = find_proc(snap, m[i].rec.pid);
	pw_lineage_read(snap, procfd); /* forked or passed: only shared sockets */
	return 0;
}

void pw_joined_free(struct pw_joined *j)
{
	free(j->matches);
	*j = (struct pw_joined){0};
}

static const struct pw_netns_sysctl *sysctl_of(const struct pw_snapshot *snap, uint64_t netns)
{
	for (size_t i = 0; i < snap->n_netns; i++)
		if (snap->netns_ids[i] == netns)
			return &snap->sysctls[i];
	return NULL;
}

/* Group by (netns, proto, port), sockets already in display order (pw_join). */
int pw_group(struct pw_snapshot *snap)
{
	struct pw_sockvec *sv = &snap->sockets;
	size_t ng = 0;
	for (size_t i = 0; i < sv->n; i++)
		if (i == 0 || sv->v[i].netns != sv->v[i - 1].netns ||
		    sv->v[i].proto != sv->v[i - 1].proto ||
		    group_port(&sv->v[i]) != group_port(&sv->v[i - 1]))
			ng++;
	snap->groups = calloc(ng ? ng : 1, sizeof(*snap->groups));
	struct pw_socket **ptrs = calloc(sv->n ? sv->n : 1, sizeof(*ptrs));
	if (!snap->groups || !ptrs) {
		free(ptrs);
		return -ENOMEM;
	}
	/* groups point into one array of socket pointers owned by group 0 */
	struct pw_netns_sysctl defaults = {
	    .unprivileged_port_start = 1024, .local_lo = 32768, .local_hi = 60999};
	struct pw_port_group *g = NULL;
	for (size_t i = 0; i < sv->n; i++) {
		struct pw_socket *s = &sv->v[i];
		ptrs[i] = s;
		if (!g || s->netns != g->netns || s->proto != g->proto ||
		    group_port(s) != g->port) {
			g = &snap->groups[snap->n_groups++];
			g->netns = s->netns;
			g->proto = s->proto;
			g->port = group_port(s);
			g->sockets = &ptrs[i];
			const struct pw_netns_sysctl *sys = sysctl_of(snap, s->netns);
			pw_port_classify(sys ? sys : &defaults, g->port, &g->class);
		}
		g->n_sockets++;
	}
	if (snap->n_groups == 0)
		free(ptrs);
	snap->n_socket_groups = snap->n_groups; /* forwards may add empty ones after */
	return 0;
}
