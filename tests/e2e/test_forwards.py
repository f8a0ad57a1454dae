# SPDX-License-Identifier: MIT
"""End-to-end tests of forwarded ports (issue 11, PRODUCT.md "Forwarded ports").

Real nftables rules in private namespaces the test creates: a client
namespace whose DNAT rule sends a port across a veth pair to a listener in a
server namespace, a REDIRECT to a local port, a forward with no socket at all,
a rule matching a port range, and a socket a DNAT rule bypasses (what dockerd
holds with userland-proxy=false). portwho runs from the host (every
namespace) or with -N; results are filtered by the namespaces made here.
Needs root and nft.
"""
import random
import shutil
import subprocess

import pytest

import pwtest

pytestmark = pytest.mark.skipif(shutil.which("nft") is None,
                                reason="needs nft (Debian package nftables) to load rules")


class Pair:
    """Two namespaces joined by a veth pair on a random 10.x.y.0/24."""

    def __init__(self):
        self.client = self.server = self.decoy = None
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self):
        self.client = pwtest.Netns()
        self.server = pwtest.Netns()
        x, y = random.randrange(100, 250), random.randrange(1, 250)
        self.client_ip, self.server_ip = "10.%d.%d.1" % (x, y), "10.%d.%d.2" % (x, y)
        c, s = "pwc%s" % self.client.name[-6:], "pws%s" % self.server.name[-6:]
        ip = ["ip", "-n", self.client.name]
        subprocess.run(ip + ["link", "add", c, "type", "veth", "peer", "name", s,
                             "netns", self.server.name], check=True)
        subprocess.run(ip + ["addr", "add", self.client_ip + "/24", "dev", c], check=True)
        subprocess.run(ip + ["link", "set", c, "up"], check=True)
        ips = ["ip", "-n", self.server.name]
        subprocess.run(ips + ["addr", "add", self.server_ip + "/24", "dev", s], check=True)
        subprocess.run(ips + ["link", "set", s, "up"], check=True)
        # a third namespace owns the server's address too (as every Docker
        # host's first container is 172.17.0.2), with no link to the client
        self.decoy = pwtest.Netns()
        ipd = ["ip", "-n", self.decoy.name]
        subprocess.run(ipd + ["addr", "add", self.server_ip + "/32", "dev", "lo"], check=True)

    def nft(self, ns, script):
        r = ns.run(["nft", "-f", "-"], input=script.encode())
        assert r.returncode == 0, r.stderr.decode()

    def close(self):
        for ns in (self.client, self.server, self.decoy):
            if ns is not None:
                ns.close()


@pytest.fixture(scope="module")
def pair():
    """The module's scenario: listeners and rules are set up once."""
    p = Pair()
    try:
        # ports: 8088 DNAT -> server:80 (listener), 8090 DNAT -> server:81
        # (nothing there), 8091 REDIRECT -> local 9091 (listener), 20000-20010
        # DNAT -> server:80, 8093 DNAT -> server:80 with a socket bound at 8093
        p.web = p.server.sockhold("tcp-listen:0.0.0.0:80")
        p.local = p.client.sockhold("tcp-listen:0.0.0.0:9091")
        p.reserve = p.client.sockhold("tcp-listen:0.0.0.0:8093")
        p.nft(p.client, """
table ip nat {
  chain pre {
    type nat hook prerouting priority -100;
    tcp dport 8088 dnat to %(s)s:80
    tcp dport 8090 dnat to %(s)s:81
    tcp dport 8091 redirect to :9091
    tcp dport 20000-20010 dnat to %(s)s:80
    tcp dport 8093 dnat to %(s)s:80
  }
}
""" % {"s": p.server_ip})
        yield p
    finally:
        p.close()


def ports_of(doc, ns):
    return {(g["proto"], g["port"]): g for g in doc["ports"] if g["netns"] == ns.inode}


def only_forward(g):
    assert len(g["forwards"]) == 1, pwtest.show(g)
    return g["forwards"][0]


def forwarded_reason(g):
    rs = [r for r in g["reasons"] if r["kind"] == "forwarded"]
    assert len(rs) == 1, pwtest.show(g)
    return rs[0]


