/* Reasons from hand-built snapshots: pure, no root, exact kinds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "internal.h"

/* A tiny world: up to 8 sockets in one group, up to 8 processes. */
struct world {
	struct pw_snapshot snap;
	struct pw_socket sock[8];
	struct pw_socket *ptrs[8];
	struct pw_process proc[8];
	struct pw_holder hold[8][8];
	size_t n_sock, n_proc;
};

static void world_init(struct world *w, bool privileged, unsigned hidden)
{
	memset(w, 0, sizeof(*w));
	w->snap.stats.privileged = privileged;
	w->snap.stats.hidden_processes = hidden;
}

static struct pw_process *proc(struct world *w, pid_t pid, pid_t ppid, const char *comm)
{
	struct pw_process *p = &w->proc[w->n_proc++];
	p->pid = pid;
	p->ppid = ppid;
	p->comm = (char *)comm;
	p->facts_read = true;
	return p;
}

static struct pw_socket *sock(struct world *w, uint8_t proto, uint8_t family, const char *addr,
			      uint16_t port, uint8_t state, uint32_t inode)
{
	struct pw_socket *s = &w->sock[w->n_sock];
	s->proto = proto;
	s->family = family;
	s->laddr.family = family;
	inet_pton(family, addr, s->laddr.bytes);
	s->lport = port;
	s->state = state;
	s->inode = inode;
	s->v6only = -1;
	s->reuseaddr = s->reuseport = -1;
	s->holders = w->hold[w->n_sock];
	w->ptrs[w->n_sock] = s;
	w->n_sock++;
	return s;
}

static void hold(struct world *w, struct pw_socket *s, struct pw_process *p, int fd)
{
	size_t i = (size_t)(s - w->sock);
	w->hold[i][s->n_holders++] = (struct pw_holder){ p, p->pid, fd };
}

static struct pw_snapshot *last_snap; /* the world explain() ran on last */

static struct pw_port_group *explain(struct world *w)
{
	static struct pw_port_group g;
	last_snap = &w->snap;
	memset(&g, 0, sizeof(g));
	g.proto = w->sock[0].proto;
	g.port = w->sock[0].lport;
	g.sockets = w->ptrs;
	g.n_sockets = w->n_sock;
	w->snap.groups = &g;
	w->snap.n_groups = 1;
	assert_int_equal(pw_explain(&w->snap), 0);
	return &g;
}

static void done(struct pw_port_group *g)
{
	for (size_t i = 0; i < g->n_reasons; i++)
		pw_reason_clear(&g->reasons[i]);
	/* a group without forwards has its reasons in the snapshot's pool */
	if (last_snap && last_snap->reason_pool)
		free(last_snap->reason_pool);
	else
		free(g->reasons);
	if (last_snap)
		last_snap->reason_pool = NULL;
}

static const struct pw_reason *find(const struct pw_port_group *g, enum pw_reason_kind k)
{
	for (size_t i = 0; i < g->n_reasons; i++)
		if (g->reasons[i].kind == k)
			return &g->reasons[i];
	return NULL;
}

static bool covers(const struct pw_reason *r, const struct pw_socket *s)
{
	for (size_t i = 0; r && i < r->n_sockets; i++)
		if (r->sockets[i] == s)
			return true;
	return false;
}

/* every socket of the group belongs to at least one reason */
static void assert_all_covered(const struct pw_port_group *g)
{
	for (size_t i = 0; i < g->n_sockets; i++) {
		bool any = false;
		for (size_t j = 0; j < g->n_reasons; j++)
			any |= covers(&g->reasons[j], g->sockets[i]);
		assert_true(any);
	}
}

static void test_single(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, AF_INET, "0.0.0.0", 22, PW_ST_LISTEN, 100);
	hold(&w, s, proc(&w, 612, 1, "sshd"), 3);
	struct pw_port_group *g = explain(&w);
	assert_int_equal(g->n_reasons, 1);
	assert_int_equal(g->reasons[0].kind, PW_R_SINGLE);
	assert_int_equal(g->reasons[0].confidence, PW_CONF_VERIFIED);
	assert_non_null(strstr(g->reasons[0].summary, "sshd (PID 612"));
	assert_true(covers(&g->reasons[0], s));
	done(g);
}

static void test_forked(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, AF_INET, "0.0.0.0", 80, PW_ST_LISTEN, 200);
	struct pw_process *master = proc(&w, 1311, 1, "nginx");
	hold(&w, s, master, 5);
	hold(&w, s, proc(&w, 1312, 1311, "nginx"), 5);
	hold(&w, s, proc(&w, 1313, 1311, "nginx"), 5);
	struct pw_port_group *g = explain(&w);
	const struct pw_reason *r = find(g, PW_R_FORKED);
	assert_non_null(r);
	assert_int_equal(g->n_reasons, 1);
	assert_non_null(strstr(r->summary, "nginx (PID 1311) and 2 child processes"));
	assert_int_equal(r->n_evidence, 3);
	/* not close-on-exec at the parent's fd number: fits inheritance */
	assert_int_equal(r->confidence, PW_CONF_VERIFIED);
	done(g);
}

/* The lineage facts of one process: stack start, its parent's, start times. */
static void image(struct pw_process *p, uint64_t stack, uint64_t pstack, uint64_t start,
		  uint64_t pstart)
{
	p->start_stack = stack;
	p->parent_start_stack = pstack;
	p->start_time = start;
	p->parent_start_time = pstart;
}

