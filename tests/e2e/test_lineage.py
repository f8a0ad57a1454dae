# SPDX-License-Identifier: MIT
"""Forked or passed: real programs whose holders are parent and child, or
siblings, without having inherited the socket (issue 9, cases 2, 3, 4).

- Node.js cluster (/usr/bin/node): with the default round-robin policy only
  the primary holds the listener; with NODE_CLUSTER_SCHED_POLICY=none the
  primary creates it after forking (and exec'ing) the workers and sends it to
  them over the IPC channel. They hold it close-on-exec, which exec would
  have closed: "passed", inferred, both readings named.
- nginx whose master was killed -9: the workers, re-parented to a subreaper
  with another memory image, still hold the port: "forked", the master gone.
- two siblings started by one supervisor, one hands its listener to the
  other (tests/helpers/fdpass): "passed", not "forked from a parent that
  closed its copy".
"""
import os
import shutil
import signal
import time

import pytest

from pwtest import group, helper, holder_keys, show

NODE = "/usr/bin/node"
NGINX = "/usr/sbin/nginx"

CLUSTER_JS = r"""
const cluster = require('node:cluster');
const net = require('node:net');
const port = +process.argv[2];
if (cluster.isPrimary) {
  let up = 0;
  for (let i = 0; i < 2; i++) cluster.fork();
  cluster.on('listening', () => {
    if (++up === 2) {
      console.log(JSON.stringify({primary: process.pid,
        workers: Object.values(cluster.workers).map(w => w.process.pid)}));
      console.log('ready');
    }
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
} else {
  net.createServer(c => c.end()).listen(port, '127.0.0.1');
}
"""

# a subreaper (prctl PR_SET_CHILD_SUBREAPER) that starts its arguments
SUBREAPER = r"""
import ctypes, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)
print('{"master": %d}' % p.pid, flush=True)
print("ready", flush=True)
sys.stdin.read()
"""

# a supervisor that starts two siblings: fdpass recv, then fdpass send
SUPERVISOR = r"""
import os, subprocess, sys, time
fdpass, path, spec = sys.argv[1:4]
r = subprocess.Popen([fdpass, "recv", path])
deadline = time.monotonic() + 10
while not os.path.exists(path) and time.monotonic() < deadline:
    time.sleep(0.01)
s = subprocess.Popen([fdpass, "send", path, spec, "keep"])
r.wait()
s.wait()
"""


def need(path):
    if not os.access(path, os.X_OK):
        pytest.fail("%s is missing: tools/deps.sh installs it" % path)


def fd_of(pid, inode):
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "socket:[%d]" % inode:
                return int(fd)
        except OSError:
            pass
    raise AssertionError("PID %d has no fd for inode %d" % (pid, inode))


def only_reason(g):
    assert len(g["reasons"]) == 1, show(g)
    r = g["reasons"][0]
    assert r["sockets"] == [s["inode"] for s in g["sockets"]], show(g)
    return r


def start_cluster(ns, tmp_path, port, policy):
    need(NODE)
    js = tmp_path / "cluster.js"
    js.write_text(CLUSTER_JS)
    p = ns.spawn(["env", "NODE_CLUSTER_SCHED_POLICY=" + policy, NODE, str(js), str(port)],
                 "node cluster (%s)" % policy)
    info = p.until("ready", timeout=30)[0]
    return info["primary"], info["workers"]


def test_node_cluster_round_robin(netns, tmp_path):
    """rr: the primary alone listens and hands out connections."""
    P = 7211
    primary, workers = start_cluster(netns, tmp_path, P, "rr")
    g = group(netns.portwho_ok("--json", "-l", str(P)).json, "tcp", P)
    assert len(g["sockets"]) == 1, show(g)
    s = g["sockets"][0]
    assert holder_keys(s) == [(primary, fd_of(primary, s["inode"]))], show(s)
    r = only_reason(g)
    assert (r["kind"], r["confidence"]) == ("single", "verified"), show(r)


def test_node_cluster_sched_none(netns, tmp_path):
    """none: workers exec'd, then received the socket: passed, inferred."""
    P = 7212
    primary, workers = start_cluster(netns, tmp_path, P, "none")
    for collector in ("procfs", "bpf"):
        check_sched_none(netns, P, primary, workers, collector)


