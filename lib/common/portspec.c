/* SPDX-License-Identifier: MIT */
/*
 * PORTSPEC parsing and matching.
 *
 *   spec  := [PROTO "/" | PROTO ":"] body ["/" PROTO]
 *   body  := port | ":" port | IPV4 ":" port | "[" IPV6 "]" ":" port
 *   port  := NUMBER | NUMBER "-" NUMBER | SERVICE
 *   PROTO := tcp | udp | udplite (any case)
 *
 * So 53, 53/udp, udp/53, tcp:8080, :http, http, http/tcp, tcp/http,
 * 8000-8100, 127.0.0.1:25, [::1]:53, [::1]:53/udp, udp/[::1]:53 and
 * tcp:127.0.0.1:25 all parse. A bare number is always a port, never an
 * address. Ranges take numbers only ("http-https" is looked up as one name).
 * The protocol may be given once. IPv6 needs brackets; zone indexes
 * ("%eth0") are refused. Service names are looked up for the spec's protocol
 * first, then for any protocol (a port number does not depend on it).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "internal.h"

#define SPEC_MAX 255 /* the longest real spec is ~60 characters */

/* Always -EINVAL, so callers can "return fail(...)". */
__attribute__((format(printf, 3, 4))) static int fail(char *errbuf, size_t errlen, const char *fmt,
						      ...)
{
	if (errbuf && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const struct {
	const char *word;
	unsigned bit;
} proto_words[] = {
    {"tcp", PW_PROTO_TCP},
    {"udp", PW_PROTO_UDP},
    {"udplite", PW_PROTO_UDPLITE},
};

/* The protocol bit for exactly the first n characters of s, or 0. */
static unsigned proto_word(const char *s, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(proto_words); i++)
		if (strlen(proto_words[i].word) == n && strncasecmp(s, proto_words[i].word, n) == 0)
			return proto_words[i].bit;
	return 0;
}

/* Parse 1+ decimal digits at *p into *ret, advancing *p. Checks the value
 * before the digit count so "70000" says "out of range" rather than
 * "too many digits". */
static int parse_number(const char **p, uint16_t *ret, char *errbuf, size_t errlen)
{
	const char *s = *p, *e = s;
	unsigned long v = 0;

	while (isdigit((unsigned char)*e)) {
		if (v <= 65535)
			v = v * 10 + (unsigned long)(*e - '0');
		e++;
	}
	if (v > 65535)
		return fail(errbuf, errlen, "port %.*s is out of range (0-65535)", (int)(e - s), s);
	if (e - s > 5)
		return fail(errbuf, errlen, "port %.*s has more than 5 digits", (int)(e - s), s);
	*ret = (uint16_t)v;
	*p = e;
	return 0;
}

/* NUMBER or NUMBER-NUMBER filling the whole string: 1 if it has that shape,
 * 0 if not (maybe a service name such as "9pfs"), -EINVAL if the shape is
 * right but a value is wrong. */
static int parse_range(const char *s, uint16_t *lo, uint16_t *hi, char *errbuf, size_t errlen)
{
	const char *p = s;
	size_t n1 = strspn(p, "0123456789");
	if (n1 == 0)
		return 0;
	if (p[n1] != '\0' &&
	    !(p[n1] == '-' && p[n1 + 1 + strspn(p + n1 + 1, "0123456789")] == '\0' &&
	      isdigit((unsigned char)p[n1 + 1])))
		return 0;

	uint16_t a = 0, b = 0;
	int r = parse_number(&p, &a, errbuf, errlen);
	if (r < 0)
		return r;
	b = a;
	if (*p == '-') {
		p++;
		r = parse_number(&p, &b, errbuf, errlen);
		if (r < 0)
			return r;
		if (a > b)
			return fail(errbuf, errlen, "range \"%s\" is reversed", s);
	}
	*lo = a;
	*hi = b;
	return 1;
}

/* What /etc/services names look like: letters, digits and "-_.+", with at
 * least one letter, starting with a letter or digit and not ending in '-'. */
static bool service_name_shape(const char *s)
{
	bool letter = false;
	if (!isalnum((unsigned char)s[0]) || s[strlen(s) - 1] == '-')
		return false;
	for (const char *p = s; *p; p++) {
		if (isalpha((unsigned char)*p))
			letter = true;
		else if (!isdigit((unsigned char)*p) && !strchr("-_.+", *p))
			return false;
	}
	return letter;
}

static int parse_port(const char *s, const struct pw_services *sv, unsigned protos,
		      struct pw_portspec *spec, char *errbuf, size_t errlen)
{
	int r = parse_range(s, &spec->lo, &spec->hi, errbuf, errlen);
	if (r != 0)
		return r < 0 ? r : 0;

	if (!service_name_shape(s))
		return fail(errbuf, errlen, "\"%s\" is not a port, range or service name", s);
	if (proto_word(s, strlen(s)))
		return fail(errbuf, errlen, "missing port after protocol \"%s\"", s);
	if (!sv)
		return fail(errbuf, errlen,
			    "\"%s\" is not a port number (service names are unavailable)", s);

	const char *proto = NULL; /* UDP-Lite shares UDP's numbers */
	if (protos == PW_PROTO_TCP)
		proto = "tcp";
	else if (protos == PW_PROTO_UDP || protos == PW_PROTO_UDPLITE)
		proto = "udp";
	uint16_t port;
	r = pw_services_port(sv, s, proto, &port);
	if (r < 0 && proto)
		r = pw_services_port(sv, s, NULL, &port);
	if (r < 0) {
		/* "80x" is a typo for a port more often than a service name */
		if (isdigit((unsigned char)s[0]))
			return fail(errbuf, errlen, "\"%s\" is not a port, range or service name",
				    s);
		return fail(errbuf, errlen, "unknown service \"%s\"", s);
	}
	spec->lo = spec->hi = port;
	return 0;
}

/* body (see the grammar above); whole is the user's text for messages */
static int parse_body(char *b, const char *whole, const struct pw_services *sv, unsigned protos,
		      struct pw_portspec *spec, char *errbuf, size_t errlen)
{
	char *port;

	if (b[0] == '[') {
		char *close = strchr(b, ']');
		if (!close)
			return fail(errbuf, errlen, "unclosed \"[\" in \"%s\"", whole);
		*close = '\0';
		const char *host = b + 1;
		if (!*host)
			return fail(errbuf, errlen,
				    "missing address between \"[\" and \"]\" in \"%s\"", whole);
		if (strchr(host, '%'))
			return fail(errbuf, errlen,
				    "bad address \"%s\" (zone indexes are not supported)", host);
		if (pw_addr_parse(host, &spec->addr) < 0)
			return fail(errbuf, errlen, "bad address \"%s\"", host);
		if (spec->addr.family != AF_INET6)
			return fail(errbuf, errlen,
				    "bad address \"[%s]\" (brackets are only for IPv6)", host);
		spec->has_addr = true;
		if (close[1] == '\0')
			return fail(errbuf, errlen, "missing port in \"%s\"", whole);
		if (close[1] != ':')
			return fail(errbuf, errlen, "unexpected \"%s\" after \"]\" in \"%s\"",
				    close + 1, whole);
		port = close + 2;
	} else {
		char *colon = strchr(b, ':');
		if (colon && strchr(colon + 1, ':'))
			return fail(errbuf, errlen,
				    "IPv6 address in \"%s\" needs brackets, as in [::1]:53", whole);
		if (colon) {
			*colon = '\0';
			if (*b) {
				if (pw_addr_parse(b, &spec->addr) < 0)
					return fail(errbuf, errlen, "bad address \"%s\"", b);
				spec->has_addr = true;
			}
			port = colon + 1;
		} else {
			struct pw_addr a;
			if (pw_addr_parse(b, &a) == 0)
				return fail(errbuf, errlen, "missing port after address \"%s\"", b);
			port = b;
		}
	}
	if (!*port)
		return fail(errbuf, errlen, "missing port in \"%s\"", whole);
	return parse_port(port, sv, protos, spec, errbuf, errlen);
}

int pw_portspec_parse(const char *s, const struct pw_services *sv, struct pw_portspec *ret,
		      char *errbuf, size_t errlen)
{
	struct pw_portspec spec = {0};
	char buf[SPEC_MAX + 1];

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!s || !*s)
		return fail(errbuf, errlen, "empty port specification");
	/* Messages quote the input, so refuse what would garble a terminal
	 * line before quoting anything. */
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			return fail(errbuf, errlen,
				    "control or non-ASCII character in port specification");
	if (strlen(s) > SPEC_MAX)
		return fail(errbuf, errlen, "port specification is longer than %d characters",
			    SPEC_MAX);
	if (strchr(s, ' '))
		return fail(errbuf, errlen, "unexpected space in \"%s\"", s);
	strcpy(buf, s);

	/* PROTO/ or PROTO: in front */
	char *rest = buf;
	size_t w = strcspn(buf, "/:");
	if (buf[w] && (spec.protos = proto_word(buf, w)))
		rest = buf + w + 1;
	if (!*rest)
		return fail(errbuf, errlen, "missing port in \"%s\"", s);

	/* /PROTO behind; a '/' inside brackets belongs to a (bad) address */
	char *close = rest[0] == '[' ? strchr(rest, ']') : NULL;
	char *slash = strchr(close ? close : rest, '/');
	if (slash) {
		char *tail = slash + 1;
		*slash = '\0';
		if (!*tail)
			return fail(errbuf, errlen, "missing protocol after \"/\" in \"%s\"", s);
		unsigned bit = proto_word(tail, strlen(tail));
		if (bit && spec.protos)
			return fail(errbuf, errlen, "protocol given twice in \"%s\"", s);
		if (!bit && (spec.protos || strchr(tail, '/')))
			return fail(errbuf, errlen, "too many \"/\" in \"%s\"", s);
		if (!bit) {
			/* "sctp/53" or "53/sctp": blame the side that is not a port */
			char h[SPEC_MAX + 1], t[SPEC_MAX + 1];
			struct pw_portspec tmp = {0};
			const char *bad = tail;
			strcpy(h, rest);
			strcpy(t, tail);
			if (isalpha((unsigned char)rest[0]) &&
			    parse_body(t, tail, sv, 0, &tmp, NULL, 0) == 0 &&
			    parse_body(h, rest, sv, 0, &tmp, NULL, 0) < 0)
				bad = rest;
			return fail(errbuf, errlen,
				    "unknown protocol \"%s\" (use tcp, udp or udplite)", bad);
		}
		spec.protos = bit;
	}
	if (!*rest)
		return fail(errbuf, errlen, "missing port in \"%s\"", s);

	int r = parse_body(rest, s, sv, spec.protos, &spec, errbuf, errlen);
	if (r < 0)
		return r;
	*ret = spec;
	return 0;
}

