# SPDX-License-Identifier: MIT
"""Forwarded ports with real Docker (dockerfix.py, Debian's docker.io 20.10).

Two dockerd, each in a private netns of its own, each running a busybox httpd
container that publishes port 80 on 127.0.0.1: one with the userland proxy
(docker-proxy holds the port and relays it; Docker's iptables-nft DNAT rule
is there too), one with --userland-proxy=false (dockerd holds the port only
to reserve it; the DNAT rule carries the traffic). portwho runs from the host
(every namespace); assertions are about what this module started.
"""
import json
import os
import secrets

import pytest

import dockerfix
import pwtest
from pwtest import show

pytestmark = pytest.mark.skipif(dockerfix.available() is not None,
                                reason="dockerfix: %s" % dockerfix.available())


def _netns_ino(pid):
    return os.stat("/proc/%d/ns/net" % pid).st_ino


def _comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def _proxies(d):
    """PIDs of this daemon's docker-proxy processes. (dockerfix's proxies()
    reads /proc as text and trips over other tests' non-UTF-8 names.)"""
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e, "rb") as f:
                st = f.read()
        except OSError:
            continue
        comm, rest = st[st.find(b"(") + 1:st.rfind(b")")], st[st.rfind(b")") + 2:].split()
        if comm == b"docker-proxy" and int(rest[1]) == d.pid:
            out.append(int(e))
    return sorted(out)


def _daemon(userland_proxy, port):
    ns = pwtest.Netns()
    d = None
    try:
        d = dockerfix.DockerDaemon(ns, userland_proxy=userland_proxy)
        c = d.run("fw" + secrets.token_hex(3), ["httpd", "-f", "-p", "80"], publish={80: port})
        ip = c.info["NetworkSettings"]["IPAddress"]
        yield ns, d, c, ip
    finally:
        if d is not None:
            d.close()
        ns.close()


@pytest.fixture(scope="module")
def proxied():
    yield from _daemon(True, 8088)


@pytest.fixture(scope="module")
def natonly():
    yield from _daemon(False, 8089)


def _check_target(f, c, ip):
    assert (f["to_address"], f["to_port"]) == (ip, 80), show(f)
    assert f["to_netns"] == _netns_ino(c.pid)
    t = f["target"]
    assert (t["netns"], t["proto"], t["port"]) == (_netns_ino(c.pid), "tcp", 80)
    assert [h["pid"] for h in t["holders"]] == [c.pid], show(f)
    assert t["holders"][0]["command"] == _comm(c.pid)
    assert t["netns_name"] == "docker:" + c.name, show(f)
    ct = t["holders"][0]["container"]
    assert (ct["runtime"], ct["id"], ct["name"]) == ("docker", c.id, c.name), show(f)


def test_docker_proxy_forward(proxied):
    ns, d, c, ip = proxied
    res = pwtest.portwho_ok("8088", "--json")
    g = pwtest.group(res.json, "tcp", 8088, netns=ns.inode)
    proxies = _proxies(d)
    assert len(proxies) == 1
    proxy_socks = [s["inode"] for s in g["sockets"]
                   if [h["pid"] for h in s["holders"]] == proxies]
    assert len(proxy_socks) == 1, show(g)
    fw = {f["via"]: f for f in g["forwards"]}
    assert sorted(fw) == ["nftables", "proxy"], show(g)
    p = fw["proxy"]
    assert p["proxy_pid"] == proxies[0] and p["action"] == "proxy"
    assert p["rule"] == "docker-proxy (PID %d)" % proxies[0]
    assert p["match"] == {"address": "127.0.0.1", "port_min": 8088, "port_max": 8088}
    _check_target(p, c, ip)
    n = fw["nftables"]  # Docker's iptables-nft rule: an xt DNAT target in chain DOCKER
    assert n["rule"].startswith("table ip nat chain DOCKER handle "), n["rule"]
    assert n["match"] == {"address": "127.0.0.1", "port_min": 8088, "port_max": 8088}
    _check_target(n, c, ip)
    kinds = [r["kind"] for r in g["reasons"]]
    assert kinds.count("forwarded") == 2 and "single" not in kinds, show(g)
    pr = [r for r in g["reasons"] if r["kind"] == "forwarded" and "docker-proxy" in r["summary"]]
    assert len(pr) == 1 and pr[0]["sockets"] == proxy_socks
    assert pr[0]["confidence"] == "verified"
    assert "docker-proxy (PID %d) holds tcp 127.0.0.1:8088 for a container and relays it to " \
        "%s:80 in netns %d, where %s (PID %d) listens" % (
            proxies[0], ip, _netns_ino(c.pid), _comm(c.pid), c.pid) in pr[0]["summary"]
    # the proxy's socket is not one the DNAT rule bypasses (Docker keeps the
    # rule off loopback traffic when the proxy is on)
    assert all("never reach it" not in r["summary"] for r in g["reasons"])


def test_docker_nat_only_forward(natonly):
    ns, d, c, ip = natonly
    res = pwtest.portwho_ok("8089", "--json")
    g = pwtest.group(res.json, "tcp", 8089, netns=ns.inode)
    held = [s["inode"] for s in g["sockets"] if [h["pid"] for h in s["holders"]] == [d.pid]]
    assert held, show(g)  # dockerd reserves the port
    assert len(g["forwards"]) == 1, show(g)
    f = g["forwards"][0]
    assert f["via"] == "nftables" and f["action"] == "dnat"
    assert f["rule"].startswith("table ip nat chain DOCKER handle ")
    _check_target(f, c, ip)
    # dockerd's socket is not the port's `single` server: the rule takes the traffic
    assert [r["kind"] for r in g["reasons"]] == ["forwarded"], show(g)
    r = g["reasons"][0]
    assert sorted(r["sockets"]) == sorted(held)
    assert "where %s (PID %d) listens" % (_comm(c.pid), c.pid) in r["summary"]
    assert "dockerd (PID %d) holds" % d.pid in r["summary"]
    assert "connections the rule matches never reach it" in r["summary"]


def test_kill_refuses_docker_proxy(proxied):
    ns, d, c, ip = proxied
    proxies = _proxies(d)
    r = pwtest.run_portwho("kill", "8088", "--json", "-N", ns.path)
    doc = json.loads(r.stdout)
    plan = [t for t in doc["plan"] if t["pid"] == proxies[0]]
    assert len(plan) == 1, r.stdout
    t = plan[0]
    assert (t["action"], t["verdict"]) == ("refuse", "container-proxy"), show(t)
    assert "stop that container instead (docker stop with its name or id), not its proxy" \
        in t["why"]
    assert "relays the port to %s:80 in the container's netns, where %s (PID %d) listens" % (
        ip, _comm(c.pid), c.pid) in t["why"], t["why"]
    assert doc["signalled"] == []
    assert _proxies(d) == proxies  # untouched
    assert r.rc == 3, pwtest.describe(r)  # refused: the port is still held
