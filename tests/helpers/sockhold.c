/* SPDX-License-Identifier: MIT */
/*
 * sockhold: open sockets as described on the command line, report them, hold
 * them until told to stop. Used by tests/e2e to make real sockets in each
 * tricky way portwho must explain.
 *
 * usage: sockhold [OPTION...] SOCKET...      (options and sockets may mix)
 *
 * SOCKET is KIND:ADDR:PORT[:OPT[,OPT...]]    (OPTs separated by ':' or ',')
 *   KIND  tcp-listen   socket, bind, listen
 *         tcp-bind     socket, bind, never listen (bound-inactive: "BOUND")
 *         tcp-pair     a listener on ADDR:PORT, a client connected to it and
 *                      the accepted end; all three are kept (3 report lines)
 *         tcp-connect  bind to ADDR:PORT (port 0: any), connect to connect=
 *         udp          socket, bind; with connect= also connect(2)
 *         tcp6-... / udp6 force AF_INET6; otherwise ADDR decides the family
 *   ADDR  dotted IPv4 (0.0.0.0, 127.0.0.1) or IPv6 in brackets ([::], [::1])
 *   PORT  0..65535; 0 lets the kernel choose (the report has the real port)
 *   OPT   reuseaddr    SO_REUSEADDR=1
 *         reuseport    SO_REUSEPORT=1
 *         v6only       IPV6_V6ONLY=1     dualstack  IPV6_V6ONLY=0
 *         backlog=N    listen backlog (default 16)
 *         dev=IFNAME   SO_BINDTODEVICE
 *         connect=EP   peer for tcp-connect / udp: 127.0.0.1:80, [::1]:53
 *         thread       open this socket in a thread that called
 *                      unshare(CLONE_FILES): only that thread's private fd
 *                      table holds it (all such sockets share one thread)
 *
 * OPTION
 *   fork=N         after opening, fork N children that keep every fd
 *                  (a pre-fork server); they die with the parent
 *   uid=N          after opening: setgroups(none), setresgid, setresuid
 *   uid-first=N    the same before opening (the sockets then belong to N)
 *   gid=N          group for uid=/uid-first= (default: the uid's number)
 *   comm=NAME      prctl(PR_SET_NAME) before forking; NAME takes the escapes
 *                  \n \t \r \e \\ \xHH so tests can make hostile names
 *   note=ANY       ignored: puts arbitrary bytes into /proc/PID/cmdline
 *   nostdin        do not watch stdin; wait for a signal only
 *
 * Output on stdout, after every socket is open (and children forked):
 *   one JSON object per socket, in command-line order (a tcp-pair gives
 *   listen, client, accepted):
 *     {"spec":0,"role":"listen","pid":P,"tid":T,"fd":F,"inode":I,
 *      "proto":"tcp","family":"ipv4","addr":"127.0.0.1","port":8080,
 *      "state":"LISTEN","raddr":null,"rport":null}
 *   (state is what ss/portwho should show: LISTEN BOUND UNCONN ESTAB;
 *   tid differs from pid only for "thread" sockets)
 *   one {"child":PID,"ppid":P} per forked child, then the line "ready".
 * Then it waits until SIGTERM/SIGINT or EOF on stdin (unless nostdin).
 * Any failure: one line "sockhold: ..." on stderr, exit status 1, no "ready".
 *
 * Note: changing uid makes a process non-dumpable, which would hide its
 * /proc/PID/fd from that very uid; uid=/uid-first= set PR_SET_DUMPABLE back
 * to 1, as an exec would.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SPECS 64
#define MAX_OUT (MAX_SPECS * 3)
#define MAX_CHILDREN 64

enum kind { K_TCP_LISTEN, K_TCP_BIND, K_TCP_PAIR, K_TCP_CONNECT, K_UDP };

struct endpoint {
	struct sockaddr_storage ss;
	socklen_t len;
};

struct spec {
	int index;
	enum kind kind;
	bool force6;
	struct endpoint local;
	bool reuseaddr, reuseport, thread;
	int v6only; /* -1 untouched, 0, 1 */
	int backlog;
	char dev[IFNAMSIZ];
	bool has_peer;
	struct endpoint peer;
};

