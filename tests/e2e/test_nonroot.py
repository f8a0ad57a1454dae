# SPDX-License-Identifier: MIT
"""portwho run as an unprivileged user (uid/gid 65534, no groups).

Non-root cannot setns, so portwho runs inside the namespace:
`ip netns exec NAME setpriv --reuid=65534 --regid=65534 --clear-groups
portwho -N current ...`. It must exit 0, list root's sockets without
holders (reason "hidden", never "kernel"), count what it could not inspect on
stderr, and show the holders it may see: processes running as 65534.
"""
import re

import pytest

from pwtest import NOBODY, find, group, show, table_lines

HIDDEN_RE = re.compile(r"^portwho: could not inspect (\d+) process(?:es)? ", re.M)


@pytest.fixture
def scene(netns):
    ns = netns
    root = ns.sockhold("tcp-listen:127.0.0.1:8080", "udp:0.0.0.0:5353")
    # sockets created as 65534
    n1 = ns.sockhold("uid-first=%d" % NOBODY, "tcp-listen:127.0.0.1:9090")
    # created by root, then the process became 65534
    n2 = ns.sockhold("uid=%d" % NOBODY, "udp:127.0.0.1:9091")
    # started as 65534 from the beginning (exec'd by setpriv)
    n3 = ns.sockhold("tcp-listen:127.0.0.1:9092",
                     wrap=["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                           "--clear-groups"])
    return ns, root, n1, n2, n3


def test_nonroot_json(scene):
    ns, root, n1, n2, n3 = scene
    res = ns.portwho("--json", nobody=True)
    assert res.rc == 0, "rc %d\n%s" % (res.rc, res.stdout + res.stderr)
    doc = res.json
    assert doc["privileged"] is False, show(doc)
    m = HIDDEN_RE.search(res.stderr)
    assert m, "stderr should say how many processes could not be inspected: %r" % res.stderr
    n = int(m.group(1))
    assert n >= 1, res.stderr
    assert doc["hidden_processes"] == n, "JSON hidden_processes %d, stderr says %d" % (
        doc["hidden_processes"], n)

    for hs in root.sockets:
        g, s = find(doc, hs["inode"])
        assert s["holders"] == [], "root's socket %s shown with holders:\n%s" % (
            hs["port"], show(s))
        kinds = [r["kind"] for r in g["reasons"]]
        assert "hidden" in kinds and "kernel" not in kinds, \
            "port %d: reasons %s\n%s" % (hs["port"], kinds, show(g))
        assert s["kernel_owner"] is None, show(s)

    for h in (n1, n2, n3):
        hs = h.sock()
        g, s = find(doc, hs["inode"])
        got = [(x["pid"], x["fd"], x["uid"]) for x in s["holders"]]
        assert got == [(h.pid, hs["fd"], NOBODY)], "port %d: holders %s\n%s" % (
            hs["port"], got, show(s))
        assert [r["kind"] for r in g["reasons"]] == ["single"], show(g)
    # who created each socket (from sock_diag, visible to anyone)
    assert find(doc, n1.sock()["inode"])[1]["uid"] == NOBODY
    assert find(doc, n2.sock()["inode"])[1]["uid"] == 0
    assert find(doc, n3.sock()["inode"])[1]["uid"] == NOBODY


def test_nonroot_table(scene):
    ns, root, n1, _, _ = scene
    res = ns.portwho("-o", "LOCAL,STATE,PID,FD", nobody=True)
    assert res.rc == 0, "rc %d\n%s" % (res.rc, res.stdout + res.stderr)
    m = HIDDEN_RE.search(res.stderr)
    assert m and int(m.group(1)) >= 1, res.stderr
    rows = [line.split() for line in table_lines(res.stdout)]
    assert ["127.0.0.1:8080", "LISTEN"] in rows, \
        "root's socket: a line with empty holder cells\n%s" % res.stdout
    assert ["127.0.0.1:9090", "LISTEN", str(n1.pid), str(n1.sock()["fd"])] in rows, res.stdout


def test_nonroot_port_filter_and_pids(scene):
    ns, root, n1, _, _ = scene
    res = ns.portwho("--json", "8080", nobody=True)
    assert res.rc == 0, res.stderr
    g = group(res.json, "tcp", 8080)
    assert [s["inode"] for s in g["sockets"]] == [root.sock(port=8080)["inode"]], show(g)
    # --pids prints only what it can see
    res = ns.portwho("--pids", "8080", "9090", nobody=True)
    assert (res.rc, res.stdout.splitlines()) == (0, [str(n1.pid)]), res.stdout + res.stderr


def test_nonroot_udp_duplicates_name_both_readings(netns):
    """Two root-held UDP sockets on one address (SO_REUSEADDR), seen without
    root: the flags are unread, so the reason names both readings, is
    inferred and never calls the port normal; 'hidden' comes once."""
    ns = netns
    P = 7601
    a = ns.sockhold("udp:127.0.0.1:%d:reuseaddr" % P)
    b = ns.sockhold("udp:127.0.0.1:%d:reuseaddr" % P)
    want = sorted([a.sock()["inode"], b.sock()["inode"]])
    res = ns.portwho("--json", str(P), nobody=True)
    assert res.rc == 0, res.stdout + res.stderr
    g = group(res.json, "udp", P)
    assert sorted(s["inode"] for s in g["sockets"]) == want, show(g)
    got = sorted((r["kind"], r["confidence"], tuple(sorted(r["sockets"]))) for r in g["reasons"])
    assert got == [("hidden", "inferred", tuple(want)),
                   ("reuseaddr-duplicate", "inferred", tuple(want))], show(g)
    dup = [r for r in g["reasons"] if r["kind"] == "reuseaddr-duplicate"][0]
    assert "normal" not in dup["summary"], dup["summary"]
    assert "either SO_REUSEADDR duplicates (warning" in dup["summary"], dup["summary"]
    assert "or a SO_REUSEPORT group" in dup["summary"], dup["summary"]
    for s in g["sockets"]:
        assert (s["reuseaddr"], s["reuseport"], s["options_source"]) == (None, None, None), \
            show(s)
    out = ns.portwho("--explain", str(P), nobody=True).stdout
    assert out.count("hidden (inferred): ") == 1, out
    assert "reuseport (" not in out, out


def test_nonroot_prefork_of_own_user_is_verified(netns):
    """A pre-fork server running as the same user: its stack starts and fd
    flags are readable without root, so 'forked' is decided (verified)."""
    h = netns.sockhold("fork=2", "tcp-listen:127.0.0.1:7602",
                       wrap=["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                             "--clear-groups"])
    res = netns.portwho("--json", "7602", nobody=True)
    assert res.rc == 0, res.stdout + res.stderr
    g = group(res.json, "tcp", 7602)
    s = g["sockets"][0]
    assert sorted(x["pid"] for x in s["holders"]) == sorted([h.pid] + h.children), show(s)
    assert [(r["kind"], r["confidence"]) for r in g["reasons"]] == [("forked", "verified")], \
        show(g)
