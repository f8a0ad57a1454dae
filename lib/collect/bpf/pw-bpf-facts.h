/* SPDX-License-Identifier: MIT */
/* The process facts records of the fd walk (struct pw_fd_facts) turned into
 * the walk's pw_task_facts. */
#ifndef PW_BPF_FACTS_H
#define PW_BPF_FACTS_H

#include <linux/types.h>

#include "internal.h"
#include "pw-bpf-records.h"

/* Append one record, converted (start time in clock ticks). -ENOMEM. */
int pw_bpf_add_facts(struct pw_walk *w, const struct pw_fd_facts *f);
/* Sort w->facts by pid and keep one per pid (a table resumed, or a second
 * walk, repeats some). */
void pw_bpf_sort_facts(struct pw_walk *w);

#endif
