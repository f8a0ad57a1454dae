/* SPDX-License-Identifier: MIT */
/* Who blocked a failed bind: the sockets on that port in the event's
 * namespace, read now from the live socket table, put through the kernel's
 * bind rules with the failing socket's own flags (read in the kernel at the
 * event) as the candidate, exactly as `portwho check` does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "portwho-check.h"
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "watch-int.h"

static uint8_t proto_bit(uint8_t proto)
{
	return proto == IPPROTO_TCP   ? PW_PROTO_TCP
	       : proto == IPPROTO_UDP ? PW_PROTO_UDP
				      : PW_PROTO_UDPLITE;
}

/* The namespace as a path: the failing process's, if it is still there and
 * still in that namespace; NULL means "look in every namespace and keep that
 * one's sockets". */
static bool netns_path_of(const struct pw_watch_event *ev, char *buf, size_t len)
{
	struct stat st;
	if (ev->pid <= 0)
		return false;
	snprintf(buf, len, "/proc/%d/ns/net", (int)ev->pid);
	return stat(buf, &st) == 0 && st.st_ino == ev->netns;
}

static int snapshot_port(const struct pw_watch_event *ev, struct pw_snapshot **ret)
{
	struct pw_portspec spec = {
	    .protos = proto_bit(ev->proto), .lo = ev->lport, .hi = ev->lport};
	struct pw_query q = {
	    .specs = &spec,
	    .n_specs = 1,
	    .protos = spec.protos,
	    .netns_scope = PW_NETNS_ALL,
	    .no_explain = true,
	    .want_options = true, /* every overlapping socket's SO_REUSE* decides */
	};
	char path[64];
	if (netns_path_of(ev, path, sizeof(path))) {
		q.netns_scope = PW_NETNS_PATH;
		q.netns_path = path;
		if (pw_snapshot_take(&q, ret) == 0)
			return 0;
		q.netns_scope = PW_NETNS_ALL; /* it went away meanwhile */
		q.netns_path = NULL;
	}
	return pw_snapshot_take(&q, ret);
}

int pw_watch_blockers_find(const struct pw_watch_event *ev, struct pw_watch_blockers *ret)
{
	*ret = (struct pw_watch_blockers){0};
	if (ev->kind != PW_WATCH_BIND_FAILED || ev->err != EADDRINUSE)
		return 0;
	struct pw_snapshot *snap = NULL;
	int r = snapshot_port(ev, &snap);
	if (r < 0)
		return r;
	size_t n = pw_snapshot_n_sockets(snap), k = 0;
	_cleanup_free_ const struct pw_socket **socks = calloc(n ? n : 1, sizeof(*socks));
	if (!socks) {
		pw_snapshot_free(snap);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pw_socket *s = pw_snapshot_socket(snap, i);
		if (s->netns == ev->netns)
			socks[k++] = s;
	}
	struct pw_bind_candidate c = {
	    .proto = ev->proto,
	    .addr = ev->laddr,
	    .port = ev->lport,
	    .ifindex = ev->ifindex,
	    .reuseaddr = ev->reuseaddr == 1,
	    .reuseport = ev->reuseport == 1,
	    .v6only = ev->v6only == 1,
	    .uid = ev->sock_uid,
	    .can_bind_privileged = true, /* EADDRINUSE: the port was not the problem */
	    .unprivileged_port_start = 0,
	};
	struct pw_bind_prediction pred;
	r = pw_bind_predict(&c, socks, k, &pred);
	if (r < 0) {
		pw_snapshot_free(snap);
		return r;
	}
	struct pw_watch_blocker *v = calloc(pred.n_conflicts ? pred.n_conflicts : 1, sizeof(*v));
	if (!v) {
		pw_bind_prediction_clear(&pred);
		pw_snapshot_free(snap);
		return -ENOMEM;
	}
	for (size_t i = 0; i < pred.n_conflicts; i++)
		v[i] = (struct pw_watch_blocker){
		    .sock = pred.conflicts[i].sock,
		    .rule = pw_bind_rule_name(pred.conflicts[i].rule),
		    .maybe = pred.conflicts[i].outcome == PW_BIND_MAYBE,
		};
	ret->snap = snap;
	ret->v = v;
	ret->n = pred.n_conflicts;
	pw_bind_prediction_clear(&pred);
	return 0;
}

void pw_watch_blockers_clear(struct pw_watch_blockers *b)
{
	if (!b)
		return;
	free(b->v);
	pw_snapshot_free(b->snap);
	*b = (struct pw_watch_blockers){0};
}
