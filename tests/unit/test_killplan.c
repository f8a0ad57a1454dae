/* portwho kill: what to do with each holder, decided from hand-built sockets
 * and processes. Pure: no root, no signals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "internal.h"
#include "portwho-kill.h"

#define ROOT_CALLER ((struct pw_caller){.pid = 7000, .ruid = 0, .euid = 0, .cap_kill = true})
#define USER_CALLER(u) ((struct pw_caller){.pid = 7000, .ruid = (u), .euid = (u)})

struct world {
	struct pw_socket sock[8];
	const struct pw_socket *ptrs[8];
	const char *units[8];
	struct pw_process proc[8];
	struct pw_holder hold[8][8];
	size_t n_sock, n_proc;
	struct pw_kill_plan plan;
	struct pw_kill_env env;
};

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->env.caller = ROOT_CALLER;
	w->env.saw_all = true;
}

static struct pw_process *proc(struct world *w, pid_t pid, pid_t ppid, const char *comm, uid_t uid,
			       const char *unit)
{
	struct pw_process *p = &w->proc[w->n_proc++];
	p->pid = pid;
	p->ppid = ppid;
	p->comm = (char *)comm;
	p->uid = uid;
	p->user = uid == 0 ? "root" : uid == 1000 ? "alice" : NULL;
	p->unit = (char *)unit;
	p->facts_read = true;
	p->start_time = 1000u + (uint64_t)pid;
	return p;
}

static struct pw_socket *sock(struct world *w, uint8_t proto, uint16_t port, uint32_t inode)
{
	struct pw_socket *s = &w->sock[w->n_sock];
	s->proto = proto;
	s->family = AF_INET;
	s->laddr.family = AF_INET;
	inet_pton(AF_INET, "0.0.0.0", s->laddr.bytes);
	s->lport = port;
	s->state = proto == IPPROTO_TCP ? PW_ST_LISTEN : PW_ST_CLOSE;
	s->inode = inode;
	s->holders = w->hold[w->n_sock];
	w->ptrs[w->n_sock] = s;
	w->n_sock++;
	return s;
}

static void hold(struct world *w, struct pw_socket *s, struct pw_process *p, int fd)
{
	size_t i = (size_t)(s - w->sock);
	w->hold[i][s->n_holders++] = (struct pw_holder){p, p->pid, fd};
}

/* Every target alive, with real and saved uid equal to its effective uid. */
static void decide(struct world *w)
{
	assert_int_equal(pw_kill_plan_init(w->ptrs, w->n_sock, w->units, &w->plan), 0);
	for (size_t i = 0; i < w->plan.n_targets; i++) {
		struct pw_kill_target *t = &w->plan.targets[i];
		t->facts.uids_known = true;
		t->facts.ruid = t->facts.suid = t->proc->uid;
	}
	assert_int_equal(pw_kill_plan_decide(&w->plan, &w->env), 0);
}

static const struct pw_kill_target *target(const struct world *w, pid_t pid)
{
	for (size_t i = 0; i < w->plan.n_targets; i++)
		if (w->plan.targets[i].proc->pid == pid)
			return &w->plan.targets[i];
	fail_msg("no target for PID %d", (int)pid);
	return NULL;
}

static void done(struct world *w)
{
	pw_kill_plan_free(&w->plan);
}

/* ---- containers ------------------------------------------------------------- */

/* A real systemd as PID 1 of a container (systemd-nspawn --boot): host PID
 * 4100, NSpid 1; its socket-activated service is host PID 4180, NSpid 52,
 * LISTEN_PID=52. Neither is signalled, and the units are the container's:
 * no systemctl command for this host's manager, a hint instead. */
