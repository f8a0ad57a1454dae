/* SPDX-License-Identifier: MIT */
/*
 * --json: the contract of PRODUCT.md and HACKING.md. Every field is present,
 * null where unknown; strings are made valid UTF-8; addresses are plain.
 *
 * The document is written once, as calls on the emitter of jemit.h:
 * render_json streams it as text (what json_dumps(JSON_INDENT(2)) would
 * print for the whole document, nothing kept per socket, so memory stays
 * flat and the time linear for hundreds of thousands of sockets);
 * render_json_doc builds the same document as a json_t for the verbs that
 * embed it (kill's "found" and "final").
 * Strings are escaped for a terminal too: DEL, C1 controls and bidi/format
 * characters from process names are written as \uXXXX.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

#include "portwho-cmd.h"

static void emit_reason(struct jw *w, const struct pw_reason *r)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "kind", pw_reason_kind_name(r->kind));
	jw_str(w, "summary", r->summary ? r->summary : "");
	jw_arr_begin(w, "evidence");
	for (size_t i = 0; i < r->n_evidence; i++)
		jw_str(w, NULL, r->evidence[i]);
	jw_arr_end(w);
	jw_str(w, "confidence", pw_confidence_name(r->confidence));
	jw_arr_begin(w, "sockets");
	for (size_t i = 0; i < r->n_sockets; i++)
		jw_int(w, NULL, (long long)r->sockets[i]->inode);
	jw_arr_end(w);
	/* inodes are 0 for TIME-WAIT: cookies tell those sockets apart */
	jw_arr_begin(w, "socket_cookies");
	for (size_t i = 0; i < r->n_sockets; i++)
		jw_int(w, NULL, (long long)r->sockets[i]->cookie);
	jw_arr_end(w);
	jw_obj_end(w);
}

static void emit_class(struct jw *w, const struct pw_port_class *c)
{
	jw_obj_begin(w, "class");
	jw_str(w, "iana", c->iana);
	jw_bool(w, "privileged", c->privileged);
	jw_bool(w, "ephemeral", c->ephemeral);
	jw_bool(w, "reserved", c->reserved);
	jw_obj_end(w);
}

void cli_emit_incomplete(struct jw *w, const char *key, const struct pw_snapshot *snap)
{
	jw_arr_begin(w, key);
	for (size_t i = 0; snap && i < pw_snapshot_n_incomplete(snap); i++) {
		const struct pw_incomplete *inc = pw_snapshot_incomplete(snap, i);
		jw_obj_begin(w, NULL);
		jw_str(w, "kind", pw_incomplete_kind_name(inc->kind));
		jw_int(w, "count", (long long)inc->count);
		jw_str(w, "detail", inc->detail);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

json_t *cli_incomplete_json(const struct pw_snapshot *snap)
{
	struct jw w;
	jw_init_tree(&w);
	cli_emit_incomplete(&w, NULL, snap);
	return jw_tree_finish(&w, NULL);
}

/* an element of "ports" */
static void emit_group(struct jw *w, const struct options *o, const struct pw_snapshot *snap,
		       const struct view_group *vg)
{
	const struct pw_port_group *g = vg->group;
	/* the reasons' text is told for this group now, and given back when
	 * the next one asks: nothing of it is kept per group */
	int r = pw_snapshot_reason_text(snap, g);
	if (r < 0) {
		w->err = w->err ? w->err : r;
		return;
	}
	jw_obj_begin(w, NULL);
	jw_int(w, "netns", (long long)g->netns);
	jw_str(w, "netns_name", g->netns_name);
	jw_bool(w, "netns_current", g->netns_current);
	jw_str(w, "proto", pw_proto_name(g->proto));
	jw_int(w, "port", g->port);
	jw_str(w, "service", service_name_any(o->services, g->proto, g->port));
	emit_class(w, &g->class);
	jw_arr_begin(w, "reasons");
	for (size_t i = 0; i < g->n_reasons; i++)
		emit_reason(w, &g->reasons[i]);
	jw_arr_end(w);
	cli_emit_forwards(w, "forwards", g);
	jw_arr_begin(w, "sockets");
	for (size_t i = 0; i < vg->n_sockets && !w->err; i++)
		cli_emit_socket(w, NULL, vg->sockets[i], true);
	jw_arr_end(w);
	jw_obj_end(w);
}

static void emit_doc(struct jw *w, const struct options *o, const struct view *v)
{
	jw_obj_begin(w, NULL);
	jw_int(w, "schema_version", PW_JSON_SCHEMA_VERSION);
	jw_bool(w, "privileged", v->stats->privileged);
	jw_int(w, "hidden_processes", (long long)v->stats->hidden_processes);
	jw_str(w, "collector", v->stats->collector);
	jw_int(w, "forward_rules_undecoded", (long long)v->stats->forward_rules_undecoded);
	cli_emit_incomplete(w, "incomplete", v->snap);
	jw_arr_begin(w, "ports");
	for (size_t i = 0; i < v->n_groups && !w->err; i++) {
		const struct view_group vg = view_group_at(v, i);
		emit_group(w, o, v->snap, &vg);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

int render_json(const struct options *o, const struct view *v, FILE *out)
{
	struct jw *w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	jw_init_text(w, out);
	emit_doc(w, o, v);
	int r = jw_text_finish(w);
	free(w);
	return r;
}

json_t *render_json_doc(const struct options *o, const struct view *v)
{
	struct jw *w = malloc(sizeof(*w));
	if (!w)
		return NULL;
	jw_init_tree(w);
	emit_doc(w, o, v);
	json_t *doc = jw_tree_finish(w, NULL);
	free(w);
	return doc;
}
