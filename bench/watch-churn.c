/* SPDX-License-Identifier: MIT */
/* The churning load for bench/watch.sh: socket, bind 127.0.0.1:PORT, listen,
 * close, as fast as it goes for SECONDS; prints the loops per second (each
 * loop is three watch events: bind, listen, close). PORT 0: getppid() in a
 * loop instead, the cost the tracer adds to every other system call.
 * usage: watch-churn SECONDS PORT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fputs("usage: watch-churn SECONDS PORT\n", stderr);
		return 2;
	}
	double secs = atof(argv[1]);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	double t0 = now(), t = t0;
	unsigned long n = 0;
	while (a.sin_port == 0 && t - t0 < secs) {
		for (int i = 0; i < 4096; i++, n++)
			getppid();
		t = now();
	}
	while (a.sin_port != 0 && t - t0 < secs) {
		for (int i = 0; i < 256; i++, n++) {
			int s = socket(AF_INET, SOCK_STREAM, 0);
			int one = 1;
			if (s < 0 ||
			    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
			    bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0) {
				perror("watch-churn");
				return 1;
			}
			close(s);
		}
		t = now();
	}
	printf("%.0f loops/s (%lu loops in %.2f s)\n", (double)n / (t - t0), n, t - t0);
	return 0;
}
