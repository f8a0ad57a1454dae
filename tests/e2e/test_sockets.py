# SPDX-License-Identifier: MIT
"""portwho on real sockets of each kind, one private namespace per test.

Each test starts tests/helpers/sockhold (or fdpass) inside its namespace,
takes the pid/fd/inode/address the helper read from its own sockets, and
checks that `portwho --json` reports exactly those facts (and a few cells of
the table). See pwtest.py for PORTWHO / PW_HELPERS.
"""
import json
import os
import re

import pytest

from pwtest import find, group, holder_keys, kernel_at_least, show, table_lines

ME = os.getpid()  # helpers are exec'd by `ip netns exec`: their parent is us


def only_socket(doc):
    socks = [s for g in doc["ports"] for s in g["sockets"]]
    assert len(socks) == 1, "expected exactly one socket:\n%s" % show(doc)
    return socks[0]


def one_holder(s):
    assert len(s["holders"]) == 1, "expected one holder:\n%s" % show(s)
    return s["holders"][0]


def cells(res, header):
    """Table rows (split on blanks) after checking the header line."""
    lines = table_lines(res.stdout)
    assert lines and lines[0].split() == header, "header %r, expected %r\n%s" % (
        lines[:1], header, res.stdout)
    return [line.split() for line in lines[1:]]


# ---- TCP listener ----------------------------------------------------------------


def test_tcp_listener_json(netns):
    h = netns.sockhold("tcp-listen:127.0.0.1:8080")
    hs = h.sock()
    res = netns.portwho_ok("--json", "8080")
    doc = res.json
    assert doc["privileged"] is True
    assert isinstance(doc["hidden_processes"], int)
    g = group(doc, "tcp", 8080)
    assert g["netns"] == netns.inode, "netns is the namespace inode:\n%s" % show(g)
    assert [s["inode"] for s in g["sockets"]] == [hs["inode"]], show(doc)
    assert len(doc["ports"]) == 1, show(doc)
    s = g["sockets"][0]
    want = {"family": "ipv4", "local_address": "127.0.0.1", "local_port": 8080,
            "remote_address": None, "remote_port": None, "state": "LISTEN", "uid": 0,
            "v6only": None, "kernel_owner": None}
    assert {k: s[k] for k in want} == want, show(s)
    assert isinstance(s["cookie"], int) and s["cookie"] != 0, show(s)
    hd = one_holder(s)
    assert (hd["pid"], hd["tid"], hd["fd"]) == (hs["pid"], hs["pid"], hs["fd"]), show(s)
    assert hd["command"] == "sockhold", show(s)
    assert hd["uid"] == 0 and hd["user"] == "root", show(s)
    assert hd["ppid"] == ME, show(s)
    assert "tcp-listen:127.0.0.1:8080" in hd["cmdline"], show(s)
    assert [r["kind"] for r in g["reasons"]] == ["single"], show(g)
    assert g["reasons"][0]["sockets"] == [hs["inode"]], show(g)


def test_tcp_listener_table(netns):
    h = netns.sockhold("tcp-listen:127.0.0.1:8080")
    hs = h.sock()
    res = netns.portwho_ok("-o", "PROTO,LOCAL,STATE,PID,FD,COMMAND,INODE", "8080")
    rows = cells(res, ["PROTO", "LOCAL", "STATE", "PID", "FD", "COMMAND", "INODE"])
    assert rows == [["tcp", "127.0.0.1:8080", "LISTEN", str(hs["pid"]), str(hs["fd"]),
                     "sockhold", str(hs["inode"])]], res.stdout


# ---- UDP ----------------------------------------------------------------------------


def test_udp_bound_default_listing(netns):
    h = netns.sockhold("udp:0.0.0.0:5353")
    hs = h.sock()
    # no PORTSPEC: listening TCP and bound UDP, so this one is shown
    doc = netns.portwho_ok("--json").json
    g = group(doc, "udp", 5353)
    s = only_socket(doc)
    assert s["inode"] == hs["inode"]
    want = {"family": "ipv4", "local_address": "0.0.0.0", "local_port": 5353,
            "remote_address": None, "remote_port": None, "state": "UNCONN"}
    assert {k: s[k] for k in want} == want, show(s)
    assert holder_keys(s) == [(hs["pid"], hs["fd"])], show(s)
    assert g["service"] == "mdns", show(g)
    res = netns.portwho_ok("-o", "PROTO,LOCAL,STATE,PID,FD")
    assert cells(res, ["PROTO", "LOCAL", "STATE", "PID", "FD"]) == [
        ["udp", "*:5353", "UNCONN", str(hs["pid"]), str(hs["fd"])]], res.stdout


