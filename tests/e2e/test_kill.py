# SPDX-License-Identifier: MIT
"""End-to-end tests of `portwho kill` (issue #5).

Every test runs real processes holding real ports in a private network
namespace of its own (`ip netns add pwk-<random>`, lo up, deleted at
teardown). Holders are tests/e2e/holders/kill_holder.py (and the real
systemd-socket-activate); portwho runs either inside the namespace
(`ip netns exec NAME portwho kill ... -N current`) or from outside
(`-N /run/netns/NAME`). Assertions are exact: exit status, which PIDs were
signalled and in which order (from --json), which processes are gone and
which still run.

No systemd runs here: systemd is played by stand-ins. A cgroup named like a
service (in the name=systemd hierarchy, or the cgroup2 root) gives a holder
that unit in /proc/PID/cgroup; a process named "systemd" is a manager to
portwho; holders/kill_fake_systemd.py answers StopUnit on a private
dbus-daemon (DBUS_SYSTEM_BUS_ADDRESS / DBUS_SESSION_BUS_ADDRESS point
portwho at it). What stays untested: a real systemd, and root reaching
another user's manager (sd_bus_open_user_machine, USER@.host).

Needs root (namespaces, setpriv, PID namespaces). The binary comes from
$PORTWHO (default build/portwho; BUILDDIR/portwho also finds
BUILDDIR/src/portwho). Run: PORTWHO=build/portwho python3 -m pytest tests/e2e/test_kill.py
"""
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HOLDERS = Path(__file__).resolve().parent / "holders"
HOLDER = str(HOLDERS / "kill_holder.py")
REUSE = str(HOLDERS / "kill_reuse.py")
PY = sys.executable
PORT = 18080
WAIT = 10

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0,
                       reason="kill e2e tests need root: network and PID namespaces, setpriv"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 'ip' is not installed"),
]


def _find_portwho():
    want = Path(os.environ.get("PORTWHO", "build/portwho"))
    cands = [want] if want.is_absolute() else [Path.cwd() / want, REPO / want]
    cands += [c.parent / "src" / c.name for c in cands]
    for c in cands:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c.resolve())
    return None


@pytest.fixture(scope="module")
def portwho():
    p = _find_portwho()
    if p is None:
        pytest.fail("portwho binary not found (set PORTWHO=path/to/portwho)")
    return p


@pytest.fixture
def ns():
    name = "pwk-" + secrets.token_hex(4)
    subprocess.run(["ip", "netns", "add", name], check=True)
    procs = []
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield Netns(name, procs)
    finally:
        for p in procs:
            p.stop()
        subprocess.run(["ip", "netns", "del", name], check=False)


def _cgroup_root():
    """Where a cgroup named like a systemd unit can be made: the name=systemd
    v1 hierarchy, or the cgroup2 root."""
    v1 = "/sys/fs/cgroup/systemd"
    if os.path.exists(os.path.join(v1, "cgroup.procs")):
        return v1
    if os.path.exists("/sys/fs/cgroup/cgroup.procs") and \
            os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "/sys/fs/cgroup"
    return None


class FakeUnit:
    def __init__(self, root):
        self.base = "pwk-" + secrets.token_hex(4)
        self.name = self.base + ".service"
        self.dir = os.path.join(root, self.name)

    def join(self, pid):
        # from here: `ip netns exec` gives its processes a /sys without cgroups
        with open(os.path.join(self.dir, "cgroup.procs"), "w") as f:
            f.write(str(pid))


@pytest.fixture
def fake_unit(ns):
    """A cgroup named like a systemd service: /proc/PID/cgroup of a process
    moved into it names that unit, as it would under systemd."""
    root = _cgroup_root()
    if root is None:
        pytest.skip("no cgroup hierarchy to make a unit-named cgroup in")
    u = FakeUnit(root)
    try:
        os.mkdir(u.dir)
    except OSError as e:
        pytest.skip("cannot make a cgroup: %s" % e)
    try:
        yield u
    finally:
        for p in ns.procs:
            p.stop()
        for _ in range(100):
            try:
                os.rmdir(u.dir)
                break
            except OSError:
                time.sleep(0.05)


BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


class FakeBus:
    def __init__(self, address, procs):
        self.address = address
        self.procs = procs

    def systemd(self, units):
        p = Proc(["/usr/bin/python3", str(HOLDERS / "kill_fake_systemd.py"), self.address,
                  json.dumps(units)])
        self.procs.append(p)
        p.line("READY")
        return p


@pytest.fixture
def fake_bus(ns, tmp_path):
    """A private dbus-daemon where a stand-in for systemd answers StopUnit."""
    if not shutil.which("dbus-daemon"):
        pytest.skip("dbus-daemon is not installed")
    r = subprocess.run(["/usr/bin/python3", "-c", "import dbus, gi"], capture_output=True)
    if r.returncode != 0:
        pytest.skip("python3-dbus and python3-gi are needed for the fake systemd")
    conf = tmp_path / "bus.conf"
    conf.write_text(BUS_CONF % (tmp_path / "bus"))
    d = Proc(["dbus-daemon", "--config-file=%s" % conf, "--nofork", "--print-address=1"])
    ns.procs.append(d)
    address = d.line("unix:")
    yield FakeBus(address.strip(), ns.procs)


# ---- processes ----------------------------------------------------------------


def alive(pid):
    """Running (not gone, not a zombie waiting to be reaped)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_dead(pid, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


class Proc:
    """A process in its own session (its group is killed at teardown)."""

    def __init__(self, argv):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True)
        self.pid = self.p.pid
        self.lines = {"out": [], "err": []}

    def line(self, prefix, stream="out", timeout=WAIT):
        f = self.p.stdout if stream == "out" else self.p.stderr
        deadline = time.monotonic() + timeout
        buf = b""
        while True:
            left = deadline - time.monotonic()
            r, _, _ = select.select([f], [], [], max(0, left))
            if not r:
                pytest.fail("%s: no line starting with %r in %ss (partial %r, seen %r)"
                            % (self.argv, prefix, timeout, buf, self.lines))
            c = os.read(f.fileno(), 1)
            if not c:
                pytest.fail("%s ended before %r (seen %r)" % (self.argv, prefix, self.lines))
            if c != b"\n":
                buf += c
                continue
            text = buf.decode(errors="replace")
            buf = b""
            self.lines[stream].append(text)
            if text.startswith(prefix):
                rest = text[len(prefix):].strip()
                return json.loads(rest) if rest.startswith("{") else text

    def stop(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait()


class Netns:
    def __init__(self, name, procs):
        self.name = name
        self.path = "/run/netns/" + name
        self.procs = procs

    def start(self, argv):
        p = Proc(["ip", "netns", "exec", self.name] + argv)
        self.procs.append(p)
        return p

    def holder(self, **spec):
        spec.setdefault("port", PORT)
        p = self.start([PY, HOLDER, json.dumps(spec)])
        ready = p.line("READY ")
        # `ip netns exec` execs: the holder is that very process
        assert ready["pid"] == p.pid
        p.ready = ready
        return p

    def can_bind(self, port=PORT):
        r = subprocess.run(["ip", "netns", "exec", self.name, PY, "-c",
                            "import socket; s=socket.socket(); "
                            "s.bind(('127.0.0.1', %d)); s.listen()" % port],
                           capture_output=True)
        return r.returncode == 0


def kill(portwho, ns, *args, inside=False, json_out=True, stdin=subprocess.DEVNULL,
         env=None, prefix=()):
    argv = [portwho, "kill"] + list(args)
    if json_out:
        argv.append("--json")
    if inside:
        argv = ["ip", "netns", "exec", ns.name] + list(prefix) + argv + ["-N", "current"]
    else:
        argv += ["-N", ns.path]
    r = subprocess.run(argv, stdin=stdin, capture_output=True, timeout=60,
                       env=dict(os.environ, **(env or {})))
    out = r.stdout.decode(errors="replace")
    doc = json.loads(out) if json_out and out.strip() else None
    return r.returncode, doc, out, r.stderr.decode(errors="replace")


def pids(entries):
    return [e["pid"] for e in entries]


def found_holders(doc):
    return sorted({h["pid"] for p in doc["found"]["ports"] for s in p["sockets"]
                   for h in s["holders"]})


def final_holders(doc):
    return sorted({h["pid"] for p in doc["final"]["ports"] for s in p["sockets"]
                   for h in s["holders"]})


# ---- tests ----------------------------------------------------------------------


def test_single_listener_sigterm(portwho, ns):
    h = ns.holder()
    rc, doc, out, err = kill(portwho, ns, "127.0.0.1:%d" % PORT, "--yes")
    assert rc == 0, (out, err)
    assert found_holders(doc) == [h.pid]
    assert [(s["pid"], s["signal"], s["result"]) for s in doc["signalled"]] == \
        [(h.pid, "SIGTERM", "sent")]
    assert doc["plan"][0]["pid"] == h.pid and doc["plan"][0]["action"] == "signal"
    assert doc["refused"] == [] and doc["gone"] == []
    assert doc["final"]["free"] is True and doc["final"]["ports"] == []
    assert doc["exit_status"] == 0
    assert wait_dead(h.pid)
    assert h.p.wait(timeout=5) == -signal.SIGTERM
    assert ns.can_bind()


def test_text_output_inside_namespace(portwho, ns):
    h = ns.holder()
    rc, _, out, err = kill(portwho, ns, str(PORT), "--yes", inside=True, json_out=False)
    assert rc == 0, (out, err)
    assert "SIGTERM sent to PID %d python3 (root)" % h.pid in out
    assert "%d is free now" % PORT in out
    assert wait_dead(h.pid)


def test_nothing_holds_the_port(portwho, ns):
    rc, doc, out, err = kill(portwho, ns, str(PORT), "--yes")
    assert rc == 1, (out, err)
    assert doc["found"]["ports"] == [] and doc["signalled"] == []
    assert doc["final"] == {"free": True, "acted": False, "waited": 0.0, "ports": []}
    rc, _, out, _ = kill(portwho, ns, str(PORT), "--yes", json_out=False)
    assert rc == 1 and "Nothing holds %d." % PORT in out


def test_all_includes_connections(portwho, ns):
    h = ns.holder(only_connection=True)
    rc, doc, out, err = kill(portwho, ns, str(PORT), "--yes")
    assert rc == 1, (out, err)  # no listener: nothing holds the port
    assert alive(h.pid)
    rc, doc, out, err = kill(portwho, ns, str(PORT), "--yes", "-a")
    assert rc == 0, (out, err)
    states = [s["state"] for p in doc["found"]["ports"] for s in p["sockets"]]
    assert states == ["ESTAB"]
    assert pids(doc["signalled"]) == [h.pid]
    assert doc["final"]["free"] is True
    assert wait_dead(h.pid)


def test_ignores_sigterm_then_kill_after(portwho, ns):
    h = ns.holder(ignore_term=True)
    rc, doc, out, err = kill(portwho, ns, str(PORT), "--yes", "--timeout", "0.5")
    assert rc == 3, (out, err)
    assert [(s["pid"], s["signal"]) for s in doc["signalled"]] == [(h.pid, "SIGTERM")]
    assert doc["final"]["free"] is False
    assert final_holders(doc) == [h.pid]
    assert alive(h.pid)

    rc, _, out, _ = kill(portwho, ns, str(PORT), "--yes", "--timeout", "0.3", json_out=False)
    assert rc == 3
    assert "still held" in out and "--kill-after" in out

    rc, doc, out, err = kill(portwho, ns, str(PORT), "--yes", "--timeout", "3",
                             "--kill-after", "0.3")
    assert rc == 0, (out, err)
    assert [(s["pid"], s["signal"], s["result"]) for s in doc["signalled"]] == \
        [(h.pid, "SIGTERM", "sent"), (h.pid, "SIGKILL", "sent")]
    assert doc["final"]["free"] is True
    assert h.p.wait(timeout=5) == -signal.SIGKILL


def test_prefork_parent_first(portwho, ns):
    h = ns.holder(fork=2)
    parent, kids = h.pid, h.ready["children"]
    rc, doc, out, err = kill(portwho, ns, str(PORT), "--yes")
    assert rc == 0, (out, err)
    assert found_holders(doc) == sorted([parent] + kids)
    # the parent first; its children (which do not follow it here) after it
    sent = [(s["pid"], s["result"]) for s in doc["signalled"]]
    assert sent[0] == (parent, "sent")
    assert sorted(sent[1:]) == sorted((k, "sent") for k in kids)
    plan = {p["pid"]: p for p in doc["plan"]}
    assert plan[parent]["phase"] == 1
    for k in kids:
        assert plan[k]["phase"] == 2 and plan[k]["after"] == parent
    assert doc["final"]["free"] is True
    for p in [parent] + kids:
        assert wait_dead(p)


def test_prefork_children_follow(portwho, ns):
    h = ns.holder(fork=2, follow=True)
    parent, kids = h.pid, h.ready["children"]
    rc, doc, out, err = kill(portwho, ns, str(PORT), "--yes")
    assert rc == 0, (out, err)
    # only the parent is signalled: it took its children down itself
    assert pids(doc["signalled"]) == [parent]
    assert sorted((g["pid"], g["when"]) for g in doc["gone"]) == \
        sorted((k, "after-parent") for k in kids)
    for p in [parent] + kids:
        assert wait_dead(p)


@pytest.mark.skipif(not os.path.exists("/usr/bin/systemd-socket-activate"),
                    reason="systemd-socket-activate is not installed")
@pytest.mark.parametrize("stage", ["listening", "activated"])
def test_systemd_socket_activate_is_killable(portwho, ns, stage):
    # not a systemd unit: a plain process tree, signalled like any other
    sleeper = [PY, "-c", "import time; time.sleep(3600)"]
    p = ns.start(["/usr/bin/systemd-socket-activate", "-l", "127.0.0.1:%d" % PORT] + sleeper)
    p.line("Listening on", stream="err")
    if stage == "activated":
        # the first connection makes it exec the command in the same PID
        subprocess.run(["ip", "netns", "exec", ns.name, PY, "-c",
                        "import socket; socket.create_connection(('127.0.0.1', %d))" % PORT],
                       check=True)
        deadline = time.monotonic() + WAIT
        while open("/proc/%d/comm" % p.pid).read().strip() != "python3":
            assert time.monotonic() < deadline, "systemd-socket-activate did not exec"
            time.sleep(0.02)
    rc, doc, out, err = kill(portwho, ns, str(PORT), "--yes")
    assert rc == 0, (out, err)
    assert found_holders(doc) == [p.pid]
    assert [(x["pid"], x["verdict"]) for x in doc["plan"]] == [(p.pid, "signal")]
    assert pids(doc["signalled"]) == [p.pid] and doc["refused"] == []
    assert doc["final"]["free"] is True
    assert wait_dead(p.pid)


def test_dry_run_signals_nothing(portwho, ns):
    h = ns.holder()
    rc, doc, out, err = kill(portwho, ns, str(PORT), "--dry-run")
    assert rc == 0, (out, err)
    assert doc["dry_run"] is True
    assert [(x["pid"], x["action"]) for x in doc["plan"]] == [(h.pid, "signal")]
    assert doc["signalled"] == [] and doc["final"] is None
    time.sleep(0.2)
    assert alive(h.pid)
    rc, _, out, _ = kill(portwho, ns, str(PORT), "--dry-run", json_out=False)
    assert rc == 0 and "Dry run: nothing was signalled." in out
    assert alive(h.pid)


def test_no_terminal_without_yes_refuses(portwho, ns):
    h = ns.holder()
    rc, doc, out, err = kill(portwho, ns, str(PORT), json_out=False)
    assert rc == 2
    assert "--yes" in err
    assert alive(h.pid)
    rc, doc, out, err = kill(portwho, ns, str(PORT))
    assert rc == 2 and doc["signalled"] == [] and doc["exit_status"] == 2
    assert alive(h.pid)


def test_pid_reuse_is_never_hit(portwho, ns, tmp_path):
    pause = str(tmp_path / "go")
    p = ns.start(["unshare", "--pid", "--fork", "--mount-proc", PY, REUSE, portwho,
                  str(PORT), pause])
    res = p.line("RESULT ", timeout=60)
    hpid = res["holder_pid"]
    assert res["impostor_pid"] == hpid
    assert res["impostor_alive"] is True, res
    doc = res["json"]
    # scanned: the original holder; then it died and the impostor took its PID
    assert found_holders(doc) == [hpid]
    assert [(s["pid"], s["result"]) for s in doc["signalled"]] == [(hpid, "gone")]
    assert [(g["pid"], g["when"]) for g in doc["gone"]] == [(hpid, "before-signal")]
    # the impostor holds the port now: still held, and left alone
    assert res["status"] == 3, res
    assert doc["final"]["free"] is False
    cmdlines = [h["cmdline"] for port in doc["final"]["ports"] for s in port["sockets"]
                for h in s["holders"]]
    assert len(cmdlines) == 1 and "impostor" in cmdlines[0]


def test_pid1_is_never_signalled(portwho, ns):
    # the holder is PID 1 of its own PID namespace; portwho runs in there too
    spec = json.dumps({"port": PORT})
    p = ns.start(["unshare", "--pid", "--fork", "--mount-proc", PY, HOLDER, spec])
    ready = p.line("READY ")
    assert ready["pid"] == 1
    hostpid = int(subprocess.run(["pgrep", "-f", "-P", str(p.pid), "kill_holder"],
                                 capture_output=True, text=True).stdout.split()[0])
    argv = ["nsenter", "-t", str(hostpid), "--pid", "--mount", "--net", portwho, "kill",
            str(PORT), "--yes", "--json", "-N", "current"]
    r = subprocess.run(argv, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 3, r
    doc = json.loads(r.stdout)
    assert [(x["pid"], x["reason"]) for x in doc["refused"]] == [(1, "pid1")]
    assert doc["signalled"] == []
    assert alive(hostpid)


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv is not installed")
def test_non_root_refused(portwho, ns):
    h = ns.holder()
    rc, _, out, err = kill(portwho, ns, str(PORT), "--yes", inside=True, json_out=False,
                           prefix=["setpriv", "--reuid=65534", "--regid=65534",
                                   "--clear-groups"])
    assert rc == 2, (out, err)
    assert "refusing" in err and "run as root" in err
    assert "nothing was signalled" in err
    time.sleep(0.2)
    assert alive(h.pid)


def test_kernel_owned_socket_gets_a_command(portwho, ns):
    r = subprocess.run(["ip", "-n", ns.name, "link", "add", "vx0", "type", "vxlan", "id", "42",
                        "dstport", "4789", "local", "127.0.0.1"], capture_output=True)
    if r.returncode != 0:
        pytest.skip("no vxlan here: %s" % r.stderr.decode().strip())
    subprocess.run(["ip", "-n", ns.name, "link", "set", "vx0", "up"], check=True)
    rc, doc, out, err = kill(portwho, ns, "4789/udp", "--yes")
    assert rc == 3, (out, err)
    assert doc["signalled"] == []
    assert [(x["reason"], x["advice"]) for x in doc["refused"]] == \
        [("kernel", "ip -n %s link del vx0" % ns.name)]
    rc, _, out, _ = kill(portwho, ns, "4789/udp", "--yes", inside=True, json_out=False)
    assert rc == 3 and "ip link del vx0" in out


# ---- systemd: never signalled (a stand-in here: no systemd runs as PID 1) ------------


def test_systemd_service_is_not_signalled(portwho, ns, fake_unit):
    h = ns.holder()
    fake_unit.join(h.pid)
    rc, doc, out, err = kill(portwho, ns, str(PORT), "--yes")
    assert rc == 3, (out, err)
    assert doc["found"]["ports"][0]["sockets"][0]["holders"][0]["unit"] == fake_unit.name
    assert doc["signalled"] == []
    assert [(x["pid"], x["reason"], x["advice"]) for x in doc["refused"]] == \
        [(h.pid, "systemd-unit", "systemctl stop " + fake_unit.name)]
    assert [(u["units"], u["user"], u["requested"]) for u in doc["units"]] == \
        [([fake_unit.name], False, False)]
    rc, _, out, _ = kill(portwho, ns, str(PORT), "--yes", json_out=False)
    assert rc == 3
    assert "systemctl stop %s  (run it, or add --unit)" % fake_unit.name in out
    assert alive(h.pid)

    # --unit asks systemd over D-Bus; with no systemd here that fails (exit 2)
    rc, doc, out, err = kill(portwho, ns, str(PORT), "--yes", "--unit", "--timeout", "0.5")
    if os.path.exists("/run/systemd/system"):
        assert rc == 3, (out, err)  # systemd knows no such unit: nothing stopped
    else:
        assert rc == 2, (out, err)
        assert doc["units"][0]["requested"] is True
        assert doc["units"][0]["result"] == "error"
    assert doc["signalled"] == []
    assert alive(h.pid)


@pytest.mark.parametrize("fdnames", [None, "pwk-http.socket"])
def test_socket_activation_is_not_signalled(portwho, ns, fake_unit, fdnames):
    # a process named "systemd" (PID != 1: a systemd --user manager to
    # portwho) keeps the socket and hands it to a service with LISTEN_PID
    h = ns.holder(comm="systemd", activate={"fdnames": fdnames})
    svc = h.ready["service"]
    fake_unit.join(svc)
    rc, doc, out, err = kill(portwho, ns, str(PORT), "--yes")
    assert rc == 3, (out, err)
    assert found_holders(doc) == sorted([h.pid, svc])
    assert doc["signalled"] == []
    sock_unit = fdnames or fake_unit.base + ".socket"
    command = "systemctl --user stop %s %s" % (sock_unit, fake_unit.name)
    assert [(x["pid"], x["reason"], x["advice"]) for x in doc["refused"]] == \
        [(h.pid, "systemd-manager", command), (svc, "systemd-unit", command)]
    reasons = [r["kind"] for r in doc["found"]["ports"][0]["reasons"]]
    assert reasons == ["socket-activation"]
    assert alive(h.pid) and alive(svc)


def test_unit_asks_systemd_over_dbus(portwho, ns, fake_unit, fake_bus):
    h = ns.holder()
    fake_unit.join(h.pid)
    sd = fake_bus.systemd({fake_unit.name: h.pid})
    rc, doc, out, err = kill(portwho, ns, str(PORT), "--yes", "--unit",
                             env={"DBUS_SYSTEM_BUS_ADDRESS": fake_bus.address})
    assert rc == 0, (out, err)
    assert sd.line("CALL ") == {"unit": fake_unit.name, "mode": "replace"}
    assert doc["signalled"] == []
    assert [(u["units"], u["requested"], u["result"]) for u in doc["units"]] == \
        [([fake_unit.name], True, "stopped")]
    assert doc["final"]["free"] is True
    assert wait_dead(h.pid)


def test_unit_stops_socket_before_service(portwho, ns, fake_unit, fake_bus):
    h = ns.holder(comm="systemd", activate={"fdnames": None})
    svc = h.ready["service"]
    fake_unit.join(svc)
    sock_unit = fake_unit.base + ".socket"
    sd = fake_bus.systemd({sock_unit: h.pid, fake_unit.name: svc})
    # a "systemd" that is not PID 1 is a user manager: its units are on the user bus
    rc, doc, out, err = kill(portwho, ns, str(PORT), "--yes", "--unit", json_out=False,
                             env={"DBUS_SESSION_BUS_ADDRESS": fake_bus.address})
    assert rc == 0, (out, err)
    assert [sd.line("CALL ") for _ in range(2)] == \
        [{"unit": sock_unit, "mode": "replace"}, {"unit": fake_unit.name, "mode": "replace"}]
    assert "asked the systemd --user manager of root to stop %s %s" % (sock_unit,
                                                                     fake_unit.name) in out
    assert "%d is free now" % PORT in out
    assert wait_dead(h.pid) and wait_dead(svc)
