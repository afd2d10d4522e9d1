/**
 * SGLang on Dynamo. Generations (facts: shared reference §2, §3.3, §6):
 *  - legacy 0.3.x: `dynamo serve` graphs of examples/sglang; the frontend process
 *    (graphs.agg:Frontend → SGLangWorker) also runs the prefill-mode SGLangWorker;
 *  - 0.4.0: `python3 -m dynamo.sglang.worker` / `dynamo.sglang.decode_worker` (#2046), registered as
 *    components `worker` (prefill or aggregated; the frontend calls it, and a prefill worker calls
 *    decode itself) and `decode`;
 *  - ≥ 0.4.1: unified `python3 -m dynamo.sglang` with --disaggregation-mode (#2493).
 * SGLang ServerArgs are passed through: --tp, --host/--port, --nccl-port, the NIXL (or mooncake)
 * transfer backend, and on prefill an explicit --disaggregation-bootstrap-port (SGLang's default
 * 8998 collides between jobs). Multi-node workers: one process per node with --dist-init-addr/
 * --nnodes/--node-rank; only rank 0 registers with Dynamo.
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
  w,
  z,
} from "@dyn/core";

export const options = z.strictObject({
  dynamoVersion: versionOption("1.1.0", "Dynamo release in the container; selects the launch commands"),
  transferBackend: z
    .enum(["nixl", "mooncake"])
    .default("nixl")
    .describe("KV transfer backend of disaggregated workers (SGLang's own default is mooncake)"),
  trustRemoteCode: z.boolean().default(false).describe("pass --trust-remote-code (Dynamo ≥ 0.4)"),
  ...serveGraphOptions("/workspace/examples/sglang"),
});
export type SglangOptions = z.output<typeof options>;

const isLegacy = (o: SglangOptions) => !versionAtLeast(o.dynamoVersion, "0.4.0");
const splitModules = (o: SglangOptions) => !versionAtLeast(o.dynamoVersion, "0.4.1");

function module(role: WorkerRole, o: SglangOptions): string {
  if (!splitModules(o)) return "dynamo.sglang";
  return role === "decode" ? "dynamo.sglang.decode_worker" : "dynamo.sglang.worker";
}

/** Legacy `dynamo serve` graph (examples/sglang, v0.3.x); graphs.agg:Frontend hosts a prefill worker. */
const graph = (o: { graphDir: string; config: string }): ServeGraph => ({
  graphDir: o.graphDir,
  config: o.config,
  targets: {
    prefill: "components.worker:SGLangWorker",
    decode: "components.decode_worker:SGLangDecodeWorker",
  },
  hosted: "prefill",
});

function workerCommand(ctx: CommandContext<SglangOptions>, role: WorkerRole): Command {
  const o = ctx.options;
  const argv: Arg[] = [
    "python3",
    "-m",
    module(role, o),
    "--model-path",
    ctx.model.path,
    "--served-model-name",
    ctx.model.servedName,
    "--tp",
    String(ctx.gpusPerWorker),
    "--host",
    "0.0.0.0",
    "--port",
    ctx.port("http"),
    "--nccl-port",
    ctx.port("nccl"),
  ];
  if (o.trustRemoteCode) argv.push("--trust-remote-code");
  if (role !== "aggregated") {
    argv.push("--disaggregation-mode", role, "--disaggregation-transfer-backend", o.transferBackend);
  }
  if (role === "prefill") argv.push("--disaggregation-bootstrap-port", ctx.port("bootstrap"));
  if (ctx.nnodes > 1) {
    argv.push(
      "--dist-init-addr",
      w`${ctx.leaderIp}:${ctx.port("distInit")}`,
      "--nnodes",
      String(ctx.nnodes),
      "--node-rank",
      String(ctx.rank),
    );
  }
  argv.push(...ctx.args);
  return { argv, env: { DYN_SYSTEM_PORT: ctx.port("system") } };
}

export default defineBackend({
  name: "sglang",
  description: "SGLang workers (python3 -m dynamo.sglang); legacy dynamo serve graphs for Dynamo 0.3.x",
  options,
  defaults: { model: "Qwen/Qwen3-0.6B" },
  components(o) {
    if (isLegacy(o)) {
      return serveGraphComponents(
        graph(o),
        { prefill: "SGLangPrefillWorker", decode: "SGLangDecodeWorker" },
        { prefill: "prefill mode" },
      );
    }
    // 0.4.0's split modules register dynamo.worker.generate (worker/main.py: prefill or aggregated,
    // holds the model and calls decode itself) and dynamo.decode.generate (decode_worker/main.py).
    const split = splitModules(o);
    return {
      prefill: {
        alias: "SGLangPrefillWorker",
        dynamo: `${module("prefill", o)} --disaggregation-mode prefill`,
        health: split ? "worker" : "prefill",
      },
      decode: {
        alias: "SGLangDecodeWorker",
        dynamo: `${module("decode", o)} --disaggregation-mode decode`,
        health: split ? "decode" : "backend",
      },
      aggregated: {
        alias: "SGLangWorker",
        dynamo: module("aggregated", o),
        health: split ? "worker" : "backend",
      },
    };
  },
  multiNode(_role, o) {
    if (isLegacy(o))
      return {
        unsupported:
          "multi-node workers need dynamoVersion ≥ 0.4; dynamo serve graphs (0.3.x) run one worker per node",
      };
    return "per-node";
  },
  ports({ role, nnodes, options: o }) {
    if (role === "frontend" || isLegacy(o)) return [];
    const names = ["system", "http", "nccl"];
    if (role === "prefill") names.push("bootstrap");
    if (nnodes > 1) names.push("distInit");
    return names;
  },
  colocatedWithFrontend: (o) => (isLegacy(o) ? graph(o).hosted : undefined),
  check(o) {
    // Legacy workers take every engine setting from the graph config; an option would be ignored.
    if (isLegacy(o) && o.transferBackend !== "nixl")
      return {
        key: "backend.options.transferBackend",
        reason: `Dynamo < 0.4 takes the transfer backend from the graph config (${o.config}: disaggregation-transfer-backend), not from dyn`,
      };
    if (isLegacy(o) && o.trustRemoteCode)
      return {
        key: "backend.options.trustRemoteCode",
        reason: `Dynamo < 0.4 takes trust-remote-code from the graph config (${o.config}), not from dyn`,
      };
    return undefined;
  },
  command(ctx) {
    if (isLegacy(ctx.options)) return serveGraphCommand(ctx, graph(ctx.options));
    if (ctx.role === "frontend") return frontendCommand(ctx);
    return workerCommand(ctx, ctx.role);
  },
});
