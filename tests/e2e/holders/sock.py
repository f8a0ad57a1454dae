#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A socket holder for the reasons e2e tests (tests/e2e/test_reasons.py).

    sock.py SPEC_JSON

SPEC keys (all optional):
  sockets   [{"proto": "tcp"|"udp", "family": 4|6, "addr": str, "port": int,
              "reuseaddr": bool, "reuseport": bool, "v6only": bool,
              "listen": bool}]                   created in this order
  setuid    uid: setresgid/setresuid to it before creating sockets
  detach    true: fork and let the first process exit, so this holder is
            no child of whoever started it (reparented to a subreaper/PID 1)
  fork      N: after creating the sockets fork N children that keep them
  close_in_parent  true: after forking, the parent closes its copies (only
            the children hold the sockets; the parent stays alive)
  accept    {"close_first": K}: accept on the first socket forever, close
            the first K accepted connections at once (this side closes
            first, so TIME-WAIT lands on the listening port), keep the rest;
            prints "ACCEPT {"inode": I, "closed": bool}" for each
  send_to   PATH: listen on a unix socket at PATH and hand every socket over
            SCM_RIGHTS to whoever connects
  recv_from PATH: connect to PATH and receive the sockets over SCM_RIGHTS
  connect   [{"addr": str, "port": int, "close_on_eof": bool}]: TCP
            connections made in order; close_on_eof waits for the peer to
            close, then closes
  activate  argv: move the sockets to fds 3.., set LISTEN_FDS/LISTEN_PID to
            this pid and exec argv (the same PID goes on, as systemd does)
  inherited true: report fds 3 .. 3+LISTEN_FDS-1 (socket activation)

Prints one line "READY {json}" with pid, ppid, children, env (LISTEN_*)
and sockets [{"fd", "inode", "port"}], then blocks until killed.
"""
import ctypes
import json
import os
import signal
import socket
import sys
import time

PR_SET_PDEATHSIG = 1


def out(tag, obj):
    sys.stdout.write("%s %s\n" % (tag, json.dumps(obj)))
    sys.stdout.flush()


def inode(fd):
    return os.fstat(fd).st_ino


def make(spec):
    fam = socket.AF_INET6 if spec.get("family", 4) == 6 else socket.AF_INET
    typ = socket.SOCK_STREAM if spec.get("proto", "tcp") == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(fam, typ)
    if spec.get("reuseaddr"):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if spec.get("reuseport"):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if fam == socket.AF_INET6 and spec.get("v6only") is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if spec["v6only"] else 0)
    s.bind((spec.get("addr", "0.0.0.0" if fam == socket.AF_INET else "::"), spec["port"]))
    if spec.get("listen"):
        s.listen(64)
    return s


def describe(socks):
    return [{"fd": s.fileno(), "inode": inode(s.fileno()), "port": s.getsockname()[1]}
            for s in socks]


def block():
    while True:
        signal.pause()


def die_with_parent():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


def detach():
    starter = os.getpid()
    if os.fork():
        os._exit(0)
    # wait until the starter is gone and we have been reparented
    while os.getppid() == starter:
        time.sleep(0.001)


def main():
    spec = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    if spec.get("detach"):
        detach()
    report = {"pid": os.getpid(), "ppid": os.getppid(), "children": [],
              "env": {k: v for k, v in os.environ.items() if k.startswith("LISTEN_")}}

    if spec.get("inherited"):
        n = int(os.environ.get("LISTEN_FDS", "0"))
        report["sockets"] = [{"fd": fd, "inode": inode(fd)} for fd in range(3, 3 + n)]
        out("READY", report)
        block()

    if spec.get("setuid") is not None:
        uid = spec["setuid"]
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)

    socks = [make(s) for s in spec.get("sockets", [])]

    if spec.get("recv_from"):
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.connect(spec["recv_from"])
        _, fds, _, _ = socket.recv_fds(u, 16, 16)
        u.close()
        socks += [socket.socket(fileno=fd) for fd in fds]

    if spec.get("connect"):
        conns = []
        for c in spec["connect"]:
            s = socket.create_connection((c["addr"], c["port"]))
            if c.get("close_on_eof"):
                while s.recv(4096):
                    pass
                s.close()
            else:
                conns.append(s)
        socks += conns

    if spec.get("activate"):
        # what systemd does: sockets from fd 3 on, LISTEN_PID = this pid,
        # then exec in the same process
        fds = []
        for s in socks:
            fds.append(os.dup(s.fileno()))  # above 3 for sure after this
        for i, fd in enumerate(fds):
            os.dup2(fd, 3 + i, inheritable=True)
        env = dict(os.environ, LISTEN_FDS=str(len(fds)), LISTEN_PID=str(os.getpid()))
        env.pop("LISTEN_FDNAMES", None)
        report["sockets"] = [{"fd": 3 + i, "inode": inode(3 + i)} for i in range(len(fds))]
        out("PREEXEC", report)
        argv = spec["activate"]
        os.execvpe(argv[0], argv, env)

    report["sockets"] = describe(socks)

    for _ in range(spec.get("fork", 0)):
        pid = os.fork()
        if pid == 0:
            die_with_parent()
            block()
        report["children"].append(pid)
    if spec.get("close_in_parent"):
        for s in socks:
            s.close()
        socks = []

    if spec.get("send_to"):
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.bind(spec["send_to"])
        u.listen(8)
        out("READY", report)
        while True:
            c, _ = u.accept()
            socket.send_fds(c, [b"x"], [s.fileno() for s in socks])
            c.close()

    if spec.get("accept"):
        close_first = spec["accept"].get("close_first", 0)
        kept = []
        out("READY", report)
        while True:
            c, _ = socks[0].accept()
            ino = inode(c.fileno())
            if close_first > 0:
                close_first -= 1
                c.close()
                out("ACCEPT", {"inode": ino, "closed": True})
            else:
                kept.append(c)
                out("ACCEPT", {"inode": ino, "closed": False})

    out("READY", report)
    block()


if __name__ == "__main__":
    main()
