"""Entry points of the stand-in components: python3 -m dynamo.{frontend,vllm,sglang,trtllm,mocker}
and, for Dynamo 0.3.2, the SGLang example scripts components/worker.py and decode_worker.py.

Each one: the module exists in the impersonated release (its table launches it that way) -> that
release's parser (exit 2 like argparse) -> role and registration name as that release -> infra the
release needs -> run until SIGTERM. Facts: shared/reference/dynamo-releases.md ("Role selection and
registration", "Infrastructure each release needs", "Environment a launcher must set",
"Parallelism and multi-node"), cited per rule below as [releases.md <section>].
"""

from __future__ import annotations

import json
import os
import sys

from . import _yaml
from ._flags import at_least, current_version, parse_or_exit, require_module
from ._frontend import Frontend
from ._runtime import Fatal, Infra, Lifecycle, Log, hostname, split_hostport
from ._worker import Worker, WorkerSpec, log_start, run_components

KV_TRANSFER_EXAMPLE = '{"kv_connector":"NixlConnector","kv_role":"kv_both"}'
VLLM_DEFAULT_MODEL = "Qwen/Qwen3-0.6B"      # vLLM EngineArgs' own default when --model is absent


def _argv(argv):
    return sys.argv[1:] if argv is None else argv


def _start(name: str, argv, required=()):
    version = current_version()
    require_module(version, name, f"dynamo.{name}", f"python3 -m dynamo.{name}")
    parser, opts = parse_or_exit(version, name, _argv(argv), required=required)
    return version, parser, opts


def _role_flags(p, o):
    """The role options a release's parser has (vLLM and the mocker share them): --disaggregation-mode
    and the --is-prefill-worker/--is-decode-worker booleans, plus the boolean given together with a
    mode ("error if combined", releases.md), or None."""
    mode = o.get("disaggregation_mode") if p.has("--disaggregation-mode") else None
    pre = bool(o.get("is_prefill_worker")) if p.has("--is-prefill-worker") else False
    dec = bool(o.get("is_decode_worker")) if p.has("--is-decode-worker") else False
    clash = ("--is-prefill-worker" if pre else "--is-decode-worker") if mode and (pre or dec) else None
    return mode, pre, dec, clash


def _fail(prog: str, msg: str) -> int:
    """A check upstream does after argparse (ValueError and the like): exit 1."""
    print(f"{prog}: {msg}", file=sys.stderr, flush=True)
    return 1


def _finish(components, life, log) -> int:
    life.install_signals(log)
    return run_components(components, life, log)


def _first(v):
    return v[0] if isinstance(v, list) and v else (None if isinstance(v, list) else v)


def _int(v, default):
    try:
        return int(v) if v not in (None, False, "") else default
    except (TypeError, ValueError):
        return default


def _endpoint(parser, opts):
    """--endpoint dyn://ns.component.generate given on the command line or through its env var:
    (namespace, component); (None, None) otherwise. A table default (0.4.1 vLLM
    dyn://dynamo.backend.generate) is not an explicit choice and does not override the role."""
    if not parser.has("--endpoint") or not ("endpoint" in opts.given or "endpoint" in opts.from_env):
        return None, None
    ep = opts.get("endpoint") or ""
    if ep.startswith("dyn://") and ep.count(".") >= 2:
        ns, comp = ep[len("dyn://"):].split(".")[:2]
        return ns, comp
    return None, None


def _namespace(version, parser, opts, dynamo_namespace_env=False):
    """--namespace (1.0.0+, env DYN_NAMESPACE); before: DYN_NAMESPACE (0.6.1+) or, for 0.4.1 vLLM
    and SGLang, DYNAMO_NAMESPACE (0.4.1 env table: "DYNAMO_NAMESPACE readBy vllm, sglang")."""
    if parser.has("--namespace"):
        return opts.get("namespace") or "dynamo"
    if not at_least(version, "0.6.1"):
        return (os.environ.get("DYNAMO_NAMESPACE") if dynamo_namespace_env else None) or "dynamo"
    return os.environ.get("DYN_NAMESPACE") or "dynamo"


