/* SPDX-License-Identifier: MIT */
/* src/render-prom.c over a hand-built view: series summed per label set,
 * holders counted once per process, label escaping, the atomic =FILE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "portwho-cmd.h"

static struct pw_process nginx = {
    .pid = 100, .comm = (char *)"nginx", .unit = (char *)"nginx.service"};
static struct pw_process worker = {
    .pid = 101, .comm = (char *)"nginx", .unit = (char *)"nginx.service"};
static struct pw_process odd = {.pid = 200, .comm = (char *)"a\"b\\c\nd\x01"};

static struct pw_holder h_listen[] = {
    {.proc = &nginx, .tid = 100, .fd = 6},
    {.proc = &nginx, .tid = 100, .fd = 7}, /* the same process twice */
    {.proc = &worker, .tid = 101, .fd = 6},
};
static struct pw_holder h_odd[] = {{.proc = &odd, .tid = 200, .fd = 3}};

static struct pw_socket s_v4 = {.netns = 4026531840,
				.inode = 11,
				.family = AF_INET,
				.proto = IPPROTO_TCP,
				.state = PW_ST_LISTEN,
				.laddr = {.family = AF_INET},
				.lport = 80,
				.n_holders = 3,
				.holders = h_listen};
/* a reuseport sibling: same labels, summed into one series */
static struct pw_socket s_v4b = {.netns = 4026531840,
				 .inode = 12,
				 .family = AF_INET,
				 .proto = IPPROTO_TCP,
				 .state = PW_ST_LISTEN,
				 .laddr = {.family = AF_INET},
				 .lport = 80,
				 .n_holders = 1,
				 .holders = h_odd};
static struct pw_socket s_unheld = {.netns = 4026531840,
				    .inode = 13,
				    .family = AF_INET6,
				    .proto = IPPROTO_TCP,
				    .state = PW_ST_LISTEN,
				    .laddr = {.family = AF_INET6, .bytes = {[15] = 1}},
				    .lport = 80};

static struct pw_socket *g_socks[] = {&s_v4, &s_v4b, &s_unheld};
static struct pw_reason g_reasons[] = {
    {.kind = PW_R_REUSEPORT, .confidence = PW_CONF_VERIFIED, .n_sockets = 2, .sockets = g_socks},
    {.kind = PW_R_SINGLE, .confidence = PW_CONF_VERIFIED, .n_sockets = 1, .sockets = g_socks + 2},
};
static struct pw_port_group grp = {.netns = 4026531840,
				   .proto = IPPROTO_TCP,
				   .port = 80,
				   .n_sockets = 3,
				   .sockets = g_socks,
				   .n_reasons = 2,
				   .reasons = g_reasons};
static const struct pw_socket *v_socks[] = {&s_v4, &s_v4b, &s_unheld};
static struct view_group vgroup = {.group = &grp, .sockets = v_socks, .n_sockets = 3};
static struct pw_stats stats = {.privileged = true,
				.hidden_processes = 2,
				.netns_seen = 3,
				.netns_skipped = 1,
				.collector = "procfs"};
static struct view view = {.groups = &vgroup,
			   .n_groups = 1,
			   .n_sockets = 3,
			   .n_netns = 1,
			   .stats = &stats,
			   .scan_seconds = 0.25};
static struct options opts;

static char *render(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(render_prom(&opts, &view, f), 0);
	fclose(f);
	return buf;
}

#define L4 "netns=\"4026531840\",proto=\"tcp\",address=\"0.0.0.0\",port=\"80\",state=\"LISTEN\""
#define L6 "netns=\"4026531840\",proto=\"tcp\",address=\"::1\",port=\"80\",state=\"LISTEN\""

static void test_series(void **state)
{
	(void)state;
	char *out = render();
	/* two sockets share every label: one series of 2 */
	assert_non_null(strstr(out, "\nportwho_sockets{" L4 "} 2\n"));
	assert_non_null(strstr(out, "\nportwho_sockets{" L6 "} 1\n"));
	/* nginx holds through two fds of pid 100 and pid 101: 2 processes */
	assert_non_null(strstr(out,
			       "\nportwho_socket_holders{" L4
			       ",command=\"nginx\",unit=\"nginx.service\",container=\"\"} 2\n"));
	/* terminal-safe first (\" stays, \\ \n \x01 as text), then the format */
	assert_non_null(strstr(out, "\nportwho_socket_holders{" L4
				    ",command=\"a\\\"b\\\\\\\\c\\\\nd\\\\x01\",unit=\"\","
				    "container=\"\"} 1\n"));
	/* the unheld socket has no holder series */
	assert_null(strstr(out, "portwho_socket_holders{" L6));
	assert_non_null(strstr(out,
			       "\nportwho_port_reason{netns=\"4026531840\",proto=\"tcp\","
			       "port=\"80\",reason=\"reuseport\",confidence=\"verified\"} 2\n"));
	assert_non_null(strstr(out, "\nportwho_scan_duration_seconds 0.250000\n"));
	assert_non_null(strstr(out, "\nportwho_scan_hidden_processes 2\n"));
	assert_non_null(strstr(out, "\nportwho_scan_namespaces_skipped 1\n"));
	/* every kind of the incomplete list has its series (no snapshot here:
	 * nothing listed, so 0) */
	for (int k = 0; k < PW_INC_MAX; k++) {
		char want[96];
		snprintf(want, sizeof(want), "\nportwho_scan_incomplete{kind=\"%s\"} 0\n",
			 pw_incomplete_kind_name((enum pw_incomplete_kind)k));
		assert_non_null(strstr(out, want));
	}
	assert_non_null(strstr(out, "\nportwho_info{collector=\"procfs\"} 1\n"));
	/* no raw control byte anywhere; every sample's metric has HELP and TYPE */
	for (const char *p = out; *p; p++)
		assert_true(*p == '\n' || (unsigned char)*p >= 0x20);
	free(out);
	out = render();
	for (const char *p = out; (p = strstr(p, "\nportwho_"));) {
		p++;
		char name[64];
		size_t n = strcspn(p, "{ ");
		memcpy(name, p, n);
		name[n] = '\0';
		char want[160];
		snprintf(want, sizeof(want), "# HELP %s ", name);
		assert_non_null(strstr(out, want));
		snprintf(want, sizeof(want), "# TYPE %s gauge\n", name);
		assert_non_null(strstr(out, want));
	}
	free(out);
}

