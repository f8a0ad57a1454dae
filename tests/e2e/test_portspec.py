# SPDX-License-Identifier: MIT
"""PORTSPEC forms select exactly the expected sockets; bad specs; no match.

One namespace for the module with a fixed set of sockets (nothing changes it
while the tests run). Every case compares the set of socket inodes portwho
shows with the set the spec should select (HACKING.md, portwho(8) PORTSPEC).
"""
import re

import pytest

from pwtest import inodes, run_portwho, show

# index -> socket; expectations below name sockets by these indices
SOCKETS = [
    "tcp-listen:127.0.0.1:8080",      # 0
    "tcp-listen:127.0.0.2:8080",      # 1
    "udp:0.0.0.0:8080",               # 2
    "udp:0.0.0.0:5353",               # 3
    "tcp-listen:127.0.0.1:5353",      # 4
    "tcp6-listen:[::1]:8443",         # 5
    "tcp-listen:0.0.0.0:8443",        # 6
    "tcp-listen:127.0.0.1:9000",      # 7
    "udp:127.0.0.1:9001",             # 8
    "tcp6-listen:[::]:9002:v6only",   # 9
    "tcp-listen:127.0.0.1:9003",      # 10
    "tcp-listen:127.0.0.1:8999",      # 11
    "tcp-listen:127.0.0.1:80",        # 12
    "udp6:[::]:5353:v6only",          # 13
]


@pytest.fixture(scope="module")
def scene(module_netns):
    h = module_netns.sockhold(*SOCKETS)
    by_index = {s["spec"]: s["inode"] for s in h.sockets}
    assert sorted(by_index) == list(range(len(SOCKETS)))
    return module_netns, by_index


SELECT = [
    (["8080"], {0, 1, 2}),
    (["8080/tcp"], {0, 1}),
    (["tcp:8080"], {0, 1}),
    (["tcp/8080"], {0, 1}),
    (["8080/udp"], {2}),
    (["udp/5353"], {3, 13}),
    (["udp:5353"], {3, 13}),
    (["5353/tcp"], {4}),
    # an address: sockets bound to it and wildcard sockets of its family
    (["127.0.0.1:8080"], {0, 2}),
    (["127.0.0.2:8080"], {1, 2}),
    (["127.0.0.1:8080/tcp"], {0}),
    (["[::1]:8443"], {5}),
    (["127.0.0.1:8443"], {6}),
    (["[::1]:9002"], {9}),
    (["[::1]:5353"], {13}),
    (["[::1]:5353/udp"], {13}),
    # ranges (inclusive)
    (["9000-9002"], {7, 8, 9}),
    (["9000-9002/udp"], {8}),
    (["tcp:9000-9003"], {7, 9, 10}),
    (["8999-9000"], {11, 7}),
    # service names (/etc/services, or the built-in table)
    (["http"], {12}),
    ([":http"], {12}),
    (["tcp:http"], {12}),
    # several specs: the union
    (["8080", "5353"], {0, 1, 2, 3, 4, 13}),
    (["80", "9003"], {12, 10}),
]


@pytest.mark.parametrize("specs,want", SELECT, ids=[" ".join(s) for s, _ in SELECT])
def test_portspec_selects(scene, specs, want):
    ns, ino = scene
    res = ns.portwho_ok("--json", *specs)
    expected = sorted(ino[i] for i in want)
    assert inodes(res.json) == expected, "portwho %s: inodes %s, expected sockets %s = %s\n%s" % (
        " ".join(specs), inodes(res.json), sorted(want), expected, show(res.json))


BAD = ["70000", "80/sctpx", "abc-", "90-80"]


@pytest.mark.parametrize("json_out", [False, True], ids=["table", "json"])
@pytest.mark.parametrize("spec", BAD)
def test_bad_portspec(scene, spec, json_out):
    ns, _ = scene
    args = (["--json"] if json_out else []) + [spec]
    res = run_portwho(*args, netns=ns.name)
    assert res.rc == 2, "portwho %s: rc %d, expected 2\n%s" % (args, res.rc, res.stderr)
    assert res.stdout == "", "nothing on stdout for a bad spec, got %r" % res.stdout
    lines = res.stderr.splitlines()
    assert len(lines) == 1, "exactly one stderr line, got %r" % res.stderr
    assert lines[0].startswith("portwho: "), lines[0]
    tokens = [t for t in re.split(r"[/:-]", spec) if t]
    assert any(t in lines[0] for t in tokens), \
        "the error names what was wrong (one of %s): %r" % (tokens, lines[0])


NOTHING = ["12345", "udp:8443", "127.0.0.1:9002", "9001/tcp 8443/udp", "tcp:9004-9100"]


@pytest.mark.parametrize("json_out", [False, True], ids=["table", "json"])
@pytest.mark.parametrize("specs", NOTHING)
def test_nothing_matched(scene, specs, json_out):
    ns, _ = scene
    args = (["--json"] if json_out else []) + specs.split()
    res = run_portwho(*args, netns=ns.name)
    assert res.rc == 1, "portwho %s: rc %d, expected 1 (nothing matched)\n%s" % (
        args, res.rc, res.stdout + res.stderr)
    if json_out:
        assert res.json is not None and res.json["ports"] == [], res.stdout
    else:
        assert "LISTEN" not in res.stdout and "UNCONN" not in res.stdout, res.stdout