def check_sched_none(netns, P, primary, workers, collector):
    res = netns.portwho("--json", "-l", "--collector", collector, str(P))
    assert res.rc == 0, res.stderr
    assert res.json["collector"] == collector, res.json["collector"]
    g = group(res.json, "tcp", P)
    assert len(g["sockets"]) == 1, show(g)
    s = g["sockets"][0]
    ino = s["inode"]
    assert holder_keys(s) == sorted((p, fd_of(p, ino)) for p in [primary] + workers), show(s)
    assert {h["ppid"] for h in s["holders"] if h["pid"] in workers} == {primary}, show(s)
    r = only_reason(g)
    assert (r["kind"], r["confidence"]) == ("passed", "inferred"), show(r)
    assert "2 of the children exec'd after fork and hold it close-on-exec" in r["summary"], r
    assert "the other reading, inherited and marked close-on-exec after exec" in r["summary"]
    assert "stop PID %d" % primary in r["summary"], r["summary"]
    for w in workers:
        assert any(e.startswith("PID %d " % w) and "exec'd since fork" in e
                   and "close-on-exec" in e for e in r["evidence"]), r["evidence"]


NGINX_CONF = """
daemon off;
master_process on;
worker_processes 2;
user nobody nogroup;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 16; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{ listen 127.0.0.1:{port}; return 204; }}
}}
"""


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return sorted(out)


def poll(what, fn, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for " + what)
        time.sleep(0.02)


def test_nginx_master_killed(netns, tmp_path):
    """Orphaned pre-fork workers: the master gone, the workers hold the port."""
    need(NGINX)
    P = 7213
    d = tmp_path / "nginx"
    d.mkdir()
    os.chmod(tmp_path, 0o755)
    (d / "nginx.conf").write_text(NGINX_CONF.format(d=d, port=P))
    reaper = netns.spawn([shutil.which("python3") or "/usr/bin/python3", "-c", SUBREAPER,
                          NGINX, "-p", str(d), "-c", str(d / "nginx.conf")],
                         "nginx under a subreaper")
    master = reaper.until("ready")[0]["master"]
    sub = reaper.pid  # ip netns exec exec'd python: same pid
    workers = poll("2 nginx workers", lambda: len(children_of(master)) == 2
                   and children_of(master))
    poll("nginx listening", lambda: netns.portwho("--pids", str(P)).stdout.split()
         and sorted(map(int, netns.portwho("--pids", str(P)).stdout.split()))
         == sorted([master] + workers))
    os.kill(master, signal.SIGKILL)
    poll("workers re-parented", lambda: all(p in children_of(sub) for p in workers))

    g = group(netns.portwho_ok("--json", "-l", str(P)).json, "tcp", P)
    s = g["sockets"][0]
    assert sorted(h["pid"] for h in s["holders"]) == workers, show(s)
    assert {h["ppid"] for h in s["holders"]} == {sub}, show(s)
    r = only_reason(g)
    assert (r["kind"], r["confidence"]) == ("forked", "verified"), show(r)
    pids = ", ".join(map(str, workers))
    assert "(PIDs %s) forked from one master" % pids in r["summary"], r["summary"]
    assert "that master is gone: they were re-parented to PID %d" % sub in r["summary"]
    assert "stopping them (kill %s) frees it" % pids in r["summary"], r["summary"]
    assert "passed" not in r["summary"] and "unix socket" not in r["summary"], r["summary"]
    assert any("another memory image" in e for e in r["evidence"]), r["evidence"]


def test_siblings_pass_a_socket(netns, tmp_path):
    """One supervisor, two children; one sends its listener to the other."""
    P = 7214
    path = str(tmp_path / "pass.sock")
    sup = netns.spawn([shutil.which("python3") or "/usr/bin/python3", "-c", SUPERVISOR,
                       helper("fdpass"), path, "tcp-listen:127.0.0.1:%d" % P], "supervisor")
    lines = sup.until("ready") + sup.until("ready")
    sent = [o for o in lines if "kept" in o][0]
    got = [o for o in lines if "kept" not in o][0]
    assert sent["inode"] == got["inode"]
    # the deciding fact this test relies on
    assert sent["fd"] != got["fd"], (sent, got)

    g = group(netns.portwho_ok("--json", "-l", str(P)).json, "tcp", P)
    s = g["sockets"][0]
    assert holder_keys(s) == sorted([(sent["pid"], sent["fd"]), (got["pid"], got["fd"])]), show(s)
    assert {h["ppid"] for h in s["holders"]} == {sup.pid}, show(s)
    r = only_reason(g)
    assert (r["kind"], r["confidence"]) == ("passed", "inferred"), show(r)
    assert "2 sibling processes" in r["summary"], r["summary"]
    assert "children of PID %d, which does not hold it" % sup.pid in r["summary"]
    assert "at different fd numbers" in r["summary"], r["summary"]
    assert "the other reading: PID %d created it" % sup.pid in r["summary"], r["summary"]
    assert "closed its own copy" not in r["summary"].split("the other reading")[0], r["summary"]
