# SPDX-License-Identifier: MIT
"""Differential test: portwho against ss(8) on the same namespace.

Several helpers make a varied socket table (listeners of both families,
bound UDP, a connected UDP socket, a TCP pair, a pre-fork server, a thread
with a private fd table, a socket created by uid 65534, a socket passed over
SCM_RIGHTS, connections nobody accepted yet, one of them v4-mapped). Then,
both inside the namespace, `ss -tuapneH` and `portwho -a --json -N current`:

- every (inode, pid, fd) that ss reports is reported by portwho;
- portwho's extra holders are only those ss cannot see (a thread's private
  fd table: tid != pid);
- the sockets are the same on both sides (proto, state, local and remote
  address and port, inode, uid): portwho invents none and misses none.
  Bound-inactive TCP sockets (portwho's BOUND) are left out of the comparison
  when this ss cannot list them (it needs -B, iproute2 6.8+); they are
  checked against the helper instead.
"""
import re
import subprocess

import pytest

from pwtest import NOBODY, kernel_at_least, show

USERS_RE = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)')


def norm_addr(a):
    a = a.strip("[]")
    if a in ("*", "0.0.0.0", "::"):
        return "*"
    return a


def split_endpoint(ep):
    """'127.0.0.1:80', '[::1]:53', '0.0.0.0%lo:53', '*:*' -> (addr, port|None)."""
    addr, _, port = ep.rpartition(":")
    addr = re.sub(r"%[^\]]*$", "", addr.strip("[]"))
    return norm_addr(addr), (None if port == "*" else int(port))


def parse_ss(text):
    socks = []
    for line in text.splitlines():
        if not line.strip():
            continue
        f = line.split(None, 6)
        assert len(f) >= 6, "unexpected ss line: %r" % line
        netid, state, _, _, local, peer = f[:6]
        rest = f[6] if len(f) > 6 else ""
        laddr, lport = split_endpoint(local)
        raddr, rport = split_endpoint(peer)
        if rport is None:
            raddr = None
        ino = re.search(r"\bino:(\d+)", rest)
        uid = re.search(r"\buid:(\d+)", rest)
        users = []
        m = re.search(r"users:\(\((.*?)\)\)", rest)
        if m:
            users = [(n, int(p), int(fd)) for n, p, fd in USERS_RE.findall("(" + m.group(1) + ")")]
        socks.append({
            "key": (netid, state, laddr, lport, raddr, rport, int(ino.group(1)) if ino else 0),
            "uid": int(uid.group(1)) if uid else 0,
            "users": users,
            "line": line,
        })
    return socks


@pytest.fixture
def scene(netns, tmp_path):
    ns = netns
    hs = [
        ns.sockhold("comm=pwone", "tcp-listen:127.0.0.1:8080", "udp:0.0.0.0:5353",
                    "tcp6-listen:[::]:8443:v6only", "tcp6-listen:[::1]:8444",
                    "tcp-pair:127.0.0.1:7000", "udp:127.0.0.1:0:connect=127.0.0.1:5353",
                    "tcp-listen:127.0.0.1:7102:thread", "tcp-bind:127.0.0.1:9500"),
        ns.sockhold("comm=pwfork", "fork=2", "tcp-listen:0.0.0.0:9191",
                    "udp6:[::]:9192:dualstack"),
        ns.sockhold("comm=pwnobody", "uid-first=%d" % NOBODY, "tcp-listen:127.0.0.1:9090",
                    "udp:127.0.0.1:9091"),
        ns.sockhold("comm=pwlazy", "tcp-listen:127.0.0.1:6000",
                    "tcp6-listen:[::]:6001:dualstack"),
    ]
    # connections the lazy server never accepts (inode 0 on its side)
    hs.append(ns.sockhold("comm=pwclient", "tcp-connect:127.0.0.1:0:connect=127.0.0.1:6000",
                          "tcp-connect:127.0.0.1:0:connect=127.0.0.1:6001"))
    ns.fdpass(tmp_path, "tcp-listen:127.0.0.1:7300", keep=True)
    return ns, hs


