# SPDX-License-Identifier: MIT
"""Connections to a port (issue 9, case 9): with a PORTSPEC, portwho shows the
local client ends of connections made to that port, as `lsof -i :PORT` does,
with "matched_end": "remote"; the sockets on the port itself say "local".
Without a PORTSPEC, and with -l, nothing changes."""
import subprocess

from pwtest import group, show

P = 7103


def lsof_pairs(ns, port):
    """(pid, fd) of every socket lsof -i :PORT lists inside the namespace."""
    r = ns.run(["lsof", "-nP", "-i", ":%d" % port, "-F", "pf"], timeout=30)
    pairs, pid = set(), None
    for line in r.stdout.decode().splitlines():
        if line.startswith("p"):
            pid = int(line[1:])
        elif line.startswith("f") and line[1:].isdigit():
            pairs.add((pid, int(line[1:])))
    return pairs


def test_client_ends_of_connections_to_the_port(netns):
    srv = netns.sockhold("tcp-listen:127.0.0.1:%d" % P)
    cli = netns.sockhold("tcp-connect:127.0.0.1:0:connect=127.0.0.1:%d" % P,
                         "udp:127.0.0.1:0:connect=127.0.0.1:%d" % P)
    tcp_end = [s for s in cli.sockets if s["proto"] == "tcp"][0]
    udp_end = [s for s in cli.sockets if s["proto"] == "udp"][0]
    L = srv.sock()["inode"]

    doc = netns.portwho_ok("--json", str(P)).json
    g = group(doc, "tcp", P)
    by = {s["inode"]: s for s in g["sockets"]}
    assert L in by and tcp_end["inode"] in by, show(g)
    assert by[L]["matched_end"] == "local", show(by[L])
    c = by[tcp_end["inode"]]
    assert (c["matched_end"], c["local_port"], c["remote_port"], c["state"]) == \
        ("remote", tcp_end["port"], P, "ESTAB"), show(c)
    assert [(h["pid"], h["fd"]) for h in c["holders"]] == [(cli.pid, tcp_end["fd"])], show(c)
    # the accepted end is on the port itself: local
    others = [s for i, s in by.items() if i not in (L, tcp_end["inode"])]
    assert [s["matched_end"] for s in others] == ["local"], show(g)
    conn = [r for r in g["reasons"] if r["kind"] == "connections"]
    assert len(conn) == 1 and conn[0]["confidence"] == "verified", show(g)
    assert tcp_end["inode"] in conn[0]["sockets"], show(conn)
    assert "1 is this host's client end of a connection made to port %d" % P \
        in conn[0]["summary"], conn[0]["summary"]
    # a connected UDP socket whose peer is the port is a client end too
    ug = group(doc, "udp", P)
    assert [(s["inode"], s["matched_end"]) for s in ug["sockets"]] == \
        [(udp_end["inode"], "remote")], show(ug)

    # lsof -i :7103 lists the same (pid, fd) pairs as portwho's holders
    mine = {(h["pid"], h["fd"]) for gg in doc["ports"] for s in gg["sockets"]
            for h in s["holders"]}
    assert mine == lsof_pairs(netns, P), (mine, lsof_pairs(netns, P))

    # the default view and -l are unchanged: no client ends
    for args in ([], ["-l", str(P)]):
        d = netns.portwho_ok("--json", *args).json
        shown = {s["inode"] for gg in d["ports"] for s in gg["sockets"]}
        assert tcp_end["inode"] not in shown and udp_end["inode"] not in shown, show(d)
    d = netns.portwho_ok("--json").json
    assert all(s["matched_end"] is None for gg in d["ports"] for s in gg["sockets"]), show(d)
