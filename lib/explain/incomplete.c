/* SPDX-License-Identifier: MIT */
/* What a snapshot could not see, as data (PRODUCT.md "Honesty about what was
 * not seen"): every renderer (JSON, the table's stderr notes, check, kill,
 * metrics) reads the same list. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>

#include "internal.h"

static const char *const kind_names[PW_INC_MAX] = {
    [PW_INC_NOT_ROOT] = "not-root",
    [PW_INC_HIDEPID] = "hidepid",
    [PW_INC_PROTECTED] = "protected",
    [PW_INC_FD_LIMIT] = "fd-limit",
    [PW_INC_NAMESPACE_SKIPPED] = "namespace-skipped",
    [PW_INC_DUMP_INTERRUPTED] = "dump-interrupted",
    [PW_INC_CMDLINE_TRUNCATED] = "cmdline-truncated",
};

const char *pw_incomplete_kind_name(enum pw_incomplete_kind k)
{
	return (unsigned)k < PW_INC_MAX ? kind_names[k] : NULL;
}

__attribute__((format(printf, 4, 5))) static void
add(struct pw_snapshot *snap, enum pw_incomplete_kind kind, unsigned count, const char *fmt, ...)
{
	char *d = snap->inc_detail[snap->n_incomplete];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d, sizeof(snap->inc_detail[0]), fmt, ap);
	va_end(ap);
	snap->incomplete[snap->n_incomplete++] =
	    (struct pw_incomplete){.kind = kind, .count = count, .detail = d};
}

static const char *plural(unsigned n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

void pw_incomplete_build(struct pw_snapshot *snap)
{
	const struct pw_stats *st = &snap->stats;
	snap->n_incomplete = 0;

	unsigned refused = st->hidden_processes - st->hidepid_processes - st->fd_limit_processes;
	if (refused && !st->privileged)
		add(snap, PW_INC_NOT_ROOT, refused,
		    "%u %s of other users could not be inspected (run as root to see all holders)",
		    refused, plural(refused, "process", "processes"));
	if (st->hidepid_processes)
		add(snap, PW_INC_HIDEPID, st->hidepid_processes,
		    "/proc is mounted hidepid=%d: %u %s (kernel threads included) are not listed "
		    "for this user",
		    st->hidepid, st->hidepid_processes,
		    plural(st->hidepid_processes, "process", "processes"));
	if (refused && st->privileged)
		add(snap, PW_INC_PROTECTED, refused,
		    "%u %s could not be inspected: %s protected even from root", refused,
		    plural(refused, "process", "processes"),
		    plural(refused, "its fd table is", "their fd tables are"));
	if (st->fd_limit_processes || st->bpf_fd_limit) {
		struct rlimit rl = {0};
		getrlimit(RLIMIT_NOFILE, &rl);
		add(snap, PW_INC_FD_LIMIT, st->fd_limit_processes,
		    "%u %s could not be read: out of file descriptors (open-file limit %llu)%s",
		    st->fd_limit_processes, plural(st->fd_limit_processes, "fd table", "fd tables"),
		    (unsigned long long)rl.rlim_cur,
		    st->bpf_fd_limit ? "; the BPF collector could not load for the same reason"
				     : "");
	}
	if (st->netns_skipped) {
		char why[64] = "";
		if (st->netns_skipped_fd_limit)
			snprintf(why, sizeof(why), " (%u for want of file descriptors)",
				 st->netns_skipped_fd_limit);
		add(snap, PW_INC_NAMESPACE_SKIPPED, st->netns_skipped,
		    "%u network %s could not be entered%s; %s sockets are not listed",
		    st->netns_skipped, plural(st->netns_skipped, "namespace", "namespaces"), why,
		    plural(st->netns_skipped, "its", "their"));
	}
	if (st->dumps_interrupted)
		add(snap, PW_INC_DUMP_INTERRUPTED, st->dumps_interrupted,
		    "%u socket %s kept changing during every try; the list may miss sockets",
		    st->dumps_interrupted, plural(st->dumps_interrupted, "dump", "dumps"));
	if (st->cmdline_truncated)
		add(snap, PW_INC_CMDLINE_TRUNCATED, st->cmdline_truncated,
		    "%u command %s longer than 256 KiB, cut there (cmdline_truncated)",
		    st->cmdline_truncated, plural(st->cmdline_truncated, "line is", "lines are"));
}

size_t pw_snapshot_n_incomplete(const struct pw_snapshot *snap)
{
	return snap->n_incomplete;
}

const struct pw_incomplete *pw_snapshot_incomplete(const struct pw_snapshot *snap, size_t i)
{
	return i < snap->n_incomplete ? &snap->incomplete[i] : NULL;
}