static void test_node_cluster_sched_none(void **state)
{
	(void)state;
	/* the primary forks exec'd workers, then sends them its socket: they hold
	 * it close-on-exec at another fd number */
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, AF_INET, "127.0.0.1", 7201, PW_ST_LISTEN, 230);
	struct pw_process *pri = proc(&w, 500, 1, "node");
	image(pri, 0x7ff0, 0, 100, 1);
	struct pw_process *w1 = proc(&w, 501, 500, "node"), *w2 = proc(&w, 502, 500, "node");
	image(w1, 0x7aa0, 0x7ff0, 110, 100);
	image(w2, 0x7bb0, 0x7ff0, 111, 100);
	hold(&w, s, pri, 21);
	hold(&w, s, w1, 19);
	hold(&w, s, w2, 19);
	for (size_t i = 0; i < 3; i++)
		s->holders[i].cloexec = 1;
	struct pw_port_group *g = explain(&w);
	assert_int_equal(g->n_reasons, 1);
	const struct pw_reason *r = find(g, PW_R_PASSED);
	assert_non_null(r);
	assert_int_equal(r->confidence, PW_CONF_INFERRED);
	assert_non_null(strstr(r->summary, "exec'd after fork and hold it close-on-exec"));
	assert_non_null(strstr(r->summary, "the other reading"));
	done(g);

	/* the same tree, workers forked without exec at the parent's fd: forked */
	image(w1, 0x7ff0, 0x7ff0, 110, 100);
	image(w2, 0x7ff0, 0x7ff0, 111, 100);
	for (size_t i = 0; i < 3; i++)
		s->holders[i].fd = 21;
	g = explain(&w);
	r = find(g, PW_R_FORKED);
	assert_non_null(r);
	assert_int_equal(r->confidence, PW_CONF_VERIFIED);
	done(g);

	/* facts unreadable (another user's processes): inferred */
	image(w1, 0, 0, 110, 0);
	image(w2, 0, 0, 111, 0);
	for (size_t i = 0; i < 3; i++)
		s->holders[i].cloexec = -1;
	g = explain(&w);
	r = find(g, PW_R_FORKED);
	assert_non_null(r);
	assert_int_equal(r->confidence, PW_CONF_INFERRED);
	done(g);
}

static void test_orphaned_workers(void **state)
{
	(void)state;
	/* nginx workers whose master was killed: one image, re-parented to a
	 * subreaper (PID 40) with another image */
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, AF_INET, "127.0.0.1", 7202, PW_ST_LISTEN, 240);
	struct pw_process *a = proc(&w, 61, 40, "nginx"), *b = proc(&w, 62, 40, "nginx");
	image(a, 0x7ee0, 0x7cc0, 300, 200);
	image(b, 0x7ee0, 0x7cc0, 301, 200);
	hold(&w, s, a, 6);
	hold(&w, s, b, 6);
	struct pw_port_group *g = explain(&w);
	assert_int_equal(g->n_reasons, 1);
	const struct pw_reason *r = find(g, PW_R_FORKED);
	assert_non_null(r);
	assert_int_equal(r->confidence, PW_CONF_VERIFIED);
	assert_non_null(strstr(r->summary, "(PIDs 61, 62) forked from one master"));
	assert_non_null(strstr(r->summary, "that master is gone"));
	assert_non_null(strstr(r->summary, "stopping them (kill 61, 62) frees it"));
	done(g);

	/* re-parented to PID 1, whose image cannot be read: inferred */
	a->ppid = b->ppid = 1;
	image(a, 0x7ee0, 0, 300, 1);
	image(b, 0x7ee0, 0, 301, 1);
	g = explain(&w);
	r = find(g, PW_R_FORKED);
	assert_non_null(r);
	assert_int_equal(r->confidence, PW_CONF_INFERRED);
	assert_non_null(strstr(r->summary, "most likely gone"));
	done(g);

	/* a living parent whose image is unreadable (not root): lean to it */
	a->ppid = b->ppid = 40;
	image(a, 0x7ee0, 0, 300, 200);
	image(b, 0x7ee0, 0, 301, 200);
	g = explain(&w);
	r = find(g, PW_R_FORKED);
	assert_non_null(r);
	assert_int_equal(r->confidence, PW_CONF_INFERRED);
	assert_non_null(strstr(r->summary, "most likely PID 40"));
	assert_null(strstr(r->summary, "that master is"));
	done(g);

	/* the living parent has their image: it forked them and closed its copy */
	a->ppid = b->ppid = 40;
	image(a, 0x7ee0, 0x7ee0, 300, 200);
	image(b, 0x7ee0, 0x7ee0, 301, 200);
	g = explain(&w);
	r = find(g, PW_R_FORKED);
	assert_non_null(r);
	assert_int_equal(r->confidence, PW_CONF_VERIFIED);
	assert_non_null(strstr(r->summary, "closed its own copy"));
	done(g);
}

static void test_many_orphans(void **state)
{
	(void)state;
	/* 40 orphaned workers: the PID list is cut between PIDs, never inside one */
	static struct pw_process ps[40];
	static struct pw_holder hs[40];
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, AF_INET, "0.0.0.0", 80, PW_ST_LISTEN, 260);
	for (int i = 0; i < 40; i++) {
		ps[i] = (struct pw_process){ .pid = 10000 + i, .ppid = 40, .comm = (char *)"nginx",
					     .facts_read = true };
		image(&ps[i], 0x7ee0, 0x7cc0, 300, 200);
		hs[i] = (struct pw_holder){ .proc = &ps[i], .tid = 10000 + i, .fd = 6, .cloexec = 0 };
	}
	s->holders = hs;
	s->n_holders = 40;
	struct pw_port_group *g = explain(&w);
	const struct pw_reason *r = find(g, PW_R_FORKED);
	assert_non_null(r);
	assert_non_null(strstr(r->summary, "(PIDs 10000, 10001, "));
	assert_non_null(strstr(r->summary, " more)"));
	const char *k = strstr(r->summary, "(kill 10000, ");
	assert_non_null(k);
	const char *more = strstr(k, " and ");
	assert_non_null(more);
	assert_true(more[-1] >= '0' && more[-1] <= '9');
	assert_true(more[-6] == ' ' || more[-6] == ','); /* a whole 5-digit PID */
	done(g);
}

