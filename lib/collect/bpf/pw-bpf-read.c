/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "pw-bpf-read.h"

/* /proc adds the boot time offset of the reader's time namespace to start
 * times (timens_add_boottime_ns); the walk reads the kernel's own value. */
static int64_t boottime_offset_ns(void)
{
	FILE *f = fopen("/proc/self/timens_offsets", "re");
	if (!f)
		return 0; /* no time namespaces: no offset */
	char line[96];
	int64_t off = 0;
	while (fgets(line, sizeof(line), f)) {
		long long s, ns;
		char clock[32];
		if (sscanf(line, "%31s %lld %lld", clock, &s, &ns) == 3 &&
		    (!strcmp(clock, "boottime") || !strcmp(clock, "7")))
			off = (int64_t)s * 1000000000LL + ns;
	}
	fclose(f);
	return off;
}

int pw_bpf_add_facts(struct pw_walk *w, const struct pw_fd_facts *f)
{
	static long ns_per_tick;
	static int64_t offset;
	if (!ns_per_tick) {
		long hz = sysconf(_SC_CLK_TCK);
		offset = boottime_offset_ns();
		ns_per_tick = hz > 0 ? 1000000000L / hz : 10000000L;
	}
	if (PW_GROW(w->facts, w->cap_facts, w->n_facts + 1) < 0)
		return -ENOMEM;
	struct pw_task_facts *t = &w->facts[w->n_facts++];
	*t = (struct pw_task_facts){
	    .pid = (pid_t)f->tgid,
	    .ppid = (pid_t)f->ppid,
	    .nspid = (pid_t)f->nspid,
	    .uid = f->euid,
	    .netns = f->netns,
	    .cgroups = f->css,
	    /* what field 22 of /proc/PID/stat shows (nsec_to_clock_t) */
	    .start_time = (uint64_t)((int64_t)f->start_ns + offset) / (uint64_t)ns_per_tick,
	};
	memcpy(t->comm, f->comm, sizeof(t->comm));
	memcpy(t->exe, f->exe, sizeof(t->exe));
	t->comm[sizeof(t->comm) - 1] = '\0';
	t->exe[sizeof(t->exe) - 1] = '\0';
	return 0;
}

static int cmp_facts(const void *a, const void *b)
{
	pid_t x = ((const struct pw_task_facts *)a)->pid;
	pid_t y = ((const struct pw_task_facts *)b)->pid;
	return x < y ? -1 : x > y;
}

void pw_bpf_sort_facts(struct pw_walk *w)
{
	size_t n = 0;
	if (w->n_facts > 1)
		qsort(w->facts, w->n_facts, sizeof(*w->facts), cmp_facts);
	for (size_t i = 0; i < w->n_facts; i++)
		if (n == 0 || w->facts[n - 1].pid != w->facts[i].pid)
			w->facts[n++] = w->facts[i];
	w->n_facts = n;
}

/* Records of one socket iterator converted and handed to cb as they are
 * read: neither the raw output (64 bytes a socket) nor an array of them is
 * held. until: stop at a record of family 0 (the listening-only end). */
int pw_bpf_read_sockopts(int link, bool until, int (*cb)(const struct pw_bpf_sockopt *o, void *arg),
			 void *arg)
{
	int fd = bpf_iter_create(link); /* libbpf >= 1.0: -errno on failure */
	if (fd < 0)
		return fd;
	/* bpf_seq_read hands out whole records, at most 32 KiB a call */
	size_t sz = 64u * 1024u, have = 0;
	unsigned char *chunk = malloc(sz);
	int r = chunk ? 0 : -ENOMEM;
	while (r >= 0) {
		ssize_t k = read(fd, chunk + have, sz - have);
		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue; /* a million objects without output: read on */
			r = -errno;
			break;
		}
		if (k == 0)
			break;
		have += (size_t)k;
		size_t whole = have / sizeof(struct pw_sk_rec);
		for (size_t i = 0; i < whole && r >= 0; i++) {
			struct pw_sk_rec x;
			memcpy(&x, chunk + i * sizeof(x), sizeof(x));
			if (until && x.family == 0) {
				have = 0;
				goto done; /* closing the iterator ends its walk */
			}
			struct pw_bpf_sockopt o = {
			    .cookie = x.cookie,
			    .inode = x.inode,
			    .uid = x.uid,
			    .family = x.family,
			    .proto = x.proto,
			    .state = x.state,
			    .reuse = x.reuse,
			    .reuseport = x.reuseport,
			    .v6only = x.v6only,
			    .ifindex = x.ifindex,
			    .lport = x.lport,
			    .rport = x.rport,
			};
			memcpy(o.laddr, x.laddr, 16);
			memcpy(o.raddr, x.raddr, 16);
			r = cb(&o, arg);
		}
		have -= whole * sizeof(struct pw_sk_rec);
		memmove(chunk, chunk + whole * sizeof(struct pw_sk_rec), have);
	}
done:
	if (r >= 0 && have)
		r = -EBADMSG; /* a record cut short */
	free(chunk);
	close(fd);
	return r;
}
