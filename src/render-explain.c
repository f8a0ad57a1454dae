/* SPDX-License-Identifier: MIT */
/*
 * --explain: per port, a heading, its reasons with their evidence, and the
 * port's table (render_group_table in render-table.c).
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

static void print_escaped(FILE *out, const char *prefix, const char *raw, const char *suffix)
{
	char *esc = raw ? pw_escape_text(raw) : NULL;
	fprintf(out, "%s%s%s", prefix, esc ? esc : "", suffix);
	free(esc);
}

static void print_group_heading(const struct options *o, const struct pw_port_group *g, FILE *out)
{
	const char *svc = service_name(o, g->proto, g->port);
	fprintf(out, "%s port %u", pw_proto_name(g->proto), g->port);
	if (svc)
		print_escaped(out, " (", svc, ")");
	fprintf(out, " in netns %llu", (unsigned long long)g->netns);
	if (g->netns_name)
		print_escaped(out, " (", g->netns_name, ")");
	fprintf(out, " %s class %s", dash(), g->class.iana ? g->class.iana : "?");
	if (g->class.privileged)
		fputs(", privileged", out);
	if (g->class.ephemeral)
		fputs(", ephemeral range", out);
	if (g->class.reserved)
		fputs(", reserved", out);
	fputc('\n', out);
}

static void print_reason(const struct pw_reason *r, FILE *out)
{
	fprintf(out, "  %s (%s): ", pw_reason_kind_name(r->kind),
		pw_confidence_name(r->confidence));
	print_escaped(out, "", r->summary, "\n");
	for (size_t i = 0; i < r->n_evidence; i++)
		print_escaped(out, "    - ", r->evidence[i], "\n");
}

int render_explain(const struct options *o, const struct view *v, FILE *out)
{
	for (size_t i = 0; i < v->n_groups; i++) {
		const struct view_group *vg = &v->groups[i];
		if (i)
			fputc('\n', out);
		print_group_heading(o, vg->group, out);
		for (size_t j = 0; j < vg->group->n_reasons; j++)
			print_reason(&vg->group->reasons[j], out);
		fputc('\n', out);
		int r = render_group_table(o, vg, out);
		if (r < 0)
			return r;
	}
	return 0;
}
