"""Stand-in for the SDK-era CLI `dynamo` of Dynamo 0.3.2: `dynamo serve` and `dynamo run`.

    dynamo serve <module>:<Class> -f <config.yaml> [--service-name S] [--working-dir D]
                 [--<Service>.<key>=<value> ...]
    dynamo run in=http out=dyn [--http-port N] [...]

Both parse with the 0.3.2 tables (components `serve`: typer/click, and `frontend`: the Rust clap
parser of dynamo-run). The CLI exists only in releases whose table has a `serve` component (0.3.2).

Like upstream (deploy/sdk/src/dynamo/sdk/cli/serve.py), it must be run from a graph directory such
as examples/vllm_v1: <module> is a file there (graphs/agg.py, components/worker.py). The stand-in does
not import those files; it reads them with `ast` to find the classes and the `.link()` graph, so the
placeholder graph dirs in testbed/runtime/workspace mirror the upstream structure.

Serving a graph root (graphs.agg:Frontend) starts every service linked from it whose section is in
the config (or the target itself); --service-name S starts only S. Config semantics: a service sees
its own section plus the keys of `Common` listed in its `common-configs`; `--S.key=value` overrides.
Workers register with component = class name (VllmPrefillWorker, ...), namespace "dynamo".
Graphs: vLLM (examples/vllm_v1) and TRT-LLM (examples/tensorrt_llm). SGLang is NOT a `dynamo serve`
graph at 0.3.2 (releases-0.x.md): its scripts are examples/sglang/components/{worker,decode_worker}.py
behind `dynamo run in=http out=dyn`. A TRT-LLM worker's section is argv for the 0.3.2 TRT-LLM parser
(plain argparse, complete in the table): an unknown key fails like it (exit 2); its
--extra-engine-args file must exist (exit 1). vLLM sections are not checked: the table lists only a
curated subset of the vLLM engine arguments they may hold.

`dynamo run` (0.3.2 frontend, dynamo-run): `in=`/`out=` must be the first or second argument; the
stand-in serves in=http with out=dyn (or out=dyn://...): the HTTP frontend over what is registered.
"""

from __future__ import annotations

import ast
import json
import os
import sys

from . import _flags, _yaml
from ._flags import current_version
from ._frontend import Frontend
from ._runtime import Infra, Lifecycle, Log, hostname
from ._worker import Worker, WorkerSpec, log_start, run_components

# class -> (backend, kind); kind: frontend | infra (no process of its own here) | worker roles
INFRA = {"SimpleLoadBalancer", "Processor", "Router", "Planner", "PrefillQueue"}
WORKERS = {
    # examples/vllm_v1/components/worker.py (May -> Jul 2025)
    "VllmDecodeWorker": "vllm", "VllmPrefillWorker": "vllm",
    # examples/tensorrt_llm/components/{worker,prefill_worker}.py
    "TensorRTLLMWorker": "trtllm", "TensorRTLLMPrefillWorker": "trtllm",
}


def die(msg: str, code: int = 2):
    print(f"Error: {msg}", file=sys.stderr, flush=True)
    raise SystemExit(code)


class ModuleInfo:
    """Classes defined or imported by a graph-dir module, and its .link() edges."""

    def __init__(self, workdir: str, module: str):
        rel = module.replace(".", os.sep) + ".py"
        self.path = os.path.join(workdir, rel)
        if not os.path.isfile(self.path):
            die(f"cannot import module '{module}': {rel} not found in {workdir} "
                f"(run dynamo serve from the example directory, e.g. examples/vllm_v1)")
        tree = ast.parse(open(self.path, encoding="utf-8").read(), self.path)
        self.classes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and n.module:
                for a in n.names:
                    self.classes.add(a.asname or a.name)
        self.edges = []
        alias = {}
        for n in ast.walk(tree):
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
                src = self._link_target(n.value)
                if src:
                    alias[n.targets[0].id] = src
        for n in ast.walk(tree):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "link" and n.args:
                src = self._node_name(n.func.value, alias)
                dst = n.args[0].id if isinstance(n.args[0], ast.Name) else None
                if src and dst:
                    self.edges.append((src, dst))

    def _link_target(self, node):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "link" \
                and node.args and isinstance(node.args[0], ast.Name):
            return node.args[0].id
        return None

    def _node_name(self, node, alias):
        if isinstance(node, ast.Name):
            return alias.get(node.id, node.id)
        return self._link_target(node)

    def reachable(self, root: str):
        seen, todo = [root], [root]
        while todo:
            cur = todo.pop()
            for a, b in self.edges:
                if a == cur and b not in seen:
                    seen.append(b)
                    todo.append(b)
        return seen


