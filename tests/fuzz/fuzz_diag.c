/* libFuzzer: a sock_diag reply datagram, through the same pw_diag_consume
 * the live dump uses (the kernel is trusted, but a parser that reads past a
 * short attribute is a bug whoever sends it). */
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 + sizeof(struct nlmsghdr))
		return 0;
	static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE};
	uint8_t proto = protos[data[0] % 3];
	bool asked_bi = data[0] & 0x80;
	/* aligned copy, as recvfrom's buffer is; the first header names "us" */
	void *buf = malloc(size - 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	const struct nlmsghdr *first = buf;
	struct pw_sockvec sv = {0};
	bool intr = false;
	int r = pw_diag_consume(buf, size - 1, first->nlmsg_seq, first->nlmsg_pid, proto,
				data[0] & 0x40 ? 0 : PW_STATES_ALL, asked_bi, 1, &sv, &intr);
	if (r > 1)
		__builtin_trap();
	/* proto may differ from the request: INET_DIAG_PROTOCOL overrides it */
	for (size_t i = 0; i < sv.n; i++)
		if (sv.v[i].state == 0 || sv.v[i].state >= PW_ST_MAX)
			__builtin_trap();
	free(sv.v); /* the parser leaves ifname and kernel_owner NULL */
	free(buf);
	return 0;
}
