/* SPDX-License-Identifier: MIT */
/*
 * /etc/services: "name port/proto [aliases...] [# comment]". Only tcp and udp
 * lines are kept (sctp, ddp... do not concern us); malformed lines are
 * skipped, not fatal, because the file belongs to the system. Names match
 * case-insensitively. Two sorted arrays give O(log n) lookups both ways.
 * The built-in table (services-builtin.c) is the same format, parsed the
 * same way, so one parser serves both.
 */
#include <ctype.h>
#include <fcntl.h>
#include <strings.h>

#include "internal.h"

/* services-builtin.c */
extern const char pw_services_builtin_text[];

#define SERVICES_MAX (16u << 20) /* Fedora's file is ~700 KiB */

enum { SV_TCP, SV_UDP };

struct sv_entry {
	const char *name; /* points into pw_services.text */
	uint32_t order;	  /* position in the file: the first line wins */
	uint16_t port;
	uint8_t proto; /* SV_TCP or SV_UDP */
};

struct pw_services {
	bool builtin;
	char *text;		  /* the file, cut into NUL-terminated names */
	struct sv_entry *by_name; /* every name and alias, by (name, proto, order) */
	size_t n_names, cap_names;
	struct sv_entry *by_port; /* primary names only, by (port, proto, order) */
	size_t n_ports, cap_ports;
};

static int cmp_name(const void *a, const void *b)
{
	const struct sv_entry *x = a, *y = b;
	int c = strcasecmp(x->name, y->name);
	if (c)
		return c;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_port(const void *a, const void *b)
{
	const struct sv_entry *x = a, *y = b;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Next whitespace-separated word of the line at *p, NUL-terminated in place. */
static char *next_word(char **p)
{
	char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s) {
		*p = s;
		return NULL;
	}
	char *e = s + strcspn(s, " \t");
	if (*e)
		*e++ = '\0';
	*p = e;
	return s;
}

/* "53/udp" -> port, proto; -EINVAL for anything else (including sctp) */
static int parse_port_proto(const char *w, uint16_t *port, uint8_t *proto)
{
	size_t nd = strspn(w, "0123456789");
	if (nd == 0 || nd > 5 || w[nd] != '/')
		return -EINVAL;
	unsigned long v = strtoul(w, NULL, 10);
	if (v > 65535)
		return -EINVAL;
	if (strcmp(w + nd + 1, "tcp") == 0)
		*proto = SV_TCP;
	else if (strcmp(w + nd + 1, "udp") == 0)
		*proto = SV_UDP;
	else
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int add_entry(struct sv_entry **v, size_t *n, size_t *cap, struct sv_entry e)
{
	int r = pw_grow((void **)v, cap, *n + 1, sizeof(**v));
	if (r < 0)
		return r;
	(*v)[(*n)++] = e;
	return 0;
}

static int parse_line(struct pw_services *s, char *line, uint32_t order)
{
	line[strcspn(line, "#")] = '\0';
	char *name = next_word(&line), *pp = next_word(&line);
	struct sv_entry e = {.name = name, .order = order};
	if (!name || !pp || parse_port_proto(pp, &e.port, &e.proto) < 0)
		return 0;

	int r = add_entry(&s->by_port, &s->n_ports, &s->cap_ports, e);
	for (char *w = name; r >= 0 && w; w = next_word(&line)) {
		e.name = w;
		r = add_entry(&s->by_name, &s->n_names, &s->cap_names, e);
	}
	return r;
}

/* Takes ownership of text. */
static int services_build(char *text, size_t len, bool builtin, struct pw_services **ret)
{
	struct pw_services *s = calloc(1, sizeof(*s));
	if (!s) {
		free(text);
		return -ENOMEM;
	}
	s->text = text;
	s->builtin = builtin;

	/* a NUL inside the file would cut a name short: treat it as a comment */
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\0')
			text[i] = '#';

	uint32_t order = 0;
	for (char *line = text; line < text + len;) {
		char *nl = memchr(line, '\n', (size_t)(text + len - line));
		char *next = nl ? nl + 1 : text + len;
		if (nl)
			*nl = '\0';
		if (nl && nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		int r = parse_line(s, line, order++);
		if (r < 0) {
			pw_services_free(s);
			return r;
		}
		line = next;
	}
	if (s->n_names)
		qsort(s->by_name, s->n_names, sizeof(*s->by_name), cmp_name);
	if (s->n_ports)
		qsort(s->by_port, s->n_ports, sizeof(*s->by_port), cmp_port);
	*ret = s;
	return 0;
}

int pw_services_load(const char *path, struct pw_services **ret)
{
	char *text = NULL;
	size_t len = 0;
	bool builtin = false;

	int r = pw_read_file_at(AT_FDCWD, path ? path : "/etc/services", SERVICES_MAX, &text, &len);
	if (r == -ENOENT) {
		/* containers often lack the file: fall back, never fail */
		text = strdup(pw_services_builtin_text);
		if (!text)
			return -ENOMEM;
		len = strlen(text);
		builtin = true;
	} else if (r < 0) {
		return r;
	}
	return services_build(text, len, builtin, ret);
}

void pw_services_free(struct pw_services *s)
{
	if (!s)
		return;
	free(s->by_name);
	free(s->by_port);
	free(s->text);
	free(s);
}

bool pw_services_builtin(const struct pw_services *s)
{
	return s && s->builtin;
}

/* -1 for NULL (either), -2 for a protocol services do not list */
static int proto_index(const char *proto)
{
	if (!proto)
		return -1;
	if (strcmp(proto, "tcp") == 0)
		return SV_TCP;
	/* UDP-Lite has no entries of its own; it shares UDP's numbers */
	if (strcmp(proto, "udp") == 0 || strcmp(proto, "udplite") == 0)
		return SV_UDP;
	return -2;
}

/* First entry of v not ordered before key (by cmp); n if none. */
static size_t lower_bound(const struct sv_entry *v, size_t n, const struct sv_entry *key,
			  int (*cmp)(const void *, const void *))
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp(&v[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int pw_services_port(const struct pw_services *s, const char *name, const char *proto,
		     uint16_t *ret_port)
{
	int pi = proto_index(proto);
	if (!s || !name || pi == -2)
		return -EINVAL;

	/* order 0 and proto TCP sort first, so this lands on the first match */
	struct sv_entry key = {.name = name, .proto = pi < 0 ? SV_TCP : (uint8_t)pi};
	size_t i = lower_bound(s->by_name, s->n_names, &key, cmp_name);
	if (i == s->n_names || strcasecmp(s->by_name[i].name, name) != 0 ||
	    (pi >= 0 && s->by_name[i].proto != pi))
		return -ENOENT;
	*ret_port = s->by_name[i].port;
	return 0;
}

static const char *name_for(const struct pw_services *s, uint16_t port, uint8_t proto)
{
	struct sv_entry key = {.port = port, .proto = proto};
	size_t i = lower_bound(s->by_port, s->n_ports, &key, cmp_port);
	if (i < s->n_ports && s->by_port[i].port == port && s->by_port[i].proto == proto)
		return s->by_port[i].name;
	return NULL;
}

const char *pw_services_name(const struct pw_services *s, uint16_t port, const char *proto)
{
	int pi = proto_index(proto);
	if (!s || pi == -2)
		return NULL;
	/* the protocol's own name first; a port means the same service on the
	 * other protocol far more often than not */
	uint8_t first = pi < 0 ? SV_TCP : (uint8_t)pi;
	const char *n = name_for(s, port, first);
	return n ? n : name_for(s, port, first == SV_TCP ? SV_UDP : SV_TCP);
}
