/* SPDX-License-Identifier: MIT */
/* The "forwards" array of a port group (PRODUCT.md "Forwarded ports"). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "portwho-cmd.h"

static json_t *match_json(const struct pw_forward *f, int *err)
{
	json_t *m = json_object();
	if (!m) {
		*err = -ENOMEM;
		return NULL;
	}
	json_t *addr = json_null();
	if (f->has_match_addr) {
		char a[64];
		pw_addr_format(&f->match_addr, false, a, sizeof(a));
		unsigned full = f->match_addr.family == AF_INET ? 32 : 128;
		if (f->match_plen != full) {
			size_t l = strlen(a);
			snprintf(a + l, sizeof(a) - l, "/%u", f->match_plen);
		}
		addr = json_string(a);
	}
	cli_json_put(m, "address", addr, err);
	cli_json_put(m, "port_min", json_integer(f->port_min), err);
	cli_json_put(m, "port_max", json_integer(f->port_max), err);
	return m;
}

static json_t *target_json(const struct pw_forward *f, int *err)
{
	if (!f->to_netns)
		return json_null();
	json_t *t = json_object(), *socks = json_array(), *holders = json_array();
	if (!t || !socks || !holders) {
		json_decref(t);
		json_decref(socks);
		json_decref(holders);
		*err = -ENOMEM;
		return NULL;
	}
	cli_json_put(t, "netns", json_integer((json_int_t)f->to_netns), err);
	cli_json_put(t, "netns_name", cli_jstr(f->to_netns_name), err);
	cli_json_put(t, "proto", cli_jstr(pw_proto_name(f->target_proto)), err);
	cli_json_put(t, "port", json_integer(f->to_port), err);
	for (size_t i = 0; i < f->n_target_sockets; i++) {
		const struct pw_socket *s = f->target_sockets[i];
		cli_json_append(socks, json_integer(s->inode), err);
		for (size_t h = 0; h < s->n_holders; h++) {
			const struct pw_process *p = s->holders[h].proc;
			bool seen = false; /* one entry per process */
			for (size_t k = 0; k < h && !seen; k++)
				seen = s->holders[k].proc == p;
			if (seen || !p)
				continue;
			json_t *o = json_object();
			cli_json_put(o, "pid", json_integer(p->pid), err);
			cli_json_put(o, "command", cli_jstr(p->comm), err);
			cli_json_put(o, "container", cli_container_json(p->container, err), err);
			cli_json_append(holders, o, err);
		}
	}
	cli_json_put(t, "sockets", socks, err);
	cli_json_put(t, "holders", holders, err);
	return t;
}

json_t *cli_forwards_json(const struct pw_port_group *g, int *err)
{
	json_t *arr = json_array();
	if (!arr) {
		*err = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < g->n_forwards; i++) {
		const struct pw_forward *f = &g->forwards[i];
		json_t *o = json_object();
		cli_json_put(o, "via", json_string(pw_forward_via_name(f->via)), err);
		cli_json_put(o, "rule", cli_jstr(f->rule), err);
		cli_json_put(o, "action", json_string(f->action), err);
		cli_json_put(o, "match", match_json(f, err), err);
		cli_json_put(o, "to_address", f->has_to_addr ? cli_jaddr(&f->to_addr) : json_null(),
			     err);
		cli_json_put(o, "to_port", json_integer(f->to_port), err);
		cli_json_put(o, "to_netns",
			     f->to_netns ? json_integer((json_int_t)f->to_netns) : json_null(),
			     err);
		cli_json_put(o, "proxy_pid",
			     f->proxy_pid ? json_integer(f->proxy_pid) : json_null(), err);
		cli_json_put(o, "target", target_json(f, err), err);
		cli_json_append(arr, o, err);
	}
	return arr;
}
