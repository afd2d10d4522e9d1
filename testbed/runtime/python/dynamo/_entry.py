"""Entry points of the post-SDK components (python3 -m dynamo.{frontend,vllm,sglang,trtllm}).

Each one: version gate (module exists in the impersonated release?) -> flag table (exit 2 like
argparse) -> role / component name as upstream -> run until SIGTERM.
"""

from __future__ import annotations

import sys

from . import _flags
from ._flags import current_version
from ._frontend import Frontend
from ._runtime import Fatal, Lifecycle, Log, hostname, split_hostport
from ._worker import Worker, WorkerSpec, log_start, run_components, version_gate


def _finish(components, life, log) -> int:
    life.install_signals(log)
    return run_components(components, life, log)


def main_frontend(argv=None) -> int:
    version = current_version()
    version_gate(_flags.FRONTEND, version, "dynamo.frontend")
    opts, _ = _flags.parse_or_exit(_flags.FRONTEND, sys.argv[1:] if argv is None else argv, version)
    log = Log(f"frontend {hostname()}")
    log_start(log, version)
    life = Lifecycle()
    fe = Frontend(life, log, http_host=opts["http_host"], http_port=int(opts["http_port"]),
                  namespace=opts["namespace"], discovery=opts["discovery_backend"],
                  enforce_disagg=opts["enforce_disagg"], version=version)
    return _finish([fe], life, log)


def _int(opts, key, default):
    v = opts.get(key)
    try:
        return int(v) if v not in (None, False) else default
    except ValueError:
        print(f"error: argument --{key.replace('_', '-')}: invalid int value: {v!r}", file=sys.stderr)
        raise SystemExit(2)


def main_vllm(argv=None) -> int:
    version = current_version()
    version_gate(_flags.VLLM, version, "dynamo.vllm")
    opts, _ = _flags.parse_or_exit(_flags.VLLM, sys.argv[1:] if argv is None else argv, version)
    # role: --disaggregation-mode (>=1.0) or the older booleans; decode is the pre-1.0 default role
    mode = opts.get("disaggregation_mode")
    if opts.get("is_prefill_worker"):
        role = "prefill"
    elif opts.get("is_decode_worker"):
        role = "decode"
    elif mode:
        role = mode
    else:
        role = "agg"
    component = "prefill" if role == "prefill" else "backend"
    nnodes, rank = _int(opts, "nnodes", 1), _int(opts, "node_rank", 0)
    headless = bool(opts.get("headless"))
    if nnodes > 1 and not opts.get("master_addr"):
        print("python3 -m dynamo.vllm: error: --nnodes > 1 needs --master-addr", file=sys.stderr)
        return 2
    if nnodes > 1 and rank > 0 and not headless:
        # upstream examples always pass --headless on node ranks > 0; without it the rank still only
        # hosts engine workers here, but say so loudly
        print("WARNING: --node-rank > 0 without --headless (upstream examples pass --headless)",
              file=sys.stderr, flush=True)
        headless = True
    leader = (opts.get("master_addr"), _int(opts, "master_port", 29501)) if nnodes > 1 else None
    spec = WorkerSpec(backend="vllm", role=role, component=component,
                      model=opts.get("served_model_name") or opts["model"],
                      namespace=_endpoint_ns(opts), rank=rank, nnodes=nnodes, leader=leader,
                      register=not headless, needs_runtime=not headless, version=version)
    return _run_worker(spec, version)


def main_sglang(argv=None) -> int:
    version = current_version()
    version_gate(_flags.SGLANG, version, "dynamo.sglang")
    opts, _ = _flags.parse_or_exit(_flags.SGLANG, sys.argv[1:] if argv is None else argv, version)
    mode = opts.get("disaggregation_mode")
    role = mode if mode in ("prefill", "decode") else "agg"
    component = "prefill" if role == "prefill" else "backend"
    nnodes, rank = _int(opts, "nnodes", 1), _int(opts, "node_rank", 0)
    leader = None
    if nnodes > 1:
        if not opts.get("dist_init_addr"):
            print("python3 -m dynamo.sglang: error: --nnodes > 1 needs --dist-init-addr host:port", file=sys.stderr)
            return 2
        leader = split_hostport(opts["dist_init_addr"], 29500)
    spec = WorkerSpec(backend="sglang", role=role, component=component,
                      model=opts.get("served_model_name") or opts["model_path"],
                      namespace=_endpoint_ns(opts), rank=rank, nnodes=nnodes, leader=leader,
                      register=rank == 0, version=version)
    return _run_worker(spec, version)


def main_trtllm(argv=None) -> int:
    version = current_version()
    version_gate(_flags.TRTLLM, version, "dynamo.trtllm")
    opts, _ = _flags.parse_or_exit(_flags.TRTLLM, sys.argv[1:] if argv is None else argv, version)
    mode = opts.get("disaggregation_mode") or "prefill_and_decode"
    role = {"prefill": "prefill", "decode": "decode", "encode": "encode"}.get(mode, "agg")
    component = {"prefill": "prefill", "encode": "encoder"}.get(role, "tensorrt_llm")
    spec = WorkerSpec(backend="trtllm", role=role, component=component,
                      model=opts.get("served_model_name") or opts["model_path"],
                      namespace=_endpoint_ns(opts), version=version)
    return _run_worker(spec, version)


def _endpoint_ns(opts):
    """--endpoint dyn://ns.component.generate sets the namespace, as upstream."""
    ep = opts.get("endpoint")
    if ep and ep.startswith("dyn://") and ep.count(".") >= 2:
        return ep[len("dyn://"):].split(".")[0]
    return None


def _run_worker(spec: WorkerSpec, version: str) -> int:
    log = Log(spec.label())
    log_start(log, version)
    life = Lifecycle()
    try:
        w = Worker(spec, life, log)
    except Fatal as e:
        log(f"fatal: {e}", err=True)
        return e.code
    return _finish([w], life, log)
