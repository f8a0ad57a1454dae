# SPDX-License-Identifier: MIT
"""Real Docker (Debian's docker.io 20.10) for e2e tests, inside a private netns.

A DockerDaemon is a dockerd of its own: started with
`nsenter --net=/run/netns/NAME dockerd --data-root ... --exec-root ...
--pidfile ... -H unix://...` (not `ip netns exec`, which remounts /sys and
hides the cgroup mounts: KERNEL.md §8), so its bridge, veths and iptables-nft
rules live in the test's namespace only. Everything lives in a random temp
directory; close() stops the containers and the daemon (by PID) and removes
the directory.

The CLI is never used (/usr/local/bin/docker is foreign): the test talks to
the Engine API over the daemon's unix socket. The image is built offline: a
tar with busybox from busybox-static, imported with
POST /images/create?fromSrc=-.

    @pytest.fixture(scope="module")
    def dockerd(module_netns):
        d = dockerfix.DockerDaemon(module_netns)        # userland proxy
        # dockerfix.DockerDaemon(ns, userland_proxy=False) for NAT only
        yield d
        d.close()

    c = dockerd.run("web", ["httpd", "-f", "-p", "80"], publish={80: 8088})
    c.id, c.name, c.pid (host PID of the container's process)
"""
import http.client
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time

import pytest

BUSYBOX = "/bin/busybox"
IMAGE = "pwbusy:latest"
START_WAIT = 60  # seconds for dockerd to answer /_ping


