/* SPDX-License-Identifier: MIT */
/*
 * Tables: which columns (table_columns); libsmartcols draws --raw and
 * --tree; render-flat.c the flat tables (the default listing, and the
 * table under each port of --explain; render-explain.c prints the rest).
 */
#include <errno.h>
#include <langinfo.h>
#include <libsmartcols.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>

#include "portwho-cmd.h"

/* Which cells a line carries. */
enum line_kind {
	LINE_FULL,   /* first line of a socket: group, socket and holder cells */
	LINE_CONT,   /* further holders of the same socket: holder cells only */
	LINE_PORT,   /* --tree: the port */
	LINE_SOCKET, /* --tree: a socket under its port */
	LINE_HOLDER, /* --tree: a holder under its socket */
};

static void colset_add(struct colset *c, int id)
{
	if (c->n < sizeof(c->ids) / sizeof(c->ids[0]))
		c->ids[c->n++] = id;
}

/* States other than listening/bound make REMOTE worth a column. */
static bool shows_connections(const struct options *o)
{
	uint32_t bound = PW_STATE_BIT(PW_ST_LISTEN) | PW_STATE_BIT(PW_ST_CLOSE) |
			 PW_STATE_BIT(PW_ST_BOUND_INACTIVE);
	return o->query_states == 0 || (o->query_states & ~bound) != 0;
}

/* -o COLS as given, or the defaults (plus -o +COLS). in_explain: the table
 * under an --explain heading, which already names the netns and reasons. */
void table_columns(const struct options *o, bool netns, bool containers, bool in_explain,
		   struct colset *c)
{
	c->n = 0;
	if (o->n_out_cols && !o->out_append) {
		for (size_t i = 0; i < o->n_out_cols; i++)
			colset_add(c, o->out_cols[i]);
		return;
	}
	if (netns)
		colset_add(c, COL_NETNS);
	colset_add(c, COL_PROTO);
	colset_add(c, COL_LOCAL);
	if (shows_connections(o))
		colset_add(c, COL_REMOTE);
	static const int rest[] = {COL_STATE, COL_PID, COL_USER, COL_COMMAND, COL_FD, COL_UNIT};
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++) {
		colset_add(c, rest[i]);
		if (rest[i] == COL_COMMAND && containers)
			colset_add(c, COL_CONTAINER);
	}
	if (!in_explain)
		colset_add(c, COL_REASON);
	for (size_t i = 0; i < o->n_out_cols; i++) {
		bool have = false; /* +NETNS when NETNS came by default */
		for (size_t j = 0; j < c->n && !have; j++)
			have = c->ids[j] == o->out_cols[i];
		if (!have)
			colset_add(c, o->out_cols[i]);
	}
}

static bool cell_wanted(enum line_kind k, enum column_object obj)
{
	switch (k) {
	case LINE_FULL:
		return true;
	case LINE_CONT:
	case LINE_HOLDER:
		return obj == OBJ_HOLDER;
	case LINE_PORT:
		return obj == OBJ_GROUP;
	case LINE_SOCKET:
		return obj == OBJ_SOCKET;
	}
	return false;
}

/* Set one cell: raw text is escaped for the terminal, then handed over. In
 * --raw mode libsmartcols itself writes every byte outside printable ASCII
 * (and space, backslash) as \xHH, so the cell goes in as it is: one scheme
 * for scripts to undo, not two. */
/* Printable ASCII without a backslash: escaping would only copy it. */
static bool plain_text(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '\\')
			return false;
	return true;
}

static int put_cell(const struct options *o, struct libscols_line *ln, size_t idx, char *raw)
{
	if (!raw)
		return 0;
	char *esc = raw;
	if (!o->raw && !plain_text(raw)) {
		esc = pw_escape_text(raw);
		free(raw);
		if (!esc)
			return -ENOMEM;
	}
	int r = scols_line_refer_data(ln, idx, esc);
	if (r < 0) {
		free(esc);
		return r;
	}
	return 0;
}