/* The netns label is the namespace's name, the inode when it has none or
 * only "pid:N" (a PID is never a label); the container label is the
 * holder's runtime:name, runtime:id (12 characters) when unnamed. */
static struct pw_container c_named = {
    .runtime = "docker", .id = (char *)"0123456789abcdef0123", .name = (char *)"web"};
static struct pw_container c_anon = {.runtime = "podman", .id = (char *)"fedcba9876543210fedc"};
static struct pw_process in_web = {.pid = 300, .comm = (char *)"nginx", .container = &c_named};
static struct pw_process in_anon = {.pid = 301, .comm = (char *)"redis", .container = &c_anon};
static struct pw_holder h_web[] = {{.proc = &in_web, .tid = 300, .fd = 3}};
static struct pw_holder h_anon[] = {{.proc = &in_anon, .tid = 301, .fd = 3}};
static struct pw_socket s_web = {.netns = 4026532001,
				 .inode = 21,
				 .family = AF_INET,
				 .proto = IPPROTO_TCP,
				 .state = PW_ST_LISTEN,
				 .laddr = {.family = AF_INET},
				 .lport = 80,
				 .n_holders = 1,
				 .holders = h_web};
static struct pw_socket s_anon = {.netns = 4026532002,
				  .inode = 22,
				  .family = AF_INET,
				  .proto = IPPROTO_TCP,
				  .state = PW_ST_LISTEN,
				  .laddr = {.family = AF_INET},
				  .lport = 6379,
				  .n_holders = 1,
				  .holders = h_anon};
static struct pw_socket *web_socks[] = {&s_web};
static struct pw_socket *anon_socks[] = {&s_anon};
static const struct pw_socket *v_web[] = {&s_web};
static const struct pw_socket *v_anon[] = {&s_anon};
static struct pw_port_group grp_web = {.netns = 4026532001,
				       .proto = IPPROTO_TCP,
				       .port = 80,
				       .netns_name = "docker:web",
				       .n_sockets = 1,
				       .sockets = web_socks};
static struct pw_port_group grp_anon = {.netns = 4026532002,
					.proto = IPPROTO_TCP,
					.port = 6379,
					.netns_name = "pid:301",
					.n_sockets = 1,
					.sockets = anon_socks};
static struct view_group vgroups2[] = {
    {.group = &grp_web, .sockets = v_web, .n_sockets = 1},
    {.group = &grp_anon, .sockets = v_anon, .n_sockets = 1},
};
static struct view view2 = {.groups = vgroups2,
			    .n_groups = 2,
			    .n_sockets = 2,
			    .n_netns = 2,
			    .stats = &stats,
			    .scan_seconds = 0.25};

static void test_labels(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(render_prom(&opts, &view2, f), 0);
	fclose(f);
	assert_non_null(strstr(buf, "\nportwho_sockets{netns=\"docker:web\",proto=\"tcp\","
				    "address=\"0.0.0.0\",port=\"80\",state=\"LISTEN\"} 1\n"));
	assert_non_null(strstr(buf, "\nportwho_socket_holders{netns=\"docker:web\",proto=\"tcp\","
				    "address=\"0.0.0.0\",port=\"80\",state=\"LISTEN\","
				    "command=\"nginx\",unit=\"\",container=\"docker:web\"} 1\n"));
	assert_non_null(strstr(buf, "\nportwho_sockets{netns=\"4026532002\",proto=\"tcp\","
				    "address=\"0.0.0.0\",port=\"6379\",state=\"LISTEN\"} 1\n"));
	assert_non_null(
	    strstr(buf, ",command=\"redis\",unit=\"\",container=\"podman:fedcba987654\"} 1\n"));
	assert_null(strstr(buf, "pid:"));
	/* the pid in "pid:301" names nothing outside this run: in no label
	 * (the scan timestamp may hold the digits) */
	assert_null(strstr(buf, "301\""));
	assert_null(strstr(buf, "\"301"));
	free(buf);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."));
	closedir(d);
	return n;
}

static void test_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/pwprom-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64], sub[64];
	snprintf(path, sizeof(path), "%s/portwho.prom", dir);
	assert_int_equal(render_prom_file(&opts, &view, path), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(count_entries(dir), 1);
	/* a directory in the way: the rename fails, nothing is left behind */
	snprintf(sub, sizeof(sub), "%s/taken.prom", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(render_prom_file(&opts, &view, sub), -EISDIR);
	assert_int_equal(count_entries(dir), 2);
	snprintf(sub, sizeof(sub), "%s/none/x.prom", dir);
	assert_int_equal(render_prom_file(&opts, &view, sub), -ENOENT);
	snprintf(sub, sizeof(sub), "%s/taken.prom", dir);
	rmdir(sub);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_series),
	    cmocka_unit_test(test_labels),
	    cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
