# SPDX-License-Identifier: MIT
"""Fleet output: --prometheus read by a real node_exporter and promtool, the
atomic =FILE write, and the Ansible module and play run by real ansible-core.

One module scenario in a private namespace: a TCP listener held by a
process with a hostile name and two forked children, and two UDP sockets
sharing a port through SO_REUSEADDR. node_exporter runs in a second private
namespace on 127.0.0.1, reading a temporary textfile directory. Everything
is asserted against what the helper reported and portwho's own --json.
"""
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

import pwtest
from pwtest import REPO, group, run_portwho, show

COMM = 'pw"q\\b\n'  # a double quote, a backslash and a newline in the name
COMM_ARG = 'comm=pw"q\\\\b\\n'  # the same in sockhold's escapes
# the label value in the file: terminal-safe text (\\ and \n), then escaped
# per the exposition format (each backslash doubled, the quote escaped)
COMM_LABEL_RAW = 'pw\\"q\\\\\\\\b\\\\n'
COMM_LABEL = 'pw"q\\\\b\\n'  # the value once the exposition escapes are undone
EXPORTER = "/usr/bin/prometheus-node-exporter"
WAIT = 15


def tool(name):
    p = shutil.which(name) or ("/usr/bin/" + name if os.access("/usr/bin/" + name, os.X_OK)
                               else None)
    if p is None:
        pytest.fail("%s not found (tools/deps.sh installs it)" % name)
    return p


# ---- the exposition format, read back -------------------------------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def _unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} plus {name: (help, type)}."""
    samples, meta = {}, {}
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, what, name, rest = line.split(" ", 3)
            meta.setdefault(name, {})[what] = rest
            continue
        if line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels, pos = {}, 0
        body = m.group(2) or ""
        while pos < len(body):
            lm = _LABEL.match(body, pos)
            assert lm and lm.end() > pos, "bad labels in %r" % line
            labels[lm.group(1)] = _unescape(lm.group(2))
            pos = lm.end()
        key = (m.group(1), frozenset(labels.items()))
        assert key not in samples, "series twice: %r" % line
        samples[key] = float(m.group(3))
    return samples, meta


# ---- the scenario ---------------------------------------------------------------


@pytest.fixture(scope="module")
def scene(module_netns):
    ns = module_netns
    tcp = ns.sockhold(COMM_ARG, "fork=2", "tcp-listen:127.0.0.1:0")
    udp = ns.sockhold("udp:127.0.0.1:0:reuseaddr", what="udp first")
    port_u = udp.sock()["port"]
    udp2 = ns.sockhold("udp:127.0.0.1:%d:reuseaddr" % port_u, what="udp second")
    doc = run_portwho("--json", netns=ns.name, host=True).json
    return {"ns": ns, "tcp": tcp, "udp": [udp, udp2], "port_t": tcp.sock()["port"],
            "port_u": port_u, "doc": doc}


def prom(scene, *args):
    res = run_portwho("--prometheus", *args, netns=scene["ns"].name, host=True)
    assert res.rc == 0, pwtest.describe(res)
    return res


def test_prometheus_series(scene):
    ns, doc = scene["ns"], scene["doc"]
    res = prom(scene)
    assert COMM_LABEL_RAW in res.stdout, res.stdout  # the escapes as written
    samples, meta = parse_metrics(res.stdout)
    # every metric has HELP and TYPE gauge
    for name in {k[0] for k in samples}:
        assert meta.get(name, {}).get("TYPE") == "gauge" and meta[name].get("HELP"), name
    net = ns.name  # the namespace label: its /run/netns name, never "pid:N"
    pt, pu = scene["port_t"], scene["port_u"]
    base = dict(netns=net, proto="tcp", address="127.0.0.1", port=str(pt), state="LISTEN")
    assert samples[("portwho_sockets", frozenset(base.items()))] == 1, res.stdout
    # three processes (parent and two forked children) hold the one socket
    h = pwtest.find(doc, scene["tcp"].sock()["inode"])[1]["holders"][0]
    held = dict(base, command=COMM_LABEL, unit=h["unit"] or "", container="")
    assert samples[("portwho_socket_holders", frozenset(held.items()))] == 3, res.stdout
    # never a PID in a label
    for name, labels in samples:
        assert not {"pid", "tid", "inode", "fd"} & {k for k, _ in labels}, name
        assert not dict(labels).get("netns", "").startswith("pid:"), (name, labels)
    # the reasons of the UDP port, as --json gives them
    g = group(doc, "udp", pu, netns=ns.inode)
    want = {}
    for r in g["reasons"]:
        key = frozenset(dict(netns=net, proto="udp", port=str(pu), reason=r["kind"],
                             confidence=r["confidence"]).items())
        want[key] = want.get(key, 0) + len(r["sockets"])
    got = {k[1]: v for k, v in samples.items()
           if k[0] == "portwho_port_reason" and ("port", str(pu)) in k[1]}
    assert got == want, show(g)
    assert any(dict(k).get("reason") == "reuseaddr-duplicate" for k in got), show(g)
    udp_key = frozenset(dict(base, proto="udp", port=str(pu), state="UNCONN").items())
    assert samples[("portwho_sockets", udp_key)] == 2, res.stdout
    # the scan: one namespace, nothing hidden in it
    assert samples[("portwho_scan_namespaces", frozenset())] == 1
    assert samples[("portwho_scan_namespaces_skipped", frozenset())] == 0
    assert samples[("portwho_scan_incomplete", frozenset({("kind", "namespace-skipped")}))] == 0
    assert samples[("portwho_scan_duration_seconds", frozenset())] > 0


