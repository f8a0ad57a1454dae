/* SPDX-License-Identifier: MIT */
/*
 * What the main command and its subcommands (check, kill) say and parse the
 * same way: usage errors, -N/--netns, --user, and the JSON shape of a
 * socket and its holders (HACKING.md).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "portwho-cmd.h"

/* "portwho: " and the message, its control bytes escaped (messages quote
 * what the user typed or a name the system gave); no newline. */
static void say_escaped(const char *fallback, const char *fmt, va_list ap)
{
	char *msg = NULL;
	int n = vasprintf(&msg, fmt, ap);
	fputs("portwho: ", stderr);
	cli_print_escaped(stderr, n < 0 ? fallback : msg);
	free(msg);
}

const char *cli_verb;

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say_escaped("invalid arguments", fmt, ap);
	va_end(ap);
	/* one line, with where to read more (unless it already says so) */
	if (!strstr(fmt, "--help"))
		fprintf(stderr, " (see portwho%s%s --help)", cli_verb ? " " : "",
			cli_verb ? cli_verb : "");
	fputc('\n', stderr);
	return -EINVAL;
}

int cli_finish_output(FILE *f)
{
	int earlier = errno; /* a failed write while rendering left its errno here */
	errno = 0;
	bool bad = fflush(f) == EOF;
	bad |= ferror(f) != 0;
	if (!bad)
		return 0;
	int e = errno ? errno : earlier ? earlier : EIO;
	if (e == EPIPE)
		return -EPIPE;
	fprintf(stderr, "portwho: cannot write output: %s\n", strerror(e));
	return -e;
}

bool cli_all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

void cli_print_escaped(FILE *f, const char *raw)
{
	char *e = pw_escape_text(raw ? raw : "?");
	fputs(e ? e : "?", f);
	free(e);
}

int cli_parse_netns(const char *arg, const char *one_netns, enum pw_netns_scope *ret_scope,
		    char **ret_path)
{
	free(*ret_path);
	*ret_path = NULL;
	if (!strcmp(arg, "current")) {
		*ret_scope = PW_NETNS_CURRENT;
		return 0;
	}
	if (!strcmp(arg, "all")) {
		if (one_netns)
			return cli_usage_error("%s", one_netns);
		*ret_scope = PW_NETNS_ALL;
		return 0;
	}
	/* the main command has always taken an empty NAME as /run/netns/ */
	if (!strcmp(arg, ".") || !strcmp(arg, "..") || (one_netns && !*arg))
		return cli_usage_error("invalid network namespace name '%s'", arg);
	int r;
	if (cli_all_digits(arg))
		r = asprintf(ret_path, "/proc/%s/ns/net", arg);
	else if (strchr(arg, '/'))
		r = asprintf(ret_path, "%s", arg);
	else
		r = asprintf(ret_path, "/run/netns/%s", arg);
	if (r < 0) {
		*ret_path = NULL;
		return -ENOMEM;
	}
	/* only a missing path is certain here; permissions are the library's to find */
	struct stat st;
	if (stat(*ret_path, &st) < 0 && errno == ENOENT) {
		/* hidepid=2 hides other users' processes from /proc: they exist */
		if (cli_all_digits(arg) && strlen(arg) < 10 && atoi(arg) > 0 &&
		    kill(atoi(arg), 0) < 0 && errno == EPERM)
			return cli_usage_error(
			    "process %s is hidden from this user (/proc is mounted "
			    "with hidepid): its network namespace cannot be read",
			    arg);
		return cli_usage_error(
		    cli_all_digits(arg) ? "no process %s" : "no network namespace '%s'", arg);
	}
	*ret_scope = PW_NETNS_PATH;
	return 0;
}

int cli_parse_user(const char *arg, uid_t *ret_uid, struct passwd **ret_pw)
{
	struct passwd *pw = getpwnam(arg);
	if (pw) {
		*ret_uid = pw->pw_uid;
		*ret_pw = pw;
		return 0;
	}
	if (!cli_all_digits(arg))
		return cli_usage_error("unknown user '%s'", arg);
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (errno || *end || v >= (uid_t)-1)
		return cli_usage_error("unknown user '%s'", arg);
	*ret_uid = (uid_t)v;
	*ret_pw = NULL;
	return 0;
}

