"""A stand-in inference worker: registers in discovery (etcd, or the file/mem backends), serves a tiny
"generate" endpoint and, per release, the DYN_SYSTEM_PORT status server, lives until SIGTERM. Used by dynamo.vllm / dynamo.sglang / dynamo.trtllm / dynamo.mocker and by legacy
`dynamo serve`."""

from __future__ import annotations

import itertools
import json
import os
import socket
import sys
import threading
import time

from . import __version__
from ._flags import at_least
from ._runtime import (INSTANCES_PREFIX, KEEPALIVE_EVERY, LEASE_TTL, Fatal, Hooks, Infra, JsonHandler,
                       Lifecycle, Log, PeerGroup, connect_services, host_ip, hostname, post_json, reply_text,
                       serve, system_port)
from ._stream import limit_tokens, split_tokens, stream_ndjson, token_delay


class WorkerSpec:
    def __init__(self, *, backend, role, component, model, namespace=None, rank=0, nnodes=1,
                 leader=None, register=True, needs_runtime=True, bind_any_leader=False,
                 version="", extra=None, system_server=True, bootstrap_port=None, forward_to=None,
                 infra=None):
        self.backend = backend          # vllm | sglang | trtllm | legacy class name backend
        self.role = role                # prefill | decode | agg
        self.component = component      # etcd component: prefill | backend | tensorrt_llm | <Class>
        self.model = model              # served model name (None: registers no model)
        self.namespace = namespace or "dynamo"   # the entry point resolves it per release
        self.rank, self.nnodes = rank, nnodes
        self.leader = leader            # (host, port) of rank 0 for multi-node engines
        self.register = register        # only rank 0 of an engine registers (headless never)
        self.needs_runtime = needs_runtime   # connect etcd/NATS (vLLM headless ranks do not)
        self.bind_any_leader = bind_any_leader
        self.version = version
        self.extra = extra or {}
        self.system_server = system_server   # DYN_SYSTEM_PORT: one server per process, not per worker
        self.bootstrap_port = bootstrap_port  # prefill: KV-transfer rendezvous port (mocker --bootstrap-ports)
        self.forward_to = forward_to    # prefill that calls decode itself: the decode component (0.3.2 SGLang)
        self.infra = infra or Infra(version or "1.5.1")

    def label(self) -> str:
        r = f" rank{self.rank}" if self.nnodes > 1 else ""
        return f"{self.backend}/{self.component}/{self.role}{r} {hostname()}"

    def tokens(self):
        return {self.role, self.component, self.backend, hostname(), f"rank{self.rank}"}


class RequestCounters:
    """The process's dynamo_component_requests_total series (one registry per process, as the
    runtime's: every endpoint this process serves adds one), served on /metrics of the system port.

    Upstream (shared/reference: checked at each release commit of ai-dynamo/dynamo, see
    packages/core/src/releases.ts REQUEST_COUNTER): lib/runtime/src/pipeline/network/ingress/
    push_handler.rs counts every request an endpoint handles in work_handler::REQUESTS_TOTAL,
    "requests_total" with the prefix "dynamo_component_" (metrics/prometheus_names.rs), auto-labelled
    dynamo_namespace/dynamo_component/dynamo_endpoint (metrics.rs create_metric) from 0.4.1 and, from
    1.1.0 (#8089), worker_id = the instance id in hex. The prometheus crate prints labels sorted."""
    HELP = "Total number of requests processed by work handler"
    lock = threading.Lock()
    series: dict = {}

    @classmethod
    def add(cls, version: str, namespace: str, component: str, endpoint: str, instance_id: int):
        labels = {"dynamo_namespace": namespace, "dynamo_component": component, "dynamo_endpoint": endpoint}
        if at_least(version, "1.1.0"):
            labels["worker_id"] = f"{instance_id:x}"
        key = tuple(sorted(labels.items()))
        with cls.lock:
            cls.series.setdefault(key, 0)
        return key

    @classmethod
    def inc(cls, key):
        with cls.lock:
            cls.series[key] = cls.series.get(key, 0) + 1

    @classmethod
    def text(cls) -> str:
        with cls.lock:
            items = sorted(cls.series.items())
        name = "dynamo_component_requests_total"
        out = [f"# HELP {name} {cls.HELP}", f"# TYPE {name} counter"]
        for key, n in items:
            labels = ",".join(f'{k}="{v}"' for k, v in key)
            out.append(f"{name}{{{labels}}} {n}")
        return "\n".join(out) + "\n"


