/* SPDX-License-Identifier: MIT */
/*
 * Docker container names from the Engine API over its unix socket (libcurl,
 * CURLOPT_UNIX_SOCKET_PATH): one GET /containers/json?all=1 per daemon.
 * The socket is the default /run/docker.sock, then each running dockerd's
 * own -H unix://PATH; a container still unnamed (daemon not answering) is
 * named from its daemon's data root (--data-root, default /var/lib/docker):
 * containers/ID/config.v2.json. Nothing is run, nothing is written.
 *
 * libcurl is opened with dlopen() the first time a Docker container needs a
 * name: linked in, it and its TLS/GSSAPI/LDAP libraries cost every run a few
 * milliseconds of loading on hosts without containers.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <curl/curl.h>
#include <jansson.h>

#include "internal.h"

#define RESPONSE_MAX (32u << 20)
#define API_TIMEOUT_MS 2000
#define MAX_DAEMONS 16

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;
	size_t add = size * nmemb;
	if (b->n + add > RESPONSE_MAX)
		return 0;
	char *np = realloc(b->p, b->n + add + 1);
	if (!np)
		return 0;
	memcpy(np + b->n, data, add);
	b->n += add;
	np[b->n] = '\0';
	b->p = np;
	return add;
}

/* Give each unnamed docker container in snap the name id -> name says. */
static unsigned assign(struct pw_snapshot *snap, const char *id, const char *name,
		       const char *source)
{
	unsigned left = 0;
	if (name && *name == '/')
		name++;
	for (size_t j = 0; j < snap->n_procs; j++) {
		struct pw_container *c = snap->procs[j].container;
		if (!c || c->name || strcmp(c->runtime, "docker"))
			continue;
		if (id && name && *name && !strcmp(c->id, id) && (c->name = strdup(name)))
			c->source = source;
		else
			left++;
	}
	return left;
}

static unsigned unnamed(struct pw_snapshot *snap)
{
	return assign(snap, NULL, NULL, NULL);
}

static struct {
	void *dl;
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
} cu;

/* 0 when libcurl is usable; tried once per process */
static int curl_open(void)
{
	static int state; /* 0 untried, 1 ready, -1 unavailable */
	if (state)
		return state > 0 ? 0 : -EOPNOTSUPP;
	state = -1;
	cu.dl = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!cu.dl)
		return -EOPNOTSUPP;
	*(void **)&cu.global_init = dlsym(cu.dl, "curl_global_init");
	*(void **)&cu.easy_init = dlsym(cu.dl, "curl_easy_init");
	*(void **)&cu.easy_setopt = dlsym(cu.dl, "curl_easy_setopt");
	*(void **)&cu.easy_perform = dlsym(cu.dl, "curl_easy_perform");
	*(void **)&cu.easy_getinfo = dlsym(cu.dl, "curl_easy_getinfo");
	*(void **)&cu.easy_cleanup = dlsym(cu.dl, "curl_easy_cleanup");
	if (!cu.global_init || !cu.easy_init || !cu.easy_setopt || !cu.easy_perform ||
	    !cu.easy_getinfo || !cu.easy_cleanup || cu.global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
		return -EOPNOTSUPP; /* the handle stays open: nothing else loads it */
	state = 1;
	return 0;
}

/* One daemon's container list; -errno when it does not answer. */
static int ask_api(struct pw_snapshot *snap, const char *sock)
{
	if (curl_open() < 0)
		return -EOPNOTSUPP;
	CURL *h = cu.easy_init();
	if (!h)
		return -ENOMEM;
	struct buf b = {0};
	cu.easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
	cu.easy_setopt(h, CURLOPT_URL, "http://localhost/v1.24/containers/json?all=1");
	cu.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	cu.easy_setopt(h, CURLOPT_WRITEDATA, &b);
	cu.easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)API_TIMEOUT_MS);
	cu.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	CURLcode rc = cu.easy_perform(h);
	long status = 0;
	cu.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	cu.easy_cleanup(h);
	if (rc != CURLE_OK || status != 200 || !b.p) {
		free(b.p);
		return -ECONNREFUSED;
	}
	json_t *doc = json_loadb(b.p, b.n, 0, NULL);
	free(b.p);
	if (!json_is_array(doc)) {
		json_decref(doc);
		return -EBADMSG;
	}
	size_t i;
	json_t *e;
	json_array_foreach(doc, i, e)
	{
		const char *id = json_string_value(json_object_get(e, "Id"));
		const char *name =
		    json_string_value(json_array_get(json_object_get(e, "Names"), 0));
		if (id && name)
			assign(snap, id, name, "docker-api");
	}
	json_decref(doc);
	return 0;
}

