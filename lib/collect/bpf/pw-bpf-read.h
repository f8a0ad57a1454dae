/* SPDX-License-Identifier: MIT */
/* Iterator output turned into userspace structs: the fd walk's process
 * facts (struct pw_fd_facts -> pw_task_facts), socket flags (pw_sk_rec ->
 * pw_bpf_sockopt). */
#ifndef PW_BPF_READ_H
#define PW_BPF_READ_H

#include <linux/types.h>

#include "bpf/pw-bpf.h"
#include "internal.h"
#include "pw-bpf-records.h"

/* Append one record, converted (start time in clock ticks). -ENOMEM. */
int pw_bpf_add_facts(struct pw_walk *w, const struct pw_fd_facts *f);
/* Sort w->facts by pid and keep one per pid (a table resumed, or a second
 * walk, repeats some). */
void pw_bpf_sort_facts(struct pw_walk *w);

/* Run a socket iterator of link to its end (or, with until, to the
 * listening-only end marker), each record converted and passed to cb; a
 * negative cb result stops it and is returned. */
int pw_bpf_read_sockopts(int link, bool until, int (*cb)(const struct pw_bpf_sockopt *o, void *arg),
			 void *arg);

#endif
