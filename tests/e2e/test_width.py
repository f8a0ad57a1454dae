"""The table on a real terminal (tmux): fitted to the window, PID and COMMAND
whole, escaped names keeping their row aligned, --explain prose wrapped;
pipes keep the full width (issue 15)."""
import os
import secrets
import subprocess
import time

import pytest

import pwtest

# comm: ESC [31m, newline, backslash, an invalid UTF-8 byte, BEL
HOSTILE_COMM_ARG = r"comm=\e[31mX\nY\\\xff\x07"
HOSTILE_COMM_TABLE = r"\e[31mX\nY\\\xff\x07"
LONG_NOTE = "note=" + "-".join(["a-long-command-line-word"] * 12)
END = "__pw_width_end__"


def on_tmux(width, argv):
    """Run argv in a fresh tmux server on a window `width` columns wide and
    return the window's lines (stdout only: a warning on stderr about other
    tests' processes is not the table), wrapped lines joined (capture-pane
    -J), so a line wider than the window shows as one longer line."""
    sock = "pwtest-" + secrets.token_hex(4)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}
    env["LANG"] = "C.UTF-8"
    cmd = " ".join("'%s'" % a.replace("'", "'\\''") for a in argv)
    subprocess.run(["tmux", "-L", sock, "-u", "-f", "/dev/null", "new-session", "-d",
                    "-x", str(width), "-y", "60", "%s 2>/dev/null; echo %s; sleep 30" % (cmd, END)],
                   check=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            out = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-J", "-t", "0"],
                                 capture_output=True, check=True).stdout
            text = out.decode("utf-8", "surrogateescape")
            if END in text:
                break
            assert time.monotonic() < deadline, "no end marker in tmux:\n" + text
            time.sleep(0.05)
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    lines = text.split("\n")
    return [line.rstrip() for line in lines[:lines.index(END)]]


@pytest.fixture(scope="module")
def scene(module_netns):
    ns = module_netns
    plain = ns.sockhold(LONG_NOTE, "tcp-listen:127.0.0.1:7401", "udp:127.0.0.1:7401")
    hostile = ns.sockhold(HOSTILE_COMM_ARG, "tcp-listen:127.0.0.1:7402")
    return ns, plain, hostile


def columns_of(header):
    """{heading: (start, end)} of each heading in the header line."""
    spans, i = {}, 0
    for word in header.split():
        i = header.index(word, i)
        spans[word] = (i, i + len(word))
        i += len(word)
    return spans


@pytest.mark.parametrize("width", [60, 80, 120])
def test_table_fits_the_window(scene, width):
    ns, plain, hostile = scene
    argv = ns.exec_argv([pwtest.portwho_path(), "-N", "current", "-o", "+CMDLINE", "7401", "7402"])
    lines = [line for line in on_tmux(width, argv) if line]
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, "lines wider than %d columns:\n%s" % (width, "\n".join(lines))
    header = lines[0]
    cols = columns_of(header)
    assert "PID" in cols and "COMMAND" in cols, header
    rows = lines[1:]
    assert len(rows) == 3, "\n".join(lines)  # tcp and udp of plain, tcp of hostile
    pid_end = cols["PID"][1]
    cmd_start = cols["COMMAND"][0]
    for pid, comm, n in ((plain.pid, "sockhold", 2), (hostile.pid, HOSTILE_COMM_TABLE, 1)):
        mine = [r for r in rows if r[cmd_start:].startswith(comm + " ") or r[cmd_start:] == comm]
        assert len(mine) == n, "%s whole under COMMAND:\n%s" % (comm, "\n".join(lines))
        for r in mine:
            # PID right-aligned under its heading, whole
            assert r[:pid_end].split()[-1] == str(pid), "\n".join(lines)
    # every cell after COMMAND starts where the plain rows put it: the escaped
    # name is measured as printed
    after = [name for name, (s, _) in cols.items() if s > cmd_start]
    for name in after:
        s, e = cols[name]
        for r in rows:
            if len(r) > e and name == "FD":  # right-aligned: ends under the heading
                assert r[e - 1] != " " and r[e] == " ", "FD misaligned:\n%s" % "\n".join(lines)
    if width >= 80:
        assert "FD" in cols, header
    if width == 120:
        assert "CMDLINE" in cols, header
        # the command line is cut to fit, not wrapped
        assert all(LONG_NOTE not in r for r in rows), "\n".join(lines)


def test_pipe_keeps_full_width(scene):
    ns, plain, hostile = scene
    res = ns.portwho_ok("-o", "+CMDLINE", "7401", "7402")
    lines = pwtest.table_lines(res.stdout)
    assert any(LONG_NOTE in line for line in lines), res.stdout
    cols = columns_of(lines[0])
    fd_end = cols["FD"][1]
    assert len(lines) == 4, res.stdout
    for r in lines[1:]:  # the escaped name too
        assert r[fd_end - 1] != " " and r[fd_end] == " ", res.stdout


def test_explain_wraps_at_words(scene):
    ns, plain, hostile = scene
    argv = ns.exec_argv([pwtest.portwho_path(), "-N", "current", "--explain", "7402"])
    lines = on_tmux(60, argv)
    assert all(len(line) <= 60 for line in lines), "\n".join(lines)
    text = "\n".join(lines)
    assert HOSTILE_COMM_TABLE in text, text
    # wrapped at spaces: joining the prose lines gives the summary back
    summary = [line for line in lines if line.startswith("  single (verified): ")]
    assert summary, text
    i = lines.index(summary[0])
    joined = summary[0]
    for line in lines[i + 1:]:
        if not line.startswith("    ") or line.startswith("    - "):
            break
        joined += " " + line.strip()
    assert joined.endswith("(PID %d) holds 127.0.0.1:7402" % hostile.pid), text


def test_columns_variable_first(scene):
    """COLUMNS wins over the window's width, as in util-linux; a width no
    column fits in still prints a table (one column kept), never a crash."""
    ns, plain, hostile = scene
    pw = pwtest.portwho_path()
    argv = ns.exec_argv(["env", "COLUMNS=40", pw, "-N", "current", "7401", "7402"])
    lines = [line for line in on_tmux(120, argv) if line]
    assert lines and "PID" in lines[0] and "COMMAND" in lines[0], "\n".join(lines)
    assert all(len(line) <= 40 for line in lines[1:] if HOSTILE_COMM_TABLE not in line), \
        "\n".join(lines)
    argv = ns.exec_argv(["env", "COLUMNS=1", pw, "-N", "current", "-o", "FD", "7401"])
    lines = [line for line in on_tmux(80, argv) if line]
    fds = sorted(str(plain.sock(spec=i)["fd"]) for i in (0, 1))  # its tcp and udp sockets
    assert [line.strip() for line in lines[:1]] == ["FD"] and sorted(line.strip() for line in lines[1:]) == fds, \
        "\n".join(lines)