class _GenerateHandler(JsonHandler):
    worker = None

    def do_GET(self):
        if self.path in ("/health", "/live"):
            self.send_json(200, {"status": "ready", "instance_id": self.worker.instance_id})
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/generate":
            return self.send_json(404, {"error": "not found"})
        if self.worker.counter:     # counted on arrival, whatever the outcome (push_handler.rs)
            RequestCounters.inc(self.worker.counter)
        req = self.read_json()
        if req is None:
            return self.send_json(400, {"error": "invalid JSON"})
        try:
            out = self.worker.generate(req)
        except UpstreamError as e:
            return self.send_json(502, {"error": str(e)})
        if "text" not in out:       # a prefill phase: KV parameters, no tokens
            return self.send_json(200, out)
        if req.get("stream"):       # tokens as they are made (_stream.py), DYN_STANDIN_TOKEN_DELAY_MS apart
            return stream_ndjson(self, out)
        if token_delay() and req.get("paced", True):   # a whole answer takes as long as its tokens
            time.sleep(token_delay() * out.get("completion_tokens", 0))
        self.send_json(200, out)


class UpstreamError(Exception):
    """A worker could not reach the peer it needs for this request (answered as 502)."""


class BootstrapError(UpstreamError):
    """The decode side could not reach the prefill worker's bootstrap (KV-transfer) port."""


class _Bootstrap:
    """A prefill worker's bootstrap listener: decode workers connect to it (across nodes) before the KV
    transfer. Bound on 0.0.0.0 like the engines do, so a port clash on a node fails the worker."""

    def __init__(self, port: int, log: Log, life: Lifecycle):
        self.log, self.life = log, life
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.sock.bind(("0.0.0.0", port))
        except OSError as e:
            self.sock.close()
            raise Fatal(1, f"bootstrap port {port}: {e}") from None
        self.sock.listen(64)
        self.port = port
        threading.Thread(target=self._serve, daemon=True).start()
        log(f"bootstrap server on 0.0.0.0:{port}")

    def _serve(self):
        while not self.life.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                try:
                    c.settimeout(5)
                    room = c.makefile("r").readline().strip()
                    c.sendall(f"OK {room}\n".encode())
                except OSError:
                    pass

    @staticmethod
    def handshake(host: str, port: int, room: str):
        try:
            with socket.create_connection((host, port), timeout=5) as c:
                c.sendall(f"{room}\n".encode())
                reply = c.makefile("r").readline().strip()
        except OSError as e:
            raise BootstrapError(f"bootstrap {host}:{port} unreachable: {e}") from None
        if reply != f"OK {room}":
            raise BootstrapError(f"bootstrap {host}:{port}: unexpected reply {reply!r}")

    def close(self):
        self.sock.close()


class _SystemHandler(JsonHandler):
    """DYN_SYSTEM_PORT: the worker's own /health and /live (upstream system status server), and
    /metrics with the process's request counters (RequestCounters)."""
    worker = None

    def do_GET(self):
        w = self.worker
        if self.path == "/live":
            self.send_json(200, {"status": "live"})
        elif self.path == "/metrics":
            data = RequestCounters.text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/health":
            if w.registered.is_set():
                self.send_json(200, {"status": "ready", "endpoints": {"generate": "ready"}})
            else:
                self.send_json(503, {"status": "notready", "endpoints": {"generate": "notready"}})
        else:
            self.send_json(404, {"error": "not found"})