/* ---- JSON ---------------------------------------------------------------- */

json_t *cli_jstr(const char *raw)
{
	if (!raw)
		return json_null();
	size_t n = 0;
	bool ascii = true;
	for (const unsigned char *p = (const unsigned char *)raw; *p; p++, n++)
		ascii &= *p < 0x80;
	if (ascii) /* the common case needs no repair and no copy */
		return json_stringn_nocheck(raw, n);
	char *u = pw_utf8_sanitize(raw);
	if (!u)
		return NULL;
	json_t *j = json_string(u);
	free(u);
	return j;
}

json_t *cli_jtri(int8_t v)
{
	return v < 0 ? json_null() : json_boolean(v != 0);
}

json_t *cli_jaddr(const struct pw_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 1];
	if (pw_addr_format(a, false, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

int cli_json_dumpf(const json_t *v, FILE *f, size_t flags)
{
	char *txt = json_dumps(v, flags);
	if (!txt)
		return -ENOMEM;
	size_t n = strlen(txt);
	char *safe = pw_json_terminal_safe(txt, n, &n);
	free(txt);
	if (!safe)
		return -ENOMEM;
	int r = fwrite(safe, 1, n, f) == n ? 0 : -EIO;
	free(safe);
	return r;
}

void cli_json_put(json_t *obj, const char *key, json_t *v, int *err)
{
	if (!v || json_object_set_new(obj, key, v) < 0)
		*err = -ENOMEM;
}

void cli_json_append(json_t *arr, json_t *v, int *err)
{
	if (!v || json_array_append_new(arr, v) < 0)
		*err = -ENOMEM;
}

json_t *cli_container_json(const struct pw_container *c, int *err)
{
	if (!c)
		return json_null();
	json_t *o = json_object();
	if (!o) {
		*err = -ENOMEM;
		return NULL;
	}
	cli_json_put(o, "runtime", cli_jstr(c->runtime), err);
	cli_json_put(o, "id", cli_jstr(c->id), err);
	cli_json_put(o, "name", cli_jstr(c->name), err);
	json_t *pod = json_null();
	if (c->pod_uid || c->pod_name) {
		pod = json_object();
		if (!pod) {
			*err = -ENOMEM;
			json_decref(o);
			return NULL;
		}
		cli_json_put(pod, "namespace", cli_jstr(c->pod_namespace), err);
		cli_json_put(pod, "name", cli_jstr(c->pod_name), err);
		cli_json_put(pod, "uid", cli_jstr(c->pod_uid), err);
	}
	cli_json_put(o, "pod", pod, err);
	return o;
}

static json_t *holder_json(const struct pw_holder *h, bool user_unit, int *err)
{
	const struct pw_process *p = h->proc;
	bool known = p && p->facts_read;
	json_t *o = json_object();
	if (!o) {
		*err = -ENOMEM;
		return NULL;
	}
	cli_json_put(o, "pid", json_integer(p ? p->pid : h->tid), err);
	cli_json_put(o, "tid", json_integer(h->tid), err);
	cli_json_put(o, "fd", h->via == PW_VIA_FD ? json_integer(h->fd) : json_null(), err);
	cli_json_put(o, "via", json_string(pw_holder_via_name((enum pw_holder_via)h->via)), err);
	cli_json_put(o, "command", cli_jstr(p ? p->comm : NULL), err);
	cli_json_put(o, "cmdline", cli_jstr(p ? p->cmdline : NULL), err);
	cli_json_put(o, "cmdline_truncated", json_boolean(p && p->cmdline_truncated), err);
	cli_json_put(o, "user", cli_jstr(p ? p->user : NULL), err);
	cli_json_put(o, "uid", known ? json_integer(p->uid) : json_null(), err);
	cli_json_put(o, "ppid", known ? json_integer(p->ppid) : json_null(), err);
	cli_json_put(o, "nspid", known && p->nspid ? json_integer(p->nspid) : json_null(), err);
	cli_json_put(o, "unit", cli_jstr(p ? p->unit : NULL), err);
	if (user_unit)
		cli_json_put(o, "user_unit", known ? json_boolean(p->user_unit) : json_null(), err);
	cli_json_put(o, "container", cli_container_json(p ? p->container : NULL, err), err);
	return o;
}

json_t *cli_socket_json(const struct pw_socket *s, bool user_unit, int *err)
{
	bool connected = s->rport != 0 || !pw_addr_is_any(&s->raddr);
	json_t *o = json_object();
	json_t *hs = json_array();
	if (!o || !hs) {
		json_decref(o);
		json_decref(hs);
		*err = -ENOMEM;
		return NULL;
	}
	cli_json_put(o, "inode", json_integer(s->inode), err);
	cli_json_put(o, "cookie", json_integer((json_int_t)s->cookie), err);
	cli_json_put(o, "family", json_string(s->family == AF_INET6 ? "ipv6" : "ipv4"), err);
	cli_json_put(o, "local_address", cli_jaddr(&s->laddr), err);
	cli_json_put(o, "local_port", json_integer(s->lport), err);
	cli_json_put(o, "remote_address", connected ? cli_jaddr(&s->raddr) : json_null(), err);
	cli_json_put(o, "remote_port", connected ? json_integer(s->rport) : json_null(), err);
	cli_json_put(o, "state", cli_jstr(pw_state_name(s->proto, s->state)), err);
	cli_json_put(o, "uid", json_integer(s->uid), err);
	cli_json_put(o, "v6only", s->family == AF_INET6 ? cli_jtri(s->v6only) : json_null(), err);
	cli_json_put(o, "reuseaddr", cli_jtri(s->reuseaddr), err);
	cli_json_put(o, "reuseport", cli_jtri(s->reuseport), err);
	cli_json_put(o, "options_source",
		     cli_jstr(pw_opt_source_name((enum pw_opt_source)s->opts_source)), err);
	cli_json_put(o, "kernel_owner", cli_jstr(s->kernel_owner), err);
	cli_json_put(o, "interface", cli_jstr(s->ifname), err);
	cli_json_put(o, "matched_end",
		     cli_jstr(pw_matched_end_name((enum pw_matched_end)s->matched_end)), err);
	for (size_t i = 0; i < s->n_holders; i++)
		cli_json_append(hs, holder_json(&s->holders[i], user_unit, err), err);
	cli_json_put(o, "holders", hs, err);
	return o;
}

int cli_json_print(FILE *f, json_t *doc)
{
	/* a write error stays on the stream for cli_finish_output() to report
	 * (one message): a document past stdio's buffer fails here on a full
	 * device */
	int r = cli_json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (r < 0)
		return r == -EIO && ferror(f) ? 0 : r;
	fputc('\n', f);
	return 0;
}

int cli_fail(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say_escaped("out of memory", fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

int cli_option_error(int c, char **argv, const char *verb)
{
	const char *word = argv[optind - 1];
	char shortopt[3] = {'-', (char)optopt, '\0'};
	/* "-x" of a bundle such as -tx: name the letter, not the bundle */
	if (optopt > 0 && optopt < 0x100 && strncmp(word, "--", 2))
		word = shortopt;
	if (c == ':')
		return cli_usage_error("option '%s' needs a value", word);
	if (verb)
		return cli_usage_error("unknown option '%s' (see portwho %s --help)", word, verb);
	return cli_usage_error("unknown option '%s' (see portwho --help)", word);
}

bool cli_common_option(struct cli_common *cc, int c)
{
	switch (c) {
	case 't':
		cc->tcp = true;
		return true;
	case 'u':
		cc->udp = true;
		return true;
	case '4':
		cc->v4 = true;
		return true;
	case '6':
		cc->v6 = true;
		return true;
	}
	return false;
}

unsigned cli_common_protos(const struct cli_common *cc)
{
	return cc->tcp == cc->udp ? 0 : cc->tcp ? PW_PROTO_TCP : PW_PROTO_UDP;
}

unsigned cli_common_families(const struct cli_common *cc)
{
	return cc->v4 == cc->v6 ? 0 : cc->v4 ? PW_FAMILY_INET : PW_FAMILY_INET6;
}