# ---- TCP connection pair -----------------------------------------------------------


def test_tcp_pair_all(netns):
    h = netns.sockhold("tcp-pair:127.0.0.1:7000")
    lis, cli, acc = h.sock("listen"), h.sock("client"), h.sock("accepted")
    cport = cli["port"]
    assert acc["rport"] == cport and cli["rport"] == 7000

    doc = netns.portwho_ok("-a", "--json").json
    got = sorted(s["inode"] for g in doc["ports"] for s in g["sockets"])
    assert got == sorted([lis["inode"], cli["inode"], acc["inode"]]), show(doc)

    g7000 = group(doc, "tcp", 7000)
    _, sl = find(doc, lis["inode"])
    assert (sl["state"], sl["remote_address"], sl["remote_port"]) == ("LISTEN", None, None)
    ga, sa = find(doc, acc["inode"])
    assert ga is g7000, "the accepted end belongs to port 7000:\n%s" % show(doc)
    want = {"state": "ESTAB", "local_address": "127.0.0.1", "local_port": 7000,
            "remote_address": "127.0.0.1", "remote_port": cport}
    assert {k: sa[k] for k in want} == want, show(sa)
    assert holder_keys(sa) == [(h.pid, acc["fd"])], show(sa)
    gc, sc = find(doc, cli["inode"])
    assert gc["port"] == cport, "the client end is grouped by its local port:\n%s" % show(doc)
    want = {"state": "ESTAB", "local_address": "127.0.0.1", "local_port": cport,
            "remote_address": "127.0.0.1", "remote_port": 7000}
    assert {k: sc[k] for k in want} == want, show(sc)
    assert holder_keys(sc) == [(h.pid, cli["fd"])], show(sc)

    # the table shows REMOTE with -a
    res = netns.portwho_ok("-a", "-o", "LOCAL,REMOTE,STATE,FD", "-t")
    rows = cells(res, ["LOCAL", "REMOTE", "STATE", "FD"])
    assert ["127.0.0.1:7000", "127.0.0.1:%d" % cport, "ESTAB", str(acc["fd"])] in rows, \
        res.stdout
    assert ["127.0.0.1:%d" % cport, "127.0.0.1:7000", "ESTAB", str(cli["fd"])] in rows, \
        res.stdout

    # without -a and without PORTSPEC: the listener only
    doc = netns.portwho_ok("--json").json
    assert [s["inode"] for g in doc["ports"] for s in g["sockets"]] == [lis["inode"]], \
        show(doc)


# ---- bound-inactive TCP ------------------------------------------------------------


@pytest.mark.skipif(not kernel_at_least(6, 8),
                    reason="bound-inactive TCP sockets are listed by sock_diag from 6.8 on")
def test_bound_inactive(netns):
    h = netns.sockhold("tcp-bind:0.0.0.0:9000", "tcp-listen:127.0.0.1:9001")
    b, lis = h.sock(port=9000), h.sock(port=9001)

    doc = netns.portwho_ok("--json", "9000").json
    s = only_socket(doc)
    want = {"inode": b["inode"], "state": "BOUND", "local_address": "0.0.0.0",
            "local_port": 9000, "remote_address": None, "remote_port": None}
    assert {k: s[k] for k in want} == want, show(s)
    assert holder_keys(s) == [(h.pid, b["fd"])], show(s)

    # the default listing (listening/bound-UDP) leaves it out; -a and -s BOUND show it
    doc = netns.portwho_ok("--json").json
    assert [x["inode"] for g in doc["ports"] for x in g["sockets"]] == [lis["inode"]], show(doc)
    doc = netns.portwho_ok("--json", "-a").json
    assert sorted(x["inode"] for g in doc["ports"] for x in g["sockets"]) == \
        sorted([b["inode"], lis["inode"]]), show(doc)
    doc = netns.portwho_ok("--json", "-s", "BOUND").json
    assert [x["inode"] for g in doc["ports"] for x in g["sockets"]] == [b["inode"]], show(doc)


