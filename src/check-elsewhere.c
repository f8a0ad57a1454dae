/* SPDX-License-Identifier: MIT */
/*
 * `portwho check` answers for one network namespace (bind rules are per
 * namespace); this says where else the same port is held, so "would
 * succeed" on the host is not read as "nobody has 7800" when a container
 * listens on it. One more scan of every namespace (root only; otherwise
 * only the current one is visible and there is nothing to add).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "portwho-cmd.h"

static bool bound(const struct pw_socket *s)
{
	if (s->proto == IPPROTO_TCP)
		return s->state == PW_ST_LISTEN || s->state == PW_ST_BOUND_INACTIVE;
	return s->state == PW_ST_CLOSE;
}

int check_elsewhere_take(uint8_t proto, uint16_t port, struct pw_snapshot **ret)
{
	*ret = NULL;
	if (geteuid() != 0)
		return 0;
	struct pw_portspec spec = {
	    .protos = proto == IPPROTO_TCP   ? PW_PROTO_TCP
		      : proto == IPPROTO_UDP ? PW_PROTO_UDP
					     : PW_PROTO_UDPLITE,
	    .lo = port,
	    .hi = port,
	};
	struct pw_query q = {
	    .specs = &spec,
	    .n_specs = 1,
	    .protos = spec.protos,
	    .states = PW_STATE_BIT(PW_ST_LISTEN) | PW_STATE_BIT(PW_ST_CLOSE) |
		      PW_STATE_BIT(PW_ST_BOUND_INACTIVE),
	    .netns_scope = PW_NETNS_ALL,
	    .no_explain = true,
	};
	return pw_snapshot_take(&q, ret);
}

/* Groups of snap outside netns with at least one bound socket. */
static bool other_group(const struct pw_port_group *g, uint64_t netns)
{
	if (g->netns == netns)
		return false;
	for (size_t i = 0; i < g->n_sockets; i++)
		if (bound(g->sockets[i]))
			return true;
	return false;
}

static void print_holder(FILE *f, const struct pw_holder *h)
{
	const struct pw_process *p = h->proc;
	if (!p) {
		fprintf(f, "PID %d", (int)h->tid);
		return;
	}
	cli_print_escaped(f, p->comm);
	fprintf(f, " (PID %d", (int)p->pid);
	char label[512];
	if (p->container && pw_container_label(p->container, label, sizeof(label)) >= 0) {
		fputs(", container ", f);
		cli_print_escaped(f, label);
	}
	fputc(')', f);
}

void check_elsewhere_print(FILE *f, const struct pw_snapshot *snap, uint64_t netns)
{
	if (!snap)
		return;
	bool any = false;
	for (size_t i = 0; i < pw_snapshot_n_groups(snap); i++) {
		const struct pw_port_group *g = pw_snapshot_group(snap, i);
		if (!other_group(g, netns))
			continue;
		if (!any)
			fputs("Held in other network namespaces (they do not stop this bind):\n",
			      f);
		any = true;
		for (size_t j = 0; j < g->n_sockets; j++) {
			const struct pw_socket *s = g->sockets[j];
			if (!bound(s))
				continue;
			char ep[96];
			pw_endpoint_format(&s->laddr, s->lport, s->ifname, ep, sizeof(ep));
			fprintf(f, "  %s%s %s in ", pw_proto_name(s->proto),
				s->family == AF_INET6 ? "6" : "", ep);
			if (g->netns_name)
				cli_print_escaped(f, g->netns_name);
			else
				fprintf(f, "netns %llu", (unsigned long long)g->netns);
			for (size_t k = 0; k < s->n_holders; k++) {
				fputs(k ? ", " : ": ", f);
				print_holder(f, &s->holders[k]);
			}
			fputc('\n', f);
		}
	}
}

json_t *check_elsewhere_json(const struct pw_snapshot *snap, uint64_t netns, int *err)
{
	json_t *arr = json_array();
	if (!arr) {
		*err = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; snap && i < pw_snapshot_n_groups(snap); i++) {
		const struct pw_port_group *g = pw_snapshot_group(snap, i);
		if (!other_group(g, netns))
			continue;
		json_t *o = json_object();
		json_t *socks = json_array();
		if (!o || !socks) {
			json_decref(o);
			json_decref(socks);
			*err = -ENOMEM;
			break;
		}
		cli_json_put(o, "netns", json_integer((json_int_t)g->netns), err);
		cli_json_put(o, "netns_name", cli_jstr(g->netns_name), err);
		for (size_t j = 0; j < g->n_sockets; j++)
			if (bound(g->sockets[j]))
				cli_json_append(socks, cli_socket_json(g->sockets[j], false, err),
						err);
		cli_json_put(o, "sockets", socks, err);
		cli_json_append(arr, o, err);
	}
	return arr;
}