# --------------------------------------------------------------------------------------- frontend
def main_frontend(argv=None) -> int:
    version, p, o = _start("frontend", argv)
    log = Log(f"frontend {hostname()}")
    infra = Infra(version, p, o)
    log_start(log, version, o, infra)
    life = Lifecycle()
    fe = Frontend(life, log, http_host=o.get("http_host", "0.0.0.0"), http_port=_int(o.get("http_port"), 8000),
                  namespace=o.get("namespace") if p.has("--namespace") else None, infra=infra,
                  enforce_disagg=bool(o.get("enforce_disagg")),
                  decode_fallback=bool(o.get("decode_fallback")) if p.has("--decode-fallback") else None,
                  version=version)
    return _finish([fe], life, log)


# --------------------------------------------------------------------------------------- vLLM
def main_vllm(argv=None) -> int:
    version, p, o = _start("vllm", argv)
    prog = p.prog
    # role [releases.md "Role selection and registration"]: 0.4.1 --is-prefill-worker / default;
    # 0.6.1-0.9.0 + --is-decode-worker; 1.0.0+ --disaggregation-mode (booleans deprecated, "error if
    # combined"; removed in 1.4.0, which the parser already rejects).
    mode, pre, dec, clash = _role_flags(p, o)
    if clash:
        return _fail(prog, f"ValueError: {clash} cannot be combined with --disaggregation-mode {mode} "
                           f"(use --disaggregation-mode alone)")
    if pre:
        role = "prefill"
    elif dec:
        role = "decode"
    else:
        role = {"prefill": "prefill", "decode": "decode", "encode": "encode"}.get(mode or "agg", "agg")  # agg, pd
    component = {"prefill": "prefill", "encode": "encode"}.get(role, "backend")
    if at_least(version, "1.0.0"):
        # [releases.md "Environment a launcher must set"]: "DYN_CONNECTOR or --connector makes
        # dynamo.vllm exit with an error in 1.0-1.5"
        if o.get("connector") or os.environ.get("DYN_CONNECTOR"):
            src = "--connector" if "connector" in o.given else "DYN_CONNECTOR"
            return _fail(prog, f"ValueError: {src} is not supported by dynamo.vllm in Dynamo {version}; pass "
                               f"--kv-transfer-config '{KV_TRANSFER_EXAMPLE}' instead")
        # [releases.md "Role selection", 1.0.0-1.2.x row; releases-1.x.md "What changed" 2.]: "A prefill
        # worker still must pass --kv-transfer-config ... (ValueError otherwise)"
        if role == "prefill" and not o.get("kv_transfer_config"):
            return _fail(prog, f"ValueError: a prefill worker needs --kv-transfer-config (e.g. "
                               f"'{KV_TRANSFER_EXAMPLE}') for disaggregated KV transfer in Dynamo {version}")
    ns_ep, comp_ep = _endpoint(p, o)
    model = _first(o.get("served_model_name")) or o.get("model")
    if not model:
        print(f"WARNING: no --model: vLLM falls back to its default model {VLLM_DEFAULT_MODEL}",
              file=sys.stderr, flush=True)
        model = VLLM_DEFAULT_MODEL
    # multi-node (1.0.0+): rank 0 --nnodes N --node-rank 0 --master-addr HEAD; ranks > 0 also
    # --headless, which "start no Dynamo runtime" [releases.md "Parallelism and multi-node"]
    nnodes, rank = _int(o.get("nnodes"), 1), _int(o.get("node_rank"), 0)
    headless = bool(o.get("headless")) if p.has("--headless") else False
    if nnodes > 1 and not o.get("master_addr"):
        return _fail(prog, "error: --nnodes > 1 needs --master-addr")
    if nnodes > 1 and rank > 0 and not headless:
        print("WARNING: --node-rank > 0 without --headless (upstream examples pass --headless)",
              file=sys.stderr, flush=True)
        headless = True
    leader = (o.get("master_addr"), _int(o.get("master_port"), 29501)) if nnodes > 1 else None
    spec = WorkerSpec(backend="vllm", role=role, component=comp_ep or component, model=model,
                      namespace=ns_ep or _namespace(version, p, o, dynamo_namespace_env=True),
                      rank=rank, nnodes=nnodes, leader=leader, register=not headless,
                      needs_runtime=not headless, version=version, infra=Infra(version, p, o))
    return _run_workers([spec], version, o)


