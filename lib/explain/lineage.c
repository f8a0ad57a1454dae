/* SPDX-License-Identifier: MIT */
/*
 * Forked or passed? One socket held by several processes got there by fork
 * (inherited), over a unix socket (SCM_RIGHTS, pidfd_getfd) or both. Parent
 * and child alone prove nothing: a Node.js cluster primary sends its socket
 * to the workers it forked. The facts that separate the readings:
 *   - exec since fork: under ASLR the stack start (field 28 of stat) of a
 *     process forked without exec equals its parent's; exec draws a new one;
 *   - close-on-exec: exec closes such an fd, so an exec'd process that holds
 *     it close-on-exec most likely received it after exec;
 *   - fd numbers: fork keeps them, a receiver takes the lowest free one;
 *   - start times: a process that started before its parent was re-parented.
 * Socket inode times are zero here, so no fact says when the socket was made.
 */
#include <fcntl.h>
#include <stdio.h>

#include "reasons.h"

/* ---- pure parsers ------------------------------------------------------ */

int pw_parse_stat_field(const char *buf, size_t len, unsigned field, uint64_t *ret)
{
	if (!buf || field < 3)
		return -EINVAL;
	/* comm may hold ')' itself; the fields after the last one never do */
	const char *p = NULL;
	for (size_t i = len; i > 0; i--)
		if (buf[i - 1] == ')') {
			p = buf + i;
			break;
		}
	if (!p)
		return -EINVAL;
	const char *end = buf + len;
	for (unsigned f = 3; f <= field; f++) {
		if (p >= end || *p != ' ')
			return -EINVAL;
		p++;
		const char *tok = p;
		while (p < end && *p != ' ' && *p != '\n')
			p++;
		if (f < field)
			continue;
		uint64_t v = 0;
		if (tok == p)
			return -EINVAL;
		for (const char *q = tok; q < p; q++) {
			if (*q < '0' || *q > '9' || v > (UINT64_MAX - 9) / 10)
				return -EINVAL;
			v = v * 10 + (uint64_t)(*q - '0');
		}
		*ret = v;
		return 0;
	}
	return -EINVAL;
}

int pw_parse_fdinfo_flags(const char *buf, unsigned *ret_flags)
{
	if (!buf)
		return -EINVAL;
	for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, "flags:", 6))
			continue;
		const char *p = l + 6;
		while (*p == ' ' || *p == '\t')
			p++;
		unsigned v = 0;
		if (*p < '0' || *p > '7')
			return -EINVAL;
		for (; *p >= '0' && *p <= '7'; p++) {
			if (v > (UINT32_MAX >> 3))
				return -EINVAL;
			v = v * 8 + (unsigned)(*p - '0');
		}
		if (*p && *p != '\n')
			return -EINVAL;
		*ret_flags = v;
		return 0;
	}
	return -ENOENT;
}

/* ---- reading the facts ---------------------------------------------------- */

#define STAT_MAX 4096

static int read_stat(int procfd, pid_t pid, uint64_t *ret_stack, uint64_t *ret_start)
{
	char path[32];
	snprintf(path, sizeof(path), "%d/stat", (int)pid);
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = pw_read_file_at(procfd, path, STAT_MAX, &buf, &len);
	if (r < 0)
		return r;
	/* field 28 reads 0 without ptrace access: unknown, as it should be */
	if (ret_stack && pw_parse_stat_field(buf, len, 28, ret_stack) < 0)
		*ret_stack = 0;
	if (ret_start && pw_parse_stat_field(buf, len, 22, ret_start) < 0)
		*ret_start = 0;
	return 0;
}

static int8_t read_cloexec(int procfd, pid_t pid, int fd)
{
	char path[48];
	snprintf(path, sizeof(path), "%d/fdinfo/%d", (int)pid, fd);
	_cleanup_free_ char *buf = NULL;
	size_t len;
	unsigned flags;
	if (pw_read_file_at(procfd, path, 4096, &buf, &len) < 0 ||
	    pw_parse_fdinfo_flags(buf, &flags) < 0)
		return -1;
	return (flags & O_CLOEXEC) ? 1 : 0;
}

