/* SPDX-License-Identifier: MIT */
/*
 * Socket units from systemd over D-Bus (what `systemctl list-sockets`
 * reads): which unit listens on which address, and which service it
 * triggers. Optional at build time (libsystemd) and at run time (no bus, no
 * systemd: an empty answer, never an error the user sees).
 */
#include <netinet/in.h>
#include <stdio.h>

#include "internal.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && !memcmp(s + n - k, suffix, k);
}

bool pw_unit_is_service(const char *unit)
{
	/* user@UID.service is a user's whole manager: never a thing to stop here */
	return unit && ends_with(unit, ".service") && strncmp(unit, "user@", 5) != 0;
}

/* Characters systemd allows in unit names (unit_name_is_valid). */
bool pw_unit_name_valid(const char *s, const char *suffix)
{
	size_t n = strlen(s);
	if (n < 2 || n > 255 || !ends_with(s, suffix))
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr(":-_.\\@", *c)))
			return false;
	return true;
}

bool pw_listen_pid_is_self(const struct pw_process *p)
{
	if (!p || p->listen_pid <= 0)
		return false;
	/* getpid() inside the process's own PID namespace; ours when unknown */
	return p->listen_pid == (p->nspid > 0 ? p->nspid : p->pid);
}

bool pw_process_is_init(const struct pw_process *p)
{
	return p && (p->pid == 1 || p->nspid == 1);
}

/* The LISTEN_FDNAMES entry of fd when it names a socket unit, or NULL. */
char *pw_listen_fdname_unit(const struct pw_process *p, int fd)
{
	if (!p->listen_fdnames || fd < 3)
		return NULL;
	const char *s = p->listen_fdnames;
	for (int i = 3; i < fd && s; i++) {
		s = strchr(s, ':');
		if (s)
			s++;
	}
	if (!s)
		return NULL;
	char *name = strndup(s, strcspn(s, ":"));
	if (name && !pw_unit_name_valid(name, ".socket")) {
		free(name);
		return NULL;
	}
	return name;
}

/* "dnsmasq.service" -> "dnsmasq.socket"; an Accept=yes instance
 * "foo@3-10.0.0.1:80-10.0.0.2:5555.service" -> "foo.socket" */
char *pw_socket_unit_guess(const char *service)
{
	if (!pw_unit_is_service(service))
		return NULL;
	size_t n = strlen(service) - strlen(".service");
	const char *at = memchr(service, '@', n);
	if (at && at[1] >= '0' && at[1] <= '9')
		n = (size_t)(at - service);
	char *r = NULL;
	if (asprintf(&r, "%.*s.socket", (int)n, service) < 0)
		return NULL;
	if (!pw_unit_name_valid(r, ".socket")) {
		free(r);
		return NULL;
	}
	return r;
}

#if HAVE_LIBSYSTEMD
#define SD_DEST "org.freedesktop.systemd1"

/* "0.0.0.0:53", "[::]:53", "53", "127.0.0.1:8080"; paths and netlink: no */
static int parse_listen(const char *type, const char *addr, struct pw_sockunit *u)
{
	if (!strcmp(type, "Stream"))
		u->proto = IPPROTO_TCP;
	else if (!strcmp(type, "Datagram"))
		u->proto = IPPROTO_UDP;
	else
		return -EINVAL;
	if (addr[0] == '/' || addr[0] == '@')
		return -EINVAL; /* AF_UNIX */
	const char *colon = strrchr(addr, ':');
	const char *port = colon ? colon + 1 : addr;
	char *end;
	long p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || p < 0 || p > 65535)
		return -EINVAL;
	u->port = (uint16_t)p;
	u->has_addr = false;
	if (colon) {
		char host[64];
		const char *h = addr;
		size_t n = (size_t)(colon - addr);
		if (n && h[0] == '[' && h[n - 1] == ']') {
			h++;
			n -= 2;
		}
		if (n < sizeof(host)) {
			memcpy(host, h, n);
			host[n] = '\0';
			char *pct = strchr(host, '%');
			if (pct)
				*pct = '\0';
			u->has_addr = pw_addr_parse(host, &u->addr) == 0;
		}
	}
	return 0;
}

