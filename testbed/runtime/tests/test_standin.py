"""Tests of the Dynamo stand-in against REAL etcd and nats-server on 127.0.0.1 (Debian packages).

    python3 -m unittest discover -s testbed/runtime/tests -t testbed/runtime -v

This module: command-line parsing with the generated tables, serving, legacy `dynamo serve`.
test_releases.py: behaviour per release (registration names, infra, env, parallelism).
Every wait is a bounded poll on a condition (never a fixed sleep). Processes are started with their
own session and always killed in tearDown.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

from . import support
from .support import EXAMPLES, RUNTIME, Base, free_port, http_json, wait_for

from dynamo import _flags, _yaml  # noqa: E402  (support put runtime/python on sys.path)

REPO = os.path.dirname(os.path.dirname(RUNTIME))
KV = '{"kv_connector":"NixlConnector","kv_role":"kv_both"}'


def setUpModule():
    support.start_services()


def tearDownModule():
    support.stop_services()


def parses(version, component, argv, prog=None):
    """In-process parse with the release's parser; returns the Result or raises ParseError."""
    return _flags.parser_for(version, component, prog).parse(argv)


# ----------------------------------------------------------------------------------------- flags
class FlagTests(Base):
    def py(self, module, *args):
        return [sys.executable, "-m", module, *args]

    def test_unknown_flag_each_component(self):
        self.rejects(self.py("dynamo.frontend", "--bogus-flag", "1"), "--bogus-flag 1")
        self.rejects(self.py("dynamo.vllm", "--model", "m", "--bogus-flag"), "--bogus-flag")
        self.rejects(self.py("dynamo.sglang", "--model-path", "m", "--bogus-flag", "x"), "--bogus-flag")
        self.rejects(self.py("dynamo.trtllm", "--model", "m", "--bogus-flag"), "--bogus-flag")
        self.rejects(self.py("dynamo.mocker", "--model-path", "m", "--bogus-flag", "1"), "--bogus-flag")

    def test_argparse_errors(self):
        line = self.rejects(self.py("dynamo.frontend", "--router-mode", "fastest"), "--router-mode")
        self.assertIn("invalid choice: 'fastest' (choose from 'round-robin', 'random'", line)
        line = self.rejects(self.py("dynamo.frontend", "--http-port"), "--http-port")
        self.assertTrue(line.endswith("argument --http-port: expected one argument"), line)
        line = self.rejects(self.py("dynamo.frontend", "--http-port", "--router-mode", "kv"), "--http-port")
        self.assertIn("expected one argument", line)
        line = self.rejects(self.py("dynamo.frontend", "--http-port", "eighty"), "--http-port")
        self.assertIn("invalid int value: 'eighty'", line)
        line = self.rejects(self.py("dynamo.sglang", "--tp", "2"), "--model-path")   # SGLang requires it
        self.assertIn("the following arguments are required", line)

    def test_abbreviations_as_argparse(self):
        # SGLang's parser is built with allow_abbrev=True: --tp is --tp-size (0.3.2 ... 1.5.1)
        for v in ("0.3.2", "0.4.1", "1.0.0", "1.5.1"):
            self.assertEqual(parses(v, "sglang", ["--model-path", "m", "--tp", "8"]).values["tp_size"], "8", v)
        line = self.rejects(self.py("dynamo.frontend", "--http", "1"), "ambiguous option")
        self.assertIn("--http could match --http-host, --http-port", line)
        self.assertEqual(parses("1.5.1", "frontend", ["--http-p", "9"]).values["http_port"], 9)
        # vLLM >= 1.0: Dynamo's own parser has allow_abbrev=False, and no engine flag starts so
        self.rejects(self.py("dynamo.vllm", "--model", "m", "--disagg", "prefill"), "--disagg", version="1.4.0")
        # 0.4.1-0.9.0 one FlexibleArgumentParser (argparse default allow_abbrev=True; _ == -)
        r = parses("0.9.0", "vllm", ["--model", "m", "--is-prefill", "--max_model_len", "10"])
        self.assertTrue(r.values["is_prefill_worker"])
        self.assertEqual(r.values["max_model_len"], "10")

    def test_removed_and_added_flags_per_release(self):
        py = self.py
        # vLLM: --is-prefill-worker removed in 1.4.0, deprecated 1.0.0-1.3.x, plain before
        self.rejects(py("dynamo.vllm", "--model", "m", "--is-prefill-worker"), "--is-prefill-worker", version="1.4.0")
        r = parses("1.3.0", "vllm", ["--model", "m", "--is-prefill-worker"])
        self.assertTrue(any("deprecated" in w for w in r.warnings))
        self.assertEqual(parses("0.6.1", "vllm", ["--model", "m", "--is-prefill-worker"]).warnings, [])
        self.rejects(py("dynamo.vllm", "--model", "m", "--disaggregation-mode", "prefill"), "--disaggregation-mode",
                     version="0.9.0")
        self.rejects(py("dynamo.vllm", "--model", "m", "--is-decode-worker"), "--is-decode-worker", version="0.4.1")
        self.rejects(py("dynamo.vllm", "--model", "m", "--disaggregation-mode", "pd"), "--disaggregation-mode",
                     version="1.2.0")
        parses("1.3.0", "vllm", ["--model", "m", "--disaggregation-mode", "pd"])
        self.rejects(py("dynamo.vllm", "--model", "m", "--headless"), "--headless", version="0.9.0")
        # TRT-LLM: agg is not a mode before 1.3.0; prefill_and_decode is rejected from 1.4.0
        self.rejects(py("dynamo.trtllm", "--model", "m", "--disaggregation-mode", "agg"), "--disaggregation-mode",
                     version="1.0.0")
        self.rejects(py("dynamo.trtllm", "--model", "m", "--disaggregation-mode", "prefill_and_decode"),
                     "--disaggregation-mode", version="1.4.0")
        parses("1.3.0", "trtllm", ["--model", "m", "--disaggregation-mode", "prefill_and_decode"])
        self.rejects(py("dynamo.trtllm", "--model-path", "m", "--disaggregation-strategy", "decode_first"),
                     "--disaggregation-strategy", version="0.9.0")
        parses("0.4.1", "trtllm", ["--model-path", "m", "--disaggregation-strategy", "prefill_first"])
        r = parses("0.6.1", "trtllm", ["--model-path", "m", "--disaggregation-strategy", "prefill_first"])
        self.assertEqual(r.uncertain, ["--disaggregation-strategy"])    # releaseUncertain: accepted
        # --model exists from 1.0.0; before, argparse takes it as the unique prefix of --model-path
        self.assertEqual(parses("0.9.0", "trtllm", ["--model", "m"]).given, {"model_path": "--model-path"})
        # frontend: 1.0.0-1.0.2 --decode-fallback and no --enforce-disagg (the real v1.0.0 tag)
        for v in ("1.0.0", "1.0.1", "1.0.2"):
            self.rejects(py("dynamo.frontend", "--enforce-disagg"), "--enforce-disagg", version=v)
            parses(v, "frontend", ["--decode-fallback"])
        self.rejects(py("dynamo.frontend", "--decode-fallback"), "--decode-fallback", version="1.1.0")
        parses("0.9.0", "frontend", ["--enforce-disagg"])
        r = parses("1.5.1", "frontend", ["--enforce-disagg"])
        self.assertTrue(any("deprecated" in w for w in r.warnings))
        self.rejects(py("dynamo.frontend", "--namespace", "x"), "--namespace", version="0.4.1")

    def test_sglang_choices(self):
        self.rejects(self.py("dynamo.sglang", "--model-path", "m", "--disaggregation-mode", "agg"),
                     "--disaggregation-mode")

    def test_release_selection(self):
        probe = [sys.executable, "-m", "dynamo.frontend", "--help"]
        r = self.run_cli(probe)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("impersonating 1.5.1", r.stdout)                      # the default
        rel = os.path.join(self.logdir, "dynamo-release")
        with open(rel, "w") as f:
            f.write("1.0.1\nbuilt by the image\n")
        r = self.run_cli(probe, DYN_STANDIN_RELEASE_FILE=rel)
        self.assertIn("impersonating 1.0.1", r.stdout)                      # the image's file
        self.assertIn("--decode-fallback", r.stdout)
        r = self.run_cli(probe, DYN_STANDIN_RELEASE_FILE=rel, DYN_STANDIN_VERSION="1.3.0")
        self.assertIn("impersonating 1.3.0", r.stdout)                      # the variable wins
        for bad in ("1.6.0", "0.4.0", "1.3.0-deepseek-v4-dev.1"):
            r = self.run_cli([sys.executable, "-m", "dynamo.vllm", "--model", "m"], DYN_STANDIN_VERSION=bad)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"Dynamo release {bad!r}", r.stderr)
            self.assertIn("known releases: 0.3.2, 0.4.1", r.stderr)

    def test_entry_points_per_release(self):
        for module in ("dynamo.frontend", "dynamo.vllm", "dynamo.trtllm", "dynamo.mocker"):
            r = self.run_cli([sys.executable, "-m", module, "--help"], DYN_STANDIN_VERSION="0.3.2")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"No module named {module}", r.stderr)
        for v in ("0.4.1", "1.5.1"):
            r = self.run_cli([sys.executable, "-m", "dynamo.mocker", "--help"], DYN_STANDIN_VERSION=v)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli(["dynamo", "serve", "graphs.agg:Frontend", "-f", "configs/disagg.yaml"],
                         cwd=os.path.join(EXAMPLES, "vllm_v1"), DYN_STANDIN_VERSION="1.1.0")
        self.assertEqual(r.returncode, 127)
        self.assertIn("part of Dynamo 0.3.2 only", r.stderr)
        r = self.run_cli([sys.executable, "components/worker.py", "--model-path", "m"],
                         cwd=os.path.join(EXAMPLES, "sglang"), DYN_STANDIN_VERSION="1.1.0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("can't open file 'components/worker.py'", r.stderr)
        # the 0.4.0-only split SGLang modules are gone (0.4.0 is not a supported release)
        r = self.run_cli([sys.executable, "-m", "dynamo.sglang.worker"], DYN_STANDIN_VERSION="0.4.1")
        self.assertNotEqual(r.returncode, 0)

    def test_mocker_flags(self):
        emitted = ["--model-path", "Qwen/Qwen3-0.6B", "--model-name", "qwen", "--disaggregation-mode", "prefill",
                   "--speedup-ratio", "0.5", "--num-gpu-blocks-override", "2048", "--bootstrap-ports", "12345"]
        r = parses("1.0.0", "mocker", emitted + ["--block-size", "64", "--no-enable-prefix-caching",
                                                 "--num-workers", "1", "--max-num-seqs", "8"])
        vals = r.values
        self.assertEqual((vals["disaggregation_mode"], vals["bootstrap_ports"], r.warnings), ("prefill", "12345", []))
        self.assertFalse(vals["enable_prefix_caching"])
        self.assertEqual((vals["speedup_ratio"], vals["num_gpu_blocks_override"]), (0.5, 2048))
        self.rejects(self.py("dynamo.mocker", "--model-path", "m", "--disaggregation-mode", "prefill_and_decode"),
                     "--disaggregation-mode")
        self.rejects(self.py("dynamo.mocker", "--model-path", "m", "--speedup-ratio", "fast"), "--speedup-ratio")
        self.rejects(self.py("dynamo.mocker", "--model-path", "m", "--num-gpu-blocks-override", "1.5"),
                     "--num-gpu-blocks-override")
        self.rejects(self.py("dynamo.mocker", "--model-path", "m", "--tensor-parallel-size", "2"),
                     "--tensor-parallel-size")
        self.rejects(self.py("dynamo.mocker", "--model-path", "m", "--is-prefill-worker"), "--is-prefill-worker",
                     version="0.4.1")         # 0.4.1: aggregated only
        # checked after parsing, as upstream (ValueError -> exit 1)
        for args in (["--is-decode-worker", "--disaggregation-mode", "decode"], ["--bootstrap-ports", "1,2"],
                     ["--extra-engine-args", "/nonexistent/mocker.json"]):
            r = self.run_cli(self.py("dynamo.mocker", "--model-path", "m", *args))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(args[0] if args[0] != "--is-decode-worker" else "cannot be combined", r.stderr)

    def test_extra_flags_escape_hatch(self):
        self.rejects(self.py("dynamo.vllm", "--model", "m", "--swap-space", "4"), "--swap-space")
        r = self.run_cli(self.py("dynamo.vllm", "--model", "m", "--swap-space", "4", "--help"),
                         DYN_STANDIN_EXTRA_FLAGS="--swap-space")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_yaml_subset(self):
        doc = _yaml.loads("a:\n  b: [x, 'y z']\n  c: '{\"k\":1}'\n  d: true  # c\nl:\n  - 1\n  - k: v\n    m: 2\n")
        self.assertEqual(doc, {"a": {"b": ["x", "y z"], "c": '{"k":1}', "d": True}, "l": [1, {"k": "v", "m": 2}]})

    @unittest.skipUnless(shutil.which("node"), "node not installed")
    def test_generated_tables_are_current(self):
        gen = os.path.join(REPO, "scripts", "gen-flag-tables.mjs")
        r = subprocess.run(["node", gen, "--check"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue("up to date" in r.stdout or "skipped: source not found" in r.stdout, r.stdout)
        r = subprocess.run(["node", gen, "--check", "--from", os.path.join(self.logdir, "nowhere")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual((r.returncode, "skipped: source not found" in r.stdout), (0, True), r.stdout + r.stderr)
        tables = _flags.tables()["releases"]
        self.assertEqual(list(tables), ["0.3.2", "0.4.1", "0.6.1", "0.9.0", "1.0.0", "1.0.1", "1.0.2", "1.1.0",
                                        "1.1.1", "1.2.0", "1.2.1", "1.3.0", "1.3.1", "1.4.0", "1.4.1", "1.4.2",
                                        "1.5.0", "1.5.1"])


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
        st, res = http_json(f"http://127.0.0.1:{support.SVC.etcd_port}/v3/kv/range",
                            {"key": "djEvaW5zdGFuY2VzLw==", "range_end": "djEvaW5zdGFuY2VzMA=="})
        import base64
        key = base64.b64decode(res["kvs"][0]["key"]).decode()
        val = json.loads(base64.b64decode(res["kvs"][0]["value"]))
        self.assertEqual(key, f"v1/instances/dynamo/backend/generate/{val['instance_id']:x}")
        self.assertEqual(val["model"], "m1")
        self.assertNotEqual(res["kvs"][0].get("lease", "0"), "0")

    def test_disagg_chat_through_prefill_and_decode(self):
        _, url = self.frontend()
        self.worker("dynamo.vllm", "--model", "Qwen/Q", "--disaggregation-mode", "prefill", "--kv-transfer-config", KV)
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
                    "--is-prefill-worker")     # deprecated, still parsed by the 1.5.1 mocker
        self.wait_instances(url, 1, "mockpre")
        st, out = http_json(url + "/v1/completions", {"model": "m", "prompt": "p"})
        self.assertEqual(st, 200, out)

    def test_trtllm_components(self):
        _, url = self.frontend()
        self.worker("dynamo.trtllm", "--model", "m", "--disaggregation-mode", "prefill")
        self.worker("dynamo.trtllm", "--model", "m", "--disaggregation-mode", "decode")
        self.wait_instances(url, 2)
        self.assertEqual(sorted(e for e in self.health(url)["endpoints"]),
                         ["dyn://dynamo.backend.generate", "dyn://dynamo.prefill.generate"])   # 1.5.1
        st, out = http_json(url + "/v1/completions", {"model": "m", "prompt": "p"})
        self.assertEqual(st, 200, out)
        self.assertIsNotNone(out["dyn_route"]["prefill"])

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

    def test_deregister_after_hook_leaves_discovery_and_keeps_running(self):
        _, url = self.frontend()
        p = self.worker("dynamo.vllm", "--model", "m", DYN_STANDIN_DEREGISTER_AFTER="0.5")
        self.wait_instances(url, 1)
        self.wait_instances(url, 0, timeout=5)   # gone from /health ...
        self.assertIsNone(p.poll())               # ... while the process lives on
        self.assertIn("DEREGISTER_AFTER", self.output(p))
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(10), 0)

    def test_sigusr1_deregisters_and_keeps_running(self):
        _, url = self.frontend()
        p = self.worker("dynamo.vllm", "--model", "m")
        self.wait_instances(url, 1)
        p.send_signal(signal.SIGUSR1)
        self.wait_instances(url, 0, timeout=5)
        self.assertIsNone(p.poll())
        self.assertIn("SIGUSR1: deregistering", self.output(p))

    def test_system_port_health(self):
        port = free_port()
        self.worker("dynamo.vllm", "--model", "m", DYN_SYSTEM_PORT=port)
        wait_for(lambda: http_json(f"http://127.0.0.1:{port}/health")[1].get("status") == "ready", 20, "system /health")

    def metrics(self, port):
        """The system port's /metrics as {labels: value} for dynamo_component_requests_total."""
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            self.assertTrue(r.headers["Content-Type"].startswith("text/plain"), r.headers["Content-Type"])
            text = r.read().decode()
        self.assertIn("# TYPE dynamo_component_requests_total counter", text)
        out = {}
        for line in text.splitlines():
            if line.startswith("dynamo_component_requests_total{"):
                labels, value = line[len("dynamo_component_requests_total"):].rsplit(" ", 1)
                out[labels] = int(value)
        return out

    def disagg(self, version="1.5.1", **env):
        """Frontend, one vLLM prefill and one decode worker (1.0.0+ flags), each with its own system port."""
        _, url = self.frontend(DYN_STANDIN_VERSION=version)
        pre_port, dec_port = free_port(), free_port()
        self.module("vllm", "--model", "Qwen/Q", "--disaggregation-mode", "prefill", "--kv-transfer-config", KV,
                    version=version, DYN_SYSTEM_PORT=pre_port, **env)
        self.module("vllm", "--model", "Qwen/Q", "--disaggregation-mode", "decode", version=version,
                    DYN_SYSTEM_PORT=dec_port, **env)
        pre = self.wait_instances(url, 1, "prefill")[0]
        dec = self.wait_instances(url, 1, "backend")[0]
        return url, (pre_port, pre), (dec_port, dec)

    def chat(self, url):
        st, out = http_json(url + "/v1/chat/completions", {"model": "Qwen/Q", "messages": [
            {"role": "user", "content": "hello there"}]})
        self.assertEqual(st, 200, out)
        self.assertTrue(out["choices"][0]["message"]["content"])
        return out

    def test_system_port_metrics_count_the_requests_each_worker_handled(self):
        url, (pre_port, pre), (dec_port, dec) = self.disagg()
        # 1.5.1: the three hierarchy labels and worker_id (1.1.0+, #8089), sorted as the prometheus crate prints them
        pre_key = f'{{dynamo_component="prefill",dynamo_endpoint="generate",dynamo_namespace="dynamo",worker_id="{pre["instance_id"]:x}"}}'
        dec_key = f'{{dynamo_component="backend",dynamo_endpoint="generate",dynamo_namespace="dynamo",worker_id="{dec["instance_id"]:x}"}}'
        wait_for(lambda: self.metrics(pre_port) == {pre_key: 0}, 10, "prefill /metrics")
        self.assertEqual(self.metrics(dec_port), {dec_key: 0})
        for n in (1, 2):
            out = self.chat(url)
            self.assertEqual(out["dyn_route"]["prefill_instance"], f"{pre['instance_id']:x}")
            self.assertEqual((self.metrics(pre_port), self.metrics(dec_port)), ({pre_key: n}, {dec_key: n}))

    def test_metrics_labels_before_1_1_have_no_worker_id(self):
        url, (pre_port, _), (dec_port, _) = self.disagg("1.0.1")
        self.chat(url)
        self.assertEqual(self.metrics(pre_port),
                         {'{dynamo_component="prefill",dynamo_endpoint="generate",dynamo_namespace="dynamo"}': 1})
        self.assertEqual(self.metrics(dec_port),
                         {'{dynamo_component="backend",dynamo_endpoint="generate",dynamo_namespace="dynamo"}': 1})

    def test_skip_prefill_hook_serves_tokens_with_the_prefill_worker_idle(self):
        # set for both workers, as a job's environment is: only the decode worker acts on it
        url, (pre_port, _), (dec_port, _) = self.disagg(DYN_STANDIN_SKIP_PREFILL="1")
        out = self.chat(url)
        self.assertIsNone(out["dyn_route"]["prefill"])
        self.assertEqual(list(self.metrics(pre_port).values()), [0])
        self.assertEqual(list(self.metrics(dec_port).values()), [1])
        decode_proc = self.procs[-1][0]
        self.assertIn("DYN_STANDIN_SKIP_PREFILL: serving without the prefill workers", self.output(decode_proc))

    def test_unreachable_services_exit_1(self):
        r = self.run_cli([sys.executable, "-m", "dynamo.vllm", "--model", "m"],
                         ETCD_ENDPOINTS=f"127.0.0.1:{free_port()}", DYN_STANDIN_CONNECT_TIMEOUT="1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach etcd", r.stdout + r.stderr)
        # 1.5.1 needs no NATS, but an exported NATS_SERVER is always connected to
        r = self.run_cli([sys.executable, "-m", "dynamo.vllm", "--model", "m"],
                         NATS_SERVER=f"nats://127.0.0.1:{free_port()}", DYN_STANDIN_CONNECT_TIMEOUT="1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot connect to NATS", r.stdout + r.stderr)
        self.assertIn("NATS_SERVER is exported", r.stdout + r.stderr)

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
    V = dict(DYN_STANDIN_VERSION="0.3.2")

    def test_vllm_v1_disagg_graph(self):
        d = os.path.join(EXAMPLES, "vllm_v1")
        port = free_port()
        fe = self.start(["dynamo", "serve", "graphs.agg:Frontend", "-f", "configs/disagg.yaml",
                         f"--Frontend.port={port}"], cwd=d, **self.V)
        self.start(["dynamo", "serve", "components.worker:VllmPrefillWorker", "--config-file", "configs/disagg.yaml"],
                   cwd=d, **self.V)
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
        r = self.run_cli(["dynamo", "serve", "components.worker:NoSuchWorker", "-f", "configs/disagg.yaml"], cwd=d,
                         **self.V)
        self.assertEqual(r.returncode, 2)
        self.assertIn("NoSuchWorker", r.stderr)
        r = self.run_cli(["dynamo", "serve", "graphs.agg:Frontend", "-f", "configs/missing.yaml"], cwd=d, **self.V)
        self.assertEqual(r.returncode, 2)
        r = self.run_cli(["dynamo", "serve", "graphs.agg:Frontend", "-f", "configs/disagg.yaml"], cwd="/", **self.V)
        self.assertEqual(r.returncode, 2)
        self.assertIn("graphs/agg.py not found", r.stderr)
        # typer/click flags of the 0.3.2 `serve` table: no --file, no abbreviations
        for bad in ("--file", "--conf"):
            r = self.run_cli(["dynamo", "serve", "graphs.agg:Frontend", bad, "configs/disagg.yaml"], cwd=d, **self.V)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"Error: No such option: {bad}", r.stderr)
        r = self.run_cli(["dynamo", "serve", "graphs.agg:Frontend", "-f"], cwd=d, **self.V)
        self.assertEqual(r.returncode, 2)
        self.assertIn("Option '-f' requires an argument", r.stderr)
        r = self.run_cli(["dynamo", "serve", "graphs.agg:Frontend", "-f", "configs/agg.yaml", "--dry-run"], cwd=d,
                         **self.V)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_trtllm_graph_roles_and_worker_parser(self):
        d = os.path.join(EXAMPLES, "tensorrt_llm")
        port = free_port()
        p = self.start(["dynamo", "serve", "graphs.agg:Frontend", "-f", "configs/disagg.yaml", f"--Frontend.port={port}"],
                       cwd=d, **self.V)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_json(url + "/live")[0] == 200, 20, "trtllm frontend")
        inst = self.wait_instances(url, 1, "TensorRTLLMWorker")[0]
        self.assertEqual(inst["role"], "decode")
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(10), 0)
        # a worker section is argv for the 0.3.2 TRT-LLM argparse parser (complete in the table)
        base = ["dynamo", "serve", "components.worker:TensorRTLLMWorker", "-f", "configs/agg.yaml", "--dry-run"]
        r = self.run_cli(base, cwd=d, **self.V)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.run_cli(base + ["--TensorRTLLMWorker.served-model-name=x"], cwd=d, **self.V)
        self.assertEqual(r.returncode, 2, r.stderr)       # the literal --served_model_name spelling only
        self.assertIn("unrecognized arguments: --served-model-name x", r.stderr)
        r = self.run_cli(base + ["--TensorRTLLMWorker.extra-engine-args", "configs/missing.yaml"], cwd=d, **self.V)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("configs/missing.yaml", r.stderr)

    def test_sglang_0_3_2_scripts_behind_dynamo_run(self):
        """0.3.2 SGLang: python3 components/worker.py (prefill: dynamo.worker.generate + the model,
        calls dynamo.decode.generate itself) and components/decode_worker.py (no model), cwd
        examples/sglang, behind `dynamo run in=http out=dyn`."""
        d = os.path.join(EXAMPLES, "sglang")
        port = free_port()
        fe = self.start(["dynamo", "run", "in=http", "out=dyn", f"--http-port={port}"], **self.V)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_json(url + "/live")[0] == 200, 20, "dynamo run")
        common = ["--model-path", "/m", "--served-model-name", "sg", "--tp", "1", "--disaggregation-transfer-backend",
                  "nixl"]
        pre = self.start([sys.executable, "components/worker.py", *common, "--disaggregation-mode", "prefill"],
                         cwd=d, DYN_NAMESPACE="ignored", **self.V)
        dec = self.start([sys.executable, "components/decode_worker.py", *common, "--disaggregation-mode", "decode"],
                         cwd=d, **self.V)
        w = self.wait_instances(url, 1, "worker")[0]
        dd = self.wait_instances(url, 1, "decode")[0]
        self.assertEqual((w["role"], w["model"], w["namespace"]), ("prefill", "sg", "dynamo"))
        self.assertEqual((dd["role"], dd["model"], dd["namespace"]), ("decode", None, "dynamo"))
        self.assertEqual(self.health(url)["endpoints"], ["dyn://dynamo.decode.generate", "dyn://dynamo.worker.generate"])
        self.assertEqual([m["id"] for m in http_json(url + "/v1/models")[1]["data"]], ["sg"])
        st, out = http_json(url + "/v1/chat/completions", {"model": "sg", "messages": [{"role": "user", "content": "x"}]})
        self.assertEqual(st, 200, out)
        r = out["dyn_route"]
        self.assertEqual((r["prefill"], r["decode"]), (w["host"], dd["host"]))
        self.assertEqual((r["prefill_instance"], r["decode_instance"]),
                         (f"{w['instance_id']:x}", f"{dd['instance_id']:x}"))
        self.assertIn("-> decode", self.output(pre))
        # without a decode instance the worker cannot answer: 502 from it, 503 from the frontend
        dec.send_signal(signal.SIGTERM)
        self.assertEqual(dec.wait(10), 0)
        self.wait_instances(url, 0, "decode", timeout=5)
        st, out = http_json(url + "/v1/chat/completions", {"model": "sg", "messages": [{"role": "user", "content": "x"}]})
        self.assertEqual(st, 503, out)
        self.assertIn("no instance of dyn://dynamo.decode.generate", self.output(pre))
        fe.send_signal(signal.SIGTERM)
        self.assertEqual(fe.wait(10), 0)

    def test_sglang_0_3_2_aggregated_and_flags(self):
        d = os.path.join(EXAMPLES, "sglang")
        port = free_port()
        self.start(["dynamo", "run", "in=http", "out=dyn", "--http-port", str(port)], **self.V)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_json(url + "/live")[0] == 200, 20, "dynamo run")
        self.start([sys.executable, "components/worker.py", "--model-path", "/m", "--served-model-name", "agg"],
                   cwd=d, **self.V)
        a = self.wait_instances(url, 1, "worker")[0]
        self.assertEqual((a["role"], a["model"]), ("agg", "agg"))
        st, out = http_json(url + "/v1/completions", {"model": "agg", "prompt": "p"})
        self.assertEqual(st, 200, out)
        self.assertIsNone(out["dyn_route"]["prefill"])
        # pure SGLang ServerArgs at 0.3.2: no Dynamo flags such as --endpoint or --migration-limit
        for flag in ("--endpoint", "--migration-limit"):
            r = self.run_cli([sys.executable, "components/worker.py", "--model-path", "m", flag, "x"], cwd=d, **self.V)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"worker.py: error: unrecognized arguments: {flag} x", r.stderr)
        # dynamo run: clap errors, in=/out= first or second, only in=http out=dyn
        r = self.run_cli(["dynamo", "run", "in=http", "out=dyn", "--bogus"], **self.V)
        self.assertEqual(r.returncode, 2)
        self.assertIn("error: unexpected argument '--bogus' found", r.stderr)
        r = self.run_cli(["dynamo", "run", "in=http", "out=vllm", "/m"], **self.V)
        self.assertEqual(r.returncode, 1)
        self.assertIn("only in=http out=dyn", r.stderr)



