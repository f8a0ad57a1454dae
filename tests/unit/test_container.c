/* SPDX-License-Identifier: MIT */
/* Containers from cgroup paths, NSpid, nspawn's argv, kubelet's log trees,
 * labels and stop commands: pure code over fake data. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "internal.h"

#define ID64 "ea71dd1402d417234710363cf23f31bd6b23a9752dd693d1f7d7ec9bf11e7586"
#define UID "3c9ba8e6-5f1a-4b2e-9d0e-7a1b2c3d4e5f"
#define UID_ "3c9ba8e6_5f1a_4b2e_9d0e_7a1b2c3d4e5f"

struct want {
	const char *cgroup;
	const char *runtime; /* NULL: no container */
	const char *id;
	const char *name;
	const char *pod_uid;
};

static void check(const struct want *w)
{
	struct pw_container c = {0};
	int r = pw_parse_cgroup_container(w->cgroup, &c);
	if (!w->runtime) {
		assert_int_equal(r, -ENOENT);
		return;
	}
	assert_int_equal(r, 0);
	assert_string_equal(c.runtime, w->runtime);
	assert_string_equal(c.id, w->id);
	if (w->name)
		assert_string_equal(c.name, w->name);
	else
		assert_null(c.name);
	if (w->pod_uid)
		assert_string_equal(c.pod_uid, w->pod_uid);
	else
		assert_null(c.pod_uid);
	pw_container_clear(&c);
}