def service_config(cfg: dict, name: str, overrides: list) -> dict:
    common = cfg.get("Common") or {}
    sec = dict(cfg.get(name) or {})
    eff = {k: common[k] for k in (sec.get("common-configs") or []) if k in common}
    eff.update(sec)
    for o in overrides:
        key, _, val = o[2:].partition("=")
        svc, _, k = key.partition(".")
        if svc == name:
            eff[k] = _yaml.scalar(val)
    return eff


def truthy(v) -> bool:
    return v is True or str(v).lower() in ("true", "1", "yes")


def worker_role(cls: str, eff: dict, cfg: dict) -> str:
    if cls in ("VllmPrefillWorker", "TensorRTLLMPrefillWorker"):
        return "prefill"
    if cls == "VllmDecodeWorker":
        disagg = "VllmPrefillWorker" in cfg or truthy((cfg.get("SimpleLoadBalancer") or {}).get("enable_disagg"))
        return "decode" if disagg else "agg"
    if cls == "TensorRTLLMWorker":
        return "decode" if truthy(eff.get("enable-disagg")) else "agg"
    return "agg"


def model_name(eff: dict):
    for k in ("served_model_name", "served-model-name", "model", "model-path", "model_path", "model-name"):
        if eff.get(k):
            return str(eff[k])
    return None


TRTLLM_WORKERS = {"TensorRTLLMWorker", "TensorRTLLMPrefillWorker"}
NOT_ARGV = {"ServiceArgs", "common-configs"}


def check_trtllm_section(version: str, cls: str, eff: dict, workdir: str):
    """The 0.3.2 TRT-LLM worker turns its section into argv for its own argparse parser (table
    `trtllm` of 0.3.2: "YAML keys of the TRT-LLM worker sections, parsed by plain argparse"): true ->
    --key, false -> omitted, anything else -> --key value. Exit 2 on what that parser rejects, exit 1
    when the engine YAML named by extra-engine-args does not exist."""
    argv = []
    for k, v in eff.items():
        if k in NOT_ARGV:
            continue
        if v is True:
            argv.append(f"--{k}")
        elif v is False or v is None:
            continue
        else:
            argv += [f"--{k}", json.dumps(v) if isinstance(v, (dict, list)) else str(v)]
    _p, opts = _flags.parse_or_exit(version, "trtllm", argv, prog=f"{cls} (components/"
                                    f"{'worker' if cls == 'TensorRTLLMWorker' else 'prefill_worker'}.py)")
    path = opts.get("extra_engine_args")
    if path and not os.path.isfile(os.path.join(workdir, path)):
        print(f"{cls}: FileNotFoundError: [Errno 2] No such file or directory: {path!r} (extra-engine-args, "
              f"relative to {workdir})", file=sys.stderr, flush=True)
        raise SystemExit(1)


def cli_available(version: str) -> bool:
    return _flags.component(version, "serve") is not None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    version = current_version()
    _flags.release(version)             # an unknown release exits 1
    if not cli_available(version):
        print(f"dynamo: command not found: the SDK CLI (dynamo serve, dynamo run) is part of Dynamo 0.3.2 only "
              f"(stand-in impersonating {version})", file=sys.stderr, flush=True)
        return 127
    if not argv or argv[0] in ("-h", "--help"):
        print("Usage: dynamo [OPTIONS] COMMAND [ARGS]...\n\nCommands:\n  run    Execute a model\n"
              f"  serve  Locally serve a Dynamo graph\n\n(Dynamo stand-in impersonating {version})")
        return 0
    if argv[0] == "--version":
        print(f"dynamo, version {version} (stand-in)")
        return 0
    if argv[0] == "run":
        return main_run(argv[1:], version)
    if argv[0] != "serve":
        die(f"No such command '{argv[0]}'.")
    return main_serve(argv[1:], version)


