/* SPDX-License-Identifier: MIT */
/*
 * The sock_diag request for a query, as a pure function: which protocols
 * and families to dump, with which states, and the kernel-side port filter.
 * diag.c sends it; tests/unit/test_diag_request.c checks it.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include "internal.h"

static const struct {
	unsigned bit;
	uint8_t ipproto;
} protos[] = {
    {PW_PROTO_TCP, IPPROTO_TCP},
    {PW_PROTO_UDP, IPPROTO_UDP},
    {PW_PROTO_UDPLITE, IPPROTO_UDPLITE},
};

int pw_diag_request_build(const struct pw_query *q, struct pw_diag_request *ret)
{
	struct pw_diag_request *rq = ret;
	rq->protos = q->protos ? q->protos : PW_PROTO_ALL;
	if (q->n_specs) {
		unsigned want = 0;
		for (size_t i = 0; i < q->n_specs; i++)
			want |= q->specs[i].protos ? q->specs[i].protos : PW_PROTO_ALL;
		rq->protos &= want;
	}
	rq->states = q->states ? q->states : PW_STATES_ALL;
	int bc_len = pw_diag_build_bytecode_ends(q->specs, q->n_specs, q->match_remote, rq->bc,
						 sizeof(rq->bc));
	if (bc_len < 0)
		return bc_len;
	rq->bc_len = (size_t)bc_len;
	rq->sport = 0;
	/* the request's sport would drop client ends (their local port differs) */
	for (size_t i = 0; i < q->n_specs && !q->match_remote; i++) {
		const struct pw_portspec *sp = &q->specs[i];
		bool one = sp->lo == sp->hi && sp->lo != 0 && (i == 0 || rq->sport == sp->lo);
		rq->sport = one ? sp->lo : 0;
		if (!one)
			break;
	}

	rq->n_dumps = 0;
	bool both = !q->families || q->families == PW_FAMILY_ALL;
	for (size_t p = 0; p < ARRAY_SIZE(protos); p++) {
		if (!(rq->protos & protos[p].bit))
			continue;
		bool tcp = protos[p].ipproto == IPPROTO_TCP;
		/* No TCP socket in the tables is CLOSE (bound-inactive has its own
		 * bit), and asking for CLOSE makes the kernel walk every
		 * established socket too: ask TCP for what it can have. */
		uint32_t states = rq->states;
		if (tcp)
			states &= ~PW_STATE_BIT(PW_ST_CLOSE);
		if (!states)
			continue;
		static const uint8_t fams[] = {AF_INET, AF_INET6};
		for (size_t f = 0; f < 2; f++) {
			uint8_t fam = fams[f];
			if (tcp && both) {
				if (f == 1)
					break;
				fam = AF_UNSPEC; /* one walk for both families */
			} else if (!both && !(q->families & (fam == AF_INET ? PW_FAMILY_INET
									    : PW_FAMILY_INET6))) {
				continue;
			}
			rq->dumps[rq->n_dumps++] =
			    (struct pw_diag_dumpspec){fam, protos[p].ipproto, states};
		}
	}
	return 0;
}
