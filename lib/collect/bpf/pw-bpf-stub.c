/* SPDX-License-Identifier: MIT */
/* Built instead of pw-bpf.c when BPF support is off (-Dbpf=disabled, or
 * libbpf, clang, bpftool or kernel BTF missing at build time): the library
 * keeps to its /proc and sock_diag routes. */
#include "bpf/pw-bpf.h"
#include "internal.h"

static int walk_unsupported(const struct pw_walk_opts *o, struct pw_walk *out)
{
	(void)o;
	(void)out;
	return -EOPNOTSUPP;
}

const struct pw_collector pw_collector_bpf = {
	.name = "bpf",
	.walk = walk_unsupported,
};

int pw_bpf_sockopts_read(struct pw_bpf_sockopt **ret, size_t *ret_n)
{
	(void)ret;
	(void)ret_n;
	return -EOPNOTSUPP;
}

void pw_bpf_set_walker(enum pw_bpf_walker w)
{
	(void)w;
}

const char *pw_bpf_walker_name(void)
{
	return NULL;
}

void pw_bpf_release(void)
{
}

int pw_bpf_sockopts_read_some(bool tcp_listen_only, struct pw_bpf_sockopt **ret, size_t *ret_n)
{
	(void)tcp_listen_only;
	(void)ret;
	(void)ret_n;
	return -EOPNOTSUPP;
}

int pw_bpf_sockopts_each(bool tcp_listen_only, int (*cb)(const struct pw_bpf_sockopt *o, void *arg),
			 void *arg)
{
	(void)tcp_listen_only;
	(void)cb;
	(void)arg;
	return -EOPNOTSUPP;
}
