/* SPDX-License-Identifier: MIT */
/* The "forwards" array of a port group (PRODUCT.md "Forwarded ports"). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "portwho-cmd.h"

static void emit_match(struct jw *w, const struct pw_forward *f)
{
	jw_obj_begin(w, "match");
	if (f->has_match_addr) {
		char a[64] = "";
		pw_addr_format(&f->match_addr, false, a, sizeof(a));
		unsigned full = f->match_addr.family == AF_INET ? 32 : 128;
		if (f->match_plen != full) {
			size_t l = strlen(a);
			snprintf(a + l, sizeof(a) - l, "/%u", f->match_plen);
		}
		jw_str(w, "address", a);
	} else {
		jw_null(w, "address");
	}
	jw_int(w, "port_min", f->port_min);
	jw_int(w, "port_max", f->port_max);
	jw_obj_end(w);
}

static void emit_target(struct jw *w, const struct pw_forward *f)
{
	if (!f->to_netns) {
		jw_null(w, "target");
		return;
	}
	jw_obj_begin(w, "target");
	jw_int(w, "netns", (long long)f->to_netns);
	jw_str(w, "netns_name", f->to_netns_name);
	jw_str(w, "proto", pw_proto_name(f->target_proto));
	jw_int(w, "port", f->to_port);
	jw_arr_begin(w, "sockets");
	for (size_t i = 0; i < f->n_target_sockets; i++)
		jw_int(w, NULL, (long long)f->target_sockets[i]->inode);
	jw_arr_end(w);
	jw_arr_begin(w, "holders");
	for (size_t i = 0; i < f->n_target_sockets; i++) {
		const struct pw_socket *s = f->target_sockets[i];
		for (size_t h = 0; h < s->n_holders; h++) {
			const struct pw_process *p = s->holders[h].proc;
			bool seen = false; /* one entry per process */
			for (size_t k = 0; k < h && !seen; k++)
				seen = s->holders[k].proc == p;
			if (seen || !p)
				continue;
			jw_obj_begin(w, NULL);
			jw_int(w, "pid", p->pid);
			jw_str(w, "command", p->comm);
			cli_emit_container(w, "container", p->container);
			jw_obj_end(w);
		}
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

void cli_emit_forwards(struct jw *w, const char *key, const struct pw_port_group *g)
{
	jw_arr_begin(w, key);
	for (size_t i = 0; i < g->n_forwards; i++) {
		const struct pw_forward *f = &g->forwards[i];
		jw_obj_begin(w, NULL);
		jw_str(w, "via", pw_forward_via_name(f->via));
		jw_str(w, "rule", f->rule);
		jw_str(w, "action", f->action);
		emit_match(w, f);
		if (f->has_to_addr)
			jw_addr(w, "to_address", &f->to_addr);
		else
			jw_null(w, "to_address");
		jw_int(w, "to_port", f->to_port);
		if (f->to_netns)
			jw_int(w, "to_netns", (long long)f->to_netns);
		else
			jw_null(w, "to_netns");
		if (f->proxy_pid)
			jw_int(w, "proxy_pid", f->proxy_pid);
		else
			jw_null(w, "proxy_pid");
		emit_target(w, f);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

json_t *cli_forwards_json(const struct pw_port_group *g, int *err)
{
	struct jw w;
	jw_init_tree(&w);
	cli_emit_forwards(&w, NULL, g);
	return jw_tree_finish(&w, err);
}
