"""Tests of the Dynamo stand-in against REAL etcd and nats-server on 127.0.0.1 (Debian packages).

    python3 -m unittest discover -s testbed/runtime/tests -v

Every wait is a bounded poll on a condition (never a fixed sleep). Processes are started with their
own session and always killed in tearDown.
"""

from __future__ import annotations

import hashlib
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

from dynamo import _flags, _yaml  # noqa: E402


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
        e.update({k: str(v) for k, v in kw.items()})
        return e

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


SVC = None


def setUpModule():
    global SVC
    for tool in ("etcd", "nats-server"):
        if not shutil.which(tool):
            raise unittest.SkipTest(f"{tool} not installed (apt-get install etcd-server nats-server)")
    SVC = Services()


def tearDownModule():
    if SVC:
        SVC.close()


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


# ----------------------------------------------------------------------------------------- flags
class FlagTests(Base):
    def rejects(self, module, args, flag, version="1.1.0"):
        r = self.run_cli([sys.executable, "-m", module, *args], DYN_STANDIN_VERSION=version)
        self.assertEqual(r.returncode, 2, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(flag, lines[0])

    def test_unknown_flag_each_component(self):
        self.rejects("dynamo.frontend", ["--bogus-flag", "1"], "--bogus-flag")
        self.rejects("dynamo.vllm", ["--model", "m", "--bogus-flag"], "--bogus-flag")
        self.rejects("dynamo.sglang", ["--model-path", "m", "--bogus-flag", "x"], "--bogus-flag")
        self.rejects("dynamo.trtllm", ["--model-path", "m", "--bogus-flag"], "--bogus-flag")

    def test_missing_required(self):
        self.rejects("dynamo.sglang", ["--tp", "2"], "--model-path")
        self.rejects("dynamo.trtllm", [], "--model-path")
        self.rejects("dynamo.vllm", [], "--model")

    def test_version_rules_vllm(self):
        self.rejects("dynamo.vllm", ["--model", "m", "--disaggregation-mode", "prefill"],
                     "--disaggregation-mode", version="0.9.0")
        self.rejects("dynamo.vllm", ["--model", "m", "--is-decode-worker"], "--is-decode-worker", version="0.6.0")
        self.rejects("dynamo.vllm", ["--model", "m", "--nnodes", "2"], "--nnodes", version="0.8.0")
        self.rejects("dynamo.vllm", ["--model", "m", "--is-prefill-worker", "--disaggregation-mode", "prefill"],
                     "--disaggregation-mode")
        self.rejects("dynamo.vllm", ["--model", "m", "--disaggregation-mode", "prefill_and_decode"], "--disaggregation-mode")
        self.rejects("dynamo.vllm", ["--model", "m", "--connector", "nixl"], "--connector", version="1.0.0")

    def test_version_rules_trtllm_sglang(self):
        self.rejects("dynamo.trtllm", ["--model-path", "m", "--disaggregation-mode", "agg"], "--disaggregation-mode")
        self.rejects("dynamo.trtllm", ["--model-path", "m", "--disaggregation-strategy", "decode_first"],
                     "--disaggregation-strategy", version="0.7.0")
        self.rejects("dynamo.sglang", ["--model-path", "m", "--disaggregation-mode", "agg"], "--disaggregation-mode")
        self.rejects("dynamo.frontend", ["--router-mode", "fastest"], "--router-mode")

    def test_accepts_and_deprecation(self):
        vals, warns, _ = _flags.parse(_flags.VLLM, ["--model", "m", "--is-prefill-worker"], "1.1.0")
        self.assertTrue(vals["is_prefill_worker"])
        self.assertTrue(any("deprecated" in w for w in warns))
        vals, warns, _ = _flags.parse(_flags.VLLM, ["--model", "m", "--is-prefill-worker"], "0.6.0")
        self.assertEqual(warns, [])
        vals, _, _ = _flags.parse(_flags.SGLANG, ["--model-path", "m", "--tp", "8", "--nnodes", "2", "--node-rank", "1",
                                                  "--dist-init-addr", "10.0.0.1:29500", "--enable-dp-attention"], "1.1.0")
        self.assertEqual(vals["tp_size"], "8")
        vals, _, _ = _flags.parse(_flags.FRONTEND, [], "1.1.0")
        self.assertEqual(vals["http_port"], "8000")

    def test_module_absent_in_old_release(self):
        r = self.run_cli([sys.executable, "-m", "dynamo.frontend"], DYN_STANDIN_VERSION="0.3.2")
        self.assertEqual(r.returncode, 1)
        self.assertIn("No module named dynamo.frontend", r.stderr)
        r = self.run_cli(["dynamo", "serve", "graphs.agg:Frontend", "-f", "configs/disagg.yaml"],
                         cwd=os.path.join(EXAMPLES, "vllm_v1"), DYN_STANDIN_VERSION="1.1.0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("removed in Dynamo 0.4.0", r.stderr)

    def test_mocker_flags(self):
        emitted = ["--model-path", "Qwen/Qwen3-0.6B", "--model-name", "qwen", "--disaggregation-mode", "prefill",
                   "--speedup-ratio", "0.5", "--num-gpu-blocks-override", "2048", "--bootstrap-ports", "12345"]
        vals, warns, _ = _flags.parse(_flags.MOCKER, emitted + ["--block-size", "64", "--no-enable-prefix-caching",
                                                                "--num-workers", "1", "--max-num-seqs", "8"], "1.0.0")
        self.assertEqual((vals["disaggregation_mode"], vals["bootstrap_ports"], warns), ("prefill", "12345", []))
        self.assertFalse(vals["enable_prefix_caching"])
        self.rejects("dynamo.mocker", ["--model-path", "m", "--bogus-flag", "1"], "--bogus-flag")
        self.rejects("dynamo.mocker", ["--model-name", "m"], "--model-path")
        self.rejects("dynamo.mocker", ["--model-path", "m", "--disaggregation-mode", "prefill_and_decode"],
                     "--disaggregation-mode")
        self.rejects("dynamo.mocker", ["--model-path", "m", "--speedup-ratio", "fast"], "--speedup-ratio")
        self.rejects("dynamo.mocker", ["--model-path", "m", "--num-gpu-blocks-override", "1.5"],
                     "--num-gpu-blocks-override")
        self.rejects("dynamo.mocker", ["--model-path", "m", "--is-decode-worker", "--disaggregation-mode", "decode"],
                     "--disaggregation-mode")
        self.rejects("dynamo.mocker", ["--model-path", "m", "--tensor-parallel-size", "2"], "--tensor-parallel-size")
        # checked after parsing, as upstream (ValueError -> exit 1)
        r = self.run_cli([sys.executable, "-m", "dynamo.mocker", "--model-path", "m", "--bootstrap-ports", "1,2"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("--bootstrap-ports", r.stderr)
        r = self.run_cli([sys.executable, "-m", "dynamo.mocker", "--model-path", "m", "--extra-engine-args",
                          "/nonexistent/mocker.json"])
        self.assertEqual(r.returncode, 1, r.stderr)

    def test_mocker_absent_before_1_0(self):
        for v in ("0.9.0", "0.4.1"):
            r = self.run_cli([sys.executable, "-m", "dynamo.mocker", "--model-path", "m"], DYN_STANDIN_VERSION=v)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("No module named dynamo.mocker", r.stderr)
            self.assertIn("first in 1.0.0", r.stderr)

    def test_sglang_split_modules_only_in_0_4_0(self):
        for module in ("dynamo.sglang.worker", "dynamo.sglang.decode_worker"):
            for v, why in (("0.4.1", "removed in 0.4.1"), ("1.1.0", "removed in 0.4.1"), ("0.3.2", "first in 0.4.0")):
                r = self.run_cli([sys.executable, "-m", module, "--model-path", "m"], DYN_STANDIN_VERSION=v)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(f"No module named {module}", r.stderr)
                self.assertIn(why, r.stderr)
            self.rejects(module, ["--model-path", "m", "--bogus-flag"], "--bogus-flag", version="0.4.0")
            self.rejects(module, ["--tp", "2"], "--model-path", version="0.4.0")
            self.rejects(module, ["--model-path", "m", "--endpoint", "dyn://a.b.c"], "--endpoint", version="0.4.0")
        r = self.run_cli([sys.executable, "-m", "dynamo.sglang", "--model-path", "m"], DYN_STANDIN_VERSION="0.4.0")
        self.assertEqual(r.returncode, 1)
        self.assertIn("No module named dynamo.sglang", r.stderr)
        # worker/main.py strips --migration-limit before ServerArgs; decode_worker does not
        _flags.parse(_flags.SGLANG_WORKER, ["--model-path", "m", "--migration-limit", "3"], "0.4.0")
        self.rejects("dynamo.sglang.decode_worker", ["--model-path", "m", "--migration-limit", "3"],
                     "--migration-limit", version="0.4.0")

    def test_yaml_subset(self):
        doc = _yaml.loads("a:\n  b: [x, 'y z']\n  c: '{\"k\":1}'\n  d: true  # c\nl:\n  - 1\n  - k: v\n    m: 2\n")
        self.assertEqual(doc, {"a": {"b": ["x", "y z"], "c": '{"k":1}', "d": True}, "l": [1, {"k": "v", "m": 2}]})


# ----------------------------------------------------------------------------------------- serving
class ServingTests(Base):
    def worker(self, module, *args, **env):
        return self.start([sys.executable, "-m", module, *args], **env)

    def test_health_unhealthy_then_registered(self):
        _, url = self.frontend()
        h = self.health(url)
        self.assertEqual(h["status"], "unhealthy")
        self.assertEqual(h["message"], "No endpoints available")
        self.worker("dynamo.vllm", "--model", "m1")
        insts = self.wait_instances(url, 1)
        h = self.health(url)
        self.assertEqual(h["status"], "healthy")
        self.assertEqual(h["endpoints"], ["dyn://dynamo.backend.generate"])
        self.assertEqual(insts[0]["endpoint"], "generate")
        # the raw etcd key/value format
        st, res = http_json(f"http://127.0.0.1:{SVC.etcd_port}/v3/kv/range",
                            {"key": "djEvaW5zdGFuY2VzLw==", "range_end": "djEvaW5zdGFuY2VzMA=="})
        import base64
        key = base64.b64decode(res["kvs"][0]["key"]).decode()
        val = json.loads(base64.b64decode(res["kvs"][0]["value"]))
        self.assertEqual(key, f"v1/instances/dynamo/backend/generate/{val['instance_id']:x}")
        self.assertEqual(val["model"], "m1")
        self.assertNotEqual(res["kvs"][0].get("lease", "0"), "0")

    def test_disagg_chat_through_prefill_and_decode(self):
        _, url = self.frontend()
        self.worker("dynamo.vllm", "--model", "Qwen/Q", "--disaggregation-mode", "prefill")
        self.worker("dynamo.vllm", "--model", "Qwen/Q", "--disaggregation-mode", "decode")
        self.wait_instances(url, 1, "prefill")
        self.wait_instances(url, 1, "backend")
        st, models = http_json(url + "/v1/models")
        self.assertEqual([m["id"] for m in models["data"]], ["Qwen/Q"])
        st, out = http_json(url + "/v1/chat/completions", {"model": "Qwen/Q", "messages": [
            {"role": "user", "content": "hello there"}]})
        self.assertEqual(st, 200, out)
        self.assertEqual(out["object"], "chat.completion")
        self.assertEqual(out["choices"][0]["message"]["content"], "[Qwen/Q] stand-in reply to: hello there")
        self.assertIsNotNone(out["dyn_route"]["prefill"])
        self.assertIsNotNone(out["dyn_route"]["decode"])

    def test_aggregated_and_model_404(self):
        _, url = self.frontend()
        self.worker("dynamo.sglang", "--model-path", "/models/x", "--served-model-name", "agg-model")
        self.wait_instances(url, 1, "backend")
        st, out = http_json(url + "/v1/chat/completions", {"model": "agg-model", "messages": [
            {"role": "user", "content": "hi"}]})
        self.assertEqual(st, 200, out)
        self.assertIsNone(out["dyn_route"]["prefill"])
        st, out = http_json(url + "/v1/chat/completions", {"model": "other", "messages": []})
        self.assertEqual(st, 404)

    def test_mocker_disagg_chat_through_prefill_and_decode(self):
        _, url = self.frontend()
        sys_port, boot = free_port(), free_port()
        common = ["--model-path", "Qwen/Qwen3-0.6B", "--model-name", "qwen-mock", "--speedup-ratio", "1"]
        pre = self.worker("dynamo.mocker", *common, "--disaggregation-mode", "prefill",
                          "--num-gpu-blocks-override", "2048", "--bootstrap-ports", str(boot), DYN_SYSTEM_PORT=sys_port)
        dec = self.worker("dynamo.mocker", *common, "--disaggregation-mode", "decode", DYN_SYSTEM_PORT=free_port())
        p = self.wait_instances(url, 1, "prefill")[0]
        d = self.wait_instances(url, 1, "backend")[0]
        self.assertEqual((p["role"], d["role"], p["model"]), ("prefill", "decode", "qwen-mock"))
        wait_for(lambda: http_json(f"http://127.0.0.1:{sys_port}/health")[1].get("status") == "ready", 10, "system /health")
        self.assertEqual([m["id"] for m in http_json(url + "/v1/models")[1]["data"]], ["qwen-mock"])
        st, out = http_json(url + "/v1/chat/completions", {"model": "qwen-mock", "messages": [
            {"role": "user", "content": "hello mocker"}]})
        self.assertEqual(st, 200, out)
        self.assertEqual(out["choices"][0]["message"]["content"], "[qwen-mock] stand-in reply to: hello mocker")
        self.assertIsNotNone(out["dyn_route"]["prefill"])
        self.assertIsNotNone(out["dyn_route"]["decode"])
        self.assertIn(f"bootstrap server on 0.0.0.0:{boot}", self.output(pre))
        # a second prefill mocker on the same bootstrap port fails like a port clash on a node does
        r = self.run_cli([sys.executable, "-m", "dynamo.mocker", *common, "--disaggregation-mode", "prefill",
                          "--bootstrap-ports", str(boot)])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"bootstrap port {boot}", r.stdout + r.stderr)
        for proc in (pre, dec):
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10), 0)
        self.wait_instances(url, 0, timeout=3)

    def test_mocker_agg_num_workers_and_endpoint(self):
        _, url = self.frontend()
        self.worker("dynamo.mocker", "--model-path", "m", "--disaggregation-mode", "agg", "--num-workers", "2",
                    "--speedup-ratio", "0", DYN_SYSTEM_PORT=free_port())
        insts = self.wait_instances(url, 2, "backend")
        self.assertEqual({i["role"] for i in insts}, {"agg"})
        self.worker("dynamo.mocker", "--model-path", "m", "--endpoint", "dyn://dynamo.mockpre.generate",
                    "--is-prefill-worker")
        self.wait_instances(url, 1, "mockpre")
        st, out = http_json(url + "/v1/completions", {"model": "m", "prompt": "p"})
        self.assertEqual(st, 200, out)

    def test_sglang_split_modules_0_4_0_disagg(self):
        # upstream v0.4.0: worker/main.py serves dynamo.worker.generate + register_llm and calls
        # dynamo.decode.generate itself; decode_worker/main.py serves dynamo.decode.generate, no model
        v = dict(DYN_STANDIN_VERSION="0.4.0")
        _, url = self.frontend(**v)
        pre = self.worker("dynamo.sglang.worker", "--model-path", "/m", "--served-model-name", "sg",
                          "--disaggregation-mode", "prefill", "--migration-limit", "2", **v)
        dec = self.worker("dynamo.sglang.decode_worker", "--model-path", "/m", "--served-model-name", "sg",
                          "--disaggregation-mode", "decode", DYN_NAMESPACE="ignored", **v)
        w = self.wait_instances(url, 1, "worker")[0]
        d = self.wait_instances(url, 1, "decode")[0]
        self.assertEqual((w["role"], w["model"], w["namespace"]), ("prefill", "sg", "dynamo"))
        self.assertEqual((d["role"], d["model"], d["namespace"]), ("decode", None, "dynamo"))
        self.assertEqual(self.health(url)["endpoints"], ["dyn://dynamo.decode.generate", "dyn://dynamo.worker.generate"])
        self.assertEqual([m["id"] for m in http_json(url + "/v1/models")[1]["data"]], ["sg"])
        st, out = http_json(url + "/v1/chat/completions", {"model": "sg", "messages": [{"role": "user", "content": "x"}]})
        self.assertEqual(st, 200, out)
        self.assertEqual(out["choices"][0]["message"]["content"], "[sg] stand-in reply to: x")
        r = out["dyn_route"]
        self.assertEqual((r["prefill"], r["decode"]), (w["host"], d["host"]))
        self.assertEqual((r["prefill_instance"], r["decode_instance"]),
                         (f"{w['instance_id']:x}", f"{d['instance_id']:x}"))
        self.assertIn("-> decode", self.output(pre))             # the worker made the decode hop
        self.assertIn("decode request", self.output(dec))
        # without a decode instance the worker cannot answer: 502 from it, 503 from the frontend
        dec.send_signal(signal.SIGTERM)
        self.assertEqual(dec.wait(10), 0)
        self.wait_instances(url, 0, "decode", timeout=5)
        st, out = http_json(url + "/v1/chat/completions", {"model": "sg", "messages": [{"role": "user", "content": "x"}]})
        self.assertEqual(st, 503, out)
        self.assertIn("502", out["error"]["message"])
        self.assertIn("no instance of dyn://dynamo.decode.generate", self.output(pre))

    def test_sglang_split_modules_0_4_0_agg_and_implied_decode(self):
        v = dict(DYN_STANDIN_VERSION="0.4.0")
        _, url = self.frontend(**v)
        # aggregated: worker without --disaggregation-mode answers itself
        self.worker("dynamo.sglang.worker", "--model-path", "/m", "--served-model-name", "sg-agg", **v)
        a = self.wait_instances(url, 1, "worker")[0]
        self.assertEqual((a["role"], a["model"]), ("agg", "sg-agg"))
        st, out = http_json(url + "/v1/completions", {"model": "sg-agg", "prompt": "p"})
        self.assertEqual(st, 200, out)
        self.assertIsNone(out["dyn_route"]["prefill"])
        self.assertEqual(out["dyn_route"]["decode_instance"], f"{a['instance_id']:x}")
        # decode_worker always decodes, and is never a model the frontend serves
        d = self.worker("dynamo.sglang.decode_worker", "--model-path", "/m", "--served-model-name", "sg-dec", **v)
        self.assertEqual(self.wait_instances(url, 1, "decode")[0]["role"], "decode")
        self.assertIn("always serves decode", self.output(d))
        self.assertEqual([m["id"] for m in http_json(url + "/v1/models")[1]["data"]], ["sg-agg"])
        st, _ = http_json(url + "/v1/chat/completions", {"model": "sg-dec", "messages": []})
        self.assertEqual(st, 404)

    def test_trtllm_components(self):
        _, url = self.frontend()
        self.worker("dynamo.trtllm", "--model-path", "m", "--disaggregation-mode", "prefill")
        self.worker("dynamo.trtllm", "--model-path", "m", "--disaggregation-mode", "decode")
        self.wait_instances(url, 2)
        self.assertEqual(sorted(e for e in self.health(url)["endpoints"]),
                         ["dyn://dynamo.prefill.generate", "dyn://dynamo.tensorrt_llm.generate"])

    def test_sigterm_deregisters(self):
        _, url = self.frontend()
        p = self.worker("dynamo.vllm", "--model", "m")
        self.wait_instances(url, 1)
        t = time.monotonic()
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(10), 0)
        self.wait_instances(url, 0, timeout=3)   # revoked at once, not after the 10 s TTL
        self.assertLess(time.monotonic() - t, 5)
        self.assertIn("revoked", self.output(p))

    def test_secrets_hook_never_logs_value(self):
        secret = "hf_SUPERSECRET_value_123"
        p = self.worker("dynamo.vllm", "--model", "m", DYN_STANDIN_SECRETS="HF_TOKEN,NOPE", HF_TOKEN=secret)
        wait_for(lambda: "registered" in self.output(p), 20, "registration")
        out = self.output(p)
        self.assertIn(f"secret HF_TOKEN received sha256={hashlib.sha256(secret.encode()).hexdigest()[:12]}", out)
        self.assertIn("secret NOPE missing", out)
        self.assertNotIn(secret, out)

    def test_exit_after_and_start_delay_hooks(self):
        p = self.worker("dynamo.vllm", "--model", "m", DYN_STANDIN_START_DELAY="0.5", DYN_STANDIN_EXIT_AFTER="0.5")
        self.assertEqual(p.wait(20), 3)
        self.assertIn("START_DELAY", self.output(p))

    def test_system_port_health(self):
        port = free_port()
        self.worker("dynamo.vllm", "--model", "m", DYN_SYSTEM_PORT=port)
        wait_for(lambda: http_json(f"http://127.0.0.1:{port}/health")[1].get("status") == "ready", 20, "system /health")

    def test_unreachable_services_exit_1(self):
        r = self.run_cli([sys.executable, "-m", "dynamo.vllm", "--model", "m"],
                         ETCD_ENDPOINTS=f"127.0.0.1:{free_port()}", DYN_STANDIN_CONNECT_TIMEOUT="1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach etcd", r.stdout + r.stderr)
        r = self.run_cli([sys.executable, "-m", "dynamo.vllm", "--model", "m"],
                         NATS_SERVER=f"nats://127.0.0.1:{free_port()}", DYN_STANDIN_CONNECT_TIMEOUT="1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot connect to NATS", r.stdout + r.stderr)

    def test_multinode_sglang_rank_wait(self):
        _, url = self.frontend()
        port = free_port()
        common = ["--model-path", "big", "--tp", "16", "--nnodes", "2", "--dist-init-addr", f"127.0.0.1:{port}"]
        r0 = self.worker("dynamo.sglang", *common, "--node-rank", "0", DYN_STANDIN_HOST="127.0.0.1")
        wait_for(lambda: "waiting for 1 peer" in self.output(r0), 20, "rank 0 waiting")
        self.assertEqual(self.health(url)["instances"], [])   # no registration before all ranks joined
        r1 = self.worker("dynamo.sglang", *common, "--node-rank", "1", DYN_STANDIN_HOST="127.0.0.1")
        self.wait_instances(url, 1, "backend")
        self.assertIsNone(r1.poll())
        r0.send_signal(signal.SIGTERM)
        self.assertEqual(r0.wait(10), 0)
        self.assertEqual(r1.wait(10), 0)   # follower ends with its leader

    def test_multinode_rank0_timeout(self):
        r = self.run_cli([sys.executable, "-m", "dynamo.vllm", "--model", "m", "--nnodes", "2", "--node-rank", "0",
                          "--master-addr", "127.0.0.1", "--master-port", str(free_port())],
                         DYN_STANDIN_PEER_TIMEOUT="1", DYN_STANDIN_HOST="127.0.0.1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("timed out", r.stdout + r.stderr)

    def test_trtllm_llmapi_launch_single_task(self):
        r = self.run_cli(["trtllm-llmapi-launch", sys.executable, "-c", "import sys; print('child ran'); sys.exit(7)"])
        self.assertEqual(r.returncode, 7)
        self.assertIn("child ran", r.stdout)

    def test_trtllm_llmapi_launch_two_ranks(self):
        job = str(90000 + os.getpid() % 1000)
        env = dict(SLURM_NTASKS="2", SLURM_JOB_ID=job, SLURM_STEP_ID="0", SLURM_STEP_NODELIST="127.0.0.1")
        r1 = self.start(["trtllm-llmapi-launch", "true"], SLURM_PROCID="1", **env)
        r0 = self.start(["trtllm-llmapi-launch", sys.executable, "-c", "print('leader cmd')"], SLURM_PROCID="0", **env)
        self.assertEqual(r0.wait(20), 0)
        self.assertEqual(r1.wait(10), 0)
        self.assertIn("leader cmd", self.output(r0))


class LegacyTests(Base):
    def test_vllm_v1_disagg_graph(self):
        d = os.path.join(EXAMPLES, "vllm_v1")
        port = free_port()
        v = dict(DYN_STANDIN_VERSION="0.3.2")
        fe = self.start(["dynamo", "serve", "graphs.agg:Frontend", "-f", "configs/disagg.yaml",
                         f"--Frontend.port={port}"], cwd=d, **v)
        self.start(["dynamo", "serve", "components.worker:VllmPrefillWorker", "-f", "configs/disagg.yaml"], cwd=d, **v)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_json(url + "/live")[0] == 200, 20, "legacy frontend")
        self.wait_instances(url, 1, "VllmDecodeWorker")
        self.wait_instances(url, 1, "VllmPrefillWorker")
        model = "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"
        st, out = http_json(url + "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": "x"}]})
        self.assertEqual(st, 200, out)
        self.assertIsNotNone(out["dyn_route"]["prefill"])
        fe.send_signal(signal.SIGTERM)
        self.assertEqual(fe.wait(10), 0)

    def test_legacy_errors(self):
        d = os.path.join(EXAMPLES, "vllm_v1")
        r = self.run_cli(["dynamo", "serve", "components.worker:NoSuchWorker", "-f", "configs/disagg.yaml"], cwd=d)
        self.assertEqual(r.returncode, 2)
        self.assertIn("NoSuchWorker", r.stderr)
        r = self.run_cli(["dynamo", "serve", "graphs.agg:Frontend", "-f", "configs/missing.yaml"], cwd=d)
        self.assertEqual(r.returncode, 2)
        r = self.run_cli(["dynamo", "serve", "graphs.agg:Frontend", "-f", "configs/disagg.yaml"], cwd="/")
        self.assertEqual(r.returncode, 2)
        self.assertIn("graphs/agg.py not found", r.stderr)

    def test_sglang_and_trtllm_graph_roles(self):
        for ex, target, comp, role in (("sglang", "graphs.agg:Frontend", "SGLangWorker", "prefill"),
                                       ("tensorrt_llm", "graphs.agg:Frontend", "TensorRTLLMWorker", "decode")):
            port = free_port()
            p = self.start(["dynamo", "serve", target, "-f", "configs/disagg.yaml", f"--Frontend.port={port}"],
                           cwd=os.path.join(EXAMPLES, ex))
            url = f"http://127.0.0.1:{port}"
            wait_for(lambda: http_json(url + "/live")[0] == 200, 20, f"{ex} frontend")
            inst = self.wait_instances(url, 1, comp)[0]
            self.assertEqual(inst["role"], role)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(10), 0)


if __name__ == "__main__":
    unittest.main()
