/* SPDX-License-Identifier: MIT */
/*
 * Pure parsers for containers: which runtime's cgroup a process lives in
 * (/proc/PID/cgroup, cgroupfs and systemd layouts), nspawn's --machine=
 * and the runtime's stop command.
 * No I/O here: container.c reads, these decide.
 */
#include <stdio.h>

#include "internal.h"

static bool is_hex_id(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool has_prefix(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);
	return n >= k && memcmp(s, p, k) == 0;
}

static bool has_suffix(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);
	return n >= k && memcmp(s + n - k, p, k) == 0;
}

static bool is(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(s, word, n) == 0;
}

/* "<prefix><64 hex>[.scope]" -> pointer to the id, or NULL */
static const char *prefixed_id(const char *s, size_t n, const char *prefix)
{
	if (!has_prefix(s, n, prefix))
		return NULL;
	size_t k = strlen(prefix);
	size_t m = n - k;
	if (has_suffix(s, n, ".scope"))
		m -= 6;
	return is_hex_id(s + k, m) ? s + k : NULL;
}

struct comp {
	const char *s;
	size_t n;
};

#define MAX_COMPS 32

static size_t split_path(const char *p, const char *end, struct comp *c)
{
	size_t n = 0;
	while (p < end && n < MAX_COMPS) {
		while (p < end && *p == '/')
			p++;
		if (p >= end)
			break;
		const char *e = memchr(p, '/', (size_t)(end - p));
		if (!e)
			e = end;
		c[n++] = (struct comp){p, (size_t)(e - p)};
		p = e;
	}
	return n;
}

