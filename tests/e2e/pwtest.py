# SPDX-License-Identifier: MIT
"""Machinery shared by the e2e tests: namespaces, helpers, running portwho.

The binaries:
  PORTWHO     the portwho binary (default build/portwho; a relative path is
              tried from the current directory, then from the repository root)
  PW_HELPERS  the directory with sockhold, fdpass, bindtry
              (default build/tests/helpers, same lookup)

A Netns is a private network namespace `pwtest-<random>` (ip netns add, lo
up). Helpers run inside it through `ip netns exec`, in a session of their own
(so a pre-fork helper's children are killed with it), with a stdin pipe (EOF
ends them). close() kills every process it started, then any process still
in the namespace (all of them were started by this test), then deletes it.
"""
import collections
import json
import os
import platform
import re
import secrets
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WAIT = 10  # seconds for a helper's readiness line
NOBODY = 65534


def _resolve(env, default, want_dir=False):
    p = Path(os.environ.get(env, default))
    cands = [p] if p.is_absolute() else [Path.cwd() / p, REPO / p]
    for c in cands:
        if want_dir and c.is_dir():
            return str(c.resolve())
        if not want_dir and c.is_file() and os.access(c, os.X_OK):
            return str(c.resolve())
    return None


def portwho_path():
    return _resolve("PORTWHO", "build/portwho")


def helpers_dir():
    return _resolve("PW_HELPERS", "build/tests/helpers", want_dir=True)


def helper(name):
    d = helpers_dir()
    if d is None or not os.access(os.path.join(d, name), os.X_OK):
        pytest.fail("helper %s not found (set PW_HELPERS=dir with sockhold, fdpass, bindtry; "
                    "looked in %s)" % (name, os.environ.get("PW_HELPERS", "build/tests/helpers")))
    return os.path.join(d, name)


def kernel_at_least(major, minor):
    m = re.match(r"(\d+)\.(\d+)", platform.release())
    return m is not None and (int(m.group(1)), int(m.group(2))) >= (major, minor)


# ---- processes with readiness lines ------------------------------------------


