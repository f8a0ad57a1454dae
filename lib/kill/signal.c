/* SPDX-License-Identifier: MIT */
/*
 * portwho kill, the library part: the pure decision of what to do with each
 * holder of a port (include/portwho-kill.h) and asking systemd to stop units
 * (libsystemd, optional). Pidfds and signals are target.c.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "internal.h"
#include "portwho-kill.h"

/* ---- the decision (pure) ------------------------------------------------------- */

const char *pw_kill_verdict_name(enum pw_kill_verdict v)
{
	static const char *const names[PW_KV_MAX] = {
	    [PW_KV_SIGNAL] = "signal",
	    [PW_KV_GONE] = "gone",
	    [PW_KV_PID1] = "pid1",
	    [PW_KV_SELF] = "self",
	    [PW_KV_MANAGER] = "systemd-manager",
	    [PW_KV_UNIT] = "systemd-unit",
	    [PW_KV_PERMISSION] = "permission",
	    [PW_KV_PROXY] = "container-proxy",
	    [PW_KV_CONTAINER] = "container",
	};
	return (unsigned)v < PW_KV_MAX ? names[v] : "?";
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && !memcmp(s + n - k, suffix, k);
}

enum pw_kill_verdict pw_kill_verdict_of(const struct pw_process *p, const struct pw_target_facts *f,
					bool with_manager, const struct pw_caller *c)
{
	if (p->pid == 1)
		return PW_KV_PID1;
	/* a container's init (PID 1 as it sees itself) in a container whose
	 * runtime has a stop command: the runtime restarts or tears the
	 * container down around it; that command is the way */
	char cmd[512];
	if (p->container && p->nspid == 1 && p->pid != c->pid &&
	    pw_container_stop_command(p->container, cmd, sizeof(cmd)) >= 0)
		return PW_KV_CONTAINER;
	/* never PID 1, also as the process sees itself: a container's init */
	if (pw_process_is_init(p))
		return PW_KV_PID1;
	if (p->pid == c->pid)
		return PW_KV_SELF;
	/* the runtime restarts or re-creates a killed proxy with the container;
	 * stopping the container is what frees the port */
	if (p->comm && (!strcmp(p->comm, "docker-proxy") || !strcmp(p->comm, "rootlessport")))
		return PW_KV_PROXY;
	if (p->is_systemd)
		return PW_KV_MANAGER;
	if (!p->facts_read || f->gone)
		return PW_KV_GONE;
	if (with_manager || pw_unit_is_service(p->unit))
		return PW_KV_UNIT;
	/* without the real and saved uids, the effective one stands in for both */
	uid_t ruid = f->uids_known ? f->ruid : p->uid;
	uid_t suid = f->uids_known ? f->suid : p->uid;
	if (!pw_may_signal(c, ruid, suid))
		return PW_KV_PERMISSION;
	return PW_KV_SIGNAL;
}

static bool is_endpoint_socket(const struct pw_socket *s)
{
	return s->inode != 0;
}

int pw_kill_plan_init(const struct pw_socket *const *socks, size_t n,
		      const char *const *socket_units, struct pw_kill_plan *ret)
{
	struct pw_kill_plan p = {0};
	size_t cap_t = 0;
	int r = -ENOMEM;
	p.socks = calloc(n ? n : 1, sizeof(*p.socks));
	p.socket_units = calloc(n ? n : 1, sizeof(*p.socket_units));
	if (!p.socks || !p.socket_units)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct pw_socket *s = socks[i];
		if (!is_endpoint_socket(s))
			continue;
		p.socket_units[p.n_socks] = socket_units ? socket_units[i] : NULL;
		p.socks[p.n_socks++] = s;
		for (size_t h = 0; h < s->n_holders; h++) {
			const struct pw_process *proc = s->holders[h].proc;
			if (!proc)
				continue;
			bool seen = false;
			for (size_t t = 0; t < p.n_targets && !seen; t++)
				seen = p.targets[t].proc == proc ||
				       p.targets[t].proc->pid == proc->pid;
			if (seen)
				continue;
			if (PW_GROW(p.targets, cap_t, p.n_targets + 1) < 0)
				goto fail;
			p.targets[p.n_targets++] = (struct pw_kill_target){
			    .proc = proc,
			    .pidfd = -EBADF,
			    .stop = SIZE_MAX,
			};
		}
	}
	*ret = p;
	return 0;
fail:
	pw_kill_plan_free(&p);
	return r;
}