static void test_siblings_pass(void **state)
{
	(void)state;
	/* two programs a shell started; one hands its socket to the other */
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, AF_INET, "127.0.0.1", 7203, PW_ST_LISTEN, 250);
	struct pw_process *a = proc(&w, 71, 70, "fdpass"), *b = proc(&w, 72, 70, "fdpass");
	image(a, 0x7a00, 0x7c00, 300, 200);
	image(b, 0x7b00, 0x7c00, 301, 200);
	hold(&w, s, a, 3);
	hold(&w, s, b, 5);
	struct pw_port_group *g = explain(&w);
	assert_int_equal(g->n_reasons, 1);
	const struct pw_reason *r = find(g, PW_R_PASSED);
	assert_non_null(r);
	assert_int_equal(r->confidence, PW_CONF_INFERRED);
	assert_non_null(strstr(r->summary, "at different fd numbers"));
	assert_non_null(strstr(r->summary, "the other reading: PID 70 created it"));
	done(g);
}

static void test_lineage_parsers(void **state)
{
	(void)state;
	const char *st = "42 (a) b) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 777 1 2 "
			 "3 4 5 140731261909552 6\n";
	uint64_t v = 0;
	assert_int_equal(pw_parse_stat_field(st, strlen(st), 22, &v), 0);
	assert_int_equal(v, 777);
	assert_int_equal(pw_parse_stat_field(st, strlen(st), 28, &v), 0);
	assert_int_equal(v, 140731261909552ull);
	assert_int_equal(pw_parse_stat_field(st, strlen(st), 60, &v), -EINVAL);
	assert_int_equal(pw_parse_stat_field("no paren", 8, 22, &v), -EINVAL);
	unsigned f = 0;
	assert_int_equal(pw_parse_fdinfo_flags("pos:\t0\nflags:\t02004002\nmnt_id:\t9\n", &f), 0);
	assert_int_equal(f, 02004002);
	assert_int_equal(pw_parse_fdinfo_flags("pos:\t0\n", &f), -ENOENT);
	assert_int_equal(pw_parse_fdinfo_flags("flags:\t09\n", &f), -EINVAL);
}

static void test_forked_siblings(void **state)
{
	(void)state;
	/* the parent (PID 90, alive, not a holder) closed its copy after forking */
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, AF_INET, "127.0.0.1", 7104, PW_ST_LISTEN, 210);
	hold(&w, s, proc(&w, 91, 90, "worker"), 3);
	hold(&w, s, proc(&w, 92, 90, "worker"), 3);
	struct pw_port_group *g = explain(&w);
	const struct pw_reason *r = find(g, PW_R_FORKED);
	assert_non_null(r);
	assert_int_equal(r->confidence, PW_CONF_INFERRED);
	assert_non_null(strstr(r->summary, "children of PID 90"));
	assert_null(find(g, PW_R_PASSED));
	done(g);

	/* orphans re-parented to PID 1 are not a family */
	world_init(&w, true, 0);
	s = sock(&w, IPPROTO_TCP, AF_INET, "127.0.0.1", 7105, PW_ST_LISTEN, 211);
	hold(&w, s, proc(&w, 93, 1, "a"), 3);
	hold(&w, s, proc(&w, 94, 1, "b"), 3);
	g = explain(&w);
	assert_non_null(find(g, PW_R_PASSED));
	assert_null(find(g, PW_R_FORKED));
	done(g);
}

static void test_passed(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, AF_INET, "127.0.0.1", 7000, PW_ST_LISTEN, 300);
	hold(&w, s, proc(&w, 500, 1, "sender"), 3);
	hold(&w, s, proc(&w, 900, 1, "receiver"), 4);
	struct pw_port_group *g = explain(&w);
	assert_int_equal(g->n_reasons, 1);
	assert_int_equal(g->reasons[0].kind, PW_R_PASSED);
	done(g);
}

static void test_socket_activation(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *s = sock(&w, IPPROTO_UDP, AF_INET, "0.0.0.0", 53, PW_ST_CLOSE, 400);
	struct pw_process *pid1 = proc(&w, 1, 0, "systemd");
	pid1->is_systemd = true;
	struct pw_process *svc = proc(&w, 734, 1, "dnsmasq");
	svc->listen_pid = 734;
	svc->listen_fds = 2;
	svc->listen_fdnames = (char *)"dnsmasq.socket:dnsmasq.socket";
	svc->unit = (char *)"dnsmasq.service";
	hold(&w, s, pid1, 40);
	hold(&w, s, svc, 4);
	struct pw_port_group *g = explain(&w);
	assert_int_equal(g->n_reasons, 1);
	const struct pw_reason *r = &g->reasons[0];
	assert_int_equal(r->kind, PW_R_SOCKET_ACTIVATION);
	assert_int_equal(r->confidence, PW_CONF_VERIFIED);
	assert_non_null(strstr(r->summary, "systemctl stop dnsmasq.socket dnsmasq.service"));
	assert_non_null(strstr(r->summary, "dnsmasq (PID 734"));
	done(g);
}

static void test_activation_fd_out_of_range_is_passed(void **state)
{
	(void)state;
	/* LISTEN_PID matches but fd 9 is not among 3..3+LISTEN_FDS-1 */
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, AF_INET, "0.0.0.0", 8080, PW_ST_LISTEN, 410);
	struct pw_process *a = proc(&w, 50, 1, "a");
	struct pw_process *b = proc(&w, 60, 1, "b");
	b->listen_pid = 60;
	b->listen_fds = 1;
	hold(&w, s, a, 3);
	hold(&w, s, b, 9);
	struct pw_port_group *g = explain(&w);
	assert_null(find(g, PW_R_SOCKET_ACTIVATION));
	assert_non_null(find(g, PW_R_PASSED));
	done(g);
}