def ss_supports_bound_inactive(ns):
    r = ns.run(["ss", "-HtnB"])
    return r.returncode == 0


def test_portwho_agrees_with_ss(scene):
    ns, hs = scene
    r = ns.run(["ss", "-tuapneH"])
    assert r.returncode == 0, r.stderr
    ss = parse_ss(r.stdout.decode())
    res = ns.portwho_ok("-a", "--json", "-N", "current")
    doc = res.json

    pw = []
    for g in doc["ports"]:
        for s in g["sockets"]:
            key = (g["proto"], s["state"], norm_addr(s["local_address"]), s["local_port"],
                   None if s["remote_address"] is None else norm_addr(s["remote_address"]),
                   s["remote_port"], s["inode"])
            pw.append({"key": key, "uid": s["uid"], "holders": s["holders"], "sock": s})

    # bound-inactive sockets: compare with ss only if it lists them
    bound = [p for p in pw if p["key"][1] == "BOUND"]
    want_bound = [x["inode"] for x in hs[0].sockets if x["state"] == "BOUND"]
    if kernel_at_least(6, 8):
        assert sorted(p["key"][6] for p in bound) == sorted(want_bound), show(doc)
    if not ss_supports_bound_inactive(ns):
        pw = [p for p in pw if p["key"][1] != "BOUND"]
    else:
        r = ns.run(["ss", "-tuapneHB"])
        ss += [x for x in parse_ss(r.stdout.decode()) if x["key"] not in {y["key"] for y in ss}]

    # the same sockets on both sides
    ss_keys = sorted(x["key"] for x in ss)
    pw_keys = sorted(p["key"] for p in pw)
    missing = sorted(set(ss_keys) - set(pw_keys))
    invented = sorted(set(pw_keys) - set(ss_keys))
    assert not missing and not invented, (
        "sockets ss lists that portwho does not: %s\nsockets portwho lists that ss does not: %s"
        "\nss:\n%s\nportwho:\n%s" % (missing, invented, r.stdout.decode(), show(doc)))
    assert len(ss_keys) == len(pw_keys), "duplicates differ:\n%s\n%s" % (ss_keys, pw_keys)
    assert any(k[6] == 0 for k in ss_keys), "the scenario has un-accepted connections"
    assert any(k[2] == "::ffff:127.0.0.1" for k in ss_keys), "and a v4-mapped one"

    # the creating uid of each socket
    ss_uid = {x["key"]: x["uid"] for x in ss if x["key"][6] != 0}
    pw_uid = {p["key"]: p["uid"] for p in pw if p["key"][6] != 0 and p["key"] in ss_uid}
    assert pw_uid == {k: ss_uid[k] for k in pw_uid}, "socket uids differ"
    assert NOBODY in pw_uid.values()

    # every holder ss sees, portwho sees
    ss_triples = {(x["key"][6], pid, fd) for x in ss for _, pid, fd in x["users"]}
    pw_triples = {(p["key"][6], h["pid"], h["fd"]) for p in pw for h in p["holders"]}
    assert ss_triples, "ss saw holders"
    lost = sorted(ss_triples - pw_triples)
    assert not lost, "(inode, pid, fd) ss reports but portwho does not: %s\n%s" % (
        lost, show(doc))
    # and portwho's extra holders are exactly the private-table thread's
    extra = {(p["key"][6], h["pid"], h["fd"], h["tid"]) for p in pw for h in p["holders"]
             if (p["key"][6], h["pid"], h["fd"]) not in ss_triples}
    th = hs[0].sock(port=7102)
    assert extra == {(th["inode"], th["pid"], th["fd"], th["tid"])}, \
        "holders only portwho reports: %s" % sorted(extra)