struct out {
	int spec;
	const char *role;
	const char *state;
	pid_t tid;
	int fd;
	bool udp;
	bool v6;
	unsigned long long inode;
	char addr[INET6_ADDRSTRLEN];
	int port;
	char raddr[INET6_ADDRSTRLEN];
	int rport; /* -1: not connected */
};

static struct spec specs[MAX_SPECS];
static int nspecs;
static struct out outs[MAX_OUT];
static int nouts;
static pthread_mutex_t outs_lock = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("sockhold: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static long parse_num(const char *s, long min, long max, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		die("bad %s '%s'", what, s);
	return v;
}

/* Parse "1.2.3.4:80" or "[::1]:80" at *p; advance *p past the port. */
static void parse_endpoint(const char **p, bool force6, struct endpoint *ep, const char *arg)
{
	const char *s = *p;
	char host[INET6_ADDRSTRLEN + 1];
	size_t n;
	bool v6 = false;

	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			die("'%s': IPv6 address needs [ADDR]:PORT", arg);
		n = (size_t)(close - s - 1);
		if (n >= sizeof(host))
			die("'%s': address too long", arg);
		memcpy(host, s + 1, n);
		host[n] = 0;
		s = close + 2;
		v6 = true;
	} else {
		const char *colon = strchr(s, ':');
		if (!colon)
			die("'%s': expected ADDR:PORT", arg);
		n = (size_t)(colon - s);
		if (n >= sizeof(host))
			die("'%s': address too long", arg);
		memcpy(host, s, n);
		host[n] = 0;
		s = colon + 1;
	}
	size_t digits = strspn(s, "0123456789");
	if (digits == 0 || digits > 5)
		die("'%s': bad port", arg);
	char portbuf[8];
	memcpy(portbuf, s, digits);
	portbuf[digits] = 0;
	long port = parse_num(portbuf, 0, 65535, "port");
	*p = s + digits;

	memset(ep, 0, sizeof(*ep));
	if (!v6 && !force6) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ep->ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			die("'%s': bad IPv4 address '%s'", arg, host);
		ep->len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ep->ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			die("'%s': bad IPv6 address '%s'", arg, host);
		ep->len = sizeof(*sin6);
	}
}

static void parse_spec(const char *arg)
{
	static const struct {
		const char *name;
		enum kind kind;
		bool force6;
	} kinds[] = {
	    {"tcp-listen", K_TCP_LISTEN, false},
	    {"tcp6-listen", K_TCP_LISTEN, true},
	    {"tcp-bind", K_TCP_BIND, false},
	    {"tcp6-bind", K_TCP_BIND, true},
	    {"tcp-pair", K_TCP_PAIR, false},
	    {"tcp6-pair", K_TCP_PAIR, true},
	    {"tcp-connect", K_TCP_CONNECT, false},
	    {"tcp6-connect", K_TCP_CONNECT, true},
	    {"udp", K_UDP, false},
	    {"udp6", K_UDP, true},
	};
	if (nspecs == MAX_SPECS)
		die("too many sockets");
	struct spec *sp = &specs[nspecs];
	memset(sp, 0, sizeof(*sp));
	sp->index = nspecs;
	sp->v6only = -1;
	sp->backlog = 16;

	const char *colon = strchr(arg, ':');
	size_t klen = (size_t)(colon - arg);
	size_t i;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i].name) == klen && !strncmp(kinds[i].name, arg, klen))
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0]))
		die("'%s': unknown socket kind", arg);
	sp->kind = kinds[i].kind;
	sp->force6 = kinds[i].force6;

	const char *p = colon + 1;
	parse_endpoint(&p, sp->force6, &sp->local, arg);

	while (*p) {
		if (*p != ':' && *p != ',')
			die("'%s': junk after the port: '%s'", arg, p);
		p++;
		size_t len = strcspn(p, ":,=");
		char name[32];
		if (len == 0 || len >= sizeof(name))
			die("'%s': bad option at '%s'", arg, p);
		memcpy(name, p, len);
		name[len] = 0;
		p += len;
		bool has_val = *p == '=';
		if (has_val)
			p++;

		if (!strcmp(name, "connect") && has_val) {
			parse_endpoint(&p, sp->local.ss.ss_family == AF_INET6, &sp->peer, arg);
			sp->has_peer = true;
			continue;
		}
		char val[64] = "";
		if (has_val) {
			size_t vlen = strcspn(p, ":,");
			if (vlen >= sizeof(val))
				die("'%s': option value too long", arg);
			memcpy(val, p, vlen);
			val[vlen] = 0;
			p += vlen;
		}
		if (!strcmp(name, "reuseaddr") && !has_val)
			sp->reuseaddr = true;
		else if (!strcmp(name, "reuseport") && !has_val)
			sp->reuseport = true;
		else if (!strcmp(name, "v6only") && !has_val)
			sp->v6only = 1;
		else if (!strcmp(name, "dualstack") && !has_val)
			sp->v6only = 0;
		else if (!strcmp(name, "thread") && !has_val)
			sp->thread = true;
		else if (!strcmp(name, "backlog") && has_val)
			sp->backlog = (int)parse_num(val, 0, INT_MAX, "backlog");
		else if (!strcmp(name, "dev") && has_val) {
			if (strlen(val) >= sizeof(sp->dev))
				die("'%s': interface name too long", arg);
			strcpy(sp->dev, val);
		} else
			die("'%s': unknown option '%s'", arg, name);
	}
	if (sp->v6only >= 0 && sp->local.ss.ss_family != AF_INET6)
		die("'%s': v6only/dualstack need an IPv6 socket", arg);
	if ((sp->kind == K_TCP_CONNECT) != sp->has_peer && sp->kind != K_UDP)
		die("'%s': connect= is for tcp-connect (required there) and udp", arg);
	if (sp->has_peer && sp->peer.ss.ss_family != sp->local.ss.ss_family)
		die("'%s': connect= address family differs from the local one", arg);
	nspecs++;
}

