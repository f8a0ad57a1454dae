/* SPDX-License-Identifier: MIT */
/* Names for states, protocols, reasons and option sources, and -s STATE parsing. */
#include <netinet/in.h>
#include <strings.h>

#include "internal.h"

/* ss prints these; NEW_SYN_RECV is a request socket ss also shows as SYN-RECV */
/* clang-format off */
static const char *const state_names[PW_ST_MAX] = {
	[PW_ST_ESTABLISHED]	= "ESTAB",
	[PW_ST_SYN_SENT]	= "SYN-SENT",
	[PW_ST_SYN_RECV]	= "SYN-RECV",
	[PW_ST_FIN_WAIT1]	= "FIN-WAIT-1",
	[PW_ST_FIN_WAIT2]	= "FIN-WAIT-2",
	[PW_ST_TIME_WAIT]	= "TIME-WAIT",
	[PW_ST_CLOSE]		= "UNCONN",
	[PW_ST_CLOSE_WAIT]	= "CLOSE-WAIT",
	[PW_ST_LAST_ACK]	= "LAST-ACK",
	[PW_ST_LISTEN]		= "LISTEN",
	[PW_ST_CLOSING]		= "CLOSING",
	[PW_ST_NEW_SYN_RECV]	= "SYN-RECV",
	[PW_ST_BOUND_INACTIVE]	= "BOUND",
};
/* clang-format on */

const char *pw_state_name(uint8_t proto, uint8_t state)
{
	/* UDP reuses the TCP numbers (CLOSE = unconnected, ESTABLISHED =
	 * connected), so one table serves both protocols. */
	(void)proto;
	if (state < PW_ST_MAX && state_names[state])
		return state_names[state];
	return "UNKNOWN"; /* callers print this straight into tables */
}

#define B(s) PW_STATE_BIT(PW_ST_##s)

/* SYN-RECV covers request sockets too: that is what a user means by it. */
#define SYN_RECV_BITS (B(SYN_RECV) | B(NEW_SYN_RECV))

static const struct {
	const char *word;
	uint32_t mask;
} state_words[] = {
    {"established", B(ESTABLISHED)},
    {"estab", B(ESTABLISHED)},
    {"syn-sent", B(SYN_SENT)},
    {"syn-recv", SYN_RECV_BITS},
    {"syn-rcv", SYN_RECV_BITS},
    {"new-syn-recv", B(NEW_SYN_RECV)},
    {"fin-wait-1", B(FIN_WAIT1)},
    {"fin-wait-2", B(FIN_WAIT2)},
    {"time-wait", B(TIME_WAIT)},
    {"unconn", B(CLOSE)},
    {"unconnected", B(CLOSE)},
    {"close", B(CLOSE)},
    {"closed", B(CLOSE)},
    {"close-wait", B(CLOSE_WAIT)},
    {"last-ack", B(LAST_ACK)},
    {"listen", B(LISTEN)},
    {"listening", B(LISTEN)},
    {"closing", B(CLOSING)},
    {"bound", B(BOUND_INACTIVE)},
    {"bound-inactive", B(BOUND_INACTIVE)},
    /* ss's groups; a bound-inactive socket is neither connected nor synchronized */
    {"all", PW_STATES_ALL},
    {"connected", PW_STATES_ALL & ~(B(CLOSE) | B(LISTEN) | B(BOUND_INACTIVE))},
    {"synchronized", PW_STATES_ALL & ~(B(CLOSE) | B(LISTEN) | B(BOUND_INACTIVE) | B(SYN_SENT))},
    {"bucket", SYN_RECV_BITS | B(TIME_WAIT)},
    {"big", PW_STATES_ALL & ~(SYN_RECV_BITS | B(TIME_WAIT))},
};

static int state_word(const char *w, size_t n, uint32_t *mask)
{
	for (size_t i = 0; i < ARRAY_SIZE(state_words); i++) {
		if (strlen(state_words[i].word) == n &&
		    strncasecmp(w, state_words[i].word, n) == 0) {
			*mask |= state_words[i].mask;
			return 0;
		}
	}
	return -EINVAL;
}

int pw_state_parse(const char *word, uint32_t *ret_mask)
{
	uint32_t mask = 0;

	if (!word || !*word)
		return -EINVAL;
	/* "listen,estab": every item must be a known word; empty items are typos */
	for (const char *p = word;;) {
		const char *end = strchrnul(p, ',');
		if (end == p || state_word(p, (size_t)(end - p), &mask) < 0)
			return -EINVAL;
		if (!*end)
			break;
		p = end + 1;
	}
	*ret_mask = mask;
	return 0;
}

const char *pw_proto_name(uint8_t ipproto)
{
	switch (ipproto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_UDPLITE:
		return "udplite";
	}
	return NULL;
}

static const char *const reason_names[PW_R_MAX] = {
    [PW_R_SINGLE] = "single",
    [PW_R_FORKED] = "forked",
    [PW_R_SOCKET_ACTIVATION] = "socket-activation",
    [PW_R_PASSED] = "passed",
    [PW_R_REUSEPORT] = "reuseport",
    [PW_R_REUSEADDR_DUPLICATE] = "reuseaddr-duplicate",
    [PW_R_ADDRESS_SPLIT] = "address-split",
    [PW_R_FAMILY_SPLIT] = "family-split",
    [PW_R_KERNEL] = "kernel",
    [PW_R_HIDDEN] = "hidden",
    [PW_R_CONNECTIONS] = "connections",
    [PW_R_UNHELD] = "unheld",
    [PW_R_FORWARDED] = "forwarded",
};

const char *pw_reason_kind_name(enum pw_reason_kind k)
{
	if ((unsigned)k < PW_R_MAX)
		return reason_names[k];
	return NULL;
}

const char *pw_confidence_name(enum pw_confidence c)
{
	switch (c) {
	case PW_CONF_INFERRED:
		return "inferred";
	case PW_CONF_VERIFIED:
		return "verified";
	}
	return NULL;
}

const char *pw_holder_via_name(enum pw_holder_via v)
{
	return v == PW_VIA_IO_URING ? "io_uring" : "fd";
}

const char *pw_opt_source_name(enum pw_opt_source s)
{
	switch (s) {
	case PW_OPTS_BPF:
		return "bpf";
	case PW_OPTS_PROBE:
		return "probe";
	case PW_OPTS_INFERRED:
		return "inferred";
	case PW_OPTS_UNKNOWN:
		break;
	}
	return NULL;
}

int pw_state_rank(uint8_t state)
{
	switch (state) {
	case PW_ST_LISTEN:
		return 0;
	case PW_ST_CLOSE:
		return 1;
	case PW_ST_BOUND_INACTIVE:
		return 2;
	case PW_ST_TIME_WAIT:
		return 9;
	default:
		return 5; /* connections */
	}
}

const char *pw_forward_via_name(enum pw_forward_via v)
{
	switch (v) {
	case PW_FWD_NFTABLES:
		return "nftables";
	case PW_FWD_IPVS:
		return "ipvs";
	case PW_FWD_PROXY:
		return "proxy";
	}
	return NULL;
}

const char *pw_matched_end_name(enum pw_matched_end e)
{
	switch (e) {
	case PW_END_LOCAL:
		return "local";
	case PW_END_REMOTE:
		return "remote";
	case PW_END_NONE:
		break;
	}
	return NULL;
}
