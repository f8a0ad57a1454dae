/* SPDX-License-Identifier: MIT */
/*
 * libsystemd's sd-bus, opened with dlopen() the first time portwho talks to
 * systemd (socket units of sockets systemd holds; kill stopping a unit).
 * Linked, it and what it pulls in (libgcrypt, liblzma, libzstd, liblz4,
 * libcap) cost every run about 1.3 MB of memory and their start-up, for
 * the few runs that need a bus.
 */
#include <dlfcn.h>
#include <pthread.h>

#include "internal.h"

#if HAVE_LIBSYSTEMD
static struct pw_sdbus sd;
static int sd_state; /* 0 untried, 1 ready, -1 unavailable */
static pthread_mutex_t sd_lock = PTHREAD_MUTEX_INITIALIZER;

#define SYM(field, name) (*(void **)&sd.field = dlsym(h, name))

static void open_locked(void)
{
	sd_state = -1;
	void *h = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return;
	bool ok = SYM(open_system, "sd_bus_open_system") && SYM(open_user, "sd_bus_open_user") &&
		  SYM(call_method, "sd_bus_call_method") &&
		  SYM(get_property, "sd_bus_get_property") &&
		  SYM(message_enter_container, "sd_bus_message_enter_container") &&
		  SYM(message_read, "sd_bus_message_read") &&
		  SYM(message_unref, "sd_bus_message_unref") &&
		  SYM(error_free, "sd_bus_error_free") &&
		  SYM(error_has_name, "sd_bus_error_has_name") &&
		  SYM(flush_close_unref, "sd_bus_flush_close_unref");
	/* systemd 248+: without it another user's manager is out of reach */
	SYM(open_user_machine, "sd_bus_open_user_machine");
	if (ok)
		sd_state = 1; /* the handle stays open: nothing else loads it */
	else
		dlclose(h);
}

const struct pw_sdbus *pw_sdbus(void)
{
	pthread_mutex_lock(&sd_lock);
	if (!sd_state)
		open_locked();
	int st = sd_state;
	pthread_mutex_unlock(&sd_lock);
	return st > 0 ? &sd : NULL;
}
#endif