static unsigned proto_bit(uint8_t ipproto)
{
	switch (ipproto) {
	case IPPROTO_TCP:
		return PW_PROTO_TCP;
	case IPPROTO_UDP:
		return PW_PROTO_UDP;
	case IPPROTO_UDPLITE:
		return PW_PROTO_UDPLITE;
	}
	return 0;
}

/* ::ffff:a.b.c.d is how an IPv4 peer looks on a dual-stack socket */
static struct pw_addr unmap(const struct pw_addr *a)
{
	struct pw_addr r = *a;
	if (pw_addr_is_v4mapped(a)) {
		memset(&r, 0, sizeof(r));
		r.family = AF_INET;
		memcpy(r.bytes, a->bytes + 12, 4);
	}
	return r;
}

bool pw_portspec_match(const struct pw_portspec *spec, uint8_t ipproto, const struct pw_addr *laddr,
		       uint16_t lport, bool v6only)
{
	if (spec->protos && !(spec->protos & proto_bit(ipproto)))
		return false;
	if (lport < spec->lo || lport > spec->hi)
		return false;
	if (!spec->has_addr)
		return true;

	struct pw_addr want = unmap(&spec->addr), have = unmap(laddr);
	/* A wildcard socket receives for every address of its family, and a
	 * dual-stack [::] socket for IPv4 ones too. A wildcard spec address
	 * asks for every socket of its family (all of them block that bind). */
	if (pw_addr_is_any(&have) || pw_addr_is_any(&want))
		return have.family == want.family ||
		       (pw_addr_is_any(&have) && have.family == AF_INET6 && !v6only &&
			want.family == AF_INET);
	size_t n = have.family == AF_INET ? 4 : 16;
	return have.family == want.family && memcmp(have.bytes, want.bytes, n) == 0;
}
