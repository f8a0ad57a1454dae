# SPDX-License-Identifier: MIT
"""Real podman (Debian 12's 4.3) containers, named by portwho.

The test drives podman with its own CLI (portwho never runs it) on a store
of its own (--root, --runroot, --tmpdir in a random temp dir, vfs, cgroupfs
manager), the busybox image of dockerfix.py imported offline, and the
container joined to the test's private namespace (--network ns:PATH).
This VM's hard RLIMIT_NOFILE (20,000) is below podman's default, and its
nproc default is refused too: both are given explicitly.
portwho finds the container from /proc/PID/cgroup (libpod-ID) and its name
from podman's conmon (-n NAME), since this store is not the default one.
"""
import os
import secrets
import shutil
import subprocess
import tempfile
import time

import pytest

import dockerfix
import pwtest
from pwtest import show


class Podman:
    def __init__(self, netns):
        if shutil.which("podman") is None:
            pytest.fail("podman not installed (apt-get install podman)")
        self.netns = netns
        self.dir = tempfile.mkdtemp(prefix="pwpodman-")
        self.base = ["podman", "--root", self.dir + "/root", "--runroot", self.dir + "/run",
                     "--tmpdir", self.dir + "/tmp", "--cgroup-manager", "cgroupfs",
                     "--events-backend", "file", "--storage-driver", "vfs"]
        self.ids = []
        tar = os.path.join(self.dir, "img.tar")
        with open(tar, "wb") as f:
            f.write(dockerfix.busybox_tar())
        self.podman("import", tar, "pwbusy:latest")

    def podman(self, *args, timeout=120):
        r = subprocess.run(self.base + list(args), capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            pytest.fail("podman %s: %s" % (" ".join(args), r.stderr[-2000:]))
        return r.stdout.strip()

    def run(self, name, cmd):
        cid = self.podman("run", "-d", "--name", name, "--ulimit", "nofile=1024:1024",
                          "--ulimit", "nproc=1024:1024", "--network", "ns:" + self.netns.path,
                          "-w", "/www", "pwbusy:latest", "/bin/busybox", *cmd)
        self.ids.append(cid)
        pid = int(self.podman("inspect", "--format", "{{.State.Pid}}", cid))
        return cid, pid

    def close(self):
        for cid in self.ids:
            subprocess.run(self.base + ["rm", "-f", "-t", "0", cid], capture_output=True,
                           timeout=60)
        # conmon and the container's cgroups under libpod_parent; conmon
        # lingers as a zombie until PID 1 reaps it: poll, bounded
        root = "/sys/fs/cgroup"
        subs = ["libpod_parent/libpod-" + cid for cid in self.ids]
        subs += ["libpod_parent/conmon", "libpod_parent"]
        deadline = time.monotonic() + 10
        while True:
            left = 0
            for h in os.listdir(root):
                for sub in subs:
                    d = os.path.join(root, h, sub)
                    try:
                        os.rmdir(d)
                    except FileNotFoundError:
                        pass
                    except OSError:
                        left += 1
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        subprocess.run(["umount", "-R", self.dir + "/root/vfs"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def podman_web(module_netns):
    p = Podman(module_netns)
    try:
        name = "db" + secrets.token_hex(3)
        cid, pid = p.run(name, ["httpd", "-f", "-p", "8090"])
        yield module_netns, name, cid, pid
    finally:
        p.close()


def test_podman_container_named(podman_web):
    ns, name, cid, pid = podman_web
    res = pwtest.portwho_ok("-J", "8090", "-N", ns.path)
    g = pwtest.group(res.json, "tcp", 8090, netns=ns.inode)
    hs = [h for s in g["sockets"] for h in s["holders"]]
    assert [h["pid"] for h in hs] == [pid], show(g)
    assert hs[0]["container"] == {"runtime": "podman", "id": cid, "name": name, "pod": None}
    assert hs[0]["nspid"] == 1
    t = pwtest.portwho_ok("8090", "-N", ns.path, "-o", "PID,CONTAINER")
    assert "%d podman:%s" % (pid, name) in " ".join(t.stdout.split()), t.stdout
