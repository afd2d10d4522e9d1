"""Shared fixtures of the stand-in tests: REAL etcd and nats-server on 127.0.0.1 (Debian packages
etcd-server and nats-server), processes in their own session, bounded polls (never a fixed sleep)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIME = os.path.dirname(HERE)
PY = os.path.join(RUNTIME, "python")
BIN = os.path.join(RUNTIME, "bin")
EXAMPLES = os.path.join(RUNTIME, "workspace", "examples")
sys.path.insert(0, PY)



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return last
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last={last!r})")


def http_json(url, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class Services:
    """Real etcd + nats-server for the whole test module."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="standin-test-")
        self.etcd_port, peer, self.nats_port = free_port(), free_port(), free_port()
        self.procs = []
        self.procs.append(subprocess.Popen(
            ["etcd", "--name", "t", "--data-dir", os.path.join(self.dir, "etcd"),
             "--listen-client-urls", f"http://127.0.0.1:{self.etcd_port}",
             "--advertise-client-urls", f"http://127.0.0.1:{self.etcd_port}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-cluster", f"t=http://127.0.0.1:{peer}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        self.procs.append(subprocess.Popen(
            ["nats-server", "-a", "127.0.0.1", "-p", str(self.nats_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        wait_for(lambda: http_json(f"http://127.0.0.1:{self.etcd_port}/health")[0] == 200, 30, "etcd")
        wait_for(lambda: socket.create_connection(("127.0.0.1", self.nats_port), 1).close() or True, 30, "nats")

    def env(self, **kw):
        e = dict(os.environ)
        e.update(PYTHONPATH=PY, PATH=BIN + os.pathsep + e.get("PATH", ""),
                 ETCD_ENDPOINTS=f"http://127.0.0.1:{self.etcd_port}",
                 NATS_SERVER=f"nats://127.0.0.1:{self.nats_port}", PYTHONUNBUFFERED="1")
        for k in [k for k in e if k.startswith(("DYN_", "SLURM_"))]:
            del e[k]
        # the host's /etc/dynamo-release must not choose the release of a test
        e["DYN_STANDIN_RELEASE_FILE"] = os.path.join(self.dir, "no-dynamo-release")
        for k, v in kw.items():
            if v is None:
                e.pop(k, None)          # NATS_SERVER=None: not exported
            else:
                e[k] = str(v)
        return e

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


SVC = None
_USERS = 0


def start_services():
    """setUpModule of every test module: one etcd + nats-server pair shared by the modules."""
    global SVC, _USERS
    for tool in ("etcd", "nats-server"):
        if not shutil.which(tool):
            raise unittest.SkipTest(f"{tool} not installed (apt-get install etcd-server nats-server)")
    if SVC is None:
        SVC = Services()
    _USERS += 1


def stop_services():
    global SVC, _USERS
    _USERS -= 1
    if SVC and _USERS <= 0:
        SVC.close()
        SVC = None


def localhost_nats_running() -> bool:
    """Something on the upstream default nats://localhost:4222 (then "no NATS" cannot be tested)."""
    try:
        socket.create_connection(("127.0.0.1", 4222), 0.5).close()
        return True
    except OSError:
        return False


class Base(unittest.TestCase):
    def setUp(self):
        self.procs = []
        self.logdir = tempfile.mkdtemp(prefix="standin-log-")

    def tearDown(self):
        for p, log in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            log.close()
        # leftover registrations of killed processes would leak into the next test: wipe them
        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{SVC.etcd_port}/v3/kv/deleterange",
            data=json.dumps({"key": "djEv", "range_end": "djEw"}).encode()), timeout=5).read()  # v1/ .. v10
        shutil.rmtree(self.logdir, ignore_errors=True)

    def start(self, args, cwd=None, **env):
        log = open(os.path.join(self.logdir, f"p{len(self.procs)}.log"), "w+")
        p = subprocess.Popen(args, cwd=cwd, env=SVC.env(**env), stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs.append((p, log))
        return p

    def output(self, p):
        for q, log in self.procs:
            if q is p:
                log.flush()
                log.seek(0)
                return log.read()
        return ""

    def run_cli(self, args, cwd=None, timeout=30, **env):
        return subprocess.run(args, cwd=cwd, env=SVC.env(**env), capture_output=True, text=True, timeout=timeout)

    # -- shared helpers --------------------------------------------------------------------------
    def rejects(self, argv, flag, version="1.5.1", cwd=None, **env):
        """argparse failure: exit 2, the usage first, one `<prog>: error: ...` line naming `flag`."""
        r = self.run_cli(argv, cwd=cwd, DYN_STANDIN_VERSION=version, **env)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        self.assertTrue(lines[0].startswith("usage: "), r.stderr)
        self.assertRegex(lines[-1], r"^\S.*: error: ", r.stderr)
        self.assertIn(flag, lines[-1])
        return lines[-1]

    def module(self, name, *args, version="1.5.1", **env):
        return self.start([sys.executable, "-m", f"dynamo.{name}", *args], DYN_STANDIN_VERSION=version, **env)

    def registered(self):
        """Every instance value in etcd (v1/instances/)."""
        import base64
        st, res = http_json(f"http://127.0.0.1:{SVC.etcd_port}/v3/kv/range",
                            {"key": "djEvaW5zdGFuY2VzLw==", "range_end": "djEvaW5zdGFuY2VzMA=="})
        return [json.loads(base64.b64decode(kv["value"])) for kv in res.get("kvs", [])]

    def wait_registered(self, n, timeout=20):
        return wait_for(lambda: (lambda r: r if len(r) == n else None)(self.registered()), timeout,
                        f"{n} registration(s)")

    def frontend(self, *extra, **env):
        port = free_port()
        p = self.start([sys.executable, "-m", "dynamo.frontend", "--http-host", "127.0.0.1",
                        "--http-port", str(port), *extra], **env)
        wait_for(lambda: http_json(f"http://127.0.0.1:{port}/live")[0] == 200, 20, "frontend /live")
        return p, f"http://127.0.0.1:{port}"

    def health(self, url):
        return http_json(url + "/health")[1]

    def wait_instances(self, url, n, component=None, timeout=20):
        def ok():
            insts = self.health(url)["instances"]
            if component:
                insts = [i for i in insts if i["component"] == component]
            return len(insts) == n and (insts or True)
        return wait_for(ok, timeout, f"{n} instance(s) of {component or 'any'}")


