"""The stand-in HTTP frontend (python -m dynamo.frontend, and the Frontend of legacy graphs).

Discovery is read from the REAL etcd on every request (prefix v1/instances/), so /health reflects
exactly what the workers registered and deregistered. Routing: prefill instance (if any for the
model) -> decode/aggregated instance, each a real HTTP hop to the worker's node; the answer carries
"dyn_route" so a test can see the request crossed nodes. A prefill instance registered with
"forward_to" (0.3.2 SGLang components/worker.py) is the model's entry point instead: the frontend calls
only it, and it calls a decode instance itself.

Per release (shared/reference/dynamo-flags/releases-1.x.json `frontendHealth`, dynamo-releases.md):
  * /health answers 200 with zero workers from 0.6.x on (503 before); from 1.3.0 it answers 503
    {"status":"not_ready","stage":"draining"|"stopping"} during a graceful shutdown, and from 1.0.0 /live
    answers 503 {"status":"shutting_down"} then (the stand-in keeps serving DYN_STANDIN_SHUTDOWN_DELAY
    seconds, default 0, after SIGTERM so this can be observed).
  * disaggregation: 1.0.0-1.0.2 enforce prefill once a model's prefill workers were seen, unless
    --decode-fallback ("Allow falling back to decode-only (aggregated) mode when prefill workers are
    unavailable"); 0.9.0-1.4.x --enforce-disagg fails requests that find no prefill worker; 1.5.x
    accepts --enforce-disagg but ignores it ("DEPRECATED: accepted for compatibility but ignored").
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import time
import uuid

from ._flags import at_least
from ._runtime import INSTANCES_PREFIX, Fatal, Hooks, Infra, JsonHandler, Log, connect_services, post_json, serve
from ._stream import ChunkedWriter, open_ndjson, sse, wants_usage

PREFILL_COMPONENTS = {"prefill", "VllmPrefillWorker", "TensorRTLLMPrefillWorker", "PrefillWorker"}


class _FrontendHandler(JsonHandler):
    fe = None

    def do_GET(self):
        fe = self.fe
        path = self.path.split("?")[0]
        if path == "/live":
            return self.send_json(*fe.live())
        if path == "/health":
            return self.send_json(*fe.health())
        if path == "/v1/models":
            models = sorted({i["model"] for i in fe.instances() if fe.entry(i) and i.get("model")})
            return self.send_json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": int(fe.started), "owned_by": "nvidia"} for m in models]})
        self.send_json(404, {"error": {"message": f"no route {path}", "type": "NotFoundError", "code": 404}})

    def do_POST(self):
        path = self.path.split("?")[0]
        if path not in ("/v1/chat/completions", "/v1/completions"):
            return self.send_json(404, {"error": {"message": f"no route {path}", "code": 404}})
        req = self.read_json()
        if not isinstance(req, dict) or not req.get("model"):
            return self.send_json(400, {"error": {"message": "invalid request: 'model' is required",
                                                  "type": "BadRequestError", "code": 400}})
        chat = path.endswith("chat/completions")
        if req.get("stream"):
            return self.fe.stream(req, chat, self)
        self.send_json(*self.fe.complete(req, chat=chat))


class Frontend:
    def __init__(self, life, log: Log, *, http_host="0.0.0.0", http_port=8000, namespace=None,
                 infra=None, enforce_disagg=False, decode_fallback=None, version="1.5.1"):
        self.life, self.log = life, log
        self.http_host, self.http_port = http_host, int(http_port)
        self.namespace = namespace            # None: every namespace (as upstream without --namespace)
        self.infra = infra or Infra(version)
        self.enforce_disagg = enforce_disagg and not at_least(version, "1.5.0")
        self.decode_fallback = decode_fallback     # None: the release has no --decode-fallback
        self.seen_prefill = set()                  # models whose prefill router activated
        self.stage = None                          # draining | stopping during a graceful shutdown
        self.version = version
        self.rr = itertools.count()
        self.started = time.time()
        self.srv = self.nats = self.store = None
        self.hooks = Hooks({"frontend"})

    def start(self):
        self.nats, self.store = connect_services(self.life, self.log, "frontend", self.infra)
        if self.hooks.start_delay and self.life.sleep(self.hooks.start_delay):
            return
        try:
            self.srv = serve(_FrontendHandler, self.http_host, self.http_port, fe=self)
        except OSError as e:
            raise Fatal(1, f"cannot listen on {self.http_host}:{self.http_port}: {e}")
        self.log(f"HTTP frontend listening on {self.http_host}:{self.http_port} "
                 f"(namespace filter: {self.namespace or 'none'})")
        self.hooks.arm_exit_after(self.life, self.log)

    def stop(self):
        if self.srv:
            delay = float(os.environ.get("DYN_STANDIN_SHUTDOWN_DELAY") or 0)
            self.stage = "draining"
            if delay > 0:
                self.log(f"graceful shutdown: draining for {delay:g}s")
                time.sleep(delay / 2)
                self.stage = "stopping"
                time.sleep(delay / 2)
            self.stage = "stopping"
            self.srv.shutdown()
            self.srv.server_close()
        if self.nats:
            self.nats.close()

    # -- discovery ---------------------------------------------------------------------------------
    def instances(self):
        if not self.store:
            return []
        out = []
        for key, value in self.store.get_prefix(INSTANCES_PREFIX):
            try:
                inst = json.loads(value)
            except ValueError:
                continue
            if not isinstance(inst, dict) or (self.namespace and inst.get("namespace") != self.namespace):
                continue
            inst.setdefault("key", key)
            out.append(inst)
        return out

    @staticmethod
    def role(inst) -> str:
        if inst.get("role") in ("prefill", "decode", "agg", "encode"):
            return inst["role"]
        return "prefill" if inst.get("component") in PREFILL_COMPONENTS else "decode"

    @classmethod
    def entry(cls, inst) -> bool:
        """Does the frontend send requests for the model to this instance (last hop or forwarder)?"""
        return cls.role(inst) in ("decode", "agg") or bool(inst.get("forward_to"))

    def live(self):
        if self.stage and at_least(self.version, "1.0.0"):
            return 503, {"status": "shutting_down", "message": "Service is shutting down"}
        if at_least(self.version, "1.0.0"):
            return 200, {"status": "live", "message": "Service is live"}
        return 200, {"status": "live"}

    def health(self):
        if self.stage and at_least(self.version, "1.3.0"):
            return 503, {"status": "not_ready", "stage": self.stage, "message": "Service is not ready"}
        try:
            insts = self.instances()
        except ConnectionError as e:
            return 503, {"status": "unhealthy", "message": f"etcd unreachable: {e}", "endpoints": [], "instances": []}
        endpoints = sorted({f"dyn://{i['namespace']}.{i['component']}.{i['endpoint']}" for i in insts})
        listed = [{k: i.get(k) for k in ("component", "endpoint", "namespace", "instance_id", "transport",
                                         "host", "port", "node", "model", "role")} for i in insts]
        if not insts:
            # 503 in the Sept-2025 docs (0.5.x), 200 in the current docs (reference 3.1)
            code = 200 if at_least(self.version, "0.6.0") else 503
            return code, {"status": "unhealthy", "message": "No endpoints available",
                          "endpoints": [], "instances": []}
        return 200, {"status": "healthy", "endpoints": endpoints, "instances": listed}

    # -- routing -----------------------------------------------------------------------------------
    def _route(self, req: dict, chat: bool):
        """Discovery and the prefill hop: (200, (decode instance, payload for it, route so far)),
        or (code, error body)."""
        model = req["model"]
        try:
            insts = [i for i in self.instances() if i.get("model") == model]
        except ConnectionError as e:
            return 503, {"error": {"message": f"etcd unreachable: {e}", "code": 503}}
        prefill = [i for i in insts if self.role(i) == "prefill" and not self.entry(i)]
        decode = [i for i in insts if self.entry(i)]
        if not decode:
            return 404, {"error": {"message": f"Model not found: {model}", "type": "NotFoundError", "code": 404}}
        forwards = any(i.get("forward_to") for i in decode)
        if prefill:
            self.seen_prefill.add(model)
        elif not forwards:
            if self.enforce_disagg:
                return 503, {"error": {"message": "--enforce-disagg: no prefill worker available", "code": 503}}
            if self.decode_fallback is False and model in self.seen_prefill:
                return 503, {"error": {"message": "no prefill worker available and disaggregation is enforced "
                                                  "(--decode-fallback allows decode-only)", "code": 503}}
        n = next(self.rr)
        rid = uuid.uuid4().hex[:16]
        payload = {"request_id": rid, "model": model,
                   "messages": req.get("messages") if chat else req.get("prompt", "")}
        for k in ("max_tokens", "ignore_eos"):        # honoured by the worker (_stream.limit_tokens)
            if req.get(k) is not None:
                payload[k] = req[k]
        route = {"prefill": None, "decode": None}
        d = decode[n % len(decode)]
        try:
            # A decode instance that prefills locally (DYN_STANDIN_SKIP_PREFILL) gets no prefill result.
            if prefill and not d.get("local_prefill"):
                p = prefill[n % len(prefill)]
                payload["prefill_result"] = post_json(self._url(p), dict(payload, phase="prefill"))
                route["prefill"] = p.get("host")
                route["prefill_instance"] = f"{p.get('instance_id', 0):x}"
        except (OSError, ValueError) as e:
            self.log(f"request {rid} failed: {e}", err=True)
            return 503, {"error": {"message": f"worker request failed: {e}", "code": 503}}
        route["decode"] = d.get("host")
        route["decode_instance"] = f"{d.get('instance_id', 0):x}"
        return 200, (d, payload, route)

    @staticmethod
    def _final_route(route: dict, d: dict, out: dict) -> dict:
        pw, dw = out.get("prefill_worker"), out.get("worker")
        if d.get("forward_to") and pw and dw:   # d prefilled and called decode itself
            route.update(prefill=pw.get("host"), prefill_instance=f"{pw.get('instance_id') or 0:x}",
                         decode=dw.get("host"), decode_instance=f"{dw.get('instance_id') or 0:x}")
        return route

    @staticmethod
    def _usage(out: dict) -> dict:
        usage = {"prompt_tokens": out.get("prompt_tokens", 0), "completion_tokens": out.get("completion_tokens", 0)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return usage

    def complete(self, req: dict, chat: bool):
        """The whole answer (stream: false)."""
        code, routed = self._route(req, chat)
        if code != 200:
            return code, routed
        d, payload, route = routed
        rid = payload["request_id"]
        try:
            out = post_json(self._url(d), dict(payload, phase="decode"))
        except (OSError, ValueError) as e:
            self.log(f"request {rid} failed: {e}", err=True)
            return 503, {"error": {"message": f"worker request failed: {e}", "code": 503}}
        self._final_route(route, d, out)
        self.log(f"request {rid} model={payload['model']} prefill={route['prefill']} decode={route['decode']}")
        base = {"id": ("chatcmpl-" if chat else "cmpl-") + rid, "created": int(time.time()),
                "model": payload["model"], "usage": self._usage(out), "dyn_route": route}
        finish = out.get("finish_reason") or "stop"
        if chat:
            base.update(object="chat.completion", choices=[{
                "index": 0, "message": {"role": "assistant", "content": out["text"]}, "finish_reason": finish}])
        else:
            base.update(object="text_completion", choices=[{"index": 0, "text": out["text"], "finish_reason": finish}])
        return 200, base

    def stream(self, req: dict, chat: bool, handler):
        """stream: true: the decode worker's tokens relayed as they come, as OpenAI server-sent events
        (_stream.py): a role chunk (chat), one chunk per token, a finish chunk carrying dyn_route, the
        usage chunk when asked for, data: [DONE]. A failure before the first byte is a JSON error with
        its status; one after it an error event."""
        code, routed = self._route(req, chat)
        if code != 200:
            return handler.send_json(code, routed)
        d, payload, route = routed
        rid = payload["request_id"]
        try:
            lines = open_ndjson(self._url(d), dict(payload, phase="decode", stream=True))
        except (OSError, ValueError) as e:
            self.log(f"request {rid} failed: {e}", err=True)
            return handler.send_json(503, {"error": {"message": f"worker request failed: {e}", "code": 503}})
        model = payload["model"]
        head = {"id": ("chatcmpl-" if chat else "cmpl-") + rid, "object": "chat.completion.chunk" if chat
                else "text_completion", "created": int(time.time()), "model": model}

        def chunk(text=None, finish=None, **extra):
            if chat:
                delta = {} if text is None else {"content": text}
                return dict(head, choices=[{"index": 0, "delta": delta, "finish_reason": finish}], **extra)
            return dict(head, choices=[{"index": 0, "text": text or "", "finish_reason": finish}], **extra)

        w = ChunkedWriter(handler, "text/event-stream")
        out = {}
        try:
            if chat:
                w.write(sse(dict(head, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                 "finish_reason": None}])))
            for line in lines:
                if "token" in line:
                    w.write(sse(chunk(line["token"])))
                elif line.get("done"):
                    out = line
            self._final_route(route, d, out)
            w.write(sse(chunk(None, out.get("finish_reason") or "stop", dyn_route=route)))
            if wants_usage(req):
                w.write(sse(dict(head, choices=[], usage=self._usage(out))))
            self.log(f"request {rid} model={model} prefill={route['prefill']} decode={route['decode']} "
                     f"streamed {out.get('completion_tokens', 0)} tokens")
        except (OSError, ValueError, http.client.HTTPException) as e:
            self.log(f"request {rid} failed while streaming: {e!r}", err=True)
            try:
                w.write(sse({"error": {"message": f"worker stream failed: {e}", "code": 503}}))
            except OSError:
                return      # the client went away
        try:
            w.write(sse(b"[DONE]"))
            w.close()
        except OSError:
            pass

    @staticmethod
    def _url(inst) -> str:
        t = inst.get("transport") or {}
        return t.get("http") or f"http://{inst['host']}:{inst['port']}/generate"

