/**
 * dyn-backend-mocker: a third-party dyn backend for Dynamo's mocker engine, written only against
 * @dyn/core's public API. The mocker (`python3 -m dynamo.mocker`) registers with Dynamo like a real
 * engine and simulates prefill/decode timing without loading weights or using GPUs (it still loads
 * the tokenizer, so the model must be reachable), which makes it the cheapest way to try a
 * deployment shape on a cluster.
 *
 * Flags: ai-dynamo/dynamo components/src/dynamo/mocker/args.py, as captured at each release
 * (shared/reference/dynamo-flags/, component `mocker`). What changes is the table `releases`:
 *   0.4.1  the module exists, aggregated only; engine settings only from an --extra-engine-args JSON file
 *   0.6.1  --speedup-ratio, --num-gpu-blocks-override, --is-prefill-worker / --is-decode-worker
 *   0.9.0  --bootstrap-ports (prefill rendezvous ports, one per in-process worker)
 *   1.0.0  --disaggregation-mode agg|prefill|decode (the booleans deprecated)
 * Health names: without --endpoint the mocker registers prefill workers at
 * dyn://<ns>.prefill.generate and aggregated/decode ones at dyn://<ns>.backend.generate, so the
 * frontend's /health lists them as "prefill" and "backend" (the same names as vLLM and SGLang).
 */
import { type Arg, defineBackend, defineReleases, frontendCommand, type WorkerRole, z } from "@dyn/core";

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

export interface MockerRelease {
  /** What selects each role; a role left out is not supported by that release. */
  readonly roleFlags: Readonly<Partial<Record<WorkerRole, readonly string[]>>>;
  /** --speedup-ratio and --num-gpu-blocks-override exist (before: only in an --extra-engine-args file). */
  readonly engineFlags: boolean;
  /** --bootstrap-ports exists (prefill workers get a rendezvous port). */
  readonly bootstrapPorts: boolean;
}

// biome-ignore format: a table reads best one row per release
export const releases = defineReleases<MockerRelease>({
  rows: [
    { since: "0.4.1", roleFlags: { aggregated: [] }, engineFlags: false, bootstrapPorts: false,
      note: "python3 -m dynamo.mocker, aggregated only" },
    { since: "0.6.1", roleFlags: { prefill: ["--is-prefill-worker"], decode: ["--is-decode-worker"], aggregated: [] },
      engineFlags: true, note: "--is-prefill-worker/--is-decode-worker, --speedup-ratio" },
    { since: "0.9.0", bootstrapPorts: true, note: "--bootstrap-ports" },
    { since: "1.0.0", note: "--disaggregation-mode agg|prefill|decode",
      roleFlags: { prefill: ["--disaggregation-mode", "prefill"], decode: ["--disaggregation-mode", "decode"], aggregated: ["--disaggregation-mode", "agg"] } },
  ],
});

const HEALTH: Record<WorkerRole, string> = { prefill: "prefill", decode: "backend", aggregated: "backend" };

export default defineBackend({
  name: "mocker",
  description: "Dynamo's mocker engine (python3 -m dynamo.mocker): simulated workers, no GPU work",
  options,
  releases,
  // One simulated engine per GPU slot keeps workers packed; the mocker itself ignores the GPU.
  defaults: { model: "Qwen/Qwen3-0.6B", gpusPerWorker: { prefill: 1, decode: 1, aggregated: 1 } },
  components(_o, { facts }) {
    const info = (role: WorkerRole, flags: readonly string[]) => ({
      alias: `Mocker${role[0]?.toUpperCase()}${role.slice(1)}Worker`,
      dynamo: ["dynamo.mocker", ...flags].join(" "),
      health: HEALTH[role],
    });
    return Object.fromEntries(
      Object.entries(facts.roleFlags).map(([role, flags]) => [role, info(role as WorkerRole, flags)]),
    );
  },
  multiNode: () => ({
    unsupported: "a mocker worker is one simulated engine in one process; use gpusPerWorker ≤ gpusPerNode",
  }),
  ports: ({ role, release: { facts } }) =>
    role === "frontend"
      ? []
      : role === "prefill" && facts.bootstrapPorts
        ? ["system", "bootstrap"]
        : ["system"],
  check(o, _groups, { version, facts }) {
    if (facts.engineFlags) return undefined;
    const set =
      o.speedupRatio !== 1 ? "speedupRatio" : o.numGpuBlocks !== undefined ? "numGpuBlocks" : undefined;
    if (!set) return undefined;
    return {
      key: `backend.options.${set}`,
      reason: `Dynamo ${version}'s mocker reads it only from an --extra-engine-args JSON file (the flags arrived in 0.6.1)`,
    };
  },
  command(ctx) {
    if (ctx.role === "frontend") return frontendCommand(ctx);
    const o = ctx.options;
    const r = ctx.release.facts;
    const argv: Arg[] = [
      "python3",
      "-m",
      "dynamo.mocker",
      "--model-path",
      ctx.model.path,
      "--model-name",
      ctx.model.servedName,
      ...(r.roleFlags[ctx.role] ?? []),
    ];
    if (r.engineFlags) argv.push("--speedup-ratio", String(o.speedupRatio));
    if (o.numGpuBlocks !== undefined) argv.push("--num-gpu-blocks-override", String(o.numGpuBlocks));
    if (ctx.role === "prefill" && r.bootstrapPorts) argv.push("--bootstrap-ports", ctx.port("bootstrap"));
    argv.push(...ctx.args);
    return { argv, env: { DYN_SYSTEM_PORT: ctx.port("system") } };
  },
});
