/**
 * vLLM on Dynamo. Generations (facts: shared reference §2, §3.2, §6):
 *  - legacy 0.3.x: `dynamo serve` graphs of examples/vllm_v1; the frontend process
 *    (graphs.agg:Frontend → SimpleLoadBalancer → VllmDecodeWorker) also runs one decode worker;
 *  - 0.4 – 0.9: `python3 -m dynamo.vllm` (#1983). Decode is the default role, prefill adds
 *    --is-prefill-worker; from 0.9 decode says so with --is-decode-worker (#5899, Feb 2026);
 *  - ≥ 1.0: --disaggregation-mode prefill|decode|agg (#6483) and an explicit NIXL
 *    --kv-transfer-config on disaggregated roles (#6560).
 * Multi-node workers (≥ 1.0, #6204): one process per node with --nnodes/--node-rank/--master-addr/
 * --master-port; ranks > 0 are --headless and only rank 0 registers. Before 1.0 they needed Ray.
 */
import {
  type Arg,
  type Command,
  type CommandContext,
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

export const options = z.strictObject({
  dynamoVersion: versionOption("1.1.0", "Dynamo release in the container; selects the launch commands"),
  ...serveGraphOptions("/workspace/examples/vllm_v1"),
});
export type VllmOptions = z.output<typeof options>;

type Generation = "legacy" | "flags" | "mode";
function generation(o: VllmOptions): Generation {
  if (!versionAtLeast(o.dynamoVersion, "0.4.0")) return "legacy";
  return versionAtLeast(o.dynamoVersion, "1.0.0") ? "mode" : "flags";
}

/** The disaggregated roles' KV connector, as the ≥ 1.0 launch scripts pass it. */
const NIXL = JSON.stringify({ kv_connector: "NixlConnector", kv_role: "kv_both" });

/** What selects the role on the dynamo.vllm command line. */
function roleFlags(role: WorkerRole, o: VllmOptions): string[] {
  if (generation(o) === "mode") {
    if (role === "aggregated") return ["--disaggregation-mode", "agg"];
    return ["--disaggregation-mode", role, "--kv-transfer-config", NIXL];
  }
  if (role === "prefill") return ["--is-prefill-worker"];
  if (role === "decode" && versionAtLeast(o.dynamoVersion, "0.9.0")) return ["--is-decode-worker"];
  return []; // before 0.9 a worker without a flag decodes (or serves aggregated)
}

/** Legacy `dynamo serve` graph (examples/vllm_v1, v0.3.x); graphs.agg:Frontend hosts a decode worker. */
const graph = (o: { graphDir: string; config: string }): ServeGraph => ({
  graphDir: o.graphDir,
  config: o.config,
  targets: { prefill: "components.worker:VllmPrefillWorker", decode: "components.worker:VllmDecodeWorker" },
  hosted: "decode",
});

/** Every vLLM process (also the legacy frontend, which hosts a decode worker) talks NIXL. */
function nixlEnv(ctx: CommandContext<VllmOptions>): Record<string, Arg> {
  return { VLLM_NIXL_SIDE_CHANNEL_HOST: ctx.nodeIp, VLLM_NIXL_SIDE_CHANNEL_PORT: ctx.port("nixl") };
}

function legacyCommand(ctx: CommandContext<VllmOptions>): Command {
  return { ...serveGraphCommand(ctx, graph(ctx.options)), env: nixlEnv(ctx) };
}

function workerCommand(ctx: CommandContext<VllmOptions>, role: WorkerRole): Command {
  const argv: Arg[] = [
    "python3",
    "-m",
    "dynamo.vllm",
    "--model",
    ctx.model.path,
    "--served-model-name",
    ctx.model.servedName,
    "--tensor-parallel-size",
    String(ctx.gpusPerWorker),
    ...roleFlags(role, ctx.options),
  ];
  if (ctx.nnodes > 1) {
    argv.push(
      "--nnodes",
      String(ctx.nnodes),
      "--node-rank",
      String(ctx.rank),
      "--master-addr",
      ctx.leaderIp,
      "--master-port",
      ctx.port("master"),
    );
    if (ctx.rank > 0) argv.push("--headless");
  }
  argv.push(...ctx.args);
  return { argv, env: { DYN_SYSTEM_PORT: ctx.port("system"), ...nixlEnv(ctx) } };
}

export default defineBackend({
  name: "vllm",
  description: "vLLM workers (python3 -m dynamo.vllm); legacy dynamo serve graphs for Dynamo 0.3.x",
  options,
  defaults: { model: "Qwen/Qwen3-0.6B" },
  components(o) {
    if (generation(o) === "legacy") {
      return serveGraphComponents(graph(o), { prefill: "VllmPrefillWorker", decode: "VllmDecodeWorker" });
    }
    const show = (role: WorkerRole) => ["dynamo.vllm", ...roleFlags(role, o).slice(0, 2)].join(" ");
    return {
      prefill: { alias: "VllmPrefillWorker", dynamo: show("prefill"), health: "prefill" },
      decode: { alias: "VllmDecodeWorker", dynamo: show("decode"), health: "backend" },
      aggregated: { alias: "VllmWorker", dynamo: show("aggregated"), health: "backend" },
    };
  },
  multiNode(_role, o) {
    const gen = generation(o);
    if (gen === "legacy")
      return {
        unsupported:
          "multi-node workers need dynamoVersion ≥ 1.0; dynamo serve graphs (0.3.x) run one worker per node",
      };
    if (gen === "flags")
      return {
        unsupported:
          "multi-node vLLM workers before Dynamo 1.0 need a Ray cluster, which dyn does not start; use dynamoVersion ≥ 1.0 (vLLM's own --nnodes/--headless)",
      };
    return "per-node";
  },
  ports({ role, nnodes, options: o }) {
    if (generation(o) === "legacy") return ["nixl"]; // the frontend hosts a decode worker
    if (role === "frontend") return [];
    return nnodes > 1 ? ["system", "nixl", "master"] : ["system", "nixl"];
  },
  colocatedWithFrontend: (o) => (generation(o) === "legacy" ? graph(o).hosted : undefined),
  command(ctx) {
    if (generation(ctx.options) === "legacy") return legacyCommand(ctx);
    if (ctx.role === "frontend") return frontendCommand(ctx);
    return workerCommand(ctx, ctx.role);
  },
});