static void test_reuseport_inferred_and_verified(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *s[3];
	for (int i = 0; i < 3; i++) {
		s[i] = sock(&w, IPPROTO_TCP, AF_INET, "0.0.0.0", 8080, PW_ST_LISTEN,
			    500 + (uint32_t)i);
		hold(&w, s[i], proc(&w, 700 + i, 1, "srv"), 3);
	}
	struct pw_port_group *g = explain(&w);
	const struct pw_reason *r = find(g, PW_R_REUSEPORT);
	assert_non_null(r);
	assert_int_equal(r->confidence, PW_CONF_INFERRED);
	assert_int_equal(r->n_sockets, 3);
	assert_int_equal(s[0]->reuseport, 1);
	assert_int_equal(s[0]->opts_source, PW_OPTS_INFERRED);
	assert_int_equal(find(g, PW_R_SINGLE) != NULL, 1);
	assert_null(find(g, PW_R_ADDRESS_SPLIT));
	done(g);

	world_init(&w, true, 0);
	for (int i = 0; i < 2; i++) {
		s[i] = sock(&w, IPPROTO_TCP, AF_INET, "0.0.0.0", 8080, PW_ST_LISTEN,
			    500 + (uint32_t)i);
		s[i]->reuseport = 1;
		s[i]->reuseaddr = 0;
		s[i]->opts_source = PW_OPTS_BPF;
		hold(&w, s[i], proc(&w, 700 + i, 1, "srv"), 3);
	}
	g = explain(&w);
	r = find(g, PW_R_REUSEPORT);
	assert_non_null(r);
	assert_int_equal(r->confidence, PW_CONF_VERIFIED);
	done(g);
}

static void test_udp_reuseaddr_duplicate(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *a = sock(&w, IPPROTO_UDP, AF_INET, "0.0.0.0", 5000, PW_ST_CLOSE, 600);
	struct pw_socket *b = sock(&w, IPPROTO_UDP, AF_INET, "0.0.0.0", 5000, PW_ST_CLOSE, 601);
	a->uid = 0;
	b->uid = 65534; /* different owners: SO_REUSEPORT is impossible */
	hold(&w, a, proc(&w, 10, 1, "one"), 3);
	hold(&w, b, proc(&w, 20, 1, "two"), 3);
	struct pw_port_group *g = explain(&w);
	const struct pw_reason *r = find(g, PW_R_REUSEADDR_DUPLICATE);
	assert_non_null(r);
	assert_non_null(strstr(r->summary, "bound last"));
	assert_int_equal(r->confidence, PW_CONF_INFERRED);
	done(g);

	/* flags read exactly: reuseaddr without reuseport, same uid */
	world_init(&w, true, 0);
	a = sock(&w, IPPROTO_UDP, AF_INET, "0.0.0.0", 5000, PW_ST_CLOSE, 600);
	b = sock(&w, IPPROTO_UDP, AF_INET, "0.0.0.0", 5000, PW_ST_CLOSE, 601);
	a->reuseaddr = b->reuseaddr = 1;
	a->reuseport = b->reuseport = 0;
	a->opts_source = b->opts_source = PW_OPTS_BPF;
	hold(&w, a, proc(&w, 10, 1, "one"), 3);
	hold(&w, b, proc(&w, 20, 1, "two"), 3);
	g = explain(&w);
	r = find(g, PW_R_REUSEADDR_DUPLICATE);
	assert_non_null(r);
	assert_int_equal(r->confidence, PW_CONF_VERIFIED);
	assert_null(find(g, PW_R_REUSEPORT));
	done(g);
}

static void test_address_and_family_split(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *any = sock(&w, IPPROTO_UDP, AF_INET, "0.0.0.0", 53, PW_ST_CLOSE, 700);
	struct pw_socket *lo = sock(&w, IPPROTO_UDP, AF_INET, "127.0.0.53", 53, PW_ST_CLOSE, 701);
	struct pw_socket *v6 = sock(&w, IPPROTO_UDP, AF_INET6, "::", 53, PW_ST_CLOSE, 702);
	v6->v6only = 1;
	hold(&w, any, proc(&w, 1000, 1, "dnsmasq"), 4);
	hold(&w, lo, proc(&w, 300, 1, "systemd-resolve"), 13);
	hold(&w, v6, &w.proc[0], 5);
	struct pw_port_group *g = explain(&w);
	const struct pw_reason *as = find(g, PW_R_ADDRESS_SPLIT);
	const struct pw_reason *fs = find(g, PW_R_FAMILY_SPLIT);
	assert_non_null(as);
	assert_non_null(fs);
	assert_true(covers(as, any) && covers(as, lo));
	assert_true(covers(fs, v6));
	assert_null(find(g, PW_R_REUSEPORT));
	assert_null(find(g, PW_R_REUSEADDR_DUPLICATE));
	assert_all_covered(g);
	done(g);
}

static void test_nonroot_udp_duplicates(void **state)
{
	(void)state;
	/* not root: two root-held UDP sockets on one address, flags unread */
	struct world w;
	world_init(&w, false, 5);
	struct pw_socket *a = sock(&w, IPPROTO_UDP, AF_INET, "127.0.0.1", 7601, PW_ST_CLOSE, 900);
	struct pw_socket *b = sock(&w, IPPROTO_UDP, AF_INET, "127.0.0.1", 7601, PW_ST_CLOSE, 901);
	struct pw_port_group *g = explain(&w);
	assert_int_equal(g->n_reasons, 2);
	const struct pw_reason *h = find(g, PW_R_HIDDEN);
	assert_non_null(h); /* once for the group, covering both */
	assert_int_equal(h->n_sockets, 2);
	assert_true(covers(h, a) && covers(h, b));
	assert_non_null(strstr(h->summary, "2 sockets on port 7601"));
	assert_null(find(g, PW_R_REUSEPORT));
	const struct pw_reason *r = find(g, PW_R_REUSEADDR_DUPLICATE);
	assert_non_null(r);
	assert_int_equal(r->confidence, PW_CONF_INFERRED);
	assert_null(strstr(r->summary, "normal"));
	assert_non_null(strstr(r->summary, "either SO_REUSEADDR duplicates (warning"));
	assert_non_null(strstr(r->summary, "or a SO_REUSEPORT group"));
	/* neither reading is written into the socket's flags */
	assert_int_equal(a->reuseport, -1);
	assert_int_equal(a->reuseaddr, -1);
	assert_int_equal(a->opts_source, PW_OPTS_UNKNOWN);
	done(g);
}