# ---- IPv6 ----------------------------------------------------------------------------


def test_ipv6_listeners_and_v6only(netns):
    h = netns.sockhold("tcp6-listen:[::]:8443:v6only", "tcp6-listen:[::]:8444:dualstack",
                       "tcp6-listen:[::1]:8445", "udp6:[::]:8446:v6only",
                       "tcp-listen:127.0.0.1:8447")
    doc = netns.portwho_ok("--json").json
    want = {
        8443: ("tcp", "::", True),
        8444: ("tcp", "::", False),
        8445: ("tcp", "::1", True),  # bind() to a non-mapped address sets ipv6only
        8446: ("udp", "::", True),
    }
    for port, (proto, addr, v6only) in want.items():
        hs = h.sock(port=port)
        g, s = find(doc, hs["inode"])
        assert (g["proto"], g["port"]) == (proto, port), show(g)
        got = (s["family"], s["local_address"], s["local_port"], s["v6only"])
        assert got == ("ipv6", addr, port, v6only), "port %d: %s\n%s" % (port, got, show(s))
        assert holder_keys(s) == [(h.pid, hs["fd"])], show(s)
    _, s4 = find(doc, h.sock(port=8447)["inode"])
    assert (s4["family"], s4["v6only"]) == ("ipv4", None), show(s4)

    res = netns.portwho_ok("-6", "-o", "PROTO,LOCAL,STATE,V6ONLY")
    rows = cells(res, ["PROTO", "LOCAL", "STATE", "V6ONLY"])
    assert sorted(rows) == sorted([["tcp6", "*:8443", "LISTEN", "yes"],
                                   ["tcp6", "*:8444", "LISTEN", "no"],
                                   ["tcp6", "[::1]:8445", "LISTEN", "yes"],
                                   ["udp6", "*:8446", "UNCONN", "yes"]]), res.stdout


# ---- pre-fork server -----------------------------------------------------------------


def test_prefork_listener(netns):
    h = netns.sockhold("fork=2", "tcp-listen:127.0.0.1:7101")
    hs = h.sock()
    assert len(h.children) == 2
    doc = netns.portwho_ok("--json", "7101").json
    g = group(doc, "tcp", 7101)
    s = only_socket(doc)
    assert s["inode"] == hs["inode"]
    want = sorted([(h.pid, hs["fd"])] + [(c, hs["fd"]) for c in h.children])
    assert holder_keys(s) == want, show(s)
    ppids = {hd["pid"]: hd["ppid"] for hd in s["holders"]}
    assert ppids == {h.pid: ME, h.children[0]: h.pid, h.children[1]: h.pid}, show(s)
    assert all(hd["tid"] == hd["pid"] for hd in s["holders"]), show(s)
    assert [r["kind"] for r in g["reasons"]] == ["forked"], show(g)
    assert g["reasons"][0]["sockets"] == [hs["inode"]], show(g)


# ---- a thread with a private fd table ---------------------------------------------------


def test_thread_private_fd_table(netns):
    h = netns.sockhold("tcp-listen:127.0.0.1:7103", "tcp-listen:127.0.0.1:7102:thread")
    main, th = h.sock(port=7103), h.sock(port=7102)
    assert th["tid"] != th["pid"] == h.pid
    # the socket is in the thread's table only
    link = os.readlink("/proc/%d/task/%d/fd/%d" % (h.pid, th["tid"], th["fd"]))
    assert link == "socket:[%d]" % th["inode"]
    try:
        main_link = os.readlink("/proc/%d/fd/%d" % (h.pid, th["fd"]))
    except FileNotFoundError:
        main_link = None
    assert main_link != link

    doc = netns.portwho_ok("--json", "7102").json
    s = only_socket(doc)
    assert s["inode"] == th["inode"], show(doc)
    hd = one_holder(s)
    assert (hd["pid"], hd["tid"], hd["fd"]) == (h.pid, th["tid"], th["fd"]), show(s)

    doc = netns.portwho_ok("--json", "7103").json
    hd = one_holder(only_socket(doc))
    assert (hd["pid"], hd["tid"], hd["fd"]) == (h.pid, h.pid, main["fd"]), show(doc)

    res = netns.portwho_ok("-o", "PORT,PID,TID,FD", "7102")
    assert cells(res, ["PORT", "PID", "TID", "FD"]) == [
        ["7102", str(h.pid), str(th["tid"]), str(th["fd"])]], res.stdout