# --------------------------------------------------------------------------------------- SGLang
def main_sglang(argv=None) -> int:
    """python3 -m dynamo.sglang (0.4.1+): SGLang --disaggregation-mode prefill|decode (null =
    aggregated); prefill registers as `prefill`, decode and aggregated as `backend` [releases.md
    "Role selection": "SGLang ditto from 0.4.1"]. Multi-node: every node runs it with
    --dist-init-addr/--nnodes/--node-rank; only rank 0 serves the Dynamo endpoint."""
    version, p, o = _start("sglang", argv, required=["--model-path"])
    mode = o.get("disaggregation_mode")
    role = mode if mode in ("prefill", "decode") else "agg"
    ns_ep, comp_ep = _endpoint(p, o)
    return _sglang_worker(version, p, o, role=role, component=comp_ep or ("prefill" if role == "prefill" else "backend"),
                          namespace=ns_ep or _namespace(version, p, o, dynamo_namespace_env=True),
                          model=_first(o.get("served_model_name")) or o.get("model_path"))


def main_sglang_script(kind: str, argv=None) -> int:
    """Dynamo 0.3.2 examples/sglang/components/{worker,decode_worker}.py, run as `python3
    components/worker.py <ServerArgs>` with cwd examples/sglang (releases-0.x.md, 0.3.2 sglang: "no
    Dynamo-specific flags: argv is parsed only by SGLang ServerArgs"; not a `dynamo serve` graph).
    As the same scripts packaged later (components/backends/sglang/src/dynamo/sglang/worker/main.py
    and decode_worker/main.py): worker.py serves dynamo.worker.generate and registers the model
    (prefill, or aggregated without --disaggregation-mode); in prefill mode it hands each request to a
    dynamo.decode.generate instance itself, so the frontend (`dynamo run in=http out=dyn`) only calls
    `worker`. decode_worker.py serves dynamo.decode.generate and registers no model. Both hard-code
    namespace "dynamo"."""
    version = current_version()
    script = "worker.py" if kind == "worker" else "decode_worker.py"
    from ._flags import component
    comp = component(version, "sglang")
    if comp is None or not comp["command"].startswith("python3 components/"):
        how = comp["command"].split("   ")[0] if comp else "no SGLang component"
        print(f"{sys.executable}: can't open file 'components/{script}': [Errno 2] No such file or directory "
              f"(Dynamo stand-in impersonating {version}: there SGLang runs as {how})", file=sys.stderr, flush=True)
        return 2
    p, o = parse_or_exit(version, "sglang", _argv(argv), prog=script, required=["--model-path"])
    mode = o.get("disaggregation_mode") or "null"
    model = _first(o.get("served_model_name")) or o.get("model_path")
    if kind == "worker":
        if mode == "decode":
            print("WARNING: components/worker.py with --disaggregation-mode decode still hands requests on to "
                  "dynamo.decode.generate (run components/decode_worker.py for decode)", file=sys.stderr, flush=True)
        role = "agg" if mode == "null" else "prefill"
        return _sglang_worker(version, p, o, role=role, component="worker", namespace="dynamo", model=model,
                              forward_to="decode" if role == "prefill" else None)
    if mode != "decode":
        print(f"WARNING: components/decode_worker.py always serves decode (upstream examples pass "
              f"--disaggregation-mode decode; got {mode})", file=sys.stderr, flush=True)
    return _sglang_worker(version, p, o, role="decode", component="decode", namespace="dynamo", model=None)


def _sglang_worker(version, p, o, *, role, component, namespace, model, forward_to=None) -> int:
    nnodes, rank = _int(o.get("nnodes"), 1), _int(o.get("node_rank"), 0)
    leader = None
    if nnodes > 1:
        if not o.get("dist_init_addr"):
            return _fail(p.prog, "error: --nnodes > 1 needs --dist-init-addr host:port")
        leader = split_hostport(o["dist_init_addr"], 29500)
    spec = WorkerSpec(backend="sglang", role=role, component=component, model=model, namespace=namespace,
                      rank=rank, nnodes=nnodes, leader=leader, register=rank == 0, version=version,
                      forward_to=forward_to, infra=Infra(version, p, o))
    return _run_workers([spec], version, o)


