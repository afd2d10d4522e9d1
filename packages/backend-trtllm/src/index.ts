/**
 * TensorRT-LLM on Dynamo. What changes between releases is the table `releases` below, one row per
 * change (facts: shared/reference/dynamo-releases.md and the argparse tables captured at each
 * release, shared/reference/dynamo-flags/releases-{0,1}.x.json, component `trtllm`).
 *
 * Each worker is one MPI job: one srun step over all its nodes with one task per GPU, under
 * `trtllm-llmapi-launch`. Its parallelism is passed as flags (`--tensor-parallel-size` = the
 * worker's GPUs) and must agree with its engine YAML, whose values win inside TensorRT-LLM: the
 * example engine configs dyn defaults to are single-GPU, so a multi-GPU worker needs its own.
 */
import {
  type Arg,
  type Command,
  type CommandContext,
  defineBackend,
  defineReleases,
  frontendCommand,
  type MultiNodeLaunch,
  type ServeGraph,
  serveGraphCommand,
  serveGraphComponents,
  serveGraphOptions,
  type WorkerRole,
  z,
} from "@dyn/core";

const path = (what: string) => z.string().min(1).optional().describe(what);

export const options = z.strictObject({
  prefillEngineConfig: path("engine YAML for prefill workers (default: the release's example, single-GPU)"),
  decodeEngineConfig: path("engine YAML for decode workers (default: the release's example, single-GPU)"),
  aggregatedEngineConfig: path(
    "engine YAML for aggregated workers (default: the release's example, single-GPU)",
  ),
  ...serveGraphOptions("/workspace/examples/tensorrt_llm"),
});
export type TrtllmOptions = z.output<typeof options>;

export interface TrtllmRelease {
  /** `serve-graph`: 0.3.2's `dynamo serve` graph of examples/tensorrt_llm; `module`: python3 -m dynamo.trtllm. */
  readonly launch: "serve-graph" | "module";
  /** The model flag (`--model-path` is deprecated for `--model` from 1.0.0). */
  readonly modelFlag: "--model-path" | "--model";
  /** `--disaggregation-mode` value per role. */
  readonly mode: Readonly<Record<WorkerRole, string>>;
  /** Component each role registers as (what /health lists); a missing role is not supported. */
  readonly registers: Readonly<Partial<Record<WorkerRole, string>>>;
  /** `--tensor-parallel-size`/`--pipeline-parallel-size`/`--gpus-per-node` exist (from 0.4.1). */
  readonly parallelismFlags: boolean;
  /** Where the example engine configs live in the container (DYNAMO_HOME = /workspace). */
  readonly engineConfigs: string;
  readonly multiNode: MultiNodeLaunch;
}

// biome-ignore format: a table reads best one row per release
export const releases = defineReleases<TrtllmRelease>({
  rows: [
    { since: "0.3.2", launch: "serve-graph", modelFlag: "--model-path", mode: { prefill: "prefill", decode: "decode", aggregated: "prefill_and_decode" },
      registers: { prefill: "TensorRTLLMPrefillWorker", decode: "TensorRTLLMWorker" }, parallelismFlags: false,
      engineConfigs: "/workspace/examples/tensorrt_llm/configs",
      multiNode: { unsupported: "the dynamo serve graph runs one worker per node (use Dynamo ≥ 0.4.1)" },
      note: "dynamo serve graph, decode first; the frontend process also runs one decode worker" },
    // decode_first (the default strategy): the first worker (decode) is tensorrt_llm, the next
    // (prefill) tensorrt_llm_next. 0.6.1 still has the strategy flag (uncertain in the tag).
    { since: "0.4.1", launch: "module", registers: { prefill: "tensorrt_llm_next", decode: "tensorrt_llm", aggregated: "tensorrt_llm" },
      parallelismFlags: true, engineConfigs: "/workspace/components/backends/trtllm/engine_configs", multiNode: "mpi",
      note: "python3 -m dynamo.trtllm, --disaggregation-strategy decode_first: prefill registers as tensorrt_llm_next" },
    { since: "0.6.1", engineConfigs: "/workspace/recipes/qwen3/trtllm" },
    { since: "0.9.0", registers: { prefill: "prefill", decode: "tensorrt_llm", aggregated: "tensorrt_llm" },
      engineConfigs: "/workspace/examples/backends/trtllm/engine_configs/qwen3", note: "strategy gone: prefill registers as prefill" },
    { since: "1.0.0", modelFlag: "--model", note: "--model (--model-path deprecated)" },
    { since: "1.3.0", mode: { prefill: "prefill", decode: "decode", aggregated: "agg" },
      registers: { prefill: "prefill", decode: "backend", aggregated: "backend" },
      note: "aggregated mode agg (prefill_and_decode deprecated, rejected from 1.4.0); decode and agg register as backend (#9766)" },
  ],
});
type Ctx = CommandContext<TrtllmOptions, TrtllmRelease>;

const ENGINE_KEY = {
  prefill: "prefillEngineConfig",
  decode: "decodeEngineConfig",
  aggregated: "aggregatedEngineConfig",
} as const;

export function engineConfig(role: WorkerRole, o: TrtllmOptions, r: TrtllmRelease): string {
  return o[ENGINE_KEY[role]] ?? `${r.engineConfigs}/${role === "aggregated" ? "agg" : role}.yaml`;
}

