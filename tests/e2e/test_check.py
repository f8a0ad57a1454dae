"""portwho check against the kernel itself.

Every cell of the matrix puts one existing socket into a private network
namespace, asks `portwho check --no-trial --json` whether a new socket could
bind (and listen) next to it, then really binds that socket there (a forked
child, as the asked uid) and compares. Root only: namespaces, other uids.

PW_CHECK_MATRIX=full runs every cell (7168); the default is a deterministic
sample of PW_CHECK_CELLS (default 3) new sockets per existing socket.
"""
import contextlib
import ctypes
import errno
import json
import os
import random
import shutil
import socket
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SO_REUSEPORT = getattr(socket, "SO_REUSEPORT", 15)
CLONE_NEWNET = 0x40000000
NOBODY = 65534
FIRST_PORT = 20000  # one port per cell, up to 27168; outside ip_local_port_range


def find_portwho():
    env = os.environ.get("PORTWHO")
    cands = []
    if env:
        cands += [env, os.path.join(os.path.dirname(env), "src", "portwho")]
    for d in ("build", "build-check"):
        cands += [os.path.join(ROOT, d, "portwho"), os.path.join(ROOT, d, "src", "portwho")]
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


PORTWHO = find_portwho()

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, other uids)"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's ip"),
    pytest.mark.skipif(PORTWHO is None, reason="portwho not built (set PORTWHO)"),
]

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


# ---- fixtures (local: this file needs nothing from conftest.py) ----------------


@pytest.fixture(scope="module")
def netns():
    name = "pwcheck%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@contextlib.contextmanager
def inside(name):
    """Run the block with this thread (and the children it starts) in netns name."""
    orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        _setns(target)
        yield
    finally:
        _setns(orig)
        os.close(orig)
        os.close(target)


# ---- sockets ------------------------------------------------------------------------

ADDRS = {  # name -> (family, address, v6only, spec, address to connect to)
    "0.0.0.0": (socket.AF_INET, "0.0.0.0", False, "0.0.0.0", "127.0.0.1"),
    "127.0.0.1": (socket.AF_INET, "127.0.0.1", False, "127.0.0.1", "127.0.0.1"),
    "[::]": (socket.AF_INET6, "::", False, "[::]", "127.0.0.1"),
    "[::]v6only": (socket.AF_INET6, "::", True, "[::]", "::1"),
}
OPTS = {"none": (False, False), "reuseaddr": (True, False), "reuseport": (False, True),
        "both": (True, True)}
UIDS = (0, NOBODY)
KINDS = ("tcp-bound", "tcp-listen", "tcp-timewait", "udp")