# ---- hostile process names ----------------------------------------------------------------

# comm: ESC [31m, newline, backslash, an invalid UTF-8 byte, BEL (11 bytes)
HOSTILE_COMM_ARG = r"comm=\e[31mX\nY\\\xff\x07"
HOSTILE_COMM_JSON = "\x1b[31mX\nY\\\ufffd\x07"
HOSTILE_COMM_TABLE = r"\e[31mX\nY\\\xff\x07"
# cmdline: an OSC title sequence, BEL, newline, an invalid UTF-8 byte
HOSTILE_NOTE = b"note=\x1b]0;pwned\x07\n\xfe!"
HOSTILE_NOTE_JSON = "note=\x1b]0;pwned\x07\n\ufffd!"
HOSTILE_NOTE_TABLE = r"note=\e]0;pwned\x07\n\xfe!"


def test_hostile_names(netns):
    h = netns.sockhold(HOSTILE_COMM_ARG, HOSTILE_NOTE, "tcp-listen:127.0.0.1:7200")
    hs = h.sock()
    with open("/proc/%d/comm" % h.pid, "rb") as f:
        assert f.read() == b"\x1b[31mX\nY\\\xff\x07\n"  # the helper did its part

    res = netns.portwho_ok("--json", "7200")
    raw = res.stdout.encode("utf-8", "surrogateescape")
    raw.decode("utf-8")  # strict: JSON output is valid UTF-8
    doc = json.loads(raw)
    hd = one_holder(only_socket(doc))
    assert hd["pid"] == hs["pid"]
    assert hd["command"] == HOSTILE_COMM_JSON, show(hd)
    assert HOSTILE_NOTE_JSON in hd["cmdline"], show(hd)

    for args in (["-o", "PID,COMMAND,CMDLINE"], ["--tree"], ["--explain"]):
        res = netns.portwho_ok(*(args + ["7200"]))
        raw = res.stdout.encode("utf-8", "surrogateescape")
        bad = sorted({"%02x" % b for b in raw if (b < 0x20 and b != 0x0a) or b == 0x7f})
        assert not bad, "portwho %s wrote raw control bytes %s:\n%r" % (args, bad, raw)
        raw.decode("utf-8")  # the invalid byte is escaped, not copied
        if args[0] == "-o":
            lines = table_lines(res.stdout)
            assert len(lines) == 2, \
                "one line per holder (a newline in a name must not add lines):\n%s" % res.stdout
            assert HOSTILE_COMM_TABLE in lines[1], res.stdout
            assert HOSTILE_NOTE_TABLE in lines[1], res.stdout
        else:
            assert HOSTILE_COMM_TABLE in res.stdout, res.stdout


def unhex(cell):
    """Undo --raw's escaping: every \\xHH is one byte, all else is literal."""
    return re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]),
                  cell.encode("utf-8", "surrogateescape"))


def test_hostile_names_raw(netns):
    """--raw (man page): "Spaces, control characters and backslashes in cells
    are written as \\xHH so that every line splits into the same number of
    fields" -- so undoing \\xHH once gives back the bytes of the name."""
    h = netns.sockhold(HOSTILE_COMM_ARG, HOSTILE_NOTE, "tcp-listen:127.0.0.1:7200")
    res = netns.portwho_ok("--raw", "--noheadings", "-o", "PID,COMMAND,CMDLINE", "7200")
    raw = res.stdout.encode("utf-8", "surrogateescape")
    bad = sorted({"%02x" % b for b in raw if (b < 0x20 and b != 0x0a) or b == 0x7f})
    assert not bad, "raw control bytes %s in:\n%r" % (bad, raw)
    lines = table_lines(res.stdout)
    assert len(lines) == 1, res.stdout
    fields = lines[0].split(" ")
    assert len(fields) == 3, "three fields split on single spaces: %r" % lines[0]
    assert fields[0] == str(h.pid)
    assert unhex(fields[1]) == b"\x1b[31mX\nY\\\xff\x07", \
        "COMMAND cell %r does not decode to the comm bytes" % fields[1]
    assert HOSTILE_NOTE in unhex(fields[2]), \
        "CMDLINE cell %r does not decode to the command line" % fields[2]


