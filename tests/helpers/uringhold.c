/* SPDX-License-Identifier: MIT */
/*
 * uringhold: a TCP listener that only an io_uring ring holds. It binds and
 * listens on ADDR:PORT, registers the socket with the ring as a fixed file
 * (io_uring_register_files), closes the socket's fd and waits. ss and lsof
 * then show no owner; the ring's file table (/proc/PID/fdinfo/RINGFD, or a
 * BPF walk) is the only place the holder can be read.
 *
 * usage: uringhold ADDR PORT [keepfd]
 *   ADDR  dotted IPv4 (0.0.0.0, 127.0.0.1)
 *   PORT  0..65535 (0: the kernel chooses; the report has the real port)
 *   keepfd  do not close the socket's fd (then it is held both ways)
 *
 * Output on stdout once the fd is closed:
 *   {"pid":P,"ring_fd":R,"inode":I,"port":N,"fd_closed":true}
 * then the line "ready". Waits until SIGTERM/SIGINT or EOF on stdin.
 * Any failure: one line "uringhold: ..." on stderr, exit status 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what, int err)
{
	fprintf(stderr, "uringhold: %s: %s\n", what, strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "keepfd") != 0)) {
		fprintf(stderr, "uringhold: usage: uringhold ADDR PORT [keepfd]\n");
		return 2;
	}
	bool keep = argc == 4;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char *end;
	long port = strtol(argv[2], &end, 10);
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 || *end || port < 0 || port > 65535) {
		fprintf(stderr, "uringhold: bad address or port\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)port);

	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return fail("socket", errno);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail("bind", errno);
	if (listen(s, 16) < 0)
		return fail("listen", errno);
	socklen_t sl = sizeof(sa);
	if (getsockname(s, (struct sockaddr *)&sa, &sl) < 0)
		return fail("getsockname", errno);
	struct stat st;
	if (fstat(s, &st) < 0)
		return fail("fstat", errno);

	struct io_uring ring;
	int r = io_uring_queue_init(8, &ring, 0);
	if (r < 0)
		return fail("io_uring_queue_init", -r);
	r = io_uring_register_files(&ring, &s, 1);
	if (r < 0)
		return fail("io_uring_register_files", -r);
	if (!keep)
		close(s);

	printf("{\"pid\":%d,\"ring_fd\":%d,\"inode\":%lu,\"port\":%u,\"fd_closed\":%s}\nready\n",
	       (int)getpid(), ring.ring_fd, (unsigned long)st.st_ino, ntohs(sa.sin_port),
	       keep ? "false" : "true");
	fflush(stdout);

	char buf[64];
	while (read(0, buf, sizeof(buf)) > 0)
		;
	io_uring_queue_exit(&ring);
	return 0;
}
