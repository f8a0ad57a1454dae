# SPDX-License-Identifier: MIT
"""Containers and namespace names with real Docker (dockerfix.py).

Two real dockerd (Debian's docker.io 20.10), each in a private netns of its
own: one with the userland proxy (docker-proxy holds the published port),
one with --userland-proxy=false (dockerd itself holds it, an nftables DNAT
rule forwards it). Each runs a busybox httpd container publishing on
127.0.0.1. portwho runs from the host with -N all (the default) and every
assertion is about the namespaces and processes this module started.
"""
import json
import os
import secrets

import pytest

import dockerfix
import pwtest
from pwtest import run_portwho, show


def _status_nspid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    return None


def _netns_ino(pid):
    return os.stat("/proc/%d/ns/net" % pid).st_ino


@pytest.fixture(scope="module")
def proxied():
    ns = pwtest.Netns()
    d = None
    try:
        d = dockerfix.DockerDaemon(ns, userland_proxy=True)
        name = "web" + secrets.token_hex(3)
        c = d.run(name, ["httpd", "-f", "-p", "80"], publish={80: 8088})
        yield ns, d, c
    finally:
        if d is not None:
            d.close()
        ns.close()


@pytest.fixture(scope="module")
def natonly():
    ns = pwtest.Netns()
    d = None
    try:
        d = dockerfix.DockerDaemon(ns, userland_proxy=False)
        name = "nat" + secrets.token_hex(3)
        c = d.run(name, ["httpd", "-f", "-p", "80"], publish={80: 8089})
        yield ns, d, c
    finally:
        if d is not None:
            d.close()
        ns.close()


def _container_group(doc, c):
    """The tcp/80 group in the container's own namespace."""
    ino = _netns_ino(c.pid)
    got = [g for g in doc["ports"] if g["netns"] == ino and g["proto"] == "tcp" and g["port"] == 80]
    assert len(got) == 1, "expected tcp/80 in the container's netns %d:\n%s" % (ino, show(doc))
    return got[0]


def _holders(g):
    return [h for s in g["sockets"] for h in s["holders"]]


def test_docker_container_holder_named(proxied):
    ns, d, c = proxied
    res = pwtest.portwho_ok("-J", "80")
    g = _container_group(res.json, c)
    assert g["netns_name"] == "docker:" + c.name, show(g)
    assert g["netns_current"] is False
    hs = _holders(g)
    assert [h["pid"] for h in hs] == [c.pid], show(g)
    h = hs[0]
    assert h["container"] == {"runtime": "docker", "id": c.id, "name": c.name, "pod": None}
    assert h["nspid"] == _status_nspid(c.pid) == 1
    assert h["command"] == "busybox"


def test_docker_proxy_side_named_by_netns(proxied):
    ns, d, c = proxied
    res = pwtest.portwho_ok("-J", "8088")
    g = pwtest.group(res.json, "tcp", 8088, netns=ns.inode)
    assert g["netns_name"] == ns.name and g["netns_current"] is False
    hs = _holders(g)
    assert sorted(h["pid"] for h in hs) == d.proxies(), show(g)
    assert all(h["command"] == "docker-proxy" and h["container"] is None for h in hs)


def test_docker_table_columns(proxied):
    ns, d, c = proxied
    res = pwtest.portwho_ok("80")
    head = res.stdout.split("\n")[0].split()
    assert head[0] == "NETNS" and head[head.index("COMMAND") + 1] == "CONTAINER", res.stdout
    res = pwtest.portwho_ok("80", "-o", "NETNS,PID,CONTAINER,NSPID")
    rows = [l.split() for l in res.stdout.split("\n")[1:] if l.split()[1:2] == [str(c.pid)]]
    assert rows == [["docker:" + c.name, str(c.pid), "docker:" + c.name, "1"]], res.stdout


def test_docker_nat_only_dockerd_holds_it(natonly):
    ns, d, c = natonly
    res = pwtest.portwho_ok("-J", "8089", "80")
    g = pwtest.group(res.json, "tcp", 8089, netns=ns.inode)
    hs = _holders(g)
    assert [h["pid"] for h in hs] == [d.pid], show(g)
    assert hs[0]["command"] == "dockerd" and hs[0]["container"] is None
    cg = _container_group(res.json, c)
    assert cg["netns_name"] == "docker:" + c.name
    assert _holders(cg)[0]["container"]["name"] == c.name


def test_kill_refuses_container_init_prints_stop(proxied):
    ns, d, c = proxied
    ino = _netns_ino(c.pid)
    r = run_portwho("kill", "80", "--dry-run", "--json", "-N", "/proc/%d/ns/net" % c.pid)
    assert r.rc in (0, 2, 3), pwtest.describe(r)
    doc = json.loads(r.stdout)
    plan = [t for t in doc["plan"] if t["pid"] == c.pid]
    assert len(plan) == 1, r.stdout
    t = plan[0]
    assert t["verdict"] == "container" and t["action"] == "refuse"
    assert t["stop_command"] == "docker stop " + c.name
    assert t["container"]["id"] == c.id and t["netns"] == ino
    assert os.path.exists("/proc/%d" % c.pid)
    text = run_portwho("kill", "80", "--dry-run", "-N", "/proc/%d/ns/net" % c.pid)
    assert "docker stop " + c.name in text.stdout, pwtest.describe(text)
    assert "in container docker:" + c.name in text.stdout
