/* SPDX-License-Identifier: MIT */
/*
 * Pure parsers for /proc text. Every input may be truncated or hostile
 * (process names are chosen by the process), so nothing here trusts a
 * terminator it has not seen: buffers with a length are read only within it.
 */
#include <stdint.h>

#include "internal.h"

/* Decimal digits s[0..n) -> value <= max. No sign, no spaces. */
static int parse_dec(const char *s, size_t n, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* ---- /proc/PID/stat ---------------------------------------------------- */

int pw_parse_stat(const char *buf, size_t len, char **ret_comm, pid_t *ret_ppid,
		  uint64_t *ret_start)
{
	if (!buf)
		return -EINVAL;
	const char *end = buf + len;

	/* "PID (" */
	const char *open = memchr(buf, '(', len);
	if (!open || open - buf < 2 || open[-1] != ' ')
		return -EINVAL;
	uint64_t pid;
	if (parse_dec(buf, (size_t)(open - 1 - buf), INT32_MAX, &pid) < 0)
		return -EINVAL;

	/* comm may hold ')' itself; the fields after it never do */
	const char *close = memrchr(open + 1, ')', (size_t)(end - open - 1));
	if (!close)
		return -EINVAL;
	const char *comm = open + 1;
	size_t comm_len = (size_t)(close - comm);
	if (memchr(comm, '\0', comm_len))
		return -EINVAL;

	/* fields 3.. are single-space separated; field 22 is starttime */
	uint64_t ppid = 0, start = 0;
	const char *p = close + 1;
	for (unsigned field = 3; field <= 22; field++) {
		if (p >= end || *p != ' ')
			return -EINVAL;
		p++;
		const char *tok = p;
		while (p < end && *p != ' ' && *p != '\n' && *p != '\0')
			p++;
		size_t n = (size_t)(p - tok);
		if (n == 0)
			return -EINVAL;
		if (field == 3 && n != 1)
			return -EINVAL;
		if (field == 4 && parse_dec(tok, n, INT32_MAX, &ppid) < 0)
			return -EINVAL;
		if (field == 22 && parse_dec(tok, n, UINT64_MAX, &start) < 0)
			return -EINVAL;
	}
	/* a starttime cut off by truncation would look like a smaller number */
	if (p >= end || (*p != ' ' && *p != '\n'))
		return -EINVAL;

	if (ret_comm) {
		char *c = strndup(comm, comm_len);
		if (!c)
			return -ENOMEM;
		*ret_comm = c;
	}
	if (ret_ppid)
		*ret_ppid = (pid_t)ppid;
	if (ret_start)
		*ret_start = start;
	return 0;
}

/* ---- /proc/PID/status -------------------------------------------------- */

/* Missing or malformed "Uid:" line: -EINVAL (never -ENOENT, which callers
 * read as "the process is gone"). */
int pw_parse_status_euid(const char *buf, uid_t *ret_uid)
{
	if (!buf)
		return -EINVAL;
	const char *line = buf;
	while (strncmp(line, "Uid:", 4) != 0) {
		line = strchr(line, '\n');
		if (!line)
			return -EINVAL;
		line++;
	}
	const char *p = line + 4;
	uint64_t uid = 0;
	for (int i = 0; i < 2; i++) {
		if (*p != '\t' && *p != ' ')
			return -EINVAL;
		while (*p == '\t' || *p == ' ')
			p++;
		const char *tok = p;
		while (*p >= '0' && *p <= '9')
			p++;
		/* (uid_t)-1 is "no uid", never a process's */
		if (parse_dec(tok, (size_t)(p - tok), UINT32_MAX - 1, &uid) < 0)
			return -EINVAL;
	}
	/* the effective uid must end where the line says, not where a read did */
	if (*p != '\t' && *p != ' ' && *p != '\n')
		return -EINVAL;
	if (ret_uid)
		*ret_uid = (uid_t)uid;
	return 0;
}

/* "NSpid:" line: the PID in the innermost namespace (the last number), the
 * one the process itself gets from getpid(). -ENOENT without the line
 * (kernels before 4.1), -EINVAL when malformed. */
int pw_parse_status_nspid(const char *buf, pid_t *ret_pid)
{
	if (!buf)
		return -EINVAL;
	const char *line = buf;
	while (strncmp(line, "NSpid:", 6) != 0) {
		line = strchr(line, '\n');
		if (!line)
			return -ENOENT;
		line++;
	}
	const char *p = line + 6;
	uint64_t v = 0;
	bool any = false;
	for (;;) {
		if (*p != '\t' && *p != ' ')
			break;
		while (*p == '\t' || *p == ' ')
			p++;
		const char *tok = p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == tok)
			break;
		if (parse_dec(tok, (size_t)(p - tok), INT32_MAX, &v) < 0 || v == 0)
			return -EINVAL;
		any = true;
	}
	/* the line must end where the kernel ended it, not where a read did */
	if (!any || *p != '\n')
		return -EINVAL;
	if (ret_pid)
		*ret_pid = (pid_t)v;
	return 0;
}

