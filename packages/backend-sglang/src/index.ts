/**
 * SGLang on Dynamo. Generations:
 *  - legacy (0.3.x): `dynamo serve` graphs from examples/sglang; the frontend process also runs the
 *    prefill-mode SGLangWorker (graphs.agg links Frontend → SGLangWorker);
 *  - 0.4.0: `python3 -m dynamo.sglang.worker` / `dynamo.sglang.decode_worker` (#2046);
 *  - ≥ 0.4.1: unified `python3 -m dynamo.sglang` with --disaggregation-mode (#2493).
 * Multi-node workers: one process per node with --dist-init-addr/--nnodes/--node-rank; only rank 0
 * registers with Dynamo.
 */
import { type Arg, type CommandContext, defineBackend, frontendCommand, w, z } from "@dyn/core";

export const options = z.strictObject({
  dynamoVersion: z
    .string()
    .regex(/^\d+\.\d+(\.\d+)?$/, "must be a version like 1.1.0")
    .default("1.1.0")
    .describe("Dynamo release in the container; selects the launch commands"),
  transferBackend: z
    .enum(["nixl", "mooncake"])
    .default("nixl")
    .describe("KV transfer backend (SGLang's default is mooncake)"),
  trustRemoteCode: z.boolean().default(false).describe("pass --trust-remote-code"),
  graphDir: z
    .string()
    .default("/workspace/examples/sglang")
    .describe("legacy: example graph directory in the container"),
  config: z.string().default("configs/disagg.yaml").describe("legacy: graph config, relative to graphDir"),
});
export type SglangOptions = z.output<typeof options>;

const isLegacy = (o: SglangOptions) => versionBelow(o.dynamoVersion, [0, 4, 0]);
const splitModules = (o: SglangOptions) => versionBelow(o.dynamoVersion, [0, 4, 1]);

function versionBelow(version: string, than: [number, number, number]): boolean {
  const parts = version.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const a = parts[i] ?? 0;
    const b = than[i] as number;
    if (a !== b) return a < b;
  }
  return false;
}

function currentCommand(ctx: CommandContext<SglangOptions>): { argv: Arg[]; env: Record<string, Arg> } {
  const o = ctx.options;
  const role = ctx.role;
  const module = splitModules(o)
    ? role === "decode"
      ? "dynamo.sglang.decode_worker"
      : "dynamo.sglang.worker"
    : "dynamo.sglang";
  const argv: Arg[] = [
    "python3",
    "-m",
    module,
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
  if (role === "prefill" || role === "decode") {
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

/** Legacy `dynamo serve`: component classes of examples/sglang (v0.3.x). */
const LEGACY = {
  prefill: "components.worker:SGLangWorker",
  decode: "components.decode_worker:SGLangDecodeWorker",
} as const;

export default defineBackend({
  name: "sglang",
  description: "SGLang workers (python3 -m dynamo.sglang); legacy dynamo serve graphs for Dynamo 0.3.x",
  options,
  defaults: { model: "Qwen/Qwen3-0.6B" },
  components(o) {
    if (isLegacy(o)) {
      return {
        prefill: {
          alias: "SGLangPrefillWorker",
          dynamo: `dynamo serve ${LEGACY.prefill} (prefill mode)`,
          health: "SGLangWorker",
        },
        decode: {
          alias: "SGLangDecodeWorker",
          dynamo: `dynamo serve ${LEGACY.decode}`,
          health: "SGLangDecodeWorker",
        },
      };
    }
    const module = splitModules(o) ? "dynamo.sglang.worker" : "dynamo.sglang";
    return {
      prefill: {
        alias: "SGLangPrefillWorker",
        dynamo: `${module} --disaggregation-mode prefill`,
        health: "prefill",
      },
      decode: {
        alias: "SGLangDecodeWorker",
        dynamo: `${splitModules(o) ? "dynamo.sglang.decode_worker" : "dynamo.sglang"} --disaggregation-mode decode`,
        health: "backend",
      },
      aggregated: { alias: "SGLangWorker", dynamo: module, health: "backend" },
    };
  },
  multiNode(_role, o) {
    if (isLegacy(o))
      return {
        unsupported:
          "multi-node workers need Dynamo ≥ 0.4 (dynamoVersion); dynamo serve graphs run one worker per node",
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
  colocatedWithFrontend: (o) => (isLegacy(o) ? "prefill" : undefined),
  command(ctx) {
    const o = ctx.options;
    if (isLegacy(o)) {
      const config = o.config;
      if (ctx.role === "frontend") {
        return {
          argv: [
            "dynamo",
            "serve",
            "graphs.agg:Frontend",
            "-f",
            config,
            w`--Frontend.port=${ctx.frontendPort}`,
            ...ctx.args,
          ],
          cwd: o.graphDir,
        };
      }
      if (ctx.role === "aggregated") throw new Error("unreachable: legacy sglang has no aggregated role");
      return { argv: ["dynamo", "serve", LEGACY[ctx.role], "-f", config, ...ctx.args], cwd: o.graphDir };
    }
    if (ctx.role === "frontend") return frontendCommand(ctx);
    return currentCommand(ctx);
  },
});
