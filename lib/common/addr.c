/* SPDX-License-Identifier: MIT */
/* Addresses: wildcard and v4-mapped tests, formatting, literal parsing. */
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>

#include "internal.h"

static const uint8_t zeros[16];
static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool pw_addr_is_any(const struct pw_addr *a)
{
	if (a->family == AF_INET)
		return memcmp(a->bytes, zeros, 4) == 0;
	if (a->family == AF_INET6)
		return memcmp(a->bytes, zeros, 16) == 0;
	return false;
}

bool pw_addr_is_v4mapped(const struct pw_addr *a)
{
	return a->family == AF_INET6 && memcmp(a->bytes, v4mapped_prefix, 12) == 0;
}

/* Decimal digits of v at p; their count. */
static size_t put_uint(char *p, unsigned v)
{
	char t[10];
	size_t n = 0;
	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	for (size_t i = 0; i < n; i++)
		p[i] = t[n - 1 - i];
	return n;
}

/* Without inet_ntop for IPv4: glibc prints each dotted quad with
 * sprintf, and -a formats 60,000 endpoints twice (measure, print). */
int pw_addr_format(const struct pw_addr *a, bool star_any, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	size_t n;

	if (a->family != AF_INET && a->family != AF_INET6)
		return -EAFNOSUPPORT;
	if (star_any && pw_addr_is_any(a)) {
		n = 1;
		tmp[0] = '*';
	} else if (a->family == AF_INET) {
		n = 0;
		for (int i = 0; i < 4; i++) {
			if (i)
				tmp[n++] = '.';
			n += put_uint(tmp + n, a->bytes[i]);
		}
	} else if (!inet_ntop(a->family, a->bytes, tmp, sizeof(tmp))) {
		return -errno;
	} else {
		n = strlen(tmp);
	}
	if (n >= len)
		return -ENOSPC;
	memcpy(buf, tmp, n);
	buf[n] = '\0';
	return (int)n;
}

int pw_endpoint_format(const struct pw_addr *a, uint16_t port, const char *ifname, char *buf,
		       size_t len)
{
	char host[INET6_ADDRSTRLEN];
	int r = pw_addr_format(a, true, host, sizeof(host));
	if (r < 0)
		return r;

	/* IPv6 needs brackets so the port's colon stays unambiguous; "*" does not */
	bool brackets = a->family == AF_INET6 && strcmp(host, "*") != 0;
	size_t hl = (size_t)r, il = ifname ? strlen(ifname) : 0;
	char digits[5];
	size_t pl = put_uint(digits, port);
	size_t n = hl + 2 * brackets + 1 + pl + (ifname ? 1 + il : 0);
	if (n >= len)
		return -ENOSPC;
	char *p = buf;
	if (brackets)
		*p++ = '[';
	memcpy(p, host, hl);
	p += hl;
	if (brackets)
		*p++ = ']';
	*p++ = ':';
	memcpy(p, digits, pl);
	p += pl;
	if (ifname) {
		*p++ = '%';
		memcpy(p, ifname, il);
		p += il;
	}
	*p = '\0';
	return (int)n;
}

int pw_addr_parse(const char *s, struct pw_addr *ret)
{
	struct pw_addr a = {0};

	if (!s)
		return -EINVAL;
	/* inet_pton takes only dotted quads for IPv4 (no "1.2.3", no octal) and
	 * rejects "%zone" suffixes, which is what we want. */
	if (inet_pton(AF_INET, s, a.bytes) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, a.bytes) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL;
	*ret = a;
	return 0;
}