static void test_kernel_versus_hidden(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *s = sock(&w, IPPROTO_UDP, AF_INET, "0.0.0.0", 4789, PW_ST_CLOSE, 800);
	s->kernel_owner = (char *)"vxlan device vx0";
	struct pw_port_group *g = explain(&w);
	assert_int_equal(g->n_reasons, 1);
	assert_int_equal(g->reasons[0].kind, PW_R_KERNEL);
	assert_non_null(strstr(g->reasons[0].summary, "vxlan device vx0"));
	s->kernel_owner = NULL;
	done(g);

	/* not privileged: never "kernel", always "hidden" */
	world_init(&w, false, 3);
	sock(&w, IPPROTO_UDP, AF_INET, "0.0.0.0", 4789, PW_ST_CLOSE, 800);
	g = explain(&w);
	assert_int_equal(g->n_reasons, 1);
	assert_int_equal(g->reasons[0].kind, PW_R_HIDDEN);
	done(g);

	/* root, but some fd table could not be read and no owner known: hidden */
	world_init(&w, true, 1);
	sock(&w, IPPROTO_TCP, AF_INET, "0.0.0.0", 9999, PW_ST_LISTEN, 801);
	g = explain(&w);
	assert_int_equal(g->reasons[0].kind, PW_R_HIDDEN);
	done(g);

	/* root saw every table: kernel, owner unknown */
	world_init(&w, true, 0);
	sock(&w, IPPROTO_UDP, AF_INET, "0.0.0.0", 2049, PW_ST_CLOSE, 802);
	g = explain(&w);
	assert_int_equal(g->reasons[0].kind, PW_R_KERNEL);
	assert_int_equal(g->reasons[0].confidence, PW_CONF_INFERRED);
	assert_non_null(strstr(g->reasons[0].summary, "io_uring"));
	done(g);
}

/* Holders the collection side names (issue 9 cases 1, 5, 7). */
static bool has_evidence(const struct pw_reason *r, const char *needle)
{
	for (size_t i = 0; i < r->n_evidence; i++)
		if (strstr(r->evidence[i], needle))
			return true;
	return false;
}

static void test_container_uring_unvisited(void **state)
{
	(void)state;
	struct world w;
	/* a container's systemd (host PID 4100, PID 1 inside) activated a
	 * service whose LISTEN_PID is its PID inside (52), not 4180 */
	world_init(&w, true, 0);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, AF_INET6, "::", 7777, PW_ST_LISTEN, 900);
	struct pw_process *init = proc(&w, 4100, 4090, "systemd");
	init->nspid = 1;
	init->is_systemd = true;
	struct pw_process *svc = proc(&w, 4180, 4100, "sleep");
	svc->nspid = 52;
	svc->listen_pid = 52;
	svc->listen_fds = 1;
	svc->unit = (char *)"echo-demo.service";
	hold(&w, s, init, 32);
	hold(&w, s, svc, 3);
	struct pw_port_group *g = explain(&w);
	assert_int_equal(g->n_reasons, 1);
	const struct pw_reason *r = &g->reasons[0];
	assert_int_equal(r->kind, PW_R_SOCKET_ACTIVATION);
	assert_int_equal(r->confidence, PW_CONF_VERIFIED);
	assert_non_null(strstr(r->summary, "inside the container whose init is PID 4100, systemctl "
					   "stop echo-demo.socket echo-demo.service"));
	assert_null(strstr(r->summary, "--user"));
	assert_true(has_evidence(r, "LISTEN_PID=52"));
	done(g);

	/* the same LISTEN_PID in a process that is not PID 52 anywhere: not
	 * activation */
	world_init(&w, true, 0);
	s = sock(&w, IPPROTO_TCP, AF_INET6, "::", 7777, PW_ST_LISTEN, 900);
	struct pw_process *a = proc(&w, 4179, 4100, "a");
	a->nspid = 51;
	struct pw_process *b = proc(&w, 4180, 4179, "b");
	b->nspid = 53;
	b->listen_pid = 52;
	b->listen_fds = 1;
	hold(&w, s, a, 3);
	hold(&w, s, b, 3);
	g = explain(&w);
	assert_null(find(g, PW_R_SOCKET_ACTIVATION));
	done(g);

	/* a fixed file of an io_uring: a holder without an fd */
	world_init(&w, true, 0);
	s = sock(&w, IPPROTO_TCP, AF_INET, "127.0.0.1", 9000, PW_ST_LISTEN, 910);
	struct pw_process *u = proc(&w, 777, 1, "uringhold");
	hold(&w, s, u, -1);
	w.hold[0][0].via = PW_VIA_IO_URING;
	g = explain(&w);
	assert_int_equal(g->n_reasons, 1);
	assert_int_equal(g->reasons[0].kind, PW_R_SINGLE);
	assert_int_equal(g->reasons[0].confidence, PW_CONF_VERIFIED);
	assert_non_null(strstr(g->reasons[0].summary, "io_uring"));
	assert_true(has_evidence(&g->reasons[0], "registered with an io_uring of PID 777"));
	assert_false(has_evidence(&g->reasons[0], "fd -1"));
	done(g);

	/* root, BPF: PID 1 was never visited and /proc refused it: hidden, why */
	world_init(&w, true, 1);
	w.snap.stats.hidden_unvisited = 1;
	w.snap.stats.hidden_pid = 1;
	sock(&w, IPPROTO_TCP, AF_INET, "0.0.0.0", 2024, PW_ST_LISTEN, 920);
	g = explain(&w);
	assert_int_equal(g->n_reasons, 1);
	assert_int_equal(g->reasons[0].kind, PW_R_HIDDEN);
	assert_int_equal(g->reasons[0].confidence, PW_CONF_INFERRED);
	assert_non_null(strstr(g->reasons[0].summary, "task iterator never visited it"));
	assert_true(has_evidence(&g->reasons[0], "among them PID 1"));
	assert_true(has_evidence(&g->reasons[0], "not visited by the BPF task iterator"));
	done(g);
}