def available():
    """None when this machine can run the fixture, else why not."""
    for exe in ("dockerd", "containerd", "runc", "nsenter"):
        if shutil.which(exe) is None:
            return "%s not installed (docker.io, util-linux)" % exe
    if not os.path.exists(BUSYBOX):
        return "%s missing (busybox-static)" % BUSYBOX
    return None


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def busybox_tar():
    """A root filesystem: /bin/busybox and a few applet links."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "www", "etc", "proc", "sys", "dev"):
            ti = tarfile.TarInfo(d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            tar.addfile(ti)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in ("sh", "httpd", "nc", "sleep", "cat"):
            ti = tarfile.TarInfo("bin/" + applet)
            ti.type = tarfile.SYMTYPE
            ti.linkname = "busybox"
            tar.addfile(ti)
        index = b"hello from a container\n"
        ti = tarfile.TarInfo("www/index.html")
        ti.size = len(index)
        tar.addfile(ti, io.BytesIO(index))
    return buf.getvalue()


class Container:
    def __init__(self, daemon, cid, name):
        self.daemon = daemon
        self.id = cid
        self.name = name
        info = daemon.api("GET", "/containers/%s/json" % cid)
        self.pid = info["State"]["Pid"]
        self.info = info


class DockerDaemon:
    def __init__(self, netns, userland_proxy=True, storage="vfs"):
        why = available()
        if why:
            pytest.fail("dockerfix: " + why)
        self.netns = netns
        self.userland_proxy = userland_proxy
        self.dir = tempfile.mkdtemp(prefix="pwdocker-")
        self.sock = os.path.join(self.dir, "docker.sock")
        self.pidfile = os.path.join(self.dir, "dockerd.pid")
        self.data_root = os.path.join(self.dir, "data")
        self.exec_root = os.path.join(self.dir, "exec")
        self.log_path = os.path.join(self.dir, "dockerd.log")
        self.containers = []
        self.proc = None
        argv = ["nsenter", "--net=" + netns.path, "dockerd",
                "--data-root", self.data_root, "--exec-root", self.exec_root,
                "--pidfile", self.pidfile, "-H", "unix://" + self.sock,
                "--storage-driver", storage, "--userland-proxy=%s" % str(userland_proxy).lower(),
                "--bridge", "docker0", "--log-level", "warn", "--dns", "127.0.0.1"]
        self.argv = argv
        try:
            self.log = open(self.log_path, "wb")
            # own session: close() kills the group (dockerd, its containerd)
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            self._wait_ready()
            self._import_image()
        except BaseException:
            self.close()
            raise

    @property
    def pid(self):
        return self.proc.pid

    def _log_tail(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-3000:].decode(errors="replace")
        except OSError:
            return ""

    def _wait_ready(self):
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("dockerd exited (status %s)\n argv: %s\n log: %s"
                            % (self.proc.returncode, self.argv, self._log_tail()))
            if os.path.exists(self.sock):
                try:
                    c = _UnixHTTP(self.sock, timeout=5)
                    c.request("GET", "/_ping")
                    if c.getresponse().status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.2)
        pytest.fail("dockerd did not answer on %s within %ss\n log: %s"
                    % (self.sock, START_WAIT, self._log_tail()))

    def api(self, method, path, body=None, raw=None, timeout=120, ok=(200, 201, 204, 304)):
        """One Engine API call; the decoded JSON answer (or None)."""
        c = _UnixHTTP(self.sock, timeout=timeout)
        headers = {}
        data = None
        if raw is not None:
            data = raw
            headers["Content-Type"] = "application/x-tar"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        out = r.read()
        c.close()
        if r.status not in ok:
            pytest.fail("docker API %s %s: HTTP %d %s\n log: %s"
                        % (method, path, r.status, out[:2000], self._log_tail()))
        if not out:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return out.decode(errors="replace")

    def _import_image(self):
        repo, tag = IMAGE.split(":")
        self.api("POST", "/images/create?fromSrc=-&repo=%s&tag=%s" % (repo, tag),
                 raw=busybox_tar())

    def run(self, name, cmd, publish=None, proto="tcp", host_ip="127.0.0.1", workdir="/www"):
        """Create and start a container; publish = {container_port: host_port}."""
        body = {"Image": IMAGE, "Cmd": ["/bin/busybox"] + list(cmd), "WorkingDir": workdir,
                "HostConfig": {"NetworkMode": "bridge"}}
        if publish:
            body["ExposedPorts"] = {"%d/%s" % (cp, proto): {} for cp in publish}
            body["HostConfig"]["PortBindings"] = {
                "%d/%s" % (cp, proto): [{"HostIp": host_ip, "HostPort": str(hp)}]
                for cp, hp in publish.items()}
        r = self.api("POST", "/containers/create?name=" + name, body=body)
        cid = r["Id"]
        self.containers.append(cid)
        self.api("POST", "/containers/%s/start" % cid)
        return Container(self, cid, name)

    def proxies(self):
        """PIDs of this daemon's docker-proxy processes."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:  # other tests' processes may have any bytes in their names
                with open("/proc/%s/stat" % d, "rb") as f:
                    st = f.read().decode(errors="replace")
                with open("/proc/%s/comm" % d, "rb") as f:
                    comm = f.read().decode(errors="replace").strip()
            except OSError:
                continue
            ppid = int(st.rsplit(")", 1)[1].split()[1])
            if comm == "docker-proxy" and ppid == self.pid:
                out.append(int(d))
        return sorted(out)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            for cid in self.containers:
                try:
                    self.api("DELETE", "/containers/%s?force=1" % cid, timeout=30,
                             ok=(200, 204, 404))
                except BaseException:  # pytest.fail is BaseException
                    pass
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            try:  # containerd, shims and anything else of the session
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._kill_leftovers()
        self._umount_all()
        self._rmdir_cgroups()
        shutil.rmtree(self.dir, ignore_errors=True)
        try:
            self.log.close()
        except (AttributeError, OSError):
            pass

    def _kill_leftovers(self):
        """Shims and container processes whose command line or cwd names our
        temp directory (started by this daemon, reparented away)."""
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if self.dir.encode() in cmd:
                try:
                    os.kill(int(d), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def _rmdir_cgroups(self):
        """Each container's cgroup (docker removes them itself; this covers a
        daemon killed early), then the shared /docker parent if it is empty
        (rmdir of a cgroup in use fails, so another daemon's stay)."""
        root = "/sys/fs/cgroup"
        try:
            hier = os.listdir(root)
        except OSError:
            return
        for h in hier:
            for cid in self.containers:
                try:
                    os.rmdir(os.path.join(root, h, "docker", cid))
                except OSError:
                    pass
            try:
                os.rmdir(os.path.join(root, h, "docker"))
            except OSError:
                pass

    def _umount_all(self):
        mounts = []
        try:
            with open("/proc/self/mountinfo") as f:
                for line in f:
                    mp = line.split()[4]
                    if mp.startswith(self.dir + "/"):
                        mounts.append(mp)
        except OSError:
            return
        for mp in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True)
