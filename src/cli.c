/* SPDX-License-Identifier: MIT */
/*
 * What the main command and its subcommands (check, kill) say and parse the
 * same way: usage errors, -N/--netns, --user.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "portwho-cmd.h"

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("portwho: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
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
	if (stat(*ret_path, &st) < 0 && errno == ENOENT)
		return cli_usage_error(
		    cli_all_digits(arg) ? "no process %s" : "no network namespace '%s'", arg);
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
