/* SPDX-License-Identifier: MIT */
/*
 * --json: the contract of PRODUCT.md and HACKING.md. Every field is present,
 * null where unknown; strings are made valid UTF-8; addresses are plain.
 */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "portwho-cmd.h"

/* Builders return NULL only when out of memory. */
static json_t *jstr(const char *raw)
{
	if (!raw)
		return json_null();
	char *u = pw_utf8_sanitize(raw);
	if (!u)
		return NULL;
	json_t *j = json_string(u);
	free(u);
	return j;
}

static json_t *jtri(int8_t v)
{
	return v < 0 ? json_null() : json_boolean(v != 0);
}

static json_t *jaddr(const struct pw_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 1];
	if (pw_addr_format(a, false, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

/* Set obj[key] = v; remembers a failure in *err (v may be NULL). */
static void put(json_t *obj, const char *key, json_t *v, int *err)
{
	if (!v || json_object_set_new(obj, key, v) < 0)
		*err = -ENOMEM;
}

static void append(json_t *arr, json_t *v, int *err)
{
	if (!v || json_array_append_new(arr, v) < 0)
		*err = -ENOMEM;
}

static json_t *holder_json(const struct pw_holder *h, int *err)
{
	const struct pw_process *p = h->proc;
	json_t *o = json_object();
	if (!o) {
		*err = -ENOMEM;
		return NULL;
	}
	put(o, "pid", json_integer(p ? p->pid : h->tid), err);
	put(o, "tid", json_integer(h->tid), err);
	put(o, "fd", json_integer(h->fd), err);
	put(o, "command", jstr(p ? p->comm : NULL), err);
	put(o, "cmdline", jstr(p ? p->cmdline : NULL), err);
	put(o, "user", jstr(p ? p->user : NULL), err);
	put(o, "uid", p && p->facts_read ? json_integer(p->uid) : json_null(), err);
	put(o, "ppid", p && p->facts_read ? json_integer(p->ppid) : json_null(), err);
	put(o, "unit", jstr(p ? p->unit : NULL), err);
	put(o, "user_unit", p && p->facts_read ? json_boolean(p->user_unit) : json_null(), err);
	return o;
}

static json_t *socket_json(const struct pw_socket *s, int *err)
{
	bool connected = s->rport != 0 || !pw_addr_is_any(&s->raddr);
	json_t *o = json_object();
	json_t *hs = json_array();
	if (!o || !hs) {
		json_decref(o);
		json_decref(hs);
		*err = -ENOMEM;
		return NULL;
	}
	put(o, "inode", json_integer(s->inode), err);
	put(o, "cookie", json_integer((json_int_t)s->cookie), err);
	put(o, "family", json_string(s->family == AF_INET6 ? "ipv6" : "ipv4"), err);
	put(o, "local_address", jaddr(&s->laddr), err);
	put(o, "local_port", json_integer(s->lport), err);
	put(o, "remote_address", connected ? jaddr(&s->raddr) : json_null(), err);
	put(o, "remote_port", connected ? json_integer(s->rport) : json_null(), err);
	put(o, "state", jstr(pw_state_name(s->proto, s->state)), err);
	put(o, "uid", json_integer(s->uid), err);
	put(o, "v6only", s->family == AF_INET6 ? jtri(s->v6only) : json_null(), err);
	put(o, "reuseaddr", jtri(s->reuseaddr), err);
	put(o, "reuseport", jtri(s->reuseport), err);
	put(o, "options_source", jstr(pw_opt_source_name((enum pw_opt_source)s->opts_source)), err);
	put(o, "kernel_owner", jstr(s->kernel_owner), err);
	put(o, "interface", jstr(s->ifname), err);
	for (size_t i = 0; i < s->n_holders; i++)
		append(hs, holder_json(&s->holders[i], err), err);
	put(o, "holders", hs, err);
	return o;
}

static json_t *reason_json(const struct pw_reason *r, int *err)
{
	json_t *o = json_object();
	json_t *ev = json_array();
	json_t *socks = json_array();
	json_t *cookies = json_array();
	if (!o || !ev || !socks || !cookies) {
		json_decref(o);
		json_decref(ev);
		json_decref(socks);
		json_decref(cookies);
		*err = -ENOMEM;
		return NULL;
	}
	put(o, "kind", json_string(pw_reason_kind_name(r->kind)), err);
	put(o, "summary", jstr(r->summary ? r->summary : ""), err);
	for (size_t i = 0; i < r->n_evidence; i++)
		append(ev, jstr(r->evidence[i]), err);
	put(o, "evidence", ev, err);
	put(o, "confidence", json_string(pw_confidence_name(r->confidence)), err);
	for (size_t i = 0; i < r->n_sockets; i++) {
		append(socks, json_integer(r->sockets[i]->inode), err);
		append(cookies, json_integer((json_int_t)r->sockets[i]->cookie), err);
	}
	put(o, "sockets", socks, err);
	/* inodes are 0 for TIME-WAIT: cookies tell those sockets apart */
	put(o, "socket_cookies", cookies, err);
	return o;
}

static json_t *class_json(const struct pw_port_class *c, int *err)
{
	json_t *o = json_object();
	if (!o) {
		*err = -ENOMEM;
		return NULL;
	}
	put(o, "iana", jstr(c->iana), err);
	put(o, "privileged", json_boolean(c->privileged), err);
	put(o, "ephemeral", json_boolean(c->ephemeral), err);
	put(o, "reserved", json_boolean(c->reserved), err);
	return o;
}

static json_t *group_json(const struct options *o, const struct view_group *vg, int *err)
{
	const struct pw_port_group *g = vg->group;
	json_t *obj = json_object();
	json_t *rs = json_array();
	json_t *ss = json_array();
	if (!obj || !rs || !ss) {
		json_decref(obj);
		json_decref(rs);
		json_decref(ss);
		*err = -ENOMEM;
		return NULL;
	}
	put(obj, "netns", json_integer((json_int_t)g->netns), err);
	put(obj, "proto", json_string(pw_proto_name(g->proto)), err);
	put(obj, "port", json_integer(g->port), err);
	put(obj, "service", jstr(service_name_any(o->services, g->proto, g->port)), err);
	put(obj, "class", class_json(&g->class, err), err);
	for (size_t i = 0; i < g->n_reasons; i++)
		append(rs, reason_json(&g->reasons[i], err), err);
	put(obj, "reasons", rs, err);
	for (size_t i = 0; i < vg->n_sockets; i++)
		append(ss, socket_json(vg->sockets[i], err), err);
	put(obj, "sockets", ss, err);
	return obj;
}

int render_json(const struct options *o, const struct view *v, FILE *out)
{
	int err = 0;
	json_t *root = json_object();
	json_t *ports = json_array();
	if (!root || !ports) {
		json_decref(root);
		json_decref(ports);
		return -ENOMEM;
	}
	put(root, "privileged", json_boolean(v->stats->privileged), &err);
	put(root, "hidden_processes", json_integer(v->stats->hidden_processes), &err);
	put(root, "collector", jstr(v->stats->collector), &err);
	for (size_t i = 0; i < v->n_groups && !err; i++)
		append(ports, group_json(o, &v->groups[i], &err), &err);
	put(root, "ports", ports, &err);
	if (!err) {
		if (json_dumpf(root, out, JSON_INDENT(2)) < 0)
			err = -EIO;
		else
			fputc('\n', out);
	}
	json_decref(root);
	return err;
}