static bool aslr_on(int procfd)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	return pw_read_file_at(procfd, "sys/kernel/randomize_va_space", 16, &buf, &len) == 0 &&
	       buf[0] != '0';
}

static bool shared_by_several(const struct pw_socket *s)
{
	for (size_t i = 1; i < s->n_holders; i++)
		if (s->holders[i].proc != s->holders[0].proc)
			return true;
	return false;
}

void pw_lineage_read(struct pw_snapshot *snap, int procfd)
{
	int aslr = -1;
	/* pre-fork workers share a parent: read its stat once per run of them */
	pid_t last_ppid = 0;
	uint64_t last_pstack = 0, last_pstart = 0;
	for (size_t i = 0; i < snap->sockets.n; i++) {
		struct pw_socket *s = &snap->sockets.v[i];
		if (!shared_by_several(s))
			continue;
		if (aslr < 0)
			aslr = aslr_on(procfd);
		for (size_t j = 0; j < s->n_holders; j++) {
			struct pw_holder *h = &s->holders[j];
			h->cloexec =
			    h->fd >= 0 ? read_cloexec(procfd, h->tid ? h->tid : h->proc->pid, h->fd)
				       : -1; /* io_uring: no fd */
			struct pw_process *p = h->proc;
			if (!p || p->start_stack || p->parent_start_time || !p->facts_read)
				continue;
			uint64_t stack = 0, pstack = 0, pstart = 0, start = 0;
			/* its start time again from the same file as its parent's,
			 * whichever route read its facts */
			if (read_stat(procfd, p->pid, &stack, &start) == 0 && start)
				p->start_time = start;
			if (p->ppid > 0 && p->ppid == last_ppid) {
				pstack = last_pstack;
				pstart = last_pstart;
			} else if (p->ppid > 0 &&
				   read_stat(procfd, p->ppid, &pstack, &pstart) == 0) {
				last_ppid = p->ppid;
				last_pstack = pstack;
				last_pstart = pstart;
			}
			/* without ASLR equal stacks say nothing about exec */
			p->start_stack = aslr ? stack : 0;
			p->parent_start_stack = aslr ? pstack : 0;
			p->parent_start_time = pstart;
		}
	}
}

/* ---- the reasoning ----------------------------------------------------- */

/* One holder process of the socket (its first fd) and its place in the set. */
struct member {
	const struct pw_process *p;
	int fd;
	int8_t cloexec;
	const struct member *parent; /* the member that is its parent, or NULL */
};

/* 1 same memory image (forked without exec), 0 different, -1 unknown */
static int same_image(uint64_t a, uint64_t b)
{
	return a && b ? a == b : -1;
}

/* "61, 62, 63" or "61, 62 and 40 more": never a PID cut in half */
static void list_pids(char *buf, size_t len, struct member **v, size_t n)
{
	size_t off = 0;
	buf[0] = 0;
	for (size_t i = 0; i < n; i++) {
		char one[24];
		int w = snprintf(one, sizeof(one), "%s%d", i ? ", " : "", (int)v[i]->p->pid);
		if (w < 0 || off + (size_t)w + 24 >= len) {
			snprintf(buf + off, len - off, " and %zu more", n - i);
			return;
		}
		memcpy(buf + off, one, (size_t)w + 1);
		off += (size_t)w;
	}
}

static void fd_evidence(struct rlist *l, struct pw_reason *r, const struct member *m)
{
	pw_rl_evidence(l, r, "PID %d (%s, parent PID %d) has it as fd %d%s", (int)m->p->pid,
		       pw_rl_comm(m->p), (int)m->p->ppid, m->fd,
		       m->cloexec == 1	 ? ", close-on-exec"
		       : m->cloexec == 0 ? ", not close-on-exec"
					 : "");
}