/* systemd's unit-name unescaping of \xHH (machine-a\x2db.scope) */
static char *unescape(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (s[i] == '\\' && i + 3 < n + 0 && s[i + 1] == 'x' &&
		    sscanf(s + i + 2, "%2x", &v) == 1 && v >= 0x20 && v < 0x7f) {
			*o++ = (char)v;
			i += 3;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static int set(struct pw_container *c, const char *runtime, const char *id, size_t n)
{
	c->runtime = runtime;
	c->id = strndup(id, n);
	return c->id ? 0 : -ENOMEM;
}

/* kubepods: pod uid from "pod<uid>" or "kubepods-<qos>-pod<uid_>.slice" */
static int kube_pod(const struct comp *c, struct pw_container *ret)
{
	const char *s = c->s;
	size_t n = c->n;
	if (has_suffix(s, n, ".slice")) {
		n -= 6;
		const char *p = NULL;
		for (size_t i = 0; i + 3 < n; i++)
			if (!memcmp(s + i, "pod", 3) && (i == 0 || s[i - 1] == '-'))
				p = s + i;
		if (!p)
			return 0;
		size_t k = (size_t)(s + n - p - 3);
		if (k < 8)
			return 0;
		char *uid = strndup(p + 3, k);
		if (!uid)
			return -ENOMEM;
		for (char *u = uid; *u; u++)
			if (*u == '_')
				*u = '-';
		free(ret->pod_uid);
		ret->pod_uid = uid;
		return 1;
	}
	if (n > 11 && has_prefix(s, n, "pod")) {
		free(ret->pod_uid);
		ret->pod_uid = strndup(s + 3, n - 3);
		return ret->pod_uid ? 1 : -ENOMEM;
	}
	return 0;
}

static int from_path(const char *p, const char *end, struct pw_container *ret)
{
	struct comp c[MAX_COMPS];
	size_t n = split_path(p, end, c);
	const char *id;
	bool kube = false;

	for (size_t i = 0; i < n; i++) {
		const char *s = c[i].s;
		size_t k = c[i].n;
		if (has_prefix(s, k, "kubepods")) { /* kubepods-QOS-podUID.slice too */
			kube = true;
			int r = kube_pod(&c[i], ret);
			if (r < 0)
				return r;
			continue;
		}
		if (kube) {
			int r = kube_pod(&c[i], ret);
			if (r < 0)
				return r;
			if (r > 0)
				continue;
			if ((id = prefixed_id(s, k, "cri-containerd-")))
				return set(ret, "containerd", id, 64);
			if ((id = prefixed_id(s, k, "crio-")))
				return set(ret, "cri-o", id, 64);
			if ((id = prefixed_id(s, k, "docker-")))
				return set(ret, "docker", id, 64);
			if (is_hex_id(s, k))
				return set(ret, "kubernetes", s, k);
			continue;
		}
		if ((id = prefixed_id(s, k, "docker-")))
			return set(ret, "docker", id, 64);
		if (is(s, k, "docker") && i + 1 < n && is_hex_id(c[i + 1].s, c[i + 1].n))
			return set(ret, "docker", c[i + 1].s, 64);
		if ((id = prefixed_id(s, k, "libpod-")))
			return set(ret, "podman", id, 64);
		if (is(s, k, "machine.slice") && i + 1 < n &&
		    has_prefix(c[i + 1].s, c[i + 1].n, "machine-") &&
		    has_suffix(c[i + 1].s, c[i + 1].n, ".scope") && c[i + 1].n > 14) {
			ret->runtime = "nspawn";
			ret->id = unescape(c[i + 1].s + 8, c[i + 1].n - 14);
			if (!ret->id)
				return -ENOMEM;
			ret->name = strdup(ret->id);
			ret->source = "cgroup";
			return ret->name ? 0 : -ENOMEM;
		}
		const char *lxc = NULL;
		size_t ln = 0;
		if (has_prefix(s, k, "lxc.payload.") && k > 12) {
			lxc = s + 12;
			ln = k - 12;
		} else if ((is(s, k, "lxc") || is(s, k, "lxc.payload")) && i + 1 < n) {
			lxc = c[i + 1].s;
			ln = c[i + 1].n;
		}
		if (lxc) {
			int r = set(ret, "lxc", lxc, ln);
			ret->name = r == 0 ? strdup(ret->id) : NULL;
			ret->source = "cgroup";
			return r < 0 ? r : ret->name ? 0 : -ENOMEM;
		}
	}
	return -ENOENT;
}

int pw_parse_cgroup_container(const char *buf, struct pw_container *ret)
{
	if (!buf || !ret)
		return -EINVAL;
	for (const char *line = buf; *line;) {
		const char *eol = strchr(line, '\n');
		if (!eol)
			eol = line + strlen(line);
		const char *c1 = memchr(line, ':', (size_t)(eol - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (c2) {
			struct pw_container c = {0};
			int r = from_path(c2 + 1, eol, &c);
			if (r == 0) {
				*ret = c;
				return 0;
			}
			pw_container_clear(&c);
			if (r != -ENOENT)
				return r;
		}
		line = *eol ? eol + 1 : eol;
	}
	return -ENOENT;
}

/* systemd-nspawn's machine name: -M NAME, --machine NAME, --machine=NAME,
 * or the directory/image basename it defaults to (-D DIR, --directory=DIR).
 * argv is NUL-separated. */
int pw_nspawn_machine(const char *argv, size_t len, char **ret)
{
	const char *dir = NULL;
	size_t dlen = 0;
	const char *end = argv + len;
	for (const char *a = argv; a < end; a += strlen(a) + 1) {
		const char *next = a + strlen(a) + 1;
		const char *val = NULL;
		bool is_dir = false;
		if (!strcmp(a, "-M") || !strcmp(a, "--machine"))
			val = next < end ? next : NULL;
		else if (!strncmp(a, "--machine=", 10))
			val = a + 10;
		else if (!strncmp(a, "-M", 2) && a[2])
			val = a + 2;
		else if (!strcmp(a, "-D") || !strcmp(a, "--directory") || !strcmp(a, "-i") ||
			 !strcmp(a, "--image"))
			val = next < end ? next : NULL, is_dir = true;
		else if (!strncmp(a, "--directory=", 12))
			val = a + 12, is_dir = true;
		else if (!strncmp(a, "--image=", 8))
			val = a + 8, is_dir = true;
		else if (!strcmp(a, "--"))
			break;
		if (!val || !*val)
			continue;
		if (!is_dir) {
			*ret = strdup(val);
			return *ret ? 0 : -ENOMEM;
		}
		size_t vl = strlen(val);
		while (vl > 1 && val[vl - 1] == '/')
			vl--;
		const char *slash = memrchr(val, '/', vl);
		dir = slash ? slash + 1 : val;
		dlen = (size_t)(val + vl - dir);
	}
	if (!dir || !dlen)
		return -ENOENT;
	*ret = strndup(dir, dlen);
	return *ret ? 0 : -ENOMEM;
}

int pw_container_label(const struct pw_container *c, char *buf, size_t len)
{
	if (!c || !c->runtime)
		return -EINVAL;
	const char *rt = c->runtime;
	if (c->pod_name)
		rt = "k8s";
	int n;
	if (c->pod_name && c->pod_namespace)
		n = snprintf(buf, len, "%s:%s/%s", rt, c->pod_namespace, c->pod_name);
	else if (c->name)
		n = snprintf(buf, len, "%s:%s", rt, c->name);
	else
		n = snprintf(buf, len, "%s:%.12s", rt, c->id ? c->id : "?");
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

/* A word safe to paste into a shell: what Docker, podman, machined and
 * Kubernetes allow in names anyway ([A-Za-z0-9][A-Za-z0-9_.-]*). A name
 * that is not came from somewhere else than the runtime: no command. */
static bool shell_safe(const char *s)
{
	if (!s || !*s || *s == '-' || *s == '.' || strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

int pw_container_stop_command(const struct pw_container *c, char *buf, size_t len)
{
	if (!c || !c->runtime || !c->id)
		return -EINVAL;
	const char *who = shell_safe(c->name) ? c->name : c->id;
	if (!shell_safe(who))
		return -EINVAL;
	int n;
	if (c->pod_name && c->pod_namespace) {
		if (!shell_safe(c->pod_namespace) || !shell_safe(c->pod_name))
			return -EINVAL;
		n = snprintf(buf, len, "kubectl delete pod -n %s %s", c->pod_namespace,
			     c->pod_name);
	} else if (!strcmp(c->runtime, "docker")) {
		n = snprintf(buf, len, "docker stop %s", who);
	} else if (!strcmp(c->runtime, "podman")) {
		n = snprintf(buf, len, "podman stop %s", who);
	} else if (!strcmp(c->runtime, "nspawn")) {
		/* machinectl knows only machines registered with machined (found
		 * by their machine.slice scope); --register=no ones have no
		 * runtime command */
		if (!c->source || strcmp(c->source, "cgroup"))
			return -EOPNOTSUPP;
		n = snprintf(buf, len, "machinectl stop %s", who);
	} else if (!strcmp(c->runtime, "lxc")) {
		n = snprintf(buf, len, "lxc-stop -n %s", who);
	} else if (!strcmp(c->runtime, "containerd")) {
		if (!shell_safe(c->id))
			return -EINVAL;
		n = snprintf(buf, len, "ctr -n k8s.io task kill %s", c->id);
	} else if (!strcmp(c->runtime, "cri-o")) {
		if (!shell_safe(c->id))
			return -EINVAL;
		n = snprintf(buf, len, "crictl stop %s", c->id);
	} else {
		return -EOPNOTSUPP;
	}
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

void pw_container_clear(struct pw_container *c)
{
	if (!c)
		return;
	free(c->id);
	free(c->name);
	free(c->pod_namespace);
	free(c->pod_name);
	free(c->pod_uid);
	*c = (struct pw_container){0};
}