# --------------------------------------------------------------------------------------- TRT-LLM
def trtllm_component(version: str, role: str, strategy: str | None) -> str:
    """[releases.md "Role selection and registration"]: 0.4.1 (and 0.6.1, uncertain) under
    --disaggregation-strategy decode_first (default): the decode (first) worker = tensorrt_llm, the
    prefill (next) worker = tensorrt_llm_next, prefill_first swaps them; 0.9.0-1.2.x prefill
    `prefill`, decode and aggregated `tensorrt_llm`; 1.3.0+ decode and aggregated `backend` (#9766)."""
    if role == "encode":
        return "encode"
    if strategy:
        first = "decode" if strategy == "decode_first" else "prefill"
        return "tensorrt_llm" if role in ("agg", first) else "tensorrt_llm_next"
    if role == "prefill":
        return "prefill"
    return "backend" if at_least(version, "1.3.0") else "tensorrt_llm"


def mpi_world_size() -> int:
    """The MPI world the TRT-LLM engine sees: the tasks trtllm-llmapi-launch counted
    (DYN_STANDIN_MPI_WORLD_SIZE, set by the stand-in launcher for its command), else the tasks of the
    srun step this process is in (SLURM_STEP_NUM_TASKS / SLURM_NTASKS), else 1."""
    for name in ("DYN_STANDIN_MPI_WORLD_SIZE",):
        if os.environ.get(name, "").strip().isdigit():
            return int(os.environ[name])
    if os.environ.get("SLURM_STEP_ID") is not None:
        for name in ("SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"):
            if os.environ.get(name, "").strip().isdigit():
                return int(os.environ[name])
    return 1


def main_trtllm(argv=None) -> int:
    version, p, o = _start("trtllm", argv)
    prog = p.prog
    # Without --disaggregation-mode TRT-LLM is aggregated in every release (prefill_and_decode
    # before 1.3.0, agg from 1.3.0; pd = combined worker) [releases.md "Role selection"].
    mode = o.get("disaggregation_mode") or "agg"
    role = {"prefill": "prefill", "decode": "decode", "encode": "encode"}.get(mode, "agg")
    strategy = (o.get("disaggregation_strategy") or "decode_first") if p.has("--disaggregation-strategy") else None
    # Engine YAML and parallelism [releases.md "Parallelism and multi-node"]: "A worker's TP×PP must
    # equal the GPUs it is given; an engine YAML with TP 1 on an 8-GPU worker breaks at start".
    # Multi-GPU runs under MPI (trtllm-llmapi-launch, one task per GPU), so TP×PP must equal the MPI
    # world. The YAML's keys override the CLI flags, as Dynamo merges --extra-engine-args over them.
    engine = {}
    path = o.get("extra_engine_args")
    if path:
        if not os.path.isfile(path):
            return _fail(prog, f"FileNotFoundError: [Errno 2] No such file or directory: {path!r} (--extra-engine-args)")
        try:
            engine = _yaml.load(path) or {}
        except (OSError, _yaml.YamlError) as e:
            return _fail(prog, f"--extra-engine-args {path}: {e}")
        if not isinstance(engine, dict):
            return _fail(prog, f"--extra-engine-args {path}: expected a mapping of LLM API options")

    def size(key, flag):
        if engine.get(key) is not None:
            return _int(engine[key], 1), f"{key} in {path}"
        if p.has(flag) and o.get(key) is not None:
            return _int(o.get(key), 1), (flag if key in o.given or key in o.from_env else f"{flag} default")
        return 1, "default"
    tp, tp_src = size("tensor_parallel_size", "--tensor-parallel-size")
    pp, pp_src = size("pipeline_parallel_size", "--pipeline-parallel-size")
    world = mpi_world_size()
    if tp * pp != world:
        return _fail(prog, f"[TensorRT-LLM][ERROR] ValueError: tp_size * pp_size = {tp} * {pp} = {tp * pp} does not "
                           f"match the MPI world size {world} (tensor_parallel_size from {tp_src}, "
                           f"pipeline_parallel_size from {pp_src}; multi-GPU workers run one task per GPU "
                           f"under srun ... trtllm-llmapi-launch)")
    ns_ep, comp_ep = _endpoint(p, o)
    namespace = ns_ep or (_namespace(version, p, o) if at_least(version, "0.6.1") else "dynamo")
    model = _first(o.get("served_model_name")) or o.get("model") or o.get("model_path")
    spec = WorkerSpec(backend="trtllm", role=role, component=comp_ep or trtllm_component(version, role, strategy),
                      model=model, namespace=namespace, version=version, infra=Infra(version, p, o),
                      extra={"tensor_parallel_size": tp, "pipeline_parallel_size": pp, "mpi_world_size": world})
    return _run_workers([spec], version, o)


