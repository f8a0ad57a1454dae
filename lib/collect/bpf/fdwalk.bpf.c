// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
/* Socket fds of every fd table on the host, walked in the kernel.
 *
 * An iter/task program visits every task; for each thread-group leader (and
 * each thread whose fd table differs from its leader's) it walks the
 * open_fds bitmap of the table with bpf_loop, reads the file pointers 64 at a
 * time, keeps the files whose inode lives on sockfs and writes one seq_file
 * object per table (layout in pw-bpf-records.h): the header, then the
 * records of each 64-fd word with one bpf_seq_write (fewer helper calls let
 * the cache misses on struct file and inode overlap: ~20% faster than one
 * write per socket).
 *
 * Up to PW_FD_MAX_SHARDS readers run at once, each through its own iterator
 * of this one program: a reader finds its slot by its tid, takes the tasks
 * with tgid % pw_nshards == slot and owns that slot of the scratch map, so
 * readers never share memory. A table with more sockets than one object may
 * carry is finished by a reader in PW_FD_RESUME_SLOT through a link
 * restricted to that task's process.
 *
 * Kernel objects are read through bpf_rdonly_cast() pointers: fault-safe
 * loads that the verifier does not have to vet one by one (it is the load
 * time that matters here). Needs bpf_loop (5.17) and bpf_rdonly_cast (6.2).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "pw-bpf-records.h"
#include "pw-iter.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define SOCKFS_MAGIC 0x534F434Bu
#define ANON_INODE_FS_MAGIC 0x09041934u

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

#define KCAST(p, type) ((struct type *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(struct type)))

/* Set by userspace before a walk. Reader threads are told apart by their
 * tid as seen in their own pid namespace: slot k < pw_nshards takes the
 * tasks with tgid % pw_nshards == k; PW_FD_RESUME_SLOT walks only the task
 * pw_resume_tid (reader's numbering; its link is restricted to the process,
 * which every kernel with such links handles for threads too) from bitmap
 * word pw_resume_word. */
__u32 pw_nshards = 1;
__u32 pw_reader_tid[PW_FD_SLOTS];
__u32 pw_resume_tid;
__u32 pw_resume_word;
/* Always 0. The verifier cannot know that, so counters start as an unknown
 * number and are never tracked value by value across loop iterations (which
 * would make verification, i.e. load time, explode). */
__u32 pw_zero;

/* The file pointers of the 64-fd word being looked at and the records found
 * in it, one row per reader. */
struct scratch {
	__u64 files[64];
	struct pw_fd_rec rec[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_FD_SLOTS);
	__type(key, __u32);
	__type(value, struct scratch);
} pw_scratch SEC(".maps");

struct wctx {
	struct seq_file *seq;
	struct scratch *s;
	__u64 fdarr; /* struct file ** */
	__u64 open_fds; /* unsigned long * */
	__u64 bits; /* open_fds word being walked */
	__u32 word0; /* first word of this run */
	__u32 word; /* current word */
	__u32 n; /* records written for this table */
	__u32 k; /* records of the current word in s->rec */
	__u32 resume; /* word to resume from, 0 when complete */
};

/* pid numbers as seen from the reader's pid namespace. At level 0 (the
 * common case) the task's own numbers are the reader's. */
struct nsview {
	__u32 level;
	__u64 ns;
};

static __always_inline int upid_at(__u64 pid, __u32 level, struct pw_upid *u)
{
	__u64 off = bpf_core_field_offset(struct pid, numbers) +
		    (__u64)level * sizeof(struct pw_upid);
	return bpf_probe_read_kernel(u, sizeof(*u), (const void *)(pid + off));
}

/* number of a struct pid in the reader's namespace, 0 when it has none */
static __always_inline __u32 nr_in_view(const struct nsview *v, __u64 pid)
{
	struct pw_upid u;

	if (!pid || KCAST(pid, pid)->level < v->level)
		return 0;
	if (upid_at(pid, v->level, &u) || (__u64)u.ns != v->ns)
		return 0;
	return (__u32)u.nr;
}

/* An io_uring instance: an anon inode file named "[io_uring]" (its own
 * inode since 6.7, the shared anon inode before: the name decides). */
static __always_inline bool is_uring(__u64 fp)
{
	const unsigned char *name = KCAST(fp, file)->f_path.dentry->d_name.name;
	char n[11];

	if (!name || bpf_probe_read_kernel(n, sizeof(n), name))
		return false;
	return n[0] == '[' && n[1] == 'i' && n[2] == 'o' && n[3] == '_' && n[4] == 'u' &&
	       n[5] == 'r' && n[6] == 'i' && n[7] == 'n' && n[8] == 'g' && n[9] == ']' &&
	       n[10] == 0;
}

/* The process's facts, from its thread-group leader. */
static __always_inline void emit_facts(struct seq_file *seq, struct task_struct *t,
				       const struct nsview *v, __u32 tgid)
{
	struct task_struct *l = t->group_leader, *parent;
	struct pw_fd_facts f = {};
	struct mm_struct *mm;
	struct pw_upid u;
	__u64 tp;

	if (!l)
		return;
	f.magic = PW_FD_FACTS_MAGIC;
	f.tgid = tgid;
	tp = (__u64)l->thread_pid;
	if (!tp)
		return; /* exiting: /proc would say ppid 0 and more; let it */
	if (!upid_at(tp, KCAST(tp, pid)->level, &u))
		f.nspid = (__u32)u.nr;
	parent = l->real_parent;
	if (parent)
		f.ppid = v->level ? nr_in_view(v, (__u64)parent->group_leader->thread_pid)
				  : (__u32)parent->tgid;
	f.euid = l->real_cred->euid.val;
	if (l->nsproxy)
		f.netns = l->nsproxy->net_ns->ns.inum;
	f.start_ns = l->start_boottime;
	f.css = (__u64)l->cgroups;
	bpf_probe_read_kernel(f.comm, sizeof(f.comm), (const void *)l->comm);
	mm = l->mm;
	if (mm && mm->exe_file)
		bpf_probe_read_kernel_str(f.exe, sizeof(f.exe),
					  mm->exe_file->f_path.dentry->d_name.name);
	bpf_seq_write(seq, &f, sizeof(f));
}

