# SPDX-License-Identifier: MIT
"""bindtry (the kernel's answer) against `portwho check --no-trial` (the
prediction), next to a few existing sockets in a private namespace.

Each case states what bindtry must print (so a broken helper is caught too),
then requires portwho check to predict the same: would_succeed, errno, exit
status, and for EADDRINUSE the blocking socket among the conflicts.
"""
import pytest

from pwtest import NOBODY, helper, run_portwho, show

EXISTING = [
    "tcp-listen:127.0.0.1:8080",
    "udp:0.0.0.0:5353:reuseaddr",
    "tcp-listen:0.0.0.0:9000:reuseport",
    "tcp-bind:127.0.0.1:9500",
    "tcp6-listen:[::]:8443:dualstack",
]

# (bindtry args, portwho check args, bindtry's expected line, blocking port)
CASES = [
    (["tcp", "127.0.0.1:8080"], ["127.0.0.1:8080/tcp"], "bind EADDRINUSE", 8080),
    (["tcp", "127.0.0.1:8081"], ["127.0.0.1:8081/tcp"], "ok", None),
    (["reuseaddr", "udp", "0.0.0.0:5353"], ["0.0.0.0:5353/udp", "--reuseaddr"], "ok", None),
    (["udp", "0.0.0.0:5353"], ["0.0.0.0:5353/udp"], "bind EADDRINUSE", 5353),
    (["reuseport", "listen", "tcp", "0.0.0.0:9000"],
     ["0.0.0.0:9000/tcp", "--reuseport", "--listen"], "ok", None),
    (["reuseport", "listen", "uid=%d" % NOBODY, "tcp", "0.0.0.0:9000"],
     ["0.0.0.0:9000/tcp", "--reuseport", "--listen", "--user", str(NOBODY)],
     "bind EADDRINUSE", 9000),
    (["uid=%d" % NOBODY, "tcp", "127.0.0.1:80"], ["127.0.0.1:80/tcp", "--user", str(NOBODY)],
     "bind EACCES", None),
    (["tcp", "127.0.0.1:8443"], ["127.0.0.1:8443/tcp"], "bind EADDRINUSE", 8443),
    (["tcp", "127.0.0.1:9500"], ["127.0.0.1:9500/tcp"], "bind EADDRINUSE", 9500),
    (["v6only", "tcp", "[::]:8080"], ["[::]:8080/tcp", "--v6only"], "ok", None),
]


@pytest.fixture(scope="module")
def scene(module_netns):
    h = module_netns.sockhold(*EXISTING)
    return module_netns, {s["port"]: s["inode"] for s in h.sockets}


@pytest.mark.parametrize("bt,chk,want,blocker", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_check_predicts_bindtry(scene, bt, chk, want, blocker):
    ns, inode_of = scene
    r = ns.run([helper("bindtry")] + bt, text=True)
    got = r.stdout.strip()
    assert got == want, "bindtry %s printed %r (stderr %r), expected %r" % (
        bt, got, r.stderr, want)
    assert r.returncode == (0 if want == "ok" else 1)

    res = run_portwho("check", "--no-trial", "--json", *chk, netns=ns.name)
    assert res.rc in (0, 1) and res.json is not None, "portwho check %s: rc %d\n%s" % (
        chk, res.rc, res.stdout + res.stderr)
    doc = res.json
    errno_name = None if want == "ok" else want.split()[1]
    assert (doc["would_succeed"], doc["errno"]) == (want == "ok", errno_name), \
        "portwho check %s predicted %s/%s, the kernel said %r\n%s" % (
            " ".join(chk), doc["would_succeed"], doc["errno"], want, show(doc))
    assert res.rc == (0 if want == "ok" else 1)
    if blocker is not None:
        assert inode_of[blocker] in [c["inode"] for c in doc["conflicts"]], show(doc)