static void test_connections(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, true, 0);
	struct pw_socket *l = sock(&w, IPPROTO_TCP, AF_INET, "0.0.0.0", 80, PW_ST_LISTEN, 900);
	struct pw_socket *e =
	    sock(&w, IPPROTO_TCP, AF_INET, "127.0.0.1", 80, PW_ST_ESTABLISHED, 901);
	struct pw_socket *t = sock(&w, IPPROTO_TCP, AF_INET, "127.0.0.1", 80, PW_ST_TIME_WAIT, 0);
	struct pw_process *p = proc(&w, 42, 1, "web");
	hold(&w, l, p, 3);
	hold(&w, e, p, 4);
	struct pw_port_group *g = explain(&w);
	const struct pw_reason *c = find(g, PW_R_CONNECTIONS);
	assert_non_null(c);
	assert_true(covers(c, e) && covers(c, t));
	assert_false(covers(c, l));
	assert_non_null(strstr(c->summary, "1 established, 1 TIME-WAIT"));
	assert_null(find(g, PW_R_KERNEL)); /* inode 0 is never "kernel" */
	assert_null(find(g, PW_R_ADDRESS_SPLIT));
	assert_all_covered(g);
	done(g);
}


/* A reason covering a run of its group's sockets points into the group's
 * array (no copy); one covering sockets apart keeps an array of its own. */
static void test_reason_sockets_shared(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, true, 0);
	struct pw_process *p = proc(&w, 700, 1, "web");
	struct pw_socket *l = sock(&w, IPPROTO_TCP, AF_INET, "0.0.0.0", 80, PW_ST_LISTEN, 10);
	hold(&w, l, p, 3);
	for (uint32_t i = 0; i < 3; i++)
		hold(&w, sock(&w, IPPROTO_TCP, AF_INET, "10.0.0.1", 80, PW_ST_ESTABLISHED, 11 + i),
		     p, 4 + (int)i);
	struct pw_port_group *g = explain(&w);
	const struct pw_reason *single = find(g, PW_R_SINGLE);
	const struct pw_reason *conns = find(g, PW_R_CONNECTIONS);
	assert_non_null(single);
	assert_non_null(conns);
	assert_true(single->sockets_shared);
	assert_ptr_equal(single->sockets, &g->sockets[0]);
	assert_int_equal(single->n_sockets, 1);
	assert_true(conns->sockets_shared);
	assert_ptr_equal(conns->sockets, &g->sockets[1]);
	assert_int_equal(conns->n_sockets, 3);
	done(g);

	/* two UDP sockets on 0.0.0.0:53 with one on 127.0.0.1 between them */
	world_init(&w, true, 0);
	struct pw_process *q = proc(&w, 800, 1, "dns");
	struct pw_socket *a = sock(&w, IPPROTO_UDP, AF_INET, "0.0.0.0", 53, PW_ST_CLOSE, 20);
	struct pw_socket *b = sock(&w, IPPROTO_UDP, AF_INET, "127.0.0.1", 53, PW_ST_CLOSE, 21);
	struct pw_socket *c = sock(&w, IPPROTO_UDP, AF_INET, "0.0.0.0", 53, PW_ST_CLOSE, 22);
	hold(&w, a, q, 3);
	hold(&w, b, q, 4);
	hold(&w, c, q, 5);
	a->reuseaddr = c->reuseaddr = 1;
	a->reuseport = c->reuseport = 1;
	a->opts_source = c->opts_source = PW_OPTS_BPF;
	g = explain(&w);
	const struct pw_reason *rp = find(g, PW_R_REUSEPORT);
	assert_non_null(rp);
	assert_int_equal(rp->n_sockets, 2);
	assert_false(rp->sockets_shared); /* a and c are not neighbours */
	assert_ptr_equal(rp->sockets[0], a);
	assert_ptr_equal(rp->sockets[1], c);
	const struct pw_reason *split = find(g, PW_R_ADDRESS_SPLIT);
	assert_non_null(split);
	assert_true(split->sockets_shared); /* all three, in order */
	assert_ptr_equal(split->sockets, &g->sockets[0]);
	done(g);
}

/* Several groups: the reasons of groups without forwards are consecutive
 * runs of one pool; a group with forwards has an array of its own (which
 * forward-explain may grow); pw_snapshot_free frees both kinds once. */
