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

/* Decimal text of v in buf (>= 24 bytes): cells are mostly numbers, and
 * printf is slow. */
static const char *num(char *buf, unsigned long long v)
{
	char *p = buf + 23;
	*p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	return p;
}

static const char *snum(char *buf, long long v)
{
	if (v >= 0)
		return num(buf, (unsigned long long)v);
	const char *p = num(buf + 1, 0ULL - (unsigned long long)v);
	char *m = (char *)p - 1;
	*m = '-';
	return m;
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

/* The distinct kinds of g's reasons, comma-joined into buf */
static const char *reason_kinds(const struct pw_port_group *g, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < g->n_reasons; i++) {
		const char *k = pw_reason_kind_name(g->reasons[i].kind);
		bool dup = false; /* a kind may cover several sockets separately */
		for (size_t j = 0; j < i && !dup; j++)
			dup = g->reasons[j].kind == g->reasons[i].kind;
		size_t kl = strlen(k);
		if (dup || n + kl + 2 > size)
			continue;
		if (n)
			buf[n++] = ',';
		memcpy(buf + n, k, kl + 1);
		n += kl;
	}
	return buf;
}

static const char *class_text(const struct pw_port_group *g, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s%s", g->class.iana ? g->class.iana : "?",
		 g->class.privileged ? ",privileged" : "", g->class.ephemeral ? ",ephemeral" : "",
		 g->class.reserved ? ",reserved" : "");
	return buf;
}

static bool is_connected(const struct pw_socket *s)
{
	return s->rport != 0 || !pw_addr_is_any(&s->raddr);
}

static const char *tristate(int8_t v)
{
	return v < 0 ? "?" : v == 0 ? "no" : v == 1 ? "yes" : "forced";
}

static const char *endpoint_text(const struct pw_addr *a, uint16_t port, const char *ifname,
				 char *buf, size_t size)
{
	return pw_endpoint_format(a, port, ifname, buf, size) < 0 ? "?" : buf;
}

const char *column_text(const struct options *o, enum column_id id, const struct pw_port_group *g,
			const struct pw_socket *s, const struct pw_holder *h, char *buf, size_t size)
{
	const struct pw_process *p = h ? h->proc : NULL;

	switch (id) {
	case COL_NETNS:
		if (g && g->netns_name)
			return g->netns_name;
		return num(buf, s->netns);
	case COL_PROTO:
		if (s->family != AF_INET6)
			return pw_proto_name(s->proto);
		snprintf(buf, size, "%s6", pw_proto_name(s->proto));
		return buf;
	case COL_FAMILY:
		return s->family == AF_INET6 ? "ipv6" : "ipv4";
	case COL_LOCAL:
		return endpoint_text(&s->laddr, s->lport, s->ifname, buf, size);
	case COL_ADDR:
		return pw_addr_format(&s->laddr, true, buf, size) < 0 ? "?" : buf;
	case COL_PORT:
		return num(buf, s->lport);
	case COL_SERVICE:
		return g ? service_name(o, g->proto, g->port) : NULL;
	case COL_REMOTE:
		return is_connected(s) ? endpoint_text(&s->raddr, s->rport, NULL, buf, size) : NULL;
	case COL_STATE: /* state 0: the line of a port only a forward serves */
		return s->state ? pw_state_name(s->proto, s->state) : "-";
	case COL_INODE:
		return num(buf, s->inode);
	case COL_COOKIE:
		return num(buf, s->cookie);
	case COL_UID:
		return num(buf, s->uid);
	case COL_V6ONLY:
		return s->family == AF_INET6 ? tristate(s->v6only) : NULL;
	case COL_REUSEADDR:
		return tristate(s->reuseaddr);
	case COL_REUSEPORT:
		return tristate(s->reuseport);
	case COL_OPTSRC:
		return pw_opt_source_name((enum pw_opt_source)s->opts_source);
	case COL_IFACE:
		return s->ifname;
	case COL_KOWNER:
		return s->kernel_owner;
	case COL_PID:
		return h ? snum(buf, p ? p->pid : h->tid) : NULL;
	case COL_TID:
		return h ? snum(buf, h->tid) : NULL;
	case COL_FD:
		return h && h->via == PW_VIA_FD ? snum(buf, h->fd) : NULL;
	case COL_COMMAND:
		return p ? p->comm : NULL;
	case COL_CMDLINE:
		return p ? p->cmdline : NULL;
	case COL_USER:
		if (!p || !p->facts_read)
			return NULL;
		return p->user ? p->user : num(buf, p->uid);
	case COL_PPID:
		return p && p->facts_read ? snum(buf, p->ppid) : NULL;
	case COL_UNIT:
		return p ? p->unit : NULL;
	case COL_VIA:
		return h ? pw_holder_via_name((enum pw_holder_via)h->via) : NULL;
	case COL_NSPID:
		return p && p->nspid ? snum(buf, p->nspid) : NULL;
	case COL_REASON:
		return g ? reason_kinds(g, buf, size) : NULL;
	case COL_CLASS:
		return g ? class_text(g, buf, size) : NULL;
	case COL_CONTAINER:
		if (!p || !p->container || pw_container_label(p->container, buf, size) < 0)
			return NULL;
		return buf;
	case COL_MAX:
		break;
	}
	return NULL;
}

char *column_value(const struct options *o, enum column_id id, const struct pw_port_group *g,
		   const struct pw_socket *s, const struct pw_holder *h, int *err)
{
	char buf[COLUMN_TEXT_MAX];
	const char *t = column_text(o, id, g, s, h, buf, sizeof(buf));
	if (!t)
		return NULL;
	char *d = strdup(t);
	if (!d)
		*err = -ENOMEM;
	return d;
}
