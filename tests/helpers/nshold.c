/* SPDX-License-Identifier: MIT */
/*
 * nshold DIR — a namespace deleted in the middle of a scan, made exact.
 *
 * Does what pw_snapshot_take does with /run/netns, step by step, with a
 * pause where a scan is at its most exposed: finds the namespaces bound
 * under DIR (pw_netns_add_bound, which holds each by an fd), prints
 * "held INODE..." and waits for a line on stdin. The test deletes the
 * namespace meanwhile (umount, ip netns del). Then it enters each one as
 * the snapshot would (pw_netns_run) and prints "entered INODE" and the
 * local UDP ports it sees there (/proc/thread-self/net/udp), or
 * "skipped INODE ERRNO".
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static void udp_ports(void)
{
	FILE *f = fopen("/proc/thread-self/net/udp", "re");
	if (!f)
		return;
	char line[512];
	unsigned port;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %*u: %*x:%x", &port) == 1)
			printf(" %u", port);
	fclose(f);
}

static int show(uint64_t netns, void *arg)
{
	(void)netns;
	(void)arg;
	printf("entered %llu", (unsigned long long)pw_netns_current());
	udp_ports();
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: nshold DIR\n", stderr);
		return 2;
	}
	struct pw_walk w = {0};
	int r = pw_netns_add_bound(argv[1], &w);
	if (r < 0) {
		fprintf(stderr, "nshold: %s\n", strerror(-r));
		return 1;
	}
	printf("held");
	for (size_t i = 0; i < w.n_ns; i++)
		printf(" %llu%s", (unsigned long long)w.ns[i].ino, w.ns[i].held ? "" : "(path)");
	printf("\n");
	fflush(stdout);

	char go[16];
	if (!fgets(go, sizeof(go), stdin))
		return 1;
	int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; i < w.n_ns; i++) {
		r = pw_netns_run(procfd, &w.ns[i], show, NULL);
		if (r < 0)
			printf("skipped %llu %d\n", (unsigned long long)w.ns[i].ino, -r);
	}
	close(procfd);
	pw_walk_free(&w);
	return 0;
}
