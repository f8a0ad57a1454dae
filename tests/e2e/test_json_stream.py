# SPDX-License-Identifier: MIT
"""`portwho --json` is streamed by src/jemit.c's text writer, not dumped by
jansson: its bytes must still be exactly what jansson's JSON_INDENT(2) layout
followed by the terminal-safe escaping gives, for the hostile names a process
can choose, and `kill --dry-run --json` (the json_t built from the same field
definitions) must say the same about the port.

One private namespace, one holder with a hostile comm and command line.
"""
import json
import subprocess

from pwtest import portwho_path, show

# comm (15 bytes at most): a quote, a backslash, ESC, U+202E (right-to-left
# override), an invalid byte, DEL, U+0085 (a C1 control)
COMM_ARG = r'comm=pw"\\\e\xe2\x80\xae\xff\x7f\xc2\x85'
COMM_JSON = 'pw"\\\x1b\u202e\ufffd\x7f\x85'
COMM_TEXT = r'"pw\"\\\u001B\u202E' + '\ufffd' + r'\u007F\u0085"'
# cmdline: tab, ESC, a bidi isolate, a zero-width space (left as is), a
# truncated UTF-8 sequence, CSI as a C1 control
NOTE = b'note=q"b\\s\t\x1b\xe2\x81\xa6\xe2\x80\x8b\xe2\x80|\xc2\x9b'
NOTE_JSON = 'note=q"b\\s\t\x1b\u2066\u200b\ufffd\ufffd|\x9b'  # one U+FFFD per byte
# all ASCII (the writer's fast path): the same controls, DEL, quote, backslash
ASCII_COMM_ARG = r'comm=pa"\\\e\x7f\x01\t'
ASCII_COMM_JSON = 'pa"\\\x1b\x7f\x01\t'
ASCII_COMM_TEXT = r'"pa\"\\\u001B\u007F\u0001\t"'
ASCII_NOTE = b'note=a"\\\x1b\x7f\x01\r'
ASCII_NOTE_JSON = 'note=a"\\\x1b\x7f\x01\r'

# what pw_json_terminal_safe writes as \uXXXX on top of JSON's own escapes
UNSAFE = (set(range(0x7f, 0xa0)) | {0x61c, 0x200e, 0x200f} | set(range(0x2028, 0x202f))
          | set(range(0x2066, 0x206a)))
NAMED = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
         "\t": "\\t"}


def jstr(s):
    out = []
    for ch in s:
        if ch in NAMED:
            out.append(NAMED[ch])
        elif ord(ch) < 0x20 or ord(ch) in UNSAFE:
            out.append("\\u%04X" % ord(ch))  # upper case, as jansson writes it
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def dump(v, depth=0):
    """json.dumps(v, indent=2, ensure_ascii=False) as jansson lays it out, with
    the terminal-unsafe characters escaped."""
    pad = "\n" + "  " * (depth + 1)
    if isinstance(v, dict):
        if not v:
            return "{}"
        return ("{" + ",".join(pad + jstr(k) + ": " + dump(x, depth + 1) for k, x in v.items())
                + "\n" + "  " * depth + "}")
    if isinstance(v, list):
        if not v:
            return "[]"
        return "[" + ",".join(pad + dump(x, depth + 1) for x in v) + "\n" + "  " * depth + "]"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return jstr(v)


def test_dump_is_json_dumps():
    """The reference layout is Python's own indent=2 layout, but for the
    escapes: checked on a value without any string to escape."""
    v = {"a": [1, {"b": None, "c": [], "d": {}}, True, "x y"], "e": {"f": [[]]}, "g": -3}
    assert dump(v) == json.dumps(v, indent=2, ensure_ascii=False)


def test_hostile_stream_is_jansson_layout(netns):
    h = netns.sockhold(COMM_ARG, NOTE, "tcp-listen:127.0.0.1:7300", "udp:0.0.0.0:7301",
                       "tcp-listen:[::1]:7302", "tcp-pair:127.0.0.1:7303")
    a = netns.sockhold(ASCII_COMM_ARG, ASCII_NOTE, "tcp-listen:127.0.0.1:7304")
    with open("/proc/%d/comm" % h.pid, "rb") as f:
        assert f.read() == b'pw"\\\x1b\xe2\x80\xae\xff\x7f\xc2\x85\n'  # the helper did its part
    with open("/proc/%d/comm" % a.pid, "rb") as f:
        assert f.read() == b'pa"\\\x1b\x7f\x01\t\n'
    names = {h.pid: (COMM_JSON, NOTE_JSON), a.pid: (ASCII_COMM_JSON, ASCII_NOTE_JSON)}

    res = netns.portwho_ok("-a", "--json")
    raw = res.stdout.encode("utf-8", "surrogateescape")
    text = raw.decode("utf-8")  # strict: valid UTF-8
    bad = sorted({"%02x" % b for b in raw if b < 0x20 and b != 0x0a})
    assert not bad, "raw control bytes %s in the JSON text" % bad
    assert not [c for c in text if ord(c) in UNSAFE], "raw terminal-unsafe characters"
    doc = json.loads(text)

    # exactly the layout and escapes jansson + pw_json_terminal_safe give
    want = dump(doc) + "\n"
    if text != want:
        i = next(i for i in range(min(len(text), len(want))) if text[i] != want[i])
        raise AssertionError("--json differs from the jansson layout at %d:\n%r\n%r"
                             % (i, text[max(0, i - 80):i + 40], want[max(0, i - 80):i + 40]))
    assert COMM_TEXT in text and ASCII_COMM_TEXT in text

    # the facts, parsed back: each socket the helper opened, with its holder
    got = []
    for g in doc["ports"]:
        for s in g["sockets"]:
            if g["netns"] != netns.inode:
                continue
            hs = [x for x in s["holders"] if x["pid"] in names]
            assert len(hs) == 1, show(s)
            comm, note = names[hs[0]["pid"]]
            assert hs[0]["command"] == comm, show(hs[0])
            assert note in hs[0]["cmdline"], show(hs[0])
            got.append((s["inode"], hs[0]["fd"], s["state"], s["family"], s["local_address"],
                        s["local_port"], s["remote_address"], s["remote_port"]))
    want = [(s["inode"], s["fd"], s["state"], s["family"], s["addr"], s["port"], s["raddr"],
             s["rport"]) for s in h.sockets + a.sockets]
    assert sorted(got) == sorted(want), show(doc)
    assert len(want) == 7


def test_kill_found_is_the_listing(netns):
    """kill's "found" (the json_t of the tree backend) is the listing's port
    group, field for field, netns_name and netns_current included."""
    h = netns.sockhold(COMM_ARG, NOTE, "tcp-listen:127.0.0.1:7310")
    listing = netns.portwho_ok("--json", "7310").json
    r = subprocess.run(["ip", "netns", "exec", netns.name, portwho_path(), "kill", "7310",
                        "--dry-run", "--json", "-N", "current"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode("utf-8")
    found = json.loads(text)["found"]
    # kill reads no socket options (they are null there): all else is equal
    for doc in (found, listing):
        for s in doc["ports"][0]["sockets"]:
            for k in ("v6only", "reuseaddr", "reuseport", "options_source"):
                s[k] = None
    assert found["ports"] == listing["ports"], show(found)
    g = found["ports"][0]
    assert (g["netns"], g["netns_current"], g["port"]) == (netns.inode, True, 7310)
    assert g["netns_name"] == netns.name
    assert g["sockets"][0]["holders"][0]["pid"] == h.pid
    assert COMM_TEXT in text  # the same escapes in the embedded document
