# SPDX-License-Identifier: MIT
"""A real systemd booted in a systemd-nspawn machine, for e2e tests.

The root file system is Debian bookworm minbase with systemd, made once by
debootstrap and cached (it is only ever read: machines run with
--volatile=overlay, their writes go to a tmpfs):

  PW_NSPAWN_ROOTFS  where it lives (default /var/cache/portwho-tests/bookworm-systemd)
  PW_NSPAWN_BUILD   "auto" (default): build it when absent (30-75 s measured with a
                    reachable Debian mirror, 240 MB); "no": never build, the
                    tests that need it fail with the command to build it
  PW_NSPAWN_MIRROR  the Debian mirror (default http://deb.debian.org/debian)

Building takes a lock next to the root, so parallel runs build it once.

A Machine boots that root with `systemd-nspawn --boot --register=no
--keep-unit` (PID 1 of this VM is not systemd, so nothing is registered with
a host manager) inside an existing network namespace (/run/netns/NAME: the
machine's own network, private to the test), with the test's unit files
bound read-only over /etc/systemd/system. `units` maps file names to
contents; `enable` lists (target, unit) pairs to link into TARGET.wants.

    with Machine(netns_name, units={...}, enable=[...]) as m:
        m.init_pid          # host PID of the machine's systemd (its PID 1)
        m.wait_unit_pid("echo-demo.service")   # host PID of a unit's process

The constructor returns once the machine reported READY=1 (--notify-ready)
and no forked-but-not-exec'd service child "(name)" is left.

close() stops the machine (SIGTERM to nspawn: a clean shutdown), then
SIGKILLs its init (which ends its whole PID namespace) if it still lives,
and removes the unit directory. Only processes it started are signalled.
"""
import fcntl
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOTFS = os.environ.get("PW_NSPAWN_ROOTFS", "/var/cache/portwho-tests/bookworm-systemd")
MIRROR = os.environ.get("PW_NSPAWN_MIRROR", "http://deb.debian.org/debian")
BUILD_TIMEOUT = 600
BOOT_TIMEOUT = 60


def build_command(root=ROOTFS):
    return ["debootstrap", "--variant=minbase", "--include=systemd,systemd-sysv,dbus",
            "bookworm", root, MIRROR]


def _usable(root):
    return os.path.isfile(os.path.join(root, "lib/systemd/systemd")) or \
        os.path.isfile(os.path.join(root, "usr/lib/systemd/systemd"))


