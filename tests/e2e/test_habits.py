# SPDX-License-Identifier: MIT
"""What people who know ss, lsof and util-linux type, and what they expect
back: ss-style option bundles, --help hints, util-linux's -r and
--noheadings, help on one screen, one behaviour for write errors, and the
JSON schema version."""
import json
import subprocess

import pwtest


def run(argv, stdout=subprocess.PIPE, **kw):
    r = subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60, **kw)
    return r.returncode, r.stdout, r.stderr


def one_line(err):
    lines = err.splitlines()
    assert len(lines) == 1, "exactly one stderr line, got %r" % err
    assert all(c == "\t" or ord(c) >= 32 for c in lines[0]), repr(lines[0])
    return lines[0]


def test_ss_bundles_get_what_to_type(portwho_bin):
    for word, want in (("-tulpn", "try 'portwho -tuln'"), ("-antp", "try 'portwho -ant'"),
                       ("-lp", "try 'portwho -l'")):
        rc, out, err = run([portwho_bin, word])
        assert rc == 2 and out == ""
        line = one_line(err)
        assert line.startswith("portwho: '%s' is ss/netstat syntax" % word), line
        assert line.endswith(want), line
    # a real -p PID list is not mistaken for a bundle
    rc, out, err = run([portwho_bin, "-p", "abc"])
    assert rc == 2 and one_line(err) == "portwho: invalid PID 'abc' (see portwho --help)"


def test_usage_errors_point_to_help(portwho_bin):
    cases = [
        ([], ["--bogus"], "portwho: unknown option '--bogus' (see portwho --help)"),
        ([], ["--user", "no-such-user-x"],
         "portwho: unknown user 'no-such-user-x' (see portwho --help)"),
        (["check"], ["--bogus"], "portwho: unknown option '--bogus' (see portwho check --help)"),
        (["kill"], ["--bogus"], "portwho: unknown option '--bogus' (see portwho kill --help)"),
    ]
    for verb, args, want in cases:
        rc, out, err = run([portwho_bin] + verb + args)
        assert rc == 2, (args, rc, err)
        assert one_line(err) == want
    rc, _, err = run([portwho_bin, "check", "99999"])
    assert rc == 2 and one_line(err).endswith("(see portwho check --help)"), err


def test_help_fits_one_screen(portwho_bin):
    for verb in ([], ["check"], ["kill"]):
        rc, out, _ = run([portwho_bin] + verb + ["--help"])
        assert rc == 0
        lines = out.splitlines()
        assert len(lines) <= 30, (verb, len(lines))
        long_ = [l for l in lines if len(l) > 80]
        assert not long_, (verb, long_)


def test_raw_keeps_header_noheadings_drops_it(portwho_bin, netns):
    netns.sockhold("tcp-listen:127.0.0.1:8080")
    base = ["-N", netns.path, "-o", "PROTO,LOCAL,STATE"]
    rc, out, _ = run([portwho_bin, "-r"] + base)
    assert rc == 0
    assert out.splitlines() == ["PROTO LOCAL STATE", "tcp 127.0.0.1:8080 LISTEN"]
    rc, out, _ = run([portwho_bin, "--noheadings"] + base)
    assert rc == 0 and out.split() == ["tcp", "127.0.0.1:8080", "LISTEN"]
    rc, out, _ = run([portwho_bin, "-r", "--noheadings"] + base)
    assert rc == 0 and out.splitlines() == ["tcp 127.0.0.1:8080 LISTEN"]


def test_write_errors_one_message_exit_2(portwho_bin, netns):
    netns.sockhold("tcp-listen:127.0.0.1:8080")
    want = "portwho: cannot write output: No space left on device"
    for args in (["-N", netns.path], ["-N", netns.path, "--json"],
                 ["-N", netns.path, "--explain"], ["-N", netns.path, "--pids"],
                 ["check", "-N", netns.path, "8080"],
                 ["check", "-N", netns.path, "--json", "8080"],
                 ["kill", "-N", netns.path, "--dry-run", "8080"],
                 ["kill", "-N", netns.path, "--dry-run", "--json", "8080"]):
        with open("/dev/full", "w") as full:
            rc, _, err = run([portwho_bin] + args, stdout=full)
        assert rc == 2, (args, rc, err)
        assert one_line(err) == want, (args, err)


def test_json_schema_version(portwho_bin, netns):
    netns.sockhold("tcp-listen:127.0.0.1:8080")
    for args in (["-N", netns.path, "--json"], ["check", "-N", netns.path, "--json", "8080"],
                 ["kill", "-N", netns.path, "--dry-run", "--json", "8080"]):
        rc, out, err = run([portwho_bin] + args)
        doc = json.loads(out)
        assert doc["schema_version"] == 1, (args, list(doc)[:3])