static void test_reason_pool(void **state)
{
	(void)state;
	struct pw_snapshot *snap = calloc(1, sizeof(*snap));
	assert_non_null(snap);
	snap->stats.privileged = true;
	snap->facts_flags = PW_FACTS_NO_REASON_TEXT;
	struct pw_socket *v = calloc(3, sizeof(*v));
	struct pw_socket **ptrs = calloc(3, sizeof(*ptrs));
	snap->groups = calloc(3, sizeof(*snap->groups));
	assert_true(v && ptrs && snap->groups);
	snap->sockets = (struct pw_sockvec){ v, 3, 3 };
	for (size_t i = 0; i < 3; i++) {
		v[i] = (struct pw_socket){ .proto = IPPROTO_TCP, .family = AF_INET,
					   .state = PW_ST_LISTEN, .lport = (uint16_t)(80 + i),
					   .inode = (uint32_t)(100 + i), .v6only = -1,
					   .reuseaddr = -1, .reuseport = -1 };
		v[i].laddr.family = AF_INET;
		ptrs[i] = &v[i];
		snap->groups[i] = (struct pw_port_group){ .proto = IPPROTO_TCP,
							  .port = v[i].lport,
							  .sockets = &ptrs[i], .n_sockets = 1 };
	}
	snap->n_groups = snap->n_socket_groups = 3;
	snap->groups[1].forwards = calloc(1, sizeof(struct pw_forward));
	snap->groups[1].n_forwards = 1;
	assert_int_equal(pw_explain(snap), 0);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(snap->groups[i].n_reasons, 1);
		assert_int_equal(snap->groups[i].reasons[0].kind, PW_R_KERNEL);
		/* kinds only, but for the group with forwards: forward-explain
		 * reorders its reasons, so their text is kept from the start */
		if (i == 1)
			assert_non_null(snap->groups[i].reasons[0].summary);
		else
			assert_null(snap->groups[i].reasons[0].summary);
		assert_ptr_equal(snap->groups[i].reasons[0].sockets, &ptrs[i]);
	}
	assert_int_equal(snap->n_reason_pool, 2);
	assert_ptr_equal(snap->groups[0].reasons, snap->reason_pool);
	assert_ptr_equal(snap->groups[2].reasons, snap->reason_pool + 1);
	assert_true(snap->groups[1].reasons != snap->reason_pool &&
		    snap->groups[1].reasons != snap->reason_pool + 1);
	pw_snapshot_free(snap); /* ASan: nothing leaked, nothing freed twice */
}

/* Three ports: 80 held by one process, 81 with a forward (its text is kept
 * at once), 82 a listener with two connections. flags: facts_flags. */
static struct pw_snapshot *three_ports(unsigned flags)
{
	struct pw_snapshot *snap = calloc(1, sizeof(*snap));
	assert_non_null(snap);
	snap->stats.privileged = true;
	snap->facts_flags = flags;
	struct pw_socket *v = calloc(5, sizeof(*v));
	struct pw_socket **ptrs = calloc(5, sizeof(*ptrs));
	struct pw_process *p = calloc(1, sizeof(*p));
	struct pw_holder *h = calloc(5, sizeof(*h));
	snap->groups = calloc(3, sizeof(*snap->groups));
	assert_true(v && ptrs && p && h && snap->groups);
	*p = (struct pw_process){.pid = 321, .ppid = 1, .comm = strdup("web"), .facts_read = true};
	snap->procs = p;
	snap->n_procs = 1;
	snap->holders = h;
	snap->n_holders = 4;
	const uint16_t port[5] = {80, 81, 82, 82, 82};
	const uint8_t st[5] = {PW_ST_LISTEN, PW_ST_LISTEN, PW_ST_LISTEN, PW_ST_ESTABLISHED,
			       PW_ST_ESTABLISHED};
	for (size_t i = 0; i < 5; i++) {
		v[i] = (struct pw_socket){.proto = IPPROTO_TCP, .family = AF_INET, .state = st[i],
					  .lport = port[i], .inode = (uint32_t)(500 + i),
					  .v6only = -1, .reuseaddr = -1, .reuseport = -1};
		v[i].laddr.family = AF_INET;
		ptrs[i] = &v[i];
		if (i != 1) { /* 81's socket has no holder */
			size_t k = i ? i - 1 : 0;
			h[k] = (struct pw_holder){p, 321, (int)(3 + i), PW_VIA_FD, -1};
			v[i].holders = &h[k];
			v[i].n_holders = 1;
		}
	}
	snap->sockets = (struct pw_sockvec){v, 5, 5};
	const size_t first[3] = {0, 1, 2}, n[3] = {1, 1, 3};
	for (size_t i = 0; i < 3; i++)
		snap->groups[i] = (struct pw_port_group){.proto = IPPROTO_TCP, .port = port[first[i]],
							 .sockets = &ptrs[first[i]],
							 .n_sockets = (uint32_t)n[i]};
	snap->n_groups = snap->n_socket_groups = 3;
	snap->groups[1].forwards = calloc(1, sizeof(struct pw_forward));
	snap->groups[1].n_forwards = 1;
	assert_int_equal(pw_explain(snap), 0);
	return snap;
}

static void free_three_ports(struct pw_snapshot *snap)
{
	/* the sockets' pointer array is group 0's; the holders the snapshot's */
	pw_snapshot_free(snap);
}

static void assert_same_text(const struct pw_port_group *a, const struct pw_port_group *b)
{
	assert_int_equal(a->n_reasons, b->n_reasons);
	for (size_t i = 0; i < a->n_reasons; i++) {
		const struct pw_reason *x = &a->reasons[i], *y = &b->reasons[i];
		assert_int_equal(x->kind, y->kind);
		assert_non_null(x->summary);
		assert_string_equal(x->summary, y->summary);
		assert_int_equal(x->n_evidence, y->n_evidence);
		for (size_t j = 0; j < x->n_evidence; j++)
			assert_string_equal(x->evidence[j], y->evidence[j]);
	}
}

/* Reason text on demand tells a group what pw_explain would have told it,
 * one group at a time: asking for the next gives back the text of the one
 * before; a group with forwards has its text from the start. */