static void unrelated(struct rlist *l, struct pw_socket *s, const char *ep, struct member *m,
		      size_t n)
{
	struct pw_reason *r = pw_rl_add(
	    l, PW_R_PASSED, PW_CONF_INFERRED,
	    "%zu processes that are not parent and child hold the same socket on %s: it was "
	    "passed over a unix socket (SCM_RIGHTS) or taken with pidfd_getfd; all must close "
	    "it to free the port",
	    n, ep);
	for (size_t i = 0; i < n; i++)
		fd_evidence(l, r, &m[i]);
	pw_rl_cover(l, r, s);
}

/* One holder is the ancestor of all others through holders. */
static void tree(struct rlist *l, struct pw_socket *s, const char *ep, struct member *m, size_t n,
		 const struct member *root)
{
	size_t received = 0, unknown = 0, moved = 0;
	for (size_t i = 0; i < n; i++) {
		const struct member *c = &m[i];
		if (c == root)
			continue;
		int img = same_image(c->p->start_stack, c->parent->p->start_stack);
		/* an fd that is not close-on-exec, or no exec, fits inheritance */
		if (img == 0 && c->cloexec == 1)
			received++;
		else if ((c->cloexec == 1 && img < 0) || (c->cloexec < 0 && img != 1))
			unknown++;
		else if (c->fd != c->parent->fd)
			moved++;
	}
	const char *unit = root->p->unit;
	struct pw_reason *r;
	if (received) {
		r = pw_rl_add(
		    l, PW_R_PASSED, PW_CONF_INFERRED,
		    "%s (PID %d) and %zu child process%s hold one socket on %s; %zu of the "
		    "children exec'd after fork and hold it close-on-exec, which exec would have "
		    "closed: they most likely received it over a unix socket (SCM_RIGHTS, as a "
		    "Node.js cluster with NODE_CLUSTER_SCHED_POLICY=none does); the other reading, "
		    "inherited and marked close-on-exec after exec, cannot be ruled out; all "
		    "holders must close it: stop PID %d%s%s and its children to free the port",
		    pw_rl_comm(root->p), (int)root->p->pid, n - 1, n - 1 == 1 ? "" : "es", ep,
		    received, (int)root->p->pid, unit ? ", " : "", unit ? unit : "");
	} else if (!unknown && !moved) {
		r = pw_rl_add(
		    l, PW_R_FORKED, PW_CONF_VERIFIED,
		    "%s (PID %d) and %zu child process%s share one socket on %s, inherited "
		    "across fork (a pre-fork server); this is normal: stop the parent "
		    "(PID %d%s%s) to free the port",
		    pw_rl_comm(root->p), (int)root->p->pid, n - 1, n - 1 == 1 ? "" : "es", ep,
		    (int)root->p->pid, unit ? ", " : "", unit ? unit : "");
	} else {
		r = pw_rl_add(
		    l, PW_R_FORKED, PW_CONF_INFERRED,
		    "%s (PID %d) and %zu child process%s share one socket on %s: most likely "
		    "inherited across fork (a pre-fork server), but %s, so it may also have "
		    "been handed over a unix socket; either way stop the parent (PID %d%s%s) "
		    "and its children to free the port",
		    pw_rl_comm(root->p), (int)root->p->pid, n - 1, n - 1 == 1 ? "" : "es", ep,
		    moved ? "the children hold it at another fd number than their parent"
			  : "whether the children exec'd could not be read",
		    (int)root->p->pid, unit ? ", " : "", unit ? unit : "");
	}
	fd_evidence(l, r, root);
	for (size_t i = 0; i < n; i++) {
		const struct member *c = &m[i];
		if (c == root)
			continue;
		int img = same_image(c->p->start_stack, c->parent->p->start_stack);
		pw_rl_evidence(l, r, "PID %d (%s, fd %d%s) has parent PID %d (fd %d)%s",
			       (int)c->p->pid, pw_rl_comm(c->p), c->fd,
			       c->cloexec == 1	 ? ", close-on-exec"
			       : c->cloexec == 0 ? ", not close-on-exec"
						 : "",
			       (int)c->p->ppid, c->parent->fd,
			       img == 1	  ? "; same memory image as its parent: forked, no exec"
			       : img == 0 ? "; exec'd since fork (its stack start differs from its "
					    "parent's)"
					  : "; exec since fork unknown (stack start not readable)");
	}
	pw_rl_cover(l, r, s);
}

