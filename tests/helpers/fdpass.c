/* SPDX-License-Identifier: MIT */
/*
 * fdpass: hand a socket to an unrelated process over SCM_RIGHTS.
 *
 *   fdpass recv PATH
 *       Listen on the unix socket PATH (unlinked first), print "listening",
 *       accept one connection and receive one fd over SCM_RIGHTS, print
 *         {"pid":P,"fd":F,"inode":I}
 *       then "ready", send one ack byte back and hold the fd.
 *   fdpass send PATH SOCKET [keep|close]
 *       Open SOCKET: tcp-listen:ADDR:PORT or udp:ADDR:PORT (ADDR dotted IPv4
 *       or [IPv6]; PORT 0 = the kernel chooses), connect to PATH, send the
 *       fd, wait for the receiver's ack (it holds the socket from then on),
 *       then keep (default) or close this process's copy, and print
 *         {"pid":P,"fd":F,"inode":I,"proto":"tcp","port":N,"kept":true}
 *       (fd is -1 when closed) and "ready".
 *   fdpass detach recv|send ...
 *       The same, but first fork and let the started process exit: the one
 *       that does the work is reparented (to PID 1 or a subreaper), so it is
 *       neither child nor sibling of anything the test started. It stays in
 *       the process group and keeps stdin/stdout; its JSON line has its pid.
 * Both then wait until SIGTERM/SIGINT or EOF on stdin.
 * Start "recv" first and wait for "listening"; start "send" as a separate
 * process (not a child of the receiver) so that the holders are unrelated.
 * Any failure: one line "fdpass: ..." on stderr, exit status 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("fdpass: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void unix_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		die("path too long: %s", path);
	strcpy(sun->sun_path, path);
}

static unsigned long long inode_of(int fd)
{
	struct stat st;
	if (fstat(fd, &st))
		die("fstat: %m");
	return (unsigned long long)st.st_ino;
}

static void wait_end(void)
{
	for (;;) {
		char buf[256];
		struct pollfd pfd = {.fd = 0, .events = POLLIN};
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %m");
		}
		ssize_t n = read(0, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return;
	}
}

static int do_recv(const char *path)
{
	struct sockaddr_un sun;
	unix_addr(path, &sun);
	unlink(path);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sun, sizeof(sun)) || listen(l, 1))
		die("unix socket %s: %m", path);
	printf("listening\n");
	fflush(stdout);

	int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		die("accept: %m");
	char byte;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	if (recvmsg(c, &msg, MSG_CMSG_CLOEXEC) != 1)
		die("recvmsg: %m");
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
		die("no fd received");
	int fd;
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	close(l);
	unlink(path);
	printf("{\"pid\":%d,\"fd\":%d,\"inode\":%llu}\nready\n", (int)getpid(), fd, inode_of(fd));
	fflush(stdout);
	if (write(c, "k", 1) != 1)
		die("ack: %m");
	close(c);
	wait_end();
	return 0;
}

static int open_socket(const char *spec, bool *udp)
{
	char host[64];
	const char *rest;
	if (!strncmp(spec, "tcp-listen:", 11)) {
		*udp = false;
		rest = spec + 11;
	} else if (!strncmp(spec, "udp:", 4)) {
		*udp = true;
		rest = spec + 4;
	} else
		die("'%s': expected tcp-listen:ADDR:PORT or udp:ADDR:PORT", spec);
	const char *portp;
	bool v6 = *rest == '[';
	if (v6) {
		const char *close = strchr(rest, ']');
		if (!close || close[1] != ':' || (size_t)(close - rest) > sizeof(host))
			die("'%s': bad [ADDR]:PORT", spec);
		memcpy(host, rest + 1, (size_t)(close - rest - 1));
		host[close - rest - 1] = 0;
		portp = close + 2;
	} else {
		const char *colon = strchr(rest, ':');
		if (!colon || (size_t)(colon - rest) >= sizeof(host))
			die("'%s': bad ADDR:PORT", spec);
		memcpy(host, rest, (size_t)(colon - rest));
		host[colon - rest] = 0;
		portp = colon + 1;
	}
	char *end;
	long port = strtol(portp, &end, 10);
	if (end == portp || *end || port < 0 || port > 65535)
		die("'%s': bad port", spec);

	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			die("'%s': bad address", spec);
		len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			die("'%s': bad address", spec);
		len = sizeof(*sin);
	}
	int fd = socket(ss.ss_family, (*udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %m");
	if (bind(fd, (struct sockaddr *)&ss, len))
		die("bind %s: %m", spec);
	if (!*udp && listen(fd, 16))
		die("listen: %m");
	return fd;
}

static int do_send(const char *path, const char *spec, bool keep)
{
	bool udp;
	int fd = open_socket(spec, &udp);
	unsigned long long ino = inode_of(fd);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		die("getsockname: %m");
	int port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						 : ((struct sockaddr_in6 *)&ss)->sin6_port);

	struct sockaddr_un sun;
	unix_addr(path, &sun);
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sun, sizeof(sun)))
		die("connect %s: %m", path);
	char byte = 'f';
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	if (sendmsg(c, &msg, 0) != 1)
		die("sendmsg: %m");
	if (read(c, &byte, 1) != 1)
		die("no ack from the receiver");
	close(c);
	int shown = fd;
	if (!keep) {
		close(fd);
		shown = -1;
	}
	printf("{\"pid\":%d,\"fd\":%d,\"inode\":%llu,\"proto\":\"%s\",\"port\":%d,\"kept\":%s}\n"
	       "ready\n",
	       (int)getpid(), shown, ino, udp ? "udp" : "tcp", port, keep ? "true" : "false");
	fflush(stdout);
	wait_end();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "detach")) {
		pid_t c = fork();
		if (c < 0)
			die("fork: %m");
		if (c > 0)
			_exit(0);
		argc--;
		argv++;
	}
	if (argc == 3 && !strcmp(argv[1], "recv"))
		return do_recv(argv[2]);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "send")) {
		bool keep = true;
		if (argc == 5) {
			if (!strcmp(argv[4], "close"))
				keep = false;
			else if (strcmp(argv[4], "keep"))
				die("expected keep or close, got '%s'", argv[4]);
		}
		return do_send(argv[2], argv[3], keep);
	}
	die("usage: fdpass recv PATH | fdpass send PATH SOCKET [keep|close]");
}
