/**
 * SGLang on Dynamo. What changes between releases is the table `releases` below, one row per change
 * (facts: shared/reference/dynamo-releases.md and the argparse tables captured at each release,
 * shared/reference/dynamo-flags/releases-{0,1}.x.json, component `sglang`).
 *
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
  defineReleases,
  frontendCommand,
  type MultiNodeLaunch,
  type WorkerRole,
  w,
  z,
} from "@dyn/core";

export const options = z.strictObject({
  transferBackend: z
    .enum(["nixl", "mooncake"])
    .default("nixl")
    .describe("KV transfer backend of disaggregated workers (SGLang's own default is mooncake)"),
  trustRemoteCode: z.boolean().default(false).describe("pass --trust-remote-code"),
  exampleDir: z
    .string()
    .default("/workspace/examples/sglang")
    .describe("Dynamo 0.3.2: the SGLang example directory in the container (components/worker.py)"),
});
export type SglangOptions = z.output<typeof options>;

export interface SglangRelease {
  /**
   * `script`: 0.3.2's examples/sglang scripts (`python3 components/worker.py` / `decode_worker.py`,
   * cwd the example directory) behind `dynamo run in=http out=dyn`; not a `dynamo serve` graph.
   * `module`: python3 -m dynamo.sglang behind python3 -m dynamo.frontend.
   */
  readonly launch: "script" | "module";
  /** Component each role registers as (what /health lists). */
  readonly registers: Readonly<Record<WorkerRole, string>>;
  readonly multiNode: MultiNodeLaunch;
}

// biome-ignore format: a table reads best one row per release
export const releases = defineReleases<SglangRelease>({
  rows: [
    // The 0.3.2 scripts register dynamo.worker.generate (prefill or aggregated; a prefill worker
    // hands the request to decode itself) and dynamo.decode.generate; they moved into the package
    // as dynamo.sglang.worker / decode_worker (#2046) before the unified module of 0.4.1 (#2493).
    { since: "0.3.2", launch: "script", registers: { prefill: "worker", decode: "decode", aggregated: "worker" },
      multiNode: { unsupported: "the examples/sglang scripts run one worker per node (use Dynamo ≥ 0.4.1)" },
      note: "python3 components/worker.py | decode_worker.py in examples/sglang; frontend dynamo run in=http out=dyn" },
    { since: "0.4.1", launch: "module", registers: { prefill: "prefill", decode: "backend", aggregated: "backend" },
      multiNode: "per-node", note: "python3 -m dynamo.sglang --disaggregation-mode prefill|decode" },
  ],
});
type Ctx = CommandContext<SglangOptions, SglangRelease>;

const SCRIPT = {
  prefill: "components/worker.py",
  decode: "components/decode_worker.py",
  aggregated: "components/worker.py",
};

function entry(ctx: Ctx, role: WorkerRole): { argv: Arg[]; cwd?: string } {
  if (ctx.release.facts.launch === "script")
    return { argv: ["python3", SCRIPT[role]], cwd: ctx.options.exampleDir };
  return { argv: ["python3", "-m", "dynamo.sglang"] };
}

function workerCommand(ctx: Ctx, role: WorkerRole): Command {
  const o = ctx.options;
  const { argv: head, cwd } = entry(ctx, role);
  const argv: Arg[] = [
    ...head,
    "--model-path",
    ctx.model.path,
    "--served-model-name",
    ctx.model.servedName,
    // The full name: --tp only works as an argparse abbreviation of --tp-size.
    "--tp-size",
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
  const env = ctx.release.facts.launch === "script" ? {} : { DYN_SYSTEM_PORT: ctx.port("system") };
  return { argv, env, ...(cwd ? { cwd } : {}) };
}

/** 0.3.2: the Rust `dynamo run` HTTP frontend, which discovers models registered in etcd. */
function dynamoRunFrontend(ctx: Ctx): Command {
  return { argv: ["dynamo", "run", "in=http", "out=dyn", "--http-port", ctx.frontendPort, ...ctx.args] };
}

export default defineBackend({
  name: "sglang",
  description: "SGLang workers (python3 -m dynamo.sglang); the examples/sglang scripts for Dynamo 0.3.2",
  options,
  releases,
  defaults: { model: "Qwen/Qwen3-0.6B" },
  components(_o, { facts: r }) {
    const show = (role: WorkerRole) =>
      r.launch === "script"
        ? `python3 ${SCRIPT[role]}${role === "aggregated" ? "" : ` --disaggregation-mode ${role}`}`
        : `dynamo.sglang${role === "aggregated" ? "" : ` --disaggregation-mode ${role}`}`;
    const info = (role: WorkerRole, alias: string) => ({
      alias,
      dynamo: show(role),
      health: r.registers[role],
    });
    return {
      prefill: info("prefill", "SGLangPrefillWorker"),
      decode: info("decode", "SGLangDecodeWorker"),
      aggregated: info("aggregated", "SGLangWorker"),
    };
  },
  multiNode: (_role, _o, { facts }) => facts.multiNode,
  ports({ role, nnodes, release: { facts: r } }) {
    if (role === "frontend") return [];
    const names = r.launch === "script" ? ["http", "nccl"] : ["system", "http", "nccl"];
    if (role === "prefill") names.push("bootstrap");
    if (nnodes > 1) names.push("distInit");
    return names;
  },
  command(ctx) {
    if (ctx.role === "frontend")
      return ctx.release.facts.launch === "script" ? dynamoRunFrontend(ctx) : frontendCommand(ctx);
    return workerCommand(ctx, ctx.role);
  },
});
