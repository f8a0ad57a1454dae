/* SPDX-License-Identifier: MIT */
/*
 * --prometheus[=FILE]: the Prometheus text exposition format, as the
 * node_exporter textfile collector reads it (PRODUCT.md "Fleet output").
 *
 * Labels are of low cardinality: namespace, proto, address, port, state,
 * command, unit, container, reason. Never a PID or a cookie: those change
 * on every restart and would make a new series each time; a namespace's
 * inode only when it has no name (its "pid:N" name is not used). Rows that
 * share every label are summed into one series (a series may appear once).
 *
 * Series, all gauges:
 *   portwho_sockets{netns,proto,address,port,state}          sockets
 *   portwho_socket_holders{...,command,unit,container}        holder processes
 *   portwho_port_reason{netns,proto,port,reason,confidence}   sockets explained
 *   portwho_scan_*                                            the scan itself
 *
 * =FILE is written atomically: a temporary file in the same directory
 * (not ending in .prom, so the collector ignores it), fsync, rename, fsync
 * of the directory. A failed write leaves no temporary file behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "portwho-cmd.h"

/* ---- label values ------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t n, cap;
	int err;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 128;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* name="value": raw bytes made terminal-safe (controls and invalid UTF-8
 * become \xHH text, as in the table), then escaped per the exposition
 * format (backslash, double quote, newline). */
static void sb_label(struct sbuf *b, bool first, const char *name, const char *raw)
{
	if (!first)
		sb_add(b, ",", 1);
	sb_str(b, name);
	sb_add(b, "=\"", 2);
	char *safe = raw && *raw ? pw_escape_text(raw) : NULL;
	if (raw && *raw && !safe) {
		b->err = -ENOMEM;
		return;
	}
	for (const char *p = safe ? safe : ""; *p; p++) {
		if (*p == '\\')
			sb_add(b, "\\\\", 2);
		else if (*p == '"')
			sb_add(b, "\\\"", 2);
		else if (*p == '\n')
			sb_add(b, "\\n", 2);
		else
			sb_add(b, p, 1);
	}
	free(safe);
	sb_add(b, "\"", 1);
}

/* The namespace label: the group's name ("/run/netns" name, "docker:web",
 * "host") once the library knows one, else the inode number (stable while
 * the namespace lives). A "pid:N" name is no label: a PID would make a new
 * series on every restart. */
static void sb_netns(struct sbuf *b, const struct pw_port_group *g)
{
	char num[24];
	const char *name = g->netns_name;
	if (!name || !*name || !strncmp(name, "pid:", 4)) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)g->netns);
		name = num;
	}
	sb_label(b, true, "netns", name);
}

/* The container label: runtime:name, or runtime:id (12 characters) when
 * the runtime gave no name; empty outside a container. */
static void sb_container(struct sbuf *b, const struct pw_process *p)
{
	char label[256];
	if (!p || !p->container || pw_container_label(p->container, label, sizeof(label)) < 0)
		label[0] = '\0';
	sb_label(b, false, "container", label);
}

static void sb_socket_labels(struct sbuf *b, const struct pw_port_group *g,
			     const struct pw_socket *s)
{
	char addr[INET6_ADDRSTRLEN + 1] = "";
	char port[8];
	pw_addr_format(&s->laddr, false, addr, sizeof(addr));
	snprintf(port, sizeof(port), "%u", (unsigned)g->port);
	sb_netns(b, g);
	sb_label(b, false, "proto", pw_proto_name(g->proto));
	sb_label(b, false, "address", addr);
	sb_label(b, false, "port", port);
	sb_label(b, false, "state", pw_state_name(s->proto, s->state));
}

/* ---- rows: (labels, pid) pairs, sorted, then summed per label set ------- */

struct row {
	char *labels;
	long long pid; /* distinct holders are counted by pid; -1: count rows */
	unsigned long long value;
};

struct rows {
	struct row *v;
	size_t n, cap;
};

static int rows_add(struct rows *r, struct sbuf *b, long long pid, unsigned long long value)
{
	if (b->err) {
		free(b->p);
		return b->err;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct row *nv = realloc(r->v, cap * sizeof(*nv));
		if (!nv) {
			free(b->p);
			return -ENOMEM;
		}
		r->v = nv;
		r->cap = cap;
	}
	r->v[r->n++] = (struct row){.labels = b->p ? b->p : strdup(""), .pid = pid, .value = value};
	*b = (struct sbuf){0};
	return r->v[r->n - 1].labels ? 0 : -ENOMEM;
}

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].labels);
	free(r->v);
	*r = (struct rows){0};
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c = strcmp(x->labels, y->labels);
	if (c)
		return c;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