static void from_data_root(struct pw_snapshot *snap, const char *root)
{
	for (size_t j = 0; j < snap->n_procs; j++) {
		struct pw_container *c = snap->procs[j].container;
		if (!c || c->name || strcmp(c->runtime, "docker"))
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/containers/%s/config.v2.json", root, c->id);
		json_t *doc = json_load_file(path, 0, NULL);
		const char *name = json_string_value(json_object_get(doc, "Name"));
		if (name)
			assign(snap, c->id, name, "docker-data-root");
		json_decref(doc);
	}
}

struct daemon {
	char *sock;
	char *data_root;
};

/* A dockerd's -H unix://PATH (or the default) and --data-root. */
static void parse_dockerd(const char *argv, size_t len, struct daemon *d)
{
	const char *end = argv + len;
	for (const char *a = argv; a < end; a += strlen(a) + 1) {
		const char *next = a + strlen(a) + 1;
		const char *host = NULL, *root = NULL;
		if (!strcmp(a, "-H") || !strcmp(a, "--host"))
			host = next < end ? next : NULL;
		else if (!strncmp(a, "--host=", 7))
			host = a + 7;
		else if (!strncmp(a, "-H", 2) && a[2])
			host = a[2] == '=' ? a + 3 : a + 2;
		else if (!strcmp(a, "--data-root") || !strcmp(a, "-g") || !strcmp(a, "--graph"))
			root = next < end ? next : NULL;
		else if (!strncmp(a, "--data-root=", 12))
			root = a + 12;
		if (host && !d->sock && !strncmp(host, "unix://", 7) && host[7])
			d->sock = strdup(host + 7);
		if (root && !d->data_root && *root)
			d->data_root = strdup(root);
	}
}

static size_t find_daemons(int procfd, struct daemon *out, size_t max)
{
	int fd = openat(procfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dir)) && n < max) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char path[300];
		snprintf(path, sizeof(path), "%s/comm", de->d_name);
		_cleanup_free_ char *comm = NULL, *argv = NULL;
		size_t len;
		if (pw_read_file_at(procfd, path, 64, &comm, &len) < 0 || strcmp(comm, "dockerd\n"))
			continue;
		/* only root's daemons: anyone can name a process "dockerd" and
		 * point it at a socket of theirs */
		struct stat st;
		if (fstatat(procfd, de->d_name, &st, 0) < 0 || st.st_uid != 0)
			continue;
		snprintf(path, sizeof(path), "%s/cmdline", de->d_name);
		if (pw_read_file_at(procfd, path, 64u << 10, &argv, &len) < 0)
			continue;
		out[n] = (struct daemon){0};
		parse_dockerd(argv, len, &out[n]);
		n++;
	}
	closedir(dir);
	return n;
}

void pw_docker_names(struct pw_snapshot *snap, int procfd)
{
	struct stat def;
	bool have_default =
	    stat("/run/docker.sock", &def) == 0 && S_ISSOCK(def.st_mode) && def.st_uid == 0;
	if (have_default)
		ask_api(snap, "/run/docker.sock");
	if (!unnamed(snap))
		return;
	struct daemon d[MAX_DAEMONS];
	size_t n = find_daemons(procfd, d, MAX_DAEMONS);
	for (size_t i = 0; i < n && unnamed(snap); i++) {
		const char *sock = d[i].sock ? d[i].sock : "/run/docker.sock";
		struct stat st;
		if (stat(sock, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != 0 ||
		    (have_default && st.st_ino == def.st_ino && st.st_dev == def.st_dev))
			continue; /* asked already */
		ask_api(snap, sock);
	}
	for (size_t i = 0; i < n && unnamed(snap); i++)
		from_data_root(snap, d[i].data_root ? d[i].data_root : "/var/lib/docker");
	if (!n && unnamed(snap))
		from_data_root(snap, "/var/lib/docker");
	for (size_t i = 0; i < n; i++) {
		free(d[i].sock);
		free(d[i].data_root);
	}
}
