"""The ONE table of command-line flags the stand-in accepts, per component and Dynamo version.

Why a table: `dyn` renders command lines for several Dynamo releases whose CLIs changed often. The
stand-in must reject exactly what the real release would reject (argparse: unknown flag, bad choice,
missing required flag -> one error line, exit 2), so a rendered script that would fail on a real
cluster also fails on the testbed.

Sources: the public ai-dynamo/dynamo repository, as summarised in
shared/reference/dynamo-on-slurm.md (sections 2, 3 and 6). Each table names the upstream file it
mirrors. Version gates (`since` = first release with the flag, `until` = first release without it)
are set ONLY where the reference documents a date; flags whose era is not documented are accepted in
every release where the module exists. Release <-> date mapping: reference section 0.

Engine pass-through flags (vLLM EngineArgs, SGLang ServerArgs, TRT-LLM) are a deliberately broad
but finite subset. A legitimate upstream flag missing here can be allowed without editing this file:
DYN_STANDIN_EXTRA_FLAGS="--flag-a,--flag-b" (each takes a value unless the next word starts with --).

Deliberate strictness: upstream gives --model / --model-path a default (Qwen/Qwen3-0.6B); the
stand-in requires them, because a deployment script that omits the model is always a bug.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field


def parse_version(v: str) -> tuple:
    """'1.1.0' -> (1, 1, 0); tolerant of suffixes like '0.3.2.post1' or 'v0.4.0'."""
    parts = []
    for p in v.strip().lstrip("v").split(".")[:3]:
        digits = "".join(ch for ch in p if ch.isdigit()) or "0"
        parts.append(int(digits))
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def current_version(default: str = "1.1.0") -> str:
    """The Dynamo release the stand-in impersonates (DYN_STANDIN_VERSION)."""
    return os.environ.get("DYN_STANDIN_VERSION") or default


@dataclass
class Flag:
    name: str                       # canonical spelling, e.g. "--model-path"
    kind: str = "value"             # "value" (takes one argument) | "bool" (store_true)
    aliases: tuple = ()
    choices: tuple | None = None
    required: bool = False
    since: str | None = None        # first Dynamo release that has it
    until: str | None = None        # first Dynamo release that no longer has it
    deprecated_since: str | None = None
    deprecation: str = ""
    negatable: bool = False         # argparse.BooleanOptionalAction: also --no-<name>
    env: str | None = None          # upstream env var that provides the default
    default: object = None
    type: type | None = None        # argparse type= (int/float): checked, the value stays a str

    @property
    def dest(self) -> str:
        return self.name.lstrip("-").replace("-", "_")


def V(name, *aliases, **kw):
    return Flag(name, "value", aliases=aliases, **kw)


def B(name, *aliases, **kw):
    return Flag(name, "bool", aliases=aliases, **kw)


@dataclass
class Table:
    prog: str                       # how the error line names the program
    since: str | None               # first release with this entry point
    until: str | None
    flags: list = field(default_factory=list)
    exclusive: list = field(default_factory=list)   # groups of dests that may not be combined


# --------------------------------------------------------------------------------------------------
# Frontend: components/frontend/src/dynamo/frontend/main.py (python -m dynamo.frontend).
# Module exists since #1944 (2025-07-15, renamed from dynamo.ingress) -> release 0.4.0.
# Env defaults as upstream: DYN_HTTP_HOST, DYN_HTTP_PORT (8000), DYN_ROUTER_MODE, DYN_NAMESPACE,
# DYN_DISCOVERY_BACKEND, DYN_REQUEST_PLANE, DYN_EVENT_PLANE. Planes/discovery flags: era not in the
# reference -> accepted in every release.
FRONTEND = Table("python3 -m dynamo.frontend", since="0.4.0", until=None, flags=[
    V("--http-host", env="DYN_HTTP_HOST", default="0.0.0.0"),
    V("--http-port", env="DYN_HTTP_PORT", default="8000"),
    V("--router-mode", env="DYN_ROUTER_MODE", default="round-robin",
      choices=("round-robin", "random", "power-of-two", "kv", "direct", "least-loaded",
               "device-aware-weighted")),
    V("--namespace", env="DYN_NAMESPACE"),
    V("--discovery-backend", env="DYN_DISCOVERY_BACKEND", default="etcd",
      choices=("etcd", "file", "mem", "kubernetes")),
    V("--request-plane", env="DYN_REQUEST_PLANE", default="tcp", choices=("tcp", "nats", "http")),
    V("--event-plane", env="DYN_EVENT_PLANE", default="nats", choices=("nats", "zmq")),
    V("--kv-cache-block-size"),
    V("--migration-limit"),
    B("--enforce-disagg"),
    V("--router-min-initial-workers"),
    V("--model-name"),
    V("--model-path"),
    V("--dump-config-to"),
    V("--tls-cert-path"),
    V("--tls-key-path"),
    V("--kv-overlap-score-weight"),
    V("--router-temperature"),
    B("--no-kv-events"),
    B("--router-replica-sync"),
    B("--router-reset-states"),
    V("--metrics-prefix"),
])

# --------------------------------------------------------------------------------------------------
# vLLM worker: components/src/dynamo/vllm/args.py (python -m dynamo.vllm) + vLLM AsyncEngineArgs.
# Module exists since #1983 (2025-07-22) -> release 0.4.0.
#   --is-prefill-worker          since 0.4.0 (decode = default role)
#   --is-decode-worker           since #5899 (2026-02-02) -> 0.9.0
#   --disaggregation-mode        since #6483 (2026-02-23) -> 1.0.0 (agg|prefill|decode,
#                                env DYN_VLLM_DISAGGREGATION_MODE); from then the two booleans are
#                                deprecated and mutually exclusive with it
#   --connector                  removed by #6450 (2026-02) -> gone in 1.0.0 (its introduction date is
#                                not in the reference: accepted from 0.4.0)
#   multi-node mp executor       #6204 (2026-02-22) -> 1.0.0: --nnodes --node-rank --master-addr
#                                --master-port --headless (examples/backends/vllm/launch/multi_node_tp.sh)
_VLLM_ENGINE = [
    V("--model", required=True),
    V("--served-model-name"),
    V("--tokenizer"),
    V("--tensor-parallel-size", "-tp"),
    V("--pipeline-parallel-size", "-pp"),
    V("--data-parallel-size", "-dp"),
    V("--data-parallel-size-local", "-dpl"),
    V("--data-parallel-start-rank", "-dpn"),
    V("--data-parallel-address", "-dpa"),
    V("--data-parallel-rpc-port", "-dpp"),
    B("--data-parallel-hybrid-lb", "-dph"),
    V("--data-parallel-backend", "-dpb"),
    B("--enable-expert-parallel", "-ep"),
    V("--distributed-executor-backend"),
    V("--kv-transfer-config"),
    V("--kv-events-config"),
    B("--enforce-eager"),
    V("--gpu-memory-utilization"),
    V("--max-model-len"),
    V("--max-num-seqs"),
    V("--max-num-batched-tokens"),
    V("--block-size"),
    V("--dtype"),
    V("--kv-cache-dtype"),
    V("--quantization", "-q"),
    V("--seed"),
    V("--swap-space"),
    V("--download-dir"),
    V("--load-format"),
    B("--trust-remote-code"),
    B("--enable-prefix-caching", negatable=True),
    B("--enable-chunked-prefill", negatable=True),
    B("--disable-log-requests"),
    B("--disable-log-stats"),
    B("--enable-log-requests"),
    V("--speculative-config"),
    V("--compilation-config", "-O"),
    B("--async-scheduling"),
    V("--max-num-partial-prefills"),
    V("--limit-mm-per-prompt"),
    # Dynamo's own vLLM-worker flags
    V("--endpoint"),
    V("--migration-limit"),
    V("--dump-config-to"),
    V("--dyn-tool-call-parser"),
    V("--dyn-reasoning-parser"),
    B("--use-vllm-tokenizer"),
    V("--connector", "--connectors", since="0.4.0", until="1.0.0"),
    B("--is-prefill-worker", deprecated_since="1.0.0",
      deprecation="use --disaggregation-mode prefill"),
    B("--is-decode-worker", since="0.9.0", deprecated_since="1.0.0",
      deprecation="use --disaggregation-mode decode"),
    V("--disaggregation-mode", since="1.0.0", env="DYN_VLLM_DISAGGREGATION_MODE",
      choices=("agg", "prefill", "decode")),
    V("--nnodes", "-n", since="1.0.0"),
    V("--node-rank", "-r", since="1.0.0"),
    V("--master-addr", since="1.0.0"),
    V("--master-port", since="1.0.0"),
    B("--headless", since="1.0.0"),
]
VLLM = Table("python3 -m dynamo.vllm", since="0.4.0", until=None, flags=_VLLM_ENGINE,
             exclusive=[("is_prefill_worker", "is_decode_worker"),
                        ("is_prefill_worker", "disaggregation_mode"),
                        ("is_decode_worker", "disaggregation_mode")])

# --------------------------------------------------------------------------------------------------
# SGLang ServerArgs (python/sglang/srt/server_args.py), shared by every SGLang entry point below.
# --disaggregation-mode absent/null = aggregated. Multi-node: --dist-init-addr <leader_ip>:<port>
# --nnodes N --node-rank r (reference 6).
_SGLANG_SERVER_ARGS = [
    V("--model-path", "--model", required=True),
    V("--served-model-name"),
    V("--tokenizer-path"),
    V("--tp-size", "--tp", "--tensor-parallel-size"),
    V("--dp-size", "--dp", "--data-parallel-size"),
    V("--ep-size", "--expert-parallel-size", "--ep"),
    V("--pp-size", "--pipeline-parallel-size"),
    B("--enable-dp-attention"),
    B("--enable-dp-lm-head"),
    V("--moe-dense-tp-size"),
    V("--page-size"),
    B("--trust-remote-code"),
    B("--skip-tokenizer-init"),
    V("--disaggregation-mode", choices=("null", "prefill", "decode")),
    V("--disaggregation-transfer-backend", choices=("mooncake", "nixl", "ascend", "fake")),
    V("--disaggregation-bootstrap-port"),
    V("--disaggregation-ib-device"),
    V("--host"),
    V("--port"),
    V("--nccl-port"),
    V("--dist-init-addr", "--nccl-init-addr"),
    V("--nnodes"),
    V("--node-rank"),
    V("--mem-fraction-static"),
    V("--kv-events-config"),
    V("--max-running-requests"),
    V("--max-total-tokens"),
    V("--chunked-prefill-size"),
    V("--context-length"),
    V("--max-prefill-tokens"),
    V("--quantization"),
    V("--dtype"),
    V("--kv-cache-dtype"),
    V("--attention-backend"),
    V("--cuda-graph-max-bs"),
    V("--cuda-graph-bs"),
    B("--disable-cuda-graph"),
    B("--disable-radix-cache"),
    V("--moe-a2a-backend"),
    V("--deepep-mode"),
    V("--deepep-config"),
    B("--enable-eplb"),
    V("--ep-num-redundant-experts"),
    V("--init-expert-location"),
    B("--enable-two-batch-overlap"),
    V("--watchdog-timeout"),
    V("--log-level"),
    V("--stream-interval"),
    V("--decode-log-interval"),
    B("--enable-metrics"),
    V("--random-seed"),
    V("--load-balance-method"),
    B("--prefill-round-robin-balance"),
    V("--load-format"),
    V("--speculative-algorithm"),
]

# Unified worker: components/src/dynamo/sglang/args.py (python -m dynamo.sglang, #2493, 2025-08-18
# -> first certain release 0.4.1) = ServerArgs + Dynamo's own SGLang-worker flags.
SGLANG = Table("python3 -m dynamo.sglang", since="0.4.1", until=None, flags=_SGLANG_SERVER_ARGS + [
    V("--endpoint"),
    V("--migration-limit"),
    B("--use-sglang-tokenizer"),
    V("--dyn-tool-call-parser"),
    V("--dyn-reasoning-parser"),
    V("--dump-config-to"),
])

# Split modules of release 0.4.0 only (#2046, 2025-07-22 -> 0.4.0; replaced by the unified module in
# #2493 -> 0.4.1): components/backends/sglang/src/dynamo/sglang/{worker,decode_worker}/main.py, both
# parsing plain ServerArgs (common.parse_sglang_args_inc). worker/main.py (prefill or aggregated)
# first strips --migration-limit from argv; decode_worker/main.py takes nothing else.
# They register dynamo.worker.generate (the model; prefill or agg) and dynamo.decode.generate (no
# model; reached by the prefill worker, never by the frontend): see main_sglang in _entry.py.
SGLANG_WORKER = Table("python3 -m dynamo.sglang.worker", since="0.4.0", until="0.4.1",
                      flags=_SGLANG_SERVER_ARGS + [V("--migration-limit")])
SGLANG_DECODE_WORKER = Table("python3 -m dynamo.sglang.decode_worker", since="0.4.0", until="0.4.1",
                             flags=_SGLANG_SERVER_ARGS)

# --------------------------------------------------------------------------------------------------
# TRT-LLM worker: components/src/dynamo/trtllm/utils/trtllm_utils.py (python -m dynamo.trtllm,
# since #2003, 2025-07-18 -> 0.4.0). --disaggregation-mode values prefill_and_decode (default =
# aggregated) | prefill | decode | encode -- NOT "agg". --disaggregation-strategy
# decode_first|prefill_first existed until #4097 (2025-11-04) -> gone in 0.7.0.
TRTLLM = Table("python3 -m dynamo.trtllm", since="0.4.0", until=None, flags=[
    V("--model-path", required=True),
    V("--served-model-name"),
    V("--extra-engine-args", env="DYN_TRTLLM_EXTRA_ENGINE_ARGS"),
    V("--override-engine-args"),
    B("--publish-events-and-metrics"),
    V("--disaggregation-mode", env="DYN_TRTLLM_DISAGGREGATION_MODE", default="prefill_and_decode",
      choices=("prefill_and_decode", "prefill", "decode", "encode")),
    V("--disaggregation-strategy", since="0.4.0", until="0.7.0",
      choices=("decode_first", "prefill_first")),
    V("--modality", choices=("text", "multimodal")),
    V("--max-num-tokens"),
    V("--max-batch-size"),
    V("--max-seq-len"),
    V("--max-beam-width"),
    V("--tensor-parallel-size"),
    V("--pipeline-parallel-size"),
    V("--expert-parallel-size"),
    V("--kv-block-size"),
    V("--free-gpu-memory-fraction"),
    V("--endpoint"),
    V("--migration-limit"),
    V("--dump-config-to"),
    V("--encode-endpoint"),
    V("--next-endpoint"),
    V("--dyn-tool-call-parser"),
    V("--dyn-reasoning-parser"),
])

# --------------------------------------------------------------------------------------------------
# Mocker engine: components/src/dynamo/mocker/args.py (python -m dynamo.mocker): simulated engine,
# no GPU work, no weights (the tokenizer is still loaded). Table = the 2026 args.py (1.0.0 era) with
# --disaggregation-mode, --num-workers and --bootstrap-ports; the module is modelled from 1.0.0 on
# (the older components/backends/mocker CLI of 2025 took only --model-path/--model-name/--endpoint/
# --extra-engine-args and is not modelled). argparse types as upstream (type=int/float). Checks
# upstream does after parsing (ValueError, exit 1): --num-workers >= 1, one --bootstrap-ports entry
# per worker; --is-*-worker together with --disaggregation-mode (here: exit 2 like vLLM).
# Without --endpoint it registers dyn://<ns>.prefill.generate (prefill) or dyn://<ns>.backend.generate.
MOCKER = Table("python3 -m dynamo.mocker", since="1.0.0", until=None, flags=[
    V("--model-path", required=True),
    V("--model-name"),
    V("--endpoint"),
    V("--num-gpu-blocks-override", type=int),
    V("--block-size", type=int),
    V("--max-num-seqs", type=int),
    V("--max-num-batched-tokens", type=int),
    B("--enable-prefix-caching", negatable=True),
    B("--enable-chunked-prefill", negatable=True),
    V("--watermark", type=float),
    V("--speedup-ratio", type=float),
    V("--data-parallel-size", type=int),
    V("--startup-time", type=float),
    V("--planner-profile-data"),
    V("--num-workers", type=int, default="1"),
    V("--reasoning"),
    V("--extra-engine-args"),
    V("--disaggregation-mode", choices=("agg", "prefill", "decode")),
    B("--is-prefill-worker", deprecated_since="1.0.0", deprecation="use --disaggregation-mode prefill"),
    B("--is-decode-worker", deprecated_since="1.0.0", deprecation="use --disaggregation-mode decode"),
    B("--durable-kv-events"),
    V("--bootstrap-ports"),
    V("--stagger-delay", type=float),
    V("--discovery-backend", env="DYN_DISCOVERY_BACKEND", default="etcd",
      choices=("kubernetes", "etcd", "file", "mem")),
    V("--request-plane", env="DYN_REQUEST_PLANE", default="tcp", choices=("nats", "http", "tcp")),
], exclusive=[("is_prefill_worker", "is_decode_worker"),
              ("is_prefill_worker", "disaggregation_mode"),
              ("is_decode_worker", "disaggregation_mode")])

# --------------------------------------------------------------------------------------------------
# Legacy SDK CLI: deploy/sdk/src/dynamo/sdk/cli/serve.py (`dynamo serve`, <= v0.3.x; the SDK was
# removed in July 2025: #1884/#1899 2025-07-14, #1983 2025-07-22 -> gone in 0.4.0). Besides these
# flags it takes the target `<module>:<Class>` and any number of `--<Service>.<key>=<value>`
# overrides (handled by dynamo/_legacy.py).
LEGACY_SERVE = Table("dynamo serve", since=None, until="0.4.0", flags=[
    V("--file", "-f", required=True),
    V("--service-name"),
    V("--working-dir"),
    B("--dry-run"),
    B("--enable-local-planner"),
])

TABLES = {"frontend": FRONTEND, "vllm": VLLM, "sglang": SGLANG, "sglang.worker": SGLANG_WORKER,
          "sglang.decode_worker": SGLANG_DECODE_WORKER, "trtllm": TRTLLM, "mocker": MOCKER,
          "serve": LEGACY_SERVE}


class FlagError(Exception):
    """A command line the real component would reject (argparse exits 2)."""


def _in_window(since, until, version) -> bool:
    v = parse_version(version)
    if since and v < parse_version(since):
        return False
    if until and v >= parse_version(until):
        return False
    return True


def module_available(table: Table, version: str) -> bool:
    return _in_window(table.since, table.until, version)


def parse(table: Table, argv: list, version: str, passthrough_prefix=None):
    """Parse argv against table for Dynamo `version`.

    Returns (values, warnings, extra): values maps dest -> str/bool/None (env defaults applied),
    warnings are deprecation lines, extra holds `--X.y=z` style arguments when passthrough_prefix
    accepts them (legacy `dynamo serve`) plus positionals in extra["_positional"].
    Raises FlagError with a one-line message naming the offending flag.
    """
    by_name = {}
    for f in table.flags:
        for n in (f.name,) + tuple(f.aliases):
            by_name[n] = f
            if f.negatable and n.startswith("--"):
                by_name["--no-" + n[2:]] = f
    allowed_extra = [x.strip() for x in os.environ.get("DYN_STANDIN_EXTRA_FLAGS", "").split(",") if x.strip()]

    values, seen, warnings = {}, {}, []
    extra = {"_positional": [], "_overrides": [], "_extra": []}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg in ("-h", "--help"):
            raise SystemExit(print_help(table, version))
        if passthrough_prefix and passthrough_prefix(arg):
            # legacy --Svc.key=value / --Svc.key value
            if "=" in arg:
                extra["_overrides"].append(arg)
            elif i < len(argv) and not argv[i].startswith("--"):
                extra["_overrides"].append(arg + "=" + argv[i])
                i += 1
            else:
                extra["_overrides"].append(arg + "=true")
            continue
        if not arg.startswith("-") or arg == "-":
            extra["_positional"].append(arg)
            continue
        name, eq, inline = arg.partition("=")
        f = by_name.get(name)
        if f is None:
            if name in allowed_extra:
                if not eq and i < len(argv) and not argv[i].startswith("--"):
                    i += 1
                extra["_extra"].append(name)
                continue
            raise FlagError(f"unrecognized arguments: {name}")
        if not _in_window(f.since, f.until, version):
            when = (f"added in Dynamo {f.since}" if f.since and parse_version(version) < parse_version(f.since)
                    else f"removed in Dynamo {f.until}")
            raise FlagError(f"unrecognized arguments: {name} ({when}; impersonating {version})")
        if f.kind == "bool":
            if eq:
                raise FlagError(f"argument {name}: ignored explicit argument '{inline}'")
            val = not (f.negatable and name.startswith("--no-"))
        else:
            if eq:
                val = inline
            elif i < len(argv) and not (argv[i].startswith("--") and len(argv[i]) > 2):
                val = argv[i]
                i += 1
            else:
                raise FlagError(f"argument {name}: expected one argument")
            if f.choices and val not in f.choices:
                opts = ", ".join(repr(c) for c in f.choices)
                raise FlagError(f"argument {name}: invalid choice: {val!r} (choose from {opts})")
            if f.type:
                try:
                    f.type(val)
                except ValueError:
                    raise FlagError(f"argument {name}: invalid {f.type.__name__} value: {val!r}") from None
        if f.deprecated_since and parse_version(version) >= parse_version(f.deprecated_since):
            warnings.append(f"DeprecationWarning: {name} is deprecated since Dynamo "
                            f"{f.deprecated_since}; {f.deprecation}")
        values[f.dest] = val
        seen[f.dest] = name

    for a, b in table.exclusive:
        if a in seen and b in seen:
            raise FlagError(f"argument {seen[b]}: not allowed with argument {seen[a]}")
    missing = [f.name for f in table.flags if f.required and f.dest not in values
               and _in_window(f.since, f.until, version)]
    if missing:
        raise FlagError("the following arguments are required: " + ", ".join(missing))
    if extra["_positional"] and not passthrough_prefix:
        raise FlagError("unrecognized arguments: " + " ".join(extra["_positional"]))

    for f in table.flags:
        if f.dest in values or not _in_window(f.since, f.until, version):
            continue
        if f.env and os.environ.get(f.env):
            v = os.environ[f.env]
            if f.choices and v not in f.choices:
                raise FlagError(f"argument {f.name}: invalid choice: {v!r} (from ${f.env})")
            values[f.dest] = v
        else:
            values[f.dest] = False if f.kind == "bool" else f.default
    return values, warnings, extra


def print_help(table: Table, version: str) -> int:
    print(f"usage: {table.prog} [options]   (Dynamo stand-in impersonating {version})")
    for f in table.flags:
        if not _in_window(f.since, f.until, version):
            continue
        names = ", ".join((f.name,) + tuple(f.aliases))
        arg = "" if f.kind == "bool" else (" {" + ",".join(f.choices) + "}" if f.choices else " VALUE")
        req = " (required)" if f.required else ""
        dep = " (deprecated)" if f.deprecated_since and parse_version(version) >= parse_version(f.deprecated_since) else ""
        print(f"  {names}{arg}{req}{dep}")
    return 0


def parse_or_exit(table: Table, argv: list, version: str, passthrough_prefix=None):
    """parse() with argparse's failure mode: one line to stderr naming the flag, exit 2."""
    try:
        values, warnings, extra = parse(table, argv, version, passthrough_prefix)
    except FlagError as e:
        print(f"{table.prog}: error: {e}", file=sys.stderr, flush=True)
        raise SystemExit(2)
    for w in warnings:
        print(w, file=sys.stderr, flush=True)
    return values, extra
