/**
 * TensorRT-LLM on Dynamo. Generations (facts: shared reference §2, §3.4, §5, §6):
 *  - legacy 0.3.x: `dynamo serve` graphs of examples/tensorrt_llm; decode first: the frontend process
 *    (graphs.agg:Frontend → TensorRTLLMWorker) also runs one decode worker, which hands prompts to
 *    TensorRTLLMPrefillWorker;
 *  - ≥ 0.4: `trtllm-llmapi-launch python3 -m dynamo.trtllm … --disaggregation-mode
 *    prefill|decode|prefill_and_decode` (#2003; aggregated is `prefill_and_decode`, not `agg`).
 *    Each worker is one MPI job: one srun step over all its nodes with one task per GPU, as the
 *    srun_*.sh scripts ran it. TP/PP come from the engine config (--extra-engine-args), so
 *    tensor_parallel_size × pipeline_parallel_size there must equal the worker's GPUs.
 */
import {
  type Command,
  type CommandContext,
  compareVersions,
  defineBackend,
  frontendCommand,
  type ServeGraph,
  serveGraphCommand,
  serveGraphComponents,
  serveGraphOptions,
  versionAtLeast,
  versionOption,
  type WorkerRole,
  z,
} from "@dyn/core";

const path = (what: string) => z.string().min(1).optional().describe(what);

export const options = z.strictObject({
  dynamoVersion: versionOption("1.1.0", "Dynamo release in the container; selects the launch commands"),
  prefillEngineConfig: path("engine YAML for prefill workers (default: by dynamoVersion, see README)"),
  decodeEngineConfig: path("engine YAML for decode workers (default: by dynamoVersion, see README)"),
  aggregatedEngineConfig: path("engine YAML for aggregated workers (default: by dynamoVersion, see README)"),
  ...serveGraphOptions("/workspace/examples/tensorrt_llm"),
});
export type TrtllmOptions = z.output<typeof options>;

const isLegacy = (o: TrtllmOptions) => !versionAtLeast(o.dynamoVersion, "0.4.0");

/**
 * Where the example engine configs live in the container, by the release that introduced the
 * location (reference §3.4; DYNAMO_HOME = /workspace). Newest first.
 */
const ENGINE_CONFIGS: ReadonlyArray<readonly [since: string, dir: string]> = [
  ["0.8.0", "/workspace/examples/backends/trtllm/engine_configs/qwen3"],
  ["0.6.0", "/workspace/recipes/qwen3/trtllm"],
  ["0.4.0", "/workspace/components/backends/trtllm/engine_configs"],
];

export function engineConfig(role: WorkerRole, o: TrtllmOptions): string {
  const given = {
    prefill: o.prefillEngineConfig,
    decode: o.decodeEngineConfig,
    aggregated: o.aggregatedEngineConfig,
  }[role];
  if (given) return given;
  const dir = ENGINE_CONFIGS.find(([since]) => compareVersions(o.dynamoVersion, since) >= 0)?.[1];
  return `${dir ?? ENGINE_CONFIGS.at(-1)?.[1]}/${role === "aggregated" ? "agg" : role}.yaml`;
}

const MODE = { prefill: "prefill", decode: "decode", aggregated: "prefill_and_decode" } as const;

/** Legacy `dynamo serve` graph (examples/tensorrt_llm, v0.3.x); graphs.agg:Frontend hosts a decode worker. */
const graph = (o: { graphDir: string; config: string }): ServeGraph => ({
  graphDir: o.graphDir,
  config: o.config,
  targets: {
    prefill: "components.prefill_worker:TensorRTLLMPrefillWorker",
    decode: "components.worker:TensorRTLLMWorker",
  },
  hosted: "decode",
});

function workerCommand(ctx: CommandContext<TrtllmOptions>, role: WorkerRole): Command {
  return {
    argv: [
      "trtllm-llmapi-launch",
      "python3",
      "-m",
      "dynamo.trtllm",
      "--model-path",
      ctx.model.path,
      "--served-model-name",
      ctx.model.servedName,
      "--extra-engine-args",
      engineConfig(role, ctx.options),
      "--disaggregation-mode",
      MODE[role],
      ...ctx.args,
    ],
    env: { DYN_SYSTEM_PORT: ctx.port("system") },
  };
}

export default defineBackend({
  name: "trtllm",
  description:
    "TensorRT-LLM workers (trtllm-llmapi-launch python3 -m dynamo.trtllm, one MPI rank per GPU); legacy dynamo serve graphs for Dynamo 0.3.x",
  options,
  // The example engine configs are single-GPU (TP 1); a worker's GPUs must match its engine config.
  defaults: { model: "Qwen/Qwen3-0.6B", gpusPerWorker: { prefill: 1, decode: 1, aggregated: 1 } },
  components(o) {
    if (isLegacy(o)) {
      return serveGraphComponents(graph(o), { prefill: "TrtllmPrefillWorker", decode: "TrtllmDecodeWorker" });
    }
    const show = (role: WorkerRole) => `dynamo.trtllm --disaggregation-mode ${MODE[role]}`;
    return {
      prefill: { alias: "TrtllmPrefillWorker", dynamo: show("prefill"), health: "prefill" },
      decode: { alias: "TrtllmDecodeWorker", dynamo: show("decode"), health: "tensorrt_llm" },
      aggregated: { alias: "TrtllmWorker", dynamo: show("aggregated"), health: "tensorrt_llm" },
    };
  },
  multiNode(_role, o) {
    if (isLegacy(o))
      return {
        unsupported:
          "multi-node workers need dynamoVersion ≥ 0.4 (dynamo.trtllm under MPI); dynamo serve graphs run one worker per node",
      };
    return "mpi";
  },
  tasksPerNode: ({ gpus, options: o }) => (isLegacy(o) ? 1 : Math.max(gpus, 1)),
  ports({ role, options: o }) {
    return role === "frontend" || isLegacy(o) ? [] : ["system"];
  },
  colocatedWithFrontend: (o) => (isLegacy(o) ? graph(o).hosted : undefined),
  check(o) {
    // Legacy workers name their engine configs in the graph config; an option would be ignored.
    const set = (["prefillEngineConfig", "decodeEngineConfig", "aggregatedEngineConfig"] as const).find(
      (k) => o[k] !== undefined,
    );
    if (isLegacy(o) && set)
      return {
        key: `backend.options.${set}`,
        reason: `Dynamo < 0.4 takes engine configs from the graph config (${o.config}: extra-engine-args), not from dyn`,
      };
    return undefined;
  },
  command(ctx) {
    if (isLegacy(ctx.options)) return serveGraphCommand(ctx, graph(ctx.options));
    if (ctx.role === "frontend") return frontendCommand(ctx);
    return workerCommand(ctx, ctx.role);
  },
});