class Worker:
    def __init__(self, spec: WorkerSpec, life: Lifecycle, log: Log | None = None):
        self.spec, self.life = spec, life
        self.log = log or Log(spec.label())
        self.ip = host_ip()
        self.node = hostname()
        self.instance_id = None
        self.counter = None     # this worker's RequestCounters series, once its endpoint serves
        self.lease = None
        self.registered = threading.Event()
        self.servers, self.nats, self.store, self.peers, self.bootstrap = [], None, None, None, None
        self.hooks = Hooks(spec.tokens())
        self.rr = itertools.count()

    # -- request handling ------------------------------------------------------------------------
    def identity(self):
        return {"component": self.spec.component, "role": self.spec.role, "host": self.ip,
                "node": self.node, "instance_id": self.instance_id}

    def generate(self, req: dict) -> dict:
        model = req.get("model") or self.spec.model
        messages = req.get("messages") or req.get("prompt") or []
        text = "" if self.hooks.empty_reply else reply_text(model, messages)
        finish = "stop"
        if req.get("max_tokens") is not None:   # honour max_tokens (and ignore_eos): _stream.limit_tokens
            tokens, finish = limit_tokens(split_tokens(text), req["max_tokens"], bool(req.get("ignore_eos")))
            text = "".join(tokens)
        prompt_tokens = len(json.dumps(messages).split())
        if self.spec.role == "prefill":
            self.log(f"prefill request {req.get('request_id', '?')}")
            kv = {"remote_host": self.ip, "remote_engine_id": f"{self.instance_id or 0:x}",
                  "remote_block_ids": [0, 1, 2]}
            if self.bootstrap:
                kv.update(bootstrap_host=self.ip, bootstrap_port=self.bootstrap.port)
            pre = {"phase": "prefill", "worker": self.identity(), "prompt_tokens": prompt_tokens,
                   "kv_transfer_params": kv}
            return self._forward(req, pre) if self.spec.forward_to else pre
        pre = req.get("prefill_result") or {}
        kv = pre.get("kv_transfer_params") or {}
        if kv.get("bootstrap_port"):
            try:
                _Bootstrap.handshake(kv["bootstrap_host"], int(kv["bootstrap_port"]), req.get("request_id", "?"))
            except BootstrapError as e:
                self.log(f"{self.spec.role} request {req.get('request_id', '?')}: {e}", err=True)
                raise
        self.log(f"{self.spec.role} request {req.get('request_id', '?')}"
                 + (f" (KV from {pre.get('worker', {}).get('host')})" if pre else ""))
        return {"phase": self.spec.role, "worker": self.identity(), "text": text,
                "prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                "finish_reason": finish, "prefill_worker": pre.get("worker")}

    def _forward(self, req: dict, pre: dict) -> dict:
        """0.3.2 SGLang prefill worker: hand the request to a decode instance (round-robin over
        <namespace>/<forward_to>, any model) and return its answer, as upstream's decode_client."""
        s = self.spec
        prefix = f"{INSTANCES_PREFIX}{s.namespace}/{s.forward_to}/generate/"
        try:
            decode = [json.loads(v) for _, v in self.store.get_prefix(prefix)]
        except (ConnectionError, ValueError) as e:
            raise UpstreamError(f"cannot list {prefix}: {e}") from None
        if not decode:
            self.log(f"prefill request {req.get('request_id', '?')}: no instance of "
                     f"dyn://{s.namespace}.{s.forward_to}.generate", err=True)
            raise UpstreamError(f"no instance of dyn://{s.namespace}.{s.forward_to}.generate")
        d = decode[next(self.rr) % len(decode)]
        url = (d.get("transport") or {}).get("http") or f"http://{d['host']}:{d['port']}/generate"
        try:
            # whole and unpaced from decode: this entry point paces (and streams) the tokens itself
            out = post_json(url, dict(req, phase="decode", prefill_result=pre, stream=False, paced=False))
        except (OSError, ValueError) as e:
            raise UpstreamError(f"decode {url}: {e}") from None
        self.log(f"prefill request {req.get('request_id', '?')} -> decode {d.get('host')}")
        return out

    # -- life cycle --------------------------------------------------------------------------------
    def start(self):
        s, log = self.spec, self.log
        if s.needs_runtime:
            self.nats, self.store = connect_services(self.life, log, f"{s.backend}-{s.component}", s.infra,
                                                     need_discovery=s.register or s.backend == "sglang")
            self._system_server()
        if s.nnodes > 1:
            host, port = s.leader
            self.peers = PeerGroup(self.life, log, s.rank, s.nnodes, host, port)
            self.peers.start(bind_any=s.bind_any_leader)
        if self.hooks.start_delay:
            log(f"DYN_STANDIN_START_DELAY: loading model for {self.hooks.start_delay:g}s")
            if self.life.sleep(self.hooks.start_delay):
                return
        if s.bootstrap_port and s.role == "prefill":
            self.bootstrap = _Bootstrap(int(s.bootstrap_port), log, self.life)
        if not s.register:
            log("not registering (non-leader rank / headless): serving the leader only")
            self.registered.set()
            self.hooks.arm_exit_after(self.life, log)
            return
        gen = serve(_GenerateHandler, self.ip, 0, worker=self)
        self.servers.append(gen)
        port = gen.server_address[1]
        self.lease = self.store.grant(LEASE_TTL)
        self.instance_id = self.lease
        key = f"v1/instances/{s.namespace}/{s.component}/generate/{self.lease:x}"
        value = {"component": s.component, "endpoint": "generate", "namespace": s.namespace,
                 "instance_id": self.lease, "host": self.ip, "port": port, "node": self.node,
                 "transport": {"http": f"http://{self.ip}:{port}/generate"},
                 "model": s.model, "role": s.role, "backend": s.backend, "nnodes": s.nnodes,
                 "dynamo_version": s.version, "standin": __version__, "pid": os.getpid()}
        if s.forward_to:    # the frontend calls this prefill instance as the model's entry point
            value["forward_to"] = f"dyn://{s.namespace}.{s.forward_to}.generate"
        if self.hooks.skip_prefill and s.role == "decode":   # the frontend sends it no prefill results
            value["local_prefill"] = True
            log("DYN_STANDIN_SKIP_PREFILL: serving without the prefill workers (prefilling locally)", err=True)
        if at_least(s.version, "0.4.1"):
            self.counter = RequestCounters.add(s.version, s.namespace, s.component, "generate", self.lease)
        # The SIGUSR1 hook before the instance is visible: a test that signals as soon as /health
        # lists it must find the handler in place (SIGUSR1's default action ends the process, and its
        # lease would then outlive it by LEASE_TTL).
        self.hooks.arm_deregister_after(self.life, log, self._deregister)
        self.store.put(key, json.dumps(value), self.lease)
        self.registered.set()
        log(f"registered {key} -> {self.ip}:{port} model={s.model or '-'} role={s.role}"
            + (f" (forwards to {value['forward_to']})" if s.forward_to else ""))
        threading.Thread(target=self._keepalive, daemon=True).start()
        self.hooks.arm_exit_after(self.life, log)

    def _deregister(self):
        """Leave discovery but keep running (the DYN_STANDIN_DEREGISTER_AFTER hook)."""
        self.deregistered = True
        try:
            self.store.revoke(self.lease)
        except ConnectionError as e:
            self.log(f"could not revoke lease: {e}", err=True)

    def _system_server(self):
        """DYN_SYSTEM_PORT (per release: _runtime.system_port). From 1.4.0 the worker self-hosts its
        model card there (DYN_SELF_HOST_METADATA, default on; shared/reference/dynamo-releases.md,
        "Environment a launcher must set"), so two workers of a node on one port collide: the second
        exits 1. Before 1.4.0 the status server is optional: a bind failure is only logged."""
        s, log = self.spec, self.log
        if not s.system_server:
            return
        port = system_port(s.version, log)
        self_host = at_least(s.version, "1.4.0") and os.environ.get(
            "DYN_SELF_HOST_METADATA", "").strip().lower() not in ("0", "false", "no", "off")
        if port is None:
            if self_host and s.register:
                log("WARNING: DYN_SYSTEM_PORT unset: the model card is not self-hosted "
                    "(DYN_SELF_HOST_METADATA); falling back to shared-storage model cards", err=True)
            return
        try:
            srv = serve(_SystemHandler, "0.0.0.0", port, worker=self)
        except OSError as e:
            if self_host:
                raise Fatal(1, f"system server cannot bind 0.0.0.0:{port}: {e} (Dynamo {s.version} self-hosts "
                               f"the model card on DYN_SYSTEM_PORT: every worker process on a node needs its "
                               f"own port, or DYN_SELF_HOST_METADATA=0)") from None
            log(f"WARNING: system status server not started on 0.0.0.0:{port}: {e}", err=True)
            return
        self.servers.append(srv)
        log(f"system status server on 0.0.0.0:{srv.server_address[1]} (/health, /live"
            + (", self-hosted model card)" if self_host else ")"))

    def _keepalive(self):
        last_ok = time.monotonic()
        while not self.life.stop.wait(KEEPALIVE_EVERY):
            if getattr(self, "deregistered", False):
                return  # left discovery on purpose; the process lives on
            try:
                ttl = self.store.keepalive(self.lease)
                if ttl <= 0:
                    self.life.request_exit(1, "etcd lease expired (instance deregistered)")
                    return
                last_ok = time.monotonic()
            except ConnectionError as e:
                if time.monotonic() - last_ok > LEASE_TTL:
                    self.life.request_exit(1, f"lost etcd: {e}")
                    return

    def stop(self):
        if self.lease and not self.life.crash and not getattr(self, "deregistered", False):
            try:
                self.store.revoke(self.lease)
                self.log(f"lease {self.lease:x} revoked (deregistered)")
            except ConnectionError as e:
                self.log(f"could not revoke lease: {e}", err=True)
        if self.peers:
            self.peers.close()
        if self.bootstrap:
            self.bootstrap.close()
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()
        if self.nats:
            self.nats.close()


def log_start(log: Log, version: str, opts=None, infra: Infra | None = None):
    from ._flags import version_and_source
    log(f"start: argv={sys.argv!r}")
    src = version_and_source()[1] if version == version_and_source()[0] else "caller"
    log(f"Dynamo stand-in impersonating {version} (from {src}); CUDA_VISIBLE_DEVICES="
        f"{os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')} host={hostname()} ip={host_ip()} "
        f"ETCD_ENDPOINTS={os.environ.get('ETCD_ENDPOINTS', '<unset>')} "
        f"NATS_SERVER={os.environ.get('NATS_SERVER', '<unset>')}")
    if infra:
        log(f"runtime: {infra.describe()}")
    for name in (opts.uncertain if opts else []):
        log(f"note: {name} is marked releaseUncertain for {version} in the captured tables "
            f"(it may or may not exist in the real release); accepted")
    Hooks.log_secrets(log)


def run_components(components, life: Lifecycle, log: Log) -> int:
    """Start components in order, wait for a stop request, stop them in reverse. Returns exit code."""
    started = []
    code = 0
    try:
        for c in components:
            started.append(c)      # stop() copes with a half-started component
            c.start()
            if life.stop.is_set():
                break
        while not life.stop.wait(0.5):
            pass
        code = life.code
        if life.reason:
            (log if code == 0 else lambda m: log(m, err=True))(f"exiting ({life.reason}), code {code}")
    except Fatal as e:
        code = e.code
        if code:
            log(f"fatal: {e}", err=True)
        life.stop.set()
    finally:
        for c in reversed(started):
            try:
                c.stop()
            except Exception as e:  # noqa: BLE001 - clean-up must go on
                log(f"stop failed: {e}", err=True)
    return code