/* Several holders, none the parent of another's line, with one parent that
 * does not hold the socket: workers whose master closed its copy, workers
 * whose master is gone, or siblings that handed the socket over. */
static void siblings(struct rlist *l, struct pw_socket *s, const char *ep, struct member *m,
		     size_t n, struct member **tops, size_t nt)
{
	const struct pw_process *t0 = tops[0]->p;
	pid_t q = t0->ppid;
	int shared = 1; /* the tops share one memory image */
	bool before_parent = false, fd_same = true, any_cloexec = false;
	for (size_t i = 0; i < nt; i++) {
		int img = same_image(tops[i]->p->start_stack, t0->start_stack);
		if (img == 0)
			shared = 0;
		else if (img < 0 && shared)
			shared = -1;
		before_parent |=
		    t0->parent_start_time && tops[i]->p->start_time < t0->parent_start_time;
		fd_same &= tops[i]->fd == tops[0]->fd;
		any_cloexec |= tops[i]->cloexec == 1;
	}
	int parent_img = same_image(t0->parent_start_stack, t0->start_stack);
	char pids[160];
	list_pids(pids, sizeof(pids), tops, nt);
	const char *unit = t0->unit;
	struct pw_reason *r;

	if (shared == 1 && parent_img == 1 && !before_parent) {
		r = pw_rl_add(
		    l, PW_R_FORKED, PW_CONF_VERIFIED,
		    "%zu processes, all children of PID %d, share one socket on %s: PID %d "
		    "forked them without exec (same memory image) and closed its own copy; "
		    "this is normal for a pre-fork server: stop PID %d%s%s to free the port",
		    n, (int)q, ep, (int)q, (int)q, unit ? ", " : "", unit ? unit : "");
		pw_rl_evidence(l, r,
			       "PID %d has the same stack start as its children: they did not exec",
			       (int)q);
	} else if (shared == 1 && parent_img < 0 && !before_parent && q > 1) {
		/* a root master of workers that dropped privileges, seen without
		 * root: its image is unreadable, and it may hold the socket unseen */
		r = pw_rl_add(
		    l, PW_R_FORKED, PW_CONF_INFERRED,
		    "%zu processes, all children of PID %d, share one socket on %s: they "
		    "were forked from one process without exec, most likely PID %d, which "
		    "closed its copy or holds it where this run could not look (its "
		    "memory image could not be read); the other reading: their master is "
		    "gone and PID %d adopted them; stop PID %d%s%s to free the port",
		    n, (int)q, ep, (int)q, (int)q, (int)q, unit ? ", " : "", unit ? unit : "");
		pw_rl_evidence(l, r,
			       "PIDs %s share one memory image (same stack start): forked "
			       "from one process without exec",
			       pids);
	} else if (shared == 1) {
		bool sure = before_parent || parent_img == 0;
		r = pw_rl_add(
		    l, PW_R_FORKED, sure ? PW_CONF_VERIFIED : PW_CONF_INFERRED,
		    "%s workers (PIDs %s) forked from one master hold %s, but %s: they were "
		    "re-parented to PID %d; the workers still hold the port: stopping them "
		    "(kill %s) frees it%s",
		    pw_rl_comm(t0), pids, ep,
		    sure ? "that master is gone" : "that master is most likely gone", (int)q, pids,
		    sure ? ""
			 : "; the other reading: their parent forked them itself without exec "
			   "and closed its copy (its memory image could not be read)");
		pw_rl_evidence(l, r,
			       "PIDs %s share one memory image (same stack start): forked "
			       "from one process without exec",
			       pids);
		if (parent_img == 0)
			pw_rl_evidence(l, r,
				       "their parent PID %d has another memory image: it did not "
				       "fork them without exec",
				       (int)q);
		if (before_parent)
			pw_rl_evidence(l, r,
				       "PID %d started after them: it is not the process that "
				       "forked them",
				       (int)q);
	} else if (q <= 1) {
		/* every daemon is a child of PID 1: being its children relates nothing */
		unrelated(l, s, ep, m, n);
		return;
	} else if (shared == 0 && (!fd_same || any_cloexec)) {
		r = pw_rl_add(
		    l, PW_R_PASSED, PW_CONF_INFERRED,
		    "%zu sibling processes (PIDs %s, children of PID %d, which does not hold "
		    "it) share one socket on %s: each exec'd on its own and they hold it %s, "
		    "so one most likely created it and handed it to the other over a unix "
		    "socket (SCM_RIGHTS); the other reading: PID %d created it, they "
		    "inherited it across fork and exec and it closed its own copy; all must "
		    "close it to free the port",
		    nt, pids, (int)q, ep,
		    !fd_same && any_cloexec ? "at different fd numbers, close-on-exec"
		    : !fd_same		    ? "at different fd numbers"
					    : "close-on-exec",
		    (int)q);
		pw_rl_evidence(l, r, "PIDs %s have different memory images: each exec'd", pids);
	} else {
		r = pw_rl_add(
		    l, PW_R_FORKED, PW_CONF_INFERRED,
		    "%zu processes, all children of PID %d, share one socket on %s: "
		    "inherited across fork from a parent that closed its own copy, or "
		    "handed between siblings over a unix socket (%s); stop PID %d%s%s and "
		    "its children to free the port",
		    n, (int)q, ep,
		    shared < 0 ? "whether they exec'd could not be read"
			       : "the same fd number, not close-on-exec: the facts fit both",
		    (int)q, unit ? ", " : "", unit ? unit : "");
	}
	for (size_t i = 0; i < n; i++)
		fd_evidence(l, r, &m[i]);
	pw_rl_cover(l, r, s);
}