static void test_container_init_and_units(void **state)
{
	(void)state;
	struct pw_kill_env env = {.caller = ROOT_CALLER};
	struct pw_target_facts alive = {0};
	struct pw_process cinit = {.pid = 4100, .nspid = 1, .comm = "init", .facts_read = true};
	assert_int_equal(pw_kill_verdict_of(&cinit, &alive, false, &env.caller), PW_KV_PID1);

	struct world w;
	world_init(&w);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, 7777, 901);
	struct pw_process *init = proc(&w, 4100, 4090, "systemd", 0, "init.scope");
	init->nspid = 1;
	init->is_systemd = true;
	struct pw_process *svc = proc(&w, 4180, 4100, "sleep", 0, "echo-demo.service");
	svc->nspid = 52;
	svc->listen_pid = 52;
	svc->listen_fds = 1;
	hold(&w, s, init, 44);
	hold(&w, s, svc, 3);
	decide(&w);
	assert_int_equal(target(&w, 4100)->verdict, PW_KV_PID1);
	assert_int_equal(target(&w, 4180)->verdict, PW_KV_UNIT);
	assert_int_equal(w.plan.n_stops, 1);
	const struct pw_unit_stop *st = &w.plan.stops[0];
	assert_false(st->user);
	assert_int_equal(st->container, 4100);
	assert_null(st->command);
	assert_string_equal(st->hint, "inside the container whose init is PID 4100: systemctl stop "
				      "echo-demo.socket echo-demo.service");
	char *err = NULL;
	assert_int_equal(pw_unit_stop_run(st, 0, &err), -ENOENT);
	assert_null(err);
	done(&w);
}

/* ---- single decisions -------------------------------------------------------- */

static void test_pid1_manager_self_never(void **state)
{
	(void)state;
	struct pw_caller c = ROOT_CALLER;
	struct pw_target_facts alive = {0};
	struct pw_process p = {.pid = 1, .comm = "init", .facts_read = true};
	assert_int_equal(pw_kill_verdict_of(&p, &alive, false, &c), PW_KV_PID1);
	/* PID 1 is never signalled, whatever it is and even when "gone" */
	struct pw_target_facts gone = {.gone = true};
	assert_int_equal(pw_kill_verdict_of(&p, &gone, false, &c), PW_KV_PID1);

	struct pw_process mgr = {
	    .pid = 900, .comm = "systemd", .is_systemd = true, .facts_read = true, .uid = 1000};
	assert_int_equal(pw_kill_verdict_of(&mgr, &alive, false, &c), PW_KV_MANAGER);

	struct pw_process self = {.pid = 7000, .comm = "portwho", .facts_read = true};
	assert_int_equal(pw_kill_verdict_of(&self, &alive, false, &c), PW_KV_SELF);
}

static void test_gone_and_unread(void **state)
{
	(void)state;
	struct pw_caller c = ROOT_CALLER;
	struct pw_target_facts gone = {.gone = true};
	struct pw_process p = {.pid = 50, .comm = "x", .facts_read = true};
	assert_int_equal(pw_kill_verdict_of(&p, &gone, false, &c), PW_KV_GONE);
	struct pw_target_facts alive = {0};
	p.facts_read = false; /* vanished mid-scan: no start time to check against */
	assert_int_equal(pw_kill_verdict_of(&p, &alive, false, &c), PW_KV_GONE);
}

static void test_units(void **state)
{
	(void)state;
	struct pw_caller c = ROOT_CALLER;
	struct pw_target_facts alive = {0};
	struct pw_process p = {.pid = 50, .comm = "nginx", .facts_read = true};
	p.unit = "nginx.service";
	assert_int_equal(pw_kill_verdict_of(&p, &alive, false, &c), PW_KV_UNIT);
	p.unit = "session-3.scope"; /* a login session: a plain process */
	assert_int_equal(pw_kill_verdict_of(&p, &alive, false, &c), PW_KV_SIGNAL);
	p.unit = "app-gnome-foo-1234.scope";
	p.user_unit = true;
	assert_int_equal(pw_kill_verdict_of(&p, &alive, false, &c), PW_KV_SIGNAL);
	p.unit = "syncthing.service"; /* a user service */
	assert_int_equal(pw_kill_verdict_of(&p, &alive, false, &c), PW_KV_UNIT);
	p.unit = NULL;
	p.user_unit = false;
	assert_int_equal(pw_kill_verdict_of(&p, &alive, false, &c), PW_KV_SIGNAL);
	/* sharing a socket with systemd: socket activation, whatever the cgroup */
	assert_int_equal(pw_kill_verdict_of(&p, &alive, true, &c), PW_KV_UNIT);

	assert_true(pw_unit_is_service("a.service"));
	assert_false(pw_unit_is_service("user@1000.service"));
	assert_false(pw_unit_is_service("init.scope"));
	assert_false(pw_unit_is_service(".service"));
	assert_false(pw_unit_is_service(NULL));
}

