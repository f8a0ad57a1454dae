/* SPDX-License-Identifier: MIT */
/*
 * The column table: one entry per COL_* drives -o, --list-columns, table
 * headings and alignment. column_value() turns a (group, socket, holder)
 * into the raw text of one cell; renderers escape it.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "portwho-cmd.h"

static const struct column_info columns[COL_MAX] = {
    [COL_NETNS] = {"NETNS", "NETNS", 10, 0, CJ_STRING, OBJ_SOCKET,
		   "network namespace: /run/netns name, container (docker:web), host, pid:N, "
		   "else its inode"},
    [COL_PROTO] = {"PROTO", "PROTO", 5, 0, CJ_STRING, OBJ_SOCKET,
		   "protocol: tcp, tcp6, udp, udp6, udplite, udplite6"},
    [COL_FAMILY] = {"FAMILY", "FAMILY", 4, 0, CJ_STRING, OBJ_SOCKET,
		    "address family: ipv4 or ipv6"},
    [COL_LOCAL] = {"LOCAL", "LOCAL", 16, 0, CJ_STRING, OBJ_SOCKET,
		   "local address:port (* = any address, %dev = bound to a device)"},
    [COL_ADDR] = {"ADDR", "ADDR", 15, 0, CJ_STRING, OBJ_SOCKET, "local address alone (* = any)"},
    [COL_PORT] = {"PORT", "PORT", 5, CF_RIGHT, CJ_NUMBER, OBJ_SOCKET, "local port"},
    [COL_SERVICE] = {"SERVICE", "SERVICE", 8, 0, CJ_STRING, OBJ_GROUP,
		     "service name of the port (/etc/services), empty with -n"},
    [COL_REMOTE] = {"REMOTE", "REMOTE", 16, 0, CJ_STRING, OBJ_SOCKET,
		    "remote address:port of a connected socket"},
    [COL_STATE] = {"STATE", "STATE", 6, 0, CJ_STRING, OBJ_SOCKET,
		   "socket state as ss(8) names it (LISTEN, UNCONN, ESTAB, BOUND...)"},
    [COL_INODE] = {"INODE", "INODE", 8, CF_RIGHT, CJ_NUMBER, OBJ_SOCKET,
		   "socket inode (0 for TIME-WAIT and unaccepted connections)"},
    [COL_COOKIE] = {"COOKIE", "COOKIE", 8, CF_RIGHT, CJ_NUMBER, OBJ_SOCKET,
		    "socket cookie (unique for the life of the kernel)"},
    [COL_UID] = {"UID", "UID", 5, CF_RIGHT, CJ_NUMBER, OBJ_SOCKET,
		 "user ID that created the socket"},
    [COL_V6ONLY] = {"V6ONLY", "V6ONLY", 3, 0, CJ_BOOLEAN, OBJ_SOCKET,
		    "IPV6_V6ONLY: yes, no, ? unknown, empty for IPv4"},
    [COL_REUSEADDR] = {"REUSEADDR", "REUSEADDR", 3, 0, CJ_BOOLEAN, OBJ_SOCKET,
		       "SO_REUSEADDR: yes, no, forced, ? unknown"},
    [COL_REUSEPORT] = {"REUSEPORT", "REUSEPORT", 3, 0, CJ_BOOLEAN, OBJ_SOCKET,
		       "SO_REUSEPORT: yes, no, ? unknown"},
    [COL_OPTSRC] = {"OPTSRC", "OPTSRC", 5, 0, CJ_STRING, OBJ_SOCKET,
		    "where the socket options came from: bpf, probe, inferred"},
    [COL_IFACE] = {"IFACE", "IFACE", 6, 0, CJ_STRING, OBJ_SOCKET,
		   "device the socket is bound to (SO_BINDTODEVICE)"},
    [COL_KOWNER] = {"KOWNER", "KOWNER", 0.1, CF_WRAP, CJ_STRING, OBJ_SOCKET,
		    "kernel owner of a socket no process holds (vxlan, wireguard...)"},
    [COL_PID] = {"PID", "PID", 5, CF_RIGHT, CJ_NUMBER, OBJ_HOLDER, "holder process ID"},
    [COL_TID] = {"TID", "TID", 5, CF_RIGHT, CJ_NUMBER, OBJ_HOLDER,
		 "thread whose fd table holds it (differs from PID for a private table)"},
    [COL_FD] = {"FD", "FD", 3, CF_RIGHT, CJ_NUMBER, OBJ_HOLDER,
		"file descriptor number in the holder"},
    [COL_COMMAND] = {"COMMAND", "COMMAND", 8, 0, CJ_STRING, OBJ_HOLDER,
		     "holder command name (comm)"},
    [COL_CMDLINE] = {"CMDLINE", "CMDLINE", 0.3, CF_TRUNC, CJ_STRING, OBJ_HOLDER,
		     "holder command line"},
    [COL_USER] = {"USER", "USER", 6, 0, CJ_STRING, OBJ_HOLDER,
		  "holder user (effective), the number when it has no name"},
    [COL_PPID] = {"PPID", "PPID", 5, CF_RIGHT, CJ_NUMBER, OBJ_HOLDER, "holder parent process ID"},
    [COL_UNIT] = {"UNIT", "UNIT", 0.15, CF_TRUNC, CJ_STRING, OBJ_HOLDER,
		  "systemd unit of the holder"},
    [COL_VIA] = {"VIA", "VIA", 8, 0, CJ_STRING, OBJ_HOLDER,
		 "how the holder holds it: fd, or io_uring (a fixed file, no fd)"},
    [COL_NSPID] = {"NSPID", "NSPID", 5, CF_RIGHT, CJ_NUMBER, OBJ_HOLDER,
		   "PID the holder sees itself (inside its PID namespace)"},
    [COL_REASON] = {"REASON", "REASON", 0.15, CF_TRUNC, CJ_STRING, OBJ_GROUP,
		    "reasons found for the port (see --explain)"},
    [COL_CLASS] = {"CLASS", "CLASS", 8, 0, CJ_STRING, OBJ_GROUP,
		   "port class: system/user/dynamic, privileged, ephemeral, reserved"},
    [COL_CONTAINER] = {"CONTAINER", "CONTAINER", 0.15, CF_TRUNC, CJ_STRING, OBJ_HOLDER,
		       "container of the holder: docker:web, podman:db, k8s:NS/POD, nspawn:NAME"},
};

const struct column_info *column_get(enum column_id id)
{
	return (unsigned)id < COL_MAX ? &columns[id] : NULL;
}

int column_by_name(const char *name, size_t len)
{
	for (int i = 0; i < COL_MAX; i++)
		if (strlen(columns[i].name) == len && !strncasecmp(columns[i].name, name, len))
			return i;
	return -1;
}

int print_column_list(FILE *out)
{
	for (int i = 0; i < COL_MAX; i++)
		fprintf(out, "%10s  %s\n", columns[i].name, columns[i].help);
	return 0;
}

/* ---- cell values -------------------------------------------------------- */

