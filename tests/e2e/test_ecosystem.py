# SPDX-License-Identifier: MIT
"""The tool around the answers: shell completions and `make install`.

The completions are exercised as a user's shell would: bash with
bash-completion sourcing completions/portwho.bash and calling its function
for a command line; zsh through its completion system on a pseudo-terminal.
Column names must come from the binary's --list-columns.
"""
import os
import subprocess
import tempfile

import pwtest

REPO = pwtest.REPO
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def columns(portwho):
    out = subprocess.run([portwho, "--list-columns"], capture_output=True, text=True,
                         check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def bash_complete(portwho, *words):
    script = r'''
source %s
source %s
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
compopt() { :; }
_portwho
printf '%%s\n' "${COMPREPLY[@]}"
''' % (BASH_COMPLETION, REPO / "completions/portwho.bash")
    env = dict(os.environ, PATH=os.path.dirname(portwho) + ":" + os.environ["PATH"])
    r = subprocess.run(["bash", "-c", script, "bash", "portwho", *words], capture_output=True,
                       text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    return [w for w in r.stdout.splitlines() if w]


def zsh_complete(portwho, line):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "words")
        env = dict(os.environ, PW_ZCOMP_OUT=out, TERM="dumb")
        subprocess.run(["zsh", "-f", str(REPO / "tests/e2e/zsh-complete.zsh"),
                        str(REPO / "completions"), os.path.dirname(portwho), line],
                       env=env, timeout=30, check=True, capture_output=True)
        with open(out) as f:
            return sorted({w for w in f.read().split("\n") if w})


def test_bash_options(portwho_bin):
    assert bash_complete(portwho_bin, "--js") == ["--json"]
    assert bash_complete(portwho_bin, "--coll") == ["--collector"]


def test_bash_columns_from_the_binary(portwho_bin):
    want = sorted(c for c in columns(portwho_bin) if c.startswith("P"))
    assert want and "PID" in want
    assert sorted(bash_complete(portwho_bin, "-o", "P")) == want
    # the last item of a list, lower case typed, +COL form
    assert "PID,COMMAND" in bash_complete(portwho_bin, "-o", "PID,co")
    assert sorted(bash_complete(portwho_bin, "-o", "+U")) == sorted(
        "+" + c for c in columns(portwho_bin) if c.startswith("U"))


def test_bash_verbs_and_their_options(portwho_bin):
    assert "check" in bash_complete(portwho_bin, "ch")
    assert bash_complete(portwho_bin, "check", "--reuse") == ["--reuseaddr", "--reuseport"]
    assert bash_complete(portwho_bin, "kill", "--dry") == ["--dry-run"]
    # -s is --signal after kill, --state otherwise
    assert bash_complete(portwho_bin, "kill", "-s", "KI") == ["KILL"]
    assert bash_complete(portwho_bin, "-s", "LIS") == ["LISTEN"]


def test_bash_netns_and_services(portwho_bin, netns):
    assert netns.name in bash_complete(portwho_bin, "-N", netns.name[:-2])
    if os.path.exists("/etc/services"):
        assert "ssh" in bash_complete(portwho_bin, "ss")


def test_zsh(portwho_bin):
    assert zsh_complete(portwho_bin, "portwho --js") == ["--json"]
    want = sorted(c for c in columns(portwho_bin) if c.startswith("P"))
    assert zsh_complete(portwho_bin, "portwho -o P") == want
    assert zsh_complete(portwho_bin, "portwho kill --dr") == ["--dry-run"]
    assert "check" in zsh_complete(portwho_bin, "portwho ch")


def test_make_install_destdir(tmp_path):
    """make install PREFIX=/usr DESTDIR=... stages the binary, man pages and
    completions, and the staged binary runs."""
    build = tmp_path / "build"
    dest = tmp_path / "root"
    r = subprocess.run(["make", "-C", str(REPO), "install", "BUILD=" + str(build),
                        "PREFIX=/usr", "DESTDIR=" + str(dest)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for f in ["usr/sbin/portwho", "usr/share/man/man8/portwho.8",
              "usr/share/man/man8/portwho-check.8", "usr/share/man/man8/portwho-kill.8",
              "usr/share/bash-completion/completions/portwho",
              "usr/share/zsh/vendor-completions/_portwho"]:
        assert (dest / f).exists(), f
    v = subprocess.run([str(dest / "usr/sbin/portwho"), "--version"], capture_output=True,
                       text=True, check=True).stdout
    assert v.startswith("portwho ")