def test_dnat_across_veth(pair):
    res = pwtest.portwho_ok("8088", "--json")
    g = ports_of(res.json, pair.client)[("tcp", 8088)]
    assert g["sockets"] == []  # nothing listens at 8088 itself
    f = only_forward(g)
    assert f["via"] == "nftables"
    assert f["action"] == "dnat"
    assert f["rule"].startswith("table ip nat chain pre handle ")
    assert f["match"] == {"address": None, "port_min": 8088, "port_max": 8088}
    assert (f["to_address"], f["to_port"]) == (pair.server_ip, 80)
    assert f["to_netns"] == pair.server.inode
    web = pair.web.sock()
    t = f["target"]
    assert (t["netns"], t["proto"], t["port"]) == (pair.server.inode, "tcp", 80)
    assert t["netns_name"] == pair.server.name  # as that namespace's own group names it
    assert t["sockets"] == [web["inode"]]
    assert t["holders"] == [{"pid": pair.web.pid, "command": "sockhold", "container": None}]
    r = forwarded_reason(g)
    assert r["confidence"] == "verified", pwtest.show(r)  # the veth decides
    assert "2 namespaces own that address; only netns %d is joined to this one by a link " \
        "(a veth peer: RTM_GETNSID)" % pair.server.inode in r["evidence"]
    assert "netns %d owns %s (interface addresses)" % (pair.server.inode, pair.server_ip) \
        in r["evidence"]
    assert "inode %d at port 80 is fd %d of PID %d" % (
        pair.web.sock()["inode"], pair.web.sock()["fd"], pair.web.pid) in r["evidence"]
    assert r["sockets"] == []
    assert "DNATs tcp port 8088 to %s:80 in netns %d" % (pair.server_ip, pair.server.inode) \
        in r["summary"]
    assert "where sockhold (PID %d) listens" % pair.web.pid in r["summary"]
    # the server's own listener is listed too (every namespace), untouched
    assert ports_of(res.json, pair.server) == {}  # 80 was not asked about


def test_dnat_from_one_namespace(pair):
    """-N the client: the forward still lands in the server namespace."""
    res = pwtest.portwho_ok("8088", "--json", "-N", pair.client.path)
    f = only_forward(ports_of(res.json, pair.client)[("tcp", 8088)])
    assert f["to_netns"] == pair.server.inode
    assert f["target"]["holders"][0]["pid"] == pair.web.pid


def test_redirect_to_local_port(pair):
    res = pwtest.portwho_ok("8091", "--json")
    g = ports_of(res.json, pair.client)[("tcp", 8091)]
    f = only_forward(g)
    assert f["action"] == "redirect"
    assert f["to_address"] is None  # the receiving interface's address
    assert (f["to_port"], f["to_netns"]) == (9091, pair.client.inode)
    assert f["target"]["sockets"] == [pair.local.sock()["inode"]]
    assert [h["pid"] for h in f["target"]["holders"]] == [pair.local.pid]
    assert "redirects tcp port 8091 to local port 9091, where sockhold (PID %d) listens" % (
        pair.local.pid) in forwarded_reason(g)["summary"]


def test_forward_without_any_socket(pair):
    """8090 forwards to a port where nothing listens: still a match, exit 0."""
    res = pwtest.portwho_ok("8090", "--json", "-N", pair.client.path)
    assert res.rc == 0
    assert [(g["proto"], g["port"]) for g in res.json["ports"]] == [("tcp", 8090)]
    g = res.json["ports"][0]
    assert g["sockets"] == []
    f = only_forward(g)
    assert f["to_netns"] == pair.server.inode
    assert f["target"]["sockets"] == [] and f["target"]["holders"] == []
    assert "where nothing listens yet" in forwarded_reason(g)["summary"]
    # the table shows one line for it, with no state and no holder
    tab = pwtest.portwho_ok("8090", "-N", pair.client.path)
    lines = pwtest.table_lines(tab.stdout)
    assert len(lines) == 2, tab.stdout
    # from the host, a row of another namespace is labelled by its name
    assert lines[1].split() == [pair.client.name, "tcp", "*:8090", "-", "forwarded"], \
        tab.stdout
    # a port no rule and no socket covers is still "nothing matched"
    assert pwtest.run_portwho("8092", "-N", pair.client.path).rc == 1


