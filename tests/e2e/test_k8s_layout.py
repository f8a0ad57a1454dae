# SPDX-License-Identifier: MIT
"""Kubernetes layouts without Kubernetes (it cannot be installed here).

Real holder processes are moved into cgroups of kubepods shape (the
cgroupfs layout, and the systemd layout with containerd's scope) in the
cgroup2 hierarchy, and kubelet's directories are faked: /var/log/pods/
NS_POD_UID/ and /var/log/containers/POD_NS_CONTAINER-ID.log, with random
names. portwho must name the pod and the container from them. Everything
created is removed (directories only if this test created them).
"""
import os
import secrets
import uuid

import pytest

import pwtest
from pwtest import show

CG2 = "/sys/fs/cgroup/unified"
LOGS = "/var/log"


def _cg2_root():
    if os.path.exists(os.path.join(CG2, "cgroup.procs")):
        return CG2
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "/sys/fs/cgroup"  # a pure cgroup2 host
    pytest.fail("no cgroup2 hierarchy at %s or /sys/fs/cgroup" % CG2)


class Made:
    """Directories and files made here, removed in reverse order."""

    def __init__(self):
        self.dirs = []
        self.files = []

    def mkdirs(self, path):
        todo = []
        p = path
        while not os.path.exists(p):
            todo.append(p)
            p = os.path.dirname(p)
        for d in reversed(todo):
            os.mkdir(d)
            self.dirs.append(d)

    def touch(self, path):
        with open(path, "w"):
            pass
        self.files.append(path)

    def remove(self):
        for f in reversed(self.files):
            try:
                os.unlink(f)
            except OSError:
                pass
        for d in reversed(self.dirs):
            try:
                os.rmdir(d)
            except OSError:
                pass


def _move(pid, cgdir):
    with open(os.path.join(cgdir, "cgroup.procs"), "w") as f:
        f.write(str(pid))


@pytest.fixture(scope="module")
def pods(module_netns):
    ns = module_netns
    made = Made()
    root = _cg2_root()
    out = []
    holders = []
    try:
        for layout in ("cgroupfs", "systemd"):
            pod_ns = "pwns" + secrets.token_hex(3)
            pod = "web-" + secrets.token_hex(2)
            uid = str(uuid.uuid4())
            cname = "nginx" + secrets.token_hex(2)
            cid = secrets.token_hex(32)
            if layout == "cgroupfs":
                cg = os.path.join(root, "kubepods", "besteffort", "pod" + uid, cid)
                runtime = "kubernetes"
                port = 7821
            else:
                u_ = uid.replace("-", "_")
                cg = os.path.join(root, "kubepods.slice", "kubepods-besteffort.slice",
                                  "kubepods-besteffort-pod%s.slice" % u_,
                                  "cri-containerd-%s.scope" % cid)
                runtime = "containerd"
                port = 7822
            made.mkdirs(cg)
            made.mkdirs(os.path.join(LOGS, "pods", "%s_%s_%s" % (pod_ns, pod, uid), cname))
            made.mkdirs(os.path.join(LOGS, "containers"))
            made.touch(os.path.join(LOGS, "containers", "%s_%s_%s-%s.log" % (pod, pod_ns, cname, cid)))
            h = ns.sockhold("tcp-listen:127.0.0.1:%d" % port)
            holders.append(h)
            _move(h.pid, cg)
            out.append(dict(layout=layout, pid=h.pid, port=port, runtime=runtime, id=cid,
                            name=cname, pod={"namespace": pod_ns, "name": pod, "uid": uid},
                            cgroup=cg))
        yield ns, out
    finally:
        for h in holders:
            h.kill()  # a cgroup empties when its process has exited and been reaped
        made.remove()


@pytest.mark.parametrize("layout", ["cgroupfs", "systemd"])
def test_pod_and_container_named(pods, layout):
    ns, out = pods
    p = [x for x in out if x["layout"] == layout][0]
    res = pwtest.portwho_ok("-J", p["port"], "-N", ns.path)
    g = pwtest.group(res.json, "tcp", p["port"], netns=ns.inode)
    hs = [h for s in g["sockets"] for h in s["holders"]]
    assert [h["pid"] for h in hs] == [p["pid"]], show(g)
    assert hs[0]["container"] == {"runtime": p["runtime"], "id": p["id"], "name": p["name"],
                                  "pod": p["pod"]}, show(hs[0])
    # the /run/netns name comes first; the pod is in the CONTAINER column
    assert g["netns_name"] == ns.name
    t = pwtest.portwho_ok(p["port"], "-N", ns.path, "-o", "PID,CONTAINER")
    assert "%d k8s:%s/%s" % (p["pid"], p["pod"]["namespace"], p["pod"]["name"]) in \
        " ".join(t.stdout.split()), t.stdout
