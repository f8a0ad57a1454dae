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

int pw_addr_format(const struct pw_addr *a, bool star_any, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	if (a->family != AF_INET && a->family != AF_INET6)
		return -EAFNOSUPPORT;
	if (star_any && pw_addr_is_any(a))
		strcpy(tmp, "*");
	else if (!inet_ntop(a->family, a->bytes, tmp, sizeof(tmp)))
		return -errno;

	size_t n = strlen(tmp);
	if (n >= len)
		return -ENOSPC;
	memcpy(buf, tmp, n + 1);
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
	int n = snprintf(buf, len, "%s%s%s:%u%s%s", brackets ? "[" : "", host, brackets ? "]" : "",
			 (unsigned)port, ifname ? "%" : "", ifname ? ifname : "");
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENOSPC;
	return n;
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
