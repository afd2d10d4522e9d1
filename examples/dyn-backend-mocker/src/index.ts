/**
 * dyn-backend-mocker: a third-party dyn backend for Dynamo's mocker engine, written only against
 * @dyn/core's public API. The mocker (`python3 -m dynamo.mocker`) registers with Dynamo like a real
 * engine and simulates prefill/decode timing without loading weights or using GPUs (it still loads
 * the tokenizer, so the model must be reachable), which makes it the cheapest way to try a
 * deployment shape on a cluster.
 *
 * Flags: ai-dynamo/dynamo components/src/dynamo/mocker/args.py (Dynamo ≥ 1.0, 2026):
 *   --model-path (tokenizer source), --model-name (served name), --speedup-ratio,
 *   --num-gpu-blocks-override, --disaggregation-mode agg|prefill|decode (replaces the deprecated
 *   --is-prefill-worker/--is-decode-worker), --bootstrap-ports (prefill rendezvous ports, one per
 *   in-process worker; decode workers learn them from the prefill worker's response).
 * Health names: without --endpoint the mocker registers prefill workers at
 * dyn://<ns>.prefill.generate and aggregated/decode ones at dyn://<ns>.backend.generate, so the
 * frontend's /health lists them as "prefill" and "backend" (the same names as vLLM and SGLang).
 */
import { type Arg, defineBackend, frontendCommand, type WorkerRole, z } from "@dyn/core";

export const options = z.strictObject({
  speedupRatio: z
    .number()
    .min(0)
    .default(1)
    .describe("--speedup-ratio: simulated engine speed multiplier (0 = no simulated delays)"),
  numGpuBlocks: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("--num-gpu-blocks-override: simulated KV-cache blocks (mocker default 16384)"),
});
export type MockerOptions = z.output<typeof options>;

const MODE: Record<WorkerRole, string> = { prefill: "prefill", decode: "decode", aggregated: "agg" };

export default defineBackend({
  name: "mocker",
  description: "Dynamo's mocker engine (python3 -m dynamo.mocker): simulated workers, no GPU work",
  options,
  // One simulated engine per GPU slot keeps workers packed; the mocker itself ignores the GPU.
  defaults: { model: "Qwen/Qwen3-0.6B", gpusPerWorker: { prefill: 1, decode: 1, aggregated: 1 } },
  components() {
    const info = (role: WorkerRole, health: string) => ({
      alias: `Mocker${role[0]?.toUpperCase()}${role.slice(1)}Worker`,
      dynamo: `dynamo.mocker --disaggregation-mode ${MODE[role]}`,
      health,
    });
    return {
      prefill: info("prefill", "prefill"),
      decode: info("decode", "backend"),
      aggregated: info("aggregated", "backend"),
    };
  },
  multiNode: () => ({
    unsupported: "a mocker worker is one simulated engine in one process; use gpusPerWorker ≤ gpusPerNode",
  }),
  ports: ({ role }) => (role === "frontend" ? [] : role === "prefill" ? ["system", "bootstrap"] : ["system"]),
  command(ctx) {
    if (ctx.role === "frontend") return frontendCommand(ctx);
    const o = ctx.options;
    const argv: Arg[] = [
      "python3",
      "-m",
      "dynamo.mocker",
      "--model-path",
      ctx.model.path,
      "--model-name",
      ctx.model.servedName,
      "--disaggregation-mode",
      MODE[ctx.role],
      "--speedup-ratio",
      String(o.speedupRatio),
    ];
    if (o.numGpuBlocks !== undefined) argv.push("--num-gpu-blocks-override", String(o.numGpuBlocks));
    if (ctx.role === "prefill") argv.push("--bootstrap-ports", ctx.port("bootstrap"));
    argv.push(...ctx.args);
    return { argv, env: { DYN_SYSTEM_PORT: ctx.port("system") } };
  },
});