static void unit_stop_clear(struct pw_unit_stop *st)
{
	for (size_t i = 0; i < st->n_units; i++)
		free(st->units[i]);
	free(st->units);
	free(st->who);
	free(st->command);
	free(st->hint);
	*st = (struct pw_unit_stop){0};
}

void pw_kill_plan_free(struct pw_kill_plan *plan)
{
	for (size_t i = 0; i < plan->n_targets; i++)
		if (plan->targets[i].pidfd >= 0)
			close(plan->targets[i].pidfd);
	free(plan->targets);
	for (size_t i = 0; i < plan->n_stops; i++)
		unit_stop_clear(&plan->stops[i]);
	free(plan->stops);
	for (size_t i = 0; i < plan->n_unheld; i++)
		free(plan->unheld[i].command);
	free(plan->unheld);
	free(plan->socks);
	free(plan->socket_units);
	*plan = (struct pw_kill_plan){0};
}

static struct pw_kill_target *target_of(struct pw_kill_plan *plan, const struct pw_process *p)
{
	for (size_t i = 0; p && i < plan->n_targets; i++)
		if (plan->targets[i].proc == p || plan->targets[i].proc->pid == p->pid)
			return &plan->targets[i];
	return NULL;
}

static const struct pw_process *manager_of(const struct pw_socket *s)
{
	for (size_t h = 0; h < s->n_holders; h++) {
		const struct pw_process *p = s->holders[h].proc;
		if (p && p->is_systemd)
			return p;
	}
	return NULL;
}

static bool got_fd_from_activation(const struct pw_process *p, int fd)
{
	return pw_listen_pid_is_self(p) && p->listen_fds > 0 && fd >= 3 && fd < 3 + p->listen_fds;
}

/* The stop group of one manager (system, or one user's); created on demand. */
static int stop_group(struct pw_kill_plan *plan, size_t *cap, bool user, uid_t uid, const char *who,
		      pid_t container, size_t *ret)
{
	for (size_t i = 0; i < plan->n_stops; i++)
		if (plan->stops[i].user == user && (!user || plan->stops[i].uid == uid) &&
		    plan->stops[i].container == container) {
			*ret = i;
			return 0;
		}
	if (PW_GROW(plan->stops, *cap, plan->n_stops + 1) < 0)
		return -ENOMEM;
	struct pw_unit_stop *st = &plan->stops[plan->n_stops];
	*st = (struct pw_unit_stop){.user = user, .uid = user ? uid : 0, .container = container};
	if (user) {
		int r = who ? asprintf(&st->who, "%s", who) : asprintf(&st->who, "%u", uid);
		if (r < 0) {
			st->who = NULL;
			return -ENOMEM;
		}
	}
	*ret = plan->n_stops++;
	return 0;
}

