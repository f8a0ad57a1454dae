/* SPDX-License-Identifier: MIT */
/*
 * portwho kill, doing it: stop units, signal parents, let children follow,
 * signal the rest, wait for the port while looking again, escalate only when
 * asked. Every step goes into an event log the command renders afterwards;
 * nothing here prints.
 */
#include <signal.h>
#include <time.h>

#include "internal.h"
#include "portwho-kill.h"

#define POLL_SECONDS 0.1   /* a new look at the sockets this often */
#define FOLLOW_SECONDS 1.0 /* how long children get to follow their parent */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double dmin(double a, double b)
{
	return a < b ? a : b;
}

static void sleep_for(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = {.tv_sec = (time_t)s,
			      .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

size_t pw_snapshot_n_held(const struct pw_snapshot *snap)
{
	size_t n = 0;
	for (size_t i = 0; i < pw_snapshot_n_sockets(snap); i++)
		n += pw_snapshot_socket(snap, i)->inode != 0;
	return n;
}

bool pw_kill_plan_has_work(const struct pw_kill_plan *plan, bool stop_units)
{
	for (size_t i = 0; i < plan->n_targets; i++)
		if (plan->targets[i].verdict == PW_KV_SIGNAL)
			return true;
	for (size_t i = 0; stop_units && i < plan->n_stops; i++)
		if (plan->stops[i].n_units)
			return true;
	return false;
}

int pw_kill_plan_open(struct pw_kill_plan *plan)
{
	for (size_t i = 0; i < plan->n_targets; i++) {
		struct pw_kill_target *t = &plan->targets[i];
		if (!t->proc->facts_read || t->proc->pid == 1 || t->proc->is_systemd) {
			t->facts.gone = !t->proc->facts_read;
			continue;
		}
		int r =
		    pw_target_open(NULL, t->proc->pid, t->proc->start_time, &t->pidfd, &t->facts);
		if (r < 0)
			return r;
	}
	return 0;
}

int pw_kill_log_init(struct pw_kill_log *log, const struct pw_kill_plan *plan)
{
	size_t nt = plan->n_targets, ns = plan->n_stops;
	*log = (struct pw_kill_log){0};
	log->targets = calloc(nt ? nt : 1, sizeof(*log->targets));
	log->stops = calloc(ns ? ns : 1, sizeof(*log->stops));
	if (!log->targets || !log->stops) {
		pw_kill_log_free(log);
		return -ENOMEM;
	}
	log->n_stops = ns;
	for (size_t i = 0; i < nt; i++)
		if (plan->targets[i].verdict == PW_KV_GONE)
			log->targets[i].gone = PW_KILL_GONE_AT_SCAN;
	return 0;
}

void pw_kill_log_free(struct pw_kill_log *log)
{
	for (size_t i = 0; log->stops && i < log->n_stops; i++)
		free(log->stops[i].message);
	free(log->events);
	free(log->targets);
	free(log->stops);
	*log = (struct pw_kill_log){0};
}

static int record(struct pw_kill_log *log, struct pw_kill_event ev)
{
	if (PW_GROW(log->events, log->cap_events, log->n_events + 1) < 0)
		return -ENOMEM;
	log->events[log->n_events++] = ev;
	return 0;
}

static int send_to(struct pw_kill_plan *plan, struct pw_kill_log *log, size_t ti, int sig)
{
	struct pw_kill_target *t = &plan->targets[ti];
	int r = pw_target_signal(t->pidfd, sig);
	if (r == 0)
		log->targets[ti].sent = true;
	else if (r == -ESRCH && !log->targets[ti].sent)
		log->targets[ti].gone = PW_KILL_GONE_BEFORE_SIGNAL;
	else if (r == -EPERM)
		log->perm_error = true;
	return record(log, (struct pw_kill_event){PW_KILL_EV_SIGNAL, ti, sig, -r});
}

static bool target_exited(const struct pw_kill_plan *plan, size_t ti)
{
	const struct pw_kill_target *t = &plan->targets[ti];
	return t->pidfd < 0 || pw_target_exited(t->pidfd) != 0;
}

/* Give a pre-fork server's children a moment to follow their parent. */
static void wait_for_parents(const struct pw_kill_plan *plan, const struct pw_kill_log *log,
			     double timeout)
{
	double until = now() + dmin(FOLLOW_SECONDS, timeout);
	for (;;) {
		bool all = true;
		for (size_t i = 0; i < plan->n_targets && all; i++)
			if (plan->targets[i].verdict == PW_KV_SIGNAL &&
			    plan->targets[i].phase == 1 && log->targets[i].sent)
				all = target_exited(plan, i);
		if (all || now() >= until)
			return;
		sleep_for(POLL_SECONDS / 2);
	}
}

static int stop_units(const struct pw_kill_plan *plan, uid_t euid, struct pw_kill_log *log)
{
	for (size_t i = 0; i < plan->n_stops; i++) {
		const struct pw_unit_stop *st = &plan->stops[i];
		if (!st->n_units || st->container) /* a container's: only a hint */
			continue;
		struct pw_kill_stop_state *ss = &log->stops[i];
		ss->tried = true;
		int r = pw_unit_stop_run(st, euid, &ss->message);
		ss->err = -r;
		if (r == -ENOMEM)
			return r;
		if (r == -EPERM || r == -EACCES)
			log->perm_error = true;
		else if (r < 0)
			log->stop_failed = true;
		if ((r = record(log, (struct pw_kill_event){PW_KILL_EV_UNIT_STOP, i, 0, -r})) < 0)
			return r;
	}
	return 0;
}

int pw_kill_execute(struct pw_kill_plan *plan, const struct pw_kill_exec_opts *o,
		    struct pw_kill_log *log)
{
	int r;
	double t0 = now();
	double deadline = t0 + o->timeout;
	if (o->kill_after_set && o->kill_after >= o->timeout)
		deadline = t0 + o->kill_after + 1.0; /* give SIGKILL its chance */
	log->acted = true;

	bool units = false;
	if (o->stop_units) {
		if ((r = stop_units(plan, o->caller_euid, log)) < 0)
			return r;
		for (size_t i = 0; i < plan->n_stops; i++)
			units |= log->stops[i].tried && log->stops[i].err == 0;
	}
	bool phase2 = false;
	for (size_t i = 0; i < plan->n_targets; i++) {
		const struct pw_kill_target *t = &plan->targets[i];
		if (t->verdict != PW_KV_SIGNAL)
			continue;
		if (t->phase == 1) {
			if ((r = send_to(plan, log, i, o->sig)) < 0)
				return r;
		} else {
			phase2 = true;
		}
	}
	if (phase2) {
		wait_for_parents(plan, log, o->timeout);
		for (size_t i = 0; i < plan->n_targets; i++) {
			const struct pw_kill_target *t = &plan->targets[i];
			if (t->verdict != PW_KV_SIGNAL || t->phase != 2)
				continue;
			if (target_exited(plan, i)) {
				log->targets[i].gone = PW_KILL_GONE_AFTER_PARENT;
				r = record(
				    log, (struct pw_kill_event){PW_KILL_EV_AFTER_PARENT, i, 0, 0});
			} else {
				r = send_to(plan, log, i, o->sig);
			}
			if (r < 0)
				return r;
		}
	}

	bool killed = false;
	for (;;) {
		bool alive = false;
		for (size_t i = 0; i < plan->n_targets; i++)
			if (log->targets[i].sent && !log->targets[i].exited) {
				log->targets[i].exited = target_exited(plan, i);
				alive |= !log->targets[i].exited;
			}
		double t = now();
		if (o->kill_after_set && !killed && alive && t - t0 >= o->kill_after) {
			killed = true;
			for (size_t i = 0; i < plan->n_targets; i++)
				if (log->targets[i].sent && !log->targets[i].exited &&
				    (r = send_to(plan, log, i, SIGKILL)) < 0)
					return r;
			continue;
		}
		struct pw_snapshot *s = NULL;
		r = pw_snapshot_take(o->rescan, &s);
		if (r < 0)
			return r;
		bool held = pw_snapshot_n_held(s) > 0;
		pw_snapshot_free(s);
		log->waited = now() - t0;
		if (!held) {
			log->free_now = true;
			return 0;
		}
		/* what is left is nothing this run touched: no use waiting */
		if (!alive && !units)
			return 0;
		if (now() >= deadline)
			return 0;
		double next = POLL_SECONDS;
		if (o->kill_after_set && !killed && alive)
			next = dmin(next, t0 + o->kill_after - now());
		sleep_for(next);
	}
}
