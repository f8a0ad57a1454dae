# SPDX-License-Identifier: MIT
"""Answers that stay true on a hostile, busy host (issue 10).

Each test builds its condition for real: processes forking and exiting
next to a stable listener, an open-file limit (prlimit), /proc mounted
hidepid=2 in a private mount and PID namespace, a nobody process renamed
"systemd", hostile bytes in process names read back through a pty, a
command line longer than portwho reads. What portwho could not see must be
in the JSON's `incomplete` list, never silently missing.
"""
import json
import os
import pty
import secrets
import select
import subprocess
import sys
import time

import pytest

import pwtest
from pwtest import NOBODY

PY = sys.executable
HOLDERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "holders")
KILL_HOLDER = os.path.join(HOLDERS, "kill_holder.py")
PORT = 18431


@pytest.fixture
def ns():
    n = pwtest.Netns()
    try:
        yield n
    finally:
        n.close()


def ready(p, timeout=pwtest.WAIT):
    """The JSON after "READY " on a holder's stdout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = p._line(deadline)
        except TimeoutError:
            pytest.fail("%s did not get ready: %s" % (p.what, p.lines))
        if line is None:
            p.p.wait(timeout=5)
            pytest.fail("%s exited: %s %s" % (p.what, p.lines, p._stderr()))
        if line.startswith("READY "):
            return json.loads(line[6:])


def holder(ns, spec, nobody=False):
    argv = [PY, KILL_HOLDER, json.dumps(spec)]
    if nobody:
        argv = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"] + argv
    p = ns.spawn(argv, "kill_holder %s" % spec)
    p.ready = ready(p)
    return p


def kinds(doc):
    return [i["kind"] for i in doc["incomplete"]]


def entry(doc, kind):
    got = [i for i in doc["incomplete"] if i["kind"] == kind]
    assert len(got) == 1, pwtest.show(doc["incomplete"])
    return got[0]


# ---- churn: a namespace is held by an fd, not by its first-seen process ---------


CHURN = r"""
import os, sys, time
sys.stdout.write("READY {}\n"); sys.stdout.flush()
while True:
    # short-lived processes: each may be the first one portwho sees here
    for _ in range(8):
        if os.fork() == 0:
            time.sleep(0.002)
            os._exit(0)
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    time.sleep(0.001)
"""


def scan_all(*args):
    """portwho over every namespace of the host. Entering a namespace, it
    shows up in `ip netns pids` of whatever test owns that namespace, and a
    test running next to this one may SIGKILL it while cleaning up: such a
    run is repeated (a signal from outside says nothing about portwho)."""
    for _ in range(5):
        res = pwtest.run_portwho(*args)
        if res.rc != -9:
            return res
    return res


def test_churn_never_loses_a_namespace(ns):
    stable = holder(ns, {"port": PORT})
    for _ in range(2):
        p = ns.spawn([PY, "-c", CHURN], "churner")
        ready(p)
    runs, lost, invented = 100, 0, []
    for i in range(runs):
        collector = "bpf" if i % 2 else "procfs"
        # from the host: every namespace, found through its processes
        res = scan_all("--json", "--collector", collector, str(PORT))
        assert res.rc in (0, 1), pwtest.describe(res)
        assert res.json is not None, pwtest.describe(res)  # valid JSON every time
        mine = [s for g in res.json["ports"] if g["netns"] == ns.inode for s in g["sockets"]]
        if [s["inode"] for s in mine] != [stable.ready["inode"]]:
            lost += 1
            continue
        got = pwtest.holder_keys(mine[0])
        if [pid for pid, _ in got] != [stable.pid]:
            invented.append(got)
    assert lost == 0, "the stable socket was missing in %d of %d runs" % (lost, runs)
    assert invented == []


def test_deleted_namespace_while_scanning(ns):
    """Namespaces appear and vanish (ip netns add/del) while portwho walks
    them: every run exits 0 with valid JSON and the stable one is there."""
    stable = holder(ns, {"port": PORT})
    name = "pwtest-" + secrets.token_hex(4)
    flip = subprocess.Popen(["sh", "-c", "while :; do ip netns add %s; ip -n %s link set lo up; "
                             "ip netns del %s; done" % (name, name, name)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for i in range(20):
            res = scan_all("--json", "--collector", "bpf" if i % 2 else "procfs", str(PORT))
            assert res.rc == 0, pwtest.describe(res)
            mine = [s["inode"] for g in res.json["ports"] if g["netns"] == ns.inode
                    for s in g["sockets"]]
            assert mine == [stable.ready["inode"]], pwtest.show(res.json)
    finally:
        flip.kill()
        flip.wait()
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


# ---- the open-file limit ------------------------------------------------------------


def test_fd_limit_is_reported_not_hidden_as_protected(ns):
    h = holder(ns, {"port": PORT})
    # 0-2, /proc twice (snapshot, walk): no fd is left for any fd table
    pre = ["prlimit", "--nofile=5:5"]
    pw = pwtest.portwho_path()
    r = ns.run(pre + [pw, "--json", "-N", "current", "--collector", "procfs", str(PORT)])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    fdl = entry(doc, "fd-limit")
    assert fdl["count"] >= 1
    assert fdl["detail"].endswith("out of file descriptors (open-file limit 5)")
    # (a "protected" entry may be there too: PID 1 of some hosts, not this run's fds)
    g = pwtest.group(doc, "tcp", PORT)
    assert [s["holders"] for s in g["sockets"]] == [[]]
    assert [r["kind"] for r in g["reasons"]] == ["hidden"]
    assert "ran out of file descriptors" in g["reasons"][0]["summary"]
    assert doc["hidden_processes"] >= fdl["count"]
    assert ("portwho: %s\n" % fdl["detail"]) in r.stderr.decode()

    # BPF: out of fds is said as such, not "Operation not supported"
    r = ns.run(pre + [pw, "-N", "current", "--collector", "bpf", str(PORT)])
    assert r.returncode == 2
    assert r.stderr.decode() == ("portwho: cannot list sockets: out of file descriptors "
                                 "(open-file limit 5); raise it (ulimit -n)\n")

    # a low soft limit under a high hard one is raised at start
    r = ns.run(["prlimit", "--nofile=5:4096", pw, "--json", "-N", "current", "--collector",
                "procfs", str(PORT)])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert "fd-limit" not in kinds(doc)
    s = pwtest.group(doc, "tcp", PORT)["sockets"][0]
    assert [h_["pid"] for h_ in s["holders"]] == [h.pid]


# ---- hidepid=2 ------------------------------------------------------------------------


HIDEPID = r"""
set -e
mount -t proc -o hidepid=2 proc /proc
sleep 60 & a=$!
sleep 60 & b=$!
setpriv --reuid=65534 --regid=65534 --clear-groups "$PW" --json >"$OUT/json" 2>"$OUT/err" || echo $? >"$OUT/rc"
setpriv --reuid=65534 --regid=65534 --clear-groups "$PW" -N 1 >/dev/null 2>"$OUT/n1" || echo $? >"$OUT/n1rc"
kill $a $b
"""


def test_hidepid_is_detected_and_counted(tmp_path):
    # a private PID namespace: root's processes there are exactly the shell
    # (PID 1) and two sleeps, all hidden from nobody by hidepid=2
    out = tmp_path
    os.chmod(out, 0o777)
    subprocess.run(["unshare", "-m", "-p", "-n", "-f", "--propagation", "private", "sh", "-c",
                    HIDEPID], env=dict(os.environ, PW=pwtest.portwho_path(), OUT=str(out)),
                   check=True, timeout=60)
    doc = json.loads((out / "json").read_text())
    assert not (out / "rc").exists() or (out / "rc").read_text().strip() == "1"
    assert doc["privileged"] is False
    assert doc["hidden_processes"] == 3
    assert doc["incomplete"] == [{
        "kind": "hidepid", "count": 3,
        "detail": "/proc is mounted hidepid=2: 3 processes (kernel threads included) are not "
                  "listed for this user"}]
    assert (out / "err").read_text() == ("portwho: /proc is mounted hidepid=2: 3 processes "
                                         "(kernel threads included) are not listed for this "
                                         "user\n")
    assert (out / "n1rc").read_text().strip() == "2"
    assert (out / "n1").read_text() == ("portwho: process 1 is hidden from this user (/proc is "
                                        "mounted with hidepid): its network namespace cannot "
                                        "be read (see portwho --help)\n")


# ---- a spoofed systemd ----------------------------------------------------------------------


def test_spoofed_systemd_is_not_a_manager(ns):
    # nobody calls itself "systemd" and shares its listener with a child, as
    # a manager shares a socket unit's listener with the service it starts:
    # neither explained as socket activation nor spared by kill
    h = holder(ns, {"port": PORT, "comm": "systemd", "fork": 1}, nobody=True)
    child = h.ready["children"][0]
    res = ns.portwho_ok("--json", str(PORT))
    g = pwtest.group(res.json, "tcp", PORT)
    s = g["sockets"][0]
    assert sorted(x["pid"] for x in s["holders"]) == sorted([h.pid, child])
    assert [x["command"] for x in s["holders"] if x["pid"] == h.pid] == ["systemd"]
    assert [x["uid"] for x in s["holders"]] == [NOBODY, NOBODY]
    assert [r["kind"] for r in g["reasons"]] == ["forked"], pwtest.show(g)

    r = subprocess.run([pwtest.portwho_path(), "kill", str(PORT), "--dry-run", "--json", "-N",
                        ns.path], capture_output=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    doc = json.loads(r.stdout)
    assert sorted((x["pid"], x["action"]) for x in doc["plan"]) == \
        sorted([(h.pid, "signal"), (child, "signal")])
    assert doc["refused"] == []


# ---- hostile bytes through every output mode, read through a pty -----------------------------

COMM = b"\x1b[31mX\x7f\xc2\x9b\xe2\x80\xae"  # ESC, DEL, C1 CSI, RIGHT-TO-LEFT OVERRIDE
ARG = b"a\x1b]0;t\x07\xe2\x81\xa6\xc2\x85z"  # OSC title, LRI, NEL
HOSTILE = r"""
import ctypes, os, socket, sys
ctypes.CDLL(None).prctl(15, sys.argv[2].encode("utf-8", "surrogateescape"), 0, 0, 0)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
sys.stdout.write("READY {}\n"); sys.stdout.flush()
sys.stdin.read()
"""
RAW = [b"\x1b", b"\x07", b"\x7f", b"\xc2\x9b", b"\xc2\x85", b"\xe2\x80\xae", b"\xe2\x81\xa6"]


def through_pty(argv):
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 1)
        if not r:
            if p.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        out += chunk
    p.wait(timeout=10)
    os.close(master)
    return p.returncode, out


@pytest.mark.parametrize("mode", [[], ["--raw"], ["--tree"], ["--explain"], ["--json"],
                                  ["--pids"], ["--raw", "-o", "PID,COMMAND,CMDLINE"]])
def test_hostile_names_never_reach_the_terminal(ns, mode):
    p = ns.spawn([PY, "-c", HOSTILE, str(PORT), COMM, ARG], "hostile holder")
    ready(p)
    rc, out = through_pty(ns.exec_argv([pwtest.portwho_path(), "-N", "current", str(PORT)]
                                       + mode))
    assert rc == 0, out
    for raw in RAW:
        assert raw not in out, (raw, out)
    if mode == ["--pids"]:
        assert out == b"%d\r\n" % p.pid
    elif mode == ["--json"]:
        doc = json.loads(out.decode())
        hs = doc["ports"][0]["sockets"][0]["holders"]
        assert [h["command"] for h in hs] == [COMM.decode()]
        assert hs[0]["cmdline"].endswith(" " + ARG.decode())
        assert b'"command": "\\u001B[31mX\\u007F\\u009B\\u202E"' in out
        assert b"a\\u001B]0;t\\u0007\\u2066\\u0085z" in out
    elif "--raw" in mode:  # libsmartcols' own escaping: \xHH for every unsafe byte
        assert b" \\x1b[31mX\\x7f\\xc2\\x9b\\xe2\\x80\\xae" in out, out
        if "CMDLINE" in mode[-1]:
            assert b"a\\x1b]0;t\\x07\\xe2\\x81\\xa6\\xc2\\x85z\r\n" in out, out
    else:
        assert b" \\e[31mX\\x7f\\xc2\\x9b\\xe2\\x80\\xae" in out, out


def test_option_errors_escape_control_bytes():
    r = subprocess.run([pwtest.portwho_path(), "-o", "\x1b[31m"], capture_output=True)
    assert r.returncode == 2
    assert r.stderr == (b"portwho: unknown column '\\e[31m' (see --list-columns) "
                        b"(see portwho --help)\n")
    r = subprocess.run([pwtest.portwho_path(), "53/\x9b\x07"], capture_output=True)
    assert r.returncode == 2
    assert b"\x07" not in r.stderr and b"\x9b" not in r.stderr and r.stderr.endswith(b"\n")


# ---- a command line longer than portwho reads -------------------------------------------------


def test_long_cmdline_is_marked_truncated(ns):
    args = ["x" * 100000] * 10  # 1 MB of arguments (one may be at most 128 KiB)
    p = ns.spawn([PY, "-c", HOSTILE, str(PORT), "longcmd"] + args, "long cmdline")
    ready(p)
    res = ns.portwho_ok("--json", "--collector", "procfs", str(PORT))
    h = pwtest.group(res.json, "tcp", PORT)["sockets"][0]["holders"]
    assert [x["pid"] for x in h] == [p.pid]
    assert h[0]["cmdline_truncated"] is True
    assert len(h[0]["cmdline"].encode()) == 256 * 1024
    e = entry(res.json, "cmdline-truncated")
    assert e["count"] == 1
    assert e["detail"] == ("1 command line is longer than 256 KiB, cut there "
                           "(cmdline_truncated)")


def test_namespace_deleted_mid_scan_is_still_scanned(tmp_path):
    """The namespace is found (and held) under a bind mount, then deleted
    before it is entered, as `ip netns del` can do in the middle of a scan:
    it is still entered, and its kernel socket (vxlan, port 4789) seen."""
    name = "pwtest-" + secrets.token_hex(4)
    subprocess.run(["ip", "netns", "add", name], check=True)
    mnt = tmp_path / "ns"
    p = None
    try:
        for cmd in (["link", "set", "lo", "up"],
                    ["link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789",
                     "local", "127.0.0.1"],
                    ["link", "set", "vx0", "up"]):
            subprocess.run(["ip", "-n", name] + cmd, check=True)
        ino = os.stat("/run/netns/" + name).st_ino
        mnt.mkdir()
        (mnt / name).touch()
        subprocess.run(["mount", "--bind", "/run/netns/" + name, str(mnt / name)], check=True)
        p = subprocess.Popen([pwtest.helper("nshold"), str(mnt)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline() == "held %d\n" % ino
        # lazily, as `ip netns del` does: the held fd keeps the mount busy
        subprocess.run(["umount", "-l", str(mnt / name)], check=True)
        subprocess.run(["ip", "netns", "del", name], check=True)
        assert not os.path.exists("/run/netns/" + name)
        out, _ = p.communicate("go\n", timeout=30)
        assert out == "entered %d 4789\n" % ino
    finally:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
        subprocess.run(["umount", "-l", str(mnt / name)], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
