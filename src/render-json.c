/* SPDX-License-Identifier: MIT */
/*
 * --json: the contract of PRODUCT.md and HACKING.md. Every field is present,
 * null where unknown; strings are made valid UTF-8; addresses are plain.
 *
 * The output is what json_dumpf(JSON_INDENT(2)) prints for the whole
 * document, but it is streamed: jansson builds and encodes one socket (or
 * one group's reasons) at a time, the frame around them is written here.
 * Memory stays flat and the time linear for hundreds of thousands of sockets.
 * render_json_doc builds the same document as a json_t for the verbs that
 * embed it (kill's "found" and "final").
 * Strings are escaped for a terminal too: DEL, C1 controls and bidi/format
 * characters from process names are written as \uXXXX.
 */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "portwho-cmd.h"

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
	cli_json_put(o, "kind", json_string(pw_reason_kind_name(r->kind)), err);
	cli_json_put(o, "summary", cli_jstr(r->summary ? r->summary : ""), err);
	for (size_t i = 0; i < r->n_evidence; i++)
		cli_json_append(ev, cli_jstr(r->evidence[i]), err);
	cli_json_put(o, "evidence", ev, err);
	cli_json_put(o, "confidence", json_string(pw_confidence_name(r->confidence)), err);
	for (size_t i = 0; i < r->n_sockets; i++) {
		cli_json_append(socks, json_integer(r->sockets[i]->inode), err);
		cli_json_append(cookies, json_integer((json_int_t)r->sockets[i]->cookie), err);
	}
	cli_json_put(o, "sockets", socks, err);
	/* inodes are 0 for TIME-WAIT: cookies tell those sockets apart */
	cli_json_put(o, "socket_cookies", cookies, err);
	return o;
}

static json_t *class_json(const struct pw_port_class *c, int *err)
{
	json_t *o = json_object();
	if (!o) {
		*err = -ENOMEM;
		return NULL;
	}
	cli_json_put(o, "iana", cli_jstr(c->iana), err);
	cli_json_put(o, "privileged", json_boolean(c->privileged), err);
	cli_json_put(o, "ephemeral", json_boolean(c->ephemeral), err);
	cli_json_put(o, "reserved", json_boolean(c->reserved), err);
	return o;
}