static void header(FILE *out, const char *name, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* One line per label set: the sum of values, or the number of distinct
 * pids for rows that carry one. */
static void rows_print(FILE *out, const char *name, const char *help, struct rows *r)
{
	header(out, name, help);
	if (r->n)
		qsort(r->v, r->n, sizeof(*r->v), row_cmp);
	for (size_t i = 0; i < r->n;) {
		unsigned long long sum = 0;
		size_t j = i;
		for (; j < r->n && !strcmp(r->v[j].labels, r->v[i].labels); j++) {
			if (r->v[j].pid >= 0 && j > i && r->v[j].pid == r->v[j - 1].pid)
				continue; /* the same process again (another fd or thread) */
			sum += r->v[j].value;
		}
		fprintf(out, "%s{%s} %llu\n", name, r->v[i].labels, sum);
		i = j;
	}
}

/* ---- the document -------------------------------------------------------- */

/* A forwarding rule of a port: where it sends the traffic; the value is
 * the number of bound sockets found there (0: nothing listens behind it). */
static int forward_rows(const struct pw_port_group *g, struct rows *fwds)
{
	int r = 0;
	char port[8], to_port[8], to_addr[INET6_ADDRSTRLEN + 1];
	snprintf(port, sizeof(port), "%u", (unsigned)g->port);
	for (size_t k = 0; k < g->n_forwards && !r; k++) {
		const struct pw_forward *f = &g->forwards[k];
		struct sbuf b = {0};
		to_addr[0] = '\0';
		if (f->has_to_addr)
			pw_addr_format(&f->to_addr, false, to_addr, sizeof(to_addr));
		snprintf(to_port, sizeof(to_port), "%u", (unsigned)f->to_port);
		sb_netns(&b, g);
		sb_label(&b, false, "proto", pw_proto_name(g->proto));
		sb_label(&b, false, "port", port);
		sb_label(&b, false, "via", pw_forward_via_name(f->via));
		sb_label(&b, false, "action", f->action);
		sb_label(&b, false, "to_address", to_addr);
		sb_label(&b, false, "to_port", f->to_port ? to_port : "");
		r = rows_add(fwds, &b, -1, f->n_target_sockets);
	}
	return r;
}

static int collect_rows(const struct view *v, struct rows *socks, struct rows *holders,
			struct rows *reasons, struct rows *fwds)
{
	int r = 0;
	for (size_t i = 0; i < v->n_groups && !r; i++) {
		const struct view_group at = view_group_at(v, i), *vg = &at;
		const struct pw_port_group *g = vg->group;
		for (size_t k = 0; k < vg->n_sockets && !r; k++) {
			const struct pw_socket *s = vg->sockets[k];
			struct sbuf b = {0};
			sb_socket_labels(&b, g, s);
			r = rows_add(socks, &b, -1, 1);
			for (size_t h = 0; h < s->n_holders && !r; h++) {
				const struct pw_holder *hd = &s->holders[h];
				const struct pw_process *p = hd->proc;
				sb_socket_labels(&b, g, s);
				sb_label(&b, false, "command", p ? p->comm : NULL);
				sb_label(&b, false, "unit", p ? p->unit : NULL);
				sb_container(&b, p);
				r = rows_add(holders, &b, p ? p->pid : hd->tid, 1);
			}
		}
		if (!r)
			r = forward_rows(g, fwds);
		char port[8];
		snprintf(port, sizeof(port), "%u", (unsigned)g->port);
		for (size_t k = 0; k < g->n_reasons && !r; k++) {
			const struct pw_reason *rs = &g->reasons[k];
			struct sbuf b = {0};
			sb_netns(&b, g);
			sb_label(&b, false, "proto", pw_proto_name(g->proto));
			sb_label(&b, false, "port", port);
			sb_label(&b, false, "reason", pw_reason_kind_name(rs->kind));
			sb_label(&b, false, "confidence", pw_confidence_name(rs->confidence));
			r = rows_add(reasons, &b, -1, rs->n_sockets);
		}
	}
	return r;
}

static void print_scan(FILE *out, const struct view *v)
{
	const struct pw_stats *st = v->stats;
	header(out, "portwho_scan_duration_seconds", "Time the last scan took.");
	fprintf(out, "portwho_scan_duration_seconds %.6f\n", v->scan_seconds);
	header(out, "portwho_scan_timestamp_seconds",
	       "When the last scan finished, in seconds since the epoch.");
	fprintf(out, "portwho_scan_timestamp_seconds %lld\n", (long long)time(NULL));
	header(out, "portwho_scan_privileged",
	       "1 when every fd table the scan tried could be read.");
	fprintf(out, "portwho_scan_privileged %d\n", st->privileged ? 1 : 0);
	header(out, "portwho_scan_hidden_processes",
	       "Processes whose fd tables could not be read (their sockets may lack holders).");
	fprintf(out, "portwho_scan_hidden_processes %u\n", st->hidden_processes);
	header(out, "portwho_scan_namespaces", "Network namespaces the scan looked into.");
	fprintf(out, "portwho_scan_namespaces %u\n", st->netns_seen);
	header(out, "portwho_scan_namespaces_skipped",
	       "Network namespaces the scan could not enter.");
	fprintf(out, "portwho_scan_namespaces_skipped %u\n", st->netns_skipped);
	/* one series per kind of the snapshot's incomplete list, 0 when the
	 * scan missed nothing of that kind */
	header(out, "portwho_scan_incomplete",
	       "Things the scan could not see, by kind (0: nothing of this kind was missed).");
	unsigned counts[PW_INC_MAX] = {0};
	size_t n = v->snap ? pw_snapshot_n_incomplete(v->snap) : 0;
	for (size_t i = 0; i < n; i++) {
		const struct pw_incomplete *inc = pw_snapshot_incomplete(v->snap, i);
		if (inc && (unsigned)inc->kind < PW_INC_MAX)
			/* a kind that happened counts at least once */
			counts[inc->kind] += inc->count ? inc->count : 1;
	}
	for (int k = 0; k < PW_INC_MAX; k++)
		fprintf(out, "portwho_scan_incomplete{kind=\"%s\"} %u\n",
			pw_incomplete_kind_name((enum pw_incomplete_kind)k), counts[k]);
	header(out, "portwho_info", "How the holders were found (collector: procfs or bpf).");
	fprintf(out, "portwho_info{collector=\"%s\"} 1\n", st->collector ? st->collector : "");
}

int render_prom(const struct options *o, const struct view *v, FILE *out)
{
	(void)o;
	struct rows socks = {0}, holders = {0}, reasons = {0}, fwds = {0};
	int r = collect_rows(v, &socks, &holders, &reasons, &fwds);
	if (r == 0) {
		rows_print(out, "portwho_sockets",
			   "Sockets by namespace, protocol, local address, port and state.",
			   &socks);
		rows_print(out, "portwho_socket_holders",
			   "Processes holding those sockets, by command, systemd unit and "
			   "container.",
			   &holders);
		rows_print(out, "portwho_port_reason",
			   "Why a port has the sockets it has: sockets each reason explains.",
			   &reasons);
		rows_print(out, "portwho_port_forwards",
			   "Forwarding rules of a port (nftables DNAT/REDIRECT/TPROXY, userland "
			   "proxies): bound sockets found at their target.",
			   &fwds);
		print_scan(out, v);
	}
	rows_free(&socks);
	rows_free(&holders);
	rows_free(&reasons);
	rows_free(&fwds);
	return r;
}

/* ---- =FILE ----------------------------------------------------------------- */

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int render_prom_file(const struct options *o, const struct view *v, const char *path)
{
	char *dcopy = strdup(path), *bcopy = strdup(path), *tmp = NULL;
	int r = -ENOMEM;
	if (!dcopy || !bcopy)
		goto out;
	const char *dir = dirname(dcopy);
	/* a leading dot and no .prom suffix: the textfile collector skips it */
	if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, basename(bcopy)) < 0) {
		tmp = NULL;
		goto out;
	}
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		unlink(tmp);
		goto out;
	}
	/* the collector usually runs as another user: make it world-readable */
	r = fchmod(fd, 0644) < 0 ? -errno : 0;
	errno = 0;
	if (!r)
		r = render_prom(o, v, f);
	if (!r && (fflush(f) == EOF || ferror(f)))
		r = errno ? -errno : -EIO;
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (fclose(f) == EOF && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	else
		r = fsync_dir(dir);
out:
	free(dcopy);
	free(bcopy);
	free(tmp);
	return r;
}
