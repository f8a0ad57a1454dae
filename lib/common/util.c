/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>

#include "internal.h"

int pw_grow(void **ptr, size_t *cap, size_t need, size_t elsize)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elsize)
			return -ENOMEM;
		ncap *= 2;
	}
	void *p = realloc(*ptr, ncap * elsize);
	if (!p)
		return -ENOMEM;
	*ptr = p;
	*cap = ncap;
	return 0;
}

static int read_whole(int dirfd, const char *path, size_t max, bool short_read_ends, char **ret,
		      size_t *ret_len)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	size_t cap = max < 4096 ? max : 4096, len = 0;
	_cleanup_free_ char *buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap >= max)
				break;
			size_t ncap = cap * 2 > max ? max : cap * 2;
			char *nb = realloc(buf, ncap + 1);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (short_read_ends && len < cap)
			break;
	}
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	*ret = TAKE_PTR(buf);
	return 0;
}

int pw_read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len)
{
	return read_whole(dirfd, path, max, false, ret, ret_len);
}

int pw_read_proc_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len)
{
	return read_whole(dirfd, path, max, true, ret, ret_len);
}

bool pw_have_cap(int cap)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {0};
	if (syscall(SYS_capget, &h, d) < 0)
		return geteuid() == 0;
	return d[cap / 32].effective & (1u << (cap % 32));
}
