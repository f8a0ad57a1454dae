// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
/* Socket fds of every fd table, the simple way: iter/task_file (5.8) hands
 * over every open file of every task (threads only when their fd table is
 * not their leader's), bpf_sock_from_file (5.11) tells sockets apart.
 * One struct pw_ff_rec per socket fd; network namespaces go into a hash map
 * (a retried seq_file object cannot lose them there) and the number of
 * processes seen into .bss. Used where fdwalk.bpf.c cannot load (kernels
 * before 6.2) and by the selftest to cross-check it. Single reader.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "pw-bpf-records.h"
#include "pw-iter.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* reset by userspace before each walk */
__u32 pw_ff_last_tid; /* kernel (init namespace) tid of the task seen last */
__u32 pw_ff_processes;
/* ids of the current task as seen by the reader, kept across objects */
__u32 pw_ff_tgid;
__u32 pw_ff_tid;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, 1 /* BPF_F_NO_PREALLOC */);
	__type(key, __u32); /* netns inode */
	__type(value, __u32); /* a tgid living there */
} pw_ff_netns SEC(".maps");

static __always_inline int upid_at(struct pid *pid, __u32 level, struct pw_upid *u)
{
	__u64 off = bpf_core_field_offset(struct pid, numbers) +
		    (__u64)level * sizeof(struct pw_upid);
	return bpf_probe_read_kernel(u, sizeof(*u), (const void *)((__u64)pid + off));
}

/* number of pid in the reader's pid namespace (level, ns), 0 if none */
static __always_inline __u32 nr_in(struct pid *pid, __u32 level, __u64 ns)
{
	struct pw_upid u;

	if (!pid || BPF_CORE_READ(pid, level) < level)
		return 0;
	if (upid_at(pid, level, &u) || (__u64)u.ns != ns)
		return 0;
	return (__u32)u.nr;
}

#define ANON_INODE_FS_MAGIC 0x09041934u

/* An io_uring instance: an anon inode file named "[io_uring]" */
static __always_inline bool is_uring(struct file *file)
{
	const unsigned char *name;
	char n[11];

	if (BPF_CORE_READ(file, f_inode, i_sb, s_magic) != ANON_INODE_FS_MAGIC)
		return false;
	name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	if (!name || bpf_probe_read_kernel(n, sizeof(n), name))
		return false;
	return n[0] == '[' && n[1] == 'i' && n[2] == 'o' && n[3] == '_' && n[4] == 'u' &&
	       n[5] == 'r' && n[6] == 'i' && n[7] == 'n' && n[8] == 'g' && n[9] == ']' &&
	       n[10] == 0;
}

static __always_inline void new_task(struct seq_file *seq, struct task_struct *task, __u32 ktid)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct pid *cpid = BPF_CORE_READ(cur, thread_pid);
	__u32 level = BPF_CORE_READ(cpid, level), tgid, tid, netns;
	struct pw_upid u;

	tgid = BPF_CORE_READ(task, tgid);
	tid = ktid;
	if (level) {
		if (upid_at(cpid, level, &u))
			return;
		tid = nr_in(BPF_CORE_READ(task, thread_pid), level, (__u64)u.ns);
		tgid = nr_in(BPF_CORE_READ(task, group_leader, thread_pid), level, (__u64)u.ns);
		if (!tid || !tgid)
			return;
	}
	pw_ff_tgid = tgid;
	pw_ff_tid = tid;
	if (tid == tgid) {
		struct pw_ff_rec v = { .tgid = tgid, .tid = tid, .fd = PW_FF_VISIT };

		pw_ff_processes++;
		/* lost if this object is retried: the process is then walked
		 * again through /proc, which only costs time */
		bpf_seq_write(seq, &v, sizeof(v));
	}
	netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	if (netns)
		bpf_map_update_elem(&pw_ff_netns, &netns, &tgid, BPF_NOEXIST);
}

SEC("iter/task_file")
int pw_fd_file(struct pw_iter_task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct pw_ff_rec r;
	__u32 ktid;

	if (!task || !file)
		return 0;
	ktid = BPF_CORE_READ(task, pid);
	if (ktid != pw_ff_last_tid) {
		pw_ff_last_tid = ktid;
		pw_ff_tgid = 0;
		new_task(ctx->meta->seq, task, ktid);
	}
	if (!pw_ff_tgid)
		return 0;
	r.tgid = pw_ff_tgid;
	r.tid = pw_ff_tid;
	if (bpf_sock_from_file(file)) {
		r.fd = ctx->fd;
		r.inode = (__u32)BPF_CORE_READ(file, f_inode, i_ino);
	} else if (is_uring(file)) {
		r.fd = ctx->fd | PW_FD_RING_FLAG;
		r.inode = 0;
	} else {
		return 0;
	}
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
