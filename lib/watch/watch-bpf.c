/* SPDX-License-Identifier: MIT */
/* Loader of watch.bpf.c: a light skeleton (the kernel does the CO-RE
 * relocations; libbpf parses no BTF here), the filter written into its .bss
 * before the programs attach, and libbpf's ring buffer reader. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "watch-int.h"
#include "watch.lskel.h"

struct pw_wtracer {
	struct pw_wtrace *skel;
	struct ring_buffer *rb;
	pw_wrec_fn fn;
	void *ctx;
};

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct pw_wtracer *t = ctx;
	if (size >= sizeof(struct pw_wrec))
		t->fn(t->ctx, data);
	return 0;
}

void pw_wtracer_free(struct pw_wtracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	pw_wtrace__destroy(t->skel); /* detaches the programs */
	free(t);
}

int pw_wtracer_open(__u32 flags, const uint8_t ports[65536 / 8], pw_wrec_fn fn, void *ctx,
		    struct pw_wtracer **ret)
{
#ifndef __x86_64__
	return -EOPNOTSUPP; /* watch.bpf.c knows x86_64's system call numbers only */
#endif
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
		return -EOPNOTSUPP;
	libbpf_set_print(silent_print);
	struct pw_wtracer *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fn = fn;
	t->ctx = ctx;
	/* Any load failure (privilege, a kernel without one of the hooks) means
	 * the tracer cannot run here; the errno says why. EAGAIN is passing (the
	 * kernel gives it when memory for the programs is short, as on a busy
	 * host): try again, as libbpf does for its own loads. */
	int r = -EAGAIN;
	for (int attempt = 0; attempt < 5 && r == -EAGAIN; attempt++) {
		pw_wtrace__destroy(t->skel);
		t->skel = pw_wtrace__open();
		if (!t->skel) {
			free(t);
			return -ENOMEM;
		}
		r = pw_wtrace__load(t->skel);
		if (r == -EAGAIN)
			usleep(10000u << attempt);
	}
	if (r != 0) {
		pw_wtracer_free(t);
		return r < 0 ? r : -EOPNOTSUPP;
	}
	t->skel->bss->pw_watch_flags = flags;
	memcpy(t->skel->bss->pw_watch_ports, ports, 65536 / 8);
	t->rb = ring_buffer__new(t->skel->maps.pw_events.map_fd, on_sample, t, NULL);
	if (!t->rb) {
		r = -errno;
		pw_wtracer_free(t);
		return r < 0 ? r : -ENOMEM;
	}
	r = pw_wtrace__attach(t->skel);
	if (r != 0) {
		pw_wtracer_free(t);
		return r < 0 ? r : -EOPNOTSUPP;
	}
	*ret = t;
	return 0;
}

int pw_wtracer_poll(struct pw_wtracer *t, int timeout_ms)
{
	int r = ring_buffer__poll(t->rb, timeout_ms);
	/* records submitted without a wakeup never make epoll report the ring:
	 * read what is there after each wait */
	if (r == 0)
		r = ring_buffer__consume(t->rb);
	return r;
}

uint64_t pw_wtracer_lost(const struct pw_wtracer *t)
{
	return t->skel->bss->pw_watch_lost;
}