static int add_unit(const struct pw_sdbus *sdb, sd_bus *bus, const char *unit, const char *path,
		    struct pw_sockunits *out)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL;
	char *service = NULL;
	int r = sdb->get_property(bus, SD_DEST, path, "org.freedesktop.systemd1.Unit", "Triggers",
				    &err, &m, "as");
	if (r >= 0 && sdb->message_enter_container(m, 'a', "s") >= 0) {
		const char *s;
		if (sdb->message_read(m, "s", &s) > 0)
			service = strdup(s);
	}
	sdb->message_unref(m);
	m = NULL;
	sdb->error_free(&err);

	r = sdb->get_property(bus, SD_DEST, path, "org.freedesktop.systemd1.Socket", "Listen",
				&err, &m, "a(ss)");
	if (r < 0)
		goto out;
	r = sdb->message_enter_container(m, 'a', "(ss)");
	if (r < 0)
		goto out;
	const char *type, *addr;
	while (sdb->message_read(m, "(ss)", &type, &addr) > 0) {
		struct pw_sockunit u = { 0 };
		if (parse_listen(type, addr, &u) < 0)
			continue;
		if (PW_GROW(out->v, out->cap, out->n + 1) < 0) {
			r = -ENOMEM;
			goto out;
		}
		u.unit = strdup(unit);
		u.service = service ? strdup(service) : NULL;
		out->v[out->n++] = u;
	}
	r = 0;
out:
	free(service);
	sdb->message_unref(m);
	sdb->error_free(&err);
	return r;
}

int pw_sockunits_read(struct pw_sockunits *out)
{
	const struct pw_sdbus *sdb = pw_sdbus();
	if (!sdb)
		return -EOPNOTSUPP;
	sd_bus *bus = NULL;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int r = sdb->open_system(&bus);
	if (r < 0)
		return r;
	r = sdb->call_method(bus, SD_DEST, "/org/freedesktop/systemd1",
			       "org.freedesktop.systemd1.Manager", "ListUnitsByPatterns", &err,
			       &reply, "asas", 0, 1, "*.socket");
	if (r < 0)
		goto out;
	r = sdb->message_enter_container(reply, 'a', "(ssssssouso)");
	if (r < 0)
		goto out;
	const char *name, *path;
	while ((r = sdb->message_read(reply, "(ssssssouso)", &name, NULL, NULL, NULL, NULL, NULL,
					&path, NULL, NULL, NULL)) > 0)
		if (add_unit(sdb, bus, name, path, out) == -ENOMEM) {
			r = -ENOMEM;
			goto out;
		}
	r = r < 0 ? r : 0;
out:
	sdb->message_unref(reply);
	sdb->error_free(&err);
	sdb->flush_close_unref(bus);
	return r;
}
#else
int pw_sockunits_read(struct pw_sockunits *out)
{
	(void)out;
	return -EOPNOTSUPP;
}
#endif

void pw_sockunits_free(struct pw_sockunits *u)
{
	for (size_t i = 0; i < u->n; i++) {
		free(u->v[i].unit);
		free(u->v[i].service);
	}
	free(u->v);
	*u = (struct pw_sockunits){ 0 };
}

const struct pw_sockunit *pw_sockunits_find(const struct pw_sockunits *u,
					    const struct pw_socket *s)
{
	const struct pw_sockunit *loose = NULL;
	for (size_t i = 0; i < u->n; i++) {
		const struct pw_sockunit *x = &u->v[i];
		if (x->proto != s->proto || x->port != s->lport)
			continue;
		if (x->has_addr && x->addr.family == s->family &&
		    !memcmp(x->addr.bytes, s->laddr.bytes, s->family == AF_INET ? 4 : 16))
			return x;
		if (!x->has_addr || pw_addr_is_any(&x->addr))
			loose = loose ? loose : x;
	}
	return loose;
}