static void test_container_proxy(void **state)
{
	(void)state;
	struct pw_caller me = USER_CALLER(0);
	me.cap_kill = true;
	struct pw_target_facts alive = {0};
	struct pw_process p = {.pid = 921, .comm = "docker-proxy", .facts_read = true};
	assert_int_equal(pw_kill_verdict_of(&p, &alive, false, &me), PW_KV_PROXY);
	p.comm = "rootlessport"; /* podman's, rootless */
	assert_int_equal(pw_kill_verdict_of(&p, &alive, false, &me), PW_KV_PROXY);
	p.comm = "docker-proxyx";
	assert_int_equal(pw_kill_verdict_of(&p, &alive, false, &me), PW_KV_SIGNAL);
	assert_string_equal(pw_kill_verdict_name(PW_KV_PROXY), "container-proxy");
}

static void test_permission(void **state)
{
	(void)state;
	struct pw_caller me = USER_CALLER(1000);
	struct pw_process p = {.pid = 50, .comm = "x", .facts_read = true, .uid = 0};
	struct pw_target_facts f = {.uids_known = true, .ruid = 0, .suid = 0};
	assert_int_equal(pw_kill_verdict_of(&p, &f, false, &me), PW_KV_PERMISSION);
	/* the kernel compares against the real and saved uids, not the effective */
	f.ruid = 1000;
	assert_int_equal(pw_kill_verdict_of(&p, &f, false, &me), PW_KV_SIGNAL);
	f.ruid = 0;
	f.suid = 1000;
	assert_int_equal(pw_kill_verdict_of(&p, &f, false, &me), PW_KV_SIGNAL);
	/* a setuid program run by me: effective root, real uid mine */
	p.uid = 0;
	f = (struct pw_target_facts){.uids_known = true, .ruid = 1000, .suid = 0};
	assert_int_equal(pw_kill_verdict_of(&p, &f, false, &me), PW_KV_SIGNAL);
	/* unknown real/saved uids: the effective one stands in */
	f.uids_known = false;
	assert_int_equal(pw_kill_verdict_of(&p, &f, false, &me), PW_KV_PERMISSION);
	p.uid = 1000;
	assert_int_equal(pw_kill_verdict_of(&p, &f, false, &me), PW_KV_SIGNAL);
	/* CAP_KILL, or a real uid that matches */
	me.cap_kill = true;
	p.uid = 0;
	assert_int_equal(pw_kill_verdict_of(&p, &f, false, &me), PW_KV_SIGNAL);
	struct pw_caller setuid_me = {.pid = 1, .ruid = 0, .euid = 1000};
	assert_true(pw_may_signal(&setuid_me, 0, 0));
	assert_false(pw_may_signal(&(struct pw_caller){.ruid = 65534, .euid = 65534}, 0, 0));
}

static void test_status_uids(void **state)
{
	(void)state;
	uid_t u[4] = {9, 9, 9, 9};
	const char *st =
	    "Name:\tx\nUmask:\t0022\nState:\tS\nUid:\t1000\t0\t1001\t0\nGid:\t0\t0\t0\t0\n";
	assert_int_equal(pw_parse_status_uids(st, u), 0);
	assert_int_equal(u[0], 1000);
	assert_int_equal(u[1], 0);
	assert_int_equal(u[2], 1001);
	assert_int_equal(u[3], 0);
	assert_int_equal(pw_parse_status_uids("Uid:\t1\t2\t3\t4", u), 0);
	assert_int_equal(u[3], 4);
	uid_t keep[4] = {7, 7, 7, 7};
	assert_int_equal(pw_parse_status_uids("Name:\tx\n", keep), -ENOENT);
	assert_int_equal(pw_parse_status_uids("Uid:\t1\t2\n", keep), -EINVAL);
	assert_int_equal(pw_parse_status_uids("Uid:\t1\t2\t3\t4294967295\n", keep), -EINVAL);
	assert_int_equal(pw_parse_status_uids("Uid:\t1\t2\t3\t4x\n", keep), -EINVAL);
	assert_int_equal(keep[0], 7); /* untouched on failure */
}

