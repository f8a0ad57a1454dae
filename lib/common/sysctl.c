/* SPDX-License-Identifier: MIT */
/* Port class: the IANA range plus the per-netns sysctls that decide who may
 * bind a port and which ports the kernel picks by itself. */
#include <ctype.h>
#include <fcntl.h>

#include "internal.h"

static const struct pw_netns_sysctl sysctl_defaults = {
    .unprivileged_port_start = 1024,
    .local_lo = 32768,
    .local_hi = 60999,
};

void pw_port_classify(const struct pw_netns_sysctl *sys, uint16_t port, struct pw_port_class *ret)
{
	if (!sys)
		sys = &sysctl_defaults;
	ret->iana = port < 1024 ? "system" : port < 49152 ? "user" : "dynamic";
	ret->privileged = (int)port < sys->unprivileged_port_start;
	ret->ephemeral = port >= sys->local_lo && port <= sys->local_hi;
	ret->reserved = sys->reserved[port / 8] & (1u << (port % 8));
}

/* Decimal 0..max at *p, advancing *p past it. */
static int parse_uint(const char **p, unsigned long max, unsigned long *ret)
{
	const char *s = *p;
	unsigned long v = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -EINVAL;
	}
	*ret = v;
	*p = s;
	return 0;
}

static bool only_space(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return *s == '\0';
}

int pw_parse_port_list(const char *s, uint8_t bitmap[65536 / 8])
{
	uint8_t bm[65536 / 8] = {0};

	/* The kernel writes "1,2-5,7\n", or "\n" for an empty list. */
	if (!only_space(s)) {
		const char *p = s;
		for (;;) {
			unsigned long lo, hi;
			if (parse_uint(&p, 65535, &lo) < 0)
				return -EINVAL;
			hi = lo;
			if (*p == '-') {
				p++;
				if (parse_uint(&p, 65535, &hi) < 0 || hi < lo)
					return -EINVAL;
			}
			for (unsigned long port = lo; port <= hi; port++)
				bm[port / 8] |= (uint8_t)(1u << (port % 8));
			if (*p != ',')
				break;
			p++;
		}
		if (!only_space(p))
			return -EINVAL;
	}
	memcpy(bitmap, bm, sizeof(bm));
	return 0;
}

/* Read one sysctl file: 0, 1 when it does not exist (keep the default), or -errno. */
static int read_sysctl(int dfd, const char *path, char **ret)
{
	int r = pw_read_file_at(dfd, path, 1u << 20, ret, NULL);
	if (r == -ENOENT)
		return 1;
	return r;
}

int pw_netns_sysctl_read(const char *sysctl_root, struct pw_netns_sysctl *ret)
{
	struct pw_netns_sysctl sys = sysctl_defaults;
	unsigned long a, b;
	const char *p;
	int r;

	_cleanup_close_ int dfd =
	    open(sysctl_root ? sysctl_root : "/proc/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno != ENOENT)
			return -errno;
		*ret = sys; /* no /proc/sys at all: every file is missing */
		return 0;
	}

	_cleanup_free_ char *start = NULL;
	r = read_sysctl(dfd, "net/ipv4/ip_unprivileged_port_start", &start);
	if (r < 0)
		return r;
	if (r == 0) {
		p = start;
		if (parse_uint(&p, 65535, &a) < 0 || !only_space(p))
			return -EINVAL;
		sys.unprivileged_port_start = (int)a;
	}

	_cleanup_free_ char *range = NULL;
	r = read_sysctl(dfd, "net/ipv4/ip_local_port_range", &range);
	if (r < 0)
		return r;
	if (r == 0) {
		/* "32768\t60999\n" */
		p = range;
		if (parse_uint(&p, 65535, &a) < 0 || (*p != '\t' && *p != ' '))
			return -EINVAL;
		p += strspn(p, " \t");
		if (parse_uint(&p, 65535, &b) < 0 || !only_space(p) || a > b)
			return -EINVAL;
		sys.local_lo = (uint16_t)a;
		sys.local_hi = (uint16_t)b;
	}

	_cleanup_free_ char *reserved = NULL;
	r = read_sysctl(dfd, "net/ipv4/ip_local_reserved_ports", &reserved);
	if (r < 0)
		return r;
	if (r == 0 && pw_parse_port_list(reserved, sys.reserved) < 0)
		return -EINVAL;

	*ret = sys;
	return 0;
}
