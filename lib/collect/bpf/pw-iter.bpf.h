/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* Iterator program contexts, read without CO-RE. Their layout is the
 * iterator ABI (struct bpf_iter_meta * first, then the object, then extras
 * of fixed types), while every CO-RE relocation against a kernel type costs
 * a search of the whole vmlinux BTF at load time (the kernel's candidate
 * cache keys on name length and first two letters: bpf_iter__tcp,
 * bpf_iter__udp and bpf_iter_meta evict each other). Include after
 * vmlinux.h (whose preserve_access_index pragma ends with it). */
#ifndef PW_ITER_BPF_H
#define PW_ITER_BPF_H

struct pw_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct pw_iter_task {
	struct pw_iter_meta *meta;
	struct task_struct *task;
};

struct pw_iter_task_file {
	struct pw_iter_meta *meta;
	struct task_struct *task;
	__u32 fd;
	struct file *file;
};

struct pw_iter_tcp {
	struct pw_iter_meta *meta;
	struct sock_common *sk_common;
	__u32 uid;
};

struct pw_iter_udp {
	struct pw_iter_meta *meta;
	struct udp_sock *udp_sk;
	__u32 uid;
};

/* struct upid (one level of a struct pid) has been { int nr; struct
 * pid_namespace *ns; } since pid namespaces exist; copied out whole with
 * bpf_probe_read_kernel, so a plain twin spares a relocation. */
struct pw_upid {
	int nr;
	__u64 ns;
};

#endif