static int fill_line(const struct options *o, const struct colset *c, struct libscols_line *ln,
		     enum line_kind k, const struct pw_port_group *g, const struct pw_socket *s,
		     const struct pw_holder *h)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct column_info *ci = column_get(c->ids[i]);
		if (!cell_wanted(k, ci->obj))
			continue;
		if (ci->obj == OBJ_HOLDER && !h)
			continue;
		int err = 0;
		char *raw = column_value(o, c->ids[i], g, s, h, &err);
		if (err < 0) {
			free(raw);
			return err;
		}
		int r = put_cell(o, ln, i, raw);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The label of a port line in --tree: "tcp/53 (domain)" */
static int port_label(const struct options *o, struct libscols_line *ln,
		      const struct pw_port_group *g)
{
	const char *svc = service_name(o, g->proto, g->port);
	char *raw = NULL;
	if (asprintf(&raw, "%s/%u%s%s%s", pw_proto_name(g->proto), g->port, svc ? " (" : "",
		     svc ? svc : "", svc ? ")" : "") < 0)
		return -ENOMEM;
	return put_cell(o, ln, 0, raw);
}

static int add_socket_lines(const struct options *o, const struct colset *c,
			    struct libscols_table *tb, struct libscols_line *parent,
			    const struct pw_port_group *g, const struct pw_socket *s)
{
	struct libscols_line *ln;
	int r;
	if (o->tree) {
		struct libscols_line *sl = scols_table_new_line(tb, parent);
		if (!sl)
			return -ENOMEM;
		if ((r = fill_line(o, c, sl, LINE_SOCKET, g, s, NULL)) < 0)
			return r;
		for (size_t i = 0; i < s->n_holders; i++) {
			if (!(ln = scols_table_new_line(tb, sl)))
				return -ENOMEM;
			if ((r = fill_line(o, c, ln, LINE_HOLDER, g, s, &s->holders[i])) < 0)
				return r;
		}
		return 0;
	}
	size_t n = s->n_holders ? s->n_holders : 1;
	for (size_t i = 0; i < n; i++) {
		if (!(ln = scols_table_new_line(tb, NULL)))
			return -ENOMEM;
		enum line_kind k = i == 0 || o->raw ? LINE_FULL : LINE_CONT;
		if ((r = fill_line(o, c, ln, k, g, s, s->n_holders ? &s->holders[i] : NULL)) < 0)
			return r;
	}
	return 0;
}

static int add_group_lines(const struct options *o, const struct colset *c,
			   struct libscols_table *tb, const struct view_group *vg)
{
	struct libscols_line *parent = NULL;
	int r;
	if (o->tree) {
		if (!(parent = scols_table_new_line(tb, NULL)))
			return -ENOMEM;
		if ((r = fill_line(o, c, parent, LINE_PORT, vg->group, NULL, NULL)) < 0)
			return r;
		if ((r = port_label(o, parent, vg->group)) < 0)
			return r;
	}
	for (size_t i = 0; i < vg->n_sockets; i++)
		if ((r = add_socket_lines(o, c, tb, parent, vg->group, vg->sockets[i])) < 0)
			return r;
	struct pw_socket fake;
	if (forward_only_line(vg, &fake))
		return add_socket_lines(o, c, tb, parent, vg->group, &fake);
	return 0;
}

bool forward_only_line(const struct view_group *vg, struct pw_socket *fake)
{
	if (vg->n_sockets || !vg->group->n_forwards)
		return false;
	/* a port only a forward serves: one line, the rule's match, no state */
	const struct pw_forward *f = &vg->group->forwards[0];
	*fake = (struct pw_socket){.netns = vg->group->netns,
				   .proto = vg->group->proto,
				   .lport = vg->group->port,
				   .family = AF_INET,
				   .laddr.family = AF_INET,
				   .raddr.family = AF_INET,
				   .v6only = -1,
				   .reuseaddr = -1,
				   .reuseport = -1};
	if (f->has_match_addr && f->match_plen == (f->match_addr.family == AF_INET ? 32 : 128)) {
		fake->family = f->match_addr.family;
		fake->laddr = f->match_addr;
	}
	return true;
}

