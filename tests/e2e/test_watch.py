# SPDX-License-Identifier: MIT
"""portwho watch: events as they happen, from real processes in a private
namespace (other engineers' tests run at the same time: every assertion is
about this test's namespace, ports and PIDs).

The watcher runs from the host namespace with `-N /run/netns/NAME` (BPF
tracing as root) or inside the namespace as uid 65534 (the polling
fallback). It is ready when a sentinel bind on a watched port shows up (BPF
attaches before the first event can be seen) or, when polling, once it has
said so on stderr (the baseline snapshot is taken by then).
"""
import json
import os
import re
import secrets
import select
import signal
import subprocess
import time

import pytest

from pwtest import NOBODY, WAIT, Proc, helper, portwho_path

PORT = 18080  # a private namespace: no one else binds here
SENTINEL = 18099
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$")


def pw():
    p = portwho_path()
    if p is None:
        pytest.fail("portwho binary not found (set PORTWHO)")
    return p


class Watcher(Proc):
    """portwho watch --json, its lines parsed as they come."""

    def events(self, want, timeout=WAIT):
        """Read events until want(list of all events so far) is true."""
        deadline = time.monotonic() + timeout
        got = getattr(self, "got", [])
        self.got = got
        while not want(got):
            try:
                line = self._line(deadline)
            except TimeoutError:
                pytest.fail("watch: no matching event within %ss; got %s" % (timeout, got))
            if line is None:
                self.p.wait(timeout=5)
                pytest.fail("watch exited (%s): %s" % (self.p.returncode, self._stderr()))
            got.append(json.loads(line))  # every line is one JSON object
        return got

    def stderr_line(self, word, timeout=WAIT):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.p.stderr.fileno()
        while word.encode() not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                pytest.fail("watch did not say '%s' on stderr: %r" % (word, buf))
            chunk = os.read(fd, 4096)
            if not chunk:
                pytest.fail("watch ended: %r" % buf)
            buf += chunk
        return buf.decode(errors="replace")

    def stop(self):
        """SIGINT: it must end cleanly, with status 0."""
        self.p.send_signal(signal.SIGINT)
        rc = self.p.wait(timeout=WAIT)
        assert rc == 0, "watch exited %s after SIGINT: %s" % (rc, self._stderr())


def of(evs, event, port, ns, pid=None):
    return [e for e in evs if e["event"] == event and e["local_port"] == port
            and e["netns"] == ns.inode and (pid is None or e["pid"] == pid)]


def bindtry(ns, *args):
    """Run bindtry in the namespace: (pid, its one line). `ip netns exec`
    execs it, so the PID is bindtry's own."""
    p = subprocess.Popen(ns.exec_argv([helper("bindtry")] + list(args)), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=WAIT)
    return p.pid, out.decode().strip()


def start_traced(ns, *args):
    w = ns.spawn([pw(), "watch", "--json", "-N", ns.path] + list(args) + [str(SENTINEL)],
                 "portwho watch", Watcher)
    # `ip netns exec` for a watcher that names the namespace itself is harmless
    deadline = time.monotonic() + WAIT
    while True:
        bindtry(ns, "udp", "127.0.0.1:%d" % SENTINEL)
        try:
            w.events(lambda g: of(g, "bind", SENTINEL, ns), timeout=0.5)
            return w
        except pytest.fail.Exception:
            if time.monotonic() > deadline or w.p.poll() is not None:
                raise


