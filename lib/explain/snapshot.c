/* SPDX-License-Identifier: MIT */
/* pw_snapshot_take, as its phases:
 *   holders (the fd walk, which also finds the namespaces) -> sockets (per
 *   namespace: sock_diag, options, kernel owners, sysctls) -> join ->
 *   process facts -> group -> kernel owners and socket units -> forwards
 *   (NAT rules and proxies followed to where they land) -> explain.
 * Holders come before sockets only because the walk names the namespaces
 * to visit; nothing else in them depends on the sockets. */
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "internal.h"

static bool held_by_systemd(const struct pw_snapshot *snap)
{
	for (size_t i = 0; i < snap->n_procs; i++)
		if (snap->procs[i].is_systemd && snap->procs[i].pid == 1)
			return true;
	return false;
}

/* What the walk found besides the namespaces (fd records, the pids the
 * BPF iterator visited, its process facts) is dead once every join and
 * every process's facts are done. */
static void drop_records(struct pw_walk *w)
{
	free(w->recs);
	w->recs = NULL;
	w->n_recs = w->cap_recs = 0;
	free(w->visited);
	w->visited = NULL;
	w->n_visited = w->cap_visited = 0;
	free(w->facts);
	w->facts = NULL;
	w->n_facts = w->cap_facts = 0;
}

static int walk_holders(const struct pw_query *q, int procfd, bool want_netns, struct pw_walk *w,
			struct pw_stats *st)
{
	struct pw_walk_opts o = {
		.proc_root = q->proc_root,
		.threads = q->threads,
		.want_netns = want_netns,
	};
	int r = -EOPNOTSUPP;
	if (q->collector == PW_COLLECTOR_BPF ||
	    (q->collector == PW_COLLECTOR_AUTO && geteuid() == 0 && !q->proc_root)) {
		/* the task iterator may skip processes (KERNEL.md §8: PID 1
		 * here): what /proc listed before the walk and the walk did not
		 * visit is walked through /proc afterwards, or counted hidden */
		_cleanup_free_ pid_t *before = NULL;
		size_t n_before = 0;
		r = pw_proc_list_pids(procfd, &before, &n_before);
		if (r >= 0)
			r = pw_collector_bpf.walk(&o, w);
		if (r >= 0)
			r = pw_walk_complete(procfd, before, n_before, w);
		if (r >= 0)
			st->collector = pw_collector_bpf.name;
		else if (q->collector == PW_COLLECTOR_BPF || r == -ENOMEM)
			return r; /* -EMFILE: the command says "out of file descriptors" */
		else
			pw_walk_free(w);
		if (r == -EMFILE)
			st->bpf_fd_limit = true; /* /proc may get further: say why not BPF */
	}
	if (r < 0) {
		r = pw_collector_procfs.walk(&o, w);
		st->collector = pw_collector_procfs.name;
	}
	return r;
}

struct first_dump {
	struct pw_collect_ctx *c;
	int procfd;
	enum pw_netns_scope scope;
	pthread_t th;
	bool started;
	int r;
};

static void *first_dump_main(void *arg)
{
	struct first_dump *d = arg;
	d->r = pw_collect_sockets_first(d->c, d->procfd, d->scope);
	return NULL;
}

/* Out of fds beside the walk (it holds one per namespace it finds): the
 * dump failed before it added anything (its only fds are opened first), so
 * it is tried again alone. */
static int first_dump_wait(struct first_dump *d)
{
	if (d->started) {
		pthread_join(d->th, NULL);
		d->started = false;
		if ((d->r == -EMFILE || d->r == -ENFILE) && !d->c->snap->sockets.n &&
		    !d->c->snap->n_netns)
			d->r = pw_collect_sockets_first(d->c, d->procfd, d->scope);
	}
	return d->r;
}

/* Two phases side by side need fds of their own: not under a tight limit,
 * where the walk alone may use them all (it says what it then missed). */
static bool fds_to_spare(void)
{
	struct rlimit rl;
	return getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	       (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 1024);
}