static long bit_cb(__u32 b, struct wctx *c)
{
	struct scratch *s = c->s;
	struct inode *ino;
	__u64 fp;
	__u32 k, fd, inum;
	unsigned long magic;

	if (b >= 64 || !s)
		return 1;
	if (!(c->bits & (1ULL << b)))
		return 0;
	fp = s->files[b];
	if (!fp)
		return 0;
	ino = KCAST(fp, file)->f_inode;
	if (!ino)
		return 0;
	magic = ino->i_sb->s_magic;
	if (magic == SOCKFS_MAGIC) {
		fd = c->word * 64 + b;
		inum = (__u32)ino->i_ino;
	} else if (magic == ANON_INODE_FS_MAGIC && is_uring(fp)) {
		fd = (c->word * 64 + b) | PW_FD_RING_FLAG;
		inum = 0;
	} else {
		return 0;
	}
	k = c->k;
	if (k >= 64)
		return 1;
	s->rec[k].fd = fd;
	s->rec[k].inode = inum;
	c->k = k + 1;
	return 0;
}

static long word_cb(__u32 i, struct wctx *c)
{
	struct scratch *s = c->s;
	__u32 w = c->word0 + i, k;
	__u64 bits;

	if (!s)
		return 1;
	if (bpf_probe_read_kernel(&bits, sizeof(bits), (const void *)(c->open_fds + (__u64)w * 8)))
		return 1;
	if (!bits)
		return 0;
	if (c->n > PW_FD_CAP - 64) {
		c->resume = w; /* the rest goes into another object */
		return 1;
	}
	if (bpf_probe_read_kernel(s->files, sizeof(s->files), (const void *)(c->fdarr + (__u64)w * 512)))
		return 1;
	c->word = w;
	c->bits = bits;
	c->k = pw_zero;
	bpf_loop(64, bit_cb, c, 0);
	k = c->k;
	if (k > 64)
		k = 64;
	if (k)
		bpf_seq_write(c->seq, s->rec, k * sizeof(struct pw_fd_rec));
	c->n += k;
	return 0;
}

SEC("iter/task")
int pw_fd_walk(struct pw_iter_task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *t, *cur;
	struct files_struct *files;
	struct fdtable *fdt;
	struct nsproxy *nsp;
	struct pw_fd_hdr h;
	struct nsview v;
	struct wctx c = {};
	__u32 me, slot, word0 = 0, nwords;

	if (!ctx->task)
		return 0;
	t = KCAST(ctx->task, task_struct);
	cur = KCAST(bpf_get_current_task_btf(), task_struct);

	v.level = cur->thread_pid->level;
	v.ns = 0;
	me = cur->pid;
	if (v.level) {
		struct pw_upid u;

		if (upid_at((__u64)cur->thread_pid, v.level, &u))
			return 0;
		v.ns = (__u64)u.ns;
		me = u.nr;
	}
	/* which reader is this? */
	for (slot = 0; slot < PW_FD_SLOTS; slot++)
		if (pw_reader_tid[slot] == me)
			break;
	if (slot >= PW_FD_SLOTS)
		return 0;

	h.magic = PW_FD_HDR_MAGIC;
	h.tgid = t->tgid;
	h.tid = t->pid;
	if (slot != PW_FD_RESUME_SLOT && pw_nshards > 1 && h.tgid % pw_nshards != slot)
		return 0;
	files = t->files;
	if (h.tid != h.tgid && (!files || files == t->group_leader->files))
		return 0; /* a thread sharing its leader's table */
	if (v.level) {
		h.tid = nr_in_view(&v, (__u64)t->thread_pid);
		h.tgid = nr_in_view(&v, (__u64)t->group_leader->thread_pid);
		if (!h.tid || !h.tgid)
			return 0;
	}
	if (slot == PW_FD_RESUME_SLOT) {
		if (h.tid != pw_resume_tid)
			return 0;
		word0 = pw_resume_word;
	}
	h.netns = 0;
	nsp = t->nsproxy;
	if (nsp)
		h.netns = nsp->net_ns->ns.inum;
	bpf_seq_write(seq, &h, sizeof(h));
	if (!files)
		return 0;

	c.seq = seq;
	c.s = bpf_map_lookup_elem(&pw_scratch, &slot);
	if (!c.s)
		return 0;
	c.n = pw_zero;
	c.word0 = word0;
	/* one fdtable: a resize swaps in a bigger one (the old one stays
	 * readable until an RCU grace period, which this program is inside) */
	fdt = files->fdt;
	c.fdarr = (__u64)fdt->fd;
	c.open_fds = (__u64)fdt->open_fds;
	nwords = fdt->max_fds / 64;
	if (nwords > (1u << 23))
		nwords = 1u << 23; /* bpf_loop's limit; no real table is near */
	if (c.fdarr && c.open_fds && nwords > word0)
		bpf_loop(nwords - word0, word_cb, &c, 0);
	if (c.n)
		emit_facts(seq, t, &v, h.tgid);
	if (c.resume) {
		struct pw_fd_resume rs = { .magic = PW_FD_RESUME_MAGIC, .word = c.resume };

		bpf_seq_write(seq, &rs, sizeof(rs));
	}
	return 0;
}
