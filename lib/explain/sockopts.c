/* SPDX-License-Identifier: MIT */
/*
 * A socket's SO_REUSEADDR, SO_REUSEPORT and IPV6_V6ONLY: sock_diag never
 * reports the first two. They are read here, in one of two ways:
 *   - BPF socket iterators over the namespace's whole table (root; the
 *     snapshot asks for them at the level its caller needs), and
 *   - through a holder with pidfd_getfd (check, for the few sockets its
 *     answer hinges on).
 * What is read lands in pw_socket (reuseaddr, reuseport, v6only,
 * opts_source); explain.c and bindrules.c only read those fields.
 */
#include <fcntl.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "internal.h"
#if __has_include("bpf/pw-bpf.h")
#include "bpf/pw-bpf.h"
#define HAVE_PW_BPF_HEADER 1
#endif

/* ---- reading options with BPF socket iterators ----------------------------- */

#ifdef HAVE_PW_BPF_HEADER
static bool same_endpoints(const struct pw_bpf_sockopt *o, const struct pw_socket *s)
{
	size_t alen = s->family == AF_INET ? 4 : 16;
	return o->family == s->family && o->proto == s->proto && o->lport == s->lport &&
	       o->rport == s->rport && !memcmp(o->laddr, s->laddr.bytes, alen) &&
	       !memcmp(o->raddr, s->raddr.bytes, alen);
}

static void set_opts(struct pw_socket *s, const struct pw_bpf_sockopt *o)
{
	s->reuseaddr = (int8_t)o->reuse;
	s->reuseport = o->reuseport ? 1 : 0;
	if (s->family == AF_INET6)
		s->v6only = o->v6only ? 1 : 0;
	s->opts_source = PW_OPTS_BPF;
}

/* The sockets asked about by inode (open addressing; an inode listed twice
 * keeps both entries), and the records of inode 0 (TIME-WAIT, requests),
 * matched by endpoints once the read is over. */
struct apply {
	struct pw_sockvec *sv;
	uint32_t *keys, *vals; /* key 0: empty */
	size_t mask;
	bool zero_sockets;
	struct pw_bpf_sockopt *zeros;
	size_t n_zeros, cap_zeros;
};

static size_t slot_of(const struct apply *a, uint32_t inode)
{
	return (inode * 2654435761u) & a->mask;
}

static int apply_one(const struct pw_bpf_sockopt *o, void *arg)
{
	struct apply *a = arg;
	if (!o->inode) {
		if (a->zero_sockets && PW_GROW(a->zeros, a->cap_zeros, a->n_zeros + 1) < 0)
			return -ENOMEM;
		if (a->zero_sockets)
			a->zeros[a->n_zeros++] = *o;
		return 0;
	}
	for (size_t i = slot_of(a, o->inode); a->keys[i]; i = (i + 1) & a->mask) {
		struct pw_socket *s = &a->sv->v[a->vals[i]];
		if (a->keys[i] == o->inode && s->proto == o->proto)
			set_opts(s, o);
	}
	return 0;
}

/* The map of sv->v[from..] by inode; *listen_only: every TCP socket there
 * listens. false when out of memory. */
static bool apply_setup(struct apply *a, struct pw_sockvec *sv, size_t from, bool *listen_only)
{
	size_t cap = 64, n = sv->n - from;
	while (cap < n * 2)
		cap <<= 1;
	*a = (struct apply){.sv = sv, .mask = cap - 1};
	a->keys = calloc(cap, sizeof(*a->keys));
	a->vals = malloc(cap * sizeof(*a->vals));
	*listen_only = true;
	for (size_t i = from; a->keys && a->vals && i < sv->n; i++) {
		const struct pw_socket *s = &sv->v[i];
		*listen_only = *listen_only && (s->proto != IPPROTO_TCP || s->state == PW_ST_LISTEN);
		if (!s->inode) {
			a->zero_sockets = true;
			continue;
		}
		size_t k = slot_of(a, s->inode);
		while (a->keys[k])
			k = (k + 1) & a->mask;
		a->keys[k] = s->inode;
		a->vals[k] = (uint32_t)i;
	}
	return a->keys && a->vals;
}