int pw_snapshot_take(const struct pw_query *q, struct pw_snapshot **ret)
{
	struct pw_snapshot *snap = calloc(1, sizeof(*snap));
	if (!snap)
		return -ENOMEM;
	struct pw_walk w = { 0 };
	struct pw_joined joined = { 0 };
	struct pw_facts_early early = {0};
	struct pw_collect_ctx c = { .q = q, .snap = snap };
	int r;
	_cleanup_close_ int procfd =
		open(q->proc_root ? q->proc_root : "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0) {
		r = -errno;
		goto fail;
	}

	if (q->no_cmdline)
		snap->facts_flags |= PW_FACTS_NO_CMDLINE;
	if (q->no_reason_text)
		snap->facts_flags |= PW_FACTS_NO_REASON_TEXT;
	bool root = geteuid() == 0;
	c.root = root && !q->proc_root;
	snap->stats.privileged = root;
	snap->stats.options_route = "inferred";
	enum pw_netns_scope scope = q->netns_scope;
	if (scope == PW_NETNS_ALL && !root)
		scope = PW_NETNS_CURRENT; /* setns needs CAP_SYS_ADMIN */

	r = pw_diag_request_build(q, &c.req);
	if (r < 0)
		goto fail;
	c.use_bpf_opts = root && !q->proc_root;

	/* sockets of the first namespace, in a thread beside the walk: the
	 * dumps and the walk need nothing of each other */
	bool side = fds_to_spare();
	struct first_dump fdump = {.c = &c, .procfd = procfd, .scope = scope};
	if (side && pthread_create(&fdump.th, NULL, first_dump_main, &fdump) == 0)
		fdump.started = true;
	else
		fdump.r = pw_collect_sockets_first(&c, procfd, scope);

	/* holders: every fd table (the walk also finds the namespaces) */
	if (!q->no_holders) {
		r = walk_holders(q, procfd, scope == PW_NETNS_ALL, &w, &snap->stats);
		if (r < 0) {
			first_dump_wait(&fdump);
			goto fail;
		}
		snap->stats.hidden_processes = w.hidden;
		snap->stats.hidden_unvisited = w.unvisited_hidden;
		snap->stats.hidden_pid = w.hidden_min;
		snap->stats.vanished_processes = w.vanished;
		snap->stats.fd_limit_processes = w.fd_limit;
		snap->stats.hidden_processes += w.fd_limit; /* unread, whatever the cause */
		if (!root && !q->proc_root) {
			snap->stats.hidepid = pw_proc_hidepid();
			if (snap->stats.hidepid >= 2) { /* not listed, not only unreadable */
				snap->stats.hidepid_processes = pw_proc_count_invisible(procfd);
				snap->stats.hidden_processes += snap->stats.hidepid_processes;
			}
		}
	}

	/* every namespace and no port asked: nearly every process the walk
	 * saw holds a socket to report; read their facts beside the dumps */
	if (side && w.n_facts && scope == PW_NETNS_ALL && !q->n_specs && !q->no_holders &&
	    pw_facts_early_start(&early, &w, procfd, snap->facts_flags, 0) == -ENOMEM) {
		first_dump_wait(&fdump);
		r = -ENOMEM;
		goto fail;
	}

	/* then the other namespaces, one after the other */
	r = first_dump_wait(&fdump);
	if (r >= 0)
		r = pw_collect_sockets_rest(&c, procfd, scope, &w);
	if (r < 0)
		goto fail;
	snap->stats.netns_seen = (unsigned)snap->n_netns;
	pw_sockvec_fit(&snap->sockets); /* the dumps are done: no room to grow */

	/* join -> process facts -> group; what a phase leaves dead is freed
	 * before the next allocates (the fd records join the holders, the
	 * matches end with the facts) */
	r = pw_join_take(snap, &w, &joined);
	if (r >= 0)
		r = pw_process_facts(snap, &joined, procfd, &early);
	pw_joined_free(&joined);
	if (r >= 0)
		r = pw_group(snap);
	if (r < 0)
		goto fail;
	/* who owns what no process holds: tunnels, systemd socket units */
	pw_kowners_attribute(snap, &snap->kowners);
	/* forwards: rules read with the sockets, proxies from their holders */
	struct pw_forward_ctx fc = {
		.q = q, .w = &w, .procfd = procfd, .current = pw_netns_current()
	};
	r = pw_forwards_build(snap, &fc);
	if (r < 0)
		goto fail;
	drop_records(&w); /* the forward targets were the last to join */
	/* names: each holder's container, each namespace (forwards add
	 * groups) */
	snap->netns_current = pw_netns_current();
	if (!q->no_holders && ((r = pw_containers_resolve(snap, procfd)) < 0 ||
				(r = pw_containers_resolve_targets(snap, procfd)) < 0))
		goto fail;
	if ((r = pw_netns_names(snap, &w, procfd, "/run/netns")) < 0)
		goto fail;
	for (size_t i = 0; i < snap->n_procs; i++)
		snap->stats.cmdline_truncated += snap->procs[i].cmdline_truncated;
	pw_incomplete_build(snap);
	if (!q->no_explain && held_by_systemd(snap))
		pw_sockunits_read(&snap->sockunits); /* no bus: explain says less */
	if (!q->no_explain) {
		r = pw_explain(snap);
		if (r >= 0)
			r = pw_explain_forwards(snap);
		if (r < 0)
			goto fail;
	}
	pw_joined_free(&joined);
	pw_walk_free(&w);
	*ret = snap;
	return 0;
fail:
	pw_facts_early_free(&early); /* nothing when taken or never started */
	pw_joined_free(&joined);
	pw_walk_free(&w);
	pw_snapshot_free(snap);
	return r;
}

