# SPDX-License-Identifier: MIT
"""One namespace model for list, check and kill (PRODUCT.md "Namespaces").

Two private namespaces: a holder listens in B; portwho runs in A (ip netns
exec) or on the host. Every row from another namespace is labelled by
name; check answers for its own namespace and says where else the port is
held; kill (by default every namespace, as the list) names the namespace.
"""
import os
import socket

import pytest

import pwtest
from pwtest import run_portwho, show


@pytest.fixture(scope="module")
def two():
    a = pwtest.Netns()
    b = pwtest.Netns()
    try:
        h = b.sockhold("tcp-listen:127.0.0.1:7812")
        yield a, b, h
    finally:
        b.close()
        a.close()


def test_list_from_another_namespace_is_labelled(two):
    a, b, h = two
    port = h.sockets[0]["port"]
    res = a.portwho_ok("-J", port, "-N", "all")
    g = pwtest.group(res.json, "tcp", port, netns=b.inode)
    assert g["netns_name"] == b.name and g["netns_current"] is False, show(g)
    res = a.portwho_ok(port, "-N", "all")
    lines = pwtest.table_lines(res.stdout)
    assert lines[0].split()[0] == "NETNS", res.stdout
    row = [l.split() for l in lines[1:] if str(h.pid) in l.split()]
    assert row and row[0][0] == b.name, res.stdout


def test_current_namespace_flagged(two):
    a, b, h = two
    port = h.sockets[0]["port"]
    res = b.portwho_ok("-J", port)  # -N current, inside B
    g = pwtest.group(res.json, "tcp", port, netns=b.inode)
    assert g["netns_current"] is True and g["netns_name"] == b.name


def test_host_rows_labelled_host_inside_a_namespace(two):
    a, b, h = two
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        host_ino = os.stat("/proc/self/ns/net").st_ino
        res = a.portwho_ok("-J", port, "-N", "all")
        g = pwtest.group(res.json, "tcp", port, netns=host_ino)
        assert g["netns_name"] == "host" and g["netns_current"] is False, show(g)
        assert [hh["pid"] for s_ in g["sockets"] for hh in s_["holders"]] == [os.getpid()]
    finally:
        s.close()


def test_check_mentions_other_namespace(two):
    a, b, h = two
    port = h.sockets[0]["port"]
    r = a.portwho("check", port, "--json")
    assert r.rc == 0, pwtest.describe(r)
    assert r.json["would_succeed"] is True and r.json["netns"] == a.inode
    assert r.json["netns_name"] == a.name
    other = [e for e in r.json["elsewhere"] if e["netns"] == b.inode]
    assert len(other) == 1 and other[0]["netns_name"] == b.name, show(r.json)
    assert [s["inode"] for s in other[0]["sockets"]] == [h.sockets[0]["inode"]]
    t = a.portwho("check", port)
    assert "127.0.0.1:%d in %s: " % (port, b.name) in t.stdout, pwtest.describe(t)


def test_kill_default_every_namespace_dry_run(two):
    a, b, h = two
    port = h.sockets[0]["port"]
    r = run_portwho("kill", port, "--dry-run", "--json")
    assert r.rc in (0, 3), pwtest.describe(r)
    import json
    doc = json.loads(r.stdout)
    t = [x for x in doc["plan"] if x["pid"] == h.pid]
    assert len(t) == 1 and t[0]["netns"] == b.inode and t[0]["netns_name"] == b.name
    assert t[0]["container"] is None and t[0]["verdict"] == "signal"
    text = run_portwho("kill", port, "--dry-run")
    assert "PID %d " % h.pid in text.stdout and "in netns %s" % b.name in text.stdout, \
        pwtest.describe(text)
    assert os.path.exists("/proc/%d" % h.pid)
