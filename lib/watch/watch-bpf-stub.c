/* SPDX-License-Identifier: MIT */
/* Built without BPF: the watcher always polls. */
#include <errno.h>

#include "watch-int.h"

int pw_wtracer_open(__u32 flags, const uint8_t ports[65536 / 8], pw_wrec_fn fn, void *ctx,
		    struct pw_wtracer **ret)
{
	(void)flags;
	(void)ports;
	(void)fn;
	(void)ctx;
	(void)ret;
	return -EOPNOTSUPP;
}

int pw_wtracer_poll(struct pw_wtracer *t, int timeout_ms)
{
	(void)t;
	(void)timeout_ms;
	return -EOPNOTSUPP;
}

uint64_t pw_wtracer_lost(const struct pw_wtracer *t)
{
	(void)t;
	return 0;
}

void pw_wtracer_free(struct pw_wtracer *t)
{
	(void)t;
}