/* ---- /proc/PID/fdinfo/RING (io_uring) --------------------------------- */

/* Registered files are listed after "UserFiles:\tN" as "%5u: PATH", a
 * socket's path being "socket:[INODE]"; the list ends at "UserBufs:". The
 * kernel prints nothing of the ring's state when it cannot take the ring's
 * lock at once: no "UserFiles:" line means "not read", -EAGAIN. */
int pw_parse_uring_files(const char *buf, size_t len, uint32_t **ret, size_t *ret_n)
{
	if (!buf || !ret || !ret_n)
		return -EINVAL;
	const char *end = buf + len, *line = buf;
	bool in_files = false, seen = false;
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			break; /* a line cut by the read is not trusted */
		size_t ll = (size_t)(eol - line);
		if (ll >= 10 && !memcmp(line, "UserFiles:", 10)) {
			in_files = seen = true;
		} else if (in_files && line[0] != ' ' && !(line[0] >= '0' && line[0] <= '9')) {
			in_files = false; /* "UserBufs:" or whatever comes next */
		} else if (in_files) {
			const char *p = line;
			while (p < eol && *p == ' ')
				p++;
			const char *colon = memchr(p, ':', (size_t)(eol - p));
			uint32_t ino;
			uint64_t idx;
			if (colon && parse_dec(p, (size_t)(colon - p), UINT32_MAX, &idx) == 0 &&
			    colon + 2 <= eol && colon[1] == ' ' &&
			    pw_parse_socket_link(colon + 2, (size_t)(eol - colon - 2), &ino) == 0) {
				if (PW_GROW(v, cap, n + 1) < 0) {
					free(v);
					return -ENOMEM;
				}
				v[n++] = ino;
			}
		}
		line = eol + 1;
	}
	if (!seen) {
		free(v);
		return -EAGAIN;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* ---- /proc/PID/cgroup -------------------------------------------------- */

/* Unit types that own cgroups (the others never hold processes). */
static const char *const cgroup_unit_types[] = {
    ".service", ".scope", ".slice", ".socket", ".mount", ".swap",
};

static bool is_unit_name(const char *s, size_t n)
{
	/* UNIT_NAME_MAX is 256 with the NUL */
	if (n < 2 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || strchr(":-_.\\@", c);
		if (!ok || c == '\0')
			return false;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cgroup_unit_types); i++) {
		const char *t = cgroup_unit_types[i];
		if (has_suffix(s, n, t) && n > strlen(t))
			return true;
	}
	return false;
}

static bool is_slice(const char *s, size_t n)
{
	return has_suffix(s, n, ".slice");
}

/* "user@1000.service": a systemd --user manager's own unit */
static bool is_user_manager(const char *s, size_t n)
{
	return n > 13 && memcmp(s, "user@", 5) == 0 && has_suffix(s, n, ".service");
}

/* Next non-empty '/'-separated component of [*p, end). */
static bool next_component(const char **p, const char *end, const char **ret, size_t *ret_n)
{
	const char *s = *p;
	while (s < end && *s == '/')
		s++;
	if (s >= end)
		return false;
	const char *e = memchr(s, '/', (size_t)(end - s));
	if (!e)
		e = end;
	*ret = s;
	*ret_n = (size_t)(e - s);
	*p = e;
	return true;
}

/* Next non-slice component, or false when none is left. */
static bool next_unit(const char **p, const char *end, const char **ret, size_t *ret_n)
{
	const char *c;
	size_t n;
	while (next_component(p, end, &c, &n)) {
		if (is_slice(c, n))
			continue;
		*ret = c;
		*ret_n = n;
		return true;
	}
	return false;
}

/* The unit a cgroup path [path, end) belongs to. */
static int unit_from_path(const char *path, const char *end, char **ret_unit, bool *ret_user)
{
	/* cgroup v2 marks a removed cgroup of a still-living member */
	static const char deleted[] = " (deleted)";
	if (has_suffix(path, (size_t)(end - path), deleted))
		end -= sizeof(deleted) - 1;

	const char *p = path, *unit;
	size_t n;
	/* systemd-nspawn (and other container managers following systemd's
	 * container interface) run the container's own tree below a "payload"
	 * cgroup: the unit the process belongs to is the one inside, named by
	 * the container's systemd. The innermost container wins. */
	const char *c;
	for (const char *q = path; next_component(&q, end, &c, &n);)
		if (n == 7 && !memcmp(c, "payload", 7))
			p = q;
	if (!next_unit(&p, end, &unit, &n) || !is_unit_name(unit, n))
		return -ENOENT;
	bool user = false;
	if (is_user_manager(unit, n)) {
		const char *sub;
		size_t sn;
		/* the manager itself lives in init.scope below its own unit */
		if (next_unit(&p, end, &sub, &sn) && is_unit_name(sub, sn) &&
		    !(sn == 10 && memcmp(sub, "init.scope", 10) == 0)) {
			unit = sub;
			n = sn;
			user = true;
		}
	}
	char *u = strndup(unit, n);
	if (!u)
		return -ENOMEM;
	*ret_unit = u;
	*ret_user = user;
	return 0;
}

