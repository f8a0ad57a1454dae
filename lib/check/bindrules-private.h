/* SPDX-License-Identifier: MIT */
/*
 * Between the two halves of the bind rules: bindrules.c (the rules and the
 * prediction) and bindwords.c (explanations and advice). Not an interface.
 */
#ifndef PW_BINDRULES_PRIVATE_H
#define PW_BINDRULES_PRIVATE_H

#include "internal.h"
#include "portwho-check.h"

/* A completion packs the three options of an existing socket. */
#define C_RA 1u /* SO_REUSEADDR */
#define C_RP 2u /* SO_REUSEPORT */
#define C_V6 4u /* IPV6_V6ONLY */
#define N_COMPLETIONS 8
#define INFER_MAX 256 /* sockets taking part in inference (n^2 pairs) */

enum kind {
	K_NONE,	 /* does not overlap the candidate */
	K_SHARE, /* overlaps, and the rules let both exist */
	K_MATCH, /* UDP: an SO_REUSEPORT match ends the kernel's search (success) */
	K_BLOCK, /* overlaps and conflicts */
};

struct sockinfo {
	const struct pw_socket *s;
	uint8_t dom0;	/* completions allowed by what was read */
	uint8_t dom;	/* ... and by what the neighbours prove */
	bool eligible;	/* its coexistence with others was checked by a bind */
	unsigned kinds; /* bit per enum kind over dom, for the current candidate */
	unsigned dflt;	/* the completion taken for the best answer */
	enum kind dflt_kind;
	enum pw_bind_rule dflt_rule;
	enum pw_bind_rule block_rule; /* a rule under which it blocks, if any */
	enum pw_bind_rule share_rule; /* a rule under which it shares, if any */
};

struct view {
	bool v4; /* IPv4, or IPv4-mapped IPv6 (the kernel treats both alike) */
	bool any;
	uint8_t b[16];
};

struct decision {
	bool would_succeed;
	bool certain;
	bool order; /* UDP: the answer depends on the kernel's chain order */
};

struct strv {
	char **v;
	size_t n, cap;
};

/* bindrules.c */
void br_view_of(const struct pw_addr *a, struct view *v);
bool br_is_tcp(uint8_t proto);
enum kind br_judge(const struct pw_bind_candidate *c, const struct pw_socket *s, unsigned k,
		   enum pw_bind_rule *rule);
struct decision br_decide(const struct pw_bind_candidate *c, struct sockinfo *si, size_t n);
bool br_counts(const struct pw_bind_candidate *c, const struct pw_socket *s);
bool br_eligible(const struct pw_socket *s);
uint8_t br_domain_of(const struct pw_socket *s);
void br_infer(struct sockinfo *si, size_t n);

/* bindwords.c */
int br_strv_take(struct strv *sv, char *s, bool dedup);
__attribute__((format(printf, 1, 2))) char *br_fmt(const char *f, ...);
__attribute__((format(printf, 3, 4))) int br_addf(struct strv *sv, bool dedup, const char *f, ...);
void br_endpoint(const struct pw_socket *s, char *buf, size_t len);
void br_cand_endpoint(const struct pw_bind_candidate *c, char *buf, size_t len);
bool br_was_inferred(const struct sockinfo *x);
const char *br_state_of(const struct pw_socket *s);
int br_explain_block(const struct pw_bind_candidate *c, const struct sockinfo *x,
		     enum pw_bind_rule rule, char **ret);
const char *br_unless_words(const struct pw_bind_candidate *c, const struct sockinfo *x);
int br_explain_share(const struct pw_bind_candidate *c, const struct sockinfo *x,
		     enum pw_bind_rule rule, char **ret);
/* the headline's rule; s is the blocking socket (a TCP listener is its own case) */
const char *br_short_rule(enum pw_bind_rule r, const struct pw_socket *s);
const char *br_share_short(enum pw_bind_rule r, bool tcp);
int br_advise_candidate(const struct pw_bind_candidate *c, struct sockinfo *si, size_t n,
			struct strv *adv);
int br_advise_existing(const struct pw_bind_candidate *c, struct sockinfo *si, size_t n,
		       struct strv *adv);

#endif