static void test_reason_text_on_demand(void **state)
{
	(void)state;
	struct pw_snapshot *full = three_ports(0);
	struct pw_snapshot *lazy = three_ports(PW_FACTS_NO_REASON_TEXT);
	struct pw_port_group *g = lazy->groups;
	assert_null(g[0].reasons[0].summary);
	assert_null(g[2].reasons[0].summary);
	assert_non_null(g[1].reasons[0].summary); /* forwards keep their text */
	assert_same_text(&full->groups[1], &g[1]);

	assert_int_equal(pw_snapshot_reason_text(lazy, &g[0]), 0);
	assert_same_text(&full->groups[0], &g[0]);
	assert_non_null(strstr(g[0].reasons[0].summary, "web (PID 321)"));
	assert_int_equal(pw_snapshot_reason_text(lazy, &g[0]), 0); /* again: kept */
	assert_int_equal(pw_snapshot_reason_text(lazy, &g[2]), 0);
	assert_same_text(&full->groups[2], &g[2]);
	assert_null(g[0].reasons[0].summary); /* given back */
	assert_int_equal(g[0].reasons[0].n_evidence, 0);
	assert_int_equal(pw_snapshot_reason_text(lazy, &g[1]), 0); /* nothing to do */
	assert_non_null(g[2].reasons[0].summary);

	/* a snapshot with its text: nothing to do; a group not of the snapshot */
	assert_int_equal(pw_snapshot_reason_text(full, &full->groups[0]), 0);
	assert_int_equal(pw_snapshot_reason_text(lazy, &full->groups[0]), -EINVAL);
	assert_int_equal(pw_snapshot_reason_text(NULL, &g[0]), -EINVAL);

	/* a group whose reasons no longer match is refused, not filled */
	g[0].reasons[0].kind = PW_R_KERNEL;
	assert_int_equal(pw_snapshot_reason_text(lazy, &g[0]), -EPROTO);
	assert_null(g[0].reasons[0].summary);
	g[0].reasons[0].kind = PW_R_SINGLE;

	free_three_ports(full);
	free_three_ports(lazy); /* ASan: the lent text is freed once */
}

/* The join hands fd records to holders and, in pw_join_take, leaves only
 * the records no socket matched in the walk; sockets come out grouped by
 * port and in display order inside a group (address before state). */
static void test_join_take(void **state)
{
	(void)state;
	struct pw_snapshot *snap = calloc(1, sizeof(*snap));
	struct pw_socket *v = calloc(4, sizeof(*v));
	assert_true(snap && v);
	const struct {
		uint8_t family, state;
		const char *addr;
		uint32_t inode;
	} in[4] = {
		{ AF_INET6, PW_ST_LISTEN, "::", 1 },
		{ AF_INET, PW_ST_ESTABLISHED, "10.0.0.1", 2 },
		{ AF_INET, PW_ST_LISTEN, "0.0.0.0", 3 },
		{ AF_INET, PW_ST_TIME_WAIT, "10.0.0.1", 0 },
	};
	for (size_t i = 0; i < 4; i++) {
		v[i] = (struct pw_socket){ .proto = IPPROTO_TCP, .family = in[i].family,
					   .state = in[i].state, .lport = 80,
					   .inode = in[i].inode };
		v[i].laddr.family = in[i].family;
		inet_pton(in[i].family, in[i].addr, v[i].laddr.bytes);
	}
	snap->sockets = (struct pw_sockvec){ v, 4, 4 };
	struct pw_walk w = { 0 };
	w.recs = calloc(5, sizeof(*w.recs));
	assert_non_null(w.recs);
	w.recs[0] = (struct pw_fdrec){ .inode = 3, .pid = 10, .tid = 10, .fd = 3 };
	w.recs[1] = (struct pw_fdrec){ .inode = 999, .pid = 10, .tid = 10, .fd = 4 };
	w.recs[2] = (struct pw_fdrec){ .inode = 2, .pid = 11, .tid = 11, .fd = 5 };
	w.recs[3] = (struct pw_fdrec){ .inode = 1, .pid = 10, .tid = 10, .fd = 6 };
	w.recs[4] = (struct pw_fdrec){ .inode = 998, .pid = 12, .tid = 12, .fd = 7 };
	w.n_recs = w.cap_recs = 5;
	struct pw_joined j = { 0 };
	assert_int_equal(pw_join_take(snap, &w, &j), 0);
	/* 0.0.0.0 LISTEN, 10.0.0.1 ESTAB, 10.0.0.1 TIME-WAIT, then [::] LISTEN */
	assert_int_equal(v[0].inode, 3);
	assert_int_equal(v[1].inode, 2);
	assert_int_equal(v[2].inode, 0);
	assert_int_equal(v[3].inode, 1);
	assert_int_equal(snap->n_holders, 3);
	assert_int_equal(j.n, 3);
	assert_int_equal(v[0].n_holders, 1);
	assert_int_equal(v[0].holders[0].fd, 3);
	assert_int_equal(v[1].holders[0].fd, 5);
	assert_int_equal(v[2].n_holders, 0);
	assert_int_equal(v[3].holders[0].fd, 6);
	/* only the records of sockets not in the snapshot stay in the walk */
	assert_int_equal(w.n_recs, 2);
	assert_int_equal(w.recs[0].inode, 999);
	assert_int_equal(w.recs[1].inode, 998);
	pw_joined_free(&j);
	free(w.recs);
	pw_snapshot_free(snap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_forked),
		cmocka_unit_test(test_forked_siblings),
	    cmocka_unit_test(test_node_cluster_sched_none),
	    cmocka_unit_test(test_orphaned_workers),
	    cmocka_unit_test(test_many_orphans),
	    cmocka_unit_test(test_siblings_pass),
	    cmocka_unit_test(test_lineage_parsers),
		cmocka_unit_test(test_passed),
		cmocka_unit_test(test_socket_activation),
		cmocka_unit_test(test_container_uring_unvisited),
		cmocka_unit_test(test_activation_fd_out_of_range_is_passed),
		cmocka_unit_test(test_reuseport_inferred_and_verified),
		cmocka_unit_test(test_udp_reuseaddr_duplicate),
		cmocka_unit_test(test_address_and_family_split),
	    cmocka_unit_test(test_nonroot_udp_duplicates),
		cmocka_unit_test(test_kernel_versus_hidden),
		cmocka_unit_test(test_connections),
		cmocka_unit_test(test_reason_sockets_shared),
		cmocka_unit_test(test_reason_pool),
		cmocka_unit_test(test_join_take),
		cmocka_unit_test(test_reason_text_on_demand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