def main_run(argv, version: str) -> int:
    """`dynamo run in=http out=dyn --http-port N` (= dynamo-run): the HTTP frontend."""
    p = _flags.parser_for(version, "frontend")
    opts = p.parse_or_exit(argv)
    io = {}
    for i, a in enumerate(argv):
        if a.startswith(("in=", "out=")):
            if i > 1:
                p.error_exit("unrecognized", args=[a])     # "must be the first or second argument"
            k, _, v = a.partition("=")
            io[k] = v
    inp, out = io.get("in", "text"), io.get("out", "")
    if inp != "http" or not (out == "dyn" or out.startswith("dyn://")):
        print(f"dynamo-run: the Dynamo stand-in serves only in=http out=dyn (got in={inp} out={out or '<default>'})",
              file=sys.stderr, flush=True)
        return 1
    extra = [x for x in opts.positionals if not x.startswith(("in=", "out="))]
    log = Log(f"dynamo-run {hostname()}")
    infra = Infra(version)
    log_start(log, version, opts, infra)
    if extra:
        log(f"positional model path {extra[0]!r} ignored: out=dyn serves what is registered")
    life = Lifecycle()
    fe = Frontend(life, log, http_host="0.0.0.0", http_port=int(opts.get("http_port", 8080)), infra=infra,
                  version=version)
    life.install_signals(log)
    return run_components([fe], life, log)


def main_serve(argv, version: str) -> int:
    p = _flags.parser_for(version, "serve")
    opts = p.parse_or_exit(argv)
    if len(opts.positionals) != 1 or ":" not in opts.positionals[0]:
        die("expected exactly one target <module>:<Class>, e.g. graphs.agg:Frontend")
    if not opts.get("config_file"):
        die("Missing option '-f' / '--config-file' (the stand-in needs the graph's YAML config).")
    module, _, cls = opts.positionals[0].partition(":")
    workdir = opts.get("working_dir") or os.getcwd()
    info = ModuleInfo(workdir, module)
    if cls not in info.classes:
        die(f"module '{module}' has no service class '{cls}' (found: {', '.join(sorted(info.classes)) or 'none'})")
    cfg_file = opts["config_file"]
    cfg_path = cfg_file if os.path.isabs(cfg_file) else os.path.join(workdir, cfg_file)
    if not os.path.isfile(cfg_path):
        die(f"config file {cfg_file} not found (relative to {workdir})")
    try:
        cfg = _yaml.load(cfg_path) or {}
    except _yaml.YamlError as e:
        die(f"{cfg_file}: {e}")
    if not isinstance(cfg, dict):
        die(f"{cfg_file}: top level must be a mapping")

    if opts.get("service_name"):
        services = [opts["service_name"]]
        if services[0] not in info.reachable(cls):
            die(f"service '{services[0]}' is not part of the graph of {cls}")
    else:
        services = [s for s in info.reachable(cls) if s == cls or s in cfg]
    unknown = [s for s in services if s not in WORKERS and s not in INFRA and s != "Frontend"]
    if unknown:
        die(f"the stand-in does not know service class(es) {', '.join(unknown)}")

    log = Log(f"serve {','.join(services)} {hostname()}")
    infra = Infra(version)
    log_start(log, version, opts, infra)
    effective = {s: service_config(cfg, s, opts.overrides) for s in services}
    for s in services:
        if s in TRTLLM_WORKERS:
            check_trtllm_section(version, s, effective[s], workdir)
    if opts.get("dry_run"):
        log(f"dry run: would start {services}")
        return 0
    life = Lifecycle()
    components = []
    for s in services:
        eff = effective[s]
        if s == "Frontend":
            components.append(Frontend(life, Log(f"Frontend {hostname()}"), http_host="0.0.0.0",
                                       http_port=int(eff.get("port", 8080)), infra=infra, version=version))
        elif s in INFRA:
            log(f"{s}: in-process (nothing to start in the stand-in)")
        else:
            model = model_name(eff)
            if not model:
                die(f"service {s}: no model in its config (model / served_model_name via common-configs)")
            workers = int(((eff.get("ServiceArgs") or {}).get("workers")) or 1)
            for _ in range(workers):
                spec = WorkerSpec(backend=WORKERS[s], role=worker_role(s, eff, cfg), component=s,
                                  model=model, namespace="dynamo", version=version, infra=infra)
                components.append(Worker(spec, life, Log(f"{s}/{spec.role} {hostname()}")))
    life.install_signals(log)
    return run_components(components, life, log)