void pw_explain_family(struct rlist *l, struct pw_socket *s)
{
	char ep[96];
	pw_endpoint_format(&s->laddr, s->lport, s->ifname, ep, sizeof(ep));
	_cleanup_free_ struct member *m = calloc(s->n_holders, sizeof(*m));
	_cleanup_free_ struct member **tops = calloc(s->n_holders, sizeof(*tops));
	if (!m || !tops) {
		l->err = -ENOMEM;
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < s->n_holders; i++) {
		const struct pw_holder *h = &s->holders[i];
		if (!h->proc)
			continue;
		bool seen = false;
		for (size_t j = 0; j < n && !seen; j++)
			seen = m[j].p == h->proc;
		if (!seen)
			m[n++] = (struct member){.p = h->proc, .fd = h->fd, .cloexec = h->cloexec};
	}
	if (n < 2) { /* a holder vanished before its facts were read */
		struct pw_reason *r = pw_rl_add(
		    l, PW_R_PASSED, PW_CONF_INFERRED,
		    "%s is held by several processes, but one exited before its facts were "
		    "read: whether they inherited or passed it is unknown; all must close it "
		    "to free the port",
		    ep);
		for (size_t i = 0; i < n; i++)
			fd_evidence(l, r, &m[i]);
		pw_rl_cover(l, r, s);
		return;
	}
	size_t nt = 0;
	bool one_parent = true;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n && !m[i].parent; j++)
			if (j != i && m[j].p->pid == m[i].p->ppid)
				m[i].parent = &m[j];
		if (!m[i].parent) {
			one_parent &= nt == 0 || m[i].p->ppid == tops[0]->p->ppid;
			tops[nt++] = &m[i];
		}
	}
	if (nt == 1)
		tree(l, s, ep, m, n, tops[0]);
	else if (nt > 1 && one_parent && tops[0]->p->ppid > 0)
		siblings(l, s, ep, m, n, tops, nt);
	else
		unrelated(l, s, ep, m, n);
}