def test_prometheus_not_root(scene):
    """As nobody the root helpers' fd tables are unreadable: the scan says so."""
    res = run_portwho("--prometheus", netns=scene["ns"].name, nobody=True)
    assert res.rc == 0, pwtest.describe(res)
    samples, _ = parse_metrics(res.stdout)
    assert samples[("portwho_scan_privileged", frozenset())] == 0
    hidden = samples[("portwho_scan_hidden_processes", frozenset())]
    assert hidden >= 5, res.stdout  # at least the five helper processes
    assert samples[("portwho_scan_incomplete", frozenset({("kind", "not-root")}))] > 0
    assert samples[("portwho_scan_incomplete", frozenset({("kind", "protected")}))] == 0
    # the sockets are listed, with no holder series for them
    base = dict(netns=scene["ns"].name, proto="tcp", address="127.0.0.1",
                port=str(scene["port_t"]), state="LISTEN")
    assert samples[("portwho_sockets", frozenset(base.items()))] == 1, res.stdout
    assert not [k for k in samples if k[0] == "portwho_socket_holders"], res.stdout


def test_prometheus_forwards(netns):
    """A REDIRECT rule to a listener, one to nowhere: a series each, the value
    the sockets found behind it (0: an alert can say nothing listens)."""
    h = netns.sockhold("tcp-listen:0.0.0.0:9091")
    r = netns.run(["nft", "-f", "-"], input=b"""
table ip nat {
  chain pre {
    type nat hook prerouting priority -100;
    tcp dport 8091 redirect to :9091
    tcp dport 8090 redirect to :9092
  }
}
""")
    assert r.returncode == 0, r
    res = run_portwho("--prometheus", "-a", "8090-8091", netns=netns.name, host=True)
    samples, meta = parse_metrics(res.stdout)
    got = {dict(k[1])["port"]: (dict(k[1]), v) for k, v in samples.items()
           if k[0] == "portwho_port_forwards"}
    base = dict(netns=netns.name, proto="tcp", via="nftables", action="redirect",
                to_address="")
    assert got == {"8091": (dict(base, port="8091", to_port="9091"), 1),
                   "8090": (dict(base, port="8090", to_port="9092"), 0)}, res.stdout
    assert meta["portwho_port_forwards"]["TYPE"] == "gauge"
    assert h.sock()["port"] == 9091


def test_promtool_check_metrics(scene):
    out = prom(scene).stdout
    r = subprocess.run([tool("promtool"), "check", "metrics"], input=out.encode(),
                       capture_output=True, timeout=30)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r