static void test_fdinfo_pid(void **state)
{
	(void)state;
	pid_t pid = 0;
	const char *fi = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nPid:\t4242\n"
			 "NSpid:\t4242\t1\n";
	assert_int_equal(pw_parse_fdinfo_pid(fi, &pid), 0);
	assert_int_equal(pid, 4242);
	assert_int_equal(pw_parse_fdinfo_pid("pos:\t0\nPid:\t-1\nNSpid:\t-1\n", &pid), 0);
	assert_int_equal(pid, -1);
	assert_int_equal(pw_parse_fdinfo_pid("pos:\t0\nPid:\t0\n", &pid), 0);
	assert_int_equal(pid, 0);
	pid = 7;
	assert_int_equal(pw_parse_fdinfo_pid("pos:\t0\nflags:\t02\n", &pid), -ENOENT);
	assert_int_equal(pw_parse_fdinfo_pid("Pid:\tx\n", &pid), -EINVAL);
	assert_int_equal(pw_parse_fdinfo_pid("Pid:\t99999999999\n", &pid), -EINVAL);
	assert_int_equal(pid, 7);
}

/* ---- plans ------------------------------------------------------------------------ */

static void test_prefork_parent_first(void **state)
{
	(void)state;
	struct world w;
	world_init(&w);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, 80, 111);
	/* listed children first: the order must come from ancestry, not input */
	struct pw_process *c2 = proc(&w, 302, 300, "nginx", 33, NULL);
	struct pw_process *c1 = proc(&w, 301, 300, "nginx", 33, NULL);
	struct pw_process *parent = proc(&w, 300, 1, "nginx", 0, NULL);
	struct pw_process *grandchild = proc(&w, 303, 301, "nginx", 33, NULL);
	hold(&w, s, c2, 5);
	hold(&w, s, c1, 5);
	hold(&w, s, parent, 5);
	hold(&w, s, grandchild, 5);
	decide(&w);
	assert_int_equal(w.plan.n_targets, 4);
	assert_int_equal(w.plan.targets[0].proc->pid, 300);
	assert_int_equal(w.plan.targets[0].phase, 1);
	for (size_t i = 1; i < 4; i++) {
		assert_int_equal(w.plan.targets[i].verdict, PW_KV_SIGNAL);
		assert_int_equal(w.plan.targets[i].phase, 2);
	}
	assert_int_equal(target(&w, 301)->ancestor, 300);
	assert_int_equal(target(&w, 303)->ancestor, 301);
	assert_int_equal(w.plan.n_stops, 0);
	assert_int_equal(w.plan.n_unheld, 0);
	done(&w);
}

static void test_siblings_all_first(void **state)
{
	(void)state;
	struct world w;
	world_init(&w);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, 80, 111);
	/* the parent closed its copy: no holder is another's ancestor */
	hold(&w, s, proc(&w, 402, 400, "w", 0, NULL), 3);
	hold(&w, s, proc(&w, 401, 400, "w", 0, NULL), 3);
	decide(&w);
	assert_int_equal(w.plan.targets[0].proc->pid, 401);
	assert_int_equal(w.plan.targets[0].phase, 1);
	assert_int_equal(w.plan.targets[1].phase, 1);
	done(&w);
}

