"""The stand-in behaves like each Dynamo release (shared/reference/dynamo-releases.md): the flags a
launcher renders per release and role parse, registration names, NATS/etcd needs, DYN_SYSTEM_PORT,
vLLM's post-parse checks, TRT-LLM parallelism, the frontend's /health and disaggregation rules.
Against REAL etcd and nats-server on 127.0.0.1 (see support.py)."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import unittest

from . import support
from .support import Base, free_port, http_json, localhost_nats_running, wait_for

from dynamo import _flags  # noqa: E402

KV = '{"kv_connector":"NixlConnector","kv_role":"kv_both"}'
RELEASES = ["0.3.2", "0.4.1", "0.6.1", "0.9.0", "1.0.0", "1.0.1", "1.0.2", "1.1.0", "1.1.1", "1.2.0", "1.2.1",
            "1.3.0", "1.3.1", "1.4.0", "1.4.1", "1.4.2", "1.5.0", "1.5.1"]
V = _flags.parse_version


def setUpModule():
    support.start_services()


def tearDownModule():
    support.stop_services()


def launcher_argv(version: str):
    """What a launcher renders per release, backend and role (dynamo-releases.md "Role selection and
    registration"): [(component, prog, argv)]."""
    v = V(version)
    out = []
    if v < (0, 4, 1):
        out.append(("frontend", None, ["in=http", "out=dyn", "--http-port", "8000"]))
        out.append(("serve", None, ["graphs.agg:Frontend", "-f", "configs/disagg.yaml", "--Frontend.port=8000"]))
        out.append(("serve", None, ["components.worker:VllmPrefillWorker", "-f", "configs/disagg.yaml",
                                    "--service-name", "VllmPrefillWorker"]))
        sg = ["--model-path", "M", "--served-model-name", "m", "--tp", "2", "--host", "0.0.0.0", "--port", "30001",
              "--nccl-port", "30002", "--trust-remote-code"]
        dis = ["--disaggregation-transfer-backend", "nixl", "--disaggregation-bootstrap-port", "30003"]
        out.append(("sglang", "worker.py", sg + ["--disaggregation-mode", "prefill"] + dis))
        out.append(("sglang", "decode_worker.py", sg + ["--disaggregation-mode", "decode"] + dis))
        out.append(("sglang", "worker.py", sg))
        return out
    out.append(("frontend", None, ["--http-host", "0.0.0.0", "--http-port", "8000", "--router-mode", "kv"]))
    vl = ["--model", "M", "--served-model-name", "m", "--tensor-parallel-size", "2", "--enforce-eager"]
    if v >= (1, 0, 0):
        out.append(("vllm", None, vl + ["--disaggregation-mode", "prefill", "--kv-transfer-config", KV]))
        out.append(("vllm", None, vl + ["--disaggregation-mode", "decode", "--kv-transfer-config", KV]))
        out.append(("vllm", None, vl + ["--nnodes", "2", "--node-rank", "1", "--master-addr", "10.0.0.1",
                                        "--headless"]))
    else:
        out.append(("vllm", None, vl + ["--is-prefill-worker"]))
        if v >= (0, 6, 1):
            out.append(("vllm", None, vl + ["--is-decode-worker"]))
    out.append(("vllm", None, vl))
    sg = ["--model-path", "M", "--served-model-name", "m", "--tp", "4", "--trust-remote-code", "--page-size", "16",
          "--dist-init-addr", "10.0.0.1:29500", "--nnodes", "2", "--node-rank", "0"]
    for role in ("prefill", "decode"):
        out.append(("sglang", None, sg + ["--disaggregation-mode", role, "--disaggregation-transfer-backend", "nixl",
                                          "--disaggregation-bootstrap-port", "30003"]))
    out.append(("sglang", None, sg))
    model = "--model" if v >= (1, 0, 0) else "--model-path"
    tr = [model, "M", "--served-model-name", "m", "--extra-engine-args", "engine.yaml"]
    for role in ("prefill", "decode"):
        out.append(("trtllm", None, tr + ["--disaggregation-mode", role]))
    out.append(("trtllm", None, tr))
    mk = ["--model-path", "M", "--model-name", "m"]
    if v >= (1, 0, 0):
        for role in ("prefill", "decode", "agg"):
            out.append(("mocker", None, mk + ["--disaggregation-mode", role, "--speedup-ratio", "2"]))
    elif v >= (0, 6, 1):
        out.append(("mocker", None, mk + ["--is-prefill-worker"]))
        out.append(("mocker", None, mk + ["--is-decode-worker"]))
    out.append(("mocker", None, mk))
    return out


class ParsingPerRelease(unittest.TestCase):
    def test_every_release_accepts_what_a_launcher_renders(self):
        for version in RELEASES:
            for comp, prog, argv in launcher_argv(version):
                with self.subTest(version=version, component=comp, argv=" ".join(argv)):
                    p = _flags.parser_for(version, comp, prog)
                    try:
                        res = p.parse(argv)
                    except _flags.ParseError as e:
                        self.fail(p.format_error(e).splitlines()[-1])
                    self.assertEqual(res.warnings, [])

    def test_removed_flags_per_release(self):
        cases = [  # (release, component, argv, flag in the error)
            ("1.4.0", "vllm", ["--model", "m", "--is-prefill-worker"], "--is-prefill-worker"),
            ("1.5.1", "vllm", ["--model", "m", "--is-decode-worker"], "--is-decode-worker"),
            ("1.4.0", "trtllm", ["--model", "m", "--disaggregation-mode", "prefill_and_decode"], "prefill_and_decode"),
            ("1.0.0", "trtllm", ["--model", "m", "--disaggregation-mode", "agg"], "'agg'"),
            ("1.2.1", "trtllm", ["--model", "m", "--disaggregation-mode", "agg"], "'agg'"),
            ("0.9.0", "trtllm", ["--model-path", "m", "--disaggregation-strategy", "decode_first"],
             "--disaggregation-strategy"),
            ("1.0.0", "vllm", ["--model", "m", "--migration-limit", "3"], "--migration-limit"),
            ("0.9.0", "vllm", ["--model", "m", "--headless"], "--headless"),
            ("1.0.0", "frontend", ["--enforce-disagg"], "--enforce-disagg"),
            ("1.1.0", "frontend", ["--decode-fallback"], "--decode-fallback"),
            ("1.3.0", "frontend", ["--request-plane", "http"], "--request-plane"),
            ("1.4.0", "frontend", ["--router-durable-kv-events"], "--router-durable-kv-events"),
            ("0.4.1", "frontend", ["--namespace", "dynamo"], "--namespace"),
        ]
        for version, comp, argv, flag in cases:
            with self.subTest(version=version, argv=" ".join(argv)):
                p = _flags.parser_for(version, comp)
                with self.assertRaises(_flags.ParseError) as cm:
                    p.parse(argv)
                line = p.format_error(cm.exception).splitlines()[-1]
                self.assertTrue(line.startswith(f"{p.prog}: error: "), line)
                self.assertIn(flag, line)


class RegistrationPerRelease(Base):
    def names(self, version, *workers, **env):
        """Start the workers ((module, argv) pairs), wait for their registrations, stop them; returns
        sorted (component, role, namespace) triples."""
        procs = [self.module(m, *argv, version=version, **env) for m, argv in workers]
        regs = self.wait_registered(len(workers))
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            self.assertEqual(p.wait(10), 0, self.output(p))
        wait_for(lambda: self.registered() == [], 5, "deregistration")
        return sorted((r["component"], r["role"], r["namespace"]) for r in regs)

    def test_vllm_and_sglang(self):
        self.assertEqual(self.names("0.4.1", ("vllm", ["--model", "m", "--is-prefill-worker"]),
                                    ("vllm", ["--model", "m"]), DYNAMO_NAMESPACE="ns041"),
                         [("backend", "agg", "ns041"), ("prefill", "prefill", "ns041")])
        self.assertEqual(self.names("1.0.0", ("vllm", ["--model", "m", "--disaggregation-mode", "prefill",
                                                       "--kv-transfer-config", KV]),
                                    ("vllm", ["--model", "m", "--disaggregation-mode", "decode"]),
                                    ("vllm", ["--model", "m", "--namespace", "other"])),
                         [("backend", "agg", "other"), ("backend", "decode", "dynamo"), ("prefill", "prefill", "dynamo")])
        self.assertEqual(self.names("0.4.1", ("sglang", ["--model-path", "m", "--disaggregation-mode", "prefill"]),
                                    ("sglang", ["--model-path", "m", "--disaggregation-mode", "decode"])),
                         [("backend", "decode", "dynamo"), ("prefill", "prefill", "dynamo")])
        self.assertEqual(self.names("1.5.1", ("sglang", ["--model-path", "m", "--endpoint", "dyn://ns.mine.generate"])),
                         [("mine", "agg", "ns")])

    def test_trtllm(self):
        pre = ("trtllm", ["--model-path", "m", "--disaggregation-mode", "prefill"])
        dec = ("trtllm", ["--model-path", "m", "--disaggregation-mode", "decode"])
        agg = ("trtllm", ["--model-path", "m"])
        # 0.4.1 and 0.6.1 (uncertain): decode_first (default): decode = tensorrt_llm, prefill = tensorrt_llm_next
        for v in ("0.4.1", "0.6.1"):
            self.assertEqual(self.names(v, pre, dec, agg),
                             [("tensorrt_llm", "agg", "dynamo"), ("tensorrt_llm", "decode", "dynamo"),
                              ("tensorrt_llm_next", "prefill", "dynamo")], v)
        first = ["--disaggregation-strategy", "prefill_first"]
        self.assertEqual(self.names("0.4.1", (pre[0], pre[1] + first), (dec[0], dec[1] + first)),
                         [("tensorrt_llm", "prefill", "dynamo"), ("tensorrt_llm_next", "decode", "dynamo")])
        for v in ("0.9.0", "1.2.1"):
            self.assertEqual(self.names(v, pre, dec, agg),
                             [("prefill", "prefill", "dynamo"), ("tensorrt_llm", "agg", "dynamo"),
                              ("tensorrt_llm", "decode", "dynamo")], v)
        for v in ("1.3.0", "1.5.1"):
            self.assertEqual(self.names(v, pre, dec, agg, ("trtllm", ["--model", "m", "--disaggregation-mode", "pd"])),
                             [("backend", "agg", "dynamo"), ("backend", "agg", "dynamo"), ("backend", "decode", "dynamo"),
                              ("prefill", "prefill", "dynamo")], v)

    def test_mocker(self):
        self.assertEqual(self.names("0.4.1", ("mocker", ["--model-path", "m"])), [("backend", "agg", "dynamo")])
        self.assertEqual(self.names("0.6.1", ("mocker", ["--model-path", "m", "--is-prefill-worker"])),
                         [("prefill", "prefill", "dynamo")])


class InfraPerRelease(Base):
    T = dict(DYN_STANDIN_CONNECT_TIMEOUT="1")

    def no_nats(self, version, *args, module="vllm"):
        if localhost_nats_running():
            self.skipTest("something listens on localhost:4222 (the NATS default)")
        argv = [sys.executable, "-m", f"dynamo.{module}", *args]
        return self.run_cli(argv, DYN_STANDIN_VERSION=version, NATS_SERVER=None, **self.T)

    def assert_needs_nats(self, r):
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        out = r.stdout + r.stderr
        self.assertIn("cannot connect to NATS at nats://localhost:4222", out)
        self.assertIn("NATS_SERVER is unset", out)

    def test_nats_needed_per_release(self):
        for v in ("0.4.1", "0.6.1", "1.0.0", "1.1.1", "1.2.0"):
            self.assert_needs_nats(self.no_nats(v, "--model", "m"))
        self.assert_needs_nats(self.no_nats("0.9.0", "--model", "m", "--event-plane", "zmq"))   # always through 0.9.x
        self.assert_needs_nats(self.no_nats("1.5.1", "--model", "m", "--event-plane", "nats"))
        self.assert_needs_nats(self.no_nats("1.1.0", module="frontend"))
        r = self.no_nats("1.3.0", "--request-plane", "nats", module="frontend")
        self.assert_needs_nats(r)
        self.assertIn("request plane is nats", r.stdout + r.stderr)

    def test_nats_optional_from_1_3_0_and_with_zmq(self):
        if localhost_nats_running():
            self.skipTest("something listens on localhost:4222 (the NATS default)")
        for v, extra in (("1.3.0", []), ("1.5.1", []), ("1.1.0", ["--event-plane", "zmq"])):
            p = self.module("vllm", "--model", "m", *extra, version=v, NATS_SERVER=None)
            self.wait_registered(1)
            self.assertIn("NATS=not required", self.output(p))
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(10), 0)
            wait_for(lambda: self.registered() == [], 5, "deregistration")

    def test_file_discovery_without_etcd(self):
        kv = tempfile.mkdtemp(dir=self.logdir)
        env = dict(ETCD_ENDPOINTS=f"http://127.0.0.1:{free_port()}", DYN_FILE_KV=kv, NATS_SERVER=None)
        # 1.2.x picks the zmq event plane for file discovery (#8614): no NATS either
        _, url = self.frontend("--discovery-backend", "file", DYN_STANDIN_VERSION="1.2.0", **env)
        w = self.module("vllm", "--model", "fm", version="1.2.0", DYN_DISCOVERY_BACKEND="file", **env)
        inst = self.wait_instances(url, 1, "backend")[0]
        self.assertEqual(inst["model"], "fm")
        st, out = http_json(url + "/v1/completions", {"model": "fm", "prompt": "p"})
        self.assertEqual(st, 200, out)
        self.assertIn("file discovery backend", self.output(w))
        w.send_signal(signal.SIGTERM)
        self.assertEqual(w.wait(10), 0)
        self.wait_instances(url, 0, timeout=3)
        # 0.9.0 spells it --store-kv
        self.module("sglang", "--model-path", "m", "--store-kv", "file", version="0.9.0", **dict(env, NATS_SERVER=
                    f"nats://127.0.0.1:{support.SVC.nats_port}"))
        self.wait_instances(url, 1, "backend")

    def test_mem_and_kubernetes_discovery(self):
        dead = dict(ETCD_ENDPOINTS=f"http://127.0.0.1:{free_port()}")
        p = self.module("mocker", "--model-path", "m", "--discovery-backend", "mem", **dead)
        wait_for(lambda: "registered" in self.output(p), 20, "mem registration")
        self.assertIn("visible only inside this process", self.output(p))
        r = self.run_cli([sys.executable, "-m", "dynamo.vllm", "--model", "m", "--discovery-backend", "kubernetes"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("'kubernetes' is not supported by the Dynamo stand-in", r.stdout + r.stderr)


class EnvPerRelease(Base):
    def test_system_port_collides_from_1_4_0(self):
        port = free_port()
        first = self.module("vllm", "--model", "m", version="1.4.0", DYN_SYSTEM_PORT=port)
        wait_for(lambda: http_json(f"http://127.0.0.1:{port}/health")[1].get("status") == "ready", 20, "system /health")
        r = self.run_cli([sys.executable, "-m", "dynamo.vllm", "--model", "m"], DYN_STANDIN_VERSION="1.4.0",
                         DYN_SYSTEM_PORT=port)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"system server cannot bind 0.0.0.0:{port}", r.stdout + r.stderr)
        self.assertIn("self-hosts the model card", r.stdout + r.stderr)
        # before 1.4.0 (and with DYN_SELF_HOST_METADATA=0) the status server is optional
        for v, extra in (("1.3.1", {}), ("1.5.1", {"DYN_SELF_HOST_METADATA": "0"})):
            p = self.module("vllm", "--model", "m2", version=v, DYN_SYSTEM_PORT=port, **extra)
            wait_for(lambda p=p: "registered" in self.output(p), 20, f"{v} registration")
            self.assertIn("system status server not started", self.output(p))
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(10), 0)
        self.assertIsNone(first.poll())

    def test_system_port_enabled_per_release(self):
        port = free_port()
        p = self.module("vllm", "--model", "m", version="0.6.1", DYN_SYSTEM_PORT=port)
        wait_for(lambda: "registered" in self.output(p), 20, "registration")
        self.assertIn("ignored: Dynamo 0.6.1 starts the system server only with DYN_SYSTEM_ENABLED=true", self.output(p))
        self.module("vllm", "--model", "m", version="0.6.1", DYN_SYSTEM_PORT=port, DYN_SYSTEM_ENABLED="true")
        wait_for(lambda: http_json(f"http://127.0.0.1:{port}/health")[1].get("status") == "ready", 20, "system /health")
        p = self.module("vllm", "--model", "m", version="0.9.0", DYN_SYSTEM_PORT="-1")
        wait_for(lambda: "registered" in self.output(p), 20, "registration")
        self.assertNotIn("system status server", self.output(p))

    def test_vllm_connector_and_kv_transfer_config(self):
        for v in ("1.0.0", "1.2.0", "1.5.1"):
            for args, env, what in ((["--connector", "nixl"], {}, "--connector"),
                                    ([], {"DYN_CONNECTOR": "nixl"}, "DYN_CONNECTOR")):
                r = self.run_cli([sys.executable, "-m", "dynamo.vllm", "--model", "m", *args], DYN_STANDIN_VERSION=v,
                                 **env)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(f"ValueError: {what} is not supported by dynamo.vllm", r.stderr)
            r = self.run_cli([sys.executable, "-m", "dynamo.vllm", "--model", "m", "--disaggregation-mode", "prefill"],
                             DYN_STANDIN_VERSION=v)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("a prefill worker needs --kv-transfer-config", r.stderr)
        r = self.run_cli([sys.executable, "-m", "dynamo.vllm", "--model", "m", "--is-prefill-worker",
                          "--disaggregation-mode", "prefill", "--kv-transfer-config", KV], DYN_STANDIN_VERSION="1.3.0")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot be combined with --disaggregation-mode", r.stderr)
        # 0.9.0: --connector builds the transfer config itself; a prefill worker needs nothing else
        self.module("vllm", "--model", "m", "--is-prefill-worker", "--connector", "nixl", version="0.9.0")
        self.assertEqual(self.wait_registered(1)[0]["component"], "prefill")