class Proc:
    """A process in a session of its own, its stdout read line by line."""

    def __init__(self, argv, what):
        self.argv = [str(a) if not isinstance(a, bytes) else a for a in argv]
        self.what = what
        self.p = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True)
        self.pid = self.p.pid
        self.buf = b""
        self.lines = []

    def _line(self, deadline):
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                raise TimeoutError
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.decode(errors="replace")
        self.lines.append(line)
        return line

    def _stderr(self):
        """What the process said on stderr (only once it has ended)."""
        if self.p.poll() is None:
            return "(still running)"
        out = b""
        fd = self.p.stderr.fileno()
        try:
            while select.select([fd], [], [], 1)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                out += chunk
        except (OSError, ValueError):
            pass
        return out.decode(errors="replace")

    def until(self, word, timeout=WAIT):
        """Lines up to the line `word`: the JSON objects among them."""
        deadline = time.monotonic() + timeout
        objs = []
        try:
            while True:
                line = self._line(deadline)
                if line is None:
                    self.p.wait(timeout=5)
                    pytest.fail("%s exited (status %s) before '%s'\n argv: %s\n stdout: %s\n"
                                " stderr: %s" % (self.what, self.p.returncode, word, self.argv,
                                                 self.lines, self._stderr()))
                if line == word:
                    return objs
                if line.startswith("{"):
                    objs.append(json.loads(line))
        except TimeoutError:
            pytest.fail("%s did not print '%s' within %ss\n argv: %s\n stdout: %s" %
                        (self.what, word, timeout, self.argv, self.lines))

    def kill(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except OSError:
                pass


class Holder(Proc):
    """A sockhold process after 'ready': its sockets and forked children."""

    def start(self):
        objs = self.until("ready")
        self.sockets = [o for o in objs if "inode" in o]
        self.children = [o["child"] for o in objs if "child" in o]
        return self

    def sock(self, role=None, spec=None, port=None):
        """The one reported socket matching all the given fields."""
        got = [s for s in self.sockets
               if (role is None or s["role"] == role) and (spec is None or s["spec"] == spec)
               and (port is None or s["port"] == port)]
        assert len(got) == 1, "expected one socket role=%s spec=%s port=%s in %s" % (
            role, spec, port, self.sockets)
        return got[0]

    @property
    def inodes(self):
        return sorted(s["inode"] for s in self.sockets)


# ---- portwho runs -------------------------------------------------------------

PWResult = collections.namedtuple("PWResult", "rc stdout stderr json")


def _is_json(args):
    return any(a in ("--json", "-J") for a in args)


def run_portwho(*args, netns=None, host=False, nobody=False, timeout=30, binary=None):
    """Run portwho; returns PWResult(rc, stdout, stderr, json).

    netns=NAME: run it inside the namespace with `-N current` (ip netns exec),
    or with host=True from here with `-N /run/netns/NAME`. nobody=True runs
    it as uid/gid 65534 with no groups (setpriv). `-N` is added only when the
    arguments have none (after the subcommand for `check`). stdout and stderr are str (undecodable bytes kept
    as surrogates: .encode('utf-8', 'surrogateescape') gives the raw bytes);
    json is the parsed document when --json/-J was given and rc is 0 or 1
    (invalid JSON then fails the test), else None.
    """
    pw = binary or portwho_path()
    if pw is None:
        pytest.fail("portwho binary not found (set PORTWHO=path/to/portwho; tried %s)"
                    % os.environ.get("PORTWHO", "build/portwho"))
    args = [str(a) for a in args]
    has_n = any(a in ("-N", "--netns") or a.startswith("--netns=") for a in args)
    argv = [pw]
    if args[:1] == ["check"]:  # a subcommand comes first
        argv.append(args.pop(0))
    if netns is not None and not has_n:
        argv += ["-N", "/run/netns/" + netns if host else "current"]
    argv += args
    if nobody:
        argv = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"] + argv
    if netns is not None and not host:
        argv = ["ip", "netns", "exec", netns] + argv
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    try:
        r = subprocess.run(argv, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("portwho did not finish within %ss: %s" % (timeout, argv))
    out = r.stdout.decode("utf-8", "surrogateescape")
    err = r.stderr.decode("utf-8", "surrogateescape")
    doc = None
    if _is_json(args) and r.returncode in (0, 1) and (r.returncode == 0 or out.strip()):
        try:
            doc = json.loads(r.stdout)
        except ValueError as e:
            pytest.fail("portwho %s printed invalid JSON (%s):\n%s" % (" ".join(args), e,
                                                                       out[-4000:]))
    return PWResult(r.returncode, out, err, doc)


def describe(res):
    return "rc=%d\n--- stdout:\n%s\n--- stderr:\n%s" % (res.rc, res.stdout[-6000:],
                                                         res.stderr[-3000:])


def portwho_ok(*args, **kw):
    """run_portwho that must exit 0."""
    res = run_portwho(*args, **kw)
    assert res.rc == 0, "portwho %s: expected exit 0\n%s" % (" ".join(map(str, args)),
                                                            describe(res))
    return res


# ---- namespaces -----------------------------------------------------------------


class Netns:
    def __init__(self):
        self.name = "pwtest-" + secrets.token_hex(4)
        self.path = "/run/netns/" + self.name
        self.procs = []
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        try:
            subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
            self.inode = os.stat(self.path).st_ino
        except BaseException:
            subprocess.run(["ip", "netns", "del", self.name], check=False)
            raise

    def exec_argv(self, argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def spawn(self, argv, what, cls=Proc):
        p = cls(self.exec_argv(argv), what)
        self.procs.append(p)
        return p

    def sockhold(self, *args, what=None, wrap=()):
        """Start sockhold with these arguments and wait for 'ready'.
        wrap: a command put before it (inside the namespace), e.g. setpriv."""
        argv = list(wrap) + [helper("sockhold")] + list(args)
        return self.spawn(argv, what or "sockhold " + " ".join(map(str, args)), Holder).start()

    def fdpass(self, sockdir, spec, keep=True):
        """An SCM_RIGHTS hand-over between unrelated processes: returns
        (sender, receiver, sent, received), sent/received being the JSON lines
        of each side. The sender detaches (reparented away from us), so the
        two holders are neither parent/child nor siblings; use sent["pid"]."""
        path = os.path.join(str(sockdir), "pass-%s.sock" % secrets.token_hex(3))
        recv = self.spawn([helper("fdpass"), "recv", path], "fdpass recv")
        recv.until("listening")
        send = self.spawn([helper("fdpass"), "detach", "send", path, spec, "keep" if keep else "close"],
                          "fdpass send")
        sent = send.until("ready")
        got = recv.until("ready")
        return send, recv, sent[0], got[0]

    def run(self, argv, timeout=30, **kw):
        kw.setdefault("capture_output", True)
        return subprocess.run(self.exec_argv(argv), timeout=timeout, **kw)

    def portwho(self, *args, **kw):
        return run_portwho(*args, netns=self.name, **kw)

    def portwho_ok(self, *args, **kw):
        return portwho_ok(*args, netns=self.name, **kw)

    def close(self):
        for p in reversed(self.procs):
            p.kill()
        # anything left in the namespace was started by this test
        r = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True)
        for tok in r.stdout.split():
            try:
                os.kill(int(tok), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass
        subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True)


# ---- reading portwho's JSON -------------------------------------------------------


def show(obj):
    return json.dumps(obj, indent=1)[-8000:]


def all_sockets(doc):
    """(port group, socket) for every socket of the document."""
    return [(g, s) for g in doc["ports"] for s in g["sockets"]]


def inodes(doc):
    """Sorted inodes of every socket shown (duplicates kept)."""
    return sorted(s["inode"] for _, s in all_sockets(doc))


def find(doc, inode):
    """The (group, socket) with this inode; exactly one must exist."""
    got = [(g, s) for g, s in all_sockets(doc) if s["inode"] == inode]
    assert len(got) == 1, "expected one socket with inode %d, found %d:\n%s" % (
        inode, len(got), show(doc))
    return got[0]


def group(doc, proto, port, netns=None):
    got = [g for g in doc["ports"] if g["proto"] == proto and g["port"] == port
           and (netns is None or g["netns"] == netns)]
    assert len(got) == 1, "expected one %s/%d port group, found %d:\n%s" % (
        proto, port, len(got), show(doc))
    return got[0]


def holder_keys(s):
    """Sorted (pid, fd) pairs of a socket's holders (fd None, an io_uring
    holder, sorts first: the host may have one while the test runs)."""
    return sorted(((h["pid"], h["fd"]) for h in s["holders"]),
                  key=lambda k: (k[0], -1 if k[1] is None else k[1]))


def table_lines(stdout):
    return [line for line in stdout.split("\n") if line.strip()]
