# SPDX-License-Identifier: MIT
"""The seed's question with the real program: who holds port 53, and why is
it listed more than once? A real dnsmasq (Debian's) serves 127.0.0.1:53 in a
private namespace, next to another process bound to 0.0.0.0:53/udp, as a
local resolver and a stub often are."""
import time

import pytest

import pwtest

DNSMASQ = "/usr/sbin/dnsmasq"


def wait_group(ns, proto, port, n_sockets, deadline=20):
    end = time.monotonic() + deadline
    while True:
        res = ns.portwho("--json", "%s/%d" % (proto, port))
        # exit 1 (nothing holds it) until the server has bound
        assert res.rc in (0, 1), pwtest.describe(res)
        doc = res.json
        gs = [g for g in doc["ports"] if g["proto"] == proto and g["port"] == port]
        if gs and len(gs[0]["sockets"]) >= n_sockets and all(
                s["holders"] for s in gs[0]["sockets"]):
            return gs[0]
        if time.monotonic() > end:
            pytest.fail("port %s/%d not held as expected:\n%s" % (proto, port, doc))
        time.sleep(0.1)


def test_dnsmasq_port_53(netns, tmp_path):
    dm = netns.spawn([DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                      "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1",
                      "--port=53", "--user=root", "--pid-file=" + str(tmp_path / "pid")],
                     "dnsmasq")
    # TCP and UDP on 127.0.0.1:53, one process
    t = wait_group(netns, "tcp", 53, 1)
    assert [(s["local_address"], s["state"]) for s in t["sockets"]] == [("127.0.0.1", "LISTEN")]
    h = t["sockets"][0]["holders"]
    assert [(x["pid"], x["command"]) for x in h] == [(dm.pid, "dnsmasq")], h
    assert [(r["kind"], r["confidence"]) for r in t["reasons"]] == [("single", "verified")]
    assert t["service"] == "domain"

    # a stub resolver on 0.0.0.0:53/udp would fail without SO_REUSEADDR
    # ("Address already in use"): check says so and names dnsmasq
    chk = netns.portwho("check", "0.0.0.0:53/udp", "--json")
    assert chk.rc == 1, pwtest.describe(chk)
    assert chk.json["would_succeed"] is False and chk.json["errno"] == "EADDRINUSE"
    assert [h["pid"] for c in chk.json["conflicts"] for h in c["holders"]] == [dm.pid]
    assert chk.json["trial"]["ran"] and chk.json["trial"]["errno"] == "EADDRINUSE"
    ok = netns.portwho("check", "0.0.0.0:53/udp", "--reuseaddr", "--json")
    assert ok.rc == 0 and ok.json["would_succeed"] is True, pwtest.describe(ok)

    # with SO_REUSEADDR it binds: port 53 is listed twice, and why
    stub = netns.sockhold("udp:0.0.0.0:53:reuseaddr")
    u = wait_group(netns, "udp", 53, 2)
    by_addr = {s["local_address"]: s for s in u["sockets"]}
    assert sorted(by_addr) == ["0.0.0.0", "127.0.0.1"]
    assert [x["pid"] for x in by_addr["127.0.0.1"]["holders"]] == [dm.pid]
    assert [x["pid"] for x in by_addr["0.0.0.0"]["holders"]] == [stub.pid]
    kinds = [r["kind"] for r in u["reasons"]]
    assert "address-split" in kinds, u["reasons"]
    split = [r for r in u["reasons"] if r["kind"] == "address-split"][0]
    assert sorted(split["sockets"]) == sorted(s["inode"] for s in u["sockets"])
    assert "a specific address wins over the wildcard" in split["summary"], split
    assert any("127.0.0.1" in e for e in split["evidence"]), split
