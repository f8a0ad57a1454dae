/* SPDX-License-Identifier: MIT */
/* Process facts for watch events, read from /proc once per PID. A busy port
 * sees the same few processes again and again; a PID that exec'd or was
 * reused shows another comm in the kernel's record and is read again. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watch-int.h"

#define WPROCS_MAX 1024 /* forget everything beyond this: a cache, not a table */

struct wproc {
	pid_t pid;
	char kcomm[16]; /* the kernel's comm when it was read */
	bool ok;	/* p holds facts; false: the process could not be read */
	struct pw_process p;
};

struct pw_wprocs {
	int procfd;
	struct wproc *v;
	size_t n, cap;
};

int pw_wprocs_new(struct pw_wprocs **ret)
{
	struct pw_wprocs *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->procfd < 0) {
		int r = -errno;
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

static void forget_all(struct pw_wprocs *c)
{
	for (size_t i = 0; i < c->n; i++)
		pw_process_clear(&c->v[i].p);
	c->n = 0;
}

void pw_wprocs_free(struct pw_wprocs *c)
{
	if (!c)
		return;
	forget_all(c);
	free(c->v);
	if (c->procfd >= 0)
		close(c->procfd);
	free(c);
}

const struct pw_process *pw_wprocs_get(struct pw_wprocs *c, pid_t pid, const char *comm)
{
	if (pid <= 0)
		return NULL;
	struct wproc *e = NULL;
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].pid == pid) {
			e = &c->v[i];
			break;
		}
	if (e && comm && strncmp(e->kcomm, comm, sizeof(e->kcomm) - 1) != 0) {
		pw_process_clear(&e->p); /* exec or a new process with this PID */
		e->ok = false;
		e->kcomm[0] = '\0';
		e->pid = 0;
	} else if (e && e->ok) {
		return &e->p;
	}
	if (!e || !e->pid) {
		if (!e) {
			if (c->n >= WPROCS_MAX)
				forget_all(c);
			if (pw_grow((void **)&c->v, &c->cap, c->n + 1, sizeof(*c->v)) < 0)
				return NULL;
			e = &c->v[c->n++];
			*e = (struct wproc){0};
		}
		e->pid = pid;
		if (comm)
			strncpy(e->kcomm, comm, sizeof(e->kcomm) - 1);
	}
	/* gone (or hidden) processes are asked again next time: cheap, and a
	 * hidepid mount may let a later event's process through */
	e->ok = pw_process_read(c->procfd, pid, &e->p) == 0;
	return e->ok ? &e->p : NULL;
}