void pw_snapshot_free(struct pw_snapshot *snap)
{
	if (!snap)
		return;
	pw_reason_text_free(snap);
	for (size_t i = 0; i < snap->n_groups; i++) {
		struct pw_port_group *g = &snap->groups[i];
		for (size_t j = 0; j < g->n_reasons; j++)
			pw_reason_clear(&g->reasons[j]);
		uintptr_t p = (uintptr_t)g->reasons, pool = (uintptr_t)snap->reason_pool;
		if (p < pool || p >= pool + snap->n_reason_pool * sizeof(*g->reasons))
			free(g->reasons); /* its own array, not a run of the pool */
		for (size_t j = 0; j < g->n_forwards; j++)
			pw_forward_clear(&g->forwards[j]);
		free(g->forwards);
	}
	free(snap->reason_pool);
	if (snap->n_groups)
		free(snap->groups[0].sockets);
	free(snap->groups);
	for (size_t i = 0; i < snap->n_procs; i++)
		pw_process_clear(&snap->procs[i]);
	free(snap->procs);
	free(snap->holders);
	pw_sockvec_free(&snap->sockets);
	pw_sockvec_free(&snap->targets);
	for (size_t i = 0; i < snap->target_holders.n_procs; i++)
		pw_process_clear(&snap->target_holders.procs[i]);
	free(snap->target_holders.procs);
	free(snap->target_holders.holders);
	pw_nat_rules_free(&snap->natrules);
	free(snap->sysctls);
	for (size_t i = 0; snap->netns_names && i < snap->n_netns; i++)
		free(snap->netns_names[i]);
	free(snap->netns_names);
	free(snap->netns_ids);
	pw_kowners_free(&snap->kowners);
	pw_sockunits_free(&snap->sockunits);
	free(snap);
}

size_t pw_snapshot_n_sockets(const struct pw_snapshot *snap)
{
	return snap->sockets.n;
}

struct pw_socket *pw_snapshot_socket(const struct pw_snapshot *snap, size_t i)
{
	return i < snap->sockets.n ? &snap->sockets.v[i] : NULL;
}

size_t pw_snapshot_n_groups(const struct pw_snapshot *snap)
{
	return snap->n_groups;
}

struct pw_port_group *pw_snapshot_group(const struct pw_snapshot *snap, size_t i)
{
	return i < snap->n_groups ? &snap->groups[i] : NULL;
}

const struct pw_stats *pw_snapshot_stats(const struct pw_snapshot *snap)
{
	return &snap->stats;
}

struct pw_port_group *pw_snapshot_group_of(const struct pw_snapshot *snap,
					   const struct pw_socket *s)
{
	size_t lo = 0, hi = snap->n_socket_groups;
	while (lo < hi) { /* groups with sockets come first, in socket order */
		size_t mid = (lo + hi) / 2;
		const struct pw_port_group *g = &snap->groups[mid];
		if (g->sockets[g->n_sockets - 1] < s)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < snap->n_socket_groups ? &snap->groups[lo] : NULL;
}