# ------------------------------------------------------------------------------------- streaming
def stream_events(url, body, timeout=30):
    """POST with stream: true; (content type, [(monotonic time, data of one SSE event)])."""
    import urllib.request
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    events = []
    with urllib.request.urlopen(req, timeout=timeout) as r:
        ctype = r.headers.get("Content-Type", "")
        for raw in r:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("data: "):
                events.append((time.monotonic(), line[6:]))
    return ctype, events


def stream_parts(events, chat=True):
    """(text chunks with their times, finish chunk, usage chunk or None, last data)."""
    texts, finish, usage = [], None, None
    for t, data in events:
        if data == "[DONE]":
            continue
        ev = json.loads(data)
        if ev.get("usage") and not ev["choices"]:
            usage = ev
            continue
        ch = ev["choices"][0]
        piece = (ch.get("delta") or {}).get("content") if chat else ch.get("text")
        if piece:
            texts.append((t, piece))
        if ch.get("finish_reason"):
            finish = ev
    return texts, finish, usage, events[-1][1] if events else None


class StreamingTests(Base):
    """stream: true answers token by token (OpenAI server-sent events), DYN_STANDIN_TOKEN_DELAY_MS
    apart, honouring max_tokens / ignore_eos and stream_options.include_usage (_stream.py)."""

    def agg(self, url, model="m", **env):
        self.start([sys.executable, "-m", "dynamo.vllm", "--model", model], **env)
        self.wait_instances(url, 1, "backend")

    def test_chat_stream_token_by_token_with_the_delay_and_usage(self):
        _, url = self.frontend()
        delay = 0.04
        self.agg(url, DYN_STANDIN_TOKEN_DELAY_MS=int(delay * 1000))
        t0 = time.monotonic()
        ctype, events = stream_events(url + "/v1/chat/completions", {
            "model": "m", "stream": True, "max_tokens": 6, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "one two three four five six seven"}]})
        self.assertIn("text/event-stream", ctype)
        first = json.loads(events[0][1])
        self.assertEqual(first["object"], "chat.completion.chunk")
        self.assertEqual(first["choices"][0]["delta"], {"role": "assistant", "content": ""})
        texts, finish, usage, last = stream_parts(events)
        self.assertEqual(last, "[DONE]")
        # the reply's first 6 words, one per chunk, each with the space before it
        self.assertEqual([p for _, p in texts], ["[m]", " stand-in", " reply", " to:", " one", " two"])
        self.assertEqual(finish["choices"][0]["finish_reason"], "length")
        self.assertIsNone(finish["dyn_route"]["prefill"])
        self.assertEqual(usage["usage"]["completion_tokens"], 6)
        self.assertEqual(usage["usage"]["total_tokens"],
                         usage["usage"]["prompt_tokens"] + usage["usage"]["completion_tokens"])
        # each token waited for the delay, the first one too: they came one by one, not at the end
        times = [t for t, _ in texts]
        self.assertGreaterEqual(times[0] - t0, delay * 0.9)
        gaps = sorted(b - a for a, b in zip(times, times[1:]))
        self.assertGreaterEqual(gaps[len(gaps) // 2], delay * 0.75, gaps)
        self.assertGreaterEqual(times[-1] - times[0], 5 * delay * 0.9)

    def test_completions_stream_ignore_eos_and_stop_without_it(self):
        _, url = self.frontend()
        self.agg(url)
        body = {"model": "m", "stream": True, "prompt": "p", "max_tokens": 12}
        ctype, events = stream_events(url + "/v1/completions", dict(body, ignore_eos=True))
        texts, finish, usage, last = stream_parts(events, chat=False)
        self.assertEqual(json.loads(events[0][1])["object"], "text_completion")
        self.assertEqual(len(texts), 12)   # the 5 words of the reply, then repeated to max_tokens
        self.assertEqual("".join(p for _, p in texts),
                         "[m] stand-in reply to: p [m] stand-in reply to: p [m] stand-in")
        self.assertEqual(finish["choices"][0]["finish_reason"], "length")
        self.assertIsNone(usage)           # not asked for
        self.assertEqual(last, "[DONE]")
        _, events = stream_events(url + "/v1/completions", body)
        texts, finish, _, _ = stream_parts(events, chat=False)
        self.assertEqual("".join(p for _, p in texts), "[m] stand-in reply to: p")
        self.assertEqual(finish["choices"][0]["finish_reason"], "stop")
        # usage forced by the environment, as DYN_ENABLE_FORCE_INCLUDE_USAGE does upstream
        _, furl = self.frontend(DYN_ENABLE_FORCE_INCLUDE_USAGE="1")
        _, events = stream_events(furl + "/v1/completions", body)
        self.assertEqual(stream_parts(events, chat=False)[2]["usage"]["completion_tokens"], 5)

    def test_non_streamed_answers_honour_max_tokens(self):
        _, url = self.frontend()
        self.agg(url)
        msgs = [{"role": "user", "content": "a b c"}]
        st, out = http_json(url + "/v1/chat/completions", {"model": "m", "messages": msgs, "max_tokens": 3})
        self.assertEqual(st, 200, out)
        self.assertEqual(out["choices"][0]["message"]["content"], "[m] stand-in reply")
        self.assertEqual(out["choices"][0]["finish_reason"], "length")
        self.assertEqual(out["usage"]["completion_tokens"], 3)
        st, out = http_json(url + "/v1/chat/completions", {"model": "m", "messages": msgs})
        self.assertEqual(out["choices"][0]["message"]["content"], "[m] stand-in reply to: a b c")
        self.assertEqual(out["choices"][0]["finish_reason"], "stop")

    def test_disagg_stream_crosses_prefill_and_decode(self):
        _, url = self.frontend()
        self.start([sys.executable, "-m", "dynamo.vllm", "--model", "Q", "--disaggregation-mode", "prefill",
                    "--kv-transfer-config", KV])
        self.start([sys.executable, "-m", "dynamo.vllm", "--model", "Q", "--disaggregation-mode", "decode"])
        self.wait_instances(url, 1, "prefill")
        self.wait_instances(url, 1, "backend")
        _, events = stream_events(url + "/v1/chat/completions", {
            "model": "Q", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
        texts, finish, _, last = stream_parts(events)
        self.assertEqual("".join(p for _, p in texts), "[Q] stand-in reply to: hi")
        self.assertIsNotNone(finish["dyn_route"]["prefill"])
        self.assertIsNotNone(finish["dyn_route"]["decode"])
        self.assertEqual(last, "[DONE]")

    def test_stream_errors_before_and_no_tokens(self):
        _, url = self.frontend()
        st, out = http_json(url + "/v1/chat/completions", {"model": "nope", "stream": True, "messages": []})
        self.assertEqual(st, 404, out)      # nothing to stream: a JSON error with its status
        self.agg(url, DYN_STANDIN_EMPTY_REPLY="1")
        _, events = stream_events(url + "/v1/chat/completions", {
            "model": "m", "stream": True, "max_tokens": 8, "ignore_eos": True,
            "messages": [{"role": "user", "content": "x"}]})
        texts, finish, _, last = stream_parts(events)
        self.assertEqual(texts, [])         # an engine that produces nothing stays silent
        self.assertEqual(finish["choices"][0]["finish_reason"], "stop")
        self.assertEqual(last, "[DONE]")

    def test_forwarding_prefill_streams_what_decode_answered(self):
        # 0.3.2 SGLang: the prefill worker is the entry point and calls decode itself (whole,
        # unpaced); it streams the tokens to the frontend, paced once
        d = os.path.join(EXAMPLES, "sglang")
        port = free_port()
        V = {"DYN_STANDIN_VERSION": "0.3.2", "DYN_STANDIN_TOKEN_DELAY_MS": "30"}
        self.start(["dynamo", "run", "in=http", "out=dyn", "--http-port", str(port)], **V)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_json(url + "/live")[0] == 200, 20, "dynamo run")
        common = ["--model-path", "/m", "--served-model-name", "sg", "--tp", "1",
                  "--disaggregation-transfer-backend", "nixl"]
        self.start([sys.executable, "components/worker.py", *common, "--disaggregation-mode", "prefill"], cwd=d, **V)
        self.start([sys.executable, "components/decode_worker.py", *common, "--disaggregation-mode", "decode"],
                   cwd=d, **V)
        w = self.wait_instances(url, 1, "worker")[0]
        dd = self.wait_instances(url, 1, "decode")[0]
        _, events = stream_events(url + "/v1/chat/completions", {
            "model": "sg", "stream": True, "max_tokens": 4, "messages": [{"role": "user", "content": "x y"}]})
        texts, finish, _, last = stream_parts(events)
        self.assertEqual([p for _, p in texts], ["[sg]", " stand-in", " reply", " to:"])
        self.assertEqual((finish["dyn_route"]["prefill"], finish["dyn_route"]["decode"]), (w["host"], dd["host"]))
        self.assertEqual(last, "[DONE]")

if __name__ == "__main__":
    unittest.main()
