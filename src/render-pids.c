/* SPDX-License-Identifier: MIT */
/* --pids: the PIDs of all holders of the shown sockets, sorted, one a line. */
#include <errno.h>
#include <stdlib.h>

#include "portwho-cmd.h"

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

/* Returns how many PIDs were printed. */
int render_pids(const struct options *o, const struct view *v, FILE *out)
{
	(void)o;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < v->n_groups; i++) {
		const struct view_group vg = view_group_at(v, i);
		for (size_t j = 0; j < vg.n_sockets; j++)
			cap += vg.sockets[j]->n_holders;
	}
	pid_t *pids = malloc((cap ? cap : 1) * sizeof(*pids));
	if (!pids)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_groups; i++) {
		const struct view_group vg = view_group_at(v, i);
		for (size_t j = 0; j < vg.n_sockets; j++) {
			const struct pw_socket *s = vg.sockets[j];
			for (size_t k = 0; k < s->n_holders; k++)
				pids[n++] = s->holders[k].proc ? s->holders[k].proc->pid
							       : s->holders[k].tid;
		}
	}
	qsort(pids, n, sizeof(*pids), cmp_pid);
	int printed = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || pids[i] != pids[i - 1]) {
			fprintf(out, "%d\n", (int)pids[i]);
			printed++;
		}
	free(pids);
	return printed;
}