def make_socket(family, udp, ra, rp, v6only, uid):
    """A socket whose owner uid is uid: sk_uid is the creator's fsuid."""
    if uid:
        os.seteuid(uid)
    try:
        s = socket.socket(family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    finally:
        if uid:
            os.seteuid(0)
    if ra:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rp:
        s.setsockopt(socket.SOL_SOCKET, SO_REUSEPORT, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
    return s


def local_states(port):
    """TCP states (hex) of every socket whose local port is port, this netns."""
    states = []
    for f in ("/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"):
        with open(f) as fh:
            next(fh)
            for line in fh:
                cols = line.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == port:
                    states.append(cols[3])
    return states


def make_existing(kind, opts, uid, addr, port):
    """The existing socket of a cell; returns what must stay open."""
    family, host, v6only, _, connect_to = ADDRS[addr]
    ra, rp = OPTS[opts]
    s = make_socket(family, kind == "udp", ra, rp, v6only, uid)
    s.bind((host, port))
    if kind in ("tcp-bound", "udp"):
        return [s]
    s.listen(8)
    if kind == "tcp-listen":
        return [s]
    # TIME_WAIT: the server closes an accepted connection first
    c = socket.socket(socket.AF_INET6 if ":" in connect_to else socket.AF_INET)
    c.connect((connect_to, port))
    conn, _ = s.accept()
    conn.close()
    deadline = time.monotonic() + 5
    while "08" not in [st for st in local_states(c.getsockname()[1])]:  # CLOSE_WAIT
        assert time.monotonic() < deadline, "client never saw the FIN"
        time.sleep(0.002)
    c.close()
    s.close()
    while local_states(port) != ["06"]:
        assert time.monotonic() < deadline, "no TIME_WAIT on %d: %r" % (port, local_states(port))
        time.sleep(0.002)
    return []


def real_bind(family, udp, host, port, ra, rp, v6only, uid, listen):
    """What the kernel says: 0, or the errno of bind()/listen()."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            if uid:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
            s = socket.socket(family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
            if ra:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if rp:
                s.setsockopt(socket.SOL_SOCKET, SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
            s.bind((host, port))
            if listen:
                s.listen(1)
            s.close()
        except OSError as e:
            code = e.errno or 254
        except BaseException:
            code = 255
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code not in (254, 255), "the bind child failed unexpectedly"
    return code


def check_argv(udp, addr, port, opts, uid, listen, trial=False):
    family, host, v6only, spec, _ = ADDRS[addr]
    ra, rp = OPTS[opts]
    argv = [PORTWHO, "check", "--json", "-N", "current", "%s:%d%s" % (spec, port, "/udp" if udp else "")]
    if not trial:
        argv.append("--no-trial")
    if ra:
        argv.append("--reuseaddr")
    if rp:
        argv.append("--reuseport")
    if v6only:
        argv.append("--v6only")
    if listen:
        argv.append("--listen")
    argv += ["--user", str(uid)]
    return argv


def parse_answer(proc, argv):
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 1), "%s: exit %d: %s" % (" ".join(argv), proc.returncode, err)
    ans = json.loads(out)
    assert proc.returncode == (0 if ans["would_succeed"] else 1)
    return ans


def errname(code):
    return None if code == 0 else errno.errorcode.get(code, str(code))


# ---- the matrix ------------------------------------------------------------------------


def existing_cells():
    return [(k, o, u, a) for k in KINDS for o in OPTS for u in UIDS for a in ADDRS]


def new_cells(kind):
    listens = (False,) if kind == "udp" else (False, True)
    return [(o, u, a, l) for o in OPTS for u in UIDS for a in ADDRS for l in listens]


def chosen_cells():
    full = os.environ.get("PW_CHECK_MATRIX") == "full"
    per = int(os.environ.get("PW_CHECK_CELLS", "3"))
    plan = []
    for i, ex in enumerate(existing_cells()):
        news = new_cells(ex[0])
        if not full:
            news = random.Random("portwho-check-%d" % i).sample(news, min(per, len(news)))
        plan.append((i, ex, news))
    return plan


def test_matrix(netns):
    """Each cell gets its own existing socket on its own port: the kernel
    remembers per port that a SO_REUSEPORT socket once bound there
    (tb->fastreuseport) and lets later ones skip the full check, so cells
    sharing a port would depend on each other's history."""
    plan = chosen_cells()
    parallel = max(2, os.cpu_count() or 2)
    cells = disagree = uncertain = 0
    failures = []
    port = FIRST_PORT
    with inside(netns):
        for _, (kind, eopts, euid, eaddr), news in plan:
            udp = kind == "udp"
            for start in range(0, len(news), parallel):
                batch = []  # (new cell, port, kept sockets, argv, process)
                try:
                    for nopts, nuid, naddr, listen in news[start:start + parallel]:
                        keep = make_existing(kind, eopts, euid, eaddr, port)
                        argv = check_argv(udp, naddr, port, nopts, nuid, listen)
                        proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE, text=True)
                        batch.append(((nopts, nuid, naddr, listen), port, keep, argv, proc))
                        port += 1
                    for (nopts, nuid, naddr, listen), p, _, argv, proc in batch:
                        ans = parse_answer(proc, argv)
                        family, host, v6only, _, _ = ADDRS[naddr]
                        ra, rp = OPTS[nopts]
                        code = real_bind(family, udp, host, p, ra, rp, v6only, nuid, listen)
                        cells += 1
                        uncertain += not ans["certain"]
                        if ans["would_succeed"] != (code == 0) or ans["errno"] != errname(code):
                            disagree += 1
                            failures.append(
                                "existing %s %s uid %d %s | new %s uid %d %s%s: kernel %s, "
                                "portwho %s (%s)%s" % (
                                    kind, eopts, euid, eaddr, nopts, nuid, naddr,
                                    " +listen" if listen else "", errname(code) or "ok",
                                    ans["errno"] or "ok", ans["why"],
                                    "" if ans["certain"] else " [uncertain]"))
                finally:
                    for _, _, keep, _, proc in batch:
                        if proc.poll() is None:
                            proc.kill()
                            proc.wait()
                        for sock in keep:
                            sock.close()
    sure = [f for f in failures if not f.endswith("[uncertain]")]
    print("portwho check matrix: %d cells, %d disagree (%d of them certain), %d uncertain" % (
        cells, disagree, len(sure), uncertain))
    assert cells >= 60
    assert not failures, "%d of %d cells disagree (%d of them certain):\n%s" % (
        disagree, cells, len(sure), "\n".join((sure + failures)[:40]))


# ---- port class under the namespace's own sysctls --------------------------------------


def test_port_class_follows_namespace_sysctls(netns):
    for kv in ("net.ipv4.ip_unprivileged_port_start=500",
               "net.ipv4.ip_local_port_range=40000 40100",
               "net.ipv4.ip_local_reserved_ports=40050"):
        subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-q", "-w", kv], check=True)
    try:
        def cls(port, *where):
            r = subprocess.run([PORTWHO, "check", "--no-trial", "--json", *where, str(port)],
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            return json.loads(r.stdout)["class"]

        # from outside (-N NAME: read by a child inside), and from inside
        outside = cls(40050, "-N", netns)
        with inside(netns):
            assert cls(40050, "-N", "current") == outside
        assert outside == {"iana": "user", "privileged": False, "ephemeral": True,
                           "reserved": True, "unprivileged_port_start": 500,
                           "local_port_range": [40000, 40100]}
        c = cls(600, "-N", netns)
        assert (c["iana"], c["privileged"], c["ephemeral"], c["reserved"]) == \
            ("system", False, False, False)
        c = cls(499, "-N", netns)
        assert (c["iana"], c["privileged"]) == ("system", True)
        c = cls(50000, "-N", netns)
        assert (c["iana"], c["ephemeral"], c["reserved"]) == ("dynamic", False, False)

        # the text says it too
        r = subprocess.run([PORTWHO, "check", "--no-trial", "-N", netns, "40050"],
                           capture_output=True, text=True)
        assert "inside ip_local_port_range (40000-40100)" in r.stdout
        assert "ip_local_reserved_ports" in r.stdout
    finally:
        for kv in ("net.ipv4.ip_unprivileged_port_start=1024",
                   "net.ipv4.ip_local_port_range=32768 60999",
                   "net.ipv4.ip_local_reserved_ports="):
            subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-q", "-w", kv], check=False)


# ---- not root ------------------------------------------------------------------------------


def run_as_nobody(argv):
    return subprocess.run(argv, capture_output=True, text=True, user=NOBODY, group=NOBODY,
                          extra_groups=[])


INCOMPLETE_KINDS = {"not-root", "hidepid", "protected", "fd-limit", "namespace-skipped",
                    "dump-interrupted", "cmdline-truncated"}


def assert_incomplete_shape(ans):
    """check --json carries the main JSON's "incomplete": one entry per kind."""
    inc = ans["incomplete"]
    assert isinstance(inc, list), ans
    kinds = [i["kind"] for i in inc]
    assert len(kinds) == len(set(kinds)) and set(kinds) <= INCOMPLETE_KINDS, inc
    for i in inc:
        assert set(i) == {"kind", "count", "detail"}, i
        assert isinstance(i["count"], int) and i["detail"], i


def test_non_root_privileged_port(netns):
    with inside(netns):
        r = run_as_nobody([PORTWHO, "check", "--json", "-N", "current", "80"])
        assert r.returncode == 1, r.stderr
        ans = json.loads(r.stdout)
        assert ans["would_succeed"] is False
        assert ans["errno"] == "EACCES"
        assert ans["prediction"]["errno"] == "EACCES"
        assert any("CAP_NET_BIND_SERVICE" in a for a in ans["advice"])
        assert ans["class"]["privileged"] is True
        # a trial as itself: the kernel agrees
        assert ans["trial"]["ran"] is True
        assert ans["trial"]["errno"] == "EACCES"
        assert ans["trial"]["agrees"] is True
        # as nobody, other users' fd tables (at least root's) went unread
        assert_incomplete_shape(ans)
        nr = [i for i in ans["incomplete"] if i["kind"] == "not-root"]
        assert len(nr) == 1 and nr[0]["count"] >= 1, ans["incomplete"]

        # not root: no trial as somebody else
        r = run_as_nobody([PORTWHO, "check", "--json", "-N", "current", "--user", "0", "8081"])
        ans = json.loads(r.stdout)
        assert ans["trial"]["ran"] is False
        assert "not root" in ans["trial"]["note"]

        # an unprivileged port works
        r = run_as_nobody([PORTWHO, "check", "-N", "current", "8081"])
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith("would succeed")

    # and another namespace is out of reach
    r = run_as_nobody([PORTWHO, "check", "-N", netns, "8081"])
    assert r.returncode == 2
    assert r.stderr.startswith("portwho: ") and r.stderr.count("\n") == 1


# ---- prediction and trial --------------------------------------------------------------------


TRIAL_CELLS = [
    # existing (kind, opts, uid, addr), new (opts, uid, addr, listen)
    (("tcp-listen", "none", 0, "0.0.0.0"), ("none", 0, "127.0.0.1", True)),
    (("tcp-listen", "reuseport", 0, "0.0.0.0"), ("reuseport", NOBODY, "0.0.0.0", False)),
    (("tcp-listen", "reuseport", 0, "[::]"), ("reuseport", 0, "[::]", True)),
    (("tcp-bound", "reuseaddr", NOBODY, "127.0.0.1"), ("reuseaddr", 0, "0.0.0.0", True)),
    (("tcp-timewait", "reuseaddr", 0, "0.0.0.0"), ("reuseaddr", 0, "0.0.0.0", True)),
    (("tcp-timewait", "none", 0, "0.0.0.0"), ("reuseaddr", 0, "0.0.0.0", True)),
    (("udp", "none", 0, "[::]v6only"), ("none", NOBODY, "0.0.0.0", False)),
    (("udp", "reuseport", NOBODY, "0.0.0.0"), ("reuseport", 0, "127.0.0.1", False)),
]


def test_prediction_and_trial_agree(netns):
    with inside(netns):
        for i, ((kind, eopts, euid, eaddr), (nopts, nuid, naddr, listen)) in enumerate(TRIAL_CELLS):
            port = FIRST_PORT - 100 + i
            keep = make_existing(kind, eopts, euid, eaddr, port)
            try:
                udp = kind == "udp"
                argv = check_argv(udp, naddr, port, nopts, nuid, listen, trial=True)
                ans = parse_answer(subprocess.Popen(argv, stdout=subprocess.PIPE,
                                                    stderr=subprocess.PIPE, text=True), argv)
                family, host, v6only, _, _ = ADDRS[naddr]
                ra, rp = OPTS[nopts]
                code = real_bind(family, udp, host, port, ra, rp, v6only, nuid, listen)
                cell = "%s %s -> %s" % (kind, eopts, nopts)
                assert ans["trial"]["ran"] is True, cell + ": " + str(ans["trial"]["note"])
                assert ans["trial"]["agrees"] is True, cell
                assert ans["trial"]["succeeded"] == (code == 0), cell
                assert ans["trial"]["errno"] == errname(code), cell
                assert ans["would_succeed"] == (code == 0), cell
                assert ans["prediction"]["would_succeed"] == (code == 0), cell
            finally:
                for s in keep:
                    s.close()


# ---- what the answer says ------------------------------------------------------------------------


def test_time_wait_is_named_with_its_way_out(netns):
    with inside(netns):
        port = FIRST_PORT - 200
        make_existing("tcp-timewait", "none", 0, "0.0.0.0", port)
        r = subprocess.run([PORTWHO, "check", "--no-trial", "-N", "current", "--reuseaddr",
                            "--listen", str(port)], capture_output=True, text=True)
        assert r.returncode == 1
        first = r.stdout.splitlines()[0]
        assert first.startswith("would fail: EADDRINUSE")
        assert "TIME_WAIT" in first or "TIME-WAIT" in first
        assert "SO_REUSEADDR on both sides" in r.stdout

        r = subprocess.run([PORTWHO, "check", "--no-trial", "--json", "-N", "current",
                            "--reuseaddr", str(port)], capture_output=True, text=True)
        ans = json.loads(r.stdout)
        tw = [c for c in ans["conflicts"] if c["state"] == "TIME-WAIT"]
        assert tw and tw[0]["rule"] == "time-wait" and tw[0]["inode"] == 0


def test_unaccepted_connections_count(netns):
    """A connection waiting in the accept queue is in the bind table too."""
    with inside(netns):
        port = FIRST_PORT - 201
        lst = make_socket(socket.AF_INET, False, False, True, False, 0)
        lst.bind(("127.0.0.1", port))
        lst.listen(4)
        c = socket.create_connection(("127.0.0.1", port))
        try:
            r = subprocess.run([PORTWHO, "check", "--no-trial", "--json", "-N", "current",
                                "--reuseport", "--user", str(NOBODY), "127.0.0.1:%d" % port],
                               capture_output=True, text=True)
            ans = json.loads(r.stdout)
            states = sorted(x["state"] for x in ans["conflicts"])
            assert "ESTAB" in states and "LISTEN" in states, states
            estab = [x for x in ans["conflicts"] if x["state"] == "ESTAB"][0]
            assert estab["inode"] == 0
            code = real_bind(socket.AF_INET, False, "127.0.0.1", port, False, True, False,
                             NOBODY, False)
            assert ans["would_succeed"] == (code == 0)
        finally:
            c.close()
            lst.close()


def test_bound_inactive_blocks(netns):
    with inside(netns):
        port = FIRST_PORT - 202
        s = make_socket(socket.AF_INET, False, False, False, False, 0)
        s.bind(("0.0.0.0", port))
        try:
            r = subprocess.run([PORTWHO, "check", "--no-trial", "--json", "-N", "current",
                                str(port)], capture_output=True, text=True)
            ans = json.loads(r.stdout)
            assert ans["would_succeed"] is False
            assert [x["state"] for x in ans["conflicts"]] == ["BOUND"]
            me = [h for h in ans["conflicts"][0]["holders"] if h["pid"] == os.getpid()]
            assert me, "the holder (this test) is named"
        finally:
            s.close()


def test_listener_headline_names_the_listener_rule(netns):
    """Against a plain TCP listener the headline must not suggest SO_REUSEADDR
    (issue 9, case 10): a listener shares only with SO_REUSEPORT, one uid."""
    with inside(netns):
        port = FIRST_PORT - 203
        lst = make_socket(socket.AF_INET, False, False, False, False, 0)
        lst.bind(("127.0.0.1", port))
        lst.listen(4)
        try:
            for extra in ([], ["--reuseaddr"]):
                r = subprocess.run([PORTWHO, "check", "--no-trial", "-N", "current"] + extra
                                   + [str(port)], capture_output=True, text=True)
                assert r.returncode == 1, r.stdout + r.stderr
                first = r.stdout.splitlines()[0]
                assert first == ("would fail: EADDRINUSE — 127.0.0.1:%d LISTEN blocks it: it "
                                 "listens, and a listener shares its port only with sockets "
                                 "that all set SO_REUSEPORT under one owner uid (SO_REUSEADDR "
                                 "does not help)" % port), first
                assert "not set on both" not in r.stdout, r.stdout
            r = subprocess.run([PORTWHO, "check", "--no-trial", "--json", "-N", "current",
                                str(port)], capture_output=True, text=True)
            ans = json.loads(r.stdout)
            assert [(x["state"], x["rule"]) for x in ans["conflicts"]] == [("LISTEN", "exclusive")]
            assert "it listens, and a listener" in ans["why"], ans["why"]
        finally:
            lst.close()


# ---- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("args,words", [
    (["8000-8100"], "range"),
    (["70000"], "out of range"),
    (["1.2.3:80"], "address"),
    (["--user", "no-such-user-here", "80"], "unknown user"),
    (["--listen", "53/udp"], "TCP only"),
    (["--v6only", "127.0.0.1:80"], "IPv6"),
    (["-N", "all", "80"], "one network namespace"),
    ([], "needs a port"),
])
def test_usage_errors(args, words):
    r = subprocess.run([PORTWHO, "check", *args], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("portwho: ") and r.stderr.count("\n") == 1, r.stderr
    assert words in r.stderr


# ---- other namespaces and devices ---------------------------------------------------------------


def test_trial_in_another_namespace(netns):
    """From the host, -N NAME: the prediction and the trial both look inside."""
    port = FIRST_PORT - 300
    with inside(netns):
        s = make_socket(socket.AF_INET, False, False, False, False, NOBODY)
        s.bind(("127.0.0.1", port))
        s.listen(1)
    try:
        r = subprocess.run([PORTWHO, "check", "--json", "-N", netns, "--listen", str(port)],
                           capture_output=True, text=True)
        assert r.returncode == 1, r.stderr
        ans = json.loads(r.stdout)
        assert ans["errno"] == "EADDRINUSE"
        assert [(c["local_address"], c["state"], c["uid"]) for c in ans["conflicts"]] == \
            [("127.0.0.1", "LISTEN", NOBODY)]
        assert ans["trial"]["ran"] and ans["trial"]["errno"] == "EADDRINUSE"
        assert ans["trial"]["agrees"] is True
        # as root every other user's fd table was read: nothing "not-root"
        # (a host process refused even to root may be listed as "protected")
        assert_incomplete_shape(ans)
        assert "not-root" not in [i["kind"] for i in ans["incomplete"]], ans["incomplete"]
        # the host's own namespace does not have it
        r = subprocess.run([PORTWHO, "check", "--json", "--no-trial", "127.0.0.1:%d" % port],
                           capture_output=True, text=True)
        assert not any(c["local_port"] == port and c["uid"] == NOBODY
                       for c in json.loads(r.stdout)["conflicts"])
    finally:
        s.close()


def test_devices(netns):
    port = FIRST_PORT - 301
    subprocess.run(["ip", "-n", netns, "link", "add", "pwd0", "type", "veth", "peer", "name",
                    "pwd1"], check=True)
    try:
        with inside(netns):
            s = make_socket(socket.AF_INET, False, False, False, False, 0)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo\0")
            s.bind(("0.0.0.0", port))
            s.listen(1)
            try:
                def ask(*extra):
                    r = subprocess.run([PORTWHO, "check", "--json", "-N", "current", *extra,
                                        str(port)], capture_output=True, text=True)
                    return json.loads(r.stdout)
                ans = ask()  # no device: every device, lo included
                assert ans["errno"] == "EADDRINUSE" and ans["trial"]["agrees"]
                assert ans["conflicts"][0]["interface"] == "lo"
                ans = ask("--device", "lo")
                assert ans["errno"] == "EADDRINUSE" and ans["trial"]["agrees"]
                ans = ask("--device", "pwd0")  # another device does not overlap
                assert ans["would_succeed"] is True and ans["trial"]["agrees"]
                assert ans["prediction"]["would_succeed"] is True
                r = subprocess.run([PORTWHO, "check", "-N", "current", "--device", "nope0",
                                    str(port)], capture_output=True, text=True)
                assert r.returncode == 2 and "nope0" in r.stderr
            finally:
                s.close()
    finally:
        subprocess.run(["ip", "-n", netns, "link", "del", "pwd0"], check=False)