static char *fmt(int *err, const char *f, ...) __attribute__((format(printf, 2, 3)));
static char *fmt(int *err, const char *f, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, f);
	int r = vasprintf(&s, f, ap);
	va_end(ap);
	if (r < 0) {
		*err = -ENOMEM;
		return NULL;
	}
	return s;
}

/* Decimal text of v, malloc'ed: cells are mostly numbers, printf is slow. */
static char *num(int *err, unsigned long long v)
{
	char buf[24], *p = buf + sizeof(buf);
	*--p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	size_t n = (size_t)(buf + sizeof(buf) - p);
	char *s = malloc(n);
	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	return memcpy(s, p, n);
}

static char *snum(int *err, long long v)
{
	if (v >= 0)
		return num(err, (unsigned long long)v);
	return fmt(err, "%lld", v);
}

static char *dup_or_null(int *err, const char *s)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*err = -ENOMEM;
	return d;
}

static const char *proto_word(uint8_t proto)
{
	/* /etc/services knows tcp and udp; UDP-Lite shares UDP's numbers */
	return proto == IPPROTO_TCP ? "tcp" : "udp";
}

const char *service_name_any(const struct pw_services *sv, uint8_t proto, uint16_t port)
{
	return sv ? pw_services_name(sv, port, proto_word(proto)) : NULL;
}

const char *service_name(const struct options *o, uint8_t proto, uint16_t port)
{
	return o->numeric ? NULL : service_name_any(o->services, proto, port);
}

char *group_reason_kinds(const struct pw_port_group *g)
{
	size_t len = 1;
	for (size_t i = 0; i < g->n_reasons; i++)
		len += strlen(pw_reason_kind_name(g->reasons[i].kind)) + 1;
	char *s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < g->n_reasons; i++) {
		const char *k = pw_reason_kind_name(g->reasons[i].kind);
		bool dup = false; /* a kind may cover several sockets separately */
		for (size_t j = 0; j < i && !dup; j++)
			dup = g->reasons[j].kind == g->reasons[i].kind;
		if (dup)
			continue;
		if (s[0])
			strcat(s, ",");
		strcat(s, k);
	}
	return s;
}