/* Does the comma-separated list [s, s+n) contain word? */
static bool list_has(const char *s, size_t n, const char *word)
{
	size_t k = strlen(word);
	const char *end = s + n;
	while (s < end) {
		const char *e = memchr(s, ',', (size_t)(end - s));
		if (!e)
			e = end;
		if ((size_t)(e - s) == k && memcmp(s, word, k) == 0)
			return true;
		s = e + 1;
	}
	return false;
}

int pw_parse_cgroup_unit(const char *buf, char **ret_unit, bool *ret_user_unit)
{
	if (!buf)
		return -EINVAL;
	/* [0] the v2 "0::" line, [1] the v1 "name=systemd" line */
	const char *path[2] = {NULL, NULL}, *path_end[2] = {NULL, NULL};

	for (const char *line = buf; *line;) {
		const char *eol = strchr(line, '\n');
		if (!eol)
			eol = line + strlen(line);
		const char *c1 = memchr(line, ':', (size_t)(eol - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (c2 && c2 + 1 < eol && c2[1] == '/') {
			uint64_t id = UINT64_MAX;
			int k = -1;
			(void)parse_dec(line, (size_t)(c1 - line), INT32_MAX, &id);
			if (id == 0 && c2 == c1 + 1)
				k = 0;
			else if (id <= INT32_MAX && id != 0 &&
				 list_has(c1 + 1, (size_t)(c2 - c1 - 1), "name=systemd"))
				k = 1;
			if (k >= 0 && !path[k]) {
				path[k] = c2 + 1;
				path_end[k] = eol;
			}
		}
		line = *eol ? eol + 1 : eol;
	}

	/* v2 first; a cgroup2 mount systemd does not manage leaves it at "/" */
	for (int k = 0; k < 2; k++) {
		if (!path[k])
			continue;
		char *unit;
		bool user;
		int r = unit_from_path(path[k], path_end[k], &unit, &user);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		if (ret_unit)
			*ret_unit = unit;
		else
			free(unit);
		if (ret_user_unit)
			*ret_user_unit = user;
		return 0;
	}
	return -ENOENT;
}

/* ---- /proc/PID/environ ------------------------------------------------- */

int pw_environ_get(const char *buf, size_t len, const char *key, char **ret)
{
	if (!key || !*key || strchr(key, '='))
		return -EINVAL;
	if (!buf)
		return -ENOENT;
	size_t k = strlen(key);
	const char *end = buf + len;
	for (const char *e = buf; e < end;) {
		const char *z = memchr(e, '\0', (size_t)(end - e));
		if (!z)
			z = end; /* last entry without its NUL */
		size_t n = (size_t)(z - e);
		if (n > k && memcmp(e, key, k) == 0 && e[k] == '=') {
			char *v = strndup(e + k + 1, n - k - 1);
			if (!v)
				return -ENOMEM;
			if (ret)
				*ret = v;
			else
				free(v);
			return 0;
		}
		if (z == end)
			break;
		e = z + 1;
	}
	return -ENOENT;
}

/* ---- /proc/PID/cmdline ------------------------------------------------- */

int pw_cmdline_join(const char *buf, size_t len, char **ret)
{
	if (!buf)
		return -ENODATA;
	/* one trailing NUL ends argv; more are padding from setproctitle */
	while (len > 0 && buf[len - 1] == '\0')
		len--;
	if (len == 0)
		return -ENODATA;
	char *s = malloc(len + 1);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		s[i] = buf[i] ? buf[i] : ' ';
	s[len] = '\0';
	if (ret)
		*ret = s;
	else
		free(s);
	return 0;
}

/* ---- fd and namespace links -------------------------------------------- */

/* "PREFIX[DIGITS]" with nothing after, value <= max */
static int parse_bracket_link(const char *link, size_t len, const char *prefix, uint64_t max,
			      uint64_t *ret)
{
	size_t k = strlen(prefix);
	if (!link || len < k + 3 || memcmp(link, prefix, k) != 0 || link[k] != '[' ||
	    link[len - 1] != ']')
		return -EINVAL;
	return parse_dec(link + k + 1, len - k - 2, max, ret);
}

int pw_parse_socket_link(const char *link, size_t len, uint32_t *ret_inode)
{
	uint64_t v;
	int r = parse_bracket_link(link, len, "socket:", UINT32_MAX, &v);
	if (r < 0)
		return r;
	if (ret_inode)
		*ret_inode = (uint32_t)v;
	return 0;
}

int pw_parse_ns_link(const char *link, size_t len, uint64_t *ret_ino)
{
	uint64_t v;
	int r = parse_bracket_link(link, len, "net:", UINT64_MAX, &v);
	if (r < 0)
		return r;
	if (ret_ino)
		*ret_ino = v;
	return 0;
}