static int endpoint_text(const struct sockaddr_storage *ss, char *buf, size_t bufsz)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)bufsz);
		return ntohs(sin->sin_port);
	}
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)bufsz);
	return ntohs(sin6->sin6_port);
}

/* Record a socket with the facts read from it now, by the thread whose fd
 * table holds it (a private table cannot be reached from another thread). */
static void add_out(const struct spec *sp, const char *role, const char *state, int fd)
{
	struct stat st;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	pthread_mutex_lock(&outs_lock);
	if (nouts == MAX_OUT)
		die("too many sockets");
	struct out *o = &outs[nouts++];
	memset(o, 0, sizeof(*o));
	o->spec = sp->index;
	o->role = role;
	o->state = state;
	o->tid = gettid();
	o->fd = fd;
	o->udp = sp->kind == K_UDP;
	if (fstat(fd, &st))
		die("spec %d: fstat: %m", sp->index);
	o->inode = (unsigned long long)st.st_ino;
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		die("spec %d: getsockname: %m", sp->index);
	o->v6 = ss.ss_family == AF_INET6;
	o->port = endpoint_text(&ss, o->addr, sizeof(o->addr));
	o->rport = -1;
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		o->rport = endpoint_text(&ss, o->raddr, sizeof(o->raddr));
	pthread_mutex_unlock(&outs_lock);
}