static struct libscols_table *new_table(const struct options *o, const struct colset *c, FILE *out)
{
	struct libscols_table *tb = scols_new_table();
	if (!tb)
		return NULL;
	scols_table_set_stream(tb, out);
	/* as util-linux: --raw keeps the header line, --noheadings drops it */
	if (o->raw)
		scols_table_enable_raw(tb, 1);
	if (o->noheadings)
		scols_table_enable_noheadings(tb, 1);
	for (size_t i = 0; i < c->n; i++) {
		const struct column_info *ci = column_get(c->ids[i]);
		int fl = 0;
		if (ci->flags & CF_RIGHT)
			fl |= SCOLS_FL_RIGHT;
		if (ci->flags & CF_TRUNC)
			fl |= SCOLS_FL_TRUNC;
		if (ci->flags & CF_WRAP)
			fl |= SCOLS_FL_WRAP;
		if (o->tree && i == 0)
			fl = SCOLS_FL_TREE; /* the tree needs room, never cut */
		struct libscols_column *cl = scols_table_new_column(tb, ci->header, ci->whint, fl);
		if (!cl) {
			scols_unref_table(tb);
			return NULL;
		}
		/* cells are escaped already (pw_escape_text): keep its "\\xHH" as is */
		scols_column_set_safechars(cl, "\\");
		scols_column_set_json_type(cl, ci->json == CJ_NUMBER	? SCOLS_JSON_NUMBER
					       : ci->json == CJ_BOOLEAN ? SCOLS_JSON_BOOLEAN
									: SCOLS_JSON_STRING);
	}
	return tb;
}

int render_table(const struct options *o, const struct view *v, FILE *out)
{
	struct colset c;
	/* a row from another namespace is never shown unlabelled */
	table_columns(o, v->n_netns > 1 || v->other_netns, v->containers, false, &c);
	if (!o->tree && !o->raw)
		return v->n_groups ? render_flat(o, &c, v, 0, out) : 0;
	struct libscols_table *tb = new_table(o, &c, out);
	if (!tb)
		return -ENOMEM;
	int r = 0;
	for (size_t i = 0; i < v->n_groups && r >= 0; i++) {
		const struct view_group vg = view_group_at(v, i);
		r = add_group_lines(o, &c, tb, &vg);
	}
	if (r >= 0 && v->n_groups)
		r = scols_print_table(tb);
	scols_unref_table(tb);
	return r < 0 ? r : 0;
}

/* ---- one group, for --explain ---------------------------------------------- */

/* A group's table, printed with a two-space indent under its heading. */
int render_group_table(const struct options *o, const struct view_group *vg, FILE *out)
{
	struct colset c;
	bool containers = false;
	for (size_t i = 0; i < vg->n_sockets && !containers; i++)
		for (size_t k = 0; k < vg->sockets[i]->n_holders; k++)
			containers |= vg->sockets[i]->holders[k].proc &&
				      vg->sockets[i]->holders[k].proc->container;
	table_columns(o, false, containers, true, &c);
	if (!o->tree && !o->raw)
	{
		/* a view of this one group */
		struct view_group one = *vg;
		const struct view v = {.groups = &one, .n_groups = 1};
		return render_flat(o, &c, &v, 2, out);
	}
	struct libscols_table *tb = new_table(o, &c, out);
	if (!tb)
		return -ENOMEM;
	scols_table_reduce_termwidth(tb, 2);
	char *text = NULL;
	int r = add_group_lines(o, &c, tb, vg);
	if (r >= 0)
		r = scols_print_table_to_string(tb, &text);
	scols_unref_table(tb);
	if (r < 0) {
		free(text);
		return r;
	}
	for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		while (len && line[len - 1] == ' ')
			len--; /* empty last cells leave padding behind */
		fprintf(out, "  %.*s\n", (int)len, line);
	}
	free(text);
	return 0;
}
