#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The PID-reuse trap for `portwho kill` (tests/e2e/test_kill.py).

Run as PID 1 of a private PID namespace with its own /proc:
    unshare --pid --fork --mount-proc python3 kill_reuse.py PORTWHO PORT PAUSEFILE

1. starts a holder of 127.0.0.1:PORT (kill_holder.py);
2. starts `portwho kill 127.0.0.1:PORT --yes --json -N current` with
   PORTWHO_TEST_PAUSE_BEFORE_SIGNAL=PAUSEFILE, and waits until portwho says
   it has scanned and is paused before signalling;
3. kills the holder itself and reaps it;
4. makes the next process take the holder's PID (/proc/sys/kernel/ns_last_pid)
   and has that impostor bind the same port;
5. releases portwho by creating PAUSEFILE.

Prints one line "RESULT {json}": holder_pid, impostor_pid, portwho's exit
status, its JSON, its stderr, and whether the impostor is still alive.
"""
import json
import os
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HOLDER = os.path.join(HERE, "kill_holder.py")


def read_line(f, prefix, timeout=10):
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([f], [], [], max(0, deadline - time.monotonic()))
        if not r:
            break
        c = os.read(f.fileno(), 1)
        if not c:
            break
        if c == b"\n":
            line = buf.decode(errors="replace")
            if line.startswith(prefix):
                return line
            buf = b""
        else:
            buf += c
    raise SystemExit("no line starting with %r (got %r)" % (prefix, buf))


def start_holder(port, tag):
    p = subprocess.Popen([sys.executable, HOLDER, json.dumps({"port": port, "tag": tag})],
                         stdout=subprocess.PIPE)
    return p


def main():
    portwho, port, pause = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    assert os.getpid() == 1, "run me as PID 1 of a new PID namespace"

    holder = start_holder(port, "original")
    read_line(holder.stdout, "READY ")
    hpid = holder.pid

    env = dict(os.environ, PORTWHO_TEST_PAUSE_BEFORE_SIGNAL=pause)
    pw = subprocess.Popen([portwho, "kill", "127.0.0.1:%d" % port, "--yes", "--json",
                           "-N", "current", "--timeout", "2"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env)
    paused = read_line(pw.stderr, "portwho: test pause:")

    holder.kill()
    holder.wait()

    impostor = None
    for _ in range(100):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(hpid - 1))
        p = start_holder(port, "impostor")
        if p.pid == hpid:
            impostor = p
            break
        p.kill()
        p.wait()
    if impostor is None:
        raise SystemExit("could not recycle PID %d" % hpid)
    read_line(impostor.stdout, "READY ")

    open(pause, "w").close()
    out, err = pw.communicate(timeout=60)
    time.sleep(0.2)
    alive = impostor.poll() is None
    result = {
        "holder_pid": hpid,
        "impostor_pid": impostor.pid,
        "paused": paused,
        "status": pw.returncode,
        "json": json.loads(out) if out.strip() else None,
        "stderr": err.decode(errors="replace"),
        "impostor_alive": alive,
    }
    impostor.send_signal(signal.SIGKILL)
    impostor.wait()
    sys.stdout.write("RESULT %s\n" % json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