static int make_socket(const struct spec *sp, int type)
{
	int one = 1;
	int fd = socket(sp->local.ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("spec %d: socket: %m", sp->index);
	if (sp->reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("spec %d: SO_REUSEADDR: %m", sp->index);
	if (sp->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		die("spec %d: SO_REUSEPORT: %m", sp->index);
	if (sp->v6only >= 0 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &sp->v6only, sizeof(sp->v6only)))
		die("spec %d: IPV6_V6ONLY: %m", sp->index);
	if (sp->dev[0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, sp->dev, (socklen_t)strlen(sp->dev)))
		die("spec %d: SO_BINDTODEVICE %s: %m", sp->index, sp->dev);
	if (bind(fd, (const struct sockaddr *)&sp->local.ss, sp->local.len))
		die("spec %d: bind: %m", sp->index);
	return fd;
}

/* The address a client uses to reach a listener bound to a wildcard. */
static void loopback_for(struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
			sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
			sin6->sin6_addr = in6addr_loopback;
	}
}

static void open_spec(const struct spec *sp)
{
	int fd;
	switch (sp->kind) {
	case K_TCP_LISTEN:
		fd = make_socket(sp, SOCK_STREAM);
		if (listen(fd, sp->backlog))
			die("spec %d: listen: %m", sp->index);
		add_out(sp, "listen", "LISTEN", fd);
		break;
	case K_TCP_BIND:
		fd = make_socket(sp, SOCK_STREAM);
		add_out(sp, "bound", "BOUND", fd);
		break;
	case K_TCP_CONNECT:
		fd = make_socket(sp, SOCK_STREAM);
		if (connect(fd, (const struct sockaddr *)&sp->peer.ss, sp->peer.len))
			die("spec %d: connect: %m", sp->index);
		add_out(sp, "client", "ESTAB", fd);
		break;
	case K_UDP:
		fd = make_socket(sp, SOCK_DGRAM);
		if (sp->has_peer) {
			if (connect(fd, (const struct sockaddr *)&sp->peer.ss, sp->peer.len))
				die("spec %d: connect: %m", sp->index);
			add_out(sp, "connected", "ESTAB", fd);
		} else
			add_out(sp, "bound", "UNCONN", fd);
		break;
	case K_TCP_PAIR: {
		int lfd = make_socket(sp, SOCK_STREAM);
		if (listen(lfd, sp->backlog))
			die("spec %d: listen: %m", sp->index);
		struct sockaddr_storage to;
		socklen_t tolen = sizeof(to);
		if (getsockname(lfd, (struct sockaddr *)&to, &tolen))
			die("spec %d: getsockname: %m", sp->index);
		loopback_for(&to);
		int cfd = socket(sp->local.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cfd < 0)
			die("spec %d: socket: %m", sp->index);
		if (connect(cfd, (const struct sockaddr *)&to, tolen))
			die("spec %d: connect: %m", sp->index);
		int afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (afd < 0)
			die("spec %d: accept: %m", sp->index);
		add_out(sp, "listen", "LISTEN", lfd);
		add_out(sp, "client", "ESTAB", cfd);
		add_out(sp, "accepted", "ESTAB", afd);
		break;
	}
	}
}

/* ---- the thread with a private fd table ------------------------------------ */

static pthread_mutex_t th_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t th_cond = PTHREAD_COND_INITIALIZER;
static bool th_done;

static void *private_thread(void *unused)
{
	(void)unused;
	if (unshare(CLONE_FILES))
		die("unshare(CLONE_FILES): %m");
	for (int i = 0; i < nspecs; i++)
		if (specs[i].thread)
			open_spec(&specs[i]);
	pthread_mutex_lock(&th_lock);
	th_done = true;
	pthread_cond_signal(&th_cond);
	pthread_mutex_unlock(&th_lock);
	for (;;)
		pause();
	return NULL;
}

/* ---- process-wide options ---------------------------------------------------- */

static void decode_escapes(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	for (const char *p = in; *p; p++) {
		char c = *p;
		if (c == '\\' && p[1]) {
			p++;
			switch (*p) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'e':
				c = 27;
				break;
			case '\\':
				c = '\\';
				break;
			case 'x': {
				char hex[3] = {0, 0, 0};
				if (!p[1] || !p[2])
					die("bad \\x escape in '%s'", in);
				hex[0] = p[1];
				hex[1] = p[2];
				char *end;
				long v = strtol(hex, &end, 16);
				if (*end || v == 0)
					die("bad \\x escape in '%s'", in);
				c = (char)v;
				p += 2;
				break;
			}
			default:
				die("unknown escape \\%c in '%s'", *p, in);
			}
		}
		if (o + 1 >= outsz)
			die("name too long: '%s'", in);
		out[o++] = c;
	}
	out[o] = 0;
}

static void become(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL))
		die("setgroups: %m");
	if (setresgid(gid, gid, gid))
		die("setresgid(%u): %m", (unsigned)gid);
	if (setresuid(uid, uid, uid))
		die("setresuid(%u): %m", (unsigned)uid);
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		die("PR_SET_DUMPABLE: %m");
}