char *group_class_text(const struct pw_port_group *g)
{
	char *s = NULL;
	if (asprintf(&s, "%s%s%s%s", g->class.iana ? g->class.iana : "?",
		     g->class.privileged ? ",privileged" : "",
		     g->class.ephemeral ? ",ephemeral" : "",
		     g->class.reserved ? ",reserved" : "") < 0)
		return NULL;
	return s;
}

static bool is_connected(const struct pw_socket *s)
{
	return s->rport != 0 || !pw_addr_is_any(&s->raddr);
}

static const char *tristate(int8_t v)
{
	return v < 0 ? "?" : v == 0 ? "no" : v == 1 ? "yes" : "forced";
}

static char *endpoint_text(int *err, const struct pw_addr *a, uint16_t port, const char *ifname)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 16];
	if (pw_endpoint_format(a, port, ifname, buf, sizeof(buf)) < 0)
		return dup_or_null(err, "?");
	return dup_or_null(err, buf);
}

char *column_value(const struct options *o, enum column_id id, const struct pw_port_group *g,
		   const struct pw_socket *s, const struct pw_holder *h, int *err)
{
	const struct pw_process *p = h ? h->proc : NULL;
	char buf[128];

	switch (id) {
	case COL_NETNS:
		if (g && g->netns_name)
			return dup_or_null(err, g->netns_name);
		return num(err, s->netns);
	case COL_PROTO:
		return fmt(err, "%s%s", pw_proto_name(s->proto), s->family == AF_INET6 ? "6" : "");
	case COL_FAMILY:
		return dup_or_null(err, s->family == AF_INET6 ? "ipv6" : "ipv4");
	case COL_LOCAL:
		return endpoint_text(err, &s->laddr, s->lport, s->ifname);
	case COL_ADDR:
		if (pw_addr_format(&s->laddr, true, buf, sizeof(buf)) < 0)
			return dup_or_null(err, "?");
		return dup_or_null(err, buf);
	case COL_PORT:
		return num(err, s->lport);
	case COL_SERVICE:
		return g ? dup_or_null(err, service_name(o, g->proto, g->port)) : NULL;
	case COL_REMOTE:
		return is_connected(s) ? endpoint_text(err, &s->raddr, s->rport, NULL) : NULL;
	case COL_STATE: /* state 0: the line of a port only a forward serves */
		return dup_or_null(err, s->state ? pw_state_name(s->proto, s->state) : "-");
	case COL_INODE:
		return num(err, s->inode);
	case COL_COOKIE:
		return num(err, s->cookie);
	case COL_UID:
		return num(err, s->uid);
	case COL_V6ONLY:
		return s->family == AF_INET6 ? dup_or_null(err, tristate(s->v6only)) : NULL;
	case COL_REUSEADDR:
		return dup_or_null(err, tristate(s->reuseaddr));
	case COL_REUSEPORT:
		return dup_or_null(err, tristate(s->reuseport));
	case COL_OPTSRC:
		return dup_or_null(err, pw_opt_source_name((enum pw_opt_source)s->opts_source));
	case COL_IFACE:
		return dup_or_null(err, s->ifname);
	case COL_KOWNER:
		return dup_or_null(err, s->kernel_owner);
	case COL_PID:
		return h ? snum(err, p ? p->pid : h->tid) : NULL;
	case COL_TID:
		return h ? snum(err, h->tid) : NULL;
	case COL_FD:
		return h && h->via == PW_VIA_FD ? snum(err, h->fd) : NULL;
	case COL_COMMAND:
		return p ? dup_or_null(err, p->comm) : NULL;
	case COL_CMDLINE:
		return p ? dup_or_null(err, p->cmdline) : NULL;
	case COL_USER:
		if (!p || !p->facts_read)
			return NULL;
		return p->user ? dup_or_null(err, p->user) : num(err, p->uid);
	case COL_PPID:
		return p && p->facts_read ? snum(err, p->ppid) : NULL;
	case COL_UNIT:
		return p ? dup_or_null(err, p->unit) : NULL;
	case COL_VIA:
		return h ? dup_or_null(err, pw_holder_via_name((enum pw_holder_via)h->via)) : NULL;
	case COL_NSPID:
		return p && p->nspid ? snum(err, p->nspid) : NULL;
	case COL_REASON: {
		if (!g)
			return NULL;
		char *r = group_reason_kinds(g);
		if (!r)
			*err = -ENOMEM;
		return r;
	}
	case COL_CLASS: {
		if (!g)
			return NULL;
		char *r = group_class_text(g);
		if (!r)
			*err = -ENOMEM;
		return r;
	}
	case COL_CONTAINER:
		if (!p || !p->container || pw_container_label(p->container, buf, sizeof(buf)) < 0)
			return NULL;
		return dup_or_null(err, buf);
	case COL_MAX:
		break;
	}
	return NULL;
}