/* Add a unit once; socket units go before services so nothing re-activates. */
static int stop_add(struct pw_unit_stop *st, const char *unit)
{
	if (!unit)
		return 0;
	for (size_t i = 0; i < st->n_units; i++)
		if (!strcmp(st->units[i], unit))
			return 0;
	char **v = realloc(st->units, (st->n_units + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->units = v;
	char *u = strdup(unit);
	if (!u)
		return -ENOMEM;
	size_t at = st->n_units;
	if (ends_with(unit, ".socket"))
		for (at = 0; at < st->n_units && ends_with(st->units[at], ".socket"); at++)
			;
	memmove(v + at + 1, v + at, (st->n_units - at) * sizeof(*v));
	v[at] = u;
	st->n_units++;
	return 0;
}

/* One socket's units: the socket unit systemd holds it for, and the
 * services of holders that are part of it. */
static int plan_units_of_socket(struct pw_kill_plan *plan, size_t si, size_t *cap)
{
	const struct pw_socket *s = plan->socks[si];
	const struct pw_process *mgr = manager_of(s);
	bool any = mgr != NULL;
	for (size_t h = 0; h < s->n_holders && !any; h++) {
		struct pw_kill_target *t = target_of(plan, s->holders[h].proc);
		any = t && t->verdict == PW_KV_UNIT;
	}
	if (!any)
		return 0;

	/* whose manager: the systemd --user of a user, or the system's */
	const struct pw_process *owner = mgr;
	for (size_t h = 0; h < s->n_holders && !owner; h++) {
		struct pw_kill_target *t = target_of(plan, s->holders[h].proc);
		if (t && t->verdict == PW_KV_UNIT)
			owner = t->proc;
	}
	/* a unit inside a container belongs to the container's systemd: never
	 * to this host's, which may have a unit of the same name */
	pid_t container = 0;
	if (mgr && mgr->pid != 1 && mgr->nspid == 1)
		container = mgr->pid;
	else if (owner->nspid > 0 && owner->nspid != owner->pid)
		container = -1;
	bool user = mgr ? !pw_process_is_init(mgr) : owner->user_unit;
	size_t gi;
	int r = stop_group(plan, cap, user, owner->uid, owner->user, container, &gi);
	if (r < 0)
		return r;
	struct pw_unit_stop *st = &plan->stops[gi];

	_cleanup_free_ char *sock_unit = NULL;
	if (plan->socket_units[si] && pw_unit_name_valid(plan->socket_units[si], ".socket"))
		sock_unit = strdup(plan->socket_units[si]);
	for (size_t h = 0; h < s->n_holders && !sock_unit; h++) {
		const struct pw_process *p = s->holders[h].proc;
		if (p && !p->is_systemd && got_fd_from_activation(p, s->holders[h].fd)) {
			sock_unit = pw_listen_fdname_unit(p, s->holders[h].fd);
			if (!sock_unit && mgr)
				sock_unit = pw_socket_unit_guess(p->unit);
		}
	}
	if ((r = stop_add(st, sock_unit)) < 0)
		return r;
	if (mgr && !sock_unit && !st->hint &&
	    asprintf(&st->hint,
		     "systemd holds %s:%u for a socket unit portwho could not name: "
		     "systemctl%s list-sockets shows which; stop it first",
		     pw_proto_name(s->proto), s->lport, user ? " --user" : "") < 0) {
		st->hint = NULL;
		return -ENOMEM;
	}
	for (size_t h = 0; h < s->n_holders; h++) {
		struct pw_kill_target *t = target_of(plan, s->holders[h].proc);
		if (!t || (t->verdict != PW_KV_UNIT && t->verdict != PW_KV_MANAGER))
			continue;
		t->stop = gi;
		if (t->verdict == PW_KV_UNIT && pw_unit_is_service(t->proc->unit) &&
		    (r = stop_add(st, t->proc->unit)) < 0)
			return r;
	}
	return 0;
}

/* Quote for a POSIX shell when anything but [A-Za-z0-9@%+=:,./_-] appears. */
static int shell_word(char **out, size_t *len, const char *w)
{
	bool plain = *w != '\0';
	for (const char *c = w; *c && plain; c++)
		plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			(*c >= '0' && *c <= '9') || strchr("@%+=:,./_-", *c);
	FILE *f = open_memstream(out, len);
	if (!f)
		return -ENOMEM;
	if (plain) {
		fputs(w, f);
	} else {
		fputc('\'', f);
		for (const char *c = w; *c; c++)
			if (*c == '\'')
				fputs("'\\''", f);
			else
				fputc(*c, f);
		fputc('\'', f);
	}
	return fclose(f) == 0 ? 0 : -ENOMEM;
}

/* Append " word" (quoted as needed) to a growing command. */
static int cmd_add(FILE *f, const char *w)
{
	_cleanup_free_ char *q = NULL;
	size_t n;
	int r = shell_word(&q, &n, w);
	if (r < 0)
		return r;
	fputc(' ', f);
	fputs(q, f);
	return 0;
}

static int stop_command(struct pw_unit_stop *st, const struct pw_caller *c)
{
	if (!st->n_units)
		return 0;
	if (st->container) {
		/* systemctl here would talk to this host's manager */
		free(st->hint);
		st->hint = NULL;
		size_t len;
		FILE *f = open_memstream(&st->hint, &len);
		if (!f)
			return -ENOMEM;
		int r = 0;
		if (st->container > 0)
			fprintf(f, "inside the container whose init is PID %d: systemctl%s stop",
				(int)st->container, st->user ? " --user" : "");
		else
			fprintf(f, "inside the holder's container: systemctl%s stop",
				st->user ? " --user" : "");
		for (size_t i = 0; i < st->n_units && r == 0; i++)
			r = cmd_add(f, st->units[i]);
		if (fclose(f) != 0 && r == 0)
			r = -ENOMEM;
		if (r < 0) {
			free(st->hint);
			st->hint = NULL;
		}
		return r;
	}
	size_t len;
	FILE *f = open_memstream(&st->command, &len);
	if (!f)
		return -ENOMEM;
	int r = 0;
	fputs("systemctl", f);
	if (st->user) {
		fputs(" --user", f);
		if (st->uid != c->euid) {
			_cleanup_free_ char *m = NULL;
			if (asprintf(&m, "%s@", st->who) < 0)
				r = -ENOMEM;
			else {
				fputs(" -M", f);
				r = cmd_add(f, m);
			}
		}
	}
	fputs(" stop", f);
	for (size_t i = 0; i < st->n_units && r == 0; i++)
		r = cmd_add(f, st->units[i]);
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(st->command);
		st->command = NULL;
	}
	return r;
}

char *pw_kernel_owner_command(const struct pw_socket *s, const struct pw_kill_env *env)
{
	const char *o = s->kernel_owner;
	/* "... (in netns N)": the device lives where `ip` here cannot name it */
	if (!o || strstr(o, " (in netns "))
		return NULL;
	char *tail = NULL;
	const char *dev = strstr(o, " device ");
	if (dev && dev != o) {
		size_t n;
		_cleanup_free_ char *w = NULL;
		if (shell_word(&w, &n, dev + 8) < 0 || asprintf(&tail, "link del %s", w) < 0)
			return NULL;
	} else if (!strncmp(o, "fou receiver", 12)) {
		if (asprintf(&tail, "fou del port %u%s", s->lport,
			     s->family == AF_INET6 ? " -6" : "") < 0)
			return NULL;
	} else {
		return NULL;
	}
	char *cmd = NULL;
	_cleanup_free_ char *q = NULL;
	size_t n;
	int r;
	if (env->netns_name && shell_word(&q, &n, env->netns_name) == 0)
		r = asprintf(&cmd, "ip -n %s %s", q, tail);
	else if (env->netns_path && shell_word(&q, &n, env->netns_path) == 0)
		r = asprintf(&cmd, "nsenter --net=%s ip %s", q, tail);
	else if (env->netns_name || env->netns_path)
		r = -1;
	else if (env->current_netns && s->netns != env->current_netns)
		r = -1; /* -N all: `ip` here would not reach that namespace */
	else
		r = asprintf(&cmd, "ip %s", tail);
	free(tail);
	return r < 0 ? NULL : cmd;
}

static int plan_unheld(struct pw_kill_plan *plan, const struct pw_kill_env *env)
{
	size_t cap = 0;
	for (size_t i = 0; i < plan->n_socks; i++) {
		const struct pw_socket *s = plan->socks[i];
		bool held = false;
		for (size_t h = 0; h < s->n_holders && !held; h++)
			held = s->holders[h].proc != NULL;
		if (held)
			continue;
		if (PW_GROW(plan->unheld, cap, plan->n_unheld + 1) < 0)
			return -ENOMEM;
		struct pw_unheld *u = &plan->unheld[plan->n_unheld++];
		*u = (struct pw_unheld){.sock = s};
		if (s->kernel_owner) {
			u->kind = PW_UNHELD_KERNEL;
			u->command = pw_kernel_owner_command(s, env);
		} else {
			u->kind = env->saw_all ? PW_UNHELD_UNKNOWN : PW_UNHELD_HIDDEN;
		}
	}
	return 0;
}

/* Phase 2 for a process whose parent (or an earlier ancestor) is signalled
 * too: the parent goes first, children of a pre-fork server usually follow. */
static void plan_phases(struct pw_kill_plan *plan)
{
	for (size_t i = 0; i < plan->n_targets; i++) {
		struct pw_kill_target *t = &plan->targets[i];
		if (t->verdict != PW_KV_SIGNAL)
			continue;
		t->phase = 1;
		pid_t up = t->proc->ppid;
		/* bounded: a ppid loop in bad data cannot spin */
		for (size_t depth = 0; depth < plan->n_targets && up > 0; depth++) {
			const struct pw_kill_target *a = NULL;
			for (size_t j = 0; j < plan->n_targets && !a; j++)
				if (plan->targets[j].proc->pid == up && j != i)
					a = &plan->targets[j];
			if (!a)
				break;
			if (a->verdict == PW_KV_SIGNAL) {
				t->phase = 2;
				t->ancestor = a->proc->pid;
				break;
			}
			up = a->proc->ppid;
		}
	}
}

static int rank(const struct pw_kill_target *t)
{
	if (t->verdict == PW_KV_SIGNAL)
		return t->phase;
	return 3 + (int)t->verdict;
}

static int cmp_target(const void *pa, const void *pb)
{
	const struct pw_kill_target *a = pa, *b = pb;
	int ra = rank(a), rb = rank(b);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	return a->proc->pid < b->proc->pid ? -1 : a->proc->pid > b->proc->pid;
}

int pw_kill_plan_decide(struct pw_kill_plan *plan, const struct pw_kill_env *env)
{
	for (size_t i = 0; i < plan->n_targets; i++) {
		struct pw_kill_target *t = &plan->targets[i];
		t->with_manager = false;
		t->stop = SIZE_MAX;
		t->phase = 0;
		t->ancestor = 0;
	}
	for (size_t i = 0; i < plan->n_socks; i++) {
		const struct pw_socket *s = plan->socks[i];
		const struct pw_process *mgr = manager_of(s);
		for (size_t h = 0; mgr && h < s->n_holders; h++) {
			struct pw_kill_target *t = target_of(plan, s->holders[h].proc);
			if (t && t->proc != mgr)
				t->with_manager = true;
		}
	}
	for (size_t i = 0; i < plan->n_targets; i++) {
		struct pw_kill_target *t = &plan->targets[i];
		t->verdict = pw_kill_verdict_of(t->proc, &t->facts, t->with_manager, &env->caller);
	}

	for (size_t i = 0; i < plan->n_stops; i++)
		unit_stop_clear(&plan->stops[i]);
	plan->n_stops = 0;
	size_t cap = 0;
	free(plan->stops);
	plan->stops = NULL;
	int r;
	for (size_t i = 0; i < plan->n_socks; i++)
		if ((r = plan_units_of_socket(plan, i, &cap)) < 0)
			return r;
	for (size_t i = 0; i < plan->n_stops; i++)
		if ((r = stop_command(&plan->stops[i], &env->caller)) < 0)
			return r;

	for (size_t i = 0; i < plan->n_unheld; i++)
		free(plan->unheld[i].command);
	free(plan->unheld);
	plan->unheld = NULL;
	plan->n_unheld = 0;
	if ((r = plan_unheld(plan, env)) < 0)
		return r;

	plan_phases(plan);
	if (plan->n_targets > 1)
		qsort(plan->targets, plan->n_targets, sizeof(*plan->targets), cmp_target);
	return 0;
}

/* ---- the snapshot's socket units ------------------------------------------------ */

const char *pw_snapshot_socket_unit(const struct pw_snapshot *snap, const struct pw_socket *s)
{
	const struct pw_sockunit *u = pw_sockunits_find(&snap->sockunits, s);
	return u ? u->unit : NULL;
}

/* ---- systemd over D-Bus ----------------------------------------------------------- */

#if HAVE_LIBSYSTEMD

static int open_bus(const struct pw_sdbus *sdb, const struct pw_unit_stop *st, uid_t caller_euid,
		    sd_bus **ret)
{
	if (!st->user)
		return sdb->open_system(ret);
	if (st->uid == caller_euid)
		return sdb->open_user(ret);
	/* root reaching another user's manager: what systemctl -M USER@ does */
	_cleanup_free_ char *m = NULL;
	if (asprintf(&m, "%s@.host", st->who) < 0)
		return -ENOMEM;
	if (!sdb->open_user_machine)
		return -EOPNOTSUPP; /* systemd before 248 */
	return sdb->open_user_machine(ret, m);
}

int pw_unit_stop_run(const struct pw_unit_stop *st, uid_t caller_euid, char **ret_error)
{
	if (!st->n_units || st->container)
		return -ENOENT; /* a container's units are not this host's to stop */
	const struct pw_sdbus *sdb = pw_sdbus();
	sd_bus *bus = NULL;
	int r = sdb ? open_bus(sdb, st, caller_euid, &bus) : -EOPNOTSUPP;
	if (r < 0) {
		if (ret_error && asprintf(ret_error, "cannot reach systemd on the %s bus (%s)",
					  st->user ? "user" : "system", strerror(-r)) < 0)
			*ret_error = NULL;
		return r;
	}
	for (size_t i = 0; i < st->n_units && r >= 0; i++) {
		sd_bus_error err = SD_BUS_ERROR_NULL;
		sd_bus_message *reply = NULL;
		r = sdb->call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
				       "org.freedesktop.systemd1.Manager", "StopUnit", &err, &reply,
				       "ss", st->units[i], "replace");
		if (r < 0 && sdb->error_has_name(&err, "org.freedesktop.systemd1.NoSuchUnit"))
			r = 0; /* not loaded: nothing to stop */
		if (r < 0 && ret_error && err.message && !*ret_error &&
		    asprintf(ret_error, "%s: %s", st->units[i], err.message) < 0)
			*ret_error = NULL;
		sdb->message_unref(reply);
		sdb->error_free(&err);
	}
	sdb->flush_close_unref(bus);
	return r < 0 ? r : 0;
}
#else
int pw_unit_stop_run(const struct pw_unit_stop *st, uid_t caller_euid, char **ret_error)
{
	(void)st;
	(void)caller_euid;
	(void)ret_error;
	return -EOPNOTSUPP;
}
#endif
