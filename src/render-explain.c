/* SPDX-License-Identifier: MIT */
/*
 * --explain: per port, a heading, its reasons with their evidence, and the
 * port's table (render_group_table in render-table.c). On a terminal the
 * prose wraps at word boundaries to its width.
 */
#include <langinfo.h>
#include <stdlib.h>
#include <string.h>

#include "portwho-cmd.h"

static const char *dash(void)
{
	const char *cs = nl_langinfo(CODESET);
	return cs && !strcmp(cs, "UTF-8") ? "\u2014" : "-";
}

/* Escaped text after prefix, wrapped at spaces to width (0: no wrapping);
 * continuation lines are indented by hang spaces. A word wider than a line
 * is cut where the line ends. */
static void print_wrapped(FILE *out, size_t width, const char *prefix, size_t hang, const char *esc)
{
	fputs(prefix, out);
	size_t col = text_width(prefix, 0, NULL);
	const char *p = esc ? esc : "";
	if (!width || col + text_width(p, 0, NULL) <= width) {
		fprintf(out, "%s\n", p);
		return;
	}
	bool line_empty = true;
	while (*p) {
		size_t wl = strcspn(p, " ");
		_cleanup_free_ char *word = strndup(p, wl);
		if (!word) {
			fprintf(out, "%s\n", p);
			return;
		}
		size_t ww = text_width(word, 0, NULL);
		if (!line_empty && col + 1 + ww > width) {
			fprintf(out, "\n%*s", (int)hang, "");
			col = hang;
			line_empty = true;
		}
		if (!line_empty) {
			fputc(' ', out);
			col++;
		}
		const char *w = word;
		while (col + text_width(w, 0, NULL) > width && width > col) {
			size_t cut;
			text_width(w, width - col, &cut);
			if (!cut)
				break;
			fprintf(out, "%.*s\n%*s", (int)cut, w, (int)hang, "");
			w += cut;
			col = hang;
		}
		fputs(w, out);
		col += text_width(w, 0, NULL);
		line_empty = false;
		p += wl;
		while (*p == ' ')
			p++;
	}
	fputc('\n', out);
}

static void print_escaped(FILE *out, size_t width, const char *prefix, size_t hang, const char *raw)
{
	char *esc = raw ? pw_escape_text(raw) : NULL;
	print_wrapped(out, width, prefix, hang, esc);
	free(esc);
}

static void print_group_heading(const struct options *o, const struct pw_port_group *g,
				size_t width, FILE *out)
{
	const char *svc = service_name(o, g->proto, g->port);
	char *esc = svc ? pw_escape_text(svc) : NULL;
	char *nsesc = g->netns_name ? pw_escape_text(g->netns_name) : NULL;
	char *line = NULL;
	if (asprintf(&line, "%s port %u%s%s%s in netns %llu%s%s%s %s class %s%s%s%s",
		     pw_proto_name(g->proto), g->port, esc ? " (" : "", esc ? esc : "",
		     esc ? ")" : "", (unsigned long long)g->netns, nsesc ? " (" : "",
		     nsesc ? nsesc : "", nsesc ? ")" : "", dash(),
		     g->class.iana ? g->class.iana : "?", g->class.privileged ? ", privileged" : "",
		     g->class.ephemeral ? ", ephemeral range" : "",
		     g->class.reserved ? ", reserved" : "") < 0)
		line = NULL;
	print_wrapped(out, width, "", 2, line);
	free(line);
	free(esc);
	free(nsesc);
}

static void print_reason(const struct pw_reason *r, size_t width, FILE *out)
{
	char prefix[96];
	snprintf(prefix, sizeof(prefix), "  %s (%s): ", pw_reason_kind_name(r->kind),
		 pw_confidence_name(r->confidence));
	print_escaped(out, width, prefix, 4, r->summary);
	for (size_t i = 0; i < r->n_evidence; i++)
		print_escaped(out, width, "    - ", 6, r->evidence[i]);
}

int render_explain(const struct options *o, const struct view *v, FILE *out)
{
	size_t width = term_width(out); /* prose wraps on a terminal only */
	for (size_t i = 0; i < v->n_groups; i++) {
		const struct view_group at = view_group_at(v, i), *vg = &at;
		if (i)
			fputc('\n', out);
		print_group_heading(o, vg->group, width, out);
		int r = pw_snapshot_reason_text(v->snap, vg->group);
		if (r < 0)
			return r;
		for (size_t j = 0; j < vg->group->n_reasons; j++)
			print_reason(&vg->group->reasons[j], width, out);
		fputc('\n', out);
		r = render_group_table(o, vg, out);
		if (r < 0)
			return r;
	}
	return 0;
}