def test_alert_rules(tmp_path):
    d = REPO / "contrib" / "prometheus"
    r = subprocess.run([tool("promtool"), "check", "rules", str(d / "portwho-alerts.yml")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "SUCCESS: 6 rules found" in r.stdout, r
    # the rules fire (and stay quiet) as the unit test of the rules says
    r = subprocess.run([tool("promtool"), "test", "rules", "portwho-alerts.test.yml"],
                       cwd=str(d), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r


def test_systemd_units(scene, tmp_path):
    """The units parse (systemd-analyze verify, the binary path pointed at this
    build) and the service's command line, run as written, writes the file."""
    d = REPO / "contrib" / "systemd"
    svc = (d / "portwho-textfile.service").read_text()
    timer = (d / "portwho-textfile.timer").read_text()
    want = "/usr/sbin/portwho --prometheus=/var/lib/prometheus/node-exporter/portwho.prom"
    exec_lines = [line for line in svc.split("\n") if line.startswith("ExecStart=")]
    assert exec_lines == ["ExecStart=" + want], exec_lines
    assert "\nOnCalendar=minutely\n" in timer and "\nWantedBy=timers.target\n" in timer
    (tmp_path / "portwho-textfile.service").write_text(
        svc.replace("/usr/sbin/portwho", pwtest.portwho_path()))
    (tmp_path / "portwho-textfile.timer").write_text(timer)
    r = subprocess.run([tool("systemd-analyze"), "verify", "--man=no",
                        str(tmp_path / "portwho-textfile.service"),
                        str(tmp_path / "portwho-textfile.timer")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), r
    f = tmp_path / "out" / "portwho.prom"
    f.parent.mkdir()
    argv = want.replace("/usr/sbin/portwho", pwtest.portwho_path()).replace(
        "/var/lib/prometheus/node-exporter", str(f.parent)).split()
    res = run_portwho(*argv[1:], netns=scene["ns"].name, host=True)
    assert res.rc == 0 and res.stdout == "", pwtest.describe(res)
    assert 'port="%d"' % scene["port_t"] in f.read_text()


# ---- node_exporter --------------------------------------------------------------


def fetch(ns, url):
    r = ns.run(["python3", "-c", "import sys, urllib.request as u; "
                "sys.stdout.write(u.urlopen(sys.argv[1], timeout=5).read().decode())", url],
               timeout=15, text=True)
    return r.stdout if r.returncode == 0 else None


@pytest.fixture(scope="module")
def exporter(tmp_path_factory):
    ns = pwtest.Netns()
    try:
        d = tmp_path_factory.mktemp("textfile-" + secrets.token_hex(3))
        p = ns.spawn([EXPORTER, "--web.listen-address=127.0.0.1:9100",
                      "--collector.disable-defaults", "--collector.textfile",
                      "--collector.textfile.directory=%s" % d], "node_exporter")
        url = "http://127.0.0.1:9100/metrics"
        deadline = time.monotonic() + WAIT
        while fetch(ns, url) is None:
            if p.p.poll() is not None or time.monotonic() > deadline:
                pytest.fail("node_exporter did not answer on %s within %ss (status %s): %s"
                            % (url, WAIT, p.p.poll(), p._stderr()))
            time.sleep(0.2)
        yield {"ns": ns, "dir": d, "url": url}
    finally:
        ns.close()


def test_node_exporter_serves_portwho(scene, exporter):
    f = Path(exporter["dir"]) / "portwho.prom"
    prom(scene, "--prometheus=%s" % f)
    text = fetch(exporter["ns"], exporter["url"])
    assert text is not None
    samples, meta = parse_metrics(text)
    assert samples[("node_textfile_scrape_error", frozenset())] == 0, text[-3000:]
    base = dict(netns=scene["ns"].name, proto="tcp", address="127.0.0.1",
                port=str(scene["port_t"]), state="LISTEN")
    assert samples[("portwho_sockets", frozenset(base.items()))] == 1, text[-6000:]
    held = {dict(k[1])["command"]: v for k, v in samples.items()
            if k[0] == "portwho_socket_holders" and base.items() <= dict(k[1]).items()}
    assert held == {COMM_LABEL: 3}, text[-6000:]
    assert meta["portwho_socket_holders"]["TYPE"] == "gauge"


# ---- =FILE is atomic ------------------------------------------------------------


def test_prometheus_file_atomic(scene, tmp_path):
    f = tmp_path / "portwho.prom"
    full = prom(scene).stdout
    last = full.rstrip("\n").split("\n")[-1]
    assert last.startswith("portwho_info{"), full
    stop, seen, bad = threading.Event(), [0], []

    def reader():
        while not stop.is_set():
            try:
                t = f.read_text()
            except FileNotFoundError:
                continue  # before the first rename only
            seen[0] += 1
            if not (t.endswith("\n") and t.rstrip("\n").split("\n")[-1] == last
                    and t.startswith("# HELP portwho_sockets ")):
                bad.append(t)

    th = threading.Thread(target=reader)
    th.start()
    try:
        for _ in range(25):
            prom(scene, "--prometheus=%s" % f)
    finally:
        stop.set()
        th.join()
    assert not bad, "a reader saw a partial file:\n%r" % bad[0][-500:]
    assert seen[0] > 0
    assert sorted(os.listdir(tmp_path)) == ["portwho.prom"]  # no temporary file left
    assert (f.stat().st_mode & 0o777) == 0o644  # the collector's user can read it


def test_prometheus_file_errors(scene, tmp_path):
    # a directory in the way: the rename fails, the temporary file goes
    target = tmp_path / "taken.prom"
    target.mkdir()
    res = run_portwho("--prometheus=%s" % target, netns=scene["ns"].name, host=True)
    assert res.rc == 2 and res.stdout == "", pwtest.describe(res)
    assert res.stderr == "portwho: cannot write %s: Is a directory\n" % target, res.stderr
    assert sorted(os.listdir(tmp_path)) == ["taken.prom"]
    res = run_portwho("--prometheus=%s" % (tmp_path / "no" / "x.prom"), netns=scene["ns"].name,
                      host=True)
    assert res.rc == 2 and res.stderr.count("\n") == 1, pwtest.describe(res)
    res = run_portwho("--prometheus", "--json")
    assert res.rc == 2 and res.stderr.startswith("portwho: --prometheus cannot be used"), res


# ---- Ansible --------------------------------------------------------------------


def ansible_env(tmp_path):
    env = dict(os.environ, ANSIBLE_HOME=str(tmp_path / "home"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_REMOTE_TEMP=str(tmp_path / "rt"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3")
    env.pop("ANSIBLE_CONFIG", None)
    return env


def test_ansible_module_facts(scene, tmp_path):
    ns, pt = scene["ns"], scene["port_t"]
    tree = tmp_path / "tree"
    r = subprocess.run(
        [tool("ansible"), "localhost", "-i", "localhost,", "-c", "local",
         "-M", str(REPO / "contrib" / "ansible" / "library"), "-m", "portwho_facts",
         "-a", "portwho=%s netns=%s" % (pwtest.portwho_path(), ns.path), "-t", str(tree)],
        cwd=str(tmp_path), env=ansible_env(tmp_path), capture_output=True, text=True,
        timeout=120)
    assert r.returncode == 0, r
    res = json.loads((tree / "localhost").read_text())
    facts = res["ansible_facts"]
    assert res["changed"] is False
    g = group(facts["portwho"], "tcp", pt, netns=ns.inode)
    assert [s["inode"] for s in g["sockets"]] == [scene["tcp"].sock()["inode"]], show(g)
    lst = [e for e in facts["portwho_listening"] if e["port"] == pt]
    assert lst == [{"netns": ns.inode, "netns_name": ns.name, "proto": "tcp", "address": "127.0.0.1", "port": pt,
                    "state": "LISTEN", "service": g["service"], "sockets": 1,
                    "commands": [COMM], "units": lst[0]["units"],
                    "reasons": sorted({x["kind"] for x in g["reasons"]})}], lst
    assert {(e["proto"], e["port"]) for e in facts["portwho_listening"]} == {
        ("tcp", pt), ("udp", scene["port_u"])}


def test_ansible_module_documentation(tmp_path):
    r = subprocess.run([tool("ansible-doc"), "-M", str(REPO / "contrib" / "ansible" / "library"),
                        "portwho_facts"], cwd=str(tmp_path), env=ansible_env(tmp_path),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "> PORTWHO_FACTS" in r.stdout and "- netns" in r.stdout, r


def play(scene, tmp_path, allowed):
    return subprocess.run(
        [tool("ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", "portwho_path=%s" % pwtest.portwho_path(), "-e", "portwho_netns=%s" % scene["ns"].path,
         "-e", '{"allowed_ports": %s}' % list(allowed),
         str(REPO / "contrib" / "ansible" / "unexpected-ports.yml")],
        cwd=str(tmp_path), env=ansible_env(tmp_path), capture_output=True, text=True,
        timeout=180)


def test_ansible_play_fails_on_unexpected_port(scene, tmp_path):
    pt, pu = scene["port_t"], scene["port_u"]
    r = play(scene, tmp_path, [pt])
    assert r.returncode == 2, r
    assert "unexpected open ports: udp 127.0.0.1:%d (no visible holder)" % pu not in r.stdout
    m = re.search(r'"msg": "unexpected open ports: ([^"]*)"', r.stdout)
    assert m and m.group(1).startswith("udp 127.0.0.1:%d (sockhold" % pu), r.stdout
    assert ":%d " % pt not in m.group(1), r.stdout
    r = play(scene, tmp_path, [pt, pu])
    assert r.returncode == 0 and "failed=0" in r.stdout, r