# ---- namespaces: from inside and from the host ----------------------------------------------


def facts(doc):
    return sorted((g["netns"], g["proto"], g["port"], s["inode"], s["state"],
                   tuple(holder_keys(s))) for g in doc["ports"] for s in g["sockets"])


def test_netns_inside_and_from_host(netns):
    h = netns.sockhold("tcp-listen:127.0.0.1:8080", "udp:0.0.0.0:5353")
    want = sorted([(netns.inode, "tcp", 8080, h.sock(port=8080)["inode"], "LISTEN",
                    ((h.pid, h.sock(port=8080)["fd"]),)),
                   (netns.inode, "udp", 5353, h.sock(port=5353)["inode"], "UNCONN",
                    ((h.pid, h.sock(port=5353)["fd"]),))])
    inside = netns.portwho_ok("--json").json  # ip netns exec ... -N current
    assert facts(inside) == want, show(inside)
    path = netns.portwho_ok("--json", host=True).json  # -N /run/netns/NAME from the host
    assert facts(path) == want, show(path)
    named = netns.portwho_ok("--json", "-N", netns.name, host=True).json
    assert facts(named) == want, show(named)
    bypid = netns.portwho_ok("--json", "-N", str(h.pid), host=True).json
    assert facts(bypid) == want, show(bypid)
    # -N all (the default as root) finds them too, tagged with the namespace
    alldoc = netns.portwho_ok("--json", "-N", "all").json
    # only this test's namespace: others may hold anything (io_uring, no fd)
    mine = facts({"ports": [g for g in alldoc["ports"] if g["netns"] == netns.inode]})
    assert mine == want, show(alldoc)


# ---- SCM_RIGHTS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [True, False], ids=["sender-keeps", "sender-closes"])
def test_passed_over_scm_rights(netns, tmp_path, keep):
    send, recv, sent, got = netns.fdpass(tmp_path, "tcp-listen:127.0.0.1:7300", keep=keep)
    assert sent["inode"] == got["inode"]
    doc = netns.portwho_ok("--json", "7300").json
    g = group(doc, "tcp", 7300)
    s = only_socket(doc)
    assert s["inode"] == sent["inode"], show(doc)
    assert got["pid"] == recv.pid and sent["pid"] != send.pid  # the sender detached
    want = [(recv.pid, got["fd"])] + ([(sent["pid"], sent["fd"])] if keep else [])
    assert holder_keys(s) == sorted(want), show(s)
    assert [r["kind"] for r in g["reasons"]] == (["passed"] if keep else ["single"]), show(g)
    assert all(hd["command"] == "fdpass" for hd in s["holders"]), show(s)
    ppids = {hd["pid"]: hd["ppid"] for hd in s["holders"]}
    assert ppids[recv.pid] == ME, show(s)
    if keep:
        assert ppids[sent["pid"]] not in (ME, recv.pid), show(s)


def test_unaccepted_connection_has_inode_zero(netns):
    srv = netns.sockhold("tcp-listen:127.0.0.1:7400")
    cli = netns.sockhold("tcp-connect:127.0.0.1:0:connect=127.0.0.1:7400")
    c = cli.sock()
    doc = netns.portwho_ok("--json", "-a", "7400").json
    g = group(doc, "tcp", 7400)
    by_state = sorted((s["state"], s["inode"], s["remote_port"]) for s in g["sockets"])
    # the client end is shown too, as lsof -i :7400 shows it (matched_end "remote")
    assert by_state == sorted([("ESTAB", 0, c["port"]), ("ESTAB", c["inode"], 7400),
                               ("LISTEN", srv.sock()["inode"], None)]), show(g)
    assert {s["inode"]: s["matched_end"] for s in g["sockets"]}[c["inode"]] == "remote", show(g)
    pending = [s for s in g["sockets"] if s["inode"] == 0][0]
    assert pending["holders"] == [], show(pending)
    assert re.fullmatch(r"127\.0\.0\.1", pending["remote_address"]), show(pending)
