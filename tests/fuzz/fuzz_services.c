/* libFuzzer: an /etc/services file (read through a memfd, as from disk). */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("services", MFD_CLOEXEC);
		if (fd < 0)
			return 0;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	struct pw_services *s = NULL;
	if (pw_services_load(path, &s) < 0)
		return 0;
	uint16_t port;
	(void)pw_services_port(s, "http", "tcp", &port);
	(void)pw_services_port(s, "domain", NULL, &port);
	const char *n = pw_services_name(s, 53, "udp");
	if (n && !*n)
		__builtin_trap(); /* a name is never empty */
	(void)pw_services_name(s, 65535, "tcp");
	pw_services_free(s);
	return 0;
}
