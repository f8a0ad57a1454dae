/* libFuzzer: the PORTSPEC parser (command-line input) and its matcher. */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "internal.h"

static struct pw_services *services;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!services && pw_services_load("/nonexistent/services", &services) < 0)
		return 0; /* the built-in table: the same names on every machine */
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	struct pw_portspec spec;
	char err[256];
	for (int with = 0; with < 2; with++) {
		if (pw_portspec_parse(s, with ? services : NULL, &spec, err, sizeof(err)) == 0) {
			if (spec.lo > spec.hi)
				__builtin_trap();
			struct pw_addr any = {.family = AF_INET6};
			(void)pw_portspec_match(&spec, IPPROTO_TCP, &any, spec.lo, false);
		} else if (!memchr(err, '\0', sizeof(err))) {
			__builtin_trap(); /* the reason is always terminated */
		}
	}
	free(s);
	return 0;
}
