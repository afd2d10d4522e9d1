"""Stand-in for the SDK-era CLI `dynamo serve` (Dynamo <= 0.3.x; removed in 0.4.0).

    dynamo serve <module>:<Class> -f <config.yaml> [--service-name S] [--working-dir D]
                 [--<Service>.<key>=<value> ...]

Like upstream (deploy/sdk/src/dynamo/sdk/cli/serve.py), it must be run from a graph directory such
as examples/vllm_v1: <module> is a file there (graphs/agg.py, components/worker.py). The stand-in does
not import those files; it reads them with `ast` to find the classes and the `.link()` graph, so the
placeholder graph dirs in testbed/runtime/workspace mirror the upstream structure.

Serving a graph root (graphs.agg:Frontend) starts every service linked from it whose section is in
the config (or the target itself); --service-name S starts only S. Config semantics: a service sees
its own section plus the keys of `Common` listed in its `common-configs`; `--S.key=value` overrides.
Workers register with component = class name (VllmPrefillWorker, ...), namespace "dynamo".
"""

from __future__ import annotations

import ast
import os
import sys

from . import _flags, _yaml
from ._flags import current_version
from ._frontend import Frontend
from ._runtime import Lifecycle, Log, hostname
from ._worker import Worker, WorkerSpec, log_start, run_components

# class -> (backend, kind); kind: frontend | infra (no process of its own here) | worker roles
INFRA = {"SimpleLoadBalancer", "Processor", "Router", "Planner", "PrefillQueue"}
WORKERS = {
    # examples/vllm_v1/components/worker.py (May -> Jul 2025)
    "VllmDecodeWorker": "vllm", "VllmPrefillWorker": "vllm",
    # examples/sglang/components/{worker,decode_worker}.py
    "SGLangWorker": "sglang", "SGLangDecodeWorker": "sglang",
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
    if cls == "SGLangDecodeWorker":
        return "decode"
    if cls == "SGLangWorker":
        return "prefill" if eff.get("disaggregation-mode") == "prefill" else "agg"
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


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    version = current_version("0.3.2")
    if not argv or argv[0] in ("-h", "--help"):
        print("Usage: dynamo [OPTIONS] COMMAND [ARGS]...\n\nCommands:\n  serve  Locally serve a Dynamo graph"
              f"\n\n(Dynamo stand-in impersonating {version})")
        return 0
    if argv[0] == "--version":
        print(f"dynamo, version {version} (stand-in)")
        return 0
    if argv[0] != "serve":
        die(f"No such command '{argv[0]}'.")
    if not _flags.module_available(_flags.LEGACY_SERVE, version):
        die(f"No such command 'serve': the dynamo SDK CLI was removed in Dynamo 0.4.0 "
            f"(impersonating {version}; set DYN_STANDIN_VERSION=0.3.2)")
    opts, extra = _flags.parse_or_exit(
        _flags.LEGACY_SERVE, argv[1:], version,
        passthrough_prefix=lambda a: a.startswith("--") and "." in a.split("=")[0] and a[2:3].isupper())
    if len(extra["_positional"]) != 1 or ":" not in extra["_positional"][0]:
        die("expected exactly one target <module>:<Class>, e.g. graphs.agg:Frontend")
    module, _, cls = extra["_positional"][0].partition(":")
    workdir = opts.get("working_dir") or os.getcwd()
    info = ModuleInfo(workdir, module)
    if cls not in info.classes:
        die(f"module '{module}' has no service class '{cls}' (found: {', '.join(sorted(info.classes)) or 'none'})")
    cfg_path = os.path.join(workdir, opts["file"]) if not os.path.isabs(opts["file"]) else opts["file"]
    if not os.path.isfile(cfg_path):
        die(f"config file {opts['file']} not found (relative to {workdir})")
    try:
        cfg = _yaml.load(cfg_path) or {}
    except _yaml.YamlError as e:
        die(f"{opts['file']}: {e}")
    if not isinstance(cfg, dict):
        die(f"{opts['file']}: top level must be a mapping")

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
    log_start(log, version)
    if opts.get("dry_run"):
        log(f"dry run: would start {services}")
        return 0
    life = Lifecycle()
    components = []
    for s in services:
        eff = service_config(cfg, s, extra["_overrides"])
        if s == "Frontend":
            components.append(Frontend(life, Log(f"Frontend {hostname()}"), http_host="0.0.0.0",
                                       http_port=int(eff.get("port", 8000)), version=version))
        elif s in INFRA:
            log(f"{s}: in-process (nothing to start in the stand-in)")
        else:
            model = model_name(eff)
            if not model:
                die(f"service {s}: no model in its config (model / served_model_name via common-configs)")
            workers = int(((eff.get("ServiceArgs") or {}).get("workers")) or 1)
            for _ in range(workers):
                spec = WorkerSpec(backend=WORKERS[s], role=worker_role(s, eff, cfg), component=s,
                                  model=model, version=version)
                components.append(Worker(spec, life, Log(f"{s}/{spec.role} {hostname()}")))
    life.install_signals(log)
    return run_components(components, life, log)