/* inode-0 sockets by endpoints, then the map goes */
static void apply_finish(struct apply *a, size_t from, bool matched)
{
	struct pw_sockvec *sv = a->sv;
	for (size_t i = from; matched && a->zero_sockets && i < sv->n; i++) {
		struct pw_socket *s = &sv->v[i];
		for (size_t j = 0; !s->inode && j < a->n_zeros; j++)
			if (same_endpoints(&a->zeros[j], s)) {
				set_opts(s, &a->zeros[j]);
				break;
			}
	}
	free(a->keys);
	free(a->vals);
	free(a->zeros);
}

/* Socket flags sock_diag does not carry (SO_REUSEADDR, SO_REUSEPORT) read
 * exactly by BPF socket iterators in the current namespace, applied as the
 * records come (no array of 64,000 records beside the sockets); inode-0
 * sockets (TIME-WAIT, requests) are matched by endpoints among the inode-0
 * records only. Only listeners of TCP (the default view): the kernel need
 * not show every connection to the iterator. */
static void apply_bpf_opts(struct pw_sockvec *sv, size_t from)
{
	if (from == sv->n)
		return;
	struct apply a;
	bool listen_only;
	bool ok = apply_setup(&a, sv, from, &listen_only) &&
		  pw_bpf_sockopts_each(listen_only, apply_one, &a) >= 0;
	apply_finish(&a, from, ok);
}

static void *prefetch_main(void *arg)
{
	struct pw_sockopts_prefetch *pf = arg;
	struct pw_bpf_sockopt *v = NULL;
	size_t n = 0;
	pf->r = pw_bpf_sockopts_read_some(true, &v, &n);
	pf->v = v;
	pf->n = n;
	return NULL;
}
#endif

void pw_sockopts_prefetch_start(struct pw_sockopts_prefetch *pf)
{
	*pf = (struct pw_sockopts_prefetch){.r = -EOPNOTSUPP};
#ifdef HAVE_PW_BPF_HEADER
	/* the thread shares this one's namespaces: the iterators read the
	 * namespace the caller is in */
	pf->started = pthread_create(&pf->th, NULL, prefetch_main, pf) == 0;
#endif
}

int pw_sockopts_prefetch_apply(struct pw_sockopts_prefetch *pf, struct pw_sockvec *sv, size_t from)
{
	if (!pf->started)
		return pw_sockopts_read(sv, from, PW_SOCKOPTS_ALL);
	pthread_join(pf->th, NULL);
	pf->started = false;
	bool done = false;
#ifdef HAVE_PW_BPF_HEADER
	struct apply a;
	bool listen_only = true;
	if (pf->r >= 0 && (from == sv->n || apply_setup(&a, sv, from, &listen_only))) {
		/* what was read covers what was listed when that listens */
		for (size_t i = 0; from < sv->n && listen_only && i < pf->n; i++)
			if (apply_one(&pf->v[i], &a) < 0)
				break;
		if (from < sv->n)
			apply_finish(&a, from, listen_only);
		done = listen_only;
	}
#endif
	free(pf->v);
	pf->v = NULL;
	/* not read, or not what the dumps gave: read it the whole way now */
	return done ? 1 : pw_sockopts_read(sv, from, PW_SOCKOPTS_ALL);
}

void pw_sockopts_prefetch_cancel(struct pw_sockopts_prefetch *pf)
{
	if (pf->started)
		pthread_join(pf->th, NULL);
	pf->started = false;
	free(pf->v);
	pf->v = NULL;
}

struct bind_key {
	uint8_t proto, family;
	uint16_t port;
	uint32_t ifindex;
	uint8_t addr[16];
};

static int cmp_bind_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct bind_key));
}

/* Do two bound sockets of this namespace share one exact address and port?
 * Only then do SO_REUSEADDR/SO_REUSEPORT change what we explain, so only
 * then is the BPF socket walk (a walk of the whole shared table) worth it. */
