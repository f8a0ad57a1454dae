# SPDX-License-Identifier: MIT
"""Each listing option checked with one assertion of substance.

One namespace for the module, three helpers (never changed by the tests):
  alpha (root)              127.0.0.1:8080 tcp, *:5353 udp, [::]:8443 tcp v6only,
                            [::]:5354 udp v6only, a TCP pair on 127.0.0.1:7000
  beta  (uid 65534 after    127.0.0.1:9090 tcp
         opening)
  gamma (root, pre-fork     *:9191 tcp
         with one child)
"""
import pwd

import pytest

from pwtest import NOBODY, find, inodes, show, table_lines


@pytest.fixture(scope="module")
def scene(module_netns):
    ns = module_netns
    alpha = ns.sockhold("comm=pwalpha", "tcp-listen:127.0.0.1:8080", "udp:0.0.0.0:5353",
                        "tcp6-listen:[::]:8443:v6only", "udp6:[::]:5354:v6only",
                        "tcp-pair:127.0.0.1:7000")
    beta = ns.sockhold("comm=pwbeta", "uid=%d" % NOBODY, "tcp-listen:127.0.0.1:9090")
    gamma = ns.sockhold("comm=pwgamma", "fork=1", "tcp-listen:0.0.0.0:9191")
    S = {
        "t8080": alpha.sock(port=8080)["inode"],
        "u5353": alpha.sock(port=5353)["inode"],
        "t8443": alpha.sock(port=8443)["inode"],
        "u5354": alpha.sock(port=5354)["inode"],
        "t7000": alpha.sock("listen", port=7000)["inode"],
        "client": alpha.sock("client")["inode"],
        "accepted": alpha.sock("accepted")["inode"],
        "t9090": beta.sock()["inode"],
        "t9191": gamma.sock()["inode"],
    }
    return ns, alpha, beta, gamma, S


LISTENING = ["t8080", "u5353", "t8443", "u5354", "t7000", "t9090", "t9191"]


def shown(ns, S, *args):
    res = ns.portwho(*(("--json",) + args))
    assert res.rc == 0, "portwho %s: rc %d\n%s" % (args, res.rc, res.stdout + res.stderr)
    names = {v: k for k, v in S.items()}
    return sorted(names.get(i, "inode %d" % i) for i in inodes(res.json)), res.json


CASES = [
    ((), LISTENING),
    (("-t",), ["t8080", "t8443", "t7000", "t9090", "t9191"]),
    (("-u",), ["u5353", "u5354"]),
    (("-4",), ["t8080", "u5353", "t7000", "t9090", "t9191"]),
    (("-6",), ["t8443", "u5354"]),
    (("-t", "-6"), ["t8443"]),
    (("-l", "7000"), ["t7000"]),
    (("-a",), LISTENING + ["client", "accepted"]),
    (("-s", "ESTAB"), ["client", "accepted"]),
    (("-c", "pwbeta"), ["t9090"]),
    (("--user", str(NOBODY)), ["t9090"]),
    (("--user", pwd.getpwuid(NOBODY).pw_name), ["t9090"]),
    (("--user", "root", "-u"), ["u5353", "u5354"]),
]


@pytest.mark.parametrize("args,want", CASES, ids=[" ".join(a) or "default" for a, _ in CASES])
def test_selection(scene, args, want):
    ns, _, _, _, S = scene
    got, doc = shown(ns, S, *args)
    assert got == sorted(want), "portwho %s showed %s, expected %s\n%s" % (
        " ".join(args), got, sorted(want), show(doc))


def test_pid_filter(scene):
    ns, alpha, beta, gamma, S = scene
    got, _ = shown(ns, S, "-p", str(beta.pid))
    assert got == ["t9090"]
    # a socket is shown with all its holders when one of them matches
    got, doc = shown(ns, S, "-p", str(gamma.children[0]))
    assert got == ["t9191"]
    _, s = find(doc, S["t9191"])
    assert sorted(h["pid"] for h in s["holders"]) == sorted([gamma.pid, gamma.children[0]]), \
        show(s)
    got, _ = shown(ns, S, "-p", "%d,%d" % (beta.pid, gamma.pid))
    assert got == ["t9090", "t9191"]


def test_user_field_of_holder(scene):
    ns, _, beta, _, S = scene
    _, doc = shown(ns, S, "9090")
    _, s = find(doc, S["t9090"])
    assert [(h["pid"], h["uid"], h["user"]) for h in s["holders"]] == [
        (beta.pid, NOBODY, pwd.getpwuid(NOBODY).pw_name)], show(s)
    assert s["uid"] == 0, "the socket was created by root before the uid change:\n%s" % show(s)


def test_pids(scene):
    ns, alpha, beta, gamma, S = scene
    res = ns.portwho_ok("--pids")
    want = sorted([alpha.pid, beta.pid, gamma.pid] + gamma.children)
    assert res.stdout.splitlines() == [str(p) for p in want], res.stdout
    res = ns.portwho_ok("--pids", "-t", "9191")
    assert res.stdout.splitlines() == [str(p) for p in sorted([gamma.pid] + gamma.children)]
    res = ns.portwho("--pids", "12345")
    assert (res.rc, res.stdout) == (1, ""), (res.rc, res.stdout)


def test_output_columns(scene):
    ns, alpha, _, _, S = scene
    res = ns.portwho_ok("-o", "INODE,PID,FD,COMMAND", "8080")
    rows = [line.split() for line in table_lines(res.stdout)]
    assert rows == [["INODE", "PID", "FD", "COMMAND"],
                    [str(S["t8080"]), str(alpha.pid), str(alpha.sock(port=8080)["fd"]),
                     "pwalpha"]], res.stdout
    # +COL adds to the defaults
    res = ns.portwho_ok("-o", "+INODE", "8080")
    head = table_lines(res.stdout)[0].split()
    assert head[-1] == "INODE" and head[:2] == ["PROTO", "LOCAL"], res.stdout


def test_raw(scene):
    ns, _, _, gamma, S = scene
    res = ns.portwho_ok("--raw", "-o", "PROTO,LOCAL,STATE,PID,INODE", "9191")
    want = ["PROTO LOCAL STATE PID INODE"] + [
        "tcp *:9191 LISTEN %d %d" % (p, S["t9191"]) for p in sorted([gamma.pid] + gamma.children)]
    assert res.stdout.splitlines() == want, \
        "the header as util-linux -r, every line repeats the socket cells:\n%s" % res.stdout
    res = ns.portwho_ok("--raw", "--noheadings", "-o", "PROTO,LOCAL,STATE,PID,INODE", "9191")
    assert res.stdout.splitlines() == want[1:], res.stdout


def test_numeric(scene):
    ns, _, _, _, S = scene
    res = ns.portwho_ok("-o", "PORT,SERVICE", "-t", "8080")
    assert [line.split() for line in table_lines(res.stdout)] == [
        ["PORT", "SERVICE"], ["8080", "http-alt"]], res.stdout
    res = ns.portwho_ok("-n", "-o", "PORT,SERVICE", "-t", "8080")
    assert [line.split() for line in table_lines(res.stdout)] == [
        ["PORT", "SERVICE"], ["8080"]], res.stdout