def test_events_traced(netns):
    ns = netns
    w = start_traced(ns, str(PORT), "%d/udp" % (PORT + 1))

    # bind + listen + exit within a millisecond: still named, by the kernel
    pid, out = bindtry(ns, "listen", "tcp", "127.0.0.1:%d" % PORT)
    assert out == "ok"
    evs = w.events(lambda g: of(g, "close", PORT, ns, pid))
    for kind, state in (("bind", "BOUND"), ("listen", "LISTEN"), ("close", "LISTEN")):
        [e] = of(evs, kind, PORT, ns, pid)
        assert e["command"] == "bindtry" and e["tid"] == pid and e["uid"] == 0, e
        assert e["proto"] == "tcp" and e["family"] == "ipv4" and e["state"] == state, e
        assert e["local_address"] == "127.0.0.1" and e["remote_port"] is None, e
        assert e["polled"] is False and e["errno"] is None and e["container"] is None, e
        assert e["netns_name"] == ns.name, e  # the /run/netns name, read once
        assert TIME_RE.match(e["time"]) and e["schema_version"] == 1, e
    order = [e["event"] for e in evs if e["pid"] == pid]
    assert order == ["bind", "listen", "close"], evs

    # a UDP bind that stays: bind, and no close while it lives
    udp = ns.sockhold("comm=pw-udp", "udp:0.0.0.0:%d" % (PORT + 1))
    evs = w.events(lambda g: of(g, "bind", PORT + 1, ns, udp.pid))
    [e] = of(evs, "bind", PORT + 1, ns, udp.pid)
    assert e["command"] == "pw-udp" and e["proto"] == "udp" and e["state"] == "UNCONN", e
    assert e["local_address"] == "0.0.0.0" and e["user"] == "root", e
    assert "sockhold" in e["cmdline"], e

    # a second bind fails with EADDRINUSE: the event names the first process
    holder = ns.sockhold("comm=pw-holder", "tcp-listen:127.0.0.1:%d" % PORT)
    w.events(lambda g: of(g, "listen", PORT, ns, holder.pid))
    pid2, out = bindtry(ns, "tcp", "127.0.0.1:%d" % PORT)
    assert out == "bind EADDRINUSE"
    evs = w.events(lambda g: of(g, "bind-failed", PORT, ns, pid2))
    [e] = of(evs, "bind-failed", PORT, ns, pid2)
    assert e["errno"] == "EADDRINUSE" and e["command"] == "bindtry", e
    assert e["local_address"] == "127.0.0.1" and e["state"] is None, e
    [b] = e["blockers"]
    assert b["inode"] == holder.sock()["inode"] and b["state"] == "LISTEN", e
    assert b["rule"] == "exclusive" and b["certain"] is True, e
    assert [(h["pid"], h["command"]) for h in b["holders"]] == [(holder.pid, "pw-holder")], e

    # the listener closes (its process ends)
    holder.kill()
    evs = w.events(lambda g: of(g, "close", PORT, ns, holder.pid))
    [e] = of(evs, "close", PORT, ns, holder.pid)
    assert e["command"] == "pw-holder" and e["state"] == "LISTEN", e
    # the UDP socket is still there: no close for it
    assert not of(evs, "close", PORT + 1, ns), evs
    # nothing from another namespace, nothing on unwatched ports
    assert all(e["netns"] == ns.inode for e in evs), evs
    assert {e["local_port"] for e in evs} <= {PORT, PORT + 1, SENTINEL}, evs
    w.stop()


def test_connect_accept(netns):
    """-a: a connection to the watched port, both ends; the client's
    ephemeral source port and the accepted socket."""
    ns = netns
    w = start_traced(ns, "-a", str(PORT))
    pair = ns.sockhold("comm=pw-pair", "tcp-pair:127.0.0.1:%d" % PORT)
    client = pair.sock(role="client")
    evs = w.events(lambda g: of(g, "accept", PORT, ns, pair.pid)
                   and of(g, "connect", client["port"], ns, pair.pid))
    [c] = of(evs, "connect", client["port"], ns, pair.pid)
    assert c["remote_address"] == "127.0.0.1" and c["remote_port"] == PORT, c
    assert c["state"] in ("SYN-SENT", "ESTAB"), c
    [a] = of(evs, "accept", PORT, ns, pair.pid)
    assert a["remote_port"] == client["port"] and a["command"] == "pw-pair", a
    w.stop()


