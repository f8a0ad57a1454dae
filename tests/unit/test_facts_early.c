/* Process facts read beside the dumps (pw_facts_early_*): the facts phase
 * takes what the early reads got and reads the rest itself. Real processes
 * (this one and children it forks, with an environment of their own), no
 * root: a process may read its own children's /proc files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "internal.h"

#define NCHILD 4

static pid_t kids[NCHILD];

/* A child that sleeps with LISTEN_PID naming itself and LISTEN_FDS=1, as a
 * socket-activated service would; its environment tells the facts apart. */
static pid_t spawn(void)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char lp[32];
		snprintf(lp, sizeof(lp), "LISTEN_PID=%d", (int)getpid());
		char *env[] = {lp, "LISTEN_FDS=1", NULL};
		char *argv[] = {"sleep", "60", NULL};
		close(p[0]);
		fcntl(p[1], F_SETFD, FD_CLOEXEC); /* closed by exec: the parent knows */
		execve("/bin/sleep", argv, env);
		_exit(127);
	}
	close(p[1]);
	char c;
	assert_int_equal(read(p[0], &c, 1), 0); /* EOF once exec'd */
	close(p[0]);
	return pid;
}

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < NCHILD; i++)
		kids[i] = spawn();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NCHILD; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	return 0;
}

static int cmp_facts(const void *a, const void *b)
{
	pid_t x = ((const struct pw_task_facts *)a)->pid, y = ((const struct pw_task_facts *)b)->pid;
	return (x > y) - (x < y);
}

/* A walk as BPF leaves it: one fd record (socket inode 100+i) and the
 * facts of each child, sorted by pid; a snapshot with those sockets. */
static void world(struct pw_walk *w, struct pw_snapshot *snap)
{
	*w = (struct pw_walk){0};
	*snap = (struct pw_snapshot){0};
	w->recs = calloc(NCHILD, sizeof(*w->recs));
	w->facts = calloc(NCHILD, sizeof(*w->facts));
	struct pw_socket *v = calloc(NCHILD, sizeof(*v));
	assert_true(w->recs && w->facts && v);
	for (int i = 0; i < NCHILD; i++) {
		w->recs[i] = (struct pw_fdrec){.inode = 100 + (uint32_t)i, .pid = kids[i],
					       .tid = kids[i], .fd = 3};
		w->facts[i] = (struct pw_task_facts){.pid = kids[i], .ppid = getpid(),
						     .nspid = kids[i], .uid = geteuid()};
		snprintf(w->facts[i].comm, sizeof(w->facts[i].comm), "sleep");
		v[i] = (struct pw_socket){.proto = IPPROTO_TCP, .family = AF_INET,
					  .state = PW_ST_LISTEN, .lport = (uint16_t)(80 + i),
					  .inode = 100 + (uint32_t)i};
		v[i].laddr.family = AF_INET;
	}
	w->n_recs = w->cap_recs = NCHILD;
	w->n_facts = w->cap_facts = NCHILD;
	qsort(w->facts, NCHILD, sizeof(*w->facts), cmp_facts);
	snap->sockets = (struct pw_sockvec){v, NCHILD, NCHILD};
	snap->facts_flags = PW_FACTS_NO_CMDLINE;
}

static void check_procs(const struct pw_snapshot *snap)
{
	assert_int_equal(snap->n_procs, NCHILD);
	for (size_t i = 0; i < snap->n_procs; i++) {
		const struct pw_process *p = &snap->procs[i];
		assert_true(p->facts_read);
		assert_string_equal(p->comm, "sleep");
		assert_int_equal(p->listen_pid, p->pid); /* its own environment */
		assert_int_equal(p->listen_fds, 1);
		assert_null(p->cmdline); /* not asked */
	}
	for (size_t i = 0; i < snap->n_holders; i++) {
		assert_non_null(snap->holders[i].proc);
		assert_int_equal(snap->holders[i].proc->pid, snap->holders[i].tid);
	}
}

static void run(size_t limit, bool early_on)
{
	struct pw_walk w;
	struct pw_snapshot *snap = calloc(1, sizeof(*snap));
	assert_non_null(snap);
	world(&w, snap);
	int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(procfd >= 0);
	struct pw_facts_early early = {0};
	if (early_on) {
		assert_int_equal(pw_facts_early_start(&early, &w, procfd, snap->facts_flags, limit),
				 0);
		usleep(200 * 1000); /* time for the worker to read its limit */
	}
	struct pw_joined j = {0};
	assert_int_equal(pw_join_take(snap, &w, &j), 0);
	assert_int_equal(j.n, NCHILD);
	assert_int_equal(pw_process_facts(snap, &j, procfd, early_on ? &early : NULL), 0);
	/* everything the early reads held was taken or freed */
	assert_false(early.started);
	assert_null(early.procs);
	check_procs(snap);
	pw_joined_free(&j);
	pw_walk_free(&w);
	close(procfd);
	pw_snapshot_free(snap); /* ASan: each process freed once */
}

/* All read early, one read early and the rest by the facts phase, none
 * read early (stopped at once), and no early reads at all. */
static void test_all_early(void **state)
{
	(void)state;
	run(0, true);
}

static void test_some_early(void **state)
{
	(void)state;
	run(1, true);
	run(NCHILD - 1, true);
}

static void test_no_early(void **state)
{
	(void)state;
	run(0, false);
}

/* Started and freed without a facts phase (a failed snapshot). */
static void test_early_freed(void **state)
{
	(void)state;
	struct pw_walk w;
	struct pw_snapshot snap;
	world(&w, &snap);
	int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct pw_facts_early early;
	assert_int_equal(pw_facts_early_start(&early, &w, procfd, 0, 0), 0);
	pw_facts_early_free(&early);
	pw_facts_early_free(&early); /* twice is nothing */
	assert_false(early.started);
	close(procfd);
	pw_walk_free(&w);
	pw_sockvec_free(&snap.sockets);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_all_early),
	    cmocka_unit_test(test_some_early),
	    cmocka_unit_test(test_no_early),
	    cmocka_unit_test(test_early_freed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