static void test_socket_activation_system(void **state)
{
	(void)state;
	struct world w;
	world_init(&w);
	struct pw_socket *s = sock(&w, IPPROTO_UDP, 53, 222);
	struct pw_process *init = proc(&w, 1, 0, "systemd", 0, "init.scope");
	init->is_systemd = true;
	struct pw_process *dns = proc(&w, 812, 1, "dnsmasq", 0, "dnsmasq.service");
	dns->listen_pid = 812;
	dns->listen_fds = 1;
	hold(&w, s, init, 40);
	hold(&w, s, dns, 3);
	decide(&w);
	assert_int_equal(target(&w, 1)->verdict, PW_KV_PID1);
	assert_int_equal(target(&w, 812)->verdict, PW_KV_UNIT);
	assert_int_equal(w.plan.n_stops, 1);
	const struct pw_unit_stop *st = &w.plan.stops[0];
	assert_false(st->user);
	assert_string_equal(st->command, "systemctl stop dnsmasq.socket dnsmasq.service");
	assert_int_equal(target(&w, 812)->stop, 0);
	assert_null(st->hint);
	done(&w);

	/* systemd said over D-Bus which unit it is: that name wins over a guess */
	world_init(&w);
	s = sock(&w, IPPROTO_UDP, 53, 222);
	init = proc(&w, 1, 0, "systemd", 0, "init.scope");
	init->is_systemd = true;
	dns = proc(&w, 812, 1, "dnsmasq", 0, "dnsmasq.service");
	dns->listen_pid = 812;
	dns->listen_fds = 1;
	hold(&w, s, init, 40);
	hold(&w, s, dns, 3);
	w.units[0] = "dns-local.socket";
	decide(&w);
	assert_string_equal(w.plan.stops[0].command,
			    "systemctl stop dns-local.socket dnsmasq.service");
	done(&w);
}

static void test_socket_activation_fdname_and_accept(void **state)
{
	(void)state;
	struct world w;
	world_init(&w);
	struct pw_socket *a = sock(&w, IPPROTO_TCP, 8080, 10);
	struct pw_socket *b = sock(&w, IPPROTO_TCP, 8081, 11);
	struct pw_process *init = proc(&w, 1, 0, "systemd", 0, NULL);
	init->is_systemd = true;
	struct pw_process *svc = proc(&w, 500, 1, "web", 0, "web.service");
	svc->listen_pid = 500;
	svc->listen_fds = 2;
	svc->listen_fdnames = "web-http.socket:web-admin.socket";
	hold(&w, a, init, 30);
	hold(&w, a, svc, 3);
	hold(&w, b, init, 31);
	hold(&w, b, svc, 4);
	decide(&w);
	assert_string_equal(w.plan.stops[0].command,
			    "systemctl stop web-http.socket web-admin.socket web.service");
	done(&w);

	/* Accept=yes: the listener is PID 1's alone; the manager's socket unit
	 * cannot be guessed without a service, so a hint says where to look */
	world_init(&w);
	a = sock(&w, IPPROTO_TCP, 22, 12);
	init = proc(&w, 1, 0, "systemd", 0, NULL);
	init->is_systemd = true;
	hold(&w, a, init, 30);
	decide(&w);
	assert_int_equal(target(&w, 1)->verdict, PW_KV_PID1);
	assert_int_equal(w.plan.n_stops, 1);
	assert_null(w.plan.stops[0].command);
	assert_non_null(w.plan.stops[0].hint);
	assert_non_null(strstr(w.plan.stops[0].hint, "systemctl list-sockets"));
	done(&w);

	/* an Accept=yes instance holding the listener too */
	world_init(&w);
	a = sock(&w, IPPROTO_TCP, 22, 12);
	init = proc(&w, 1, 0, "systemd", 0, NULL);
	init->is_systemd = true;
	struct pw_process *inst =
	    proc(&w, 600, 1, "sshd", 0, "sshd@3-10.0.0.1:22-10.0.0.2:5555.service");
	inst->listen_pid = 600;
	inst->listen_fds = 1;
	hold(&w, a, init, 30);
	hold(&w, a, inst, 3);
	decide(&w);
	assert_string_equal(w.plan.stops[0].units[0], "sshd.socket");
	done(&w);
}