class TrtllmParallelism(Base):
    def engine(self, **keys):
        path = os.path.join(self.logdir, "engine.yaml")
        with open(path, "w") as f:
            f.write("".join(f"{k}: {v}\n" for k, v in keys.items()) + "max_num_tokens: 8192\n")
        return path

    def trtllm(self, *args, version="1.5.1", **env):
        return self.run_cli([sys.executable, "-m", "dynamo.trtllm", "--model", "m", *args], DYN_STANDIN_VERSION=version,
                            **env)

    def test_tp_pp_must_equal_mpi_world(self):
        r = self.trtllm("--tensor-parallel-size", "2")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("tp_size * pp_size = 2 * 1 = 2 does not match the MPI world size 1", r.stderr)
        r = self.trtllm("--extra-engine-args", self.engine(tensor_parallel_size=4))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("tensor_parallel_size from tensor_parallel_size in", r.stderr)
        r = self.trtllm("--tensor-parallel-size", "1", "--extra-engine-args", self.engine(pipeline_parallel_size=2),
                        SLURM_STEP_ID="0", SLURM_STEP_NUM_TASKS="4")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("= 2 does not match the MPI world size 4", r.stderr)
        r = self.trtllm("--extra-engine-args", os.path.join(self.logdir, "missing.yaml"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("FileNotFoundError", r.stderr)
        # 0.4.1 has the flags too; the YAML wins over them, as Dynamo merges it over the CLI
        r = self.trtllm("--tensor-parallel-size", "1", "--extra-engine-args", self.engine(tensor_parallel_size=2),
                        version="0.4.1")
        self.assertEqual(r.returncode, 1, r.stderr)

    def test_example_engine_configs_in_the_workspace(self):
        """The container paths dyn's TRT-LLM backend names (DYNAMO_HOME=/workspace), single-GPU."""
        ws = os.path.join(support.RUNTIME, "workspace")
        for v, d in (("0.4.1", "components/backends/trtllm/engine_configs"), ("0.6.1", "recipes/qwen3/trtllm"),
                     ("1.5.1", "examples/backends/trtllm/engine_configs/qwen3")):
            for role in ("agg", "prefill", "decode"):
                path = os.path.join(ws, d, f"{role}.yaml")
                self.assertTrue(os.path.isfile(path), path)
        self.module("trtllm", "--model", "m", "--disaggregation-mode", "prefill", "--tensor-parallel-size", "1",
                    "--extra-engine-args", os.path.join(ws, "examples/backends/trtllm/engine_configs/qwen3/prefill.yaml"))
        self.assertEqual(self.wait_registered(1)[0]["component"], "prefill")

    def test_matching_world_under_trtllm_llmapi_launch(self):
        job = str(91000 + os.getpid() % 1000)
        eng = self.engine(tensor_parallel_size=2)
        env = dict(SLURM_NTASKS="2", SLURM_JOB_ID=job, SLURM_STEP_ID="3", SLURM_STEP_NODELIST="127.0.0.1")
        cmd = ["trtllm-llmapi-launch", sys.executable, "-m", "dynamo.trtllm", "--model", "m",
               "--extra-engine-args", eng]
        r1 = self.start(cmd, SLURM_PROCID="1", **env)
        r0 = self.start(cmd, SLURM_PROCID="0", **env)
        reg = self.wait_registered(1)[0]
        self.assertEqual((reg["component"], reg["role"]), ("backend", "agg"))
        r0.send_signal(signal.SIGTERM)
        self.assertEqual(r0.wait(20), 0, self.output(r0))
        self.assertEqual(r1.wait(10), 0)
        # TP 1 on a 2-task world breaks at start: rank 0's command exits 1, the launcher with it
        env["SLURM_JOB_ID"] = str(int(job) + 1)
        cmd[-1] = self.engine(tensor_parallel_size=1)
        r1 = self.start(cmd, SLURM_PROCID="1", **env)
        r0 = self.start(cmd, SLURM_PROCID="0", **env)
        self.assertEqual(r0.wait(20), 1, self.output(r0))
        self.assertIn("does not match the MPI world size 2", self.output(r0))
        r1.wait(10)


class FrontendPerRelease(Base):
    def test_health_with_zero_workers_and_live(self):
        _, url = self.frontend(DYN_STANDIN_VERSION="0.4.1")
        self.assertEqual(http_json(url + "/health")[0], 503)          # before 0.6.x
        self.assertEqual(http_json(url + "/live")[1], {"status": "live"})
        _, url = self.frontend(DYN_STANDIN_VERSION="1.5.1")
        st, body = http_json(url + "/health")
        self.assertEqual((st, body["status"], body["instances"]), (200, "unhealthy", []))
        self.assertEqual(http_json(url + "/live")[1], {"status": "live", "message": "Service is live"})
        self.assertEqual(_flags.parser_for("0.4.1", "frontend").parse([]).values["http_port"], 8080)
        self.assertEqual(_flags.parser_for("0.6.1", "frontend").parse([]).values["http_port"], 8000)

    def test_not_ready_during_shutdown_from_1_3_0(self):
        fe, url = self.frontend(DYN_STANDIN_VERSION="1.3.0", DYN_STANDIN_SHUTDOWN_DELAY="3")
        old, old_url = self.frontend(DYN_STANDIN_VERSION="1.2.1", DYN_STANDIN_SHUTDOWN_DELAY="3")
        for p in (fe, old):
            p.send_signal(signal.SIGTERM)
        st, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(http_json(url + "/health")), 5, "not_ready")
        self.assertEqual((body["status"], body["message"]), ("not_ready", "Service is not ready"))
        self.assertIn(body["stage"], ("draining", "stopping"))
        self.assertEqual(http_json(url + "/live")[1]["status"], "shutting_down")
        self.assertEqual(http_json(old_url + "/health")[0], 200)     # 1.2.x: no not_ready stage
        self.assertEqual(fe.wait(10), 0)

    def test_disaggregation_rules(self):
        # 1.0.x: once a model's prefill workers were seen, no prefill -> 503, unless --decode-fallback
        v = dict(DYN_STANDIN_VERSION="1.0.0")
        _, strict = self.frontend(**v)
        _, fallback = self.frontend("--decode-fallback", **v)
        pre = self.module("vllm", "--model", "d", "--disaggregation-mode", "prefill", "--kv-transfer-config", KV,
                          version="1.0.0")
        self.module("vllm", "--model", "d", "--disaggregation-mode", "decode", version="1.0.0")
        self.wait_instances(strict, 2)
        body = {"model": "d", "prompt": "p"}
        for url in (strict, fallback):
            self.assertEqual(http_json(url + "/v1/completions", body)[0], 200)
        pre.send_signal(signal.SIGTERM)
        self.assertEqual(pre.wait(10), 0)
        self.wait_instances(strict, 0, "prefill", timeout=5)
        self.assertEqual(http_json(strict + "/v1/completions", body)[0], 503)
        self.assertEqual(http_json(fallback + "/v1/completions", body)[0], 200)
        # --enforce-disagg: 503 without prefill in 1.1.0 .. 1.4.x; accepted but ignored in 1.5.x
        _, enforce = self.frontend("--enforce-disagg", DYN_STANDIN_VERSION="1.1.0")
        _, ignored = self.frontend("--enforce-disagg", DYN_STANDIN_VERSION="1.5.1")
        self.assertEqual(http_json(enforce + "/v1/completions", body)[0], 503)
        self.assertEqual(http_json(ignored + "/v1/completions", body)[0], 200)


if __name__ == "__main__":
    unittest.main()