json_t *cli_incomplete_json(const struct pw_snapshot *snap)
{
	json_t *a = json_array();
	int err = 0;
	for (size_t i = 0; a && snap && i < pw_snapshot_n_incomplete(snap); i++) {
		const struct pw_incomplete *inc = pw_snapshot_incomplete(snap, i);
		json_t *o = json_object();
		if (!o) {
			err = -ENOMEM;
			break;
		}
		cli_json_put(o, "kind", cli_jstr(pw_incomplete_kind_name(inc->kind)), &err);
		cli_json_put(o, "count", json_integer(inc->count), &err);
		cli_json_put(o, "detail", cli_jstr(inc->detail), &err);
		cli_json_append(a, o, &err);
	}
	if (err) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* ---- streaming -------------------------------------------------------- */

struct jout {
	FILE *f;
	int err;    /* first failure: -ENOMEM, or -EIO for a write error */
	int indent; /* spaces to put after each newline of an embedded value */
	size_t n;
	char buf[1 << 16];
};

static void out_flush(struct jout *j)
{
	if (j->n && !j->err && fwrite(j->buf, 1, j->n, j->f) != j->n)
		j->err = -EIO;
	j->n = 0;
}

static void out_raw(struct jout *j, const char *s, size_t n)
{
	while (n && !j->err) {
		if (j->n == sizeof(j->buf))
			out_flush(j);
		size_t k = sizeof(j->buf) - j->n;
		k = k < n ? k : n;
		memcpy(j->buf + j->n, s, k);
		j->n += k;
		s += k;
		n -= k;
	}
}

static void out_str(struct jout *j, const char *s)
{
	out_raw(j, s, strlen(s));
}

static void out_spaces(struct jout *j, int n)
{
	static const char sp[] = "                                ";
	for (; n > 0; n -= (int)sizeof(sp) - 1)
		out_raw(j, sp, n < (int)sizeof(sp) - 1 ? (size_t)n : sizeof(sp) - 1);
}

/* jansson's output for a value nested depth levels deep: each new line
 * starts with the indentation of that depth. */
static int dump_cb(const char *b, size_t n, void *data)
{
	struct jout *j = data;
	const char *end = b + n;
	while (b < end) {
		const char *nl = memchr(b, '\n', (size_t)(end - b));
		if (!nl) {
			out_raw(j, b, (size_t)(end - b));
			break;
		}
		out_raw(j, b, (size_t)(nl - b) + 1);
		out_spaces(j, j->indent);
		b = nl + 1;
	}
	return j->err ? -1 : 0;
}

/* Write v (taking the reference) as a value at the given depth. */
static void out_value(struct jout *j, json_t *v, int depth)
{
	if (!v) {
		if (!j->err)
			j->err = -ENOMEM;
		return;
	}
	j->indent = 2 * depth;
	char *txt = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
	json_decref(v);
	if (!txt) {
		if (!j->err)
			j->err = -ENOMEM;
		return;
	}
	size_t n = strlen(txt);
	bool plain = true; /* ASCII needs no second pass */
	for (size_t i = 0; i < n && plain; i++)
		plain = (unsigned char)txt[i] < 0x7f;
	char *safe = plain ? txt : pw_json_terminal_safe(txt, n, &n);
	if (!safe) {
		if (!j->err)
			j->err = -ENOMEM;
	} else {
		dump_cb(safe, n, j);
	}
	if (safe != txt)
		free(safe);
	free(txt);
}

/* The frame: "{" / "[", then items each on a line of their own, as jansson
 * lays them out; *first tracks whether a separator is due. */
static void out_open(struct jout *j, char c, bool *first)
{
	out_raw(j, &c, 1);
	*first = true;
}

static void out_item(struct jout *j, int depth, bool *first)
{
	out_str(j, *first ? "\n" : ",\n");
	*first = false;
	out_spaces(j, 2 * depth);
}

static void out_key(struct jout *j, int depth, bool *first, const char *key)
{
	out_item(j, depth, first);
	out_raw(j, "\"", 1);
	out_str(j, key); /* our own keys: plain ASCII, nothing to escape */
	out_str(j, "\": ");
}

static void out_close(struct jout *j, char c, int depth, bool first)
{
	if (!first) {
		out_raw(j, "\n", 1);
		out_spaces(j, 2 * depth);
	}
	out_raw(j, &c, 1);
}

/* depth 2: an element of "ports" */
static void out_group(struct jout *j, const struct options *o, const struct view_group *vg)
{
	const struct pw_port_group *g = vg->group;
	bool first, sfirst;
	int err = 0;

	out_open(j, '{', &first);
	out_key(j, 3, &first, "netns");
	out_value(j, json_integer((json_int_t)g->netns), 3);
	out_key(j, 3, &first, "netns_name");
	out_value(j, cli_jstr(g->netns_name), 3);
	out_key(j, 3, &first, "netns_current");
	out_value(j, json_boolean(g->netns_current), 3);
	out_key(j, 3, &first, "proto");
	out_value(j, cli_jstr(pw_proto_name(g->proto)), 3);
	out_key(j, 3, &first, "port");
	out_value(j, json_integer(g->port), 3);
	out_key(j, 3, &first, "service");
	out_value(j, cli_jstr(service_name_any(o->services, g->proto, g->port)), 3);
	out_key(j, 3, &first, "class");
	out_value(j, class_json(&g->class, &err), 3);

	json_t *rs = json_array();
	for (size_t i = 0; rs && i < g->n_reasons; i++)
		cli_json_append(rs, reason_json(&g->reasons[i], &err), &err);
	if (err) {
		json_decref(rs);
		rs = NULL;
	}
	out_key(j, 3, &first, "reasons");
	out_value(j, rs, 3);
	out_key(j, 3, &first, "forwards");
	out_value(j, cli_forwards_json(g, &err), 3);

	out_key(j, 3, &first, "sockets");
	out_open(j, '[', &sfirst);
	for (size_t i = 0; i < vg->n_sockets && !j->err && !err; i++) {
		json_t *s = cli_socket_json(vg->sockets[i], true, &err);
		if (err) {
			json_decref(s);
			break;
		}
		out_item(j, 4, &sfirst);
		out_value(j, s, 4);
	}
	out_close(j, ']', 3, sfirst);
	out_close(j, '}', 2, first);
	if (err && !j->err)
		j->err = err;
}

int render_json(const struct options *o, const struct view *v, FILE *out)
{
	struct jout *j = malloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->f = out;
	j->err = 0;
	j->indent = 0;
	j->n = 0;

	bool first, pfirst;
	out_open(j, '{', &first);
	out_key(j, 1, &first, "schema_version");
	out_value(j, json_integer(PW_JSON_SCHEMA_VERSION), 1);
	out_key(j, 1, &first, "privileged");
	out_value(j, json_boolean(v->stats->privileged), 1);
	out_key(j, 1, &first, "hidden_processes");
	out_value(j, json_integer(v->stats->hidden_processes), 1);
	out_key(j, 1, &first, "collector");
	out_value(j, cli_jstr(v->stats->collector), 1);
	out_key(j, 1, &first, "forward_rules_undecoded");
	out_value(j, json_integer(v->stats->forward_rules_undecoded), 1);
	out_key(j, 1, &first, "incomplete");
	out_value(j, cli_incomplete_json(v->snap), 1);
	out_key(j, 1, &first, "ports");
	out_open(j, '[', &pfirst);
	for (size_t i = 0; i < v->n_groups && !j->err; i++) {
		out_item(j, 2, &pfirst);
		out_group(j, o, &v->groups[i]);
	}
	out_close(j, ']', 1, pfirst);
	out_close(j, '}', 0, first);
	out_raw(j, "\n", 1);
	out_flush(j);
	int r = j->err;
	free(j);
	return r;
}

/* ---- the whole document in memory (check and kill embed it) ---------- */

static json_t *group_json(const struct options *o, const struct view_group *vg, int *err)
{
	const struct pw_port_group *g = vg->group;
	json_t *obj = json_object(), *rs = json_array(), *ss = json_array();
	if (!obj || !rs || !ss) {
		json_decref(obj);
		json_decref(rs);
		json_decref(ss);
		*err = -ENOMEM;
		return NULL;
	}
	cli_json_put(obj, "netns", json_integer((json_int_t)g->netns), err);
	cli_json_put(obj, "proto", cli_jstr(pw_proto_name(g->proto)), err);
	cli_json_put(obj, "port", json_integer(g->port), err);
	cli_json_put(obj, "service", cli_jstr(service_name_any(o->services, g->proto, g->port)),
		     err);
	cli_json_put(obj, "class", class_json(&g->class, err), err);
	for (size_t i = 0; i < g->n_reasons; i++)
		cli_json_append(rs, reason_json(&g->reasons[i], err), err);
	cli_json_put(obj, "reasons", rs, err);
	cli_json_put(obj, "forwards", cli_forwards_json(g, err), err);
	for (size_t i = 0; i < vg->n_sockets; i++)
		cli_json_append(ss, cli_socket_json(vg->sockets[i], true, err), err);
	cli_json_put(obj, "sockets", ss, err);
	return obj;
}

json_t *render_json_doc(const struct options *o, const struct view *v)
{
	int err = 0;
	json_t *doc = json_object(), *ports = json_array();
	if (!doc || !ports) {
		json_decref(doc);
		json_decref(ports);
		return NULL;
	}
	cli_json_put(doc, "schema_version", json_integer(PW_JSON_SCHEMA_VERSION), &err);
	cli_json_put(doc, "privileged", json_boolean(v->stats->privileged), &err);
	cli_json_put(doc, "hidden_processes", json_integer(v->stats->hidden_processes), &err);
	cli_json_put(doc, "collector", cli_jstr(v->stats->collector), &err);
	cli_json_put(doc, "forward_rules_undecoded",
		     json_integer(v->stats->forward_rules_undecoded), &err);
	cli_json_put(doc, "incomplete", cli_incomplete_json(v->snap), &err);
	for (size_t i = 0; i < v->n_groups && !err; i++)
		cli_json_append(ports, group_json(o, &v->groups[i], &err), &err);
	cli_json_put(doc, "ports", ports, &err);
	if (err) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}
