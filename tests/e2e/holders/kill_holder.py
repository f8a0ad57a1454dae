#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A port holder for the `portwho kill` e2e tests (tests/e2e/test_kill.py).

    kill_holder.py SPEC_JSON

SPEC keys (all optional but port):
  port         the port to bind
  addr         address (default 127.0.0.1)
  proto        "tcp" (listening, default) or "udp"
  ignore_term  true: SIGTERM is ignored (only SIGKILL ends it)
  fork         N: after binding, fork N children that keep the socket
  follow       true (with fork): on SIGTERM the parent sends SIGTERM to its
               children, waits for them, then exits (as nginx's master does);
               otherwise the parent exits alone and the children stay
  only_connection  true (tcp): connect to itself, accept, close the
               listener: all it holds on the port is the accepted connection
  tag          any word: shows in the command line, to tell holders apart
  comm         set the process name (prctl PR_SET_NAME), e.g. "systemd"
  activate     {"fdnames": str|null}: fork a child that gets the socket as
               fd 3 with LISTEN_PID (its own PID), LISTEN_FDS=1 and
               LISTEN_FDNAMES, and execs a sleeper, as systemd does for a
               socket-activated service

Prints one line "READY {json}" with pid, children, service (the activated
child's PID) and the socket's inode,
then blocks until a signal ends it.
"""
import ctypes
import json
import os
import signal
import socket
import sys
import time


PR_SET_NAME = 15


def activate(sock, spec):
    """A child with the socket at fd 3 and the LISTEN_* environment."""
    pid = os.fork()
    if pid:
        return pid
    if sock.fileno() == 3:
        os.set_inheritable(3, True)
    else:
        os.dup2(sock.fileno(), 3)
    env = dict(os.environ, LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
    if spec.get("fdnames"):
        env["LISTEN_FDNAMES"] = spec["fdnames"]
    os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(3600)"], env)


def main():
    spec = json.loads(sys.argv[1])
    if spec.get("comm"):
        ctypes.CDLL(None).prctl(PR_SET_NAME, spec["comm"].encode(), 0, 0, 0)
    udp = spec.get("proto", "tcp") == "udp"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((spec.get("addr", "127.0.0.1"), spec["port"]))
    if not udp:
        s.listen(16)
    keep = []
    if spec.get("only_connection"):
        c = socket.create_connection(s.getsockname())
        a, _ = s.accept()
        keep = [c, a]
        s.close()
        s = a
    if spec.get("ignore_term"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    service = activate(s, spec["activate"]) if spec.get("activate") else None
    children = []
    for _ in range(spec.get("fork", 0)):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            while True:
                signal.pause()
        children.append(pid)

    if children and spec.get("follow"):
        def forward(signum, frame):
            for c in children:
                os.kill(c, signal.SIGTERM)
            for c in children:
                os.waitpid(c, 0)
            os._exit(0)
        signal.signal(signal.SIGTERM, forward)

    sys.stdout.write("READY %s\n" % json.dumps(
        {"pid": os.getpid(), "children": children, "service": service,
         "inode": os.fstat(s.fileno()).st_ino}))
    sys.stdout.flush()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