static void test_user_manager(void **state)
{
	(void)state;
	struct world w;
	world_init(&w);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, 9000, 33);
	struct pw_process *mgr = proc(&w, 900, 1, "systemd", 1000, "user@1000.service");
	mgr->is_systemd = true;
	struct pw_process *app = proc(&w, 950, 900, "app", 1000, "app.service");
	app->user_unit = true;
	app->listen_pid = 950;
	app->listen_fds = 1;
	hold(&w, s, mgr, 20);
	hold(&w, s, app, 3);
	decide(&w);
	assert_int_equal(target(&w, 900)->verdict, PW_KV_MANAGER);
	assert_int_equal(target(&w, 950)->verdict, PW_KV_UNIT);
	assert_int_equal(w.plan.n_stops, 1);
	assert_true(w.plan.stops[0].user);
	assert_int_equal(w.plan.stops[0].uid, 1000);
	/* root reaches alice's manager with -M alice@ */
	assert_string_equal(w.plan.stops[0].command,
			    "systemctl --user -M alice@ stop app.socket app.service");
	done(&w);

	world_init(&w);
	w.env.caller = USER_CALLER(1000);
	s = sock(&w, IPPROTO_TCP, 9000, 33);
	mgr = proc(&w, 900, 1, "systemd", 1000, "user@1000.service");
	mgr->is_systemd = true;
	app = proc(&w, 950, 900, "app", 1000, "app.service");
	app->user_unit = true;
	hold(&w, s, mgr, 20);
	hold(&w, s, app, 3);
	decide(&w);
	/* alice herself; app did not get the fd by activation (no LISTEN_PID),
	 * so no socket unit can be named: its service, and a hint */
	assert_string_equal(w.plan.stops[0].command, "systemctl --user stop app.service");
	assert_non_null(w.plan.stops[0].hint);
	done(&w);
}

static void test_service_without_activation(void **state)
{
	(void)state;
	struct world w;
	world_init(&w);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, 80, 44);
	struct pw_socket *s6 = sock(&w, IPPROTO_TCP, 80, 45);
	struct pw_process *ng = proc(&w, 100, 1, "nginx", 0, "nginx.service");
	struct pw_process *wk = proc(&w, 101, 100, "nginx", 33, "nginx.service");
	struct pw_process *odd = proc(&w, 102, 1, "we\\ird", 0, "we\\x2dird.service");
	hold(&w, s, ng, 6);
	hold(&w, s, wk, 6);
	hold(&w, s6, ng, 7);
	hold(&w, s6, odd, 3);
	decide(&w);
	assert_int_equal(target(&w, 100)->verdict, PW_KV_UNIT);
	assert_int_equal(target(&w, 101)->verdict, PW_KV_UNIT);
	assert_int_equal(w.plan.n_stops, 1);
	/* one command, each unit once, shell-quoted where a shell would bite */
	assert_string_equal(w.plan.stops[0].command,
			    "systemctl stop nginx.service 'we\\x2dird.service'");
	done(&w);
}

static void test_mixed_order(void **state)
{
	(void)state;
	struct world w;
	world_init(&w);
	w.env.caller = USER_CALLER(1000);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, 80, 55);
	struct pw_process *a = proc(&w, 20, 1, "a", 0, NULL);
	struct pw_process *b = proc(&w, 10, 1, "b", 1000, NULL);
	struct pw_process *c = proc(&w, 30, 1, "c", 1000, "c.service");
	struct pw_process *d = proc(&w, 40, 1, "d", 1000, NULL);
	hold(&w, s, a, 3);
	hold(&w, s, b, 3);
	hold(&w, s, c, 3);
	hold(&w, s, d, 3);
	decide(&w);
	/* signals first (by PID), then the rest by verdict */
	assert_int_equal(w.plan.targets[0].proc->pid, 10);
	assert_int_equal(w.plan.targets[1].proc->pid, 40);
	assert_int_equal(w.plan.targets[2].verdict, PW_KV_UNIT);
	assert_int_equal(w.plan.targets[3].verdict, PW_KV_PERMISSION);
	assert_int_equal(w.plan.targets[3].proc->pid, 20);
	done(&w);
}