def test_range_rule(pair):
    res = pwtest.portwho_ok("20005", "--json", "-N", pair.client.path)
    g = ports_of(res.json, pair.client)[("tcp", 20005)]
    f = only_forward(g)
    assert f["match"] == {"address": None, "port_min": 20000, "port_max": 20010}
    assert (f["to_address"], f["to_port"]) == (pair.server_ip, 80)
    assert f["target"]["holders"][0]["pid"] == pair.web.pid
    assert "DNATs tcp ports 20000-20010 to" in forwarded_reason(g)["summary"]
    assert pwtest.run_portwho("20011", "-N", pair.client.path).rc == 1
    # the default view lists the range once, at its first port
    res = pwtest.portwho_ok("--json", "-N", pair.client.path)
    got = sorted(p for (proto, p), g in ports_of(res.json, pair.client).items()
                 if g["forwards"] and 20000 <= p <= 20010)
    assert got == [20000]


def test_bypassed_socket_is_not_single(pair):
    """A socket at the forwarded port (dockerd's reservation with
    userland-proxy=false) is named in the forwarded reason, not `single`."""
    res = pwtest.portwho_ok("8093", "--json", "-N", pair.client.path)
    g = ports_of(res.json, pair.client)[("tcp", 8093)]
    ino = pair.reserve.sock()["inode"]
    assert [s["inode"] for s in g["sockets"]] == [ino]
    assert [r["kind"] for r in g["reasons"]] == ["forwarded"]
    r = g["reasons"][0]
    assert r["sockets"] == [ino]
    assert "sockhold (PID %d) holds *:8093, but connections the rule matches never reach it" % (
        pair.reserve.pid) in r["summary"]
    assert only_forward(g)["target"]["holders"][0]["pid"] == pair.web.pid


def test_check_says_the_rule_takes_the_traffic(pair):
    res = pwtest.run_portwho("check", "8088", "--json", "-N", pair.client.path)
    assert res.rc == 0, pwtest.describe(res)  # the bind itself would succeed
    doc = res.json
    assert doc["would_succeed"] is True and doc["forwarded_elsewhere"] is True
    assert [f["to_netns"] for f in doc["forwards"]] == [pair.server.inode]
    adv = [a for a in doc["advice"] if "never reach the new socket" in a]
    assert len(adv) == 1, doc["advice"]
    assert adv[0].startswith("the bind would succeed, but nftables table ip nat chain pre handle ")
    assert "sends the connections it matches to %s:80 in netns %d" % (
        pair.server_ip, pair.server.inode) in adv[0]
    # a REDIRECT to another local port takes it away too; its target port does not
    doc = pwtest.run_portwho("check", "8091", "--json", "-N", pair.client.path).json
    assert doc["forwarded_elsewhere"] is True
    assert any("to local port 9091:" in a for a in doc["advice"]), doc["advice"]
    doc = pwtest.run_portwho("check", "127.0.0.1:20001", "--json", "-N", pair.client.path).json
    assert doc["forwarded_elsewhere"] is True
    doc = pwtest.run_portwho("check", "8094", "--json", "-N", pair.client.path).json
    assert doc["forwarded_elsewhere"] is False and doc["forwards"] == []
    text = pwtest.run_portwho("check", "8088", "-N", pair.client.path)
    assert "they never reach the new socket" in text.stdout, text.stdout


def test_kill_names_the_rule_when_only_a_forward_serves(pair):
    r = pwtest.run_portwho("kill", "8090", "-N", pair.client.path)
    assert r.rc == 1, pwtest.describe(r)  # nothing to signal
    lines = pwtest.table_lines(r.stdout)
    assert lines[0].startswith("Nothing holds"), r.stdout
    assert any(l.startswith("tcp/8090 is forwarded by nftables table ip nat chain pre handle ")
               and "to %s:81: no process to signal" % pair.server_ip in l for l in lines), r.stdout
