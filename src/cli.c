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
	return jw_string_json(raw);
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

/* ---- the objects of the contract, one definition for both backends ----- */

void cli_emit_container(struct jw *w, const char *key, const struct pw_container *c)
{
	if (!c) {
		jw_null(w, key);
		return;
	}
	jw_obj_begin(w, key);
	jw_str(w, "runtime", c->runtime);
	jw_str(w, "id", c->id);
	jw_str(w, "name", c->name);
	if (c->pod_uid || c->pod_name) {
		jw_obj_begin(w, "pod");
		jw_str(w, "namespace", c->pod_namespace);
		jw_str(w, "name", c->pod_name);
		jw_str(w, "uid", c->pod_uid);
		jw_obj_end(w);
	} else {
		jw_null(w, "pod");
	}
	jw_obj_end(w);
}

static void emit_holder(struct jw *w, const struct pw_holder *h, bool user_unit)
{
	const struct pw_process *p = h->proc;
	bool known = p && p->facts_read;
	jw_obj_begin(w, NULL);
	jw_int(w, "pid", p ? p->pid : h->tid);
	jw_int(w, "tid", h->tid);
	if (h->via == PW_VIA_FD)
		jw_int(w, "fd", h->fd);
	else
		jw_null(w, "fd");
	jw_str(w, "via", pw_holder_via_name((enum pw_holder_via)h->via));
	jw_str(w, "command", p ? p->comm : NULL);
	jw_str(w, "cmdline", p ? p->cmdline : NULL);
	jw_bool(w, "cmdline_truncated", p && p->cmdline_truncated);
	jw_str(w, "user", p ? p->user : NULL);
	if (known) {
		jw_int(w, "uid", p->uid);
		jw_int(w, "ppid", p->ppid);
	} else {
		jw_null(w, "uid");
		jw_null(w, "ppid");
	}
	if (known && p->nspid)
		jw_int(w, "nspid", p->nspid);
	else
		jw_null(w, "nspid");
	jw_str(w, "unit", p ? p->unit : NULL);
	if (user_unit)
		jw_tri(w, "user_unit", known ? (int8_t)p->user_unit : -1);
	cli_emit_container(w, "container", p ? p->container : NULL);
	jw_obj_end(w);
}

void cli_emit_socket(struct jw *w, const char *key, const struct pw_socket *s, bool user_unit)
{
	bool connected = s->rport != 0 || !pw_addr_is_any(&s->raddr);
	jw_obj_begin(w, key);
	jw_int(w, "inode", (long long)s->inode);
	jw_int(w, "cookie", (long long)s->cookie);
	jw_str(w, "family", s->family == AF_INET6 ? "ipv6" : "ipv4");
	jw_addr(w, "local_address", &s->laddr);
	jw_int(w, "local_port", s->lport);
	if (connected) {
		jw_addr(w, "remote_address", &s->raddr);
		jw_int(w, "remote_port", s->rport);
	} else {
		jw_null(w, "remote_address");
		jw_null(w, "remote_port");
	}
	jw_str(w, "state", pw_state_name(s->proto, s->state));
	jw_int(w, "uid", s->uid);
	jw_tri(w, "v6only", s->family == AF_INET6 ? s->v6only : -1);
	jw_tri(w, "reuseaddr", s->reuseaddr);
	jw_tri(w, "reuseport", s->reuseport);
	jw_str(w, "options_source", pw_opt_source_name((enum pw_opt_source)s->opts_source));
	jw_str(w, "kernel_owner", s->kernel_owner);
	jw_str(w, "interface", s->ifname);
	jw_str(w, "matched_end", pw_matched_end_name((enum pw_matched_end)s->matched_end));
	jw_arr_begin(w, "holders");
	for (size_t i = 0; i < s->n_holders; i++)
		emit_holder(w, &s->holders[i], user_unit);
	jw_arr_end(w);
	jw_obj_end(w);
}

json_t *cli_container_json(const struct pw_container *c, int *err)
{
	struct jw w;
	jw_init_tree(&w);
	cli_emit_container(&w, NULL, c);
	return jw_tree_finish(&w, err);
}

json_t *cli_socket_json(const struct pw_socket *s, bool user_unit, int *err)
{
	struct jw w;
	jw_init_tree(&w);
	cli_emit_socket(&w, NULL, s, user_unit);
	return jw_tree_finish(&w, err);
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