/** TP × PP of an engine YAML (top-level keys, default 1), or undefined when it names neither. */
export function yamlParallelism(text: string): number | undefined {
  const key = (k: string) => {
    const m = new RegExp(`^${k}\\s*:\\s*(\\d+)\\s*(#.*)?$`, "m").exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const tp = key("tensor_parallel_size");
  const pp = key("pipeline_parallel_size");
  return tp === undefined && pp === undefined ? undefined : (tp ?? 1) * (pp ?? 1);
}

/** Legacy `dynamo serve` graph (examples/tensorrt_llm, v0.3.2); graphs.agg:Frontend hosts a decode worker. */
const graph = (o: { graphDir: string; config: string }): ServeGraph => ({
  graphDir: o.graphDir,
  config: o.config,
  targets: {
    prefill: "components.prefill_worker:TensorRTLLMPrefillWorker",
    decode: "components.worker:TensorRTLLMWorker",
  },
  hosted: "decode",
});

function workerCommand(ctx: Ctx, role: WorkerRole): Command {
  const r = ctx.release.facts;
  const argv: Arg[] = [
    "trtllm-llmapi-launch",
    "python3",
    "-m",
    "dynamo.trtllm",
    r.modelFlag,
    ctx.model.path,
    "--served-model-name",
    ctx.model.servedName,
    "--extra-engine-args",
    engineConfig(role, ctx.options, r),
    "--disaggregation-mode",
    r.mode[role],
  ];
  if (r.parallelismFlags) {
    // One MPI rank per GPU: TP over the worker's GPUs, spread over its nodes.
    argv.push("--tensor-parallel-size", String(ctx.gpusPerWorker));
    if (ctx.nnodes > 1) argv.push("--gpus-per-node", String(ctx.gpus.length));
  }
  argv.push(...ctx.args);
  return { argv, env: { DYN_SYSTEM_PORT: ctx.port("system") } };
}

export default defineBackend({
  name: "trtllm",
  description:
    "TensorRT-LLM workers (trtllm-llmapi-launch python3 -m dynamo.trtllm, one MPI rank per GPU); the dynamo serve graph for Dynamo 0.3.2",
  options,
  releases,
  // The example engine configs are single-GPU (TP 1); a worker's GPUs must match its engine config.
  defaults: { model: "Qwen/Qwen3-0.6B", gpusPerWorker: { prefill: 1, decode: 1, aggregated: 1 } },
  components(o, { facts: r }) {
    if (r.launch === "serve-graph")
      return serveGraphComponents(graph(o), { prefill: "TrtllmPrefillWorker", decode: "TrtllmDecodeWorker" });
    const info = (role: WorkerRole, alias: string) => ({
      alias,
      dynamo: `dynamo.trtllm --disaggregation-mode ${r.mode[role]}`,
      health: r.registers[role] as string,
    });
    return {
      prefill: info("prefill", "TrtllmPrefillWorker"),
      decode: info("decode", "TrtllmDecodeWorker"),
      aggregated: info("aggregated", "TrtllmWorker"),
    };
  },
  multiNode: (_role, _o, { facts }) => facts.multiNode,
  tasksPerNode: ({ gpus, release }) => (release.facts.launch === "serve-graph" ? 1 : Math.max(gpus, 1)),
  ports: ({ role, release }) =>
    role === "frontend" || release.facts.launch === "serve-graph" ? [] : ["system"],
  colocatedWithFrontend: (o, { facts }) => (facts.launch === "serve-graph" ? graph(o).hosted : undefined),
  check(o, groups, { version, facts: r }, host) {
    if (r.launch === "serve-graph") {
      // Legacy workers name their engine configs in the graph config; an option would be ignored.
      const set = Object.values(ENGINE_KEY).find((k) => o[k] !== undefined);
      if (set)
        return {
          key: `backend.options.${set}`,
          reason: `Dynamo ${version} takes engine configs from the graph config (${o.config}: extra-engine-args), not from dyn`,
        };
      return undefined;
    }
    // The example engine configs set tensor_parallel_size 1, and the YAML wins over the flags.
    for (const [role, g] of Object.entries(groups) as Array<[WorkerRole, { gpusPerWorker: number }]>) {
      const given = o[ENGINE_KEY[role]];
      const text = given ? host.readFile(given) : undefined;
      const world = text ? yamlParallelism(text) : undefined;
      if (world !== undefined && world !== g.gpusPerWorker)
        return {
          key: `backend.options.${ENGINE_KEY[role]}`,
          reason: `${given} sets tensor_parallel_size × pipeline_parallel_size = ${world}, but ${role} workers use ${g.gpusPerWorker} GPUs (one MPI rank per GPU); TensorRT-LLM would fail at start`,
        };
      if (g.gpusPerWorker > 1 && o[ENGINE_KEY[role]] === undefined)
        return {
          key: `backend.options.${ENGINE_KEY[role]}`,
          reason: `${role} workers use ${g.gpusPerWorker} GPUs but the default engine config ${engineConfig(role, o, r)} is single-GPU (tensor_parallel_size 1); give an engine YAML whose tensor_parallel_size × pipeline_parallel_size = ${g.gpusPerWorker}`,
        };
    }
    return undefined;
  },
  command(ctx) {
    if (ctx.release.facts.launch === "serve-graph") return serveGraphCommand(ctx, graph(ctx.options));
    if (ctx.role === "frontend") return frontendCommand(ctx);
    return workerCommand(ctx, ctx.role);
  },
});
