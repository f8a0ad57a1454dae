/* SPDX-License-Identifier: MIT */
/*
 * bindtry: try socket/setsockopt/bind(/listen) the way a server would, as a
 * given uid, and say how it went. The ground truth for `portwho check`.
 *
 * usage: bindtry [OPTION...] PROTO ADDR:PORT
 *   PROTO      tcp or udp
 *   ADDR:PORT  127.0.0.1:80, 0.0.0.0:53, [::]:443, [::1]:8080
 *   OPTION     reuseaddr reuseport   SO_REUSEADDR / SO_REUSEPORT = 1
 *              v6only dualstack      IPV6_V6ONLY = 1 / 0
 *              listen                also listen(2) (TCP)
 *              dev=IFNAME            SO_BINDTODEVICE
 *              uid=N [gid=N]         become N (setgroups none, setresgid,
 *                                    setresuid) before socket(2); a non-zero
 *                                    uid has no capabilities then
 * Prints one line and exits:
 *   ok                     (status 0) every step succeeded; nothing is kept
 *   STEP ERRNO             (status 1) e.g. "bind EADDRINUSE", "listen
 *                          EADDRINUSE", "bind EACCES"; STEP is one of
 *                          setuid socket setsockopt bind listen
 * A usage error: one line "bindtry: ..." on stderr, status 2.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int usage(const char *why)
{
	fprintf(stderr,
		"bindtry: %s (usage: bindtry [reuseaddr] [reuseport] [v6only|dualstack] "
		"[listen] [dev=IF] [uid=N [gid=N]] tcp|udp ADDR:PORT)\n",
		why);
	return 2;
}

static int failed(const char *step)
{
	const char *name = strerrorname_np(errno);
	printf("%s %s\n", step, name ? name : "EUNKNOWN");
	return 1;
}

static bool parse_id(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > INT_MAX)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	bool reuseaddr = false, reuseport = false, do_listen = false;
	int v6only = -1;
	long uid = -1, gid = -1;
	const char *dev = NULL, *proto = NULL, *ep = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "reuseaddr"))
			reuseaddr = true;
		else if (!strcmp(a, "reuseport"))
			reuseport = true;
		else if (!strcmp(a, "v6only"))
			v6only = 1;
		else if (!strcmp(a, "dualstack"))
			v6only = 0;
		else if (!strcmp(a, "listen"))
			do_listen = true;
		else if (!strncmp(a, "dev=", 4))
			dev = a + 4;
		else if (!strncmp(a, "uid=", 4)) {
			if (!parse_id(a + 4, &uid))
				return usage("bad uid");
		} else if (!strncmp(a, "gid=", 4)) {
			if (!parse_id(a + 4, &gid))
				return usage("bad gid");
		} else if (!proto)
			proto = a;
		else if (!ep)
			ep = a;
		else
			return usage("too many arguments");
	}
	if (!proto || !ep)
		return usage("PROTO and ADDR:PORT are needed");
	bool udp;
	if (!strcmp(proto, "tcp"))
		udp = false;
	else if (!strcmp(proto, "udp"))
		udp = true;
	else
		return usage("PROTO is tcp or udp");

	char host[INET6_ADDRSTRLEN + 1];
	const char *portp;
	bool v6 = ep[0] == '[';
	if (v6) {
		const char *close = strchr(ep, ']');
		if (!close || close[1] != ':' || (size_t)(close - ep - 1) >= sizeof(host))
			return usage("IPv6 needs [ADDR]:PORT");
		memcpy(host, ep + 1, (size_t)(close - ep - 1));
		host[close - ep - 1] = 0;
		portp = close + 2;
	} else {
		const char *colon = strrchr(ep, ':');
		if (!colon || (size_t)(colon - ep) >= sizeof(host))
			return usage("expected ADDR:PORT");
		memcpy(host, ep, (size_t)(colon - ep));
		host[colon - ep] = 0;
		portp = colon + 1;
	}
	long port;
	if (!parse_id(portp, &port) || port > 65535)
		return usage("bad port");

	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return usage("bad IPv6 address");
		len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return usage("bad IPv4 address");
		len = sizeof(*sin);
	}
	if (v6only >= 0 && !v6)
		return usage("v6only/dualstack need an IPv6 address");

	if (uid >= 0) {
		gid_t g = (gid_t)(gid >= 0 ? gid : uid);
		if (setgroups(0, NULL) || setresgid(g, g, g) ||
		    setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid))
			return failed("setuid");
	}

	int one = 1;
	int fd = socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return failed("socket");
	if (reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		return failed("setsockopt");
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		return failed("setsockopt");
	if (v6only >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)))
		return failed("setsockopt");
	if (dev && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev)))
		return failed("setsockopt");
	if (bind(fd, (struct sockaddr *)&ss, len))
		return failed("bind");
	if (do_listen && !udp && listen(fd, 16))
		return failed("listen");
	printf("ok\n");
	close(fd);
	return 0;
}
