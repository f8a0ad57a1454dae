# SPDX-License-Identifier: MIT
"""Process facts read in the BPF walk equal what /proc says.

On the BPF route the fd walk also reads each holder's command, parent,
effective uid, innermost pid, network namespace and start time (the facts of
/proc/PID/stat, status and ns/net), and /proc/PID/cgroup is read once per set
of cgroups (css_set) and copied to the other processes in it. These tests put
real holders in different cgroups (container-shaped cgroup2 directories made
here), users and PID namespaces, and compare every holder field of the two
routes with each other and with /proc read here.
"""
import os
import secrets
import subprocess

import pytest

import pwtest
from test_k8s_layout import Made, _cg2_root, _move

NOBODY = 65534


def _status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split()[1:]
    raise AssertionError("no %s in /proc/%d/status" % (key, pid))


def _proc_facts(pid):
    with open("/proc/%d/comm" % pid) as f:
        comm = f.read().rstrip("\n")
    return {"command": comm, "uid": int(_status(pid, "Uid")[1]),
            "ppid": int(_status(pid, "PPid")[0]), "nspid": int(_status(pid, "NSpid")[-1])}


@pytest.fixture(scope="module")
def scene(module_netns):
    ns = module_netns
    made = Made()
    root = _cg2_root()
    hx, hy = secrets.token_hex(32), secrets.token_hex(32)
    cg_x = os.path.join(root, "docker", hx)  # the /docker/ID shape
    cg_y = os.path.join(root, "pwfacts-%s.slice" % secrets.token_hex(3), "docker-%s.scope" % hy)
    procs = []
    try:
        made.mkdirs(cg_x)
        made.mkdirs(cg_y)
        # X: a pre-fork server (three processes, one css_set) and another user
        a = ns.sockhold("fork=2", "comm=pwfacts-a", "tcp-listen:127.0.0.1:0")
        b = ns.sockhold("uid=%d" % NOBODY, "comm=pwfacts-b", "tcp-listen:127.0.0.1:0")
        # Y: one process in a PID namespace of its own (its own PID 1)
        c = ns.sockhold("comm=pwfacts-c", "tcp-listen:127.0.0.1:0",
                        wrap=("unshare", "--pid", "--fork", "--kill-child"))
        procs = [a, b, c]
        for pid in [a.pid] + a.children:
            _move(pid, cg_x)
        _move(b.pid, cg_x)
        # unshare forks: the holder is its child; move both
        c_pids = [int(p) for p in open("/proc/%d/task/%d/children" % (c.pid, c.pid)).read().split()]
        for pid in [c.pid] + c_pids:
            _move(pid, cg_y)
        yield {"ns": ns, "a": a, "b": b, "c": c, "hx": hx, "hy": hy}
    finally:
        for p in procs:
            p.kill()
        made.remove()


def _holders(doc, port):
    g = pwtest.group(doc, "tcp", port)
    return {h["pid"]: h for s in g["sockets"] for h in s["holders"]}


def _run(ns, collector):
    r = ns.portwho_ok("--json", "--collector", collector)
    assert r.json["collector"] == collector, r.json["collector"]
    return r.json


FIELDS = ("pid", "tid", "fd", "command", "user", "uid", "ppid", "nspid", "unit", "container")


def test_walk_facts_equal_procfs(scene):
    ns = scene["ns"]
    bpf, procfs = _run(ns, "bpf"), _run(ns, "procfs")
    for name in ("a", "b", "c"):
        port = scene[name].sockets[0]["port"]
        hb, hp = _holders(bpf, port), _holders(procfs, port)
        assert sorted(hb) == sorted(hp), (name, sorted(hb), sorted(hp))
        for pid in hb:
            got = {k: hb[pid][k] for k in FIELDS}
            want = {k: hp[pid][k] for k in FIELDS}
            assert got == want, (name, pid, got, want)
            facts = _proc_facts(pid)
            assert {k: got[k] for k in facts} == facts, (name, pid, got, facts)


def test_cgroups_shared_and_apart(scene):
    doc = _run(scene["ns"], "bpf")
    a, b, c = scene["a"], scene["b"], scene["c"]
    ha = _holders(doc, a.sockets[0]["port"])
    assert sorted(ha) == sorted([a.pid] + a.children)
    for h in ha.values():
        assert h["container"]["runtime"] == "docker" and h["container"]["id"] == scene["hx"], h
        assert h["command"] == "pwfacts-a" and h["uid"] == 0
    (hb,) = _holders(doc, b.sockets[0]["port"]).values()
    assert hb["container"]["id"] == scene["hx"] and hb["uid"] == NOBODY and hb["user"] == "nobody"
    (hc,) = _holders(doc, c.sockets[0]["port"]).values()
    assert hc["container"]["runtime"] == "docker" and hc["container"]["id"] == scene["hy"], hc
    # the holder is PID 1 of its namespace, the child of unshare
    assert hc["nspid"] == 1 and hc["ppid"] == c.pid and hc["pid"] != c.pid, hc
