/* libFuzzer: the /proc text parsers (a process chooses much of what they
 * read: its name, command line, environment). The first byte picks one. */
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t which = data[0];
	data++;
	size--;
	char *buf = malloc(size + 1); /* /proc reads are NUL-terminated */
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *str = NULL;
	pid_t ppid;
	uint64_t start, ino;
	uid_t uid;
	uint32_t inode;
	bool user;
	switch (which % 7) {
	case 0:
		if (pw_parse_stat(buf, size, &str, &ppid, &start) == 0 && !str)
			__builtin_trap();
		break;
	case 1:
		(void)pw_parse_status_euid(buf, &uid);
		break;
	case 2:
		(void)pw_parse_cgroup_unit(buf, &str, &user);
		break;
	case 3:
		(void)pw_environ_get(buf, size, "LISTEN_FDNAMES", &str);
		break;
	case 4:
		if (pw_cmdline_join(buf, size, &str) == 0 && strlen(str) > size)
			__builtin_trap();
		break;
	case 5:
		(void)pw_parse_socket_link(buf, size, &inode);
		break;
	case 6:
		(void)pw_parse_ns_link(buf, size, &ino);
		break;
	}
	free(str);
	free(buf);
	return 0;
}