static void report(const struct out *o)
{
	printf("{\"spec\":%d,\"role\":\"%s\",\"pid\":%d,\"tid\":%d,\"fd\":%d,\"inode\":%llu,"
	       "\"proto\":\"%s\",\"family\":\"%s\",\"addr\":\"%s\",\"port\":%d,\"state\":\"%s\",",
	       o->spec, o->role, (int)getpid(), (int)o->tid, o->fd, o->inode,
	       o->udp ? "udp" : "tcp", o->v6 ? "ipv6" : "ipv4", o->addr, o->port, o->state);
	if (o->rport >= 0)
		printf("\"raddr\":\"%s\",\"rport\":%d}\n", o->raddr, o->rport);
	else
		printf("\"raddr\":null,\"rport\":null}\n");
}

int main(int argc, char **argv)
{
	long nfork = 0;
	long uid_after = -1, uid_first = -1, gid = -1;
	const char *comm = NULL;
	bool watch_stdin = true;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strncmp(a, "fork=", 5))
			nfork = parse_num(a + 5, 0, MAX_CHILDREN, "fork count");
		else if (!strncmp(a, "uid=", 4))
			uid_after = parse_num(a + 4, 0, INT_MAX, "uid");
		else if (!strncmp(a, "uid-first=", 10))
			uid_first = parse_num(a + 10, 0, INT_MAX, "uid");
		else if (!strncmp(a, "gid=", 4))
			gid = parse_num(a + 4, 0, INT_MAX, "gid");
		else if (!strncmp(a, "comm=", 5))
			comm = a + 5;
		else if (!strncmp(a, "note=", 5))
			;
		else if (!strcmp(a, "nostdin"))
			watch_stdin = false;
		else if (strchr(a, ':'))
			parse_spec(a);
		else
			die("unknown argument '%s' (see the comment at the top of sockhold.c)", a);
	}
	if (nspecs == 0)
		die("usage: sockhold [fork=N] [uid=N|uid-first=N] [comm=NAME] "
		    "KIND:ADDR:PORT[:OPT...]...");
	if (uid_after >= 0 && uid_first >= 0)
		die("uid= and uid-first= exclude each other");

	if (uid_first >= 0)
		become((uid_t)uid_first, (gid_t)(gid >= 0 ? gid : uid_first));
	if (comm) {
		char name[64];
		decode_escapes(comm, name, sizeof(name));
		if (prctl(PR_SET_NAME, name, 0, 0, 0))
			die("PR_SET_NAME: %m");
	}

	bool any_thread = false;
	for (int i = 0; i < nspecs; i++) {
		if (specs[i].thread)
			any_thread = true;
		else
			open_spec(&specs[i]);
	}
	if (any_thread) {
		pthread_t th;
		int err = pthread_create(&th, NULL, private_thread, NULL);
		if (err)
			die("pthread_create: %s", strerror(err));
		pthread_mutex_lock(&th_lock);
		while (!th_done)
			pthread_cond_wait(&th_cond, &th_lock);
		pthread_mutex_unlock(&th_lock);
	}
	if (uid_after >= 0)
		become((uid_t)uid_after, (gid_t)(gid >= 0 ? gid : uid_after));

	pid_t parent = getpid();
	pid_t children[MAX_CHILDREN];
	fflush(stdout);
	for (long i = 0; i < nfork; i++) {
		pid_t c = fork();
		if (c < 0)
			die("fork: %m");
		if (c == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			if (getppid() != parent)
				_exit(0);
			for (;;)
				pause();
		}
		children[i] = c;
	}

	/* report in command-line order (thread sockets were opened later) */
	for (int s = 0; s < nspecs; s++)
		for (int i = 0; i < nouts; i++)
			if (outs[i].spec == s)
				report(&outs[i]);
	for (long i = 0; i < nfork; i++)
		printf("{\"child\":%d,\"ppid\":%d}\n", (int)children[i], (int)parent);
	printf("ready\n");
	if (fflush(stdout))
		die("stdout: %m");

	if (!watch_stdin)
		for (;;)
			pause();
	for (;;) {
		char buf[256];
		struct pollfd pfd = {.fd = 0, .events = POLLIN};
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %m");
		}
		ssize_t n = read(0, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			break;
	}
	return 0;
}