static bool shares_a_bind(const struct pw_sockvec *sv, size_t from)
{
	size_t n = 0;
	struct bind_key *k = calloc(sv->n - from + 1, sizeof(*k));
	if (!k)
		return true; /* cannot tell cheaply: read the flags */
	for (size_t i = from; i < sv->n; i++) {
		const struct pw_socket *s = &sv->v[i];
		if (!pw_socket_is_bound(s))
			continue;
		k[n] = (struct bind_key){s->proto, s->family, s->lport, s->ifindex, {0}};
		memcpy(k[n].addr, s->laddr.bytes, 16);
		n++;
	}
	if (n > 1)
		qsort(k, n, sizeof(*k), cmp_bind_key);
	bool dup = false;
	for (size_t i = 1; i < n && !dup; i++)
		dup = !cmp_bind_key(&k[i - 1], &k[i]);
	free(k);
	return dup;
}

int pw_sockopts_read(struct pw_sockvec *sv, size_t from, enum pw_sockopts_need need)
{
#ifdef HAVE_PW_BPF_HEADER
	if (need == PW_SOCKOPTS_IF_SHARED && !shares_a_bind(sv, from))
		return 0;
	apply_bpf_opts(sv, from);
	return 1;
#else
	(void)sv;
	(void)from;
	(void)need;
	return 0;
#endif
}

/* ---- reading options through a holder (pidfd_getfd) ----------------------- */

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

/* Receiving a socket fd re-tags it with the receiver's cgroup v1 net_cls
 * classid and net_prio index; where either controller is bound to a
 * hierarchy, a probe would change the socket, so there is none. */
static bool probe_is_harmless(void)
{
	_cleanup_free_ char *buf = NULL;
	if (pw_read_file_at(AT_FDCWD, "/proc/cgroups", 1 << 16, &buf, NULL) < 0)
		return false;
	for (char *line = buf; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char name[32];
		unsigned hierarchy;
		if (sscanf(line, "%31s %u", name, &hierarchy) == 2 &&
		    (!strcmp(name, "net_cls") || !strcmp(name, "net_prio")) && hierarchy != 0)
			return false;
		line = next;
	}
	return true;
}

static int getopt_int(int fd, int level, int name, int *ret)
{
	socklen_t len = sizeof(*ret);
	return getsockopt(fd, level, name, ret, &len) < 0 ? -errno : 0;
}

static int probe_one(struct pw_socket *s, const struct pw_holder *h)
{
	if (h->via != PW_VIA_FD)
		return -EBADF; /* an io_uring fixed file has no fd to copy */
	pid_t pid = h->proc ? h->proc->pid : h->tid;
	unsigned flags = h->tid && h->tid != pid ? PIDFD_THREAD : 0;
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, h->tid ? h->tid : pid, flags);
	if (pidfd < 0)
		return -errno;
	_cleanup_close_ int fd = (int)syscall(SYS_pidfd_getfd, pidfd, h->fd, 0);
	if (fd < 0)
		return -errno;
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
		return -errno;
	if (s->cookie && cookie != s->cookie)
		return -ESTALE; /* the fd number now names another socket */
	int ra, rp, v6 = -1;
	int r = getopt_int(fd, SOL_SOCKET, SO_REUSEADDR, &ra);
	if (r >= 0)
		r = getopt_int(fd, SOL_SOCKET, SO_REUSEPORT, &rp);
	if (r >= 0 && s->family == AF_INET6)
		r = getopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6);
	if (r < 0)
		return r;
	s->reuseaddr = (int8_t)(ra > 2 ? 2 : ra);
	s->reuseport = rp ? 1 : 0;
	if (s->family == AF_INET6)
		s->v6only = v6 ? 1 : 0;
	s->opts_source = PW_OPTS_PROBE;
	return 0;
}

int pw_sockopts_probe(struct pw_socket *const *v, size_t n)
{
	if (!probe_is_harmless())
		return -EPERM;
	int filled = 0;
	for (size_t i = 0; i < n; i++) {
		struct pw_socket *s = v[i];
		bool known = s->reuseaddr >= 0 && s->reuseport >= 0 &&
			     (s->family == AF_INET || s->v6only >= 0) &&
			     s->opts_source != PW_OPTS_INFERRED;
		if (known || !s->inode)
			continue;
		/* one holder that lets us in is enough */
		for (size_t j = 0; j < s->n_holders && j < 4; j++)
			if (probe_one(s, &s->holders[j]) >= 0) {
				filled++;
				break;
			}
	}
	return filled;
}
