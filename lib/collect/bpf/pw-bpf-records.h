/* SPDX-License-Identifier: MIT */
/* Records the BPF iterators write into their seq_file, shared by the BPF
 * programs (types from vmlinux.h) and the userspace reader (linux/types.h).
 * Everything is host order unless said otherwise, naturally aligned, with
 * explicit padding so both compilers agree on the layout. */
#ifndef PW_BPF_RECORDS_H
#define PW_BPF_RECORDS_H

/* Fast holder walk (fdwalk.bpf.c, iter/task): one seq_file object per fd
 * table: a struct pw_fd_hdr, then one struct pw_fd_rec per socket fd, then,
 * if the table was cut short, a struct pw_fd_resume. The first word of each
 * piece tells them apart: the two magics are above any fd number (fs.nr_open
 * stops below 2^30). A bpf_iter object must fit the iterator's fixed 8-page
 * buffer (32 KiB with 4 KiB pages), so a table with more than PW_FD_CAP
 * sockets is cut at a 64-fd word boundary and finished by userspace with a
 * one-task iterator starting from pw_fd_resume.word. */
#define PW_FD_HDR_MAGIC 0x70774648u /* "pwFH" */
#define PW_FD_RESUME_MAGIC 0x70774652u /* "pwFR" */
#define PW_FD_FACTS_MAGIC 0x70774650u /* "pwFP" */
#define PW_FD_CAP 3840u /* 16 + 3840 * 8 + 80 + 8 = 30824 bytes per object at most */
#define PW_FD_MAX_SHARDS 4u
#define PW_FD_SLOTS (PW_FD_MAX_SHARDS + 1u) /* + one reader resuming a big table */
#define PW_FD_RESUME_SLOT PW_FD_MAX_SHARDS

struct pw_fd_hdr {
	__u32 magic;
	__u32 tgid; /* as seen from the reader's pid namespace */
	__u32 tid; /* == tgid unless this is a thread with a private table */
	__u32 netns; /* inode of task->nsproxy->net_ns, 0 without nsproxy */
};

struct pw_fd_rec {
	__u32 fd; /* | PW_FD_RING_FLAG: an io_uring, inode 0 */
	__u32 inode;
};
/* The facts of the process owning a table that held sockets, written after
 * its records (again after a resumed part: the reader keeps the first), read
 * from its thread-group leader as /proc/TGID/stat, status and ns/net show
 * them, so most holders need no /proc reads of those files. */
struct pw_fd_facts {
	__u32 magic;
	__u32 tgid; /* as seen from the reader's pid namespace */
	__u32 ppid; /* the real parent's tgid in the reader's view, 0 none */
	__u32 euid; /* real_cred->euid (the kernel uid: the reader is in the init user ns) */
	__u32 nspid; /* the pid in the task's own (innermost) pid namespace */
	__u32 netns; /* inode of its nsproxy->net_ns, 0 without nsproxy */
	__u64 start_ns; /* start_boottime */
	__u64 css; /* address of its css_set: a key (equal keys, equal cgroups), never a pointer */
	char comm[16];
	char exe[16]; /* the executable's file name, cut to 15 bytes; "" when none */
};

/* An io_uring's fd: its file table (fixed files) is read by userspace from
 * /proc/PID/fdinfo/FD. Bit 31 is above any fd and any magic. */
#define PW_FD_RING_FLAG 0x80000000u

struct pw_fd_resume {
	__u32 magic;
	__u32 word; /* open_fds word (fd / 64) to continue from */
};

/* Fallback holder walk (fdfile.bpf.c, iter/task_file): one record per socket
 * fd; namespaces go to a hash map, process count to .bss. */
struct pw_ff_rec {
	__u32 tgid;
	__u32 tid;
	__u32 fd; /* | PW_FD_RING_FLAG: an io_uring; PW_FF_VISIT: a process seen */
	__u32 inode;
};
/* fd of the record written once per process when its first file is seen:
 * the walk knows which processes it visited (not those without files) */
#define PW_FF_VISIT 0xffffffffu

/* Socket options (sockopts.bpf.c, iter/tcp + iter/udp): one per socket. */
struct pw_sk_rec {
	__u64 cookie;
	__u32 inode;
	__u32 uid;
	__u8 family;
	__u8 proto;
	__u8 state;
	__u8 reuse;
	__u8 reuseport;
	__u8 v6only;
	__u8 pad[2];
	__u32 ifindex;
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
};

#endif