static void test_cgroup_layouts(void **state)
{
	(void)state;
	static const struct want cases[] = {
	    /* Docker, cgroupfs driver, hybrid hierarchy as on this VM */
	    {"9:name=systemd:/docker/" ID64 "\n8:pids:/docker/" ID64 "\n0::/docker/" ID64 "\n",
	     "docker", ID64, NULL, NULL},
	    /* Docker, systemd driver */
	    {"0::/system.slice/docker-" ID64 ".scope\n", "docker", ID64, NULL, NULL},
	    /* podman as root (systemd) and rootless; conmon is not the container */
	    {"0::/machine.slice/libpod-" ID64 ".scope/container\n", "podman", ID64, NULL, NULL},
	    {"0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID64 ".scope\n",
	     "podman", ID64, NULL, NULL},
	    {"0::/machine.slice/libpod-conmon-" ID64 ".scope\n", NULL, NULL, NULL, NULL},
	    {"0::/libpod_parent/libpod-" ID64 "\n", "podman", ID64, NULL, NULL},
	    /* Kubernetes: cgroupfs, systemd with containerd, CRI-O, dockershim */
	    {"0::/kubepods/besteffort/pod" UID "/" ID64 "\n", "kubernetes", ID64, NULL, UID},
	    {"0::/kubepods/pod" UID "/" ID64 "\n", "kubernetes", ID64, NULL, UID},
	    {"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	     ".slice/cri-containerd-" ID64 ".scope\n",
	     "containerd", ID64, NULL, UID},
	    {"0::/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID64 ".scope\n", "cri-o", ID64,
	     NULL, UID},
	    {"1:name=systemd:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	     ".slice/docker-" ID64 ".scope\n",
	     "docker", ID64, NULL, UID},
	    /* a pod's own cgroup with no container below it */
	    {"0::/kubepods/besteffort/pod" UID "\n", NULL, NULL, NULL, NULL},
	    /* nspawn registered with machined: the name is in the scope */
	    {"0::/machine.slice/machine-pt\\x2dfix.scope/payload/system.slice/echo.service\n",
	     "nspawn", "pt-fix", "pt-fix", NULL},
	    /* LXC 4+ and older */
	    {"0::/lxc.payload.c1/system.slice/nginx.service\n", "lxc", "c1", "c1", NULL},
	    {"4:memory:/lxc/web01\n", "lxc", "web01", "web01", NULL},
	    /* not containers */
	    {"0::/system.slice/ssh.service\n", NULL, NULL, NULL, NULL},
	    {"0::/docker/not-an-id\n", NULL, NULL, NULL, NULL},
	    {"0::/docker\n", NULL, NULL, NULL, NULL},
	    {"0::/\n", NULL, NULL, NULL, NULL},
	    {"", NULL, NULL, NULL, NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check(&cases[i]);
}

static void test_nspid(void **state)
{
	(void)state;
	pid_t p = 0;
	assert_int_equal(pw_parse_status_nspid("Name:\tx\nNSpid:\t25918\t1\nNSpgid:\t1\n", &p), 0);
	assert_int_equal(p, 1);
	assert_int_equal(pw_parse_status_nspid("Name:\tx\nNSpid:\t812\n", &p), 0);
	assert_int_equal(p, 812);
	assert_int_equal(pw_parse_status_nspid("Name:\tx\nPid:\t812\n", &p), -ENOENT);
	assert_int_equal(pw_parse_status_nspid("Name:\tx\nNSpid:\t\n", &p), -EINVAL);
}

static void machine(const char *argv, size_t len, int want_r, const char *want)
{
	char *m = NULL;
	assert_int_equal(pw_nspawn_machine(argv, len, &m), want_r);
	if (want)
		assert_string_equal(m, want);
	free(m);
}

#define ARGV(s) s, sizeof(s)

static void test_nspawn_machine(void **state)
{
	(void)state;
	machine(ARGV("systemd-nspawn\0--register=no\0-D\0/var/lib/machines/ptfix\0-b"), 0, "ptfix");
	machine(ARGV("systemd-nspawn\0-D\0/srv/root/\0--machine=web\0-b"), 0, "web");
	machine(ARGV("systemd-nspawn\0-M\0db\0-b"), 0, "db");
	machine(ARGV("systemd-nspawn\0-Mdb2\0-b"), 0, "db2");
	machine(ARGV("systemd-nspawn\0--directory=/tmp/x/rootfs\0-b"), 0, "rootfs");
	machine(ARGV("systemd-nspawn\0-b\0--\0-M\0inner"), -ENOENT, NULL);
	machine(ARGV("systemd-nspawn\0-M"), -ENOENT, NULL);
}

static void label(const struct pw_container *c, const char *want_label, const char *want_stop)
{
	char buf[256];
	assert_true(pw_container_label(c, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, want_label);
	int r = pw_container_stop_command(c, buf, sizeof(buf));
	if (want_stop) {
		assert_true(r > 0);
		assert_string_equal(buf, want_stop);
	} else {
		assert_int_equal(r, -EOPNOTSUPP);
	}
}

static void test_labels(void **state)
{
	(void)state;
	struct pw_container d = {.runtime = "docker", .id = (char *)ID64, .name = (char *)"web"};
	label(&d, "docker:web", "docker stop web");
	d.name = NULL;
	label(&d, "docker:ea71dd1402d4", "docker stop " ID64);
	struct pw_container p = {.runtime = "podman", .id = (char *)ID64, .name = (char *)"db"};
	label(&p, "podman:db", "podman stop db");
	struct pw_container n = {.runtime = "nspawn",
				 .id = (char *)"ptfix",
				 .name = (char *)"ptfix",
				 .source = "cgroup"};
	label(&n, "nspawn:ptfix", "machinectl stop ptfix");
	/* --register=no: machinectl does not know it */
	n.source = "nspawn-cmdline";
	label(&n, "nspawn:ptfix", NULL);
	struct pw_container k = {.runtime = "containerd",
				 .id = (char *)ID64,
				 .name = (char *)"nginx",
				 .pod_namespace = (char *)"default",
				 .pod_name = (char *)"web-7d9f",
				 .pod_uid = (char *)UID};
	label(&k, "k8s:default/web-7d9f", "kubectl delete pod -n default web-7d9f");
	/* a name no runtime would give: the id instead, never a shell word */
	struct pw_container h = {
	    .runtime = "docker", .id = (char *)ID64, .name = (char *)"web;rm -rf /"};
	label(&h, "docker:web;rm -rf /", "docker stop " ID64);
	struct pw_container hp = {.runtime = "containerd",
				  .id = (char *)ID64,
				  .pod_namespace = (char *)"default",
				  .pod_name = (char *)"$(reboot)",
				  .pod_uid = (char *)UID};
	char cmd[128];
	assert_int_equal(pw_container_stop_command(&hp, cmd, sizeof(cmd)), -EINVAL);
	char small[8];
	assert_int_equal(pw_container_label(&k, small, sizeof(small)), -ENOSPC);
}

static void mkfile(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static void test_k8s_tree(void **state)
{
	(void)state;
	char root[] = "/tmp/pw-k8s-XXXXXX", p[512];
	assert_non_null(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/pods", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/containers", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p),
		 "%s/pods/kube-system_coredns-5d78_11111111-2222-3333-4444-555555555555", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/pods/default_web-7d9f_" UID, root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/containers/web-7d9f_default_nginx-" ID64 ".log", root);
	mkfile(p);
	snprintf(p, sizeof(p), "%s/containers/web-7d9f_default_sidecar-%.63s0.log", root, ID64);
	mkfile(p);

	struct pw_container c = {.runtime = "containerd"};
	c.id = strdup(ID64);
	c.pod_uid = strdup(UID);
	assert_int_equal(pw_k8s_name(root, &c), 0);
	assert_string_equal(c.pod_namespace, "default");
	assert_string_equal(c.pod_name, "web-7d9f");
	assert_string_equal(c.name, "nginx");
	pw_container_clear(&c);

	/* a pod uid with no directory: nothing is made up */
	struct pw_container u = {.runtime = "kubernetes"};
	u.id = strdup("0000000000000000000000000000000000000000000000000000000000000000");
	u.pod_uid = strdup("99999999-0000-0000-0000-000000000000");
	assert_int_equal(pw_k8s_name(root, &u), -ENOENT);
	assert_null(u.pod_name);
	assert_null(u.name);
	pw_container_clear(&u);

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/* ---- nspawn/LXC from the container's init, over a fake /proc ---------- */

static void put(const char *root, const char *rel, const char *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	assert_int_equal(system(cmd), 0);
	*slash = '/';
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

#define PUTS(root, rel, lit) put(root, rel, lit, sizeof(lit) - 1)

/* pid's stat with ppid, and status with the NSpid line */
static void proc(const char *root, int pid, int ppid, const char *nspid)
{
	char rel[64], buf[512];
	snprintf(rel, sizeof(rel), "%d/stat", pid);
	int n = snprintf(buf, sizeof(buf),
			 "%d (x) S %d 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0 0 0 0 0 0 0 0 "
			 "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			 pid, ppid);
	put(root, rel, buf, (size_t)n);
	snprintf(rel, sizeof(rel), "%d/status", pid);
	n = snprintf(buf, sizeof(buf), "Name:\tx\nPid:\t%d\nNSpid:\t%s\n", pid, nspid);
	put(root, rel, buf, (size_t)n);
}

static int from_init(const char *root, pid_t pid, struct pw_container *c)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	int r = pw_container_from_init(fd, pid, c);
	close(fd);
	return r;
}

static void test_from_init(void **state)
{
	(void)state;
	char root[] = "/tmp/pw-initproc-XXXXXX";
	assert_non_null(mkdtemp(root));
	/* nspawn --register=no --machine=ptfix: 100 nspawn, 200 its init, 300 a
	 * service inside */
	proc(root, 100, 1, "100");
	PUTS(root, "100/cmdline", "systemd-nspawn\0--register=no\0--machine=ptfix\0-b\0");
	proc(root, 200, 100, "200\t1");
	PUTS(root, "200/environ", "PATH=/bin\0container=systemd-nspawn\0");
	proc(root, 300, 200, "300\t57");
	struct pw_container c = {0};
	assert_int_equal(from_init(root, 300, &c), 0);
	assert_string_equal(c.runtime, "nspawn");
	assert_string_equal(c.name, "ptfix");
	assert_string_equal(c.id, "ptfix");
	assert_string_equal(c.source, "nspawn-cmdline");
	pw_container_clear(&c);

	/* no machine name in nspawn's argv: the container's hostname */
	PUTS(root, "100/cmdline", "systemd-nspawn\0--boot\0");
	PUTS(root, "200/root/etc/hostname", "web01\n");
	assert_int_equal(from_init(root, 300, &c), 0);
	assert_string_equal(c.name, "web01");
	assert_string_equal(c.source, "hostname");
	pw_container_clear(&c);

	/* LXC's init says container=lxc */
	PUTS(root, "200/environ", "container=lxc\0");
	assert_int_equal(from_init(root, 300, &c), 0);
	assert_string_equal(c.runtime, "lxc");
	assert_string_equal(c.name, "web01");
	pw_container_clear(&c);

	/* docker's init: the cgroup says docker, not this */
	PUTS(root, "200/environ", "container=docker\0");
	assert_int_equal(from_init(root, 300, &c), -ENOENT);
	/* no init in a child PID namespace on the way up: not a container */
	proc(root, 400, 1, "400");
	assert_int_equal(from_init(root, 400, &c), -ENOENT);

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_layouts),
		cmocka_unit_test(test_nspid),
		cmocka_unit_test(test_nspawn_machine),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_k8s_tree),
		cmocka_unit_test(test_from_init),
	};
	/* clang-format on */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
