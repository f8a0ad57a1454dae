/* SPDX-License-Identifier: MIT */
/* kill: what to say instead of signalling a container's userland proxy. */
#include <stdio.h>
#include <string.h>

#include "portwho-cmd.h"

char *kill_proxy_advice(const struct pw_snapshot *snap, const struct pw_process *proxy)
{
	const char *rt = proxy->comm && !strcmp(proxy->comm, "rootlessport") ? "podman" : "docker";
	const struct pw_forward *f = NULL;
	for (size_t i = 0; snap && i < pw_snapshot_n_groups(snap) && !f; i++) {
		const struct pw_port_group *g = pw_snapshot_group(snap, i);
		for (size_t j = 0; j < g->n_forwards && !f; j++)
			if (g->forwards[j].via == PW_FWD_PROXY &&
			    g->forwards[j].proxy_pid == proxy->pid)
				f = &g->forwards[j];
	}
	char *s = NULL;
	if (!f) {
		if (asprintf(&s,
			     "a container's port proxy (the runtime starts it with the container): "
			     "stop the container instead (%s stop with its name or id)",
			     rt) < 0)
			return NULL;
		return s;
	}
	char to[80], served[128] = "";
	pw_endpoint_format(&f->to_addr, f->to_port, NULL, to, sizeof(to));
	const struct pw_process *c = NULL;
	for (size_t i = 0; i < f->n_target_sockets && !c; i++)
		if (f->target_sockets[i]->n_holders)
			c = f->target_sockets[i]->holders[0].proc;
	if (c)
		snprintf(served, sizeof(served), ", where %s (PID %d) listens",
			 c->comm ? c->comm : "?", (int)c->pid);
	if (asprintf(&s,
		     "a container's port proxy: it relays the port to %s%s%s; stop that container "
		     "instead (%s stop with its name or id), not its proxy",
		     to, f->to_netns ? " in the container's netns" : "", served, rt) < 0)
		return NULL;
	return s;
}

void kill_print_forwards(const struct pw_snapshot *snap, FILE *f)
{
	for (size_t i = 0; i < pw_snapshot_n_groups(snap); i++) {
		const struct pw_port_group *g = pw_snapshot_group(snap, i);
		for (size_t j = 0; j < g->n_forwards; j++) {
			const struct pw_forward *fw = &g->forwards[j];
			if (fw->via != PW_FWD_NFTABLES)
				continue;
			char to[80];
			if (fw->has_to_addr)
				pw_endpoint_format(&fw->to_addr, fw->to_port, NULL, to, sizeof(to));
			else
				snprintf(to, sizeof(to), "local port %u", fw->to_port);
			fprintf(f,
				"%s/%u is forwarded by nftables %s to %s: no process to signal; "
				"change that rule, or stop what listens there\n",
				pw_proto_name(g->proto), g->port, fw->rule, to);
		}
	}
}