static void test_gone_in_plan(void **state)
{
	(void)state;
	struct world w;
	world_init(&w);
	struct pw_socket *s = sock(&w, IPPROTO_TCP, 80, 66);
	hold(&w, s, proc(&w, 70, 1, "x", 0, NULL), 3);
	assert_int_equal(pw_kill_plan_init(w.ptrs, w.n_sock, NULL, &w.plan), 0);
	assert_int_equal(w.plan.targets[0].pidfd, -EBADF);
	w.plan.targets[0].facts.gone = true; /* its PID was reused since the scan */
	assert_int_equal(pw_kill_plan_decide(&w.plan, &w.env), 0);
	assert_int_equal(w.plan.targets[0].verdict, PW_KV_GONE);
	assert_int_equal(w.plan.targets[0].phase, 0);
	done(&w);
}

static void test_kernel_and_hidden(void **state)
{
	(void)state;
	struct world w;
	world_init(&w);
	struct pw_socket *vx = sock(&w, IPPROTO_UDP, 4789, 0);
	vx->inode = 77;
	vx->kernel_owner = "vxlan device vx0";
	struct pw_socket *fou = sock(&w, IPPROTO_UDP, 5555, 78);
	fou->kernel_owner = "fou receiver (ipproto 4)";
	struct pw_socket *away = sock(&w, IPPROTO_UDP, 6081, 79);
	away->kernel_owner = "geneve device gn0 (in netns 4026532000)";
	sock(&w, IPPROTO_UDP, 2049, 80);		     /* no holder, no owner named */
	struct pw_socket *tw = sock(&w, IPPROTO_TCP, 80, 0); /* TIME-WAIT: nobody's */
	tw->state = PW_ST_TIME_WAIT;
	decide(&w);
	assert_int_equal(w.plan.n_socks, 4);
	assert_int_equal(w.plan.n_targets, 0);
	assert_int_equal(w.plan.n_unheld, 4);
	assert_int_equal(w.plan.unheld[0].kind, PW_UNHELD_KERNEL);
	assert_string_equal(w.plan.unheld[0].command, "ip link del vx0");
	assert_string_equal(w.plan.unheld[1].command, "ip fou del port 5555");
	assert_null(w.plan.unheld[2].command);
	assert_int_equal(w.plan.unheld[3].kind, PW_UNHELD_UNKNOWN);
	assert_null(w.plan.unheld[3].command);
	done(&w);

	world_init(&w);
	w.env.saw_all = false;
	w.env.netns_name = "blue";
	vx = sock(&w, IPPROTO_UDP, 4789, 77);
	vx->kernel_owner = "vxlan device vx0";
	sock(&w, IPPROTO_UDP, 2049, 80);
	decide(&w);
	assert_string_equal(w.plan.unheld[0].command, "ip -n blue link del vx0");
	assert_int_equal(w.plan.unheld[1].kind, PW_UNHELD_HIDDEN);
	done(&w);

	world_init(&w);
	w.env.netns_path = "/proc/42/ns/net";
	vx = sock(&w, IPPROTO_UDP, 4789, 77);
	vx->kernel_owner = "wireguard device wg 0";
	vx->family = AF_INET6;
	decide(&w);
	assert_string_equal(w.plan.unheld[0].command,
			    "nsenter --net=/proc/42/ns/net ip link del 'wg 0'");
	done(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pid1_manager_self_never),
	    cmocka_unit_test(test_gone_and_unread),
	    cmocka_unit_test(test_units),
	    cmocka_unit_test(test_container_proxy),
	    cmocka_unit_test(test_permission),
	    cmocka_unit_test(test_status_uids),
	    cmocka_unit_test(test_fdinfo_pid),
	    cmocka_unit_test(test_prefork_parent_first),
	    cmocka_unit_test(test_siblings_all_first),
	    cmocka_unit_test(test_socket_activation_system),
	    cmocka_unit_test(test_socket_activation_fdname_and_accept),
	    cmocka_unit_test(test_user_manager),
	    cmocka_unit_test(test_service_without_activation),
	    cmocka_unit_test(test_mixed_order),
	    cmocka_unit_test(test_gone_in_plan),
	    cmocka_unit_test(test_kernel_and_hidden),
	    cmocka_unit_test(test_container_init_and_units),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
