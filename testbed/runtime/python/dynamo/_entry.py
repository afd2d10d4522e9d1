"""Entry points of the post-SDK components (python3 -m dynamo.{frontend,vllm,sglang,trtllm,mocker},
and dynamo.sglang.{worker,decode_worker} of release 0.4.0).

Each one: version gate (module exists in the impersonated release?) -> flag table (exit 2 like
argparse) -> role / component name as upstream -> run until SIGTERM.
"""

from __future__ import annotations

import json
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


def main_sglang(argv=None, table=_flags.SGLANG, module="dynamo.sglang", split=None) -> int:
    """dynamo.sglang, and (split="worker" / "decode") the 0.4.0 split modules.

    Unified module (>= 0.4.1): prefill -> component "prefill", decode/agg -> "backend"; the frontend
    calls prefill, then decode.

    Split modules of 0.4.0, as upstream ai-dynamo/dynamo v0.4.0
    components/backends/sglang/src/dynamo/sglang/worker/main.py and .../decode_worker/main.py:
      - dynamo.sglang.worker (prefill, or aggregated without --disaggregation-mode) serves
        dynamo.worker.generate and registers the model (register_llm); in prefill mode it hands each
        request to a dynamo.decode.generate instance itself (its decode_client) and returns the
        decode output, so the frontend only ever calls `worker`;
      - dynamo.sglang.decode_worker serves dynamo.decode.generate and registers no model.
    Both hard-code namespace "dynamo" (runtime.namespace("dynamo")), so DYN_NAMESPACE is ignored.
    """
    version = current_version()
    version_gate(table, version, module)
    opts, _ = _flags.parse_or_exit(table, sys.argv[1:] if argv is None else argv, version)
    mode = opts.get("disaggregation_mode")
    if split == "decode" and mode != "decode":
        print(f"WARNING: {module} always serves decode (upstream examples pass --disaggregation-mode "
              f"decode; got {mode or 'none'})", file=sys.stderr, flush=True)
        mode = "decode"
    role = mode if mode in ("prefill", "decode") else "agg"
    model = opts.get("served_model_name") or opts["model_path"]
    namespace, forward_to = _endpoint_ns(opts), None
    if split == "worker":
        component, namespace = "worker", "dynamo"
        forward_to = "decode" if role == "prefill" else None
    elif split == "decode":
        component, namespace, model = "decode", "dynamo", None
    else:
        component = "prefill" if role == "prefill" else "backend"
    nnodes, rank = _int(opts, "nnodes", 1), _int(opts, "node_rank", 0)
    leader = None
    if nnodes > 1:
        if not opts.get("dist_init_addr"):
            print(f"python3 -m {module}: error: --nnodes > 1 needs --dist-init-addr host:port", file=sys.stderr)
            return 2
        leader = split_hostport(opts["dist_init_addr"], 29500)
    spec = WorkerSpec(backend="sglang", role=role, component=component, model=model,
                      namespace=namespace, rank=rank, nnodes=nnodes, leader=leader,
                      register=rank == 0, version=version, forward_to=forward_to)
    return _run_worker(spec, version)


def main_sglang_worker(argv=None) -> int:
    return main_sglang(argv, _flags.SGLANG_WORKER, "dynamo.sglang.worker", split="worker")


def main_sglang_decode_worker(argv=None) -> int:
    return main_sglang(argv, _flags.SGLANG_DECODE_WORKER, "dynamo.sglang.decode_worker", split="decode")


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


def main_mocker(argv=None) -> int:
    version = current_version()
    prog = _flags.MOCKER.prog
    version_gate(_flags.MOCKER, version, "dynamo.mocker")
    opts, _ = _flags.parse_or_exit(_flags.MOCKER, sys.argv[1:] if argv is None else argv, version)
    if opts.get("is_prefill_worker"):
        role = "prefill"
    elif opts.get("is_decode_worker"):
        role = "decode"
    else:
        role = opts.get("disaggregation_mode") or "agg"
    # upstream checks these after argparse and raises ValueError (exit 1)
    n = int(opts["num_workers"])
    ports = [p.strip() for p in (opts.get("bootstrap_ports") or "").split(",") if p.strip()]
    if n < 1 or not all(p.isdigit() for p in ports) or (ports and len(ports) != n):
        print(f"{prog}: ValueError: --num-workers {n} needs >= 1 worker and, with --bootstrap-ports, "
              f"one port per worker (got {opts.get('bootstrap_ports')!r})", file=sys.stderr, flush=True)
        return 1
    if opts.get("extra_engine_args"):
        try:
            with open(opts["extra_engine_args"]) as f:
                json.load(f)
        except (OSError, ValueError) as e:
            print(f"{prog}: --extra-engine-args {opts['extra_engine_args']}: {e}", file=sys.stderr, flush=True)
            return 1
    ns, comp = _endpoint_parts(opts)
    specs = [WorkerSpec(backend="mocker", role=role, model=opts.get("model_name") or opts["model_path"],
                        component=comp or ("prefill" if role == "prefill" else "backend"), namespace=ns,
                        version=version, system_server=i == 0,
                        bootstrap_port=int(ports[i]) if ports else None)
             for i in range(n)]
    return _run_workers(specs, version)


def _endpoint_parts(opts):
    """--endpoint dyn://ns.component.generate -> (namespace, component), else (None, None)."""
    ep = opts.get("endpoint")
    if ep and ep.startswith("dyn://") and ep.count(".") >= 2:
        ns, comp = ep[len("dyn://"):].split(".")[:2]
        return ns, comp
    return None, None


def _endpoint_ns(opts):
    """--endpoint dyn://ns.component.generate sets the namespace, as upstream."""
    return _endpoint_parts(opts)[0]


def _run_worker(spec: WorkerSpec, version: str) -> int:
    return _run_workers([spec], version)


def _run_workers(specs, version: str) -> int:
    """One process, one or more workers (the mocker's --num-workers) sharing its life cycle."""
    log = Log(specs[0].label())
    log_start(log, version)
    life = Lifecycle()
    try:
        workers = [Worker(s, life, log if i == 0 else None) for i, s in enumerate(specs)]
    except Fatal as e:
        log(f"fatal: {e}", err=True)
        return e.code
    return _finish(workers, life, log)