def test_terminal_view_tmux(netns):
    """The terminal view, one line per event, as a person sees it."""
    ns = netns
    session = "pwwatch-" + secrets.token_hex(4)
    cmd = "%s watch -N %s %d %d" % (pw(), ns.path, PORT, SENTINEL)
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "220", "-y", "50", cmd],
                   check=True)
    try:
        def screen():
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                  capture_output=True, text=True).stdout
        deadline = time.monotonic() + WAIT
        while ":%d pid=" % SENTINEL not in screen():  # ready: the tracer sees binds
            assert time.monotonic() < deadline, screen()
            bindtry(ns, "udp", "127.0.0.1:%d" % SENTINEL)
            time.sleep(0.1)
        pid, out = bindtry(ns, "listen", "tcp", "127.0.0.1:%d" % PORT)
        want = re.compile(r"^\S+ listen +tcp +127\.0\.0\.1:%d pid=%d command=bindtry user=root "
                          r"netns=%s$" % (PORT, pid, re.escape(ns.name)), re.M)
        while not want.search(screen()):
            assert time.monotonic() < deadline, screen()
            time.sleep(0.05)
        lines = [l for l in screen().splitlines() if "pid=%d " % pid in l]
        assert [l.split()[1] for l in lines] == ["bind", "listen", "close"], lines
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_polling_fallback_nonroot(netns):
    """As uid 65534 there is no BPF: it polls sock_diag, says so with the
    interval, and marks the events."""
    ns = netns
    nobody = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]
    w = ns.spawn(nobody + [pw(), "watch", "--json", "--interval", "0.1", "-N", "current",
                           str(PORT)], "portwho watch (nobody)", Watcher)
    said = w.stderr_line("polling")
    assert re.search(r"polling sock_diag every 0\.1 s", said), said
    h = ns.sockhold("uid-first=%d" % NOBODY, "comm=pw-nobody", "tcp-listen:127.0.0.1:%d" % PORT)
    evs = w.events(lambda g: of(g, "listen", PORT, ns, h.pid))
    [e] = of(evs, "listen", PORT, ns, h.pid)
    assert e["polled"] is True and e["command"] == "pw-nobody" and e["uid"] == NOBODY, e
    assert e["cookie"] and e["state"] == "LISTEN" and e["local_address"] == "127.0.0.1", e
    assert e["netns_name"] == ns.name and e["container"] is None, e
    h.kill()
    evs = w.events(lambda g: of(g, "close", PORT, ns, h.pid))
    [e] = of(evs, "close", PORT, ns, h.pid)
    assert e["polled"] is True and e["state"] == "LISTEN", e
    w.stop()


def run_watch(*args):
    return subprocess.run([pw(), "watch"] + list(args), capture_output=True, text=True,
                          timeout=WAIT)


def test_count_duration_and_usage(netns):
    ns = netns
    res = run_watch("--duration", "0.2", "-N", ns.path, str(PORT))
    assert res.returncode == 0 and res.stdout == "", res
    for bad, why in ((["--count", "0"], "--count"), (["--duration", "x"], "--duration"),
                     (["70000"], "70000"), (["--bogus"], "--bogus")):
        res = run_watch("-N", ns.path, *bad)
        assert res.returncode == 2 and res.stdout == "", res
        assert res.stderr.count("\n") == 1 and why in res.stderr, res
    # --count 1 ends after the first event
    w = start_traced(ns, "--count", "2")
    rc = w.p.wait(timeout=WAIT)
    assert rc == 0


def test_container_event(netns):
    """A bind inside a real Docker container (dockerfix.py: a dockerd of its
    own in this test's namespace): the event names the container, as the
    main JSON's holders do, and its namespace as docker:NAME."""
    import dockerfix  # only here: the other tests need no Docker

    ns = netns
    d = dockerfix.DockerDaemon(ns, userland_proxy=False)
    try:
        # every namespace (the container's is not ns): filtered by PID below
        w = ns.spawn([pw(), "watch", "--json", str(PORT), str(SENTINEL)], "portwho watch",
                     Watcher)
        deadline = time.monotonic() + WAIT
        while True:  # ready: the tracer sees the sentinel bind
            bindtry(ns, "udp", "127.0.0.1:%d" % SENTINEL)
            try:
                w.events(lambda g: of(g, "bind", SENTINEL, ns), timeout=0.5)
                break
            except pytest.fail.Exception:
                if time.monotonic() > deadline or w.p.poll() is not None:
                    raise
        name = "w" + secrets.token_hex(3)
        c = d.run(name, ["httpd", "-f", "-p", str(PORT)])

        def mine(g):
            return [e for e in g if e["pid"] == c.pid and e["local_port"] == PORT]
        evs = w.events(lambda g: [e for e in mine(g) if e["event"] == "listen"])
        ino = os.stat("/proc/%d/ns/net" % c.pid).st_ino
        for e in mine(evs):
            assert e["netns"] == ino and e["netns_name"] == "docker:" + name, e
            assert e["container"] == {"runtime": "docker", "id": c.id, "name": name,
                                      "pod": None}, e
            assert e["nspid"] == 1 and e["command"] == "busybox", e
        assert [e["event"] for e in mine(evs)] == ["bind", "listen"], evs
        w.stop()
    finally:
        d.close()