def ensure_rootfs(root=ROOTFS):
    """The cached root, built when absent (PW_NSPAWN_BUILD=auto); returns its
    path and how many seconds building took (0 when it was there)."""
    if _usable(root):
        return root, 0.0
    if os.environ.get("PW_NSPAWN_BUILD", "auto") == "no":
        pytest.fail("no nspawn root at %s and PW_NSPAWN_BUILD=no; build it with: %s"
                    % (root, " ".join(build_command(root))))
    for tool in ("debootstrap", "systemd-nspawn"):
        if shutil.which(tool) is None:
            pytest.fail("%s not found (tools/deps.sh installs it)" % tool)
    parent = os.path.dirname(root)
    os.makedirs(parent, exist_ok=True)
    t0 = time.monotonic()
    with open(root + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _usable(root):  # another run built it meanwhile
            return root, 0.0
        tmp = tempfile.mkdtemp(prefix=".build-", dir=parent)
        try:
            r = subprocess.run(build_command(os.path.join(tmp, "root")), capture_output=True,
                               text=True, timeout=BUILD_TIMEOUT)
            if r.returncode != 0:
                pytest.fail("debootstrap failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
            if os.path.isdir(root):
                shutil.rmtree(root)  # an unusable leftover
            os.rename(os.path.join(tmp, "root"), root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root, time.monotonic() - t0


def _status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split()[1:]
    except OSError:
        pass
    return None


def _children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def _pidns(pid):
    try:
        return os.readlink("/proc/%d/ns/pid" % pid)
    except OSError:
        return None


class Machine:
    def __init__(self, netns, units=None, enable=(), root=None):
        self.root, self.build_seconds = ensure_rootfs(root or ROOTFS)
        self.netns = netns
        self.unitdir = tempfile.mkdtemp(prefix="pw-nspawn-units-")
        os.chmod(self.unitdir, 0o755)
        for name, text in (units or {}).items():
            with open(os.path.join(self.unitdir, name), "w") as f:
                f.write(text)
        for target, unit in enable:
            wants = os.path.join(self.unitdir, target + ".wants")
            os.makedirs(wants, exist_ok=True)
            os.symlink("../" + unit, os.path.join(wants, unit))
        self.log = tempfile.TemporaryFile()
        # the machine's systemd says READY=1 when its boot is done; nspawn
        # passes it on to $NOTIFY_SOCKET
        self.notify_path = os.path.join(self.unitdir + ".notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.notify.bind(self.notify_path)
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        self.argv = ["systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit",
                     "--notify-ready=yes",
                     "--volatile=overlay", "--directory=" + self.root,
                     "--network-namespace-path=/run/netns/" + netns,
                     "--bind-ro=%s:/etc/systemd/system" % self.unitdir]
        t0 = time.monotonic()
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                  stderr=subprocess.STDOUT, start_new_session=True, env=env)
        self.init_pid = None
        try:
            self.init_pid = self._wait(self._find_init, "the machine's systemd (PID 1)")
            self._wait(self._ready, "READY=1 from the machine (boot finished)")
            # services systemd forks but has not exec'd yet ("(agetty)") still
            # hold its fds for a moment: wait until none is left
            self._wait(self._settled, "a settled machine")
        except BaseException:
            self.close()
            raise
        self.boot_seconds = time.monotonic() - t0

    def _output(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-3000:]

    def _wait(self, probe, what, timeout=BOOT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                pytest.fail("systemd-nspawn exited (%d) before %s:\n%s"
                            % (self.p.returncode, what, self._output()))
            v = probe()
            if v:
                return v
            time.sleep(0.1)
        pytest.fail("no %s after %ss:\n%s" % (what, timeout, self._output()))

    def _ready(self):
        while select.select([self.notify], [], [], 0.1)[0]:
            msg = self.notify.recv(4096).decode("utf-8", "replace")
            if "READY=1" in msg.split("\n"):
                return True
        return False

    def _settled(self):
        for pid in self.processes():
            try:
                with open("/proc/%d/comm" % pid) as f:
                    if f.read().startswith("("):
                        return False
            except OSError:
                pass
        return True

    def _find_init(self):
        """nspawn's descendant whose PID in its own namespace is 1."""
        todo = [self.p.pid]
        while todo:
            pid = todo.pop()
            ns = _status(pid, "NSpid")
            if pid != self.p.pid and ns and len(ns) > 1 and ns[-1] == "1":
                comm = open("/proc/%d/comm" % pid).read().strip() if os.path.exists(
                    "/proc/%d/comm" % pid) else ""
                return pid if comm == "systemd" else None
            todo += _children(pid)
        return None

    def processes(self):
        """Host PIDs of every process in the machine's PID namespace."""
        ns = _pidns(self.init_pid)
        out, todo = [], [self.init_pid]
        while todo:
            pid = todo.pop()
            if _pidns(pid) == ns:
                out.append(pid)
                todo += _children(pid)
        return out

    def unit_pids(self, unit):
        out = []
        for pid in self.processes():
            try:
                with open("/proc/%d/cgroup" % pid) as f:
                    cg = f.read()
            except OSError:
                continue
            if any(line.endswith("/" + unit) for line in cg.splitlines()):
                out.append(pid)
        return out

    def wait_unit_pid(self, unit, timeout=BOOT_TIMEOUT):
        """Host PID of the (first) process of a unit inside the machine."""
        pids = self._wait(lambda: self.unit_pids(unit), "process of " + unit, timeout)
        return min(pids)

    def close(self):
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, signal.SIGTERM)  # nspawn halts the machine
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        if self.init_pid and _pidns(self.init_pid) is not None and self.p.poll() is None:
            try:
                os.kill(self.init_pid, signal.SIGKILL)  # ends its PID namespace
            except ProcessLookupError:
                pass
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait(timeout=10)
        self.log.close()
        self.notify.close()
        try:
            os.unlink(self.notify_path)
        except FileNotFoundError:
            pass
        shutil.rmtree(self.unitdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