# --------------------------------------------------------------------------------------- mocker
def main_mocker(argv=None) -> int:
    """python3 -m dynamo.mocker (0.4.1+): 0.4.1 aggregated only; 0.6.1/0.9.0 --is-prefill-worker /
    --is-decode-worker; 1.0.0+ --disaggregation-mode agg|prefill|decode with the booleans kept.
    Registers dyn://<ns>.prefill.generate (prefill) or dyn://<ns>.backend.generate; --endpoint
    overrides both. Upstream's post-parse checks (ValueError, exit 1): --num-workers >= 1, one
    --bootstrap-ports entry per worker, --extra-engine-args must be a readable JSON file."""
    version, p, o = _start("mocker", argv)
    prog = p.prog
    mode, pre, dec, clash = _role_flags(p, o)
    if clash:
        return _fail(prog, f"ValueError: {clash} cannot be combined with --disaggregation-mode {mode}")
    role = "prefill" if pre else "decode" if dec else (mode or "agg")
    n = _int(o.get("num_workers"), 1) if p.has("--num-workers") else 1
    raw_ports = o.get("bootstrap_ports") if p.has("--bootstrap-ports") else None
    ports = [x.strip() for x in (raw_ports or "").split(",") if x.strip()]
    if n < 1 or not all(x.isdigit() for x in ports) or (ports and len(ports) != n):
        return _fail(prog, f"ValueError: --num-workers {n} needs >= 1 worker and, with --bootstrap-ports, one port "
                           f"per worker (got {raw_ports!r})")
    if o.get("extra_engine_args"):
        try:
            with open(o["extra_engine_args"]) as f:
                json.load(f)
        except (OSError, ValueError) as e:
            return _fail(prog, f"--extra-engine-args {o['extra_engine_args']}: {e}")
    model_path = o.get("model_path")
    if not model_path:
        return _fail(prog, "error: no --model-path: the mocker loads the model's tokenizer from it")
    ns_ep, comp_ep = _endpoint(p, o)
    namespace = ns_ep or (_namespace(version, p, o) if at_least(version, "0.6.1") else "dynamo")
    infra = Infra(version, p, o)
    specs = [WorkerSpec(backend="mocker", role=role, model=o.get("model_name") or model_path,
                        component=comp_ep or ("prefill" if role == "prefill" else "backend"), namespace=namespace,
                        version=version, system_server=i == 0, infra=infra,
                        bootstrap_port=int(ports[i]) if ports else None)
             for i in range(n)]
    return _run_workers(specs, version, o)


# --------------------------------------------------------------------------------------- common
def _run_workers(specs, version: str, opts=None) -> int:
    """One process, one or more workers (the mocker's --num-workers) sharing its life cycle."""
    log = Log(specs[0].label())
    log_start(log, version, opts, specs[0].infra if specs[0].needs_runtime else None)
    life = Lifecycle()
    try:
        workers = [Worker(s, life, log if i == 0 else None) for i, s in enumerate(specs)]
    except Fatal as e:
        log(f"fatal: {e}", err=True)
        return e.code
    return _finish(workers, life, log)
